// engine_test.cc — the SpiderMonkey embedding and the prelude's E4X objects,
// with a fake host: what a script sees, limits, error positions.
#include "script/engine.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stagebridge::script {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class FakeHost : public Host {
 public:
  std::vector<std::string> Methods() const override {
    return {"xtk:session#Ingest", "xtk:session#IngestExt", "xtk:queryDef#ExecuteQuery"};
  }
  Result<std::vector<CallOutput>> Call(const std::string& service, const std::string& method,
                                       const std::vector<CallArg>& args) override {
    std::string seen = service + "#" + method + "(";
    for (const CallArg& a : args) seen += (a.xml ? "xml:" : "text:") + a.text + ";";
    calls.push_back(seen + ")");
    if (fault) return Status::InvalidArgument("STG-200003 The value 'x' of attribute 'id' is too long.");
    if (method == "ExecuteQuery") {
      return std::vector<CallOutput>{{"ns:Element", "<rows><row id=\"1\"/><row id=\"2\"/></rows>"}};
    }
    if (method == "IngestExt") return std::vector<CallOutput>{};
    return std::vector<CallOutput>{{"xsd:string", "uuid-1"}};
  }
  void Log(std::string_view level, std::string_view text) override {
    lines.push_back(fmt::format("{} {}", level, text));
  }
  std::optional<std::string> Option(const std::string& name) override {
    if (name == "NmsServer_URL") return std::string("http://localhost");
    return std::nullopt;
  }

  std::vector<std::string> calls;
  std::vector<std::string> lines;
  bool fault = false;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Session::Create(host_, limits_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    session_ = std::move(*s);
  }
  // Runs `code`; returns the log lines, or the failure as the last line "FAIL …".
  std::vector<std::string> Run(std::string_view code) {
    host_.lines.clear();
    std::optional<Failure> f = session_->Run(code, "test.js");
    std::vector<std::string> out = host_.lines;
    if (f) out.push_back("FAIL " + f->ToString());
    return out;
  }
  // logInfo(expr) of one expression.
  std::string Eval(std::string_view expr) {
    std::vector<std::string> out = Run(fmt::format("logInfo({});", expr));
    return out.size() == 1 ? out[0].substr(out[0].find(' ') + 1) : fmt::format("{}", fmt::join(out, " | "));
  }

  FakeHost host_;
  Limits limits_;
  std::unique_ptr<Session> session_;
};

TEST_F(EngineTest, SeedSnippetIngestsTheLiteralAndLogsTheUuid) {
  auto out = Run(R"(var xmlStagingSampleTable = <sampleTableStg _key="@id" id="ABC12345"
                              testcol1="testValue1" testcol2="testValue2"
                              xtkschema="dem:sampleTableStg">
                            </sampleTableStg>;
strUuid = xtk.session.Ingest(xmlStagingSampleTable);
logInfo(strUuid);)");
  EXPECT_THAT(out, ElementsAre("info uuid-1"));
  ASSERT_EQ(host_.calls.size(), 1u);
  EXPECT_EQ(host_.calls[0],
            "xtk:session#Ingest(xml:<sampleTableStg _key=\"@id\" id=\"ABC12345\" testcol1=\"testValue1\" "
            "testcol2=\"testValue2\" xtkschema=\"dem:sampleTableStg\"/>;)");
}

