// decode_test.cc — Ingest / IngestExt documents → staged records: shapes,
// schema routing, keys, operations, and the coded errors users see.
#include <regex>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "staging/record.h"

namespace stagebridge::staging {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kSample = R"(<srcSchema namespace="dem" name="sampleTable" label="Sample Table">
  <element name="sampleTable" label="Sample Table" autopk="true" autouuid="true" autoStg="true"
           dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
    <attribute name="testcol2" type="string" length="255"/>
    <attribute name="amount" type="long"/>
  </element></srcSchema>)";

constexpr const char* kUnstaged = R"(<srcSchema namespace="dem" name="plainTable" label="Plain">
  <element name="plainTable" autopk="true" autouuid="true" autoStg="false" dataSource="nms:extAccount:ffda">
    <attribute name="testcol1" type="string" length="255"/>
  </element></srcSchema>)";

constexpr const char* kLocal = R"(<srcSchema namespace="dem" name="localTable" label="Local">
  <element name="localTable" autopk="true">
    <attribute name="testcol1" type="string" length="255"/>
  </element></srcSchema>)";

bool IsUuidV4(const std::string& s) {
  static const std::regex kV4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s, kV4);
}

class DecodeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<schema::SchemaSet> set = schema::SchemaSet::Load(
        {{"dem_sampleTable.xml", kSample}, {"dem_plainTable.xml", kUnstaged}, {"dem_localTable.xml", kLocal}});
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    schemas_ = new schema::SchemaSet(std::move(set).value());
  }
  static void TearDownTestSuite() {
    delete schemas_;
    schemas_ = nullptr;
  }

  Result<DecodedDocument> Decode(const std::string& xml, Mode mode = Mode::kIngest) {
    doc_.reset();
    pugi::xml_parse_result parsed = doc_.load_string(xml.c_str());
    EXPECT_TRUE(parsed) << parsed.description() << ": " << xml;
    return DecodeDocument(doc_.document_element(), *schemas_, mode);
  }

  // Decodes one record, expecting success.
  StagedRecord One(const std::string& xml, Mode mode, std::string* returned = nullptr) {
    Result<DecodedDocument> d = Decode(xml, mode);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) return {};
    EXPECT_EQ(d->records.size(), 1u);
    if (returned != nullptr) *returned = d->returned_ids.at(0);
    return d->records.at(0);
  }

  void ExpectError(const std::string& xml, Mode mode, const char* code, const char* fragment = nullptr) {
    Result<DecodedDocument> d = Decode(xml, mode);
    ASSERT_FALSE(d.ok()) << "accepted: " << xml;
    EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
    EXPECT_THAT(d.status().message(), StartsWith(std::string(code) + " ")) << d.status().message();
    if (fragment != nullptr) {
      EXPECT_THAT(d.status().message(), HasSubstr(fragment)) << d.status().message();
    }
  }

  static std::vector<std::string> Names(const StagedRecord& r) {
    std::vector<std::string> out;
    for (const schema::Attribute* a : r.attrs) out.push_back(a->name);
    return out;
  }
  static std::string Str(const StagedRecord& r, std::size_t i) { return std::get<std::string>(r.values.at(i)); }

  static schema::SchemaSet* schemas_;
  pugi::xml_document doc_;
};

schema::SchemaSet* DecodeTest::schemas_ = nullptr;

// --- shapes and schemas ------------------------------------------------------

TEST_F(DecodeTest, SingleRecordWithoutKeyGetsANewUuid) {
  std::string returned;
  StagedRecord r =
      One(R"(<sampleTableStg testcol1="a" testcol2="b" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest, &returned);
  ASSERT_NE(r.stg, nullptr);
  EXPECT_EQ(r.stg->id(), "dem:sampleTableStg");
  EXPECT_EQ(r.op, schema::StgOp::kInsert);
  EXPECT_EQ(r.key, std::vector<std::string>{"id"});
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "testcol1", "testcol2"}));
  EXPECT_TRUE(IsUuidV4(Str(r, 0))) << Str(r, 0);
  EXPECT_EQ(returned, Str(r, 0));
  EXPECT_EQ(Str(r, 1), "a");
  EXPECT_EQ(Str(r, 2), "b");
}

