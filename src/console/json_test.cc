// json_test.cc — the console's JSON: escaping that keeps data out of markup,
// invalid UTF-8 replaced, the writer's separators, the flat-object reader.
#include "console/json.h"

#include <gtest/gtest.h>

namespace stagebridge::console {
namespace {

TEST(JsonQuoteTest, EscapesMarkupQuotesAndControls) {
  EXPECT_EQ(JsonQuote("<img src=x onerror=alert(1)>"), "\"\\u003cimg src=x onerror=alert(1)\\u003e\"");
  EXPECT_EQ(JsonQuote("a\"b\\c'd&e"), "\"a\\\"b\\\\c\\u0027d\\u0026e\"");
  EXPECT_EQ(JsonQuote("l1\nl2\tx\r\x01\x7f"), "\"l1\\nl2\\tx\\r\\u0001\\u007f\"");
  EXPECT_EQ(JsonQuote("</script>"), "\"\\u003c/script\\u003e\"");
}

TEST(JsonQuoteTest, KeepsUtf8AndReplacesWhatIsNot) {
  EXPECT_EQ(JsonQuote("Zoë 日本 😀"), "\"Zoë 日本 😀\"");
  EXPECT_EQ(JsonQuote("a\xff"
                      "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(JsonQuote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong '/'
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(JsonQuote("x\xe2\x80\xa8y"), "\"x\\u2028y\"");
}

TEST(JsonWriterTest, SeparatesMembersAndElements) {
  JsonWriter w;
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().String("x").Null().Bool(false).EndArray();
  w.Key("c").BeginObject().EndObject().Key("d").OptionalString(std::nullopt).Key("e").Double(1.5);
  w.Key("f").Double(std::numeric_limits<double>::infinity()).EndObject();
  EXPECT_EQ(w.Str(), R"({"a":1,"b":["x",null,false],"c":{},"d":null,"e":1.5,"f":null})");
}

TEST(ParseFlatObjectTest, ReadsStringsNumbersBooleans) {
  Result<std::map<std::string, std::string>> m = ParseFlatObject(
      R"( {"login": "amy", "n": 12, "on": true, "off": false, "gone": null, "u": "\u00e9\ud83d\ude00\n"} )");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->at("login"), "amy");
  EXPECT_EQ(m->at("n"), "12");
  EXPECT_EQ(m->at("on"), "true");
  EXPECT_EQ(m->at("off"), "false");
  EXPECT_EQ(m->count("gone"), 0U);
  EXPECT_EQ(m->at("u"), "é😀\n");
  EXPECT_TRUE(ParseFlatObject("{}").ok());
}

TEST(ParseFlatObjectTest, RefusesWhatIsNotAFlatObject) {
  for (const char* bad : {"", "[]", "{\"a\":{}}", "{\"a\":[1]}", "{\"a\":1} x", "{\"a\" 1}", "{\"a\":\"\\x\"}",
                          "{\"a\":\"\\ud800\"}", "{\"a\":\"unterminated}", "{a:1}", "{\"a\":1,}"}) {
    EXPECT_FALSE(ParseFlatObject(bad).ok()) << bad;
  }
  std::string many = "{";
  for (int i = 0; i < 70; ++i) many += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":1";
  EXPECT_FALSE(ParseFlatObject(many + "}").ok());
}

}  // namespace
}  // namespace stagebridge::console
