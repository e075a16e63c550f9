// value.cc — rendering of store values for tests and log lines.
#include "store/value.h"

#include <charconv>
#include <cmath>
#include <type_traits>

namespace stagebridge::store {

std::string ValueToString(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "NULL";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else {
          char buf[64];
          auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
          if (ec != std::errc()) {
            return "?";
          }
          return std::string(buf, end);
        }
      },
      v);
}

}  // namespace stagebridge::store
