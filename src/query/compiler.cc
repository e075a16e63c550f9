// compiler.cc — resolution, type checks and SQL generation of a queryDef.
#include "query/compiler.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "staging/values.h"

namespace stagebridge::query {
namespace {

using store::DialectKind;

struct Sql {
  std::string text;
  ValueType type = ValueType::kNull;
  bool predicate = false;  // an SQL boolean expression (comparison, AND, …), not a value
  bool aggregate = false;  // holds an aggregate function
  bool literal = false;    // a bound literal (or NULL)
};

bool IsNumeric(ValueType t) {
  return t == ValueType::kInteger || t == ValueType::kDouble || t == ValueType::kBoolean;
}
bool IsTemporal(ValueType t) {
  return t == ValueType::kDate || t == ValueType::kDatetime;
}

ValueType TypeOf(schema::AttrType t) {
  switch (t) {
    case schema::AttrType::kString:
    case schema::AttrType::kMemo:
    case schema::AttrType::kUuid: return ValueType::kString;
    case schema::AttrType::kLong:
    case schema::AttrType::kInt:
    case schema::AttrType::kInt64:
    case schema::AttrType::kShort:
    case schema::AttrType::kByte: return ValueType::kInteger;
    case schema::AttrType::kDouble:
    case schema::AttrType::kFloat: return ValueType::kDouble;
    case schema::AttrType::kBoolean: return ValueType::kBoolean;
    case schema::AttrType::kDate: return ValueType::kDate;
    case schema::AttrType::kDatetime:
    case schema::AttrType::kDatetimeNoTz: return ValueType::kDatetime;
  }
  return ValueType::kString;
}

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

Status TypeError(std::string_view message) {
  return CodedError(Status::Code::kInvalidArgument, codes::kTypeMismatch, message);
}

Status GroupingError(std::string_view message) {
  return CodedError(Status::Code::kInvalidArgument, codes::kGrouping, message);
}

// An alias becomes an XML attribute name: '@' then an NCName of at most 64
// characters, ASCII only.
Result<std::string> AliasName(std::string_view alias, std::string_view where) {
  auto bad = [&](std::string_view why) {
    return CodedError(Status::Code::kInvalidArgument, codes::kBadAlias,
                      fmt::format("The alias '{}' of {} is not usable: {}.", Quote(alias), where, why));
  };
  if (alias.size() < 2 || alias[0] != '@') return bad("an alias is '@' followed by a name, e.g. @total");
  std::string_view name = alias.substr(1);
  if (name.size() > 64) return bad("at most 64 characters");
  if (std::isalpha(static_cast<unsigned char>(name[0])) == 0 && name[0] != '_') {
    return bad("the name must start with a letter or '_'");
  }
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.') {
      return bad("letters, digits, '_', '-' and '.' only");
    }
  }
  if (Lower(name.substr(0, std::min<std::size_t>(3, name.size()))) == "xml") {
    return bad("names starting with 'xml' are reserved");
  }
  return std::string(name);
}

class Compiler {
 public:
  Compiler(const schema::Schema& schema, DialectKind dialect, const CompileOptions& options)
      : schema_(schema), pg_(dialect == DialectKind::kPostgres), options_(options) {}

  Result<CompiledQuery> Run(const QueryDef& q);

 private:
  enum class Context { kWhere, kSelect, kHaving, kOrder, kGroup };

  // ---- expressions ----

