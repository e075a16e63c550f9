// subscription_test.cc — decoding Subscribe/Unsubscribe parameters, staging
// the requests, and the ffdaUnsubscribe processing on every local × cloud pair:
// ordering, blocklist precedence, channel opt-outs, create, no-ops, history,
// idempotence, and a kill at each crash point followed by a re-run.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pugixml.hpp>
#include <signal.h>

#include "schema/apply.h"
#include "staging/record.h"
#include "store/pool.h"
#include "subscription/intake.h"
#include "subscription/processor.h"
#include "subscription/requests.h"
#include "support/test_databases.h"
#include "sync/test_schemas.h"

namespace stagebridge::subscription {
namespace {

using sync::test_schemas::Schemas;
using test::AllPairs;
using test::BackendPair;
using test::PairName;
using test::PairParamName;
using test::TestDatabase;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Decodes `xml` as the recipient parameter.
Result<std::vector<Request>> Decode(Action action, const std::string& services, const std::string& xml,
                                    bool create = false) {
  pugi::xml_document doc;
  if (!doc.load_string(xml.c_str())) return Status::InvalidArgument("test XML does not parse");
  SB_ASSIGN_OR_RETURN(std::vector<std::string> names, ParseServiceNames(services, action));
  return DecodeRequests(action, names, doc.document_element(), create, Schemas(), "soap:test");
}

TEST(ParseServiceNamesTest, SplitsTrimsAndDeduplicates) {
  Result<std::vector<std::string>> r = ParseServiceNames(" news , promo,,news ", Action::kSubscribe);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_THAT(*r, ElementsAre("news", "promo"));
}

TEST(ParseServiceNamesTest, EmptyUnsubscribeIsTheBlocklist) {
  Result<std::vector<std::string>> r = ParseServiceNames("  ", Action::kUnsubscribe);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r, ElementsAre(""));
}

TEST(ParseServiceNamesTest, RefusesWhatIsNotAName) {
  Result<std::vector<std::string>> empty = ParseServiceNames(",", Action::kSubscribe);
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().ToString(), HasSubstr("SUB-200002"));
  Result<std::vector<std::string>> control = ParseServiceNames("news\x01", Action::kSubscribe);
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.status().ToString(), HasSubstr("SUB-200002"));
  Result<std::vector<std::string>> long_name = ParseServiceNames(std::string(65, 'n'), Action::kUnsubscribe);
  ASSERT_FALSE(long_name.ok());
  std::string many;
  for (int i = 0; i < 101; ++i) many += "s" + std::to_string(i) + ",";
  EXPECT_FALSE(ParseServiceNames(many, Action::kSubscribe).ok());
}

