// assets.h — the console's static files (src/console/assets/), embedded in the
// binary at build time by embed_assets.cmake: no file to install, nothing read
// from disk at run time, and the ETag is the content's hash computed then.
//
// Thread-safety: immutable data.
#pragma once

#include <cstddef>
#include <string_view>

namespace stagebridge::console {

struct Asset {
  std::string_view name;  // path under assets/, e.g. "index.html", "js/app.js"
  const unsigned char* data = nullptr;
  std::size_t size = 0;
  std::string_view etag;  // quoted: "\"3f2a…\""

  std::string_view Bytes() const { return {reinterpret_cast<const char*>(data), size}; }
};

// The embedded asset named `name`, or nullptr.
const Asset* FindAsset(std::string_view name);

// Content-Type by file extension (html, css, js, svg, png, ico, json), with a charset for text.
std::string_view ContentTypeFor(std::string_view name);

// Every embedded asset (generated: console_assets.cc).
const Asset* EmbeddedAssets(std::size_t& count);

}  // namespace stagebridge::console
