#include "schema/parser.h"

#include <string>

#include <gtest/gtest.h>

#include "schema/staging.h"

namespace stagebridge::schema {
namespace {

std::string Doc(const std::string& element_attrs, const std::string& body, const std::string& root_attrs = "") {
  return "<srcSchema namespace=\"dem\" name=\"sampleTable\"" + root_attrs + "><element name=\"sampleTable\" " +
         element_attrs + ">" + body + "</element></srcSchema>";
}

const std::string kCloud = R"(autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda")";

// Parses and expects an error whose text contains every fragment.
void ExpectError(const std::string& text, std::initializer_list<std::string> fragments) {
  Result<Schema> s = ParseSrcSchema(text, "dem_bad.xml");
  ASSERT_FALSE(s.ok()) << "expected an error for: " << text;
  for (const std::string& f : fragments) {
    EXPECT_NE(s.status().message().find(f), std::string::npos) << "'" << f << "' not in: " << s.status().message();
  }
  EXPECT_EQ(s.status().message().rfind("dem_bad.xml: ", 0), 0u) << s.status().message();
}

TEST(ParserTest, SampleTableCompiles) {
  Result<Schema> s = ParseSrcSchema(
      Doc(kCloud, R"(<attribute name="testcol1" type="string" length="64"/><attribute name="testcol2"/>)"), "f.xml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->id(), "dem:sampleTable");
  EXPECT_EQ(s->sql_table, "DemSampleTable");
  EXPECT_TRUE(s->is_cloud());
  EXPECT_TRUE(s->auto_stg);
  ASSERT_EQ(s->attributes.size(), 3u);
  EXPECT_EQ(s->attributes[0].name, "id");
  EXPECT_EQ(s->attributes[0].sql_name, "uSampleTableId");
  EXPECT_EQ(s->attributes[0].role, AttrRole::kPrimaryKey);
  EXPECT_EQ(s->attributes[1].sql_name, "sTestcol1");
  EXPECT_EQ(s->attributes[1].length, 64);
  EXPECT_EQ(s->attributes[2].length, 255);  // default string length
  ASSERT_NE(s->primary_key(), nullptr);
  EXPECT_EQ(s->primary_key()->fields, std::vector<std::string>{"id"});
}

TEST(ParserTest, SqlNamingFollowsThePlatform) {
  Result<Schema> s = ParseSrcSchema(Doc(kCloud, R"(
      <attribute name="a" type="string"/><attribute name="b" type="memo"/><attribute name="c" type="long"/>
      <attribute name="d" type="int"/><attribute name="e" type="short"/><attribute name="f" type="byte"/>
      <attribute name="g" type="double"/><attribute name="h" type="float"/><attribute name="i" type="boolean"/>
      <attribute name="j" type="date"/><attribute name="k" type="datetime"/><attribute name="l" type="datetimenotz"/>
      <attribute name="m" type="uuid"/><attribute name="q" type="int64"/>
      <attribute name="custom" type="string" sqlname="sMyColumn"/>)"),
                                    "f.xml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<std::string> names;
  for (const auto& a : s->attributes) names.push_back(a.sql_name);
  EXPECT_EQ(names, (std::vector<std::string>{"uSampleTableId", "sA", "mB", "iC", "iD", "iE", "iF", "dG", "dH", "iI",
                                             "tJ", "tsK", "tsL", "uM", "iQ", "sMyColumn"}));
}

TEST(ParserTest, DeclaredKeysAndSqltable) {
  Result<Schema> s = ParseSrcSchema(Doc(kCloud + R"( sqltable="DemSamples")",
                                        R"(<key name="mail"><keyfield xpath="@email"/></key>
                                           <attribute name="email" length="80"/>)"),
                                    "f.xml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->sql_table, "DemSamples");
  ASSERT_EQ(s->declared_keys().size(), 1u);
  EXPECT_EQ(s->declared_keys()[0]->fields, std::vector<std::string>{"email"});
}

TEST(ParserTest, LocalSchemaWithIntegerKey) {
  Result<Schema> s = ParseSrcSchema(Doc(R"(autopk="true")", R"(<attribute name="x"/>)"), "f.xml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->is_cloud());
  EXPECT_EQ(s->attributes[0].type, AttrType::kInt64);
  EXPECT_EQ(s->attributes[0].sql_name, "iSampleTableId");
}

TEST(ParserTest, UnknownType) {
  ExpectError(Doc(kCloud, R"(<attribute name="testcol1" type="strin"/>)"),
              {"element 'sampleTable', attribute 'testcol1'", "unknown type 'strin'"});
}

TEST(ParserTest, DuplicateAttribute) {
  ExpectError(Doc(kCloud, R"(<attribute name="a"/><attribute name="a" type="long"/>)"),
              {"attribute 'a'", "duplicate attribute 'a'"});
}

TEST(ParserTest, DuplicateSqlName) {
  ExpectError(Doc(kCloud, R"(<attribute name="a"/><attribute name="b" sqlname="sA"/>)"),
              {"SQL name 'sA' is used twice"});
}

TEST(ParserTest, AutoStgOnLocalSchema) {
  ExpectError(Doc(R"(autopk="true" autouuid="true" autoStg="true")", ""),
              {"autoStg is only allowed on a cloud schema"});
}

TEST(ParserTest, AutoStgOnStagingSchema) {
  ExpectError("<srcSchema namespace=\"dem\" name=\"sampleTableStg\"><element name=\"sampleTableStg\" " + kCloud +
                  "/></srcSchema>",
              {"autoStg is not allowed on a staging schema"});
  ExpectError(Doc(kCloud, "", R"( stgSrcSchema="dem:other")"), {"autoStg is not allowed on a staging schema"});
}

TEST(ParserTest, AutoStgOnReplicatedSchema) {
  ExpectError(Doc(kCloud + R"( replicated="true")", ""), {"autoStg is not allowed on a replicated schema"});
}

TEST(ParserTest, AutoStgWithoutUuid) {
  ExpectError(Doc(R"(autopk="true" autoStg="true" dataSource="nms:extAccount:ffda")", ""), {"autoStg requires"});
}

TEST(ParserTest, KeyOnUnknownAttribute) {
  ExpectError(Doc(kCloud, R"(<key name="k"><keyfield xpath="@nope"/></key>)"),
              {"key 'k'", "unknown attribute '@nope'"});
}

TEST(ParserTest, ReservedNames) {
  for (const char* name :
       {"id", "delete", "lastModified", "stgSeq", "stgKey", "stgOp", "xtkschema", "_key", "_operation"}) {
    ExpectError(Doc(kCloud, std::string("<attribute name=\"") + name + "\"/>"), {"reserved name"});
  }
}

TEST(ParserTest, BadIdentifiers) {
  ExpectError(Doc(kCloud, R"(<attribute name="a;drop table x"/>)"), {"bad identifier 'a;drop table x'"});
  ExpectError(Doc(kCloud, R"(<attribute name="1abc"/>)"), {"bad identifier '1abc'"});
  ExpectError(Doc(kCloud, R"(<attribute name="x" sqlname="s x"/>)"), {"bad SQL name 's x'"});
  ExpectError(Doc(kCloud, R"(<attribute name="x" sqlname="select"/>)"), {"reserved SQL word"});
  // A generated name can be a keyword too: long "n" → iN = IN.
  ExpectError(Doc(kCloud, R"(<attribute name="n" type="long"/>)"), {"SQL name 'iN' is a reserved SQL word"});
  ExpectError(Doc(kCloud + R"( sqltable="Dem Table")", ""), {"bad SQL table name 'Dem Table'"});
  ExpectError("<srcSchema namespace=\"d-m\" name=\"x\"><element name=\"x\"/></srcSchema>", {"bad identifier"});
  ExpectError(Doc(kCloud, "<attribute name=\"" + std::string(64, 'a') + "\"/>"), {"bad identifier"});
}

TEST(ParserTest, BadLengthsDefaultsAndBooleans) {
  ExpectError(Doc(kCloud, R"(<attribute name="a" length="0"/>)"), {"length '0'"});
  ExpectError(Doc(kCloud, R"(<attribute name="a" length="abc"/>)"), {"length 'abc'"});
  ExpectError(Doc(kCloud, R"(<attribute name="a" length="5000"/>)"), {"length '5000'"});
  ExpectError(Doc(kCloud, R"(<attribute name="a" type="long" default="'x'"/>)"),
              {"default ''x'' does not fit type long"});
  ExpectError(Doc(kCloud, R"(<attribute name="a" default="x'); drop table y; --"/>)"), {"does not fit type string"});
  ExpectError(Doc(kCloud, R"(<attribute name="a" notNull="maybe"/>)"), {"notNull 'maybe' is not a boolean"});
  ExpectError(Doc(R"(autopk="yes")", ""), {"autopk 'yes' is not a boolean"});
}

TEST(ParserTest, ReportsEveryProblemAtOnce) {
  Result<Schema> s =
      ParseSrcSchema(Doc(kCloud, R"(<attribute name="a" type="x"/><attribute name="b" type="y"/>)"), "dem_bad.xml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("unknown type 'x'"), std::string::npos);
  EXPECT_NE(s.status().message().find("unknown type 'y'"), std::string::npos);
}

TEST(ParserTest, StructuralErrors) {
  ExpectError("<schema/>", {"must be <srcSchema>"});
  ExpectError("<srcSchema namespace=\"dem\" name=\"x\"><element name=\"y\"/></srcSchema>",
              {"no main <element name='x'>"});
  ExpectError(Doc(kCloud, "<foo/>"), {"unsupported element <foo>"});
  ExpectError(Doc(kCloud, R"(<element name="sub" type="string"/>)"), {"only links"});
  ExpectError("<srcSchema", {"malformed XML"});
  ExpectError("<!DOCTYPE x [<!ENTITY a 'b'>]><srcSchema/>", {"DOCTYPE"});
}

TEST(StagingTest, DerivesStagingSchema) {
  Result<Schema> src = ParseSrcSchema(Doc(kCloud + R"( label="Sample Table")",
                                          R"(<attribute name="testcol1" notNull="true" default="'x'"/>
                                             <attribute name="email"/><key name="email"><keyfield xpath="@email"/></key>)"),
                                      "f.xml");
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  Schema stg = DeriveStagingSchema(*src);
  EXPECT_EQ(stg.id(), "dem:sampleTableStg");
  EXPECT_EQ(stg.label, "Sample Table (Staging)");
  EXPECT_EQ(stg.stg_src_schema, "dem:sampleTable");
  EXPECT_FALSE(stg.auto_stg);
  EXPECT_FALSE(stg.is_cloud());
  EXPECT_TRUE(stg.is_staging());
  EXPECT_EQ(stg.sql_table, "DemSampleTableStg");
  const Attribute* id = stg.FindAttribute("id");
  ASSERT_NE(id, nullptr);
  EXPECT_EQ(id->sql_name, "uSampleTableId");
  const Attribute* col = stg.FindAttribute("testcol1");
  ASSERT_NE(col, nullptr);
  EXPECT_FALSE(col->not_null);  // an IngestExt may name only other columns
  EXPECT_TRUE(col->default_expr.empty());
  const Attribute* del = stg.FindAttribute("delete");
  ASSERT_NE(del, nullptr);
  EXPECT_EQ(del->type, AttrType::kBoolean);
  EXPECT_EQ(del->default_expr, "false");
  const Attribute* lm = stg.FindAttribute("lastModified");
  ASSERT_NE(lm, nullptr);
  EXPECT_EQ(lm->type, AttrType::kDatetime);
  for (const char* internal : {"stgSeq", "stgKey", "stgOp"}) {
    const Attribute* a = stg.FindAttribute(internal);
    ASSERT_NE(a, nullptr) << internal;
    EXPECT_EQ(a->role, AttrRole::kInternal);
  }
  ASSERT_NE(stg.FindKey("email"), nullptr);
  ASSERT_NE(stg.primary_key(), nullptr);
}

}  // namespace
}  // namespace stagebridge::schema