TEST(DecodeRequestsTest, ReconcilesOnEmailByDefault) {
  Result<std::vector<Request>> r = Decode(Action::kSubscribe, "news,promo", R"(<recipient email="a@x.org"/>)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].key_attr, "email");
  EXPECT_EQ((*r)[0].key_value, "a@x.org");
  EXPECT_EQ((*r)[0].service, "news");
  EXPECT_EQ((*r)[1].service, "promo");
  EXPECT_EQ((*r)[0].origin, "soap:test");
  EXPECT_TRUE((*r)[0].recipient.empty());  // nothing to create
}

TEST(DecodeRequestsTest, ReconcilesOnId) {
  Result<std::vector<Request>> r = Decode(Action::kUnsubscribe, "news", R"(<recipient _key="@id" id="R-1"/>)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)[0].key_attr, "id");
  EXPECT_EQ((*r)[0].key_value, "R-1");
}

TEST(DecodeRequestsTest, CreateKeepsTheCheckedAttributes) {
  Result<std::vector<Request>> r =
      Decode(Action::kSubscribe, "news", R"(<recipient _key="@email" email="b@x.org" firstName="Bo"/>)", true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE((*r)[0].create);
  EXPECT_THAT((*r)[0].recipient, HasSubstr("firstName=\"Bo\""));
  EXPECT_THAT((*r)[0].recipient, ::testing::Not(HasSubstr("_key")));
}

TEST(DecodeRequestsTest, RefusesBadRecipients) {
  struct Case {
    const char* xml;
    const char* code;
    const char* names;
  } cases[] = {
      {R"(<recipient firstName="x"/>)", "SUB-200003", "@email"},
      {R"(<recipient _key="@firstName" firstName="x"/>)", "SUB-200003", "@firstName"},
      {R"(<recipient _key="@email" email=""/>)", "SUB-200003", "@email"},
      {R"(<recipient email="a@x.org" shoeSize="44"/>)", "STG-200003", "shoeSize"},
      {R"(<recipient email="a@x.org" gender="many"/>)", "STG-200004", "gender"},
      {R"(<recipient email="a@x.org" iStgSeq="1"/>)", "STG-200003", "iStgSeq"},
      {R"(<recipient email="a@x.org" stgSeq="1"/>)", "STG-200003", "stgSeq"},
  };
  for (const Case& c : cases) {
    Result<std::vector<Request>> r = Decode(Action::kSubscribe, "news", c.xml, true);
    ASSERT_FALSE(r.ok()) << c.xml;
    EXPECT_THAT(r.status().ToString(), HasSubstr(c.code)) << c.xml;
    EXPECT_THAT(r.status().message(), HasSubstr(c.names)) << c.xml;
  }
}

// Local and cloud databases with every schema applied, two services and one
// recipient in the cloud.
class ProcessorFixture {
 protected:
  void Open(BackendPair pair) {
    local_ = std::make_unique<TestDatabase>(pair.local);
    cloud_ = std::make_unique<TestDatabase>(pair.cloud);
    ASSERT_TRUE(local_->ok() && cloud_->ok());
    local_db_ = local_->Open();
    cloud_db_ = cloud_->Open();
    ASSERT_TRUE(local_db_ && cloud_db_);
    Result<schema::ApplyReport> applied = schema::ApplySchemas(Schemas(), *local_db_, *cloud_db_);
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
    ASSERT_TRUE(EnsureRequestTable(*local_db_).ok());
    Exec(*cloud_db_,
         "INSERT INTO NmsService (uServiceId, sName, sLabel, iMessageType) VALUES "
         "('S-NEWS', 'news', 'Newsletter', 0), ('S-SMS', 'sms', 'SMS alerts', 1)");
    Exec(*cloud_db_,
         "INSERT INTO NmsRecipient (uRecipientId, sEmail, sFirstName) VALUES ('R-ALICE', 'alice@x.org', "
         "'Alice')");
  }

  void Exec(store::Database& db, const std::string& sql) {
    Result<std::int64_t> r = db.Execute(sql);
    ASSERT_TRUE(r.ok()) << sql << "\n" << r.status().ToString();
  }

  void Stage(Action action, const std::string& services, const std::string& xml, bool create = false) {
    Result<std::vector<Request>> r = Decode(action, services, xml, create);
    ASSERT_TRUE(r.ok()) << xml << "\n" << r.status().ToString();
    Status s = StageRequests(*local_db_, *r);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void Subscribe(const std::string& services, const std::string& email, bool create = false,
                 const std::string& extra = "") {
    Stage(Action::kSubscribe, services, "<recipient email=\"" + email + "\" " + extra + "/>", create);
  }
  void Unsubscribe(const std::string& services, const std::string& email) {
    Stage(Action::kUnsubscribe, services, "<recipient email=\"" + email + "\"/>");
  }

  ProcessResult ProcessOk(std::int64_t batch = 10000) {
    ProcessOptions options;
    options.batch_requests = batch;
    Processor p(*local_db_, *cloud_db_, Schemas(), options);
    ProcessResult r;
    Status s = p.Process(r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  std::vector<std::string> Column(store::Database& db, const std::string& sql) {
    std::vector<std::string> out;
    Result<std::vector<store::Row>> rows = db.Query(sql);
    EXPECT_TRUE(rows.ok()) << sql << "\n" << rows.status().ToString();
    if (!rows.ok()) return out;
    for (const store::Row& row : *rows) {
      std::string line;
      for (std::size_t i = 0; i < row.size(); ++i) line += (i ? "|" : "") + store::ValueToString(row[i]);
      out.push_back(line);
    }
    return out;
  }
  // "email|service" of every subscription, sorted.
  std::vector<std::string> Subscriptions() {
    return Column(*cloud_db_,
                  "SELECT r.sEmail, s.sName FROM NmsSubscription x JOIN NmsRecipient r ON r.uRecipientId = "
                  "x.uRecipientId JOIN NmsService s ON s.uServiceId = x.uServiceId ORDER BY r.sEmail, s.sName");
  }
  // "key|service|action" of the history, in the order it was applied.
  std::vector<std::string> History() {
    return Column(*cloud_db_, "SELECT sRecipientKey, sServiceName, sAction FROM NmsSubHisto ORDER BY iSequence");
  }
  std::int64_t Pending() {
    Result<std::int64_t> n = PendingRequests(*local_db_);
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : -1;
  }

  std::unique_ptr<TestDatabase> local_;
  std::unique_ptr<TestDatabase> cloud_;
  std::unique_ptr<store::Database> local_db_;
  std::unique_ptr<store::Database> cloud_db_;
};

class ProcessorTest : public ProcessorFixture, public ::testing::TestWithParam<BackendPair> {
 protected:
  void SetUp() override { Open(GetParam()); }
};

TEST_P(ProcessorTest, SubscribeAddsTheSubscriptionAndItsHistory) {
  Subscribe("news,sms", "alice@x.org");
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.subscriptions.staged, 2);
  EXPECT_EQ(r.subscriptions.inserted, 2);
  EXPECT_EQ(r.subscriptions.rejected, 0);
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|news", "alice@x.org|sms"));
  std::vector<std::string> rows =
      Column(*cloud_db_,
             "SELECT uRecipientId, uServiceId, sAction, sOrigin, sReason FROM NmsSubHisto ORDER BY "
             "uServiceId");
  EXPECT_THAT(rows, ElementsAre("R-ALICE|S-NEWS|subscribe|soap:test|NULL", "R-ALICE|S-SMS|subscribe|soap:test|NULL"));
  // Requested and applied times are both recorded.
  EXPECT_THAT(Column(*cloud_db_,
                     "SELECT count(*) FROM NmsSubHisto WHERE tsRequested IS NOT NULL AND tsApplied IS "
                     "NOT NULL"),
              ElementsAre("2"));
  EXPECT_EQ(Pending(), 0);
}

TEST_P(ProcessorTest, TheLastRequestWinsPerRecipientAndService) {
  Subscribe("news", "alice@x.org");
  Unsubscribe("news", "alice@x.org");
  Subscribe("news", "alice@x.org");
  Subscribe("sms", "alice@x.org");
  Unsubscribe("sms", "alice@x.org");
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.subscriptions.staged, 5);
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|news"));
  EXPECT_EQ(r.subscriptions.inserted, 3);
  EXPECT_EQ(r.subscriptions.deleted, 2);
}

TEST_P(ProcessorTest, OrderHoldsAcrossBatchesAndRuns) {
  Subscribe("news", "alice@x.org");
  Unsubscribe("news", "alice@x.org");
  Subscribe("news", "alice@x.org");
  ProcessResult r = ProcessOk(1);  // one request per cloud transaction
  EXPECT_EQ(r.subscriptions.batches, 3);
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|news"));
  Unsubscribe("news", "alice@x.org");
  ProcessOk();
  EXPECT_THAT(Subscriptions(), ElementsAre());
  EXPECT_THAT(History(), ElementsAre("email=alice@x.org|news|subscribe", "email=alice@x.org|news|unsubscribe",
                                     "email=alice@x.org|news|subscribe", "email=alice@x.org|news|unsubscribe"));
}

TEST_P(ProcessorTest, UnknownOrUnsubscribedRecipientIsANoOp) {
  Unsubscribe("news", "nobody@x.org");
  Unsubscribe("news", "alice@x.org");  // known, not subscribed
  Unsubscribe("", "nobody@x.org");     // blocklist of an unknown recipient
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.subscriptions.staged, 3);
  EXPECT_EQ(r.no_ops, 3);
  EXPECT_THAT(History(), ElementsAre());
  EXPECT_THAT(Column(*cloud_db_, "SELECT count(*) FROM NmsRecipient"), ElementsAre("1"));
  EXPECT_EQ(Pending(), 0);
}

TEST_P(ProcessorTest, UnknownRecipientIsCreatedOnlyWhenAsked) {
  Subscribe("news", "bob@x.org");
  Subscribe("news", "carol@x.org", true, "firstName=\"Carol\" lastName=\"Doe\"");
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.recipients_created, 1);
  EXPECT_EQ(r.subscriptions.rejected, 1);
  ASSERT_EQ(r.subscriptions.rejections.size(), 1u);
  EXPECT_THAT(r.subscriptions.rejections[0], HasSubstr("bob@x.org"));
  EXPECT_THAT(r.subscriptions.rejections[0], HasSubstr("unknown recipient"));
  EXPECT_THAT(Subscriptions(), ElementsAre("carol@x.org|news"));
  EXPECT_THAT(Column(*cloud_db_,
                     "SELECT sFirstName, sLastName, iBlackList FROM NmsRecipient WHERE sEmail = "
                     "'carol@x.org'"),
              ElementsAre("Carol|Doe|0"));
  EXPECT_THAT(Column(*cloud_db_, "SELECT sRecipientKey, sAction, sReason FROM NmsSubHisto WHERE sAction = 'refused'"),
              ElementsAre("email=bob@x.org|refused|unknown recipient (create was not set)"));
  // A second create of the same address finds it: still one recipient.
  Subscribe("sms", "carol@x.org", true, "firstName=\"Other\"");
  ProcessOk();
  EXPECT_THAT(Column(*cloud_db_, "SELECT sFirstName FROM NmsRecipient WHERE sEmail = 'carol@x.org'"),
              ElementsAre("Carol"));
  EXPECT_THAT(Subscriptions(), ElementsAre("carol@x.org|news", "carol@x.org|sms"));
}

TEST_P(ProcessorTest, BlocklistWinsOverAnyLaterSubscribe) {
  Subscribe("news", "alice@x.org");
  Unsubscribe("", "alice@x.org");  // global opt-out
  Subscribe("sms", "alice@x.org");
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.subscriptions.updated, 1);
  EXPECT_EQ(r.subscriptions.rejected, 1);
  EXPECT_THAT(Column(*cloud_db_, "SELECT iBlackList FROM NmsRecipient WHERE sEmail = 'alice@x.org'"), ElementsAre("1"));
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|news"));
  EXPECT_THAT(History(), ElementsAre("email=alice@x.org|news|subscribe", "email=alice@x.org||blocklist",
                                     "email=alice@x.org|sms|refused"));
  // In a later run too.
  Subscribe("sms", "alice@x.org");
  ProcessResult again = ProcessOk();
  EXPECT_EQ(again.subscriptions.rejected, 1);
  EXPECT_THAT(again.subscriptions.rejections.at(0), HasSubstr("blocklist"));
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|news"));
  // A blocklist request on a blocklisted recipient changes nothing.
  Unsubscribe("", "alice@x.org");
  EXPECT_EQ(ProcessOk().no_ops, 1);
}

TEST_P(ProcessorTest, ChannelOptOutRefusesThatChannelOnly) {
  Exec(*cloud_db_, "UPDATE NmsRecipient SET iBlackListEmail = 1 WHERE sEmail = 'alice@x.org'");
  Subscribe("news,sms", "alice@x.org");
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.subscriptions.rejected, 1);
  EXPECT_THAT(r.subscriptions.rejections.at(0), HasSubstr("blackListEmail"));
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|sms"));
}

