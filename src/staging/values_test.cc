// values_test.cc — attribute text → typed value: accepted and refused forms of
// every type, ranges, lengths, datetime normalisation, error messages.
#include "staging/values.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "xml/document.h"

namespace stagebridge::staging {
namespace {

using schema::AttrType;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kSchema = "dem:sampleTableStg";

schema::Attribute Attr(AttrType type, int length = 0, const char* name = "col") {
  schema::Attribute a;
  a.name = name;
  a.type = type;
  a.length = length;
  a.sql_name = "xCol";
  return a;
}

Result<store::Value> Convert(AttrType type, std::string_view text, int length = 255) {
  return ConvertValue(Attr(type, length), kSchema, text);
}

// Accepted: the stored value.
void ExpectInt(AttrType type, std::string_view text, std::int64_t want) {
  Result<store::Value> v = Convert(type, text);
  ASSERT_TRUE(v.ok()) << schema::TypeName(type) << " '" << text << "': " << v.status().ToString();
  ASSERT_TRUE(std::holds_alternative<std::int64_t>(*v)) << text;
  EXPECT_EQ(std::get<std::int64_t>(*v), want) << text;
}

void ExpectString(AttrType type, std::string_view text, std::string_view want, int length = 255) {
  Result<store::Value> v = Convert(type, text, length);
  ASSERT_TRUE(v.ok()) << schema::TypeName(type) << " '" << text << "': " << v.status().ToString();
  ASSERT_TRUE(std::holds_alternative<std::string>(*v)) << text;
  EXPECT_EQ(std::get<std::string>(*v), want) << text;
}

void ExpectDouble(AttrType type, std::string_view text, double want) {
  Result<store::Value> v = Convert(type, text);
  ASSERT_TRUE(v.ok()) << schema::TypeName(type) << " '" << text << "': " << v.status().ToString();
  ASSERT_TRUE(std::holds_alternative<double>(*v)) << text;
  EXPECT_DOUBLE_EQ(std::get<double>(*v), want) << text;
}

// Refused: STG-200004, naming the attribute, its schema and the value.
void ExpectRefused(AttrType type, std::string_view text, int length = 255, const char* name = "col") {
  Result<store::Value> v = ConvertValue(Attr(type, length, name), kSchema, text);
  ASSERT_FALSE(v.ok()) << schema::TypeName(type) << " '" << text << "' was accepted";
  EXPECT_EQ(v.status().code(), Status::Code::kInvalidArgument);
  const std::string& msg = v.status().message();
  EXPECT_THAT(msg, StartsWith("STG-200004 ")) << msg;
  EXPECT_THAT(msg, HasSubstr(std::string("'") + name + "'")) << msg;
  EXPECT_THAT(msg, HasSubstr(kSchema)) << msg;
  EXPECT_THAT(msg, HasSubstr(Excerpt(text))) << msg;
}

// --- strings -----------------------------------------------------------------

TEST(ValuesStringTest, LengthInCodePoints) {
  ExpectString(AttrType::kString, "abcdefghij", "abcdefghij", 10);
  ExpectRefused(AttrType::kString, "abcdefghijk", 10);
  // 10 two-byte characters (20 bytes) fit a length of 10.
  std::string e10;
  for (int i = 0; i < 10; ++i) e10 += "\xC3\xA9";
  ExpectString(AttrType::kString, e10, e10, 10);
  ExpectRefused(AttrType::kString, e10 + "\xC3\xA9", 10);
  // Three- and four-byte characters count as one too.
  ExpectString(AttrType::kString, "\xE2\x82\xAC\xF0\x9F\x98\x80", "\xE2\x82\xAC\xF0\x9F\x98\x80", 2);
  ExpectRefused(AttrType::kString,
                "\xE2\x82\xAC\xF0\x9F\x98\x80"
                "a",
                2);
  ExpectString(AttrType::kString, "", "", 10);
}

TEST(ValuesStringTest, LengthErrorSaysHowManyCharacters) {
  Result<store::Value> v = Convert(AttrType::kString, "abcdefghijk", 10);
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("11 characters, at most 10"));
}

TEST(ValuesStringTest, ControlCharactersRefused) {
  ExpectRefused(AttrType::kString, std::string("a\x01z"));
  ExpectRefused(AttrType::kString, std::string("a\x1Fz"));
  ExpectRefused(AttrType::kString, std::string("a\x7Fz"));
  ExpectRefused(AttrType::kString, std::string("a\0z", 3));
  ExpectRefused(AttrType::kMemo, std::string("a\x02z"));
  ExpectString(AttrType::kString, "tab\there\r\nnew line", "tab\there\r\nnew line");
}

TEST(ValuesStringTest, SqlLookingValuesAreData) {
  ExpectString(AttrType::kString, "O'Brien; drop table x", "O'Brien; drop table x");
  ExpectString(AttrType::kString, "'); DELETE FROM DemSampleTableStg; --", "'); DELETE FROM DemSampleTableStg; --");
}

TEST(ValuesStringTest, MemoHasNoLengthLimit) {
  std::string big(100000, 'x');
  ExpectString(AttrType::kMemo, big, big, 0);
}

// --- integers ----------------------------------------------------------------

TEST(ValuesIntegerTest, ByteRange) {
  ExpectInt(AttrType::kByte, "-128", -128);
  ExpectInt(AttrType::kByte, "127", 127);
  ExpectInt(AttrType::kByte, "0", 0);
  ExpectRefused(AttrType::kByte, "-129");
  ExpectRefused(AttrType::kByte, "128");
  ExpectRefused(AttrType::kByte, "255");
}

TEST(ValuesIntegerTest, ShortRange) {
  ExpectInt(AttrType::kShort, "-32768", -32768);
  ExpectInt(AttrType::kShort, "32767", 32767);
  ExpectRefused(AttrType::kShort, "-32769");
  ExpectRefused(AttrType::kShort, "32768");
}

TEST(ValuesIntegerTest, LongAndIntAre32Bit) {
  for (AttrType t : {AttrType::kLong, AttrType::kInt}) {
    ExpectInt(t, "-2147483648", -2147483648LL);
    ExpectInt(t, "2147483647", 2147483647LL);
    ExpectRefused(t, "-2147483649");
    ExpectRefused(t, "2147483648");
    ExpectRefused(t, "4294967296");
  }
}

TEST(ValuesIntegerTest, Int64Range) {
  ExpectInt(AttrType::kInt64, "9223372036854775807", INT64_MAX);
  ExpectInt(AttrType::kInt64, "-9223372036854775808", INT64_MIN);
  ExpectInt(AttrType::kInt64, "4294967296", 4294967296LL);
  ExpectRefused(AttrType::kInt64, "9223372036854775808");
  ExpectRefused(AttrType::kInt64, "-9223372036854775809");
  ExpectRefused(AttrType::kInt64, "99999999999999999999999");
}

TEST(ValuesIntegerTest, EmptyIsZero) {
  for (AttrType t : {AttrType::kByte, AttrType::kShort, AttrType::kLong, AttrType::kInt, AttrType::kInt64}) {
    ExpectInt(t, "", 0);
  }
}

TEST(ValuesIntegerTest, ExactDecimalSyntaxOnly) {
  for (AttrType t : {AttrType::kByte, AttrType::kShort, AttrType::kLong, AttrType::kInt, AttrType::kInt64}) {
    for (const char* bad : {"1.5", "1.0", "abc", "12abc", " 1", "1 ", "0x10", "1e3", "--1", "-", "1,000", "٣"}) {
      ExpectRefused(t, bad);
    }
  }
  ExpectInt(AttrType::kLong, "-42", -42);
  ExpectInt(AttrType::kLong, "007", 7);
}

TEST(ValuesIntegerTest, RangeErrorNamesTheRange) {
  Result<store::Value> v = Convert(AttrType::kByte, "300");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(), HasSubstr("[-128, 127]"));
  EXPECT_THAT(v.status().message(), HasSubstr("(byte)"));
}