  Result<Sql> Top(const std::string& text, std::string_view what, Context ctx) {
    SB_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr(text, what, options_.expr_limits));
    std::string canonical = ExprToString(*e);
    last_canonical_ = canonical;
    // The same expression twice (select and groupBy or orderBy) is the same SQL
    // with the same parameters: PostgreSQL then knows it is one expression.
    bool memoised = ctx != Context::kWhere && ctx != Context::kHaving;
    if (memoised) {
      if (auto it = memo_.find(canonical); it != memo_.end()) {
        bare_field_ = it->second.second;
        return it->second.first;
      }
    }
    what_ = what;
    context_ = ctx;
    in_aggregate_ = false;
    bare_field_ = false;
    SB_ASSIGN_OR_RETURN(Sql s, Emit(*e, std::nullopt));
    if (memoised) memo_[canonical] = {s, bare_field_};
    return s;
  }

  std::string Bind(store::Value v, ValueType type) {
    params_.push_back(std::move(v));
    std::string n = "$" + std::to_string(params_.size());
    if (!pg_) return n;
    switch (type) {
      case ValueType::kString: return n + "::text";
      case ValueType::kInteger:
      case ValueType::kBoolean: return n + "::bigint";
      case ValueType::kDouble: return n + "::double precision";
      case ValueType::kDate: return n + "::date";
      case ValueType::kDatetime: return n + "::timestamptz";
      case ValueType::kNull: return n;
    }
    return n;
  }

  // "YYYY-MM-DD HH:MM:SS[.f]" in UTC (SQLite: as the columns compare; PostgreSQL: +00 added).
  Result<std::string> NormaliseDatetime(std::string_view text, std::size_t pos) {
    std::string t(text);
    if (t.size() == 10) t += " 00:00:00";
    schema::Attribute attr;
    attr.name = "literal";
    attr.type = schema::AttrType::kDatetime;
    Result<store::Value> v = staging::ConvertValue(attr, schema_.id(), t);
    if (!v.ok()) {
      return CodedError(Status::Code::kInvalidArgument, codes::kSyntax,
                        fmt::format("Invalid date '{}' in the {} at position {} (expected e.g. #2026-12-01# or "
                                    "#2026-12-01 10:00:00Z#).",
                                    Quote(text), what_, pos + 1));
    }
    std::string out = std::get<std::string>(*v);
    if (out.ends_with("+00")) out.resize(out.size() - 3);
    if (pg_) out += "+00";
    return out;
  }

  Result<std::string> NormaliseDate(std::string_view text, std::size_t pos) {
    schema::Attribute attr;
    attr.name = "literal";
    attr.type = schema::AttrType::kDate;
    Result<store::Value> v = staging::ConvertValue(attr, schema_.id(), text);
    if (!v.ok()) {
      return CodedError(Status::Code::kInvalidArgument, codes::kSyntax,
                        fmt::format("Invalid date '{}' in the {} at position {} (expected e.g. #2026-12-01#).",
                                    Quote(text), what_, pos + 1));
    }
    return std::get<std::string>(*v);
  }

  Result<Sql> Literal(store::Value v, ValueType type) {
    Sql s;
    s.type = type;
    s.literal = true;
    s.text = Bind(std::move(v), type);
    return s;
  }

  // A literal converted to the type of what it is compared with (`hint`): a
  // string against a datetime column is read as a datetime, a date against a
  // datetime as its midnight, a string against a number as a number.
  Result<Sql> EmitLiteral(const Expr& e, std::optional<ValueType> hint) {
    switch (e.kind) {
      case ExprKind::kString: {
        if (hint && IsTemporal(*hint)) {
          if (*hint == ValueType::kDate && e.text.size() == 10) {
            SB_ASSIGN_OR_RETURN(std::string d, NormaliseDate(e.text, e.pos));
            return Literal(d, ValueType::kDate);
          }
          SB_ASSIGN_OR_RETURN(std::string dt, NormaliseDatetime(e.text, e.pos));
          return Literal(dt, ValueType::kDatetime);
        }
        if (hint && *hint == ValueType::kBoolean && (e.text == "true" || e.text == "false")) {
          return Literal(std::int64_t{e.text == "true" ? 1 : 0}, ValueType::kBoolean);
        }
        if (hint && IsNumeric(*hint)) {
          double d = 0;
          std::int64_t i = 0;
          std::string_view t = e.text;
          auto [pi, ei] = std::from_chars(t.data(), t.data() + t.size(), i);
          if (!t.empty() && ei == std::errc() && pi == t.data() + t.size()) return Literal(i, ValueType::kInteger);
          auto [pd, ed] = std::from_chars(t.data(), t.data() + t.size(), d);
          if (!t.empty() && ed == std::errc() && pd == t.data() + t.size()) return Literal(d, ValueType::kDouble);
          return TypeError(
              fmt::format("In the {}: '{}' is not a number, and is compared with a number.", what_, Quote(e.text)));
        }
        return Literal(e.text, ValueType::kString);
      }
      case ExprKind::kInteger: return Literal(e.integer, ValueType::kInteger);
      case ExprKind::kDouble: return Literal(e.number, ValueType::kDouble);
      case ExprKind::kBoolean: return Literal(e.integer, ValueType::kBoolean);
      case ExprKind::kDate: {
        if (hint && *hint == ValueType::kDatetime) {
          SB_ASSIGN_OR_RETURN(std::string dt, NormaliseDatetime(e.text, e.pos));
          return Literal(dt, ValueType::kDatetime);
        }
        SB_ASSIGN_OR_RETURN(std::string d, NormaliseDate(e.text, e.pos));
        return Literal(d, ValueType::kDate);
      }
      case ExprKind::kDatetime: {
        SB_ASSIGN_OR_RETURN(std::string dt, NormaliseDatetime(e.text, e.pos));
        return Literal(dt, ValueType::kDatetime);
      }
      case ExprKind::kNull: {
        Sql s;
        s.text = "NULL";
        s.literal = true;
        return s;
      }
      default: break;
    }
    return Status::Internal("not a literal");
  }

  // "(x)" → "x", for SQL this compiler wrapped itself.
  static std::string Unwrap(const std::string& text) {
    if (text.size() >= 2 && text.front() == '(' && text.back() == ')') return text.substr(1, text.size() - 2);
    return text;
  }

  static bool IsLiteral(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kString:
      case ExprKind::kInteger:
      case ExprKind::kDouble:
      case ExprKind::kBoolean:
      case ExprKind::kDate:
      case ExprKind::kDatetime:
      case ExprKind::kNull: return true;
      default: return false;
    }
  }

  Result<Sql> Field(const Expr& e) {
    const schema::Attribute* a = schema_.FindAttribute(e.text);
    if (a == nullptr || a->role == schema::AttrRole::kInternal) {
      return CodedError(Status::Code::kInvalidArgument, codes::kUnknownAttribute,
                        fmt::format("The attribute '@{}' in the {} is not defined in schema '{}'.", Quote(e.text),
                                    what_, schema_.id()));
    }
    if (!in_aggregate_) bare_field_ = true;
    Sql s;
    s.type = TypeOf(a->type);
    // SQLite keeps datetimes as text, some with "+00": compare them without it.
    s.text = !pg_ && s.type == ValueType::kDatetime ? fmt::format("replace({}, '+00', '')", a->sql_name) : a->sql_name;
    return s;
  }

  Result<Sql> AsPredicate(Sql s, std::string_view what) {
    if (s.predicate) return s;
    if (IsNumeric(s.type)) {
      s.text = "(" + s.text + " <> 0)";
      s.predicate = true;
      s.type = ValueType::kBoolean;
      return s;
    }
    if (s.type == ValueType::kNull) {
      s.predicate = true;
      return s;
    }
    return TypeError(fmt::format("In the {}: {} must be a condition (true or false), not a {}.", what_, what,
                                 ValueTypeName(s.type)));
  }

  static Sql AsValue(Sql s) {
    if (!s.predicate) return s;
    s.text = fmt::format("(CASE WHEN {0} THEN 1 WHEN NOT {0} THEN 0 END)", s.text);
    s.predicate = false;
    s.type = ValueType::kBoolean;
    return s;
  }

  static bool Comparable(ValueType a, ValueType b) {
    if (a == ValueType::kNull || b == ValueType::kNull) return true;
    if (a == ValueType::kString && b == ValueType::kString) return true;
    if (IsNumeric(a) && IsNumeric(b)) return true;
    return IsTemporal(a) && IsTemporal(b);
  }

  // Emits both operands of a comparison, a literal one converted to the other's type.
  Status Operands(const Expr& lhs, const Expr& rhs, Sql& a, Sql& b) {
    if (IsLiteral(lhs) && !IsLiteral(rhs)) {
      SB_ASSIGN_OR_RETURN(b, Emit(rhs, std::nullopt));
      b = AsValue(std::move(b));
      SB_ASSIGN_OR_RETURN(a, Emit(lhs, b.type));
    } else {
      SB_ASSIGN_OR_RETURN(a, Emit(lhs, std::nullopt));
      a = AsValue(std::move(a));
      SB_ASSIGN_OR_RETURN(b, Emit(rhs, a.type));
      b = AsValue(std::move(b));
    }
    return Status::Ok();
  }

  // SQLite compares a date ('2026-12-01') with a datetime ('2026-12-01 10:00:00') as text: give the date its midnight.
  void AlignTemporal(Sql& a, Sql& b) const {
    if (pg_) return;
    if (a.type == ValueType::kDate && b.type == ValueType::kDatetime) a.text = "(" + a.text + " || ' 00:00:00')";
    if (b.type == ValueType::kDate && a.type == ValueType::kDatetime) b.text = "(" + b.text + " || ' 00:00:00')";
  }

  Status CheckComparable(const Sql& a, const Sql& b, const Expr& lhs, const Expr& rhs) const {
    if (Comparable(a.type, b.type)) return Status::Ok();
    return TypeError(fmt::format("In the {}: {} ({}) cannot be compared with {} ({}).", what_, Quote(ExprToString(lhs)),
                                 ValueTypeName(a.type), Quote(ExprToString(rhs)), ValueTypeName(b.type)));
  }

  std::string Collated(const Sql& s) const {
    return pg_ && s.type == ValueType::kString ? "(" + s.text + ") COLLATE \"C\"" : s.text;
  }

  Result<Sql> Emit(const Expr& e, std::optional<ValueType> hint) {
    if (IsLiteral(e)) return EmitLiteral(e, hint);
    switch (e.kind) {
      case ExprKind::kField: return Field(e);
      case ExprKind::kPath:
        return CodedError(
            Status::Code::kInvalidArgument, codes::kUnsupported,
            fmt::format("Links are not supported in queries ('[{}]' in the {}); use the link's foreign key, e.g. "
                        "[@{}-id].",
                        Quote(e.text), what_, Quote(e.text.substr(0, e.text.find('/')))));
      case ExprKind::kNot: {
        // NOT NOT x is x (also under SQL's three-valued logic): no nesting to pay for.
        if (e.args[0]->kind == ExprKind::kNot) {
          SB_ASSIGN_OR_RETURN(Sql inner, Emit(*e.args[0]->args[0], std::nullopt));
          return AsPredicate(std::move(inner), "the operand of NOT");
        }
        SB_ASSIGN_OR_RETURN(Sql a, Emit(*e.args[0], std::nullopt));
        SB_ASSIGN_OR_RETURN(a, AsPredicate(std::move(a), "the operand of NOT"));
        a.text = "(NOT " + a.text + ")";
        return a;
      }
      case ExprKind::kNegate: {
        if (e.args[0]->kind == ExprKind::kNegate) return Emit(*e.args[0]->args[0], std::nullopt);
        SB_ASSIGN_OR_RETURN(Sql a, Emit(*e.args[0], std::nullopt));
        a = AsValue(std::move(a));
        if (!IsNumeric(a.type) && a.type != ValueType::kNull) {
          return TypeError(
              fmt::format("In the {}: '-' applies to numbers, not to a {}.", what_, ValueTypeName(a.type)));
        }
        a.text = "(-" + a.text + ")";
        if (a.type == ValueType::kBoolean) a.type = ValueType::kInteger;
        a.literal = false;
        return a;
      }
      case ExprKind::kAnd:
      case ExprKind::kOr: {
        SB_ASSIGN_OR_RETURN(Sql a, Emit(*e.args[0], std::nullopt));
        SB_ASSIGN_OR_RETURN(a, AsPredicate(std::move(a), fmt::format("the left operand of {}", e.op)));
        SB_ASSIGN_OR_RETURN(Sql b, Emit(*e.args[1], std::nullopt));
        SB_ASSIGN_OR_RETURN(b, AsPredicate(std::move(b), fmt::format("the right operand of {}", e.op)));
        Sql s;
        // A chain (a OR b OR c) is written flat, as SQLite's parser needs it.
        s.text = "(" + (e.args[0]->kind == e.kind ? Unwrap(a.text) : a.text) + " " + e.op + " " + b.text + ")";
        s.type = ValueType::kBoolean;
        s.predicate = true;
        s.aggregate = a.aggregate || b.aggregate;
        return s;
      }
      case ExprKind::kCompare: {
        Sql a, b;
        SB_RETURN_IF_ERROR(Operands(*e.args[0], *e.args[1], a, b));
        SB_RETURN_IF_ERROR(CheckComparable(a, b, *e.args[0], *e.args[1]));
        AlignTemporal(a, b);
        bool ordering = e.op != "=" && e.op != "!=";
        Sql s;
        s.text = "(" + a.text + " " + (e.op == "!=" ? "<>" : e.op) + " " +
                 (ordering && a.type == ValueType::kString ? Collated(b) : b.text) + ")";
        s.type = ValueType::kBoolean;
        s.predicate = true;
        s.aggregate = a.aggregate || b.aggregate;
        return s;
      }
      case ExprKind::kLike: {
        SB_ASSIGN_OR_RETURN(Sql a, Emit(*e.args[0], std::nullopt));
        SB_ASSIGN_OR_RETURN(Sql b, Emit(*e.args[1], ValueType::kString));
        if ((a.type != ValueType::kString && a.type != ValueType::kNull) ||
            (b.type != ValueType::kString && b.type != ValueType::kNull)) {
          return TypeError(fmt::format("In the {}: LIKE compares strings; {} is a {}.", what_,
                                       Quote(ExprToString(a.type != ValueType::kString ? *e.args[0] : *e.args[1])),
                                       ValueTypeName(a.type != ValueType::kString ? a.type : b.type)));
        }
        if (e.args[1]->kind == ExprKind::kString) {
          std::size_t backslashes = 0;
          for (auto it = e.args[1]->text.rbegin(); it != e.args[1]->text.rend() && *it == '\\'; ++it) ++backslashes;
          if (backslashes % 2 == 1) {
            return CodedError(Status::Code::kInvalidArgument, codes::kSyntax,
                              fmt::format("The LIKE pattern '{}' in the {} ends with the escape character '\\'.",
                                          Quote(e.args[1]->text), what_));
          }
        }
        Sql s;
        s.text = pg_ ? fmt::format("({} LIKE {} ESCAPE '\\')", a.text, b.text)
                     : fmt::format("(sb_like({}, {}) = 1)", a.text, b.text);
        if (e.negated) s.text = "(NOT " + s.text + ")";
        s.type = ValueType::kBoolean;
        s.predicate = true;
        s.aggregate = a.aggregate || b.aggregate;
        return s;
      }
      case ExprKind::kIn: {
        SB_ASSIGN_OR_RETURN(Sql a, Emit(*e.args[0], std::nullopt));
        a = AsValue(std::move(a));
        std::string items;
        for (std::size_t i = 1; i < e.args.size(); ++i) {
          SB_ASSIGN_OR_RETURN(Sql b, Emit(*e.args[i], a.type));
          b = AsValue(std::move(b));
          SB_RETURN_IF_ERROR(CheckComparable(a, b, *e.args[0], *e.args[i]));
          Sql lhs = a;
          AlignTemporal(lhs, b);
          items += (i > 1 ? ", " : "") + b.text;
        }
        Sql s;
        s.text = fmt::format("({} {}IN ({}))", a.text, e.negated ? "NOT " : "", items);
        s.type = ValueType::kBoolean;
        s.predicate = true;
        s.aggregate = a.aggregate;
        return s;
      }
      case ExprKind::kIsNull: {
        SB_ASSIGN_OR_RETURN(Sql a, Emit(*e.args[0], std::nullopt));
        a = AsValue(std::move(a));
        Sql s;
        s.text = fmt::format("({} IS {}NULL)", a.text, e.negated ? "NOT " : "");
        s.type = ValueType::kBoolean;
        s.predicate = true;
        s.aggregate = a.aggregate;
        return s;
      }
      case ExprKind::kArith: return Arith(e);
      case ExprKind::kCall: return Call(e);
      default: break;
    }
    return Status::Internal("unexpected expression");
  }

  Result<Sql> Arith(const Expr& e) {
    Sql a, b;
    SB_RETURN_IF_ERROR(Operands(*e.args[0], *e.args[1], a, b));
    Sql s;
    s.aggregate = a.aggregate || b.aggregate;
    if (e.op == "+" && (a.type == ValueType::kString || b.type == ValueType::kString)) {
      // '+' joins strings (@lastName + '-' + @firstName).
      auto text = [](const Sql& x) {
        return x.type == ValueType::kString || x.type == ValueType::kNull ? x.text : "CAST(" + x.text + " AS TEXT)";
      };
      bool chain = e.args[0]->kind == ExprKind::kArith && e.args[0]->op == "+" && a.type == ValueType::kString;
      s.text = "(" + (chain ? Unwrap(a.text) : text(a)) + " || " + text(b) + ")";
      s.type = ValueType::kString;
      return s;
    }
    for (const auto* x : {&a, &b}) {
      if (!IsNumeric(x->type) && x->type != ValueType::kNull) {
        return TypeError(fmt::format("In the {}: '{}' applies to numbers (and '+' to strings), not to a {}.", what_,
                                     e.op, ValueTypeName(x->type)));
      }
    }
    if (e.op == "/") {
      s.text = fmt::format("(CAST({} AS {}) / NULLIF({}, 0))", a.text, pg_ ? "DOUBLE PRECISION" : "REAL", b.text);
      s.type = ValueType::kDouble;
      return s;
    }
    // Left-associative chains of one precedence are written flat: (a + b - c), (a * b * c).
    const Expr& left = *e.args[0];
    bool additive = e.op == "+" || e.op == "-";
    bool chain = left.kind == ExprKind::kArith && a.type != ValueType::kString &&
                 ((additive && (left.op == "+" || left.op == "-")) || (e.op == "*" && left.op == "*"));
    s.text = "(" + (chain ? Unwrap(a.text) : a.text) + " " + e.op + " " + b.text + ")";
    s.type = a.type == ValueType::kDouble || b.type == ValueType::kDouble ? ValueType::kDouble : ValueType::kInteger;
    return s;
  }

  Status Arity(const Expr& e, std::size_t min, std::size_t max) const {
    if (e.args.size() >= min && e.args.size() <= max) return Status::Ok();
    std::string want = min == max ? std::to_string(min) : fmt::format("{} to {}", min, max);
    return CodedError(Status::Code::kInvalidArgument, codes::kUnknownFunction,
                      fmt::format("The function {} in the {} takes {} argument(s), not {}.", Quote(e.text), what_, want,
                                  e.args.size()));
  }

  Result<Sql> Arg(const Expr& e, std::size_t i, std::optional<ValueType> hint = std::nullopt) {
    SB_ASSIGN_OR_RETURN(Sql s, Emit(*e.args[i], hint));
    return AsValue(std::move(s));
  }

  Status Expect(const Expr& e, const Sql& s, bool ok, std::string_view wanted) const {
    if (ok || s.type == ValueType::kNull) return Status::Ok();
    return TypeError(
        fmt::format("In the {}: {} expects {}, not a {}.", what_, Quote(e.text), wanted, ValueTypeName(s.type)));
  }

  Result<Sql> Aggregate(const Expr& e, const std::string& name) {
    if (context_ == Context::kWhere) {
      return GroupingError(fmt::format("The aggregate {} cannot be used in a where condition ({}); use <having>.",
                                       Quote(e.text), what_));
    }
    if (in_aggregate_) {
      return GroupingError(fmt::format("Aggregates cannot be nested ({} in the {}).", Quote(e.text), what_));
    }
    Sql s;
    s.aggregate = true;
    if ((name == "count" || name == "countall") && e.args.empty()) {
      s.text = "COUNT(*)";
      s.type = ValueType::kInteger;
      return s;
    }
    SB_RETURN_IF_ERROR(Arity(e, 1, 1));
    in_aggregate_ = true;
    Result<Sql> arg = Arg(e, 0);
    in_aggregate_ = false;
    if (!arg.ok()) return arg.status();
    const Sql& a = *arg;
    if (name == "count") {
      s.text = "COUNT(" + a.text + ")";
      s.type = ValueType::kInteger;
    } else if (name == "countdistinct") {
      s.text = "COUNT(DISTINCT " + a.text + ")";
      s.type = ValueType::kInteger;
    } else if (name == "sum" || name == "avg") {
      SB_RETURN_IF_ERROR(Expect(e, a, IsNumeric(a.type), "a number"));
      s.text = (name == "sum" ? "SUM(" : "AVG(") + a.text + ")";
      s.type = name == "avg" || a.type == ValueType::kDouble ? ValueType::kDouble : ValueType::kInteger;
    } else {  // min, max
      s.text = (name == "min" ? "MIN(" : "MAX(") + Collated(a) + ")";
      s.type = a.type == ValueType::kBoolean ? ValueType::kInteger : a.type;
    }
    return s;
  }

  Result<Sql> Call(const Expr& e) {
    std::string name = Lower(e.text);
    static const std::set<std::string> kAggregates = {"count", "countall", "countdistinct", "sum", "avg", "min", "max"};
    if (kAggregates.count(name) != 0) return Aggregate(e, name);
    Sql s;
    if (name == "lower" || name == "upper" || name == "trim" || name == "ltrim" || name == "rtrim") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0, ValueType::kString));
      SB_RETURN_IF_ERROR(Expect(e, a, a.type == ValueType::kString, "a string"));
      s.text = name + "(" + a.text + ")";
      s.type = ValueType::kString;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "length") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0, ValueType::kString));
      SB_RETURN_IF_ERROR(Expect(e, a, a.type == ValueType::kString, "a string"));
      s.text = "length(" + a.text + ")";
      s.type = ValueType::kInteger;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "substring") {
      // Substring(s, start[, length]): 1-based like SQL; a start below 1 counts as 1
      // (so the console's Substring(x, 0, 3) is the first three characters).
      SB_RETURN_IF_ERROR(Arity(e, 2, 3));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0, ValueType::kString));
      SB_RETURN_IF_ERROR(Expect(e, a, a.type == ValueType::kString, "a string as its first argument"));
      SB_ASSIGN_OR_RETURN(Sql start, Arg(e, 1, ValueType::kInteger));
      SB_RETURN_IF_ERROR(Expect(e, start, IsNumeric(start.type), "a number as its start"));
      std::string max = pg_ ? "GREATEST" : "max";
      s.text = fmt::format("substr({}, CAST({}({}, 1) AS INTEGER)", a.text, max, start.text);
      if (e.args.size() == 3) {
        SB_ASSIGN_OR_RETURN(Sql len, Arg(e, 2, ValueType::kInteger));
        SB_RETURN_IF_ERROR(Expect(e, len, IsNumeric(len.type), "a number as its length"));
        s.text += fmt::format(", CAST({}({}, 0) AS INTEGER)", max, len.text);
        s.aggregate = len.aggregate;
      }
      s.text += ")";
      s.type = ValueType::kString;
      s.aggregate = s.aggregate || a.aggregate || start.aggregate;
      return s;
    }
    if (name == "coalesce") {
      SB_RETURN_IF_ERROR(Arity(e, 2, 16));
      SB_ASSIGN_OR_RETURN(Sql first, Arg(e, 0));
      s.type = first.type;
      s.text = "COALESCE(" + first.text;
      s.aggregate = first.aggregate;
      for (std::size_t i = 1; i < e.args.size(); ++i) {
        SB_ASSIGN_OR_RETURN(Sql b, Arg(e, i, s.type == ValueType::kNull ? std::nullopt : std::optional(s.type)));
        SB_RETURN_IF_ERROR(CheckComparable(first, b, *e.args[0], *e.args[i]));
        if (s.type == ValueType::kNull) s.type = b.type;
        s.text += ", " + b.text;
        s.aggregate = s.aggregate || b.aggregate;
      }
      s.text += ")";
      return s;
    }
    if (name == "isnull") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0));
      s.text = "(" + a.text + " IS NULL)";
      s.type = ValueType::kBoolean;
      s.predicate = true;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "iif") {
      SB_RETURN_IF_ERROR(Arity(e, 3, 3));
      SB_ASSIGN_OR_RETURN(Sql c, Emit(*e.args[0], std::nullopt));
      SB_ASSIGN_OR_RETURN(c, AsPredicate(std::move(c), "the condition of Iif"));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 1));
      SB_ASSIGN_OR_RETURN(Sql b, Arg(e, 2, a.type == ValueType::kNull ? std::nullopt : std::optional(a.type)));
      SB_RETURN_IF_ERROR(CheckComparable(a, b, *e.args[1], *e.args[2]));
      s.text = fmt::format("(CASE WHEN {} THEN {} ELSE {} END)", c.text, a.text, b.text);
      s.type = a.type == ValueType::kNull ? b.type : a.type;
      s.aggregate = c.aggregate || a.aggregate || b.aggregate;
      return s;
    }
    if (name == "getdate") {
      SB_RETURN_IF_ERROR(Arity(e, 0, 0));
      s.text = pg_ ? "CURRENT_TIMESTAMP" : "strftime('%Y-%m-%d %H:%M:%f', 'now')";
      s.type = ValueType::kDatetime;
      return s;
    }
    static const std::map<std::string, std::pair<const char*, const char*>> kParts = {
        {"year", {"YEAR", "%Y"}}, {"month", {"MONTH", "%m"}},   {"day", {"DAY", "%d"}},
        {"hour", {"HOUR", "%H"}}, {"minute", {"MINUTE", "%M"}}, {"second", {"SECOND", "%S"}}};
    if (auto part = kParts.find(name); part != kParts.end()) {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0, ValueType::kDatetime));
      SB_RETURN_IF_ERROR(Expect(e, a, IsTemporal(a.type), "a date or a datetime"));
      s.text = pg_ ? fmt::format("CAST(FLOOR(EXTRACT({} FROM {})) AS INTEGER)", part->second.first, a.text)
                   : fmt::format("CAST(strftime('{}', {}) AS INTEGER)", part->second.second, a.text);
      s.type = ValueType::kInteger;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "dateonly") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0, ValueType::kDatetime));
      SB_RETURN_IF_ERROR(Expect(e, a, IsTemporal(a.type), "a date or a datetime"));
      s.text = pg_ ? "CAST(" + a.text + " AS DATE)" : "date(" + a.text + ")";
      s.type = ValueType::kDate;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "tostring") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0));
      if (a.type == ValueType::kDatetime) {
        s.text = pg_ ? "to_char(" + a.text + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                     : "strftime('%Y-%m-%d %H:%M:%S', " + a.text + ")";
      } else {
        s.text = "CAST(" + a.text + " AS TEXT)";
      }
      s.type = ValueType::kString;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "tonumber") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0));
      SB_RETURN_IF_ERROR(Expect(e, a, a.type == ValueType::kString || IsNumeric(a.type), "a string or a number"));
      if (IsNumeric(a.type)) {
        s.text = fmt::format("CAST({} AS {})", a.text, pg_ ? "DOUBLE PRECISION" : "REAL");
      } else if (pg_) {
        // NULL for a text that is not a decimal number (SQLite's sb_to_number does the same).
        s.text = fmt::format(
            "(CASE WHEN {0} ~ '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$' "
            "THEN CAST({0} AS DOUBLE PRECISION) END)",
            a.text);
      } else {
        s.text = "sb_to_number(" + a.text + ")";
      }
      s.type = ValueType::kDouble;
      s.aggregate = a.aggregate;
      return s;
    }
    if (name == "abs") {
      SB_RETURN_IF_ERROR(Arity(e, 1, 1));
      SB_ASSIGN_OR_RETURN(Sql a, Arg(e, 0));
      SB_RETURN_IF_ERROR(Expect(e, a, IsNumeric(a.type), "a number"));
      s.text = "abs(" + a.text + ")";
      s.type = a.type == ValueType::kBoolean ? ValueType::kInteger : a.type;
      s.aggregate = a.aggregate;
      return s;
    }
    return CodedError(Status::Code::kInvalidArgument, codes::kUnknownFunction,
                      fmt::format("The function '{}' in the {} is not supported. Supported: Lower, Upper, Trim, "
                                  "Ltrim, Rtrim, Length, Substring, Coalesce, IsNull, Iif, Count, CountAll, "
                                  "CountDistinct, Sum, Min, Max, Avg, GetDate, Year, Month, Day, Hour, Minute, "
                                  "Second, DateOnly, ToString, ToNumber, Abs.",
                                  Quote(e.text), what_));
  }

  // ---- conditions ----

  // Consecutive AND-joined conditions bind tighter than OR (SQL precedence).
  Result<std::string> Conditions(const std::vector<Condition>& list, Context ctx) {
    std::string out;
    std::string conjunction;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Condition& c = list[i];
      std::string part;
      if (!c.group.empty()) {
        SB_ASSIGN_OR_RETURN(part, Conditions(c.group, ctx));
      } else {
        SB_ASSIGN_OR_RETURN(Sql s, Top(c.expr, c.where, ctx));
        SB_ASSIGN_OR_RETURN(s, AsPredicate(std::move(s), "the condition"));
        if (ctx == Context::kHaving && !s.aggregate && group_keys_.empty()) {
          return GroupingError(fmt::format("The {} uses no aggregate and the query groups nothing.", c.where));
        }
        part = s.text;
      }
      conjunction += (conjunction.empty() ? "" : " AND ") + part;
      if (c.or_next || i + 1 == list.size()) {
        out += (out.empty() ? "" : " OR ") + ("(" + conjunction + ")");
        conjunction.clear();
      }
    }
    return "(" + out + ")";
  }

  // A non-aggregated reference to a field in a grouped query must be grouped.
  Status CheckGrouped(std::string_view what) const {
    if (!grouped_) return Status::Ok();
    if (group_keys_.count(last_canonical_) != 0) return Status::Ok();
    if (!bare_field_) return Status::Ok();
    return GroupingError(fmt::format("The {} ({}) must be grouped (groupBy) or aggregated, since the query {}.", what,
                                     Quote(last_canonical_),
                                     group_keys_.empty() ? "uses an aggregate" : "groups its rows"));
  }

  const schema::Schema& schema_;
  bool pg_;
  const CompileOptions& options_;
  store::Params params_;
  std::map<std::string, std::pair<Sql, bool>> memo_;  // canonical text → SQL, has a bare field
  std::string what_;
  std::string last_canonical_;
  Context context_ = Context::kWhere;
  bool in_aggregate_ = false;
  bool bare_field_ = false;
  bool grouped_ = false;
  std::set<std::string> group_keys_;
};

