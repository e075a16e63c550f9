// expr_test.cc — the expression parser: every form, precedence, errors with
// positions, and the bounds that keep hostile input from exhausting the stack.
#include "query/expr.h"

#include <gtest/gtest.h>

namespace stagebridge::query {
namespace {

std::string Parsed(std::string_view text) {
  Result<ExprPtr> e = ParseExpr(text, "test expression");
  if (!e.ok()) return "ERROR " + e.status().message();
  return ExprToString(**e);
}

std::string ErrorOf(std::string_view text, const ExprLimits& limits = {}) {
  Result<ExprPtr> e = ParseExpr(text, "where condition 1", limits);
  return e.ok() ? "parsed" : e.status().message();
}

TEST(ExprTest, FieldsAndLiterals) {
  EXPECT_EQ(Parsed("@testcol1"), "@testcol1");
  EXPECT_EQ(Parsed("[@recipient-id]"), "@recipient-id");
  EXPECT_EQ(Parsed("'O''Brien'"), "'O\\'Brien'");
  EXPECT_EQ(Parsed("'O\\'Brien'"), "'O\\'Brien'");
  EXPECT_EQ(Parsed("\"double \"\"quoted\"\"\""), "'double \"quoted\"'");
  EXPECT_EQ(Parsed("'back\\\\slash'"), "'back\\\\slash'");
  EXPECT_EQ(Parsed("12"), "12");
  EXPECT_EQ(Parsed("-4.5"), "-4.5");
  EXPECT_EQ(Parsed("1e3"), "1000");
  EXPECT_EQ(Parsed("#2026-12-01#"), "#2026-12-01#");
  EXPECT_EQ(Parsed("#2002/02/01#"), "#2002-02-01#");
  EXPECT_EQ(Parsed("# 2026-12-01 10:00:00Z #"), "#2026-12-01 10:00:00Z#");
  EXPECT_EQ(Parsed("TRUE"), "true");
  EXPECT_EQ(Parsed("false"), "false");
  EXPECT_EQ(Parsed("null"), "NULL");
}

TEST(ExprTest, UnknownBackslashSequencesAreKeptForLike) {
  Result<ExprPtr> e = ParseExpr("'50\\% off'", "x");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->text, "50\\% off");
}

TEST(ExprTest, PrecedenceFollowsSql) {
  EXPECT_EQ(Parsed("@a = 1 OR @b = 2 AND NOT @c = 3"), "((@a = 1) OR ((@b = 2) AND NOT (@c = 3)))");
  EXPECT_EQ(Parsed("(@a = 1 OR @b = 2) AND @c = 3"), "(((@a = 1) OR (@b = 2)) AND (@c = 3))");
  EXPECT_EQ(Parsed("@a + @b * 2 - 1"), "((@a + (@b * 2)) - 1)");
  EXPECT_EQ(Parsed("-@a / 2"), "(-@a / 2)");
  EXPECT_EQ(Parsed("@a <> 1"), "(@a != 1)");
  EXPECT_EQ(Parsed("@a>=1"), "(@a >= 1)");
  EXPECT_EQ(Parsed("@a<@b"), "(@a < @b)");
}

TEST(ExprTest, PredicatesAreCaseInsensitive) {
  EXPECT_EQ(Parsed("@a like 'x%'"), "(@a LIKE 'x%')");
  EXPECT_EQ(Parsed("@a Not Like 'x%'"), "(@a NOT LIKE 'x%')");
  EXPECT_EQ(Parsed("@age IN (15, 45)"), "(@age IN (15, 45))");
  EXPECT_EQ(Parsed("@city not in ('Newton', 'Culver City')"), "(@city NOT IN ('Newton', 'Culver City'))");
  EXPECT_EQ(Parsed("@a is null and @b IS NOT NULL"), "((@a IS NULL) AND (@b IS NOT NULL))");
}

TEST(ExprTest, FunctionCalls) {
  EXPECT_EQ(Parsed("Lower(@email)"), "lower(@email)");
  EXPECT_EQ(Parsed("COUNT()"), "count()");
  EXPECT_EQ(Parsed("Substring(@a, 0, 3)"), "substring(@a, 0, 3)");
  EXPECT_EQ(Parsed("Iif(@a < 2, 'small', \"big\")"), "iif((@a < 2), 'small', 'big')");
}

TEST(ExprTest, PathsAreParsedForTheCompilerToRefuse) {
  Result<ExprPtr> e = ParseExpr("[folder/@label]", "x");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->kind, ExprKind::kPath);
}

