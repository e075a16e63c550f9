// config.cc — configuration layering (defaults < file < env < flags) and validation.
#include "cli/config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <toml.hpp>

#include "http/server.h"
#include "store/database.h"
#include "workflow/schedule.h"

extern char** environ;

namespace stagebridge::cli {

const std::vector<KeyDef>& ConfigKeys() {
  static const std::vector<KeyDef> kKeys = {
      {"local_db", "sqlite:data/local.db", "local staging database URL (sqlite:PATH or postgresql://…)"},
      {"cloud_db", "sqlite:data/cloud.db", "cloud database URL, where the customer tables live"},
      {"listen", "127.0.0.1:8080", "HTTP listen address host:port (port 0 picks a free one); HTTPS with tls_cert"},
      {"tls_cert", "", "PEM certificate (then its chain): when set with tls_key, listen serves HTTPS only"},
      {"tls_key", "", "PEM private key of tls_cert"},
      {"tls_min_version", "1.2", "oldest TLS version accepted: 1.2 or 1.3"},
      {"listen_http", "", "with TLS: a second listener host:port serving plain HTTP (e.g. 127.0.0.1:8081)"},
      {"schemas_dir", "", "directory of *.xml srcSchema files loaded with the built-in schemas"},
      {"threads", "0", "HTTP I/O threads (0 = one per core)"},
      {"handler_threads", "64", "threads running blocking SOAP calls (all but Ingest/IngestExt) and /metrics"},
      {"writer_threads", "2", "staging writer transactions running at once (group commit workers)"},
      {"writer_direct_lane", "true",
       "PostgreSQL: I/O threads send staging statements themselves, without waking a writer thread"},
      {"busy_poll_us", "1000",
       "microseconds an I/O thread polls instead of sleeping for a sequential client's next answer or request "
       "(one thread at most; 0 = sleep)"},
      {"session_lifetime", "86400", "session lifetime in seconds (24 h)"},
      {"session_token_only", "false", "accept calls carrying the session token without the security token"},
      {"lockout_attempts", "5", "consecutive failed logons that lock a login"},
      {"lockout_seconds", "900", "how long a locked login stays locked"},
      {"max_body_bytes", "33554432", "largest accepted request body; larger gets HTTP 413"},
      {"max_inflight_body_bytes", "1073741824",
       "request bodies held in memory at once, all connections together; a request beyond gets HTTP 503"},
      {"max_connections", "0",
       "client connections open at once; more are answered 503 and closed (0 = the open-file limit minus 128)"},
      {"rate_limit_calls", "0",
       "SOAP calls per second per operator, sustained (every method but Logon/Logoff); more get HTTP 429 (0 = no "
       "limit)"},
      {"rate_limit_burst", "0",
       "calls an operator may make at once, the size of its token bucket (0 = rate_limit_calls: one second's worth)"},
      {"instance_name", "stagebridge", "instance name shown by /r/test and Logon"},
      {"log_level", "info", "trace, debug, info, warn, error"},
      {"replicate_schedule", "every 1h", "schedule of ffdaReplicateStagingData (staging → cloud merge)"},
      {"unsubscribe_schedule", "every 1h", "schedule of ffdaUnsubscribe (subscription processing)"},
      {"cleanup_schedule", "daily 04:00", "schedule of cleanup (expired sessions, old run logs)"},
      {"batch_rows", "1000000", "staged rows per cloud transaction in a sync run (memory stays bounded)"},
      {"lease_seconds", "60", "lifetime of a workflow run's lease, renewed while it runs (a crashed holder's expires)"},
      {"history_days", "30", "days of workflow run history kept by cleanup"},
      {"query_default_rows", "10000", "ExecuteQuery select: rows returned when the queryDef sets no lineCount"},
      {"query_max_rows", "10000", "ExecuteQuery select: most rows returned (a larger lineCount is clamped)"},
      {"query_timeout", "30", "ExecuteQuery: seconds a query may run before it is cancelled"},
      {"workflows_dir", "", "directory of user workflow files (*.xml of JavaScript activities; docs/workflows.md)"},
      {"script_timeout", "60", "seconds a workflow script (one activity) may run before it is stopped"},
      {"script_memory", "256", "MiB of JavaScript heap a workflow run may use"},
  };
  return kKeys;
}

std::string EnvName(std::string_view key) {
  std::string out = "STAGEBRIDGE_";
  for (char c : key) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return out;
}

std::string FlagName(std::string_view key) {
  std::string out = "--";
  for (char c : key) out.push_back(c == '_' ? '-' : c);
  return out;
}

const std::string& Config::Get(const std::string& key) const {
  static const std::string kEmpty;
  auto it = values.find(key);
  return it == values.end() ? kEmpty : it->second;
}

int Config::GetInt(const std::string& key) const {
  return std::stoi(Get(key));
}

namespace {

bool IsKnownKey(std::string_view key) {
  for (const KeyDef& def : ConfigKeys()) {
    if (def.key == key) return true;
  }
  return false;
}

Status ReadFile(const std::string& path, Config& config) {
  toml::value root;
  try {
    root = toml::parse(path);
  } catch (const std::exception& e) {
    // toml11 messages name the file, the line and what is wrong.
    return Status::InvalidArgument(fmt::format("config file {}: {}", path, e.what()));
  }
  if (!root.is_table()) return Status::InvalidArgument(fmt::format("config file {}: not a TOML table", path));
  for (const auto& [key, value] : root.as_table()) {
    if (!IsKnownKey(key)) {
      return Status::InvalidArgument(fmt::format("config file {}: unknown key '{}'", path, key));
    }
    std::string text;
    if (value.is_string()) {
      text = value.as_string().str;
    } else if (value.is_integer()) {
      text = std::to_string(value.as_integer());
    } else if (value.is_boolean()) {
      text = value.as_boolean() ? "true" : "false";
    } else {
      return Status::InvalidArgument(
          fmt::format("config file {}: key '{}' must be a string, an integer or a boolean", path, key));
    }
    config.values[key] = text;
    config.origins[key] = "file " + path;
  }
  return Status::Ok();
}

Status ValidateUnsigned(const Config& config, const std::string& key, long long min, long long max) {
  const std::string& v = config.Get(key);
  long long n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < min || n > max) {
    return Status::InvalidArgument(
        fmt::format("{} ({}): '{}' is not a number between {} and {}", key, config.origins.at(key), v, min, max));
  }
  return Status::Ok();
}

}  // namespace

