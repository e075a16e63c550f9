// config.h — the effective configuration: built-in defaults, overridden by the
// TOML file (--config), then by STAGEBRIDGE_* environment variables, then by
// command-line flags. Every key has all three forms:
//   file key `local_db`  ↔  env STAGEBRIDGE_LOCAL_DB  ↔  flag --local-db
//
// Thread-safety: a Config is a value, built once at start-up.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace stagebridge::cli {

struct KeyDef {
  std::string key;  // file key, snake_case
  std::string default_value;
  std::string help;
  bool secret = false;  // redacted when shown
};

// Every configuration key, in the order `config show` prints them.
const std::vector<KeyDef>& ConfigKeys();

// "local_db" → "STAGEBRIDGE_LOCAL_DB"; "local_db" → "--local-db".
std::string EnvName(std::string_view key);
std::string FlagName(std::string_view key);

struct Config {
  std::map<std::string, std::string> values;   // every key of ConfigKeys()
  std::map<std::string, std::string> origins;  // key → "default" | "file PATH" | "env NAME" | "flag --x"

  const std::string& Get(const std::string& key) const;
  int GetInt(const std::string& key) const;  // REQUIRES: validated by Validate()
};

// Builds the configuration. `flags` holds the flags given on the command line
// (key → value). `env` is the environment to read (tests pass their own).
Result<Config> LoadConfig(const std::string& config_path, const std::map<std::string, std::string>& flags,
                          const std::map<std::string, std::string>& env);

// Checks every value: database URLs, listen address, schedules, numbers.
Status Validate(const Config& config);

// Checks a workflow schedule: "every 30s" / "every 5m" / "every 1h" / "every 1d",
// "hourly", "daily HH:MM", or "off".
Status ValidateSchedule(std::string_view key, std::string_view value);

// The process environment's STAGEBRIDGE_* variables.
std::map<std::string, std::string> ProcessEnvironment();

}  // namespace stagebridge::cli
