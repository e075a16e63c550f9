#include "script/e4x.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace stagebridge::script {
namespace {

// The transformed code, or "ERROR " and the message.
std::string Out(std::string_view source) {
  Result<Transformed> r = TransformE4x(source);
  if (!r.ok()) return "ERROR " + r.status().message();
  return r->code;
}

std::size_t Lines(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// Expects `source` to come out byte-identical.
void ExpectUnchanged(std::string_view source) {
  Result<Transformed> r = TransformE4x(source);
  ASSERT_TRUE(r.ok()) << source << "\n" << r.status().message();
  EXPECT_EQ(r->code, source);
  EXPECT_EQ(r->map.ChangedLines(), 0u) << source;
}

// ---- XML literals ------------------------------------------------------------

TEST(E4xLiteralTest, SeedSnippet) {
  const char* seed = R"(var xmlStagingSampleTable = <sampleTableStg _key="@id" id="ABC12345"
                              testcol1="testValue1" testcol2="testValue2"
                              xtkschema="dem:sampleTableStg">
                            </sampleTableStg>;
strUuid = xtk.session.Ingest(xmlStagingSampleTable);
logInfo(strUuid);
)";
  const char* expected = R"(var xmlStagingSampleTable = __sbXml``(`<sampleTableStg _key="@id" id="ABC12345"
                              testcol1="testValue1" testcol2="testValue2"
                              xtkschema="dem:sampleTableStg">
                            </sampleTableStg>`, "");
strUuid = xtk.session.Ingest(xmlStagingSampleTable);
logInfo(strUuid);
)";
  EXPECT_EQ(Out(seed), expected);
  EXPECT_EQ(Lines(Out(seed)), Lines(seed));
}

TEST(E4xLiteralTest, SpecSnippetSelfClosing) {
  EXPECT_EQ(Out(R"(var x = <sampleTableStg testcol1="testValue1" xtkschema="dem:sampleTableStg"/>;)"),
            R"(var x = __sbXml``(`<sampleTableStg testcol1="testValue1" xtkschema="dem:sampleTableStg"/>`, "");)");
  EXPECT_EQ(Out("x = <a/>"), "x = __sbXml``(`<a/>`, \"\")");
  EXPECT_EQ(Out("x = <a />;"), "x = __sbXml``(`<a />`, \"\");");
  EXPECT_EQ(Out("<a/>;"), "__sbXml``(`<a/>`, \"\");");
}

TEST(E4xLiteralTest, NestedElementsAndSameNames) {
  EXPECT_EQ(Out("x = <a><a/></a>;"), "x = __sbXml``(`<a><a/></a>`, \"\");");
  EXPECT_EQ(Out("x = <a><a><b>t</b></a><c/></a>; y = 1 < 2;"),
            "x = __sbXml``(`<a><a><b>t</b></a><c/></a>`, \"\"); y = 1 < 2;");
  EXPECT_EQ(Out("x = <ns:a xmlns:ns='u'><ns:b-c.d/></ns:a >;"),
            "x = __sbXml``(`<ns:a xmlns:ns='u'><ns:b-c.d/></ns:a >`, \"\");");
}

TEST(E4xLiteralTest, MultiLineKeepsLines) {
  const char* in = "x = <a>\n  <b x='1'\n     y=\"2\"/>\r\n  text\n</a>;\nf();";
  EXPECT_EQ(Out(in), "x = __sbXml``(`<a>\n  <b x='1'\n     y=\"2\"/>\r\n  text\n</a>`, \"\");\nf();");
  EXPECT_EQ(Lines(Out(in)), Lines(in));
}

TEST(E4xLiteralTest, CommentsCdataAndEscapes) {
  EXPECT_EQ(Out("x = <a><!-- c <b> { --><![CDATA[<x>{y}</x> ]]>t</a>;"),
            "x = __sbXml``(`<a><!-- c <b> { --><![CDATA[<x>{y}</x> ]]>t</a>`, \"\");");
  // \ ` $ are escaped so the cooked strings are the literal's text.
  EXPECT_EQ(Out(R"(x = <a p="C:\d" q='$1'>`${x}` \n</a>;)"),
            R"(x = __sbXml``(`<a p="C:\\d" q='\$1'>\`\$`, (0, x), `\` \\n</a>`, "c");)");
  // A quoted attribute value keeps its braces: no interpolation inside quotes.
  EXPECT_EQ(Out("x = <a v='{b}' w=\"}{\"/>;"), "x = __sbXml``(`<a v='{b}' w=\"}{\"/>`, \"\");");
  // Entities and a lone } in text are text.
  EXPECT_EQ(Out("x = <a>&lt;&amp; }</a>;"), "x = __sbXml``(`<a>&lt;&amp; }</a>`, \"\");");
}

