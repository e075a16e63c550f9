// expr.cc — tokenizer and recursive-descent parser of query expressions.
#include "query/expr.h"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace stagebridge::query {
namespace {

enum class Tok { kEnd, kField, kPath, kString, kInteger, kDouble, kDate, kIdent, kSymbol };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // field name, string value, identifier, symbol, date text
  std::int64_t integer = 0;
  double number = 0;
  std::size_t pos = 0;
};

bool IsNameStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view what, const ExprLimits& limits)
      : text_(text), what_(what), limits_(limits) {}

  Result<ExprPtr> Parse() {
    if (text_.size() > limits_.max_length) {
      return CodedError(
          Status::Code::kInvalidArgument, codes::kLimits,
          fmt::format("The {} is {} bytes long; at most {} are accepted.", what_, text_.size(), limits_.max_length));
    }
    SB_RETURN_IF_ERROR(Next());
    if (tok_.kind == Tok::kEnd) return Error(tok_.pos, "the expression is empty");
    SB_ASSIGN_OR_RETURN(ExprPtr e, ParseOr());
    if (tok_.kind != Tok::kEnd) return Error(tok_.pos, fmt::format("unexpected '{}'", Shown(tok_)));
    return e;
  }

 private:
  // ---- tokens ----

  Status Error(std::size_t pos, std::string_view why) const {
    return CodedError(
        Status::Code::kInvalidArgument, codes::kSyntax,
        fmt::format("Syntax error in the {} '{}' at position {}: {}.", what_, Quote(text_), pos + 1, why));
  }

  Status TooLarge(std::string_view why) const {
    return CodedError(Status::Code::kInvalidArgument, codes::kLimits,
                      fmt::format("The {} '{}' is too large: {}.", what_, Quote(text_), why));
  }

  static std::string Shown(const Token& t) {
    switch (t.kind) {
      case Tok::kEnd: return "end of expression";
      case Tok::kField: return "@" + t.text;
      case Tok::kString: return "'" + Quote(t.text) + "'";
      default: return Quote(t.text);
    }
  }

  Status Next() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
    tok_ = Token{};
    tok_.pos = at_;
    if (at_ >= text_.size()) return Status::Ok();
    char c = text_[at_];
    if (c == '@') return LexField();
    if (c == '[') return LexBracket();
    if (c == '\'' || c == '"') return LexString(c);
    if (c == '#') return LexDate();
    if (std::isdigit(static_cast<unsigned char>(c)) != 0 ||
        (c == '.' && at_ + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_ + 1])) != 0)) {
      return LexNumber();
    }
    if (IsNameStart(c)) {
      std::size_t start = at_;
      while (at_ < text_.size() && IsNameChar(text_[at_])) ++at_;
      tok_.kind = Tok::kIdent;
      tok_.text = std::string(text_.substr(start, at_ - start));
      return Status::Ok();
    }
    static constexpr std::string_view kTwo[] = {"!=", "<>", "<=", ">="};
    for (std::string_view two : kTwo) {
      if (text_.substr(at_, 2) == two) {
        tok_.kind = Tok::kSymbol;
        tok_.text = std::string(two);
        at_ += 2;
        return Status::Ok();
      }
    }
    if (std::string_view("=<>+-*/(),").find(c) != std::string_view::npos) {
      tok_.kind = Tok::kSymbol;
      tok_.text = std::string(1, c);
      ++at_;
      return Status::Ok();
    }
    if (c == '$') return Error(at_, "'$(…)' parameters are not supported");
    return Error(at_,
                 fmt::format("unexpected character '{}'", c < 0x20 || c > 0x7e ? std::string("?") : std::string(1, c)));
  }

  Status LexField() {
    std::size_t start = ++at_;
    if (at_ >= text_.size() || !IsNameStart(text_[at_])) return Error(start - 1, "'@' must be followed by a name");
    while (at_ < text_.size() && IsNameChar(text_[at_])) ++at_;
    tok_.kind = Tok::kField;
    tok_.text = std::string(text_.substr(start, at_ - start));
    return Status::Ok();
  }

  // [@name] (names may hold '-', e.g. [@recipient-id]) or [link/@attr].
  Status LexBracket() {
    std::size_t open = at_;
    std::size_t close = text_.find(']', at_);
    if (close == std::string_view::npos) return Error(open, "'[' without ']'");
    std::string_view inside = text_.substr(at_ + 1, close - at_ - 1);
    at_ = close + 1;
    bool path = inside.find('/') != std::string_view::npos;
    std::string_view name = inside;
    if (!path) {
      if (name.empty() || name[0] != '@') return Error(open, "expected [@name] or [link/@name]");
      name.remove_prefix(1);
    }
    if (name.empty()) return Error(open, "empty name in brackets");
    for (char ch : name) {
      if (!IsNameChar(ch) && ch != '-' && ch != '/' && ch != '@' && ch != ':') {
        return Error(open, "invalid character in a bracketed name");
      }
    }
    tok_.kind = path ? Tok::kPath : Tok::kField;
    tok_.text = std::string(name);
    return Status::Ok();
  }

  // '…' with \' \\ and '' escapes; another backslash sequence is kept as
  // written (so LIKE's \% and \_ survive); "…" likewise with \" and "".
  Status LexString(char quote) {
    std::size_t start = at_++;
    std::string value;
    while (true) {
      if (at_ >= text_.size()) return Error(start, "unterminated string");
      char ch = text_[at_];
      if (ch == '\\' && at_ + 1 < text_.size()) {
        char next = text_[at_ + 1];
        if (next == quote || next == '\\') {
          value.push_back(next);
        } else {
          value.push_back('\\');
          value.push_back(next);
        }
        at_ += 2;
        continue;
      }
      if (ch == quote) {
        if (at_ + 1 < text_.size() && text_[at_ + 1] == quote) {
          value.push_back(quote);
          at_ += 2;
          continue;
        }
        ++at_;
        break;
      }
      value.push_back(ch);
      ++at_;
    }
    tok_.kind = Tok::kString;
    tok_.text = std::move(value);
    return Status::Ok();
  }

  Status LexDate() {
    std::size_t start = at_;
    std::size_t close = text_.find('#', at_ + 1);
    if (close == std::string_view::npos) return Error(start, "'#' date without its closing '#'");
    std::string inside(text_.substr(at_ + 1, close - at_ - 1));
    at_ = close + 1;
    while (!inside.empty() && inside.back() == ' ') inside.pop_back();
    while (!inside.empty() && inside.front() == ' ') inside.erase(0, 1);
    for (std::size_t i = 0; i < inside.size() && i < 10; ++i) {
      if (inside[i] == '/') inside[i] = '-';  // #2002/02/01#
    }
    tok_.kind = Tok::kDate;
    tok_.text = std::move(inside);
    return Status::Ok();
  }

  Status LexNumber() {
    std::size_t start = at_;
    bool real = false;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
    if (at_ < text_.size() && text_[at_] == '.') {
      real = true;
      ++at_;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      std::size_t e = at_ + 1;
      if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) ++e;
      if (e < text_.size() && std::isdigit(static_cast<unsigned char>(text_[e])) != 0) {
        real = true;
        at_ = e;
        while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
      }
    }
    if (at_ < text_.size() && IsNameChar(text_[at_])) return Error(start, "invalid number");
    std::string_view digits = text_.substr(start, at_ - start);
    tok_.text = std::string(digits);
    if (!real) {
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), tok_.integer);
      if (ec != std::errc() || p != digits.data() + digits.size()) return Error(start, "integer out of range");
      tok_.kind = Tok::kInteger;
      return Status::Ok();
    }
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), tok_.number);
    if (ec != std::errc() || p != digits.data() + digits.size()) return Error(start, "number out of range");
    tok_.kind = Tok::kDouble;
    return Status::Ok();
  }

  bool IsSymbol(std::string_view s) const { return tok_.kind == Tok::kSymbol && tok_.text == s; }
  bool IsKeyword(std::string_view k) const { return tok_.kind == Tok::kIdent && EqualsNoCase(tok_.text, k); }

  // ---- tree ----

  Result<ExprPtr> Make(ExprKind kind, std::size_t pos) {
    if (++nodes_ > limits_.max_nodes) return TooLarge(fmt::format("more than {} terms", limits_.max_nodes));
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }

  // Makes `child` an operand of `e`. The tree's depth is bounded as well as the
  // parser's recursion (a left-associative chain grows the tree without
  // recursing), so later walks of the tree stay shallow too.
  Status Adopt(Expr& e, ExprPtr child) {
    e.depth = std::max(e.depth, child->depth + 1);
    e.args.push_back(std::move(child));
    if (e.depth > limits_.max_tree_depth) {
      return TooLarge(fmt::format("more than {} operators deep", limits_.max_tree_depth));
    }
    return Status::Ok();
  }

  // A guard on the parser's own recursion: no input can exhaust the stack.
  Status Enter() {
    if (++depth_ > limits_.max_depth) {
      return TooLarge(fmt::format("nested more than {} levels deep", limits_.max_depth));
    }
    return Status::Ok();
  }

  Result<ExprPtr> Binary(ExprKind kind, std::string op, std::size_t pos, ExprPtr lhs, ExprPtr rhs) {
    SB_ASSIGN_OR_RETURN(ExprPtr e, Make(kind, pos));
    e->op = std::move(op);
    SB_RETURN_IF_ERROR(Adopt(*e, std::move(lhs)));
    SB_RETURN_IF_ERROR(Adopt(*e, std::move(rhs)));
    return e;
  }

  Result<ExprPtr> ParseOr() {
    SB_RETURN_IF_ERROR(Enter());
    SB_ASSIGN_OR_RETURN(ExprPtr lhs, ParseAnd());
    while (IsKeyword("OR")) {
      std::size_t pos = tok_.pos;
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr rhs, ParseAnd());
      SB_ASSIGN_OR_RETURN(lhs, Binary(ExprKind::kOr, "OR", pos, std::move(lhs), std::move(rhs)));
    }
    --depth_;
    return lhs;
  }

  Result<ExprPtr> ParseAnd() {
    SB_ASSIGN_OR_RETURN(ExprPtr lhs, ParseNot());
    while (IsKeyword("AND")) {
      std::size_t pos = tok_.pos;
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr rhs, ParseNot());
      SB_ASSIGN_OR_RETURN(lhs, Binary(ExprKind::kAnd, "AND", pos, std::move(lhs), std::move(rhs)));
    }
    return lhs;
  }

  Result<ExprPtr> ParseNot() {
    if (IsKeyword("NOT")) {
      SB_RETURN_IF_ERROR(Enter());
      std::size_t pos = tok_.pos;
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
      SB_ASSIGN_OR_RETURN(ExprPtr e, Make(ExprKind::kNot, pos));
      SB_RETURN_IF_ERROR(Adopt(*e, std::move(operand)));
      --depth_;
      return e;
    }
    return ParseComparison();
  }

  Result<ExprPtr> ParseComparison() {
    SB_ASSIGN_OR_RETURN(ExprPtr lhs, ParseAdditive());
    std::size_t pos = tok_.pos;
    static constexpr std::string_view kOps[] = {"=", "!=", "<>", "<", "<=", ">", ">="};
    for (std::string_view op : kOps) {
      if (IsSymbol(op)) {
        SB_RETURN_IF_ERROR(Next());
        SB_ASSIGN_OR_RETURN(ExprPtr rhs, ParseAdditive());
        return Binary(ExprKind::kCompare, op == "<>" ? "!=" : std::string(op), pos, std::move(lhs), std::move(rhs));
      }
    }
    bool negated = false;
    if (IsKeyword("NOT")) {
      negated = true;
      SB_RETURN_IF_ERROR(Next());
      if (!IsKeyword("LIKE") && !IsKeyword("IN")) return Error(tok_.pos, "expected LIKE or IN after NOT");
    }
    if (IsKeyword("LIKE")) {
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr rhs, ParseAdditive());
      SB_ASSIGN_OR_RETURN(ExprPtr e, Binary(ExprKind::kLike, "LIKE", pos, std::move(lhs), std::move(rhs)));
      e->negated = negated;
      return e;
    }
    if (IsKeyword("IN")) return ParseIn(std::move(lhs), negated, pos);
    if (IsKeyword("IS")) {
      SB_RETURN_IF_ERROR(Next());
      bool is_not = false;
      if (IsKeyword("NOT")) {
        is_not = true;
        SB_RETURN_IF_ERROR(Next());
      }
      if (!IsKeyword("NULL")) return Error(tok_.pos, "expected NULL after IS");
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr e, Make(ExprKind::kIsNull, pos));
      e->negated = is_not;
      SB_RETURN_IF_ERROR(Adopt(*e, std::move(lhs)));
      return e;
    }
    return lhs;
  }

  Result<ExprPtr> ParseIn(ExprPtr lhs, bool negated, std::size_t pos) {
    SB_RETURN_IF_ERROR(Next());
    if (!IsSymbol("(")) return Error(tok_.pos, "expected '(' after IN");
    SB_RETURN_IF_ERROR(Enter());
    SB_RETURN_IF_ERROR(Next());
    SB_ASSIGN_OR_RETURN(ExprPtr e, Make(ExprKind::kIn, pos));
    e->negated = negated;
    SB_RETURN_IF_ERROR(Adopt(*e, std::move(lhs)));
    while (true) {
      if (e->args.size() > limits_.max_in_items) {
        return TooLarge(fmt::format("an IN list of more than {} values", limits_.max_in_items));
      }
      SB_ASSIGN_OR_RETURN(ExprPtr item, ParseAdditive());
      SB_RETURN_IF_ERROR(Adopt(*e, std::move(item)));
      if (IsSymbol(",")) {
        SB_RETURN_IF_ERROR(Next());
        continue;
      }
      if (IsSymbol(")")) break;
      return Error(tok_.pos, "expected ',' or ')' in the IN list");
    }
    SB_RETURN_IF_ERROR(Next());
    --depth_;
    return e;
  }

  Result<ExprPtr> ParseAdditive() {
    SB_ASSIGN_OR_RETURN(ExprPtr lhs, ParseMultiplicative());
    while (IsSymbol("+") || IsSymbol("-")) {
      std::string op = tok_.text;
      std::size_t pos = tok_.pos;
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr rhs, ParseMultiplicative());
      SB_ASSIGN_OR_RETURN(lhs, Binary(ExprKind::kArith, op, pos, std::move(lhs), std::move(rhs)));
    }
    return lhs;
  }

  Result<ExprPtr> ParseMultiplicative() {
    SB_ASSIGN_OR_RETURN(ExprPtr lhs, ParseUnary());
    while (IsSymbol("*") || IsSymbol("/")) {
      std::string op = tok_.text;
      std::size_t pos = tok_.pos;
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr rhs, ParseUnary());
      SB_ASSIGN_OR_RETURN(lhs, Binary(ExprKind::kArith, op, pos, std::move(lhs), std::move(rhs)));
    }
    return lhs;
  }

  Result<ExprPtr> ParseUnary() {
    if (IsSymbol("-")) {
      SB_RETURN_IF_ERROR(Enter());
      std::size_t pos = tok_.pos;
      SB_RETURN_IF_ERROR(Next());
      SB_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary());
      --depth_;
      // A negative literal stays a literal (so -9223372036854775808 is not needed).
      if (operand->kind == ExprKind::kInteger) {
        operand->integer = -operand->integer;
        operand->pos = pos;
        return operand;
      }
      if (operand->kind == ExprKind::kDouble) {
        operand->number = -operand->number;
        operand->pos = pos;
        return operand;
      }
      SB_ASSIGN_OR_RETURN(ExprPtr e, Make(ExprKind::kNegate, pos));
      SB_RETURN_IF_ERROR(Adopt(*e, std::move(operand)));
      return e;
    }
    return ParsePrimary();
  }

  Result<ExprPtr> ParsePrimary() {
    Token t = tok_;
    switch (t.kind) {
      case Tok::kEnd: return Error(t.pos, "unexpected end of expression");
      case Tok::kField:
      case Tok::kPath:
      case Tok::kString:
      case Tok::kDate: {
        ExprKind kind = t.kind == Tok::kField  ? ExprKind::kField
                        : t.kind == Tok::kPath ? ExprKind::kPath
                        : t.kind == Tok::kDate ? (t.text.size() == 10 ? ExprKind::kDate : ExprKind::kDatetime)
                                               : ExprKind::kString;
        SB_ASSIGN_OR_RETURN(ExprPtr e, Make(kind, t.pos));
        e->text = std::move(t.text);
        SB_RETURN_IF_ERROR(Next());
        return e;
      }
      case Tok::kInteger:
      case Tok::kDouble: {
        SB_ASSIGN_OR_RETURN(ExprPtr e, Make(t.kind == Tok::kInteger ? ExprKind::kInteger : ExprKind::kDouble, t.pos));
        e->integer = t.integer;
        e->number = t.number;
        e->text = t.text;
        SB_RETURN_IF_ERROR(Next());
        return e;
      }
      case Tok::kSymbol: {
        if (t.text != "(") return Error(t.pos, fmt::format("unexpected '{}'", t.text));
        SB_RETURN_IF_ERROR(Next());
        SB_ASSIGN_OR_RETURN(ExprPtr inner, ParseOr());
        if (!IsSymbol(")")) {
          return Error(tok_.pos, fmt::format("expected ')' to close the '(' at position {}", t.pos + 1));
        }
        SB_RETURN_IF_ERROR(Next());
        return inner;
      }
      case Tok::kIdent: break;
    }
    if (EqualsNoCase(t.text, "true") || EqualsNoCase(t.text, "false")) {
      SB_ASSIGN_OR_RETURN(ExprPtr e, Make(ExprKind::kBoolean, t.pos));
      e->integer = EqualsNoCase(t.text, "true") ? 1 : 0;
      SB_RETURN_IF_ERROR(Next());
      return e;
    }
    if (EqualsNoCase(t.text, "null")) {
      SB_ASSIGN_OR_RETURN(ExprPtr e, Make(ExprKind::kNull, t.pos));
      SB_RETURN_IF_ERROR(Next());
      return e;
    }
    static constexpr std::string_view kReserved[] = {"AND", "OR", "NOT", "LIKE", "IN", "IS"};
    for (std::string_view k : kReserved) {
      if (EqualsNoCase(t.text, k)) return Error(t.pos, fmt::format("unexpected keyword '{}'", t.text));
    }
    SB_RETURN_IF_ERROR(Next());
    if (!IsSymbol("(")) {
      return Error(
          t.pos, fmt::format("'{}' is not an attribute (write @{}) nor a function call", Quote(t.text), Quote(t.text)));
    }
    // No Enter() here: each argument is a ParseOr, which counts the level.
    SB_RETURN_IF_ERROR(Next());
    SB_ASSIGN_OR_RETURN(ExprPtr call, Make(ExprKind::kCall, t.pos));
    call->text = t.text;
    if (!IsSymbol(")")) {
      while (true) {
        SB_ASSIGN_OR_RETURN(ExprPtr arg, ParseOr());
        SB_RETURN_IF_ERROR(Adopt(*call, std::move(arg)));
        if (IsSymbol(",")) {
          SB_RETURN_IF_ERROR(Next());
          continue;
        }
        if (IsSymbol(")")) break;
        return Error(tok_.pos, fmt::format("expected ',' or ')' in the arguments of {}", Quote(t.text)));
      }
    }
    SB_RETURN_IF_ERROR(Next());
    return call;
  }

  std::string_view text_;
  std::string_view what_;
  const ExprLimits& limits_;
  std::size_t at_ = 0;
  Token tok_;
  std::size_t depth_ = 0;
  std::size_t nodes_ = 0;
};

}  // namespace

