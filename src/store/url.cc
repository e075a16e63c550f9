// url.cc — database URL parsing (sqlite:…, postgresql://…) and password redaction.
#include <algorithm>
#include <string>

#include "store/database.h"

namespace stagebridge::store {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kPostgresPrefixes[] = {"postgresql://", "postgres://"};

char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Replaces the password of a URI's userinfo ("scheme://user:PASSWORD@host") and
// the value of any `password=` query parameter with "***". libpq ends the
// userinfo at the first '@' before the first '/', so this does too.
std::string Redact(std::string_view url) {
  std::string out(url);
  std::size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    std::size_t start = scheme_end + 3;
    std::size_t stop = out.find_first_of("@/", start);
    if (stop != std::string::npos && out[stop] == '@') {
      std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < stop) {
        out.replace(colon + 1, stop - colon - 1, "***");
      }
    }
  }
  std::size_t query = out.find('?');
  while (query != std::string::npos) {
    std::size_t key = query + 1;
    std::size_t next = out.find('&', key);
    std::string_view param =
        std::string_view(out).substr(key, next == std::string::npos ? std::string::npos : next - key);
    constexpr std::string_view kPassword = "password=";
    if (param.size() >= kPassword.size() && std::equal(kPassword.begin(), kPassword.end(), param.begin(),
                                                       [](char a, char b) { return a == AsciiLower(b); })) {
      std::size_t value = key + kPassword.size();
      std::size_t value_end = next == std::string::npos ? out.size() : next;
      out.replace(value, value_end - value, "***");
      next = out.find('&', value);
    }
    query = next;
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<DatabaseUrl> ParseDatabaseUrl(std::string_view url) {
  DatabaseUrl out;
  out.redacted = Redact(url);
  for (std::string_view prefix : kPostgresPrefixes) {
    if (StartsWith(url, prefix)) {
      out.kind = DialectKind::kPostgres;
      out.target = std::string(url);
      return out;
    }
  }
  if (StartsWith(url, kSqlitePrefix)) {
    std::string_view path = url.substr(kSqlitePrefix.size());
    if (StartsWith(path, "//")) {
      // sqlite:///abs/path.db — an empty authority followed by an absolute path.
      path.remove_prefix(2);
      if (!StartsWith(path, "/")) {
        return Status::InvalidArgument("database URL " + out.redacted +
                                       ": a sqlite URL takes no host (use sqlite:relative/path.db, sqlite:/abs.db, "
                                       "sqlite:///abs.db or sqlite::memory:)");
      }
    }
    if (path.empty()) {
      return Status::InvalidArgument("database URL " + out.redacted + " has an empty path");
    }
    out.kind = DialectKind::kSqlite;
    out.target = std::string(path);
    return out;
  }
  return Status::InvalidArgument("unsupported database URL " + out.redacted +
                                 " (expected sqlite:PATH, sqlite::memory:, postgresql://… or postgres://…)");
}

}  // namespace stagebridge::store