// --- floating point ----------------------------------------------------------

TEST(ValuesFloatTest, Accepted) {
  ExpectDouble(AttrType::kDouble, "1.5", 1.5);
  ExpectDouble(AttrType::kDouble, "-2e10", -2e10);
  ExpectDouble(AttrType::kDouble, "42", 42.0);
  ExpectDouble(AttrType::kDouble, "", 0.0);
  ExpectDouble(AttrType::kDouble, "1.7976931348623157e308", 1.7976931348623157e308);
  ExpectDouble(AttrType::kFloat, "3.25", 3.25);
  ExpectDouble(AttrType::kFloat, "1e38", 1e38);
}

TEST(ValuesFloatTest, Refused) {
  for (AttrType t : {AttrType::kDouble, AttrType::kFloat}) {
    for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "1.5x", "abc", "1,5", " 1", "1e400", "0x1p3"}) {
      ExpectRefused(t, bad);
    }
  }
  ExpectRefused(AttrType::kFloat, "3.5e38");
  ExpectRefused(AttrType::kFloat, "-1e39");
}

// --- booleans ----------------------------------------------------------------

TEST(ValuesBooleanTest, AcceptedForms) {
  ExpectInt(AttrType::kBoolean, "true", 1);
  ExpectInt(AttrType::kBoolean, "1", 1);
  ExpectInt(AttrType::kBoolean, "false", 0);
  ExpectInt(AttrType::kBoolean, "0", 0);
  ExpectInt(AttrType::kBoolean, "", 0);
}

