// engine_test.cc — queries end to end on real databases, on each backend: rows
// staged through the real decoder and writer (local) or inserted in the cloud
// table, read back through Engine::Execute and rendered as ExecuteQuery does.
// Every expectation is the same text on SQLite and PostgreSQL: the dialects
// must agree.
#include "query/engine.h"

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "query/querydef.h"
#include "query/result.h"
#include "schema/apply.h"
#include "staging/record.h"
#include "staging/writer.h"
#include "store/pool.h"
#include "support/test_databases.h"

namespace stagebridge::query {
namespace {

using test::Backend;
using test::TestDatabase;

constexpr const char* kSample = R"q(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" label="Sample Table" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
  </element></srcSchema>)q";

constexpr const char* kTyped = R"q(<srcSchema namespace="dem" name="typed" label="Typed">
  <element name="typed" label="Typed" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda">
    <attribute name="s" type="string" length="64"/>
    <attribute name="num" type="long"/>
    <attribute name="big" type="int64"/>
    <attribute name="dbl" type="double"/>
    <attribute name="flag" type="boolean"/>
    <attribute name="day" type="date"/>
    <attribute name="at" type="datetime"/>
    <attribute name="note" type="memo"/>
  </element></srcSchema>)q";

const schema::SchemaSet& Schemas() {
  static const schema::SchemaSet* set = [] {
    Result<schema::SchemaSet> s = schema::SchemaSet::Load({{"sample.xml", kSample}, {"typed.xml", kTyped}});
    if (!s.ok()) {
      ADD_FAILURE() << s.status().ToString();
      std::abort();
    }
    return new schema::SchemaSet(std::move(s).value());
  }();
  return *set;
}

class EngineTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    local_ = std::make_unique<TestDatabase>(GetParam());
    cloud_ = std::make_unique<TestDatabase>(GetParam());
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    local_db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_TRUE(local_db_ && cloud_db_);
    Result<schema::ApplyReport> applied = schema::ApplySchemas(Schemas(), *local_db_, *cloud_db_);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    pool_ = std::make_unique<store::ConnectionPool>(local_->url(), 2);
    writer_ = std::make_unique<staging::StagingWriter>(*pool_, staging::WriterOptions{});
    ASSERT_TRUE(writer_->Prepare().ok());
    writer_->Start();
    EngineOptions options;
    options.local_url = local_->url();
    options.cloud_url = cloud_->url();
    options.connections = 2;
    options.compile.default_rows = 100;
    options.compile.max_rows = 1000;
    engine_ = std::make_unique<Engine>(Schemas(), options);
  }
  void TearDown() override {
    engine_.reset();
    writer_.reset();
    pool_.reset();
  }

  void Stage(const std::string& xml) {
    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(xml.c_str())) << xml;
    Result<staging::DecodedDocument> d =
        staging::DecodeDocument(doc.document_element(), Schemas(), staging::Mode::kIngestExt);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    Status s = writer_->Write(std::move(d->records));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void StageSample(const std::string& id, const std::string& attrs) {
    Stage("<sampleTableStg _key=\"@id\" id=\"" + id + "\" " + attrs + " xtkschema=\"dem:sampleTableStg\"/>");
  }
  // T1 alpha/one, T2 Beta/two, T3 O'Brien…/three, T4 gamma/(null).
  void StageFixtures() {
    StageSample("T1", "testcol1=\"alpha\" testcol2=\"one\"");
    StageSample("T2", "testcol1=\"Beta\" testcol2=\"two\"");
    StageSample("T3", "testcol1=\"O'Brien; drop table x\" testcol2=\"three\"");
    StageSample("T4", "testcol1=\"gamma\"");
  }
  void Cloud(const std::string& id, const std::string& c1, const std::string& c2) {
    Result<std::int64_t> n = cloud_db_->Execute(
        "INSERT INTO DemSampleTable (uSampleTableId, sTestcol1, sTestcol2) VALUES ($1, $2, $3)", {id, c1, c2});
    ASSERT_TRUE(n.ok()) << n.status().ToString();
  }

  // The rendered result, or "CODE message".
  std::string Run(const std::string& xml, const auth::Operator* reader = nullptr) {
    Result<QueryDef> q = ParseQueryDef(xml);
    if (!q.ok()) return q.status().message();
    Result<QueryResult> r = engine_->Execute(*q, reader);
    if (!r.ok()) return r.status().message();
    return RenderXml(*r);
  }
  std::string Code(const std::string& xml, const auth::Operator* reader = nullptr) {
    std::string out = Run(xml, reader);
    return out.substr(0, out.find(' '));
  }
  // A select on dem:sampleTableStg of @id with `where` (a condition's expr), ordered by @id.
  std::string Ids(const std::string& where, const std::string& schema = "dem:sampleTableStg") {
    pugi::xml_document q;
    pugi::xml_node root = q.append_child("queryDef");
    root.append_attribute("schema") = schema.c_str();
    root.append_attribute("operation") = "select";
    root.append_child("select").append_child("node").append_attribute("expr") = "@id";
    root.append_child("where").append_child("condition").append_attribute("expr") = where.c_str();
    std::ostringstream xml;
    q.save(xml, "", pugi::format_raw);
    std::string out = Run(xml.str());
    if (out.rfind("QRY", 0) == 0 || out.rfind("SOP", 0) == 0) return out;
    pugi::xml_document doc;
    doc.load_string(out.c_str());
    std::string ids;
    for (pugi::xml_node row : doc.document_element().children()) {
      ids += (ids.empty() ? "" : ",") + std::string(row.attribute("id").value());
    }
    return ids;
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> local_db_;
  std::unique_ptr<store::Database> cloud_db_;
  std::unique_ptr<store::ConnectionPool> pool_;
  std::unique_ptr<staging::StagingWriter> writer_;
  std::unique_ptr<Engine> engine_;
};

