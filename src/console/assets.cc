// assets.cc — lookup and content types of the embedded console assets.
#include "console/assets.h"

namespace stagebridge::console {

const Asset* FindAsset(std::string_view name) {
  std::size_t count = 0;
  const Asset* all = EmbeddedAssets(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (all[i].name == name) return &all[i];
  }
  return nullptr;
}

std::string_view ContentTypeFor(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

}  // namespace stagebridge::console
