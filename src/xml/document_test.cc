#include "xml/document.h"

#include <string>

#include <gtest/gtest.h>

namespace stagebridge::xml {
namespace {

TEST(ParseXmlTest, ParsesPlainDocument) {
  auto doc = ParseXml("<a x='1'><b/></a>", "test");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_STREQ((*doc)->document_element().name(), "a");
  EXPECT_EQ(Attr((*doc)->document_element(), "x"), "1");
}

TEST(ParseXmlTest, RefusesDoctypeAndEntities) {
  auto doc = ParseXml("<?xml version='1.0'?><!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>", "body");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("DOCTYPE"), std::string::npos);
  EXPECT_EQ(doc.status().message().substr(0, 5), "body:");
  EXPECT_FALSE(ParseXml("<!doctype a SYSTEM 'file:///etc/passwd'><a/>", "b").ok());
}

TEST(ParseXmlTest, RefusesMalformedWithOffset) {
  auto doc = ParseXml("<a><b></a>", "f.xml");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("f.xml: malformed XML at offset"), std::string::npos);
}

TEST(ParseXmlTest, RefusesDepthBomb) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "<a>";
  for (int i = 0; i < 100; ++i) text += "</a>";
  auto doc = ParseXml(text, "x");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("nested deeper than 64"), std::string::npos);
}

TEST(ParseXmlTest, RefusesAttributeBomb) {
  std::string text = "<a";
  for (int i = 0; i < 300; ++i) text += " a" + std::to_string(i) + "='1'";
  text += "/>";
  auto doc = ParseXml(text, "x");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("more than 256 attributes"), std::string::npos);
}

TEST(ParseXmlTest, RefusesInvalidUtf8ButConvertsLatin1) {
  EXPECT_FALSE(ParseXml("<a x='\xff'/>", "x").ok());
  auto doc = ParseXml("<?xml version='1.0' encoding='ISO-8859-1'?><a x='caf\xe9'/>", "x");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(Attr((*doc)->document_element(), "x"), "caf\xc3\xa9");
}

TEST(ParseXmlTest, RefusesWhatPugixmlWouldLetThrough) {
  // Each is malformed XML that a lenient parser would accept and pass on.
  for (const char* text : {
           "<a x='a&#0;b'/>",                                 // reference to NUL: would truncate the value
           "<a x='&#xD800;'/>",                               // surrogate
           "<a x='&#x110000;'/>",                             // beyond Unicode
           "<a x='&#99999999999999;'/>",                      // overflow
           "<a x='&xxe;'/>",                                  // undeclared entity kept as text
           "<a x='a<b'/>",                                    // '<' in an attribute value
           "<a x='1' x='2'/>",                                // duplicate attribute
           "<a/><b/>",                                        // content after the root element
           "<a>\x01</a>",                                     // raw control character
           "<?xml version='1.0' encoding='ISO1-\x19'?><a/>",  // control character in the declaration
       }) {
    EXPECT_FALSE(ParseXml(text, "t").ok()) << text;
  }
  auto ok = ParseXml("<a x='&lt;&amp;&#233;&#x1F600;'><!-- &bogus; --><![CDATA[&#0;]]></a>", "t");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(Attr((*ok)->document_element(), "x"), "<&\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(EscapeTest, OutputIsAlwaysWellFormed) {
  EXPECT_EQ(Escape("a\x01"
                   "b"),
            "a\\x01b");
  EXPECT_EQ(Escape("a\xff"
                   "b"),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_EQ(Printable("line\nFORGED"), "line\\x0aFORGED");
}

TEST(Utf8Test, RejectsOverlongAndSurrogates) {
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(NamesTest, LocalNameAndPrefix) {
  EXPECT_EQ(LocalName("urn:Ingest"), "Ingest");
  EXPECT_EQ(LocalName("Ingest"), "Ingest");
  EXPECT_EQ(Prefix("soapenv:Body"), "soapenv");
  EXPECT_EQ(Prefix("Body"), "");
}

TEST(EscapeTest, EscapesMarkup) {
  EXPECT_EQ(Escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c'");
  EXPECT_EQ(Escape("it's", '\''), "it&apos;s");
}

TEST(ParseBoolTest, PlatformBooleans) {
  EXPECT_EQ(ParseBool("true"), true);
  EXPECT_EQ(ParseBool("1"), true);
  EXPECT_EQ(ParseBool("0"), false);
  EXPECT_EQ(ParseBool("yes"), std::nullopt);
}

}  // namespace
}  // namespace stagebridge::xml