TEST_P(EngineTest, SelectPagesInOrderAndEndsWithAnEmptyCollection) {
  StageFixtures();
  std::string q = R"q(<queryDef schema="dem:sampleTableStg" operation="select" lineCount="2" startLine="%">
    <select><node expr="@id"/><node expr="@testcol2"/></select><orderBy><node expr="@id"/></orderBy></queryDef>)q";
  auto page = [&](int start) {
    std::string text = q;
    text.replace(text.find('%'), 1, std::to_string(start));
    return Run(text);
  };
  EXPECT_EQ(page(0),
            "<sampleTableStg-collection><sampleTableStg id=\"T1\" testcol2=\"one\"/><sampleTableStg id=\"T2\" "
            "testcol2=\"two\"/></sampleTableStg-collection>");
  EXPECT_EQ(page(2),
            "<sampleTableStg-collection><sampleTableStg id=\"T3\" testcol2=\"three\"/><sampleTableStg id=\"T4\" "
            "testcol2=\"\"/></sampleTableStg-collection>");
  EXPECT_EQ(page(4), "<sampleTableStg-collection/>");
  // Descending, then the default row cap (100 here) and the clamp (1000).
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="select"><select><node expr="@id"/></select>
      <orderBy><node expr="@id" sortDesc="true"/></orderBy></queryDef>)q"),
            "<sampleTableStg-collection><sampleTableStg id=\"T4\"/><sampleTableStg id=\"T3\"/><sampleTableStg "
            "id=\"T2\"/><sampleTableStg id=\"T1\"/></sampleTableStg-collection>");
}

