// json.h — the bit of JSON the CLI writes (`workflow … --json`, `query --format json`):
// the escaper is base/json.h's, shared with the script engine.
//
// Thread-safety: stateless.
#pragma once

#include "base/json.h"

namespace stagebridge::cli {

using stagebridge::JsonString;

}  // namespace stagebridge::cli