TEST_F(DecodeTest, SourceSchemaIsRoutedToItsStagingSchema) {
  StagedRecord r = One(R"(<sampleTable testcol1="a" xtkschema="dem:sampleTable"/>)", Mode::kIngest);
  ASSERT_NE(r.stg, nullptr);
  EXPECT_EQ(r.stg->id(), "dem:sampleTableStg");
  EXPECT_EQ(r.stg->stg_src_schema, "dem:sampleTable");
  StagedRecord rcp = One(R"(<recipient _key="@email" email="a@b.c" xtkschema="nms:recipient"/>)", Mode::kIngestExt);
  ASSERT_NE(rcp.stg, nullptr);
  EXPECT_EQ(rcp.stg->id(), "nms:recipientStg");
}

TEST_F(DecodeTest, TypedValuesAreConverted) {
  StagedRecord r = One(R"(<sampleTableStg amount="-42" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest);
  ASSERT_EQ(r.values.size(), 2u);
  EXPECT_EQ(std::get<std::int64_t>(r.values[1]), -42);
}

TEST_F(DecodeTest, Collection) {
  Result<DecodedDocument> d = Decode(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg testcol1="one"/>
      <sampleTableStg _key="@id" id="ABC12345" testcol1="two"/>
      <sampleTableStg testcol1="three"/>
    </sampleTableStg-collection>)");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->records.size(), 3u);
  ASSERT_EQ(d->returned_ids.size(), 3u);
  EXPECT_TRUE(IsUuidV4(d->returned_ids[0]));
  EXPECT_EQ(d->returned_ids[1], "");  // the caller's key
  EXPECT_TRUE(IsUuidV4(d->returned_ids[2]));
  EXPECT_NE(d->returned_ids[0], d->returned_ids[2]);
  EXPECT_EQ(Str(d->records[1], 0), "ABC12345");
  EXPECT_EQ(Str(d->records[0], 1), "one");
  EXPECT_EQ(Str(d->records[2], 1), "three");
  for (const StagedRecord& r : d->records) EXPECT_EQ(r.stg->id(), "dem:sampleTableStg");
}

TEST_F(DecodeTest, CollectionRecordMayNameItsOwnSchema) {
  Result<DecodedDocument> d = Decode(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg testcol1="one"/>
      <recipientStg email="x@y.z" xtkschema="nms:recipientStg"/>
    </sampleTableStg-collection>)");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->records.size(), 2u);
  EXPECT_EQ(d->records[1].stg->id(), "nms:recipientStg");
}

TEST_F(DecodeTest, MissingXtkschema) {
  ExpectError(R"(<sampleTableStg testcol1="a"/>)", Mode::kIngest, "STG-200008", "xtkschema");
  ExpectError(R"(<sampleTableStg-collection><sampleTableStg testcol1="a"/></sampleTableStg-collection>)", Mode::kIngest,
              "STG-200008", "xtkschema");
}

TEST_F(DecodeTest, UnknownSchema) {
  ExpectError(R"(<nothingStg testcol1="a" xtkschema="dem:nothingStg"/>)", Mode::kIngest, "STG-200001",
              "dem:nothingStg");
  ExpectError(R"(<x xtkschema="dem:sampleTable'; drop table x; --"/>)", Mode::kIngest, "STG-200001");
}

TEST_F(DecodeTest, UnstagedSchema) {
  ExpectError(R"(<plainTable testcol1="a" xtkschema="dem:plainTable"/>)", Mode::kIngest, "STG-200002",
              "dem:plainTable");
  ExpectError(R"(<localTable testcol1="a" xtkschema="dem:localTable"/>)", Mode::kIngestExt, "STG-200002",
              "dem:localTable");
}

TEST_F(DecodeTest, UnknownAttribute) {
  ExpectError(R"(<sampleTableStg testcol9="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest, "STG-200003",
              "'testcol9'");
  ExpectError(R"(<sampleTableStg testcol9="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest, "STG-200003",
              "dem:sampleTableStg");
}

TEST_F(DecodeTest, InternalAttributesAreUnknown) {
  for (const char* attr : {"stgSeq", "stgKey", "stgOp", "lastModified"}) {
    std::string xml = std::string("<sampleTableStg ") + attr + "=\"5\" xtkschema=\"dem:sampleTableStg\"/>";
    ExpectError(xml, Mode::kIngest, "STG-200003", attr);
    ExpectError(xml, Mode::kIngestExt, "STG-200003", attr);
  }
}

TEST_F(DecodeTest, NamespaceDeclarationsAreIgnored) {
  StagedRecord r =
      One(R"(<sampleTableStg xmlns="urn:xtk:session" xmlns:x="urn:x" testcol1="a" xtkschema="dem:sampleTableStg"/>)",
          Mode::kIngest);
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "testcol1"}));
}