TEST(ExprTest, SyntaxErrorsNameTheExpressionAndThePosition) {
  EXPECT_EQ(ErrorOf("@testcol1 ="),
            "QRY-200003 Syntax error in the where condition 1 '@testcol1 =' at position 12: unexpected end of "
            "expression.");
  EXPECT_EQ(ErrorOf("@a = 'x"),
            "QRY-200003 Syntax error in the where condition 1 '@a = 'x' at position 6: "
            "unterminated string.");
  EXPECT_EQ(ErrorOf("@id = '1'; drop table x --'"),
            "QRY-200003 Syntax error in the where condition 1 '@id = '1'; drop table x --'' at position 10: "
            "unexpected character ';'.");
  EXPECT_EQ(ErrorOf("@id) or (1=1"),
            "QRY-200003 Syntax error in the where condition 1 '@id) or (1=1' at position 4: unexpected ')'.");
  EXPECT_NE(ErrorOf("$(sz) = 1").find("'$(…)' parameters are not supported"), std::string::npos);
  EXPECT_NE(ErrorOf("name = 1").find("'name' is not an attribute (write @name)"), std::string::npos);
  EXPECT_NE(ErrorOf("@").find("'@' must be followed by a name"), std::string::npos);
  EXPECT_NE(ErrorOf("@a IS 1").find("expected NULL after IS"), std::string::npos);
  EXPECT_NE(ErrorOf("@a NOT 1").find("expected LIKE or IN after NOT"), std::string::npos);
  EXPECT_NE(ErrorOf("@a IN 1").find("expected '(' after IN"), std::string::npos);
  EXPECT_NE(ErrorOf("99999999999999999999").find("integer out of range"), std::string::npos);
  EXPECT_NE(ErrorOf("12abc").find("invalid number"), std::string::npos);
  EXPECT_NE(ErrorOf("#2026-12-01").find("closing '#'"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("the expression is empty"), std::string::npos);
  EXPECT_NE(ErrorOf("Lower(@a").find("expected ',' or ')' in the arguments of Lower"), std::string::npos);
  EXPECT_NE(ErrorOf("(@a = 1").find("expected ')' to close the '(' at position 1"), std::string::npos);
  EXPECT_NE(ErrorOf("@a = 1 AND").find("unexpected end of expression"), std::string::npos);
}

TEST(ExprTest, HostileSizesAreRefusedNotRecursedInto) {
  EXPECT_EQ(ErrorOf(std::string(10000, '(') + "1" + std::string(10000, ')')).substr(0, 10), "QRY-200008");
  EXPECT_EQ(ErrorOf(std::string(200, '(') + "1" + std::string(200, ')')).substr(0, 10), "QRY-200008");
  EXPECT_EQ(ErrorOf(std::string(500, '-') + "@a").substr(0, 10), "QRY-200008");
  std::string nots;
  for (int i = 0; i < 1000; ++i) nots += "NOT ";
  EXPECT_EQ(ErrorOf(nots + "@a = 1").substr(0, 10), "QRY-200008");
  std::string chain = "@a = 0";
  for (int i = 1; i < 300; ++i) chain += " OR @a = " + std::to_string(i);
  EXPECT_EQ(ErrorOf(chain).substr(0, 10), "QRY-200008");
  std::string in = "@a IN (0";
  for (int i = 1; i <= 1000; ++i) in += ", " + std::to_string(i);
  EXPECT_EQ(ErrorOf(in + ")").substr(0, 10), "QRY-200008");
  EXPECT_EQ(ErrorOf(std::string(9000, ' ') + "@a").substr(0, 10), "QRY-200008");
  // A call is one level, like a parenthesis: 60 nested calls parse, 70 do not.
  auto calls = [](int n) {
    std::string e = "@a";
    for (int i = 0; i < n; ++i) e = "Lower(" + e + ")";
    return e;
  };
  EXPECT_EQ(ErrorOf(calls(60)), "parsed");
  EXPECT_EQ(ErrorOf(calls(70)).substr(0, 10), "QRY-200008");
  // Within the bounds: a nesting of 50 and a chain of 200 parse.
  EXPECT_EQ(ErrorOf(std::string(50, '(') + "@a" + std::string(50, ')')), "parsed");
  std::string ok_chain = "@a = 0";
  for (int i = 1; i < 200; ++i) ok_chain += " OR @a = " + std::to_string(i);
  EXPECT_EQ(ErrorOf(ok_chain), "parsed");
  std::string ok_in = "@a IN (0";
  for (int i = 1; i < 1000; ++i) ok_in += ", " + std::to_string(i);
  EXPECT_EQ(ErrorOf(ok_in + ")"), "parsed");
}

TEST(ExprTest, QuoteShortensLongText) {
  EXPECT_EQ(Quote("short"), "short");
  EXPECT_EQ(Quote(std::string(100, 'x')), std::string(80, 'x') + "…");
  EXPECT_EQ(Quote("a\nb"), "a b");
}

}  // namespace
}  // namespace stagebridge::query