TEST_P(ProcessorTest, AServiceDeletedSinceTheCallIsRefused) {
  Subscribe("news", "alice@x.org");
  Exec(*cloud_db_, "DELETE FROM NmsService WHERE sName = 'news'");
  ProcessResult r = ProcessOk();
  EXPECT_EQ(r.subscriptions.rejected, 1);
  EXPECT_THAT(r.subscriptions.rejections.at(0), HasSubstr("unknown service 'news'"));
}

TEST_P(ProcessorTest, ASecondRunChangesNothing) {
  Subscribe("news", "alice@x.org");
  Unsubscribe("", "alice@x.org");
  ProcessOk();
  std::vector<std::string> history = History();
  ProcessResult again = ProcessOk();
  EXPECT_EQ(again.subscriptions.staged, 0);
  EXPECT_EQ(again.subscriptions.leftovers_cleared, 0);
  EXPECT_EQ(History(), history);
}

TEST_P(ProcessorTest, MissingCloudTablesStopTheRunAndKeepTheRequests) {
  Subscribe("news", "alice@x.org");
  Exec(*cloud_db_, "DROP TABLE NmsSubHisto");
  Processor p(*local_db_, *cloud_db_, Schemas());
  ProcessResult r;
  Status s = p.Process(r);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.ToString(), HasSubstr("SUB-300001"));
  EXPECT_THAT(s.message(), HasSubstr("schema apply"));
  EXPECT_EQ(Pending(), 1);
}

