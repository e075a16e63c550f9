// json.h — the JSON the console's API writes and the little it reads.
//
// JsonWriter builds one document in a string. Strings are escaped for JSON and
// also for HTML contexts (`<`, `>`, `&`, `'` as \u00XX, U+2028/2029 escaped), so
// a staged value such as `<img src=x onerror=alert(1)>` can never be read as
// markup even by a client that misuses it (the console inserts text only).
// Invalid UTF-8 is replaced by U+FFFD, so the output is always valid JSON.
//
// ParseFlatObject reads what the console's POSTs send: one object whose members
// are strings, numbers, booleans or null (no nesting), bounded in size.
//
// Thread-safety: a JsonWriter is used by one thread; the functions are stateless.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace stagebridge::console {

// `s` as a JSON string literal, quotes included (see above for the escaping).
std::string JsonQuote(std::string_view s);

class JsonWriter {
 public:
  // Containers. Inside an object, name each value with Key() first.
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view name);

  JsonWriter& String(std::string_view s);
  JsonWriter& Int(std::int64_t n);
  JsonWriter& Double(double d);  // non-finite values are written as null
  JsonWriter& Bool(bool b);
  JsonWriter& Null();
  // A string, or null when absent.
  JsonWriter& OptionalString(const std::optional<std::string>& s);

  const std::string& Str() const { return out_; }

 private:
  void Separate();

  std::string out_;
  bool first_ = true;  // no value yet in the current container
  bool after_key_ = false;
};

// Members of a flat object: strings as they are, numbers as their text,
// true/false as "true"/"false"; null members are left out. InvalidArgument for
// anything else (nesting, trailing text, more than 64 members, bad escapes).
Result<std::map<std::string, std::string>> ParseFlatObject(std::string_view text);

}  // namespace stagebridge::console
