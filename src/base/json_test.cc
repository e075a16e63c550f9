#include "base/json.h"

#include <string>

#include <gtest/gtest.h>

namespace stagebridge {
namespace {

TEST(JsonStringTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\x01\x1f\0", 3)), "\"\\u0001\\u001f\\u0000\"");
  EXPECT_EQ(JsonString("caf\xC3\xA9 \x7f"), "\"caf\xC3\xA9 \x7f\"");  // UTF-8 and DEL pass through
  std::string out = "[";
  AppendJsonString(out, "x");
  EXPECT_EQ(out, "[\"x\"");
}

}  // namespace
}  // namespace stagebridge