TEST_P(EngineTest, RowCapsApplyToSelect) {
  std::string docs = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
  for (int i = 0; i < 1200; ++i) docs += "<sampleTableStg _key=\"@id\" id=\"R" + std::to_string(10000 + i) + "\"/>";
  Stage(docs + "</sampleTableStg-collection>");
  auto rows = [&](const std::string& attrs) {
    std::string out = Run("<queryDef schema=\"dem:sampleTableStg\" operation=\"select\" " + attrs +
                          "><select><node expr=\"@id\"/></select></queryDef>");
    std::size_t n = 0;
    for (std::size_t at = out.find("<sampleTableStg "); at != std::string::npos;
         at = out.find("<sampleTableStg ", at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(rows(""), 100u);                 // default
  EXPECT_EQ(rows("lineCount=\"0\""), 100u);  // 0 = default
  EXPECT_EQ(rows("lineCount=\"7\""), 7u);
  EXPECT_EQ(rows("lineCount=\"999999999\""), 1000u);  // clamped, no fault
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="count"/>)q"), "<sampleTableStg count=\"1200\"/>");
}

TEST_P(EngineTest, GetGetIfExistsAndCount) {
  StageFixtures();
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="count"/>)q"), "<sampleTableStg count=\"4\"/>");
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTable" operation="count"/>)q"), "<sampleTable count=\"0\"/>");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTable" operation="getIfExists"><where><condition expr="@id='T1'"/></where></queryDef>)q"),
      "<sampleTable/>");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTable" operation="get"><where><condition expr="@id='T1'"/></where></queryDef>)q"),
      "QRY-200011 No record of schema 'dem:sampleTable' matches the query (operation get).");
  std::string got = Run(R"q(<queryDef schema="dem:sampleTableStg" operation="get">
      <select><node expr="@id"/><node expr="@testcol1"/><node expr="@delete"/><node expr="@lastModified"/></select>
      <where><condition expr="@id = 'T1'"/></where></queryDef>)q");
  EXPECT_TRUE(got.starts_with("<sampleTableStg id=\"T1\" testcol1=\"alpha\" delete=\"0\" lastModified=\"20")) << got;
  // lastModified: YYYY-MM-DD HH:MM:SS.mmmZ
  std::string ts = got.substr(got.find("lastModified=\"") + 14, 24);
  EXPECT_EQ(ts.size(), 24u);
  EXPECT_EQ(ts[10], ' ');
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts[23], 'Z');
  // An empty select is every public attribute, never the bookkeeping.
  EXPECT_TRUE(
      Run(R"q(<queryDef schema="dem:sampleTableStg" operation="getIfExists"><where><condition expr="@id='T4'"/></where></queryDef>)q")
          .starts_with("<sampleTableStg id=\"T4\" testcol1=\"gamma\" testcol2=\"\" delete=\"0\" lastModified=\"20"));
  Cloud("C1", "cloud", "row");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTable" operation="getIfExists"><where><condition expr="@id='C1'"/></where></queryDef>)q"),
      "<sampleTable id=\"C1\" testcol1=\"cloud\" testcol2=\"row\"/>");
}

TEST_P(EngineTest, ConditionsAndOperators) {
  StageFixtures();
  EXPECT_EQ(Ids("@testcol1 = 'O\\'Brien; drop table x'"), "T3");
  EXPECT_EQ(Ids("@testcol1 = 'O''Brien; drop table x'"), "T3");
  EXPECT_EQ(Ids("Lower(@testcol1) = 'beta'"), "T2");
  EXPECT_EQ(Ids("Upper(@testcol1) LIKE 'AL%'"), "T1");
  EXPECT_EQ(Ids("@testcol1 LIKE 'a%'"), "T1");
  EXPECT_EQ(Ids("@testcol1 LIKE 'b%'"), "");  // case-sensitive on both databases
  EXPECT_EQ(Ids("@testcol1 LIKE 'B%'"), "T2");
  EXPECT_EQ(Ids("@testcol1 LIKE '_eta'"), "T2");
  EXPECT_EQ(Ids("@testcol1 NOT LIKE '%e%'"), "T1,T4");
  EXPECT_EQ(Ids("@testcol2 IS NULL AND @id LIKE 'T%'"), "T4");
  EXPECT_EQ(Ids("@testcol2 IS NOT NULL"), "T1,T2,T3");
  EXPECT_EQ(Ids("@id NOT IN ('T1', 'T2')"), "T3,T4");
  EXPECT_EQ(Ids("@id IN ('T1', 'T9')"), "T1");
  EXPECT_EQ(Ids("(@id = 'T1' OR @id = 'T2') AND @testcol2 = 'two'"), "T2");
  EXPECT_EQ(Ids("NOT (@id = 'T1')"), "T2,T3,T4");
  EXPECT_EQ(Ids("@id <> 'T1' AND @id != 'T2'"), "T3,T4");
  EXPECT_EQ(Ids("@testcol1 + '/' + @testcol2 = 'alpha/one'"), "T1");
  EXPECT_EQ(Ids("Length(@testcol1) = 5"), "T1,T4");
  EXPECT_EQ(Ids("Substring(@testcol1, 0, 3) = 'alp'"), "T1");
  EXPECT_EQ(Ids("Substring(@testcol1, 2, 3) = 'lph'"), "T1");
  EXPECT_EQ(Ids("Substring(@testcol1, 3) = 'ta'"), "T2");
  EXPECT_EQ(Ids("Coalesce(@testcol2, 'none') = 'none'"), "T4");
  EXPECT_EQ(Ids("IsNull(@testcol2)"), "T4");
  EXPECT_EQ(Ids("Iif(@testcol2 IS NULL, 'x', @testcol2) = 'x'"), "T4");
  EXPECT_EQ(Ids("Trim('  a ') = 'a' AND @id = 'T1'"), "T1");
  EXPECT_EQ(Ids("@lastModified >= #2000-01-01#"), "T1,T2,T3,T4");
  EXPECT_EQ(Ids("@lastModified < #2000-01-01#"), "");
  EXPECT_EQ(Ids("@lastModified < '2000-01-01 10:00:00'"), "");
  EXPECT_EQ(Ids("@lastModified <= GetDate()"), "T1,T2,T3,T4");
  EXPECT_EQ(Ids("Year(@lastModified) >= 2024"), "T1,T2,T3,T4");
  EXPECT_EQ(Ids("@delete = 0 AND @delete = false AND NOT @delete"), "T1,T2,T3,T4");
  // Bytewise order: 'B' < 'O' < 'a' < 'g'.
  EXPECT_EQ(Ids("@testcol1 < 'a'"), "T2,T3");
  // SQL-looking data is data; the table is intact.
  EXPECT_EQ(Ids("@testcol1 = 'x'' OR 1=1 --'"), "");
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="count"/>)q"), "<sampleTableStg count=\"4\"/>");
}