TEST_F(EngineTest, AttributesChildrenAndDescendants) {
  Run("var x = <r a=\"1\"><c n=\"p\">t1</c><c n=\"q\"><d>deep</d></c></r>;");
  EXPECT_EQ(Eval("x.@a"), "1");
  EXPECT_EQ(Eval("x.c.length()"), "2");
  EXPECT_EQ(Eval("x.c[1].@n"), "q");
  EXPECT_EQ(Eval("x.c[0]"), "t1");
  EXPECT_EQ(Eval("x..d"), "deep");
  EXPECT_EQ(Eval("x..d.length()"), "1");
  EXPECT_EQ(Eval("x.@missing == ''"), "true");
  EXPECT_EQ(Eval("x.@missing.length() + ' ' + x.@a.length() + ' ' + x.@a.toString()"), "0 1 1");
  EXPECT_EQ(Eval("x.c.@n == 'pq'"), "true");  // a list's attributes, concatenated, as E4X
  EXPECT_EQ(Eval("x.c[0].@n == 'p'"), "true");
  Run("x.@a = 'two'; x.@b = 3; x.c[0].@n = 'z';");
  EXPECT_EQ(Eval("x.toXMLString()"), "<r a=\"two\" b=\"3\"><c n=\"z\">t1</c><c n=\"q\"><d>deep</d></c></r>");
  Run("delete x.@b;");
  EXPECT_EQ(Eval("x.@b.length()"), "0");
  Run("x.c[0] = 'new'; x.c[2] = <c n=\"r\">third</c>; x.e.@d = 9; x.f[0] = 'made';");
  EXPECT_EQ(Eval("x.toXMLString()"),
            "<r a=\"two\"><c n=\"z\">new</c><c n=\"q\"><d>deep</d></c><c n=\"r\">third</c><e d=\"9\"/>"
            "<f>made</f></r>");
  EXPECT_THAT(Run("x.c[7] = 1;"), ElementsAre(HasSubstr("cannot assign [7] on an XMLList of 3 nodes")));
}

TEST_F(EngineTest, ForEachAppendChildAndExpressions) {
  auto out = Run(R"(var list = <rows><row id="a"/><row id="b"/></rows>;
var n = 0;
for each (var r in list.row) { logInfo(r.@id); n++; }
var doc = <collection xtkschema="dem:sampleTableStg"/>;
for (var i = 0; i < 3; i++) doc.appendChild(<sampleTableStg id={"K" + i} v={i * 2}>{"<t>" + i}</sampleTableStg>);
logInfo(n, doc.sampleTableStg.length(), doc.toXMLString());)");
  EXPECT_THAT(out, ElementsAre("info a", "info b",
                               "info 2 3 <collection xtkschema=\"dem:sampleTableStg\"><sampleTableStg id=\"K0\" "
                               "v=\"0\">&lt;t&gt;0</sampleTableStg><sampleTableStg id=\"K1\" v=\"2\">&lt;t&gt;1"
                               "</sampleTableStg><sampleTableStg id=\"K2\" v=\"4\">&lt;t&gt;2</sampleTableStg>"
                               "</collection>"));
}

TEST_F(EngineTest, AppendChildAdoptsAFreshNodeAndCopiesOneInATree) {
  EXPECT_EQ(Eval("(function () { var r = <r/>; var c = <c/>; r.appendChild(c); c.@n = 1; return r.toXMLString(); })()"),
            "<r><c n=\"1\"/></r>");
  EXPECT_EQ(Eval("(function () { var a = <a/>, b = <b/>, c = <c/>; a.appendChild(c); b.appendChild(c); c.@n = 1; "
                 "return a.toXMLString() + b.toXMLString(); })()"),
            "<a><c n=\"1\"/></a><b><c/></b>");
  EXPECT_EQ(Eval("(function () { var r = <r><c/></r>; r.c[0].appendChild(r); return r.toXMLString(); })()"),
            "<r><c><r><c/></r></c></r>");
}

TEST_F(EngineTest, ALiteralEvaluatedAgainIsANewTreeWithItsOwnValues) {
  EXPECT_EQ(Eval("(function () { var out = []; for (var i = 0; i < 3; i++) { var x = <a n={i} t={'<&\"'}><b>{i}</b>"
                 "{i == 1 ? <c/> : 'z'}</a>; if (i == 0) x.@n = 'changed'; out.push(x.toXMLString()); } "
                 "return out.join('|'); })()"),
            "<a n=\"changed\" t=\"&lt;&amp;&quot;\"><b>0</b>z</a>|<a n=\"1\" t=\"&lt;&amp;&quot;\"><b>1</b><c/></a>|"
            "<a n=\"2\" t=\"&lt;&amp;&quot;\"><b>2</b>z</a>");
  EXPECT_EQ(Eval("(function () { var s = ''; for (var i = 0; i < 2; i++) s += <><x v={i}/><y/></>.length(); "
                 "return s; })()"),
            "22");
}

