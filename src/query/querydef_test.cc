// querydef_test.cc — reading queryDef documents: shapes, attribute checks,
// conditions and groups, refused constructs.
#include "query/querydef.h"

#include <gtest/gtest.h>

namespace stagebridge::query {
namespace {

std::string ErrorOf(std::string_view xml) {
  Result<QueryDef> q = ParseQueryDef(xml);
  return q.ok() ? "parsed" : q.status().message();
}

TEST(QueryDefTest, ReadsEveryPart) {
  Result<QueryDef> q = ParseQueryDef(R"q(<queryDef schema="dem:sampleTable" operation="select" lineCount="10"
      startLine="20" distinct="true" firstRows="true" startPath="/" xtkschema="xtk:queryDef">
    <select><node expr="@id"/><node expr="Lower(@testcol1)" alias="@low" groupBy="1"/></select>
    <where>
      <condition expr="@testcol1 LIKE 'a%'" boolOperator="OR" internalId="3"/>
      <condition><condition expr="@id = 'x'" bool-operator="or"/><condition expr="@id = 'y'"/></condition>
      <condition expr="@nothing = 1" ignore="true"/>
      <condition expr="@testcol2 IS NULL" enabledIf=""/>
    </where>
    <orderBy><node expr="@id" sortDesc="true"/><node expr="@testcol2"/></orderBy>
    <groupby><node expr="@testcol2"/></groupby>
    <having><condition expr="Count() > 1"/></having>
  </queryDef>)q");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->schema, "dem:sampleTable");
  EXPECT_EQ(q->operation, Operation::kSelect);
  EXPECT_EQ(q->line_count, 10);
  EXPECT_EQ(q->start_line, 20);
  EXPECT_TRUE(q->distinct);
  ASSERT_EQ(q->select.size(), 2u);
  EXPECT_EQ(q->select[1].expr, "Lower(@testcol1)");
  EXPECT_EQ(q->select[1].alias, "@low");
  EXPECT_TRUE(q->select[1].group_by);
  ASSERT_EQ(q->where.size(), 3u);  // the ignored one is gone
  EXPECT_TRUE(q->where[0].or_next);
  ASSERT_EQ(q->where[1].group.size(), 2u);
  EXPECT_TRUE(q->where[1].group[0].or_next);
  EXPECT_EQ(q->where[1].group[1].where, "where condition 2.2");
  EXPECT_FALSE(q->where[1].or_next);
  EXPECT_EQ(q->where[2].expr, "@testcol2 IS NULL");
  ASSERT_EQ(q->order_by.size(), 2u);
  EXPECT_TRUE(q->order_by[0].desc);
  EXPECT_FALSE(q->order_by[1].desc);
  EXPECT_EQ(q->group_by, std::vector<std::string>{"@testcol2"});
  ASSERT_EQ(q->having.size(), 1u);
}

TEST(QueryDefTest, RootMatchedOnItsLocalName) {
  EXPECT_EQ(ErrorOf(R"q(<queryDef xmlns="urn:xtk:queryDef" schema="dem:sampleTable" operation="count"/>)q"), "parsed");
  EXPECT_EQ(ErrorOf(R"q(<q:queryDef xmlns:q="urn:x" schema="dem:sampleTable" operation="count"/>)q"), "parsed");
  EXPECT_EQ(ErrorOf("<foo/>"), "QRY-200002 The query must be a <queryDef> element, not <foo>.");
}

TEST(QueryDefTest, BadAttributeValuesAreFaults) {
  EXPECT_EQ(ErrorOf(R"q(<queryDef operation="select"/>)q"), "QRY-200002 The queryDef has no 'schema' attribute.");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b"/>)q"),
            "QRY-200002 The queryDef has no 'operation' attribute (get, getIfExists, select or count).");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="update"/>)q"),
            "QRY-200002 The operation 'update' is not supported (get, getIfExists, select or count).");
  for (const char* bad : {"-1", "abc", "1e9", "99999999999999999999", ""}) {
    EXPECT_EQ(
        ErrorOf(std::string(R"q(<queryDef schema="a:b" operation="select" lineCount=")q") + bad + "\"/>").substr(0, 10),
        "QRY-200002")
        << bad;
  }
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select" startLine="x"/>)q").substr(0, 10), "QRY-200002");
  EXPECT_EQ(
      ErrorOf(
          R"q(<queryDef schema="a:b" operation="select"><orderBy><node expr="@a" sortDesc="true; drop"/></orderBy></queryDef>)q"),
      "QRY-200002 The attribute 'sortDesc' of orderBy node 1 must be true, false, 1 or 0, not 'true; drop'.");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select" xtkschema="xtk:operator"/>)q").substr(0, 10),
            "QRY-200002");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select"><select><node/></select></queryDef>)q"),
            "QRY-200002 select node 1 has no expr.");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select"><where><condition/></where></queryDef>)q"),
            "QRY-200002 where condition 1 has no expr.");
  EXPECT_EQ(
      ErrorOf(
          R"q(<queryDef schema="a:b" operation="select"><where><condition expr="@a=1" boolOperator="XOR"/></where></queryDef>)q")
          .substr(0, 10),
      "QRY-200002");
}