TEST(ValuesBooleanTest, RefusedForms) {
  for (const char* bad : {"yes", "no", "2", "-1", "t", "on", " true"}) ExpectRefused(AttrType::kBoolean, bad);
}

// --- dates -------------------------------------------------------------------

TEST(ValuesDateTest, Valid) {
  ExpectString(AttrType::kDate, "2024-02-29", "2024-02-29");  // leap year
  ExpectString(AttrType::kDate, "2000-02-29", "2000-02-29");  // divisible by 400
  ExpectString(AttrType::kDate, "1999-12-31", "1999-12-31");
  ExpectString(AttrType::kDate, "2024-04-30", "2024-04-30");
}

TEST(ValuesDateTest, Invalid) {
  for (const char* bad :
       {"2023-02-29", "1900-02-29", "2024-02-30", "2024-04-31", "2024-13-01", "2024-00-10", "2024-01-00", "2024-1-01",
        "24-01-01", "2024/01/01", "20240101", "2024-01-01T00:00:00", "2024-01-01 ", "", "0000-01-01", "abcd-ef-gh"}) {
    ExpectRefused(AttrType::kDate, bad);
  }
}

// --- datetimes ---------------------------------------------------------------

TEST(ValuesDatetimeTest, NormalisedToUtc) {
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00Z", "2024-05-01 10:30:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01 10:30:00", "2024-05-01 10:30:00+00");  // no zone: UTC
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00", "2024-05-01 10:30:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30", "2024-05-01 10:30:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01", "2024-05-01 00:00:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00+00:00", "2024-05-01 10:30:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00-00:00", "2024-05-01 10:30:00+00");
}

TEST(ValuesDatetimeTest, OffsetsAreApplied) {
  // Back across a leap day.
  ExpectString(AttrType::kDatetime, "2024-03-01T01:30:00+02:00", "2024-02-29 23:30:00+00");
  // A non-leap year goes to Feb 28.
  ExpectString(AttrType::kDatetime, "2023-03-01T01:30:00+02:00", "2023-02-28 23:30:00+00");
  // Forward across a leap day and a year.
  ExpectString(AttrType::kDatetime, "2024-02-28T23:30:00-01:00", "2024-02-29 00:30:00+00");
  ExpectString(AttrType::kDatetime, "2023-02-28T23:30:00-01:00", "2023-03-01 00:30:00+00");
  ExpectString(AttrType::kDatetime, "2023-12-31T22:00:00-03:00", "2024-01-01 01:00:00+00");
  ExpectString(AttrType::kDatetime, "2000-03-01T00:30:00+01:00", "2000-02-29 23:30:00+00");
  // Half-hour and hour-only offsets.
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00+05:30", "2024-05-01 05:00:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00+02", "2024-05-01 08:30:00+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T00:15:00+14:00", "2024-04-30 10:15:00+00");
}