TEST_P(EngineTest, BooleanOperatorsJoinConditionsLikeTheConsole) {
  StageFixtures();
  auto ids = [&](const std::string& where) {
    std::string out =
        Run("<queryDef schema=\"dem:sampleTableStg\" operation=\"select\"><select><node expr=\"@id\"/>"
            "</select><where>" +
            where + "</where></queryDef>");
    std::string list;
    for (std::size_t at = out.find("id=\""); at != std::string::npos; at = out.find("id=\"", at + 1)) {
      list += (list.empty() ? "" : ",") + out.substr(at + 4, 2);
    }
    return out.rfind("QRY", 0) == 0 ? out : list;
  };
  // T1 OR T2 AND two → T1 OR (T2 AND two), as in SQL.
  EXPECT_EQ(
      ids(R"q(<condition expr="@id='T1'" boolOperator="OR"/><condition expr="@id='T2'"/><condition expr="@testcol2='two'"/>)q"),
      "T1,T2");
  EXPECT_EQ(
      ids(R"q(<condition expr="@id='T1'" boolOperator="OR"/><condition expr="@id='T3'"/><condition expr="@testcol2='two'"/>)q"),
      "T1");
  EXPECT_EQ(
      ids(R"q(<condition><condition expr="@id='T1'" bool-operator="OR"/><condition expr="@id='T2'"/></condition><condition expr="@testcol2='two'"/>)q"),
      "T2");
  EXPECT_EQ(ids(R"q(<condition expr="@id='T1'" ignore="true"/><condition expr="@id LIKE 'T%'" enabledIf=""/>)q"),
            "T1,T2,T3,T4");
}

