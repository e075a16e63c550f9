// expr.h — the platform's query expression language (`expr` of a queryDef
// node or condition), parsed into a tree. Nothing here knows a schema or SQL:
// names are resolved and SQL produced by the compiler (compiler.h).
//
//   @attr  [@attr]  'text' (\' \\ and '' escapes)  "text"  12  -4.5  #2026-12-01#
//   #2026-12-01 10:00:00Z#  true false null  = != <> < <= > >=  [NOT] LIKE
//   [NOT] IN (a, b)  IS [NOT] NULL  AND OR NOT  ( )  + - * /  Function(args)
//
// Keywords and function names are case-insensitive. The parser checks its
// depth before every descent, so no input can exhaust the stack; every error is
// a QRY-200003 (syntax) or QRY-200008 (limits) Status naming the expression and
// the position.
//
// Thread-safety: stateless functions; an Expr tree is a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace stagebridge::query {

// Error codes of the query engine (docs/faults.md).
namespace codes {
inline constexpr const char* kUnknownSchema = "QRY-200001";     // unknown or non-queryable schema
inline constexpr const char* kBadQueryDef = "QRY-200002";       // not a queryDef, bad attribute value
inline constexpr const char* kSyntax = "QRY-200003";            // expression syntax error
inline constexpr const char* kUnknownAttribute = "QRY-200004";  // unknown attribute in an expression
inline constexpr const char* kUnknownFunction = "QRY-200005";   // unknown or unsupported function
inline constexpr const char* kUnsupported = "QRY-200006";       // unsupported construct (sql, subQuery, links…)
inline constexpr const char* kTypeMismatch = "QRY-200007";      // operand types do not fit
inline constexpr const char* kLimits = "QRY-200008";            // expression or query too large
inline constexpr const char* kBadAlias = "QRY-200009";          // alias not usable as an XML attribute name
inline constexpr const char* kNotAllowed = "QRY-200010";        // the operator may not read the schema
inline constexpr const char* kNoRecord = "QRY-200011";          // get found no record
inline constexpr const char* kGrouping = "QRY-200012";          // aggregate / grouping misuse
inline constexpr const char* kUnavailable = "QRY-500001";       // database unavailable or query timed out
}  // namespace codes

enum class ExprKind {
  kField,     // text = attribute name (without '@')
  kPath,      // text = a bracketed path through a link ("folder/@label"); refused by the compiler
  kString,    // text = the value
  kInteger,   // integer
  kDouble,    // number
  kDate,      // text = "YYYY-MM-DD"
  kDatetime,  // text = ISO text as written between the '#'s (the compiler normalises it)
  kBoolean,   // integer = 0 / 1
  kNull,
  kNot,      // args[0]
  kNegate,   // unary minus: args[0]
  kArith,    // op = + - * /: args[0], args[1]
  kCompare,  // op = = != < <= > >= (<> is !=): args[0], args[1]
  kLike,     // args[0] LIKE args[1]; negated for NOT LIKE
  kIn,       // args[0] IN (args[1..]); negated for NOT IN
  kIsNull,   // args[0] IS NULL; negated for IS NOT NULL
  kAnd,      // args[0], args[1]
  kOr,       // args[0], args[1]
  kCall,     // text = function name as written; args
};

struct Expr {
  ExprKind kind = ExprKind::kNull;
  std::string text;
  std::string op;
  std::int64_t integer = 0;
  double number = 0;
  bool negated = false;
  std::size_t pos = 0;    // byte offset of the construct in the expression
  std::size_t depth = 1;  // of the tree below and including this node
  std::vector<std::unique_ptr<Expr>> args;
};

using ExprPtr = std::unique_ptr<Expr>;

struct ExprLimits {
  std::size_t max_length = 8192;     // bytes of one expression
  std::size_t max_depth = 64;        // nesting of parentheses, calls, NOT and unary minus
  std::size_t max_tree_depth = 256;  // depth of the tree (e.g. a chain of 256 ORs)
  std::size_t max_in_items = 1000;   // values of one IN list
  std::size_t max_nodes = 2000;      // nodes of one tree
};

// Parses one expression. `what` names it in messages ("where condition 2").
Result<ExprPtr> ParseExpr(std::string_view text, std::string_view what, const ExprLimits& limits = {});

// A canonical text of the tree (for comparing a select node with a groupBy or
// orderBy node, and for tests): "(@a = 'x')", "Lower(@b)".
std::string ExprToString(const Expr& e);

// The expression shortened for a message (at most 80 characters, "…").
std::string Quote(std::string_view text);

}  // namespace stagebridge::query