TEST(QueryDefTest, ConstructsThatWouldChangeTheResultAreRefused) {
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select"><where><condition sql="1=1"/></where></queryDef>)q"),
            "QRY-200006 The attribute 'sql' of where condition 1 is not supported.");
  EXPECT_EQ(
      ErrorOf(R"q(<queryDef schema="a:b" operation="select"><where><condition filter-name="x"/></where></queryDef>)q")
          .substr(0, 10),
      "QRY-200006");
  EXPECT_EQ(
      ErrorOf(
          R"q(<queryDef schema="a:b" operation="select"><where><condition expr="@id" setOperator="NOT IN"><subQuery schema="a:c"/></condition></where></queryDef>)q")
          .substr(0, 10),
      "QRY-200006");
  EXPECT_EQ(
      ErrorOf(
          R"q(<queryDef schema="a:b" operation="select"><where><condition expr="@a=1" enabledIf="$(/ignored/@x)=1"/></where></queryDef>)q"),
      "QRY-200006 A non-empty 'enabledIf' (where condition 1) is not supported.");
  EXPECT_EQ(
      ErrorOf(
          R"q(<queryDef schema="a:b" operation="select"><select><node expr="subscription"><node expr="@id"/></node></select></queryDef>)q")
          .substr(0, 10),
      "QRY-200006");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select"><folderFilter/></queryDef>)q").substr(0, 10),
            "QRY-200006");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select"><select><field expr="@a"/></select></queryDef>)q")
                .substr(0, 10),
            "QRY-200006");
  EXPECT_EQ(ErrorOf(R"q(<queryDef schema="a:b" operation="select" sql="select 1"/>)q").substr(0, 10), "QRY-200006");
}

TEST(QueryDefTest, LimitsOnNodesAndConditions) {
  std::string select;
  for (int i = 0; i < 201; ++i) select += "<node expr=\"@a\"/>";
  EXPECT_EQ(
      ErrorOf("<queryDef schema=\"a:b\" operation=\"select\"><select>" + select + "</select></queryDef>").substr(0, 10),
      "QRY-200008");
  std::string where;
  for (int i = 0; i < 501; ++i) where += "<condition expr=\"@a = 1\"/>";
  EXPECT_EQ(
      ErrorOf("<queryDef schema=\"a:b\" operation=\"select\"><where>" + where + "</where></queryDef>").substr(0, 10),
      "QRY-200008");
}

TEST(QueryDefTest, HostileXmlIsRefusedBeforeReading) {
  EXPECT_EQ(ErrorOf("<!DOCTYPE x [<!ENTITY a 'b'>]><queryDef/>").substr(0, 10), "SOP-330001");
  EXPECT_EQ(ErrorOf("<queryDef").substr(0, 10), "SOP-330001");
}

TEST(QueryDefTest, SplitTopLevelKeepsCommasInsideCallsAndStrings) {
  EXPECT_EQ(SplitTopLevel("@a, Lower(@b), 'x,y', Substring(@c, 1, 2)"),
            (std::vector<std::string>{"@a", "Lower(@b)", "'x,y'", "Substring(@c, 1, 2)"}));
  EXPECT_EQ(SplitTopLevel("'it\\'s, ok',@b"), (std::vector<std::string>{"'it\\'s, ok'", "@b"}));
  EXPECT_TRUE(SplitTopLevel(" , ").empty());
}

}  // namespace
}  // namespace stagebridge::query