Result<CompiledQuery> Compiler::Run(const QueryDef& q) {
  CompiledQuery out;
  out.operation = q.operation;
  out.element = schema_.name;

  // The select list: an empty one is every public attribute.
  std::vector<SelectNode> select = q.select;
  bool counting = q.operation == Operation::kCount;
  if (counting && !q.distinct) select.clear();  // count ignores <select> (unless distinct)
  if (select.empty() && !counting) {
    for (const schema::Attribute* a : PublicAttributes(schema_)) select.push_back({"@" + a->name, "", false});
  }
  struct Column {
    Sql sql;
    std::string canonical;
    bool has_bare_field = false;
  };
  std::vector<Column> columns;
  std::set<std::string> names;
  std::vector<std::string> group_sql;
  for (std::size_t i = 0; i < select.size(); ++i) {
    const SelectNode& node = select[i];
    std::string what = fmt::format("select node {}", i + 1);
    bare_field_ = false;
    SB_ASSIGN_OR_RETURN(Sql s, Top(node.expr, what, Context::kSelect));
    s = AsValue(std::move(s));
    Column col{s, last_canonical_, bare_field_};
    std::string name;
    if (!node.alias.empty()) {
      SB_ASSIGN_OR_RETURN(name, AliasName(node.alias, what));
    } else {
      SB_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr(node.expr, what, options_.expr_limits));
      if (e->kind != ExprKind::kField) {
        return CodedError(
            Status::Code::kInvalidArgument, codes::kBadAlias,
            fmt::format("The {} ('{}') is computed: give it an alias, e.g. alias=\"@value\".", what, Quote(node.expr)));
      }
      name = e->text;
    }
    if (!names.insert(name).second) {
      return CodedError(Status::Code::kInvalidArgument, codes::kBadAlias,
                        fmt::format("Two select nodes render as the attribute '{}'; give one an alias.", name));
    }
    out.columns.push_back({name, s.type == ValueType::kNull ? ValueType::kString : s.type});
    if (node.group_by) {
      group_keys_.insert(col.canonical);
      group_sql.push_back(s.text);
    }
    columns.push_back(std::move(col));
  }
  for (std::size_t i = 0; i < q.group_by.size(); ++i) {
    bare_field_ = false;
    SB_ASSIGN_OR_RETURN(Sql s, Top(q.group_by[i], fmt::format("groupBy node {}", i + 1), Context::kGroup));
    if (s.aggregate) return GroupingError(fmt::format("groupBy node {} is an aggregate.", i + 1));
    if (group_keys_.insert(last_canonical_).second) group_sql.push_back(AsValue(s).text);
  }
  bool any_aggregate = std::any_of(columns.begin(), columns.end(), [](const Column& c) { return c.sql.aggregate; });
  grouped_ = !group_keys_.empty() || any_aggregate || !q.having.empty();
  if (grouped_) {
    for (std::size_t i = 0; i < columns.size(); ++i) {
      last_canonical_ = columns[i].canonical;
      bare_field_ = columns[i].has_bare_field;
      SB_RETURN_IF_ERROR(CheckGrouped(fmt::format("select node {}", i + 1)));
    }
  }

  std::string where;
  if (!q.where.empty()) {
    SB_ASSIGN_OR_RETURN(where, Conditions(q.where, Context::kWhere));
  }
  std::string having;
  if (!q.having.empty()) {
    SB_ASSIGN_OR_RETURN(having, Conditions(q.having, Context::kHaving));
  }

  std::vector<std::string> order;
  std::set<std::string> ordered;
  for (std::size_t i = 0; i < q.order_by.size(); ++i) {
    std::string what = fmt::format("orderBy node {}", i + 1);
    bare_field_ = false;
    SB_ASSIGN_OR_RETURN(Sql s, Top(q.order_by[i].expr, what, Context::kOrder));
    s = AsValue(std::move(s));
    SB_RETURN_IF_ERROR(CheckGrouped(what));
    bool desc = q.order_by[i].desc;
    if (q.distinct) {
      // DISTINCT rows are ordered outside, by their output columns.
      auto it =
          std::find_if(columns.begin(), columns.end(), [&](const Column& c) { return c.canonical == last_canonical_; });
      if (it == columns.end()) {
        return GroupingError(
            fmt::format("With distinct, the {} ({}) must also be selected.", what, Quote(last_canonical_)));
      }
      s = Sql{fmt::format("q.c{}", it - columns.begin()), s.type};
    }
    ordered.insert(last_canonical_);
    order.push_back(fmt::format("{} {} NULLS {}", Collated(s), desc ? "DESC" : "ASC", desc ? "LAST" : "FIRST"));
  }
  // A deterministic tie-break makes pages stable: the primary key, or the
  // grouped / distinct values.
  if (q.operation != Operation::kCount) {
    if (q.distinct) {
      for (std::size_t i = 0; i < columns.size(); ++i) {
        if (!ordered.insert(columns[i].canonical).second) continue;
        order.push_back(Collated(Sql{fmt::format("q.c{}", i), columns[i].sql.type}) + " ASC NULLS FIRST");
      }
    } else if (grouped_) {
      for (const std::string& key : group_keys_) {
        if (ordered.count(key) != 0) continue;
        auto it = memo_.find(key);
        if (it != memo_.end()) order.push_back(Collated(AsValue(it->second.first)) + " ASC NULLS FIRST");
      }
    } else if (const schema::Key* pk = schema_.primary_key()) {
      for (const std::string& f : pk->fields) {
        const schema::Attribute* a = schema_.FindAttribute(f);
        if (a == nullptr || ordered.count("@" + f) != 0) continue;
        order.push_back(Collated(Sql{a->sql_name, TypeOf(a->type)}) + " ASC");
      }
    }
  }

  std::string from = " FROM " + schema_.sql_table;
  if (!where.empty()) from += " WHERE " + where;
  std::string group_clause;
  if (!group_sql.empty()) group_clause = " GROUP BY " + fmt::format("{}", fmt::join(group_sql, ", "));
  if (!having.empty()) group_clause += " HAVING " + having;

  std::vector<std::string> select_sql;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    select_sql.push_back(fmt::format("{} AS c{}", columns[i].sql.text, i));
  }
  std::string list = fmt::format("{}", fmt::join(select_sql, ", "));

  if (q.operation == Operation::kCount) {
    if (q.distinct || !group_clause.empty()) {
      out.sql = fmt::format("SELECT COUNT(*) FROM (SELECT {}{}{}{}) q", q.distinct ? "DISTINCT " : "",
                            q.distinct && !list.empty() ? list : "1 AS c", from, group_clause);
    } else {
      out.sql = "SELECT COUNT(*)" + from;
    }
    out.columns.clear();
    out.params = std::move(params_);
    return out;
  }
  out.sql = q.distinct ? fmt::format("SELECT * FROM (SELECT DISTINCT {}{}{}) q", list, from, group_clause)
                       : fmt::format("SELECT {}{}{}", list, from, group_clause);
  if (!order.empty()) out.sql += " ORDER BY " + fmt::format("{}", fmt::join(order, ", "));
  if (q.operation == Operation::kSelect) {
    std::int64_t rows = q.line_count.value_or(0) == 0 ? options_.default_rows : *q.line_count;
    rows = std::min(rows, options_.max_rows);
    out.sql += fmt::format(" LIMIT {} OFFSET {}", rows, q.start_line);
  } else {
    out.sql += " LIMIT 1";
  }
  out.params = std::move(params_);
  return out;
}

}  // namespace

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kNull: return "null";
    case ValueType::kString: return "string";
    case ValueType::kInteger: return "integer";
    case ValueType::kDouble: return "number";
    case ValueType::kBoolean: return "boolean";
    case ValueType::kDate: return "date";
    case ValueType::kDatetime: return "datetime";
  }
  return "value";
}