TEST_P(EngineTest, TypedValuesRenderAndCompareAlike) {
  Stage(R"q(<typedStg _key="@id" id="A" s="x" num="-5" big="9007199254740993" dbl="2.5" flag="true" day="2026-12-01"
      at="2026-12-01T10:30:00.25+02:00" note="line1&#10;line2 &lt;b&gt; &amp; &quot;q&quot;" xtkschema="dem:typedStg"/>)q");
  Stage(
      R"q(<typedStg _key="@id" id="B" s="y" num="7" dbl="0" flag="false" day="2025-01-31" at="2025-01-31 23:59:59Z" xtkschema="dem:typedStg"/>)q");
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:typedStg" operation="get"><select><node expr="@id"/><node expr="@s"/>
      <node expr="@num"/><node expr="@big"/><node expr="@dbl"/><node expr="@flag"/><node expr="@day"/><node expr="@at"/>
      <node expr="@note"/></select><where><condition expr="@id = 'A'"/></where></queryDef>)q"),
            "<typedStg id=\"A\" s=\"x\" num=\"-5\" big=\"9007199254740993\" dbl=\"2.5\" flag=\"1\" day=\"2026-12-01\" "
            "at=\"2026-12-01 08:30:00.250Z\" note=\"line1&#10;line2 &lt;b> &amp; &quot;q&quot;\"/>");
  auto ids = [&](const std::string& where) { return Ids(where, "dem:typedStg"); };
  EXPECT_EQ(ids("@flag = 1"), "A");
  EXPECT_EQ(ids("@flag = true"), "A");
  EXPECT_EQ(ids("@flag"), "A");
  EXPECT_EQ(ids("NOT @flag"), "B");
  EXPECT_EQ(ids("@num < 0"), "A");
  EXPECT_EQ(ids("@num = '7'"), "B");
  EXPECT_EQ(ids("@big = 9007199254740993"), "A");
  EXPECT_EQ(ids("@dbl > 1.5"), "A");
  EXPECT_EQ(ids("@dbl / 0 IS NULL"), "A,B");
  EXPECT_EQ(ids("@num / 2 = -2.5"), "A");
  EXPECT_EQ(ids("@num * 2 + 1 = 15"), "B");
  EXPECT_EQ(ids("-@num = 5"), "A");
  EXPECT_EQ(ids("Abs(@num) = 5"), "A");
  EXPECT_EQ(ids("@day = #2026-12-01#"), "A");
  EXPECT_EQ(ids("@day < '2026-01-01'"), "B");
  EXPECT_EQ(ids("@at = #2026-12-01 08:30:00.25Z#"), "A");
  EXPECT_EQ(ids("@at > #2026-12-01T10:00:00+02:00#"), "A");
  EXPECT_EQ(ids("@at >= #2026-12-01#"), "A");
  EXPECT_EQ(ids("@at < '2026-01-01'"), "B");
  EXPECT_EQ(ids("DateOnly(@at) = #2025-01-31#"), "B");
  EXPECT_EQ(ids("Year(@at) = 2026 AND Month(@at) = 12 AND Day(@at) = 1 AND Hour(@at) = 8"), "A");
  EXPECT_EQ(ids("Year(@day) = 2025 AND Month(@day) = 1 AND Day(@day) = 31"), "B");
  EXPECT_EQ(ids("ToNumber('12.5') = 12.5 AND ToNumber('abc') IS NULL AND @id = 'A'"), "A");
  EXPECT_EQ(ids("ToString(@num) = '7'"), "B");
  EXPECT_EQ(ids("ToString(@at) = '2025-01-31 23:59:59'"), "B");
  EXPECT_EQ(ids("@note LIKE '%<b> &%'"), "A");
  EXPECT_EQ(ids("@big IS NULL"), "B");
  // Computed values render by their type.
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:typedStg" operation="get"><select><node expr="@num / 2" alias="@half"/>
      <node expr="@num + 1" alias="@next"/><node expr="@flag = 1" alias="@yes"/><node expr="Year(@at)" alias="@y"/>
      <node expr="DateOnly(@at)" alias="@date"/><node expr="ToNumber('3')" alias="@three"/></select>
      <where><condition expr="@id = 'A'"/></where></queryDef>)q"),
            "<typedStg half=\"-2.5\" next=\"-4\" yes=\"1\" y=\"2026\" date=\"2026-12-01\" three=\"3\"/>");
}