TEST(E4xLiteralTest, Interpolation) {
  EXPECT_EQ(Out("x = <a id={id} n = {n + 1}>{v}</a>;"),
            "x = __sbXml``(`<a id=`, (0, id), ` n = `, (0, n + 1), `>`, (0, v), `</a>`, \"aac\");");
  EXPECT_EQ(Out("x = <a>{ {k: '}'}.k }</a>;"), "x = __sbXml``(`<a>`, (0,  {k: '}'}.k ), `</a>`, \"c\");");
  EXPECT_EQ(Out("x = <a>{`t${ {b: 1}.b }}`}</a>;"), "x = __sbXml``(`<a>`, (0, `t${ {b: 1}.b }}`), `</a>`, \"c\");");
  EXPECT_EQ(Out("x = <a>{f(\"<b>\", /}/)}</a>;"), "x = __sbXml``(`<a>`, (0, f(\"<b>\", /}/)), `</a>`, \"c\");");
  // A comma expression is one argument, its value the last operand's, as in E4X.
  EXPECT_EQ(Out("x = <a b={c, d}/>;"), "x = __sbXml``(`<a b=`, (0, c, d), `/>`, \"a\");");
  // XML inside {expr} is transformed too, and so is an accessor.
  EXPECT_EQ(Out("x = <a>{<b c={d.@e}/>}</a>;"),
            "x = __sbXml``(`<a>`, (0, __sbXml``(`<b c=`, (0, d[\"@e\"]), `/>`, \"a\")), `</a>`, \"c\");");
  EXPECT_EQ(Out("x = <a>{i < n ? <b/> : <c/>}</a>;"),
            "x = __sbXml``(`<a>`, (0, i < n ? __sbXml``(`<b/>`, \"\") : __sbXml``(`<c/>`, \"\")), `</a>`, \"c\");");
  EXPECT_EQ(Out("x = <a>{\n  v\n}</a>;"), "x = __sbXml``(`<a>`, (0, \n  v\n), `</a>`, \"c\");");
}

TEST(E4xLiteralTest, List) {
  EXPECT_EQ(Out("x = <><a/><b>{c}</b></>;"), "x = __sbXmlList``(`<><a/><b>`, (0, c), `</b></>`, \"c\");");
  EXPECT_EQ(Out("x = <></>;"), "x = __sbXmlList``(`<></>`, \"\");");
}

TEST(E4xLiteralTest, OperandPositions) {
  EXPECT_EQ(Out("f(<a/>, [<b/>], {k: <c/>})"),
            "f(__sbXml``(`<a/>`, \"\"), [__sbXml``(`<b/>`, \"\")], {k: __sbXml``(`<c/>`, \"\")})");
  EXPECT_EQ(Out("return <a/>"), "return __sbXml``(`<a/>`, \"\")");
  EXPECT_EQ(Out("c ? <a/> : <b/>"), "c ? __sbXml``(`<a/>`, \"\") : __sbXml``(`<b/>`, \"\")");
  EXPECT_EQ(Out("f = () => <a/>"), "f = () => __sbXml``(`<a/>`, \"\")");
  EXPECT_EQ(Out("if (c) <a/>;"), "if (c) __sbXml``(`<a/>`, \"\");");
  EXPECT_EQ(Out("s = `${<a/>}`"), "s = `${__sbXml``(`<a/>`, \"\")}`");
  EXPECT_EQ(Out("y = <a/>.@b < 3"), "y = __sbXml``(`<a/>`, \"\")[\"@b\"] < 3");
  EXPECT_EQ(Out("y = typeof <a/>"), "y = typeof __sbXml``(`<a/>`, \"\")");
}

// ---- accessors and for each ----------------------------------------------------