std::vector<const schema::Attribute*> PublicAttributes(const schema::Schema& schema) {
  std::vector<const schema::Attribute*> out;
  for (const schema::Attribute& a : schema.attributes) {
    if (a.role != schema::AttrRole::kInternal) out.push_back(&a);
  }
  return out;
}

Result<CompiledQuery> Compile(const QueryDef& query, const schema::Schema& schema, store::DialectKind dialect,
                              const CompileOptions& options) {
  Compiler compiler(schema, dialect, options);
  SB_ASSIGN_OR_RETURN(CompiledQuery compiled, compiler.Run(query));
  // SQLite's parser has a fixed stack: a query it cannot parse is refused here,
  // by the nesting of its SQLite form, on both databases alike.
  std::string sqlite_sql = compiled.sql;
  if (dialect != DialectKind::kSqlite) {
    Compiler lite(schema, DialectKind::kSqlite, options);
    SB_ASSIGN_OR_RETURN(CompiledQuery other, lite.Run(query));
    sqlite_sql = std::move(other.sql);
  }
  if (std::size_t nesting = SqlNesting(sqlite_sql); nesting > kMaxSqlNesting) {
    return CodedError(Status::Code::kInvalidArgument, codes::kLimits,
                      fmt::format("The query is nested too deeply for the database ({} levels, at most {}; a "
                                  "function call counts 3, a parenthesis 1): simplify its expressions.",
                                  nesting, kMaxSqlNesting));
  }
  return compiled;
}

std::size_t SqlNesting(std::string_view sql) {
  std::vector<std::size_t> costs;
  std::size_t depth = 0;
  std::size_t deepest = 0;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote != 0) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      bool call = i > 0 && (std::isalnum(static_cast<unsigned char>(sql[i - 1])) != 0 || sql[i - 1] == '_');
      bool cases = sql.substr(i + 1, 5) == "CASE ";
      std::size_t cost = call || cases ? 3 : 1;
      costs.push_back(cost);
      depth += cost;
      deepest = std::max(deepest, depth);
    } else if (c == ')' && !costs.empty()) {
      depth -= costs.back();
      costs.pop_back();
    }
  }
  return deepest;
}

}  // namespace stagebridge::query