TEST_P(EngineTest, AggregatesAndGrouping) {
  StageFixtures();
  StageSample("T5", "testcol1=\"alpha\" testcol2=\"five\"");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTableStg" operation="get"><select><node expr="Count(@id)" alias="@count"/>
      </select></queryDef>)q"),
      "<sampleTableStg count=\"5\"/>");
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="select"><select>
      <node expr="@testcol1" groupBy="true"/><node expr="Count()" alias="@n"/><node expr="CountDistinct(@testcol2)" alias="@c2"/>
      <node expr="Max(@testcol2)" alias="@last"/></select>
      <where><condition expr="@testcol1 IN ('alpha', 'gamma')"/></where></queryDef>)q"),
            "<sampleTableStg-collection><sampleTableStg testcol1=\"alpha\" n=\"2\" c2=\"2\" last=\"one\"/>"
            "<sampleTableStg testcol1=\"gamma\" n=\"1\" c2=\"0\" last=\"\"/></sampleTableStg-collection>");
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="select"><select>
      <node expr="@testcol1"/><node expr="Count()" alias="@n"/></select><groupBy><node expr="@testcol1"/></groupBy>
      <having><condition expr="Count() &gt; 1"/></having></queryDef>)q"),
            "<sampleTableStg-collection><sampleTableStg testcol1=\"alpha\" n=\"2\"/></sampleTableStg-collection>");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTableStg" operation="count"><groupBy><node expr="@testcol1"/></groupBy></queryDef>)q"),
      "<sampleTableStg count=\"4\"/>");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTableStg" operation="count" distinct="true"><select><node expr="@testcol1"/></select></queryDef>)q"),
      "<sampleTableStg count=\"4\"/>");
  EXPECT_EQ(
      Run(R"q(<queryDef schema="dem:sampleTableStg" operation="select" distinct="true"><select><node expr="@testcol1"/></select>
      <where><condition expr="@testcol1 LIKE '%a'"/></where></queryDef>)q"),
      "<sampleTableStg-collection><sampleTableStg testcol1=\"Beta\"/><sampleTableStg testcol1=\"alpha\"/>"
      "<sampleTableStg testcol1=\"gamma\"/></sampleTableStg-collection>");
  Stage(R"q(<typedStg _key="@id" id="A" num="2" dbl="1.5" xtkschema="dem:typedStg"/>)q");
  Stage(R"q(<typedStg _key="@id" id="B" num="5" dbl="2" xtkschema="dem:typedStg"/>)q");
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:typedStg" operation="get"><select><node expr="Sum(@num)" alias="@sum"/>
      <node expr="Avg(@num)" alias="@avg"/><node expr="Min(@dbl)" alias="@min"/><node expr="Sum(@dbl)" alias="@sd"/></select></queryDef>)q"),
            "<typedStg sum=\"7\" avg=\"3.5\" min=\"1.5\" sd=\"3.5\"/>");
  // The grouping rules are checked the same way on both databases.
  EXPECT_EQ(Code(R"q(<queryDef schema="dem:sampleTableStg" operation="select"><select><node expr="@testcol1"/>
      <node expr="Count()" alias="@n"/></select></queryDef>)q"),
            "QRY-200012");
  EXPECT_EQ(
      Code(
          R"q(<queryDef schema="dem:sampleTableStg" operation="select"><where><condition expr="Count() > 1"/></where></queryDef>)q"),
      "QRY-200012");
  EXPECT_EQ(
      Code(
          R"q(<queryDef schema="dem:sampleTableStg" operation="select"><select><node expr="Count(Max(@id))" alias="@x"/></select></queryDef>)q"),
      "QRY-200012");
  EXPECT_EQ(
      Code(
          R"q(<queryDef schema="dem:sampleTableStg" operation="select" distinct="true"><select><node expr="@testcol1"/></select>
      <orderBy><node expr="@id"/></orderBy></queryDef>)q"),
      "QRY-200012");
}