TEST(E4xAccessorTest, Forms) {
  EXPECT_EQ(Out("v = x.@name;"), "v = x[\"@name\"];");
  EXPECT_EQ(Out("x.@name = v;"), "x[\"@name\"] = v;");
  EXPECT_EQ(Out("x.@*"), "x[\"@*\"]");
  EXPECT_EQ(Out("x..name"), "x[\"..name\"]");
  EXPECT_EQ(Out("x..@name"), "x[\"..@name\"]");
  EXPECT_EQ(Out("x..*"), "x[\"..*\"]");
  EXPECT_EQ(Out("x..@*"), "x[\"..@*\"]");
  EXPECT_EQ(Out("x.*"), "x[\"*\"]");
  EXPECT_EQ(Out("a.b.@c.d..e[0].@f.toString()"), "a.b[\"@c\"].d[\"..e\"][0][\"@f\"].toString()");
  EXPECT_EQ(Out("x.@if + x..return"), "x[\"@if\"] + x[\"..return\"]");
  EXPECT_EQ(Out("delete x.@a; x.@b++"), "delete x[\"@a\"]; x[\"@b\"]++");
  EXPECT_EQ(Out("x\n  .@a"), "x\n  [\"@a\"]");
  EXPECT_EQ(Out("x.y.length()"), "x.y.length()");
  EXPECT_EQ(Out("x /* c */.@a // .@b"), "x /* c */[\"@a\"] // .@b");
  ExpectUnchanged("a . b . c; x.\n  y(); p = a.\n  b;");
}

TEST(E4xForEachTest, Forms) {
  EXPECT_EQ(Out("for each (var e in x.item) f(e);"), "for (var e of __sbEach(x.item)) f(e);");
  EXPECT_EQ(Out("for each (let e in xs) {}"), "for (let e of __sbEach(xs)) {}");
  EXPECT_EQ(Out("for each (const e in xs) {}"), "for (const e of __sbEach(xs)) {}");
  EXPECT_EQ(Out("for each (e in xs) {}"), "for (e of __sbEach(xs)) {}");
  EXPECT_EQ(Out("for each(e in xs);"), "for (e of __sbEach(xs));");
  EXPECT_EQ(Out("for/**/each(e in xs);"), "for/**/(e of __sbEach(xs));");
  EXPECT_EQ(Out("for each (var e in x..item.(0)) {}"), "ERROR 1:27: E4X filtering predicates are not supported");
  // The top-level `in` only; brackets, strings and nested loops are skipped.
  EXPECT_EQ(Out("for each (var [k, v] in f(\"a\" in o, [b in c])) {}"),
            "for (var [k, v] of __sbEach(f(\"a\" in o, [b in c]))) {}");
  EXPECT_EQ(Out("for each (var a in x) for each (var b in a.@c) g(a, b);"),
            "for (var a of __sbEach(x)) for (var b of __sbEach(a[\"@c\"])) g(a, b);");
  EXPECT_EQ(Out("for each (var e in <a><b/></a>.b) {}"),
            "for (var e of __sbEach(__sbXml``(`<a><b/></a>`, \"\").b)) {}");
  EXPECT_EQ(Out("for /* c */ each\n(var e\nin\nxs) {}"), "for /* c */ \n(var e\nof __sbEach(\nxs)) {}");
  // A plain for/in and for/of stay as they are.
  ExpectUnchanged("for (var k in o) {} for (const v of a) {} for (;;) {} each(x);");
}

TEST(E4xPassThroughTest, NoTransformNeeded) {
  ExpectUnchanged("var x = new XML(s); y = XML(s); z = x.toXMLString(); n = x.item.length(); x.appendChild(c);");
}

// ---- traps: plain JavaScript comes out byte-identical -----------------------------

TEST(E4xTrapTest, LessThan) {
  for (const char* s : {"for (var i = 0; i < n; i++) {}", "x = a<b>c;", "if (a <b) {}", "x<y", "f()<g", "arr[0] < 3",
                        "a<<b", "a <= b", "a<<=b", "a <b\n>c", "x = y <z>w;", "i++ < n", "(a) < b", "this<x",
                        "a < b && c > d", "x = 3 <a> 2", "obj.if <a", "if (i-->0) {}", "a = b\n<c;"}) {
    ExpectUnchanged(s);
  }
}