TEST_F(EngineTest, XmlConstructorsAndLists) {
  EXPECT_EQ(Eval("new XML('<a b=\"&amp;\"/>').@b"), "&");
  EXPECT_EQ(Eval("XML('<a><b>1</b></a>').b"), "1");
  EXPECT_EQ(Eval("new XML('<a/>') instanceof XML"), "true");
  EXPECT_EQ(Eval("<><a/><b/></>.length()"), "2");
  EXPECT_EQ(Eval("String(<a>x</a>) + <b>y</b>"), "xy");
  EXPECT_EQ(Eval("<a><!-- c --><![CDATA[<raw>]]></a>.toString()"), "<raw>");
  EXPECT_THAT(Run("new XML('<a>');"), ElementsAre(StartsWith("FAIL test.js:1:1: ")));
}

TEST_F(EngineTest, ServicesVarsOptionsAndMissingApis) {
  EXPECT_EQ(Eval("xtk.queryDef.create(<queryDef schema=\"dem:sampleTable\" "
                 "operation=\"select\"/>).ExecuteQuery().row.length()"),
            "2");
  EXPECT_THAT(host_.calls.back(), HasSubstr("xtk:queryDef#ExecuteQuery(xml:<queryDef"));
  EXPECT_EQ(Eval("getOption('NmsServer_URL') + '|' + getOption('nope')"), "http://localhost|undefined");
  Run("instance.vars.count = 3;");
  EXPECT_EQ(Eval("vars.count"), "3");
  EXPECT_THAT(Run("xtk.session.Write(<a/>);"),
              ElementsAre("FAIL test.js:1:13: TypeError: not available in stagebridge: xtk.session.Write"));
  EXPECT_THAT(Run("\nsqlExec('drop table x');"),
              ElementsAre("FAIL test.js:2:8: TypeError: not available in stagebridge: sqlExec"));
  EXPECT_EQ(Eval("typeof File + typeof require + typeof process + typeof os"), "functionundefinedundefinedundefined");
}

TEST_F(EngineTest, FaultsAreExceptionsCarryingTheCode) {
  host_.fault = true;
  EXPECT_EQ(Eval("(function () { try { xtk.session.Ingest(<a/>); return 'no'; } catch (e) { return e.message; } })()"),
            "STG-200003 The value 'x' of attribute 'id' is too long.");
  EXPECT_THAT(Run("var a = 1;\n  xtk.session.Ingest(<a/>);"),
              ElementsAre("FAIL test.js:2:15: STG-200003 The value 'x' of attribute 'id' is too long."));
  // The code on its own, as e.code; an error that is not a fault has none.
  EXPECT_EQ(Eval("(function () { try { xtk.session.Ingest(<a/>); } catch (e) { return e.code; } })()"), "STG-200003");
  EXPECT_EQ(Eval("(function () { try { xtk.session.Write(<a/>); } catch (e) { return typeof e.code; } })()"),
            "undefined");
}

TEST_F(EngineTest, PromiseJobsRunAfterTheScriptAndTheirErrorsFailIt) {
  EXPECT_THAT(Run("Promise.resolve(1).then(v => logInfo('then ' + v));\n"
                  "(async function () { await null; logInfo('async'); })();\nlogInfo('sync');"),
              ElementsAre("info sync", "info then 1", "info async"));
  EXPECT_THAT(Run("Promise.resolve().then(() => { throw new Error('in a job'); });"),
              ElementsAre(HasSubstr("in a job")));
  EXPECT_THAT(Run("throw 'disk out of memory';"), ElementsAre("FAIL test.js:1:1: disk out of memory"));
}

