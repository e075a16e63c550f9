// prelude_js.h — prelude.js, embedded in the binary at build time (embed_prelude.cmake).
#pragma once

#include <string_view>

namespace stagebridge::script {

std::string_view PreludeJs();

}  // namespace stagebridge::script
