// commands_operator.h — `operator add|list|disable|enable|password`: managing the
// operators who may log on (SPEC §3.1), in the local database's XtkOperator table.
//
// Each command opens the local database (config key local_db), creates the auth
// tables if missing, does its work, prints one line (list: a table) on stdout
// and returns kExitOk, or prints "stagebridge: …" on stderr and returns
// kExitFailed. Passwords are read from a stream (standard input), never from
// the command line, so they do not show in `ps` or the shell history.
//
// Thread-safety: called once, from main.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "cli/config.h"

namespace stagebridge::cli {

// Adds an operator. The password is the first line of `password_in` (trailing
// "\r\n" stripped); an empty one is refused. `schemas` are the schema ids the
// operator may write (e.g. "dem:sampleTable"); an entry may hold several ids
// separated by commas. An admin may write every schema.
int CmdOperatorAdd(const Config& config, const std::string& login, bool admin, const std::vector<std::string>& schemas,
                   std::istream& password_in);

// Prints LOGIN, RIGHTS ("admin" or the schema list) and STATUS (enabled/disabled).
int CmdOperatorList(const Config& config);

// Disables an operator: it cannot log on, and its open sessions stop validating
// (in a running server within the session cache delay, a few seconds).
int CmdOperatorDisable(const Config& config, const std::string& login);
int CmdOperatorEnable(const Config& config, const std::string& login);

// Replaces an operator's password (first line of `password_in`, as for add) and
// clears its failed-logon count and lock.
int CmdOperatorPassword(const Config& config, const std::string& login, std::istream& password_in);

}  // namespace stagebridge::cli
