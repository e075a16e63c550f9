// workflows_test.cc — user workflow files: parsing, script positions, bad files.
#include "script/workflows.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace stagebridge::script {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

class WorkflowFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sb-wf-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  fs::path dir_;
};

constexpr const char* kGood = R"(<workflow internalName="nightly" label="Nightly" schedule="every 30s" operator="etl">
  <activities>
    <js name="first" label="One"><script><![CDATA[var a = <x id="1"/>; vars.id = a.@id;]]></script></js>
    <js name="second" src="second.js"/>
  </activities>
</workflow>
)";

TEST_F(WorkflowFilesTest, AGoodFileGivesItsNameScheduleOperatorAndActivitiesInOrder) {
  Write("nightly.xml", kGood);
  Write("second.js", "logInfo(vars.id);\n");
  LoadReport r = LoadWorkflows(dir_.string());
  EXPECT_THAT(r.errors, IsEmpty());
  ASSERT_EQ(r.workflows.size(), 1u);
  const WorkflowDef& w = r.workflows[0];
  EXPECT_EQ(w.internal_name, "nightly");
  EXPECT_EQ(w.label, "Nightly");
  EXPECT_EQ(w.op, "etl");
  EXPECT_EQ(w.schedule.kind, workflow::Schedule::Kind::kEvery);
  EXPECT_EQ(w.schedule.interval, std::chrono::seconds(30));
  ASSERT_EQ(w.activities.size(), 2u);
  EXPECT_EQ(w.activities[0].name, "first");
  EXPECT_EQ(w.activities[1].name, "second");
  EXPECT_EQ(w.activities[1].source, "logInfo(vars.id);\n");
  EXPECT_EQ(w.activities[1].file, (dir_ / "second.js").string());
}

TEST_F(WorkflowFilesTest, AnInlineScriptKeepsItsLineAndColumnInTheWorkflowFile) {
  Write("w.xml", R"(<workflow internalName="w" operator="etl">
  <activities>
    <js name="broken"><script><![CDATA[
var ok = 1;
  var x = = 2;
]]></script></js>
  </activities>
</workflow>
)");
  LoadReport r = LoadWorkflows(dir_.string());
  EXPECT_THAT(r.workflows, IsEmpty());
  ASSERT_EQ(r.errors.size(), 1u);
  // "  var x = = 2;" is line 5 of the file; the second '=' is column 11.
  EXPECT_THAT(r.errors[0], HasSubstr((dir_ / "w.xml").string() + ": activity 'broken': " + (dir_ / "w.xml").string() +
                                     ":5:11: SyntaxError"));
}

TEST_F(WorkflowFilesTest, AnE4xErrorOnTheScriptsFirstLineCountsTheColumnsBeforeIt) {
  Write("w.xml",
        "<workflow internalName=\"w\" operator=\"etl\"><activities><js name=\"a\"><script><![CDATA[var n = x.ns::y;]]>"
        "</script></js></activities></workflow>");
  LoadReport r = LoadWorkflows(dir_.string());
  ASSERT_EQ(r.errors.size(), 1u);
  // The script starts at column 85 of line 1 (after "<![CDATA["); "ns" at +10.
  EXPECT_THAT(r.errors[0], HasSubstr(":1:95: E4X namespaces are not supported"));
}

