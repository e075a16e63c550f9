// app.h — the `stagebridge` command line: global settings, subcommands, exit
// codes 0 (ok), 1 (failed), 2 (usage).
//
// Thread-safety: RunCli is called once, from main.
#pragma once

#include <iosfwd>

namespace stagebridge::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

int RunCli(int argc, char** argv);

}  // namespace stagebridge::cli