TEST_F(EngineTest, ErrorsPointAtTheUsersSource) {
  EXPECT_THAT(Run("var x = <a/>; var y = <b/>; undefinedName;"),
              ElementsAre("FAIL test.js:1:29: ReferenceError: undefinedName is not defined"));
  EXPECT_THAT(Run("var x = 1;\nvar y = = 2;"), ElementsAre(StartsWith("FAIL test.js:2:9: SyntaxError")));
  EXPECT_THAT(Run("var x = <a>\n</a>; throw new Error('boom');"), ElementsAre("FAIL test.js:2:13: boom"));
  EXPECT_THAT(Run("var n = x.ns::y;"), ElementsAre(StartsWith("FAIL test.js:1:")));
  EXPECT_THAT(Run("var n = x.ns::y;")[0], HasSubstr("E4X namespaces are not supported"));
  EXPECT_THAT(Run("logError('bad', 42);"), ElementsAre("error bad 42", "FAIL test.js:1:9: bad 42"));
}

// An error inside a literal's {expr} is reported where that expression stands,
// not at the literal's start.
TEST_F(EngineTest, ErrorsInsideALiteralsExpressionPointAtTheExpression) {
  EXPECT_THAT(Run("var x = <a b={undefinedVar}/>;"),
              ElementsAre("FAIL test.js:1:15: ReferenceError: undefinedVar is not defined"));
  EXPECT_THAT(Run("var y = 1;\nvar x = <a b=\"1\"\n    c={y}>\n  <d>t</d>\n  <e>{ undefinedVar }</e>\n</a>;"),
              ElementsAre("FAIL test.js:5:8: ReferenceError: undefinedVar is not defined"));
  // A call of a missing method: at the method's name, as SpiderMonkey reports it in plain code.
  EXPECT_THAT(Run("var o = {};\nvar x = <a><b c={o.f()}/></a>;"),
              ElementsAre("FAIL test.js:2:20: TypeError: o.f is not a function"));
  EXPECT_THAT(Run("var x = <>\n  <a/>{undefinedVar}</>;"),
              ElementsAre("FAIL test.js:2:8: ReferenceError: undefinedVar is not defined"));
}

// A literal's leaf element carries its serialization; every change drops it.
TEST_F(EngineTest, ALeafLiteralsTextFollowsEveryChange) {
  Run("var v = 'a&b'; var x = <r k={v} s=\"1\">t</r>; var y = <q/>;");
  EXPECT_EQ(Eval("x.toXMLString()"), "<r k=\"a&amp;b\" s=\"1\">t</r>");
  EXPECT_EQ(Eval("(x.@k = 'n', x.toXMLString())"), "<r k=\"n\" s=\"1\">t</r>");
  EXPECT_EQ(Eval("(delete x.@s, x.toXMLString())"), "<r k=\"n\">t</r>");
  EXPECT_EQ(Eval("(x.@k[0] = 'm', x.toXMLString())"), "<r k=\"m\">t</r>");
  EXPECT_EQ(Eval("(x.c = 'u', x.toXMLString())"), "<r k=\"m\">t<c>u</c></r>");
  EXPECT_EQ(Eval("(y.appendChild('w'), y.toXMLString())"), "<q>w</q>");
  EXPECT_EQ(Eval("(y.setChildren(<z/>), y.toXMLString())"), "<q><z/></q>");
  EXPECT_EQ(Eval("(y.z.@a = 1, y.toXMLString())"), "<q><z a=\"1\"/></q>");
  EXPECT_EQ(Eval("(y.prependChild('p'), y.toXMLString())"), "<q>p<z a=\"1\"/></q>");
  EXPECT_EQ(Eval("(y.n.@d = 2, y.toXMLString())"), "<q>p<z a=\"1\"/><n d=\"2\"/></q>");
  EXPECT_EQ(Eval("(y.z[0] = 'zz', y.toXMLString())"), "<q>p<z a=\"1\">zz</z><n d=\"2\"/></q>");
  Run("var c = <c/>; for (var i = 0; i < 3; i++) { var e = <e i={i}/>; c.appendChild(e); e.@j = i * 2; }");
  EXPECT_EQ(Eval("c.toXMLString()"), "<c><e i=\"0\" j=\"0\"/><e i=\"1\" j=\"2\"/><e i=\"2\" j=\"4\"/></c>");
}