TEST_F(DecodeTest, BadValueCarriesItsCode) {
  ExpectError(R"(<sampleTableStg amount="12x" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest, "STG-200004",
              "'amount'");
}

TEST_F(DecodeTest, InvalidCallerId) {
  ExpectError(R"(<sampleTableStg _key="@id" id="" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest, "STG-200004");
}

TEST_F(DecodeTest, ChildElementsAreRefused) {
  ExpectError(R"(<sampleTableStg xtkschema="dem:sampleTableStg"><testcol1>a</testcol1></sampleTableStg>)",
              Mode::kIngest, "STG-200008", "testcol1");
}

TEST_F(DecodeTest, SqlLookingValuesAreKeptAsIs) {
  StagedRecord r =
      One(R"(<sampleTableStg testcol1="O'Brien; drop table x" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest);
  EXPECT_EQ(Str(r, 1), "O'Brien; drop table x");
}

// --- keys --------------------------------------------------------------------

TEST_F(DecodeTest, CallerIdWithKeyIsNotReturned) {
  std::string returned = "x";
  StagedRecord r = One(R"(<sampleTableStg _key="@id" id="ABC12345" testcol1="a" xtkschema="dem:sampleTableStg"/>)",
                       Mode::kIngest, &returned);
  EXPECT_EQ(returned, "");
  EXPECT_EQ(Str(r, 0), "ABC12345");
  EXPECT_EQ(r.key, std::vector<std::string>{"id"});
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "testcol1"}));
}

TEST_F(DecodeTest, KeyWithoutTheIdIsRefused) {
  ExpectError(R"(<sampleTableStg _key="@id" testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest,
              "STG-200005");
  ExpectError(R"(<sampleTableStg _key="@id" testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt,
              "STG-200005");
}

TEST_F(DecodeTest, GeneratedUuidsAreV4LowerCaseAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    std::string u = NewUuid();
    ASSERT_TRUE(IsUuidV4(u)) << u;
    seen.insert(u);
  }
  EXPECT_EQ(seen.size(), 2000u);
}

// The ids come from a per-thread pool of random bytes: a child of fork() must
// not draw the ids its parent draws next (a worker killed and run again, a
// death test).
TEST_F(DecodeTest, ForkedChildDrawsOtherUuidsThanItsParent) {
  (void)NewUuid();  // the pool is filled, with bytes the child inherits
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string id = NewUuid();
    ssize_t written = write(fds[1], id.data(), id.size());
    _exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string from_child(36, '\0');
  ASSERT_EQ(read(fds[0], from_child.data(), from_child.size()), 36);
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_NE(from_child, NewUuid()) << "parent and child drew the same id";
}

TEST_F(DecodeTest, DeclaredKey) {
  StagedRecord r =
      One(R"(<recipientStg _key="@email" email="a@example.com" firstName="Ann" xtkschema="nms:recipientStg"/>)",
          Mode::kIngestExt);
  EXPECT_EQ(r.op, schema::StgOp::kUpsert);
  EXPECT_EQ(r.key, std::vector<std::string>{"email"});
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "email", "firstName"}));
  EXPECT_TRUE(IsUuidV4(Str(r, 0)));  // a new row's id, in case the email is not staged yet
}