TEST(ValuesDatetimeTest, FractionKeptToMicroseconds) {
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00.5Z", "2024-05-01 10:30:00.5+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00.123456Z", "2024-05-01 10:30:00.123456+00");
  ExpectString(AttrType::kDatetime, "2024-05-01T10:30:00.123456789Z", "2024-05-01 10:30:00.123456+00");
  ExpectString(AttrType::kDatetime, "2024-03-01T01:30:00.250+02:00", "2024-02-29 23:30:00.250+00");
}

TEST(ValuesDatetimeTest, Invalid) {
  for (const char* bad :
       {"2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T10:60:00Z", "2024-05-01T10:30:61Z",
        "2024-05-01T10:30:00+15:00", "2024-05-01T10:30:00+02:60", "2024-05-01T10:30:00 +02:00",
        "2024-05-01T10:30:00+0200", "2024-05-01T10:30:00ZZ", "2024-05-01T10", "2024-05-01T1:30", "2024-05-01X10:30:00",
        "2024-05-01T10:30:00.Z", "2024-05-01T10:30:00.1234567890Z", "yesterday", "", "1714559400",
        "2024-05-01T10:30:00Z garbage"}) {
    ExpectRefused(AttrType::kDatetime, bad);
  }
}

TEST(ValuesDatetimeTest, DatetimeNoTzHasNoZoneSuffix) {
  ExpectString(AttrType::kDatetimeNoTz, "2024-05-01T10:30:00", "2024-05-01 10:30:00");
  ExpectString(AttrType::kDatetimeNoTz, "2024-05-01 10:30:00.25", "2024-05-01 10:30:00.25");
  ExpectRefused(AttrType::kDatetimeNoTz, "2024-02-30 10:30:00");
}

// --- uuids -------------------------------------------------------------------

TEST(ValuesUuidTest, LowerCased) {
  ExpectString(AttrType::kUuid, "E1E7C8B3-6F79-44DA-A72D-49ED0F73DB2C", "e1e7c8b3-6f79-44da-a72d-49ed0f73db2c");
  ExpectString(AttrType::kUuid, "e1e7c8b3-6f79-44da-a72d-49ed0f73db2c", "e1e7c8b3-6f79-44da-a72d-49ed0f73db2c");
}

TEST(ValuesUuidTest, Invalid) {
  for (const char* bad : {"xyz", "{e1e7c8b3-6f79-44da-a72d-49ed0f73db2c}", "e1e7c8b36f7944daa72d49ed0f73db2c",
                          "e1e7c8b3-6f79-44da-a72d-49ed0f73db2", "g1e7c8b3-6f79-44da-a72d-49ed0f73db2c",
                          "e1e7c8b3_6f79_44da_a72d_49ed0f73db2c", ""}) {
    ExpectRefused(AttrType::kUuid, bad);
  }
}

TEST(ValuesUuidTest, PrimaryKeyAndLinkAcceptAnyId) {
  schema::Attribute pk = Attr(AttrType::kUuid, 0, "id");
  pk.role = schema::AttrRole::kPrimaryKey;
  Result<store::Value> v = ConvertValue(pk, kSchema, "ABC12345");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(std::get<std::string>(*v), "ABC12345");  // kept as sent
  schema::Attribute fk = Attr(AttrType::kUuid, 0, "recipient-id");
  fk.link = "recipient";
  v = ConvertValue(fk, kSchema, "Rcp-1");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(std::get<std::string>(*v), "Rcp-1");
  Result<store::Value> empty = ConvertValue(pk, kSchema, "");
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), StartsWith("STG-200004 "));
}