TEST_F(EngineTest, JsonStringifyOfXmlIsItsXmlText) {
  Run("var x = <a b=\"1\"><c>t</c></a>;");
  EXPECT_EQ(Eval("JSON.stringify(x)"), "\"<a b=\\\"1\\\"><c>t</c></a>\"");
  EXPECT_EQ(Eval("JSON.stringify({doc: x, n: 1})"), "{\"doc\":\"<a b=\\\"1\\\"><c>t</c></a>\",\"n\":1}");
  EXPECT_EQ(Eval("JSON.stringify(x.c)"), "\"<c>t</c>\"");
}

TEST(EngineLimitsTest, AnInfiniteLoopIsStoppedAtTheTimeLimit) {
  FakeHost host;
  Limits limits;
  limits.timeout = std::chrono::milliseconds(300);
  auto session = Session::Create(host, limits);
  ASSERT_TRUE(session.ok());
  std::optional<Failure> f = (*session)->Run("logInfo('start');\nwhile (true) {}", "loop.js");
  ASSERT_TRUE(f.has_value());
  EXPECT_THAT(f->message, HasSubstr("time limit (0.3 s, script_timeout)"));
  EXPECT_THAT(host.lines, ElementsAre("info start"));
  // The session is usable again: the limit is per run.
  EXPECT_FALSE((*session)->Run("logInfo('after');", "next.js").has_value());
}

TEST(EngineLimitsTest, ARunawayAllocationIsStoppedByTheMemoryCap) {
  FakeHost host;
  Limits limits;
  limits.memory_bytes = std::size_t{64} << 20;
  auto session = Session::Create(host, limits);
  ASSERT_TRUE(session.ok());
  // Outside the GC heap (array elements, ArrayBuffers, strings) and inside it (objects).
  for (const char* runaway : {"var a = [];\nwhile (true) a.push(new Array(100000).fill(1));",
                              "var a = [];\nwhile (true) a.push(new ArrayBuffer(1 << 20));",
                              "var a = [], i = 0;\nwhile (true) a.push('x'.repeat(1 << 20) + i++);"}) {
    std::optional<Failure> f = (*session)->Run(runaway, "alloc.js");
    ASSERT_TRUE(f.has_value()) << runaway;
    EXPECT_THAT(f->message, HasSubstr("out of memory (limit 64 MiB, script_memory)")) << runaway;
    session->reset();  // gives its memory back
    session = Session::Create(host, limits);
    ASSERT_TRUE(session.ok());
  }
  // The process goes on: a new session runs (one per thread at a time).
  session->reset();
  auto again = Session::Create(host, Limits{});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)->Run("logInfo('fine');", "x.js").has_value());
}

TEST(EngineLimitsTest, ASecondSessionOnTheSameThreadIsRefusedNotACrash) {
  FakeHost host;
  auto first = Session::Create(host, Limits{});
  ASSERT_TRUE(first.ok());
  auto second = Session::Create(host, Limits{});
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("already runs on this thread"));
  std::thread other([&] { EXPECT_TRUE(Session::Create(host, Limits{}).ok()); });
  other.join();
}

TEST(EngineLimitsTest, StopEndsARunningScript) {
  FakeHost host;
  std::atomic<bool> stop{false};
  auto session = Session::Create(host, Limits{}, &stop);
  ASSERT_TRUE(session.ok());
  std::thread stopper([&] {
    while (host.lines.empty()) std::this_thread::yield();
    stop = true;
  });
  std::optional<Failure> f = (*session)->Run("logInfo('go'); for (;;) {}", "s.js");
  stopper.join();
  ASSERT_TRUE(f.has_value());
  EXPECT_THAT(f->message, HasSubstr("server is shutting down"));
}

TEST(EngineLimitsTest, SessionsOnSeveralThreadsRunInParallel) {
  std::vector<std::thread> threads;
  std::vector<std::string> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &results] {
      FakeHost host;
      auto session = Session::Create(host, Limits{});
      if (!session.ok()) return;
      auto f = (*session)->Run(fmt::format("var s = 0; for (var i = 0; i < 100000; i++) s += i; logInfo(s + {});", t),
                               "t.js");
      results[t] = f ? f->ToString() : host.lines.at(0);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(results, ElementsAre("info 4999950000", "info 4999950001", "info 4999950002", "info 4999950003"));
}

}  // namespace
}  // namespace stagebridge::script
