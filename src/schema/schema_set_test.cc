#include "schema/schema_set.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "schema/schema_xml.h"
#include "schema/table_specs.h"
#include "xml/document.h"

namespace stagebridge::schema {
namespace {

constexpr const char* kSample = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" label="Sample Table" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
  </element></srcSchema>)";

TEST(SchemaSetTest, BuiltinsAreStagedByDefault) {
  Result<SchemaSet> set = SchemaSet::Load({});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  for (const char* id : {"nms:recipient", "nms:service", "nms:subscription", "nms:appSubscriptionRcp"}) {
    const Schema* s = set->Find(id);
    ASSERT_NE(s, nullptr) << id;
    EXPECT_TRUE(s->auto_stg) << id;
    EXPECT_EQ(s->stg_schema, std::string(id) + "Stg");
    EXPECT_NE(set->Find(std::string(id) + "Stg"), nullptr) << id;
  }
  const Schema* rcp = set->Find("nms:recipient");
  EXPECT_EQ(rcp->sql_table, "NmsRecipient");
  ASSERT_NE(rcp->FindAttribute("blackListEmail"), nullptr);
  EXPECT_EQ(rcp->FindAttribute("blackListEmail")->sql_name, "iBlackListEmail");
  ASSERT_NE(rcp->FindKey("email"), nullptr);
  const Schema* sub = set->Find("nms:subscription");
  ASSERT_NE(sub->FindAttribute("recipient-id"), nullptr);
  EXPECT_EQ(sub->FindAttribute("recipient-id")->sql_name, "uRecipientId");
  EXPECT_EQ(sub->FindKey("recipientService")->fields, (std::vector<std::string>{"recipient-id", "service-id"}));
}

TEST(SchemaSetTest, SampleTableAndItsStagingSchema) {
  Result<SchemaSet> set = SchemaSet::Load({{"dem_sampleTable.xml", kSample}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const Schema* stg = set->Find("dem:sampleTableStg");
  ASSERT_NE(stg, nullptr);
  store::TableSpec spec = TableSpecFor(*stg);
  EXPECT_EQ(spec.name, "DemSampleTableStg");
  std::vector<std::string> cols;
  for (const auto& c : spec.columns) cols.push_back(c.name);
  EXPECT_EQ(cols, (std::vector<std::string>{"uSampleTableId", "sTestcol1", "sTestcol2", "iDelete", "tsLastModified",
                                            "iStgSeq", "iStgKey", "iStgOp"}));
  EXPECT_TRUE(spec.primary_key.empty());  // staging: a unique index on the id instead
  ASSERT_EQ(spec.indexes.size(), 3u);
  EXPECT_EQ(spec.indexes[0].name, "DemSampleTableStg_id");
  EXPECT_TRUE(spec.indexes[0].unique);
  EXPECT_EQ(spec.indexes[1].name, "DemSampleTableStg_lastModified");
  EXPECT_EQ(PlacementOf(*stg), Placement::kLocal);

  const Schema* cloud = set->Find("dem:sampleTable");
  store::TableSpec cspec = TableSpecFor(*cloud);
  EXPECT_EQ(cspec.name, "DemSampleTable");
  EXPECT_EQ(cspec.primary_key, std::vector<std::string>{"uSampleTableId"});
  EXPECT_EQ(cspec.columns.size(), 3u);
  EXPECT_EQ(PlacementOf(*cloud), Placement::kCloud);
}

TEST(SchemaSetTest, DeclaredKeyBecomesUniqueIndexInBothTables) {
  Result<SchemaSet> set = SchemaSet::Load({});
  ASSERT_TRUE(set.ok());
  for (const char* id : {"nms:recipient", "nms:recipientStg"}) {
    store::TableSpec spec = TableSpecFor(*set->Find(id));
    bool found = false;
    for (const auto& index : spec.indexes) {
      if (index.columns == std::vector<std::string>{"sEmail"}) found = index.unique;
    }
    EXPECT_TRUE(found) << id;
  }
}

TEST(SchemaSetTest, UnknownLinkTarget) {
  Result<SchemaSet> set = SchemaSet::Load({{"dem_link.xml", R"(<srcSchema namespace="dem" name="l">
      <element name="l" autopk="true" autouuid="true" dataSource="nms:extAccount:ffda">
      <element name="other" type="link" target="dem:nowhere"/></element></srcSchema>)"}});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("dem_link.xml: element 'l', link 'other': unknown target schema 'dem:nowhere'"),
            std::string::npos)
      << set.status().message();
}

TEST(SchemaSetTest, DuplicateIdsAndTables) {
  Result<SchemaSet> set = SchemaSet::Load({{"a.xml", kSample}, {"b.xml", kSample}});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("b.xml: schema 'dem:sampleTable' is already defined in a.xml"),
            std::string::npos);
  set = SchemaSet::Load({{"c.xml", R"(<srcSchema namespace="dem" name="other">
      <element name="other" sqltable="DemSampleTable"/></srcSchema>)"},
                         {"a.xml", kSample}});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("SQL table 'DemSampleTable' is already used"), std::string::npos)
      << set.status().message();
}

TEST(SchemaSetTest, UserSchemaReplacesBuiltin) {
  Result<SchemaSet> set = SchemaSet::Load({{"nms_service.xml", R"(<srcSchema namespace="nms" name="service">
      <element name="service" autopk="true" autouuid="true" autoStg="true" dataSource="nms:extAccount:ffda">
      <attribute name="name" length="64"/><attribute name="label"/><attribute name="extra" type="long"/>
      <key name="name"><keyfield xpath="@name"/></key></element></srcSchema>)"}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_NE(set->Find("nms:service")->FindAttribute("extra"), nullptr);
  EXPECT_NE(set->Find("nms:serviceStg")->FindAttribute("extra"), nullptr);
}

TEST(SchemaSetTest, TooLongGeneratedIndexName) {
  std::string name(55, 'x');
  Result<SchemaSet> set =
      SchemaSet::Load({{"long.xml", "<srcSchema namespace=\"d\" name=\"" + name + "\"><element name=\"" + name +
                                        "\" autopk=\"true\" autouuid=\"true\" autoStg=\"true\" "
                                        "dataSource=\"nms:extAccount:ffda\"/></srcSchema>"}});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("longer than 63"), std::string::npos) << set.status().message();
}

TEST(SchemaSetTest, AllProblemsOfAllFilesReported) {
  Result<SchemaSet> set = SchemaSet::Load({{"x.xml", "<srcSchema"}, {"y.xml", "<nope/>"}, {"ok.xml", kSample}});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("x.xml"), std::string::npos);
  EXPECT_NE(set.status().message().find("y.xml"), std::string::npos);
}

TEST(SchemaSetTest, LoadsDirectory) {
  auto dir = std::filesystem::temp_directory_path() / ("sbschemas_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "dem_sampleTable.xml") << kSample;
  std::ofstream(dir / "notes.txt") << "ignored";
  Result<SchemaSet> set = SchemaSet::LoadDirectory(dir);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_NE(set->Find("dem:sampleTableStg"), nullptr);
  EXPECT_FALSE(SchemaSet::LoadDirectory(dir).ok());  // gone: NotFound
}

TEST(SchemaXmlTest, PlatformStyleOutput) {
  Result<SchemaSet> set = SchemaSet::Load({{"dem_sampleTable.xml", kSample}});
  ASSERT_TRUE(set.ok());
  std::string text = SchemaToXml(*set->Find("dem:sampleTableStg"));
  auto doc = xml::ParseXml(text, "out");
  ASSERT_TRUE(doc.ok()) << text;
  pugi::xml_node root = (*doc)->document_element();
  EXPECT_STREQ(root.name(), "schema");
  EXPECT_EQ(xml::Attr(root, "stgSrcSchema"), "dem:sampleTable");
  pugi::xml_node el = root.child("element");
  EXPECT_EQ(xml::Attr(el, "sqltable"), "DemSampleTableStg");
  EXPECT_EQ(xml::Attr(el, "autoStg"), "false");
  EXPECT_TRUE(el.find_child_by_attribute("attribute", "name", "delete"));
  EXPECT_FALSE(el.find_child_by_attribute("attribute", "name", "stgSeq"));  // internal: hidden by default
  std::string with_internal = SchemaToXml(*set->Find("dem:sampleTableStg"), {.include_internal = true});
  EXPECT_NE(with_internal.find("sqlname=\"iStgSeq\""), std::string::npos);
  EXPECT_NE(with_internal.find("<attribute name=\"testcol1\" type=\"string\" length=\"255\" sqlname=\"sTestcol1\""),
            std::string::npos)
      << with_internal;
}

}  // namespace
}  // namespace stagebridge::schema