TEST(E4xTrapTest, StringsTemplatesComments) {
  for (const char* s :
       {"s = '<a>' + \"<b x={y}>\" + 'it\\'s <' + \"\\\"<\";", "s = 'x.@y ..z for each (';",
        "t = `<a>${ '<b>' + `${ {c: '<d>'}.c }` }</a>`;", "t = `\\${<a>}`;", "// <a> x.@y\n/* <b>\n x..z */ y = 1;",
        "s = 'a\\\n<b>';", "t = tag`<a>`;", "<!-- old html comment <a>\nx = 1;", "x = 1;\n--> html close comment <a>\n",
        "#!/usr/bin/env sb <a>\nx = 1;", "x = a <!-- b <c>\n;"}) {
    ExpectUnchanged(s);
  }
}

TEST(E4xTrapTest, RegexAndDivision) {
  for (const char* s : {"r = /<a>/g;", "r = /[/<]/;", "q = a / b < c / d;", "s.replace(/<\\/a>/, '')",
                        "if (x) /<a>/.test(s);", "r = /=<a/;", "x = a /= 2 < 3;", "r = [/x/, /<y>/];",
                        "x = (a) / 2 / b;", "r = /a\\/<b>/i.test(s) ? /[\\]<]/ : 1;"}) {
    ExpectUnchanged(s);
  }
}

TEST(E4xTrapTest, NumbersDotsAndOperators) {
  for (const char* s :
       {"s = 1..toString();", "s = 1..x;", "n = 1.5e3.toFixed(1) + .5 + 0x1F + 1_000n;", "v = a?.b?.[c]?.(d);",
        "f(...xs); o = {...p};", "v = a ?? b; v = c ? .5 : 1;", "o = {if: 1, in: 2 < a};",
        "label: for (;;) break label;", "x = a ? b : c;", "v = caf\xC3\xA9 < 3;"}) {
    ExpectUnchanged(s);
  }
}

// ---- position map --------------------------------------------------------------------

TEST(E4xPositionTest, AfterLiteralOnSameLine) {
  const char* in = "x = <a/>; y = 1;";
  Result<Transformed> r = TransformE4x(in);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->code, "x = __sbXml``(`<a/>`, \"\"); y = 1;");
  // `y` is output column 28, input column 11.
  EXPECT_EQ(r->map.Original(1, 28), (SourcePosition{1, 11}));
  // The literal's text maps to itself; the prefix to the `<`; the closing `>`, backtick and kinds to the `>`.
  EXPECT_EQ(r->map.Original(1, 16), (SourcePosition{1, 5}));  // <
  EXPECT_EQ(r->map.Original(1, 17), (SourcePosition{1, 6}));  // a
  EXPECT_EQ(r->map.Original(1, 5), (SourcePosition{1, 5}));   // _ of __sbXml
  EXPECT_EQ(r->map.Original(1, 19), (SourcePosition{1, 8}));  // >
  EXPECT_EQ(r->map.Original(1, 20), (SourcePosition{1, 8}));  // `
  EXPECT_EQ(r->map.Original(1, 25), (SourcePosition{1, 8}));  // ) of the call
  EXPECT_EQ(r->map.Original(1, 1), (SourcePosition{1, 1}));
  EXPECT_EQ(r->map.Original(2, 7), (SourcePosition{2, 7}));  // lines the transform did not touch
}

TEST(E4xPositionTest, InsideExpression) {
  const char* in = "x = <a b={f(c)}/>;";
  Result<Transformed> r = TransformE4x(in);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->code, "x = __sbXml``(`<a b=`, (0, f(c)), `/>`, \"a\");");
  EXPECT_EQ(r->map.Original(1, 28), (SourcePosition{1, 11}));  // f
  EXPECT_EQ(r->map.Original(1, 30), (SourcePosition{1, 13}));  // c
  EXPECT_EQ(r->map.Original(1, 21), (SourcePosition{1, 10}));  // ` closing the piece stands for {
  EXPECT_EQ(r->map.Original(1, 24), (SourcePosition{1, 10}));  // ( of (0,
  EXPECT_EQ(r->map.Original(1, 32), (SourcePosition{1, 15}));  // ) of ), ` stands for }
  EXPECT_EQ(r->map.Original(1, 36), (SourcePosition{1, 16}));  // /
}