TEST_F(DecodeTest, DeclaredKeyWithoutItsValue) {
  ExpectError(R"(<recipientStg _key="@email" firstName="Ann" xtkschema="nms:recipientStg"/>)", Mode::kIngestExt,
              "STG-200005", "email");
  ExpectError(R"(<recipientStg _key="@email" email="" firstName="Ann" xtkschema="nms:recipientStg"/>)",
              Mode::kIngestExt, "STG-200005", "email");
}

TEST_F(DecodeTest, CompositeKeyIsOrderInsensitive) {
  for (const char* key : {"@recipient-id,@service-id", "@service-id,@recipient-id", " @service-id , @recipient-id "}) {
    std::string xml = std::string("<subscriptionStg _key=\"") + key +
                      "\" recipient-id=\"R1\" service-id=\"S1\" xtkschema=\"nms:subscriptionStg\"/>";
    StagedRecord r = One(xml, Mode::kIngestExt);
    EXPECT_EQ(r.key, (std::vector<std::string>{"recipient-id", "service-id"})) << key;  // declared order
    EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "recipient-id", "service-id"})) << key;
  }
}

TEST_F(DecodeTest, KeyNamingNoKeyListsTheKeys) {
  ExpectError(R"(<sampleTableStg _key="@testcol1" testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt,
              "STG-200005", "(keys: @id)");
  ExpectError(R"(<recipientStg _key="@firstName" firstName="a" xtkschema="nms:recipientStg"/>)", Mode::kIngestExt,
              "STG-200005", "@id | @email");
  ExpectError(R"(<subscriptionStg _key="@recipient-id" recipient-id="R1" xtkschema="nms:subscriptionStg"/>)",
              Mode::kIngestExt, "STG-200005", "@recipient-id,@service-id");
  ExpectError(R"(<sampleTableStg _key="" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt, "STG-200005");
  ExpectError(R"(<recipientStg _key="@email,@email" email="a@b.c" xtkschema="nms:recipientStg"/>)", Mode::kIngestExt,
              "STG-200005");
}

// SPEC §2: `_key` names the primary key or a declared key; anything else is a
// clear fault. An empty item must not cut the list short (silently
// reconciling on another key than the one the caller named).
TEST_F(DecodeTest, KeyWithAnEmptyItemIsRefused) {
  ExpectError(R"(<recipientStg _key="@id,,@email" id="R1" email="a@b.c" xtkschema="nms:recipientStg"/>)",
              Mode::kIngestExt, "STG-200005");
}

TEST_F(DecodeTest, IngestExtWithIdAndNoKeyUsesThePrimaryKey) {
  std::string returned = "x";
  StagedRecord r =
      One(R"(<sampleTableStg id="K1" testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt, &returned);
  EXPECT_EQ(r.key, std::vector<std::string>{"id"});
  EXPECT_EQ(r.op, schema::StgOp::kUpsert);
  EXPECT_EQ(Str(r, 0), "K1");
  EXPECT_EQ(returned, "");
}

TEST_F(DecodeTest, IngestExtWithoutKeyOrIdIsRefused) {
  ExpectError(R"(<sampleTableStg testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt, "STG-200005",
              "IngestExt");
}

// --- operations --------------------------------------------------------------

TEST_F(DecodeTest, IngestRefusesDeletes) {
  ExpectError(R"(<sampleTableStg _key="@id" id="K1" _operation="delete" xtkschema="dem:sampleTableStg"/>)",
              Mode::kIngest, "STG-200007");
  ExpectError(R"(<sampleTableStg _key="@id" id="K1" delete="1" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest,
              "STG-200007");
  ExpectError(R"(<sampleTableStg _key="@id" id="K1" delete="true" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest,
              "STG-200007");
  ExpectError(R"(<sampleTableStg _key="@id" id="K1" _operation="update" xtkschema="dem:sampleTableStg"/>)",
              Mode::kIngest, "STG-200007", "update");
}

TEST_F(DecodeTest, IngestAcceptsInsertOperationAndFalseDelete) {
  StagedRecord r = One(
      R"(<sampleTableStg _operation="insert" delete="0" testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngest);
  EXPECT_EQ(r.op, schema::StgOp::kInsert);
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "testcol1"}));  // delete is not a value
}