// --- ids ---------------------------------------------------------------------

TEST(ValuesCheckIdTest, AcceptsOneTo255Characters) {
  EXPECT_TRUE(CheckId("A", kSchema).ok());
  EXPECT_TRUE(CheckId("ABC12345", kSchema).ok());
  EXPECT_TRUE(CheckId(std::string(255, 'x'), kSchema).ok());
  std::string multibyte;
  for (int i = 0; i < 255; ++i) multibyte += "\xC3\xA9";
  EXPECT_TRUE(CheckId(multibyte, kSchema).ok());
}

TEST(ValuesCheckIdTest, Refuses) {
  for (const std::string& bad : {std::string(), std::string(256, 'x'), std::string("a\x01"), std::string("a\x7F")}) {
    Status s = CheckId(bad, kSchema);
    ASSERT_FALSE(s.ok()) << bad.size();
    EXPECT_THAT(s.message(), StartsWith("STG-200004 "));
    EXPECT_THAT(s.message(), HasSubstr("'id'"));
    EXPECT_THAT(s.message(), HasSubstr(kSchema));
  }
}

// --- excerpts and messages ----------------------------------------------------

TEST(ValuesExcerptTest, ShortTextUnchanged) {
  EXPECT_EQ(Excerpt(""), "");
  EXPECT_EQ(Excerpt("abc"), "abc");
  std::string sixty(60, 'a');
  EXPECT_EQ(Excerpt(sixty), sixty);
}

TEST(ValuesExcerptTest, LongTextTruncatedWithEllipsis) {
  std::string text(100, 'a');
  EXPECT_EQ(Excerpt(text), std::string(57, 'a') + "…");
}

TEST(ValuesExcerptTest, TruncationKeepsUtf8Whole) {
  // A two-byte character straddling the cut.
  std::string text = std::string(56, 'a') + "\xC3\xA9" + std::string(20, 'b');
  std::string e = Excerpt(text);
  EXPECT_TRUE(xml::IsValidUtf8(e)) << e;
  EXPECT_EQ(e, std::string(56, 'a') + "…");
  // Every cut position, with 2-, 3- and 4-byte characters.
  for (const char* ch : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"}) {
    for (int pad = 0; pad < 4; ++pad) {
      std::string t = std::string(pad, 'a');
      while (t.size() < 120) t += ch;
      std::string ex = Excerpt(t);
      EXPECT_TRUE(xml::IsValidUtf8(ex)) << "pad " << pad;
      EXPECT_LE(ex.size(), 60u);
      EXPECT_TRUE(ex.ends_with("…"));
    }
  }
}

TEST(ValuesMessageTest, LongValuesAreShortenedInMessages) {
  std::string big(1000, 'z');
  Result<store::Value> v = Convert(AttrType::kString, big, 10);
  ASSERT_FALSE(v.ok());
  EXPECT_LT(v.status().message().size(), 300u);
  EXPECT_THAT(v.status().message(), HasSubstr(Excerpt(big)));
}

TEST(ValuesMessageTest, EveryRefusalNamesAttributeSchemaAndValue) {
  struct Case {
    AttrType type;
    const char* text;
  };
  for (const Case& c :
       {Case{AttrType::kString, "\x01"}, Case{AttrType::kLong, "x"}, Case{AttrType::kByte, "999"},
        Case{AttrType::kDouble, "nan"}, Case{AttrType::kBoolean, "maybe"}, Case{AttrType::kDate, "2023-02-29"},
        Case{AttrType::kDatetime, "noon"}, Case{AttrType::kUuid, "not-a-uuid"}}) {
    ExpectRefused(c.type, c.text, 255, "testcol7");
    Result<store::Value> v = ConvertValue(Attr(c.type, 255, "testcol7"), kSchema, c.text);
    ASSERT_FALSE(v.ok());
    EXPECT_THAT(v.status().message(), HasSubstr(std::string("(") + std::string(schema::TypeName(c.type)) + ")"));
  }
}

}  // namespace
}  // namespace stagebridge::staging