Result<Config> LoadConfig(const std::string& config_path, const std::map<std::string, std::string>& flags,
                          const std::map<std::string, std::string>& env) {
  Config config;
  for (const KeyDef& def : ConfigKeys()) {
    config.values[def.key] = def.default_value;
    config.origins[def.key] = "default";
  }
  if (!config_path.empty()) SB_RETURN_IF_ERROR(ReadFile(config_path, config));
  for (const KeyDef& def : ConfigKeys()) {
    auto it = env.find(EnvName(def.key));
    if (it != env.end()) {
      config.values[def.key] = it->second;
      config.origins[def.key] = "env " + EnvName(def.key);
    }
  }
  for (const auto& [key, value] : flags) {
    if (!IsKnownKey(key)) return Status::InvalidArgument(fmt::format("unknown setting '{}'", key));
    config.values[key] = value;
    config.origins[key] = "flag " + FlagName(key);
  }
  SB_RETURN_IF_ERROR(Validate(config));
  return config;
}

Status ValidateSchedule(std::string_view key, std::string_view value) {
  return workflow::ParseSchedule(value).status().WithContext(std::string(key));
}

Status Validate(const Config& config) {
  for (const char* key : {"local_db", "cloud_db"}) {
    Result<store::DatabaseUrl> url = store::ParseDatabaseUrl(config.Get(key));
    if (!url.ok()) return url.status().WithContext(fmt::format("{} ({})", key, config.origins.at(key)));
  }
  if (auto listen = http::ParseListen(config.Get("listen")); !listen.ok()) {
    return listen.status().WithContext(fmt::format("listen ({})", config.origins.at("listen")));
  }
  if (!config.Get("listen_http").empty()) {
    if (auto listen = http::ParseListen(config.Get("listen_http")); !listen.ok()) {
      return listen.status().WithContext(fmt::format("listen_http ({})", config.origins.at("listen_http")));
    }
    if (config.Get("tls_cert").empty()) {
      return Status::InvalidArgument(
          fmt::format("listen_http ({}): a second, plain listener needs HTTPS on listen (tls_cert and tls_key)",
                      config.origins.at("listen_http")));
    }
  }
  if (config.Get("tls_cert").empty() != config.Get("tls_key").empty()) {
    const char* missing = config.Get("tls_cert").empty() ? "tls_cert" : "tls_key";
    const char* given = config.Get("tls_cert").empty() ? "tls_key" : "tls_cert";
    return Status::InvalidArgument(
        fmt::format("{} ({}) is set but {} is not: HTTPS needs both", given, config.origins.at(given), missing));
  }
  if (const std::string& v = config.Get("tls_min_version"); v != "1.2" && v != "1.3") {
    return Status::InvalidArgument(
        fmt::format("tls_min_version ({}): '{}' is not 1.2 or 1.3", config.origins.at("tls_min_version"), v));
  }
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "threads", 0, 1024));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "handler_threads", 1, 4096));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "writer_threads", 1, 64));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "session_lifetime", 1, 365LL * 86400));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "lockout_attempts", 1, 1000));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "lockout_seconds", 0, 365LL * 86400));
  for (const char* key : {"session_token_only", "writer_direct_lane"}) {
    if (const std::string& v = config.Get(key); v != "true" && v != "false") {
      return Status::InvalidArgument(fmt::format("{} ({}): '{}' is not true or false", key, config.origins.at(key), v));
    }
  }
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "busy_poll_us", 0, 1000000));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "max_body_bytes", 1024, 1LL << 31));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "max_connections", 0, 1LL << 20));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "max_inflight_body_bytes", 1024, 1LL << 40));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "rate_limit_calls", 0, 1000000));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "rate_limit_burst", 0, 1000000));
  if (std::stoll(config.Get("max_inflight_body_bytes")) < std::stoll(config.Get("max_body_bytes"))) {
    return Status::InvalidArgument(fmt::format(
        "max_inflight_body_bytes ({}): {} is below max_body_bytes ({}): a body of the largest size could never pass",
        config.origins.at("max_inflight_body_bytes"), config.Get("max_inflight_body_bytes"),
        config.Get("max_body_bytes")));
  }
  const std::string& level = config.Get("log_level");
  if (level != "trace" && level != "debug" && level != "info" && level != "warn" && level != "error") {
    return Status::InvalidArgument(fmt::format("log_level ({}): '{}' is not one of trace, debug, info, warn, error",
                                               config.origins.at("log_level"), level));
  }
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "batch_rows", 1, 10000000));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "lease_seconds", 1, 86400));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "history_days", 1, 36500));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "query_default_rows", 1, 10000000));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "query_max_rows", 1, 10000000));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "query_timeout", 1, 86400));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "script_timeout", 1, 86400));
  SB_RETURN_IF_ERROR(ValidateUnsigned(config, "script_memory", 16, 4096));
  if (std::stoll(config.Get("query_default_rows")) > std::stoll(config.Get("query_max_rows"))) {
    return Status::InvalidArgument(fmt::format("query_default_rows ({}): {} is above query_max_rows ({})",
                                               config.origins.at("query_default_rows"),
                                               config.Get("query_default_rows"), config.Get("query_max_rows")));
  }
  for (const char* key : {"replicate_schedule", "unsubscribe_schedule", "cleanup_schedule"}) {
    SB_RETURN_IF_ERROR(ValidateSchedule(key, config.Get(key)).WithContext(config.origins.at(key)));
  }
  return Status::Ok();
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (!entry.starts_with("STAGEBRIDGE_")) continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

}  // namespace stagebridge::cli