TEST_F(DecodeTest, IngestExtDeleteByOperationKeepsOnlyTheKey) {
  StagedRecord r = One(
      R"(<sampleTableStg _key="@id" id="K1" _operation="delete" testcol1="a" testcol2="b" xtkschema="dem:sampleTableStg"/>)",
      Mode::kIngestExt);
  EXPECT_EQ(r.op, schema::StgOp::kDelete);
  EXPECT_EQ(Names(r), std::vector<std::string>{"id"});
  EXPECT_EQ(Str(r, 0), "K1");
}

TEST_F(DecodeTest, IngestExtDeleteByAttribute) {
  for (const char* flag : {"1", "true"}) {
    StagedRecord r = One(std::string("<sampleTableStg _key=\"@id\" id=\"K1\" delete=\"") + flag +
                             "\" testcol1=\"a\" xtkschema=\"dem:sampleTableStg\"/>",
                         Mode::kIngestExt);
    EXPECT_EQ(r.op, schema::StgOp::kDelete) << flag;
    EXPECT_EQ(Names(r), std::vector<std::string>{"id"}) << flag;
  }
}

TEST_F(DecodeTest, IngestExtDeleteByDeclaredKeyKeepsIdAndKey) {
  StagedRecord r = One(
      R"(<recipientStg _key="@email" email="a@example.com" firstName="Ann" delete="1" xtkschema="nms:recipientStg"/>)",
      Mode::kIngestExt);
  EXPECT_EQ(r.op, schema::StgOp::kDelete);
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "email"}));
  EXPECT_EQ(Str(r, 1), "a@example.com");
}

TEST_F(DecodeTest, IngestExtFalseDeleteIsAnUpsert) {
  StagedRecord r =
      One(R"(<sampleTableStg id="K1" delete="false" testcol1="a" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt);
  EXPECT_EQ(r.op, schema::StgOp::kUpsert);
  EXPECT_EQ(Names(r), (std::vector<std::string>{"id", "testcol1"}));
}

TEST_F(DecodeTest, IngestExtUpsertOperations) {
  for (const char* op : {"insertOrUpdate", "update", "insert"}) {
    StagedRecord r =
        One(std::string("<sampleTableStg id=\"K1\" _operation=\"") + op + "\" xtkschema=\"dem:sampleTableStg\"/>",
            Mode::kIngestExt);
    EXPECT_EQ(r.op, schema::StgOp::kUpsert) << op;
  }
}

TEST_F(DecodeTest, IngestExtRefusesUnknownOperationsAndBadDeleteFlags) {
  ExpectError(R"(<sampleTableStg id="K1" _operation="merge" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt,
              "STG-200007", "merge");
  ExpectError(R"(<sampleTableStg id="K1" delete="maybe" xtkschema="dem:sampleTableStg"/>)", Mode::kIngestExt,
              "STG-200007", "maybe");
}

// --- collections -------------------------------------------------------------

TEST_F(DecodeTest, CollectionErrorNamesTheRecordAndKeepsTheCodeFirst) {
  Result<DecodedDocument> d = Decode(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg testcol1="one"/>
      <sampleTableStg testcol9="two"/>
      <sampleTableStg testcol1="three"/>
    </sampleTableStg-collection>)");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), StartsWith("STG-200003 Record 2 of the collection: "));
  EXPECT_THAT(d.status().message(), HasSubstr("testcol9"));
}

TEST_F(DecodeTest, CollectionSchemaErrorNamesTheRecord) {
  Result<DecodedDocument> d = Decode(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
      <sampleTableStg testcol1="one"/>
      <x xtkschema="dem:nope"/>
    </sampleTableStg-collection>)");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status().message(), StartsWith("STG-200001 Record 2 of the collection: "));
}

TEST_F(DecodeTest, EmptyCollectionIsRefused) {
  ExpectError(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg"/>)", Mode::kIngest, "STG-200008");
  ExpectError(R"(<sampleTableStg-collection xtkschema="dem:sampleTableStg">
     </sampleTableStg-collection>)",
              Mode::kIngestExt, "STG-200008");
}

}  // namespace
}  // namespace stagebridge::staging