TEST(E4xPositionTest, MultiLineAndAccessors) {
  const char* in = "var v = <a>\n  <b>$x</b> {c}</a>.@d; z();\nw = x..y.@k;";
  Result<Transformed> r = TransformE4x(in);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->code,
            "var v = __sbXml``(`<a>\n  <b>\\$x</b> `, (0, c), `</a>`, \"c\")[\"@d\"]; z();\nw = x[\"..y\"][\"@k\"];");
  EXPECT_EQ(r->map.Original(2, 6), (SourcePosition{2, 6}));    // the \ of \$ stands for $
  EXPECT_EQ(r->map.Original(2, 7), (SourcePosition{2, 6}));    // $
  EXPECT_EQ(r->map.Original(2, 8), (SourcePosition{2, 7}));    // x
  EXPECT_EQ(r->map.Original(2, 21), (SourcePosition{2, 14}));  // c
  EXPECT_EQ(r->map.Original(2, 40), (SourcePosition{2, 22}));  // d
  EXPECT_EQ(r->map.Original(2, 45), (SourcePosition{2, 25}));  // z
  EXPECT_EQ(r->map.Original(3, 10), (SourcePosition{3, 8}));   // y
  EXPECT_EQ(r->map.Original(3, 16), (SourcePosition{3, 11}));  // k
  EXPECT_EQ(r->map.Original(3, 17), (SourcePosition{3, 12}));  // the " after k stands for what follows k
  EXPECT_EQ(r->map.Original(3, 19), (SourcePosition{3, 12}));  // ;
  EXPECT_EQ(r->map.Original(1, 3), (SourcePosition{1, 3}));
}

TEST(E4xPositionTest, ForEach) {
  Result<Transformed> r = TransformE4x("for each (var e in xs) f(e);");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->code, "for (var e of __sbEach(xs)) f(e);");
  EXPECT_EQ(r->map.Original(1, 10), (SourcePosition{1, 15}));  // e
  EXPECT_EQ(r->map.Original(1, 12), (SourcePosition{1, 17}));  // o of `of __sbEach(` stands for `in`
  EXPECT_EQ(r->map.Original(1, 24), (SourcePosition{1, 20}));  // xs
  EXPECT_EQ(r->map.Original(1, 29), (SourcePosition{1, 24}));  // f
}

TEST(E4xPositionTest, ColumnsCountCodePoints) {
  // "é" is 2 UTF-8 bytes, "😀" (U+1F600) 4 bytes: each 1 column, as SpiderMonkey counts.
  const char* in = "s = '\xC3\xA9\xF0\x9F\x98\x80'; x = <a t='\xF0\x9F\x98\x80'>\xC3\xA9{v}</a>; y;";
  Result<Transformed> r = TransformE4x(in);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(
      r->code,
      "s = '\xC3\xA9\xF0\x9F\x98\x80'; x = __sbXml``(`<a t='\xF0\x9F\x98\x80'>\xC3\xA9`, (0, v), `</a>`, \"c\"); y;");
  // Input columns: ' 5, é 6, 😀 7, ' 8, < 15, the second 😀 21, é 24, { 25, v 26, y 34.
  EXPECT_EQ(r->map.Original(1, 43), (SourcePosition{1, 26}));  // v
  EXPECT_EQ(r->map.Original(1, 26), (SourcePosition{1, 15}));  // <
  EXPECT_EQ(r->map.Original(1, 35), (SourcePosition{1, 24}));  // é
  EXPECT_EQ(r->map.Original(1, 61), (SourcePosition{1, 34}));  // y
  EXPECT_EQ(Out("x = '\xF0\x9F\x98\x80'; y = a.@"), "ERROR 1:15: malformed E4X accessor");
  EXPECT_EQ(Out("<\xC3\xA9l\xC3\xA9ment/>"), "__sbXml``(`<\xC3\xA9l\xC3\xA9ment/>`, \"\")");
}

// ---- errors ---------------------------------------------------------------------------