TEST_P(ProcessorTest, AStalledRunCannotApplyTwice) {
  Subscribe("news", "alice@x.org");
  Subscribe("sms", "alice@x.org");
  // Another run moves the watermark between this run's batches.
  ProcessOptions options;
  options.batch_requests = 1;
  bool moved = false;
  options.on_batch = [&](const sync::Progress&) -> Status {
    if (!moved) {
      moved = true;
      return cloud_db_->Execute("UPDATE SbAppliedSeq SET iSeq = iSeq + 1000").status();
    }
    return Status::Ok();
  };
  Processor p(*local_db_, *cloud_db_, Schemas(), options);
  ProcessResult r;
  Status s = p.Process(r);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.ToString(), HasSubstr("SYN-300002"));
  EXPECT_EQ(r.subscriptions.staged, 1);
}

INSTANTIATE_TEST_SUITE_P(Pairs, ProcessorTest, ::testing::ValuesIn(AllPairs()), PairParamName());

TEST(IntakeTest, ChecksServicesInTheCloudAndInStaging) {
  for (BackendPair pair : AllPairs()) {
    SCOPED_TRACE(PairName(pair));
    TestDatabase local(pair.local);
    TestDatabase cloud(pair.cloud);
    ASSERT_TRUE(local.ok() && cloud.ok());
    auto local_db = local.Open();
    auto cloud_db = cloud.Open();
    ASSERT_TRUE(schema::ApplySchemas(Schemas(), *local_db, *cloud_db).ok());
    ASSERT_TRUE(cloud_db->Execute("INSERT INTO NmsService (uServiceId, sName) VALUES ('S1', 'news')").ok());
    ASSERT_TRUE(local_db
                    ->Execute("INSERT INTO NmsServiceStg (uServiceId, sName, iDelete, iStgSeq, iStgKey, iStgOp) "
                              "VALUES ('S2', 'pending', 0, 1, 1, 1), ('S3', 'gone', 0, 2, 1, 2)")
                    .ok());
    store::ConnectionPool pool(local.url(), 2);
    Intake intake(pool, cloud.url(), Schemas());
    ASSERT_TRUE(intake.Prepare().ok());
    EXPECT_TRUE(intake.CheckServices({"news", "pending", ""}).ok());
    Status unknown = intake.CheckServices({"news", "nope"});
    ASSERT_FALSE(unknown.ok());
    EXPECT_THAT(unknown.ToString(), HasSubstr("SUB-200001"));
    EXPECT_THAT(unknown.message(), HasSubstr("'nope'"));
    Status deleted = intake.CheckServices({"gone"});  // staged as a delete
    EXPECT_THAT(deleted.ToString(), HasSubstr("SUB-200001"));

    pugi::xml_document doc;
    ASSERT_TRUE(doc.load_string(R"(<recipient email="a@x.org"/>)"));
    EXPECT_TRUE(intake.Accept(Action::kSubscribe, "news,pending", doc.document_element(), false, "soap:t").ok());
    Status refused = intake.Accept(Action::kSubscribe, "news,nope", doc.document_element(), false, "soap:t");
    EXPECT_THAT(refused.ToString(), HasSubstr("SUB-200001"));
    Result<std::int64_t> pending = PendingRequests(*local_db);
    ASSERT_TRUE(pending.ok());
    EXPECT_EQ(*pending, 2);  // the refused call wrote nothing
  }
}

