// fuzz_e4x.cc — libFuzzer target: the bytes are workflow JavaScript, run through
// script::TransformE4x (the E4X source-to-source transform).
//
// Beyond memory errors, UB, stack exhaustion and hangs, it checks the transform's
// contract (fuzz_common.h; STAGEBRIDGE_FUZZ_MEMORY_ONLY=1 skips it):
//   * on success the output has exactly the input's LF and CR bytes (no line
//     terminator added or removed), and the position map sends every output
//     position to a column >= 1;
//   * an input with none of < @ . : and no "each" (so no E4X at all) comes out
//     byte-identical;
//   * an error reads "LINE:COLUMN: message" with LINE within the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "script/e4x.h"

using namespace stagebridge;

namespace {

std::size_t Count(std::string_view s, char c) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), c));
}

// A decimal number >= 1 at the start of `s`, followed by `end`; advances `s`.
bool Number(std::string_view& s, char end, long* value) {
  std::size_t i = 0;
  long v = 0;
  while (i < s.size() && i < 10 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
  if (i == 0 || i >= s.size() || s[i] != end || v < 1) return false;
  *value = v;
  s.remove_prefix(i + 1);
  return true;
}

void CheckError(const Status& s, std::string_view input) {
  std::string_view m = s.message();
  long line = 0;
  long column = 0;
  if (s.code() != Status::Code::kInvalidArgument || !Number(m, ':', &line) || !Number(m, ':', &column) ||
      !m.starts_with(' ') || m.size() < 2) {
    fuzz::Violation("an error is not InvalidArgument(\"LINE:COLUMN: message\")", s.message());
  }
  if (static_cast<std::size_t>(line) > Count(input, '\n') + Count(input, '\r') + Count(input, '\xE2') + 1) {
    fuzz::Violation("an error names a line past the input", s.message());
  }
}

void CheckOutput(const script::Transformed& t, std::string_view input) {
  if (Count(t.code, '\n') != Count(input, '\n') || Count(t.code, '\r') != Count(input, '\r')) {
    fuzz::Violation("the output has another number of line terminators", t.code);
  }
  if (input.find_first_of("<@.:") == std::string_view::npos && input.find("each") == std::string_view::npos &&
      t.code != input) {
    fuzz::Violation("input without E4X did not come out byte-identical", t.code);
  }
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < t.code.size(); ++i) {
    script::SourcePosition p = t.map.Original(line, column);
    if (p.line != line || p.column < 1) fuzz::Violation("the position map leaves the line or column 1", t.code, i);
    if (t.code[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(t.code[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Result<script::Transformed> t = script::TransformE4x(input);
  if (!fuzz::ContractChecks()) return 0;
  if (t.ok()) {
    CheckOutput(*t, input);
  } else {
    CheckError(t.status(), input);
  }
  return 0;
}