TEST(E4xErrorTest, Namespaces) {
  EXPECT_EQ(Out("x = ns::name;"), "ERROR 1:5: E4X namespaces are not supported");
  EXPECT_EQ(Out("x = a.ns::y;"), "ERROR 1:7: E4X namespaces are not supported");
  EXPECT_EQ(Out("x = a.@ns::y;"), "ERROR 1:6: E4X namespaces are not supported");
  EXPECT_EQ(Out("a;\nb;\n  default xml namespace = 'u';"), "ERROR 3:3: E4X namespaces are not supported");
  EXPECT_EQ(Out("x = a.*::y;"), "ERROR 1:6: E4X namespaces are not supported");
  EXPECT_EQ(Out("x = a..ns::y;"), "ERROR 1:6: E4X namespaces are not supported");
  EXPECT_EQ(Out("x = (a)::y;"), "ERROR 1:8: E4X namespaces are not supported");
  EXPECT_EQ(Out("\n\nvar v = xml.sub.ns::x;"), "ERROR 3:17: E4X namespaces are not supported");
}

TEST(E4xErrorTest, Others) {
  EXPECT_EQ(Out("y = x.(a == 1);"), "ERROR 1:6: E4X filtering predicates are not supported");
  EXPECT_EQ(Out("y = x..b.(@c == 1);"), "ERROR 1:9: E4X filtering predicates are not supported");
  EXPECT_EQ(Out("y = x. (a);"), "ERROR 1:6: E4X filtering predicates are not supported");
  EXPECT_EQ(Out("y = x.@[n];"), "ERROR 1:6: E4X attribute access by expression (x.@[expr]) is not supported");
  EXPECT_EQ(Out("y = x. @a;"), "ERROR 1:6: " + std::string("whitespace inside an E4X accessor is not supported "
                                                           "(write x.@name, x..name)"));
  EXPECT_EQ(Out("y = x.@ a;"), "ERROR 1:6: " + std::string("whitespace inside an E4X accessor is not supported "
                                                           "(write x.@name, x..name)"));
  EXPECT_EQ(Out("y = x.@;"), "ERROR 1:6: malformed E4X accessor");
  EXPECT_EQ(Out("y = x?.@a;"), "ERROR 1:6: optional chaining of an E4X accessor (x?.@a, x?..n, x?.*) is not supported");
  EXPECT_EQ(Out("\n  v = x?..n;"),
            "ERROR 2:8: optional chaining of an E4X accessor (x?.@a, x?..n, x?.*) is not supported");
  EXPECT_EQ(Out("y = x?.*;"), "ERROR 1:6: optional chaining of an E4X accessor (x?.@a, x?..n, x?.*) is not supported");
  EXPECT_EQ(Out("y = x?.a; z = c ?.5 : 1;"), "y = x?.a; z = c ?.5 : 1;");
  EXPECT_EQ(Out("y = <?xml version='1.0'?>;"), "ERROR 1:5: E4X processing instruction literals are not supported");
  EXPECT_EQ(Out("y = <a><?pi x?></a>;"), "ERROR 1:8: XML processing instructions in E4X literals are not supported");
  EXPECT_EQ(Out("y = <{n}>x</{n}>;"), "ERROR 1:5: computed E4X names are not supported");
  EXPECT_EQ(Out("y = <a {n}=\"v\"/>;"), "ERROR 1:8: computed E4X names are not supported");
  EXPECT_EQ(Out("y = <a><{n}/></a>;"), "ERROR 1:8: computed E4X names are not supported");
  EXPECT_EQ(Out("y = <a></{n}>;"), "ERROR 1:8: computed E4X names are not supported");
  EXPECT_EQ(Out("y = <!-- c -->;"), "ERROR 1:5: E4X comment literals are not supported");
  EXPECT_EQ(Out("y = <![CDATA[x]]>;"),
            "ERROR 1:5: E4X comment and CDATA literals are not supported outside an element");
  EXPECT_EQ(Out("for each (x of y) {}"), "ERROR 1:1: for each needs the form for each (x in expr)");
  EXPECT_EQ(Out("for each x in y"), "ERROR 1:5: for each must be followed by (");
}