TEST_P(EngineTest, FaultsNameTheCulprit) {
  auto sel = [&](const std::string& node_or_where) {
    return Run("<queryDef schema=\"dem:sampleTableStg\" operation=\"select\">" + node_or_where + "</queryDef>");
  };
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:nope" operation="count"/>)q"),
            "QRY-200001 The schema 'dem:nope' is unknown: no data schema of that name can be queried.");
  EXPECT_EQ(Code(R"q(<queryDef schema="xtk:operator" operation="count"/>)q"), "QRY-200001");
  EXPECT_EQ(Code(R"q(<queryDef schema="dem:sampleTable; DROP TABLE x" operation="count"/>)q"), "QRY-200001");
  EXPECT_EQ(sel(R"q(<select><node expr="@testcol9"/></select>)q"),
            "QRY-200004 The attribute '@testcol9' in the select node 1 is not defined in schema 'dem:sampleTableStg'.");
  EXPECT_EQ(sel(R"q(<where><condition expr="@stgSeq > 0"/></where>)q").substr(0, 10), "QRY-200004");
  EXPECT_EQ(sel(R"q(<where><condition expr="[@iStgSeq] > 0"/></where>)q").substr(0, 10), "QRY-200004");
  EXPECT_EQ(sel(R"q(<where><condition expr="pg_sleep(10) IS NULL"/></where>)q").substr(0, 10), "QRY-200005");
  EXPECT_EQ(sel(R"q(<where><condition expr="sqlite_version() = '3'"/></where>)q").substr(0, 10), "QRY-200005");
  EXPECT_EQ(sel(R"q(<where><condition expr="Lower(@id, @id) = 'x'"/></where>)q"),
            "QRY-200005 The function Lower in the where condition 1 takes 1 argument(s), not 2.");
  EXPECT_EQ(sel(R"q(<where><condition expr="@testcol1 = 12"/></where>)q"),
            "QRY-200007 In the where condition 1: @testcol1 (string) cannot be compared with 12 (integer).");
  EXPECT_EQ(sel(R"q(<where><condition expr="@lastModified LIKE '2%'"/></where>)q").substr(0, 10), "QRY-200007");
  EXPECT_EQ(sel(R"q(<where><condition expr="@lastModified = 'yesterday'"/></where>)q").substr(0, 10), "QRY-200003");
  EXPECT_EQ(sel(R"q(<where><condition expr="@lastModified = #2026-13-45#"/></where>)q").substr(0, 10), "QRY-200003");
  EXPECT_EQ(sel(R"q(<where><condition expr="@testcol1"/></where>)q").substr(0, 10), "QRY-200007");
  EXPECT_EQ(sel(R"q(<where><condition expr="@testcol1 LIKE 'a\'"/></where>)q").substr(0, 10), "QRY-200003");
  EXPECT_EQ(sel(R"q(<where><condition expr="[folder/@label] = 'x'"/></where>)q").substr(0, 10), "QRY-200006");
  EXPECT_EQ(sel(R"q(<select><node expr="Lower(@id)"/></select>)q").substr(0, 10), "QRY-200009");
  for (const char* alias : {"@a b", "@x&quot;y", "@1x", "x", "@", "@xmlns"}) {
    EXPECT_EQ(sel(std::string("<select><node expr=\"@id\" alias=\"") + alias + "\"/></select>").substr(0, 10),
              "QRY-200009")
        << alias;
  }
  EXPECT_EQ(sel(R"q(<select><node expr="@id"/><node expr="@testcol1" alias="@id"/></select>)q").substr(0, 10),
            "QRY-200009");
}

TEST_P(EngineTest, RightsFollowTheWriteGrants) {
  auth::Operator amy{"amy", false, {"dem:sampleTable"}, false};
  auth::Operator bob{"bob", false, {"nms:recipient"}, false};
  auth::Operator admin{"admin", true, {}, false};
  std::string stg = R"q(<queryDef schema="dem:sampleTableStg" operation="count"/>)q";
  std::string cloud = R"q(<queryDef schema="dem:sampleTable" operation="count"/>)q";
  std::string rcp = R"q(<queryDef schema="nms:recipient" operation="count"/>)q";
  EXPECT_EQ(Run(stg, &amy), "<sampleTableStg count=\"0\"/>");
  EXPECT_EQ(Run(cloud, &amy), "<sampleTable count=\"0\"/>");
  EXPECT_EQ(Run(rcp, &amy), "QRY-200010 The operator 'amy' has no right to read schema 'nms:recipient'.");
  EXPECT_EQ(Code(stg, &bob), "QRY-200010");
  EXPECT_EQ(Run(rcp, &bob), "<recipient count=\"0\"/>");
  EXPECT_EQ(Run(R"q(<queryDef schema="nms:recipientStg" operation="count"/>)q", &admin), "<recipientStg count=\"0\"/>");
}

TEST_P(EngineTest, ALongQueryIsCancelledAtItsTimeout) {
  std::string docs = "<sampleTableStg-collection xtkschema=\"dem:sampleTableStg\">";
  for (int i = 0; i < 20000; ++i) {
    docs +=
        "<sampleTableStg _key=\"@id\" id=\"L" + std::to_string(i) + "\" testcol1=\"" + std::string(60, 'a') + "\"/>";
  }
  Stage(docs + "</sampleTableStg-collection>");
  EngineOptions options = engine_->options();
  options.timeout = std::chrono::milliseconds(1);
  Engine impatient(Schemas(), options);
  // A pattern that backtracks over every row of 60 characters: far more than 1 ms.
  Result<QueryDef> q = ParseQueryDef(R"q(<queryDef schema="dem:sampleTableStg" operation="count">
      <where><condition expr="@testcol1 LIKE '%a%a%a%a%a%a%a%a%a%a%a%a%b' AND Lower(Upper(Lower(@testcol1))) LIKE '%a%a%a%a%a%a%a%a%a%b'"/></where></queryDef>)q");
  ASSERT_TRUE(q.ok());
  Result<QueryResult> r = impatient.Execute(*q, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kDeadlineExceeded);
  EXPECT_EQ(r.status().message().substr(0, 10), "QRY-500001");
  // The same connection times out again (it still serves, and still applies
  // its limit); a patient engine runs the query to its end.
  Result<QueryResult> again = impatient.Execute(*q, nullptr);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Status::Code::kDeadlineExceeded);
  Result<QueryResult> patient = engine_->Execute(*q, nullptr);
  ASSERT_TRUE(patient.ok()) << patient.status().ToString();
  EXPECT_EQ(patient->count, 0);
  Result<std::int64_t> write = local_db_->Execute("DELETE FROM DemSampleTableStg WHERE uSampleTableId = 'L1'");
  EXPECT_TRUE(write.ok()) << write.status().ToString();
}

TEST_P(EngineTest, LongChainsAndDeepNestingAreAcceptedAlikeOnBothDatabases) {
  StageFixtures();
  std::string ors = "@id = 'x0'";
  for (int i = 1; i < 200; ++i) ors += " OR @id = 'x" + std::to_string(i) + "'";
  EXPECT_EQ(Ids(ors + " OR @id = 'T2'"), "T2");
  std::string ands = "@id = 'T3'";
  for (int i = 0; i < 200; ++i) ands += " AND @testcol2 = 'three'";
  EXPECT_EQ(Ids(ands), "T3");
  std::string sum = "Length(@id)";
  for (int i = 1; i < 120; ++i) sum += " + 1";
  EXPECT_EQ(Ids(sum + " = 121 AND @id = 'T1'"), "T1");
  std::string concat = "@id";
  for (int i = 0; i < 100; ++i) concat += " + '-'";
  EXPECT_EQ(Ids(concat + " = 'T4" + std::string(100, '-') + "'"), "T4");
  std::string nots;
  for (int i = 0; i < 50; ++i) nots += "NOT ";
  EXPECT_EQ(Ids(nots + "(@id = 'T1')"), "T1");
  EXPECT_EQ(Ids("NOT " + nots + "(@id = 'T1')"), "T2,T3,T4");
  auto nested = [](int n) {
    std::string e = "@testcol1";
    for (int i = 0; i < n; ++i) e = "Lower(" + e + ")";
    return e + " = 'alpha'";
  };
  EXPECT_EQ(Ids(nested(20)), "T1");
  // Beyond what SQLite's parser holds: refused on both databases, never a
  // database error on one of them only.
  EXPECT_EQ(Ids(nested(40)).substr(0, 10), "QRY-200008");
  EXPECT_EQ(Ids(std::string(60, '(') + "@id = 'T1'" + std::string(60, ')')), "T1");
}

TEST_P(EngineTest, DatePartsTakeTheIntegerPart) {
  StageFixtures();
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:sampleTableStg" operation="get"><select>
      <node expr="Second(#2026-12-01 10:20:15.7Z#)" alias="@s"/><node expr="Minute(#2026-12-01 10:20:59.9Z#)" alias="@m"/>
      <node expr="Hour(#2026-12-01 23:59:59.99Z#)" alias="@h"/><node expr="Day(#2026-12-31 23:59:59.999Z#)" alias="@d"/>
      </select><where><condition expr="@id = 'T1'"/></where></queryDef>)q"),
            "<sampleTableStg s=\"15\" m=\"20\" h=\"23\" d=\"31\"/>");
}

TEST_P(EngineTest, AMissingTableIsNamed) {
  Result<std::int64_t> dropped = cloud_db_->Execute("DROP TABLE DemTyped");
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(Run(R"q(<queryDef schema="dem:typed" operation="count"/>)q"),
            "QRY-200013 The table of schema 'dem:typed' does not exist in the cloud database yet: run `stagebridge "
            "schema apply`.");
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, ::testing::ValuesIn(test::AllBackends()), test::BackendParamName());

}  // namespace
}  // namespace stagebridge::query