TEST(IntakeTest, AnUnreachableCloudIsAClearFaultForUncachedNames) {
  TestDatabase local(test::Backend::kSqlite);
  ASSERT_TRUE(local.ok());
  store::ConnectionPool pool(local.url(), 1);
  Intake intake(pool, "postgresql://sb@127.0.0.1:1/none?connect_timeout=2", Schemas());
  ASSERT_TRUE(intake.Prepare().ok());
  Status s = intake.CheckServices({"news"});
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.ToString(), HasSubstr("SUB-500001"));
}

#ifdef STAGEBRIDGE_FAULT_INJECTION
class ProcessorCrashDeathTest : public ProcessorFixture,
                                public ::testing::TestWithParam<std::tuple<BackendPair, const char*>> {
 protected:
  void SetUp() override { Open(std::get<0>(GetParam())); }
};

TEST_P(ProcessorCrashDeathTest, RerunAfterAKillEndsInTheCleanState) {
  const char* point = std::get<1>(GetParam());
  Subscribe("news", "alice@x.org");
  ProcessOk();
  // The run to kill: 5 requests in 3 batches; applying one twice would show in the history.
  Subscribe("sms", "alice@x.org");
  Unsubscribe("news", "alice@x.org");
  Subscribe("news", "dan@x.org", true, "firstName=\"Dan\"");
  Unsubscribe("", "dan@x.org");
  Subscribe("sms", "dan@x.org");

  const std::string local_url = local_->url();
  const std::string cloud_url = cloud_->url();
  auto run_and_die = [&] {
    ::setenv("STAGEBRIDGE_CRASH_AT", point, 1);
    Result<std::unique_ptr<store::Database>> local = store::OpenDatabase(local_url);
    Result<std::unique_ptr<store::Database>> cloud = store::OpenDatabase(cloud_url);
    if (!local.ok() || !cloud.ok()) std::_Exit(3);
    ProcessOptions options;
    options.batch_requests = 2;
    Processor p(**local, **cloud, Schemas(), options);
    ProcessResult r;
    (void)p.Process(r);
    std::_Exit(4);  // the crash point was never reached
  };
  EXPECT_EXIT(run_and_die(), ::testing::KilledBySignal(SIGKILL), "");

  ProcessOk(2);
  EXPECT_THAT(Subscriptions(), ElementsAre("alice@x.org|sms", "dan@x.org|news"));
  EXPECT_THAT(Column(*cloud_db_, "SELECT count(*), sum(iBlackList) FROM NmsRecipient WHERE sEmail = 'dan@x.org'"),
              ElementsAre("1|1"));
  EXPECT_THAT(Column(*cloud_db_, "SELECT sAction, count(*) FROM NmsSubHisto GROUP BY sAction ORDER BY sAction"),
              ElementsAre("blocklist|1", "refused|1", "subscribe|3", "unsubscribe|1"));
  EXPECT_EQ(Pending(), 0);
  ProcessResult third = ProcessOk();
  EXPECT_EQ(third.subscriptions.staged + third.subscriptions.leftovers_cleared, 0);
}

std::string CrashName(const ::testing::TestParamInfo<std::tuple<BackendPair, const char*>>& info) {
  std::string point = std::get<1>(info.param);
  return PairName(std::get<0>(info.param)) + "_" + point.substr(point.find('-') + 1);
}

INSTANTIATE_TEST_SUITE_P(Points, ProcessorCrashDeathTest,
                         ::testing::Combine(::testing::ValuesIn(AllPairs()),
                                            ::testing::Values("subscriptions-leftovers", "subscriptions-applied",
                                                              "subscriptions-committed")),
                         CrashName);
#endif  // STAGEBRIDGE_FAULT_INJECTION

}  // namespace
}  // namespace stagebridge::subscription