TEST(E4xErrorTest, MalformedLiterals) {
  EXPECT_EQ(Out("x = <a>\n  <b>\n</a>;"), "ERROR 3:1: E4X closing tag </a> does not match <b> at 2:3");
  EXPECT_EQ(Out("x = <a></>;"), "ERROR 1:8: E4X closing tag </> does not match <a> at 1:5");
  EXPECT_EQ(Out("x = <a b/>;"), "ERROR 1:8: E4X attribute b has no value");
  EXPECT_EQ(Out("x = <a b=c/>;"), "ERROR 1:10: an E4X attribute value must be quoted or {expression}");
  EXPECT_EQ(Out("x = <a b='1'c='2'/>;"), "ERROR 1:13: malformed E4X tag");
  EXPECT_EQ(Out("x = <a>1 < 2</a>;"), "ERROR 1:10: '<' in E4X text must start a tag (write &lt;)");
  EXPECT_EQ(Out("x = <><>t</></>;"), "ERROR 1:7: an E4X list literal <> cannot be nested");
  EXPECT_EQ(Out("x = <a></a b>;"), "ERROR 1:8: malformed E4X closing tag");
  EXPECT_EQ(Out("x = <a><!-- c </a>;"), "ERROR 1:8: unterminated XML comment in an E4X literal");
  EXPECT_EQ(Out("x = <a><![CDATA[ </a>;"), "ERROR 1:8: unterminated CDATA section in an E4X literal");
}

TEST(E4xErrorTest, UnterminatedNamesItsStart) {
  EXPECT_EQ(Out("f();\n  x = <a>\n<b>text</b>\n"), "ERROR 2:7: unterminated E4X literal: <a> at 2:7 is never closed");
  EXPECT_EQ(Out("x = <a><b>"), "ERROR 1:5: unterminated E4X literal: <b> at 1:8 is never closed");
  EXPECT_EQ(Out("x = <a b='1"), "ERROR 1:5: unterminated E4X literal: <a> at 1:5 is never closed");
  EXPECT_EQ(Out("x = <a b={c"), "ERROR 1:5: unterminated E4X literal: <a> at 1:5 is never closed");
  EXPECT_EQ(Out("x = <a>{c</a>;"), "ERROR 1:5: unterminated E4X literal: <a> at 1:5 is never closed");
  EXPECT_EQ(Out("x = <>"), "ERROR 1:5: unterminated E4X literal: <> at 1:5 is never closed");
  EXPECT_EQ(Out("x = <a"), "ERROR 1:5: unterminated E4X literal: <a> at 1:5 is never closed");
}

// ---- scale ------------------------------------------------------------------------------

TEST(E4xScaleTest, DeepNesting) {
  std::string open;
  std::string close;
  for (int i = 0; i < 5000; ++i) {
    open += "<e>";
    close += "</e>";
  }
  EXPECT_EQ(Out("x = " + open + close + ";"), "x = __sbXml``(`" + open + close + "`, \"\");");
  std::string braces = "x = ";
  std::string expected = "x = ";
  for (int i = 0; i < 100; ++i) {
    braces += "<a>{";
    expected += "__sbXml``(`<a>`, (0, ";
  }
  braces += "1";
  expected += "1";
  for (int i = 0; i < 100; ++i) {
    braces += "}</a>";
    expected += "), `</a>`, \"c\")";
  }
  EXPECT_EQ(Out(braces), expected);
  std::string too_deep;
  for (int i = 0; i < kMaxE4xNesting + 10; ++i) too_deep += "`${";
  EXPECT_EQ(Out(too_deep).substr(0, 6), "ERROR ");
  EXPECT_NE(Out(too_deep).find("nesting is too deep"), std::string::npos);
}

TEST(E4xScaleTest, HundredThousandLines) {
  std::string in;
  for (int i = 0; i < 100000; ++i) {
    switch (i % 4) {
      case 0: in += "var x = <row id={i} name=\"n\">text {v} more</row>;\n"; break;
      case 1: in += "if (a < b && c.@d == 'x') { for each (var e in x..item) log(e.@id); }\n"; break;
      case 2: in += "s = 'str <a>' + `t ${ /<re>/g.test(q) } ` + 1..toString(); // c <b>\n"; break;
      default: in += "r = a / b < c / d ? f(x) : g(y);\n"; break;
    }
  }
  auto start = std::chrono::steady_clock::now();
  Result<Transformed> r = TransformE4x(in);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::printf("100000 lines, %zu bytes: %.1f ms\n", in.size(), ms);
  EXPECT_EQ(Lines(r->code), Lines(in));
  EXPECT_EQ(r->map.ChangedLines(), 50000u);
  // Line 99998 (i = 99997, case 1): the e of `log(e.@id)` is input column 61, output 73.
  EXPECT_EQ(r->map.Original(99998, 73), (SourcePosition{99998, 61}));
}

}  // namespace
}  // namespace stagebridge::script