TEST_F(WorkflowFilesTest, BadFilesAreReportedNamingFileAndFaultAndTheOthersLoad) {
  Write("a-good.xml", kGood);
  Write("second.js", "logInfo(1);");
  Write(
      "b-technical.xml",
      R"(<workflow internalName="cleanup" operator="etl"><activities><js><script>1</script></js></activities></workflow>)");
  Write(
      "c-dup.xml",
      R"(<workflow internalName="nightly" operator="etl"><activities><js><script>1</script></js></activities></workflow>)");
  Write("d-noop.xml", R"(<workflow internalName="noop" operator="etl"><activities/></workflow>)");
  Write(
      "e-schedule.xml",
      R"(<workflow internalName="sched" schedule="sometimes" operator="etl"><activities><js><script>1</script></js></activities></workflow>)");
  Write(
      "f-nosrc.xml",
      R"(<workflow internalName="nosrc" operator="etl"><activities><js name="x" src="missing.js"/></activities></workflow>)");
  Write("g-notxml.xml", "<workflow");
  Write("h-noop.xml",
        R"(<workflow internalName="noop2"><activities><js><script>1</script></js></activities></workflow>)");
  Write("i-kind.xml",
        R"(<workflow internalName="kind" operator="etl"><activities><sql name="q"/></activities></workflow>)");
  Write(
      "j-name.xml",
      R"(<workflow internalName="1bad name" operator="etl"><activities><js><script>1</script></js></activities></workflow>)");
  Write(
      "k-escape.xml",
      R"(<workflow internalName="esc" operator="etl"><activities><js name="x" src="../outside.js"/></activities></workflow>)");
  Write("ignored.txt", "not a workflow");
  LoadReport r = LoadWorkflows(dir_.string());
  ASSERT_EQ(r.workflows.size(), 1u);
  EXPECT_EQ(r.workflows[0].internal_name, "nightly");
  ASSERT_EQ(r.errors.size(), 10u);
  EXPECT_THAT(r.errors[0], HasSubstr("b-technical.xml: internalName 'cleanup' is a technical workflow's"));
  EXPECT_THAT(r.errors[1], HasSubstr("c-dup.xml: internalName 'nightly' is already defined by"));
  EXPECT_THAT(r.errors[2], HasSubstr("d-noop.xml: no activity"));
  EXPECT_THAT(r.errors[3], HasSubstr("e-schedule.xml: schedule:"));
  EXPECT_THAT(r.errors[4], HasSubstr("f-nosrc.xml: activity 'x': cannot read"));
  EXPECT_THAT(r.errors[5], HasSubstr("g-notxml.xml"));
  EXPECT_THAT(r.errors[6], HasSubstr("h-noop.xml: no operator="));
  EXPECT_THAT(r.errors[7], HasSubstr("i-kind.xml: activity <sql>: only JavaScript activities"));
  EXPECT_THAT(r.errors[8], HasSubstr("j-name.xml: internalName '1bad name' is not a name"));
  EXPECT_THAT(r.errors[9], HasSubstr("k-escape.xml: activity 'x': src=\"../outside.js\" is not a file inside"));
  for (const std::string& e : r.errors) EXPECT_THAT(e, HasSubstr("SCR-200011"));
}

TEST_F(WorkflowFilesTest, AMalformedFileIsReportedAtLineAndColumnNotAByteOffset) {
  Write("a-control.xml", "<workflow internalName=\"w\">\n  \xC3\xA9\x01</workflow>");
  Write("b-tags.xml", "<workflow internalName=\"w\">\n  <activities>\n    <js></jss>\n</workflow>");
  LoadReport r = LoadWorkflows(dir_.string());
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_THAT(r.errors[0], HasSubstr("a-control.xml: control character at line 2, column 4"));
  EXPECT_THAT(r.errors[1], HasSubstr("b-tags.xml: malformed XML at line 3, column "));
  for (const std::string& e : r.errors) EXPECT_THAT(e, Not(HasSubstr("offset")));
}

TEST_F(WorkflowFilesTest, AMissingDirectoryHasNoWorkflows) {
  LoadReport r = LoadWorkflows((dir_ / "none").string());
  EXPECT_THAT(r.workflows, IsEmpty());
  EXPECT_THAT(r.errors, IsEmpty());
  EXPECT_THAT(LoadWorkflows("").workflows, IsEmpty());
}

TEST(CheckScriptTest, CompilesWithoutRunning) {
  EXPECT_FALSE(CheckScript("while (true) {}", "x.js").has_value());  // compiled, never run
  std::optional<Failure> f = CheckScript("var a = <a>", "x.js");
  ASSERT_TRUE(f.has_value());
  EXPECT_THAT(f->ToString(), HasSubstr("x.js:1:9: unterminated E4X literal"));
}

}  // namespace
}  // namespace stagebridge::script