Result<ExprPtr> ParseExpr(std::string_view text, std::string_view what, const ExprLimits& limits) {
  Parser parser(text, what, limits);
  return parser.Parse();
}

std::string Quote(std::string_view text) {
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80 && ++chars > 80) {
      out += "…";
      break;
    }
    out.push_back(c < 0x20 ? ' ' : static_cast<char>(c));
  }
  return out;
}

std::string ExprToString(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kField: return "@" + e.text;
    case ExprKind::kPath: return "[" + e.text + "]";
    case ExprKind::kString: {
      std::string out = "'";
      for (char c : e.text) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      return out + "'";
    }
    case ExprKind::kInteger: return std::to_string(e.integer);
    case ExprKind::kDouble: return fmt::format("{}", e.number);
    case ExprKind::kDate:
    case ExprKind::kDatetime: return "#" + e.text + "#";
    case ExprKind::kBoolean: return e.integer != 0 ? "true" : "false";
    case ExprKind::kNull: return "NULL";
    case ExprKind::kNot: return "NOT " + ExprToString(*e.args[0]);
    case ExprKind::kNegate: return "-" + ExprToString(*e.args[0]);
    case ExprKind::kArith:
    case ExprKind::kCompare:
    case ExprKind::kAnd:
    case ExprKind::kOr: return "(" + ExprToString(*e.args[0]) + " " + e.op + " " + ExprToString(*e.args[1]) + ")";
    case ExprKind::kLike:
      return "(" + ExprToString(*e.args[0]) + (e.negated ? " NOT LIKE " : " LIKE ") + ExprToString(*e.args[1]) + ")";
    case ExprKind::kIsNull: return "(" + ExprToString(*e.args[0]) + (e.negated ? " IS NOT NULL)" : " IS NULL)");
    case ExprKind::kIn: {
      std::string out = "(" + ExprToString(*e.args[0]) + (e.negated ? " NOT IN (" : " IN (");
      for (std::size_t i = 1; i < e.args.size(); ++i) out += (i > 1 ? ", " : "") + ExprToString(*e.args[i]);
      return out + "))";
    }
    case ExprKind::kCall: {
      std::string name;
      for (char c : e.text) name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      std::string out = name + "(";
      for (std::size_t i = 0; i < e.args.size(); ++i) out += (i > 0 ? ", " : "") + ExprToString(*e.args[i]);
      return out + ")";
    }
  }
  return {};
}

}  // namespace stagebridge::query
