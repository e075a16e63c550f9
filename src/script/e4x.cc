// e4x.cc — the E4X transform: one forward scan over the source, JavaScript
// tokens copied as they are, E4X constructs rewritten, and a segment list from
// which the position map is built at the end (e4x.h).
#include "script/e4x.h"

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace stagebridge::script {

SourcePosition PositionMap::Original(int line, int column) const {
  auto it =
      std::lower_bound(lines_.begin(), lines_.end(), line, [](const Line& l, int wanted) { return l.line < wanted; });
  if (it == lines_.end() || it->line != line) return {line, column};
  const std::vector<Piece>& pieces = it->pieces;
  auto next = std::upper_bound(pieces.begin(), pieces.end(), column,
                               [](int wanted, const Piece& p) { return wanted < p.out_column; });
  if (next == pieces.begin()) return {line, column};
  const Piece& p = *(next - 1);
  return {line, p.copied ? p.original_column + (column - p.out_column) : p.original_column};
}

void PositionMap::AddLine(int line, std::vector<Piece> pieces) {
  assert(lines_.empty() || lines_.back().line < line);
  lines_.push_back({line, std::move(pieces)});
}

namespace {

// A run of the output: from byte `out` on, either the input's bytes from `in` on
// (copied) or generated text standing for input byte `in`. Both offsets only grow.
struct Segment {
  std::size_t out = 0;
  std::size_t in = 0;
  bool copied = true;
};

// Columns a UTF-8 byte adds: lead bytes count 1, continuation bytes 0 — columns
// count characters (code points), as SpiderMonkey 102 counts the columns of its
// errors and stack frames (an emoji counts 1).
int Units(unsigned char b) {
  return (b & 0xC0) == 0x80 ? 0 : 1;
}

// The length of the line terminator at `at` (LF, CR, CR LF, U+2028, U+2029), or 0.
std::size_t LineBreakAt(std::string_view s, std::size_t at) {
  char c = s[at];
  if (c == '\n') return 1;
  if (c == '\r') return at + 1 < s.size() && s[at + 1] == '\n' ? 2 : 1;
  if (c == '\xE2' && at + 2 < s.size() && s[at + 1] == '\x80' && (s[at + 2] == '\xA8' || s[at + 2] == '\xA9')) {
    return 3;
  }
  return 0;
}

// The length of the (non line terminator) whitespace character at `at`, or 0.
std::size_t SpaceAt(std::string_view s, std::size_t at) {
  char c = s[at];
  if (c == ' ' || c == '\t' || c == '\v' || c == '\f') return 1;
  if (static_cast<unsigned char>(c) < 0x80) return 0;
  std::string_view rest = s.substr(at);
  if (rest.starts_with("\xC2\xA0")) return 2;                                          // NBSP
  if (rest.starts_with("\xEF\xBB\xBF") || rest.starts_with("\xE3\x80\x80")) return 3;  // BOM, ideographic
  auto third = rest.size() >= 3 ? static_cast<unsigned char>(rest[2]) : 0u;
  if (rest.size() >= 3 && rest[0] == '\xE2' && rest[1] == '\x80' &&
      ((third >= 0x80 && third <= 0x8A) || third == 0xAF)) {
    return 3;  // U+2000..U+200A, U+202F
  }
  if (rest.starts_with("\xE2\x81\x9F") || rest.starts_with("\xE1\x9A\x80")) return 3;  // U+205F, U+1680
  return 0;
}

bool IsAsciiLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsNonAscii(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentStart(char c) {
  return IsAsciiLetter(c) || c == '_' || c == '$' || c == '\\' || IsNonAscii(c);
}
bool IsIdentPart(char c) {
  return IsIdentStart(c) || IsDigit(c);
}
bool IsXmlNameStart(char c) {
  return IsAsciiLetter(c) || c == '_' || IsNonAscii(c);
}
bool IsXmlNamePart(char c) {
  return IsXmlNameStart(c) || IsDigit(c) || c == '-' || c == '.' || c == ':';
}
bool IsXmlSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Keywords after which an operand, not an operator, comes.
bool ExpectsOperand(std::string_view word) {
  static constexpr std::string_view kWords[] = {"return", "typeof", "case",  "in",    "of",    "instanceof", "new",
                                                "delete", "void",   "throw", "yield", "await", "else",       "do"};
  return std::find(std::begin(kWords), std::end(kWords), word) != std::end(kWords);
}

bool IsControlKeyword(std::string_view word) {
  return word == "if" || word == "while" || word == "for" || word == "with";
}

constexpr std::string_view kNamespaces = "E4X namespaces are not supported";
constexpr std::string_view kComputed = "computed E4X names are not supported";
constexpr std::string_view kAccessorSpace =
    "whitespace inside an E4X accessor is not supported (write x.@name, x..name)";

// What the previous significant token lets come next.
enum class Prev {
  kStart,     // start of input, `;`, `{`, `}`, a control `)`: a statement or an operand
  kOperator,  // an operator or a keyword such as `return`: an operand
  kOperand,   // an identifier, literal, `)` or `]`: an operator
  kDot,       // `.` or `?.`: a property name
};

bool OperandExpected(Prev p) {
  return p == Prev::kStart || p == Prev::kOperator;
}

// Where a nested ScanCode stops: at the end of the input, or at the `}` or `)`
// that closes what opened it (left unconsumed).
enum class Stop { kEnd, kBrace, kParen };

class Transformer {
 public:
  explicit Transformer(std::string_view src) : src_(src) { out_.reserve(src.size() + src.size() / 8); }

  Result<Transformed> Run() {
    SB_RETURN_IF_ERROR(ScanCode(Stop::kEnd, 0, nullptr));
    CopyTo(src_.size());
    Transformed t;
    t.map = BuildMap();
    t.code = std::move(out_);
    return t;
  }

 private:
  // ---- output -------------------------------------------------------------

  // Copies the input from pos_ to `end` unchanged.
  void CopyTo(std::size_t end) {
    if (end <= pos_) return;
    if (segments_.empty() || !segments_.back().copied ||
        segments_.back().in + (out_.size() - segments_.back().out) != pos_) {
      segments_.push_back({out_.size(), pos_, true});
    }
    out_.append(src_.substr(pos_, end - pos_));
    pos_ = end;
  }

  // Appends generated text standing for input byte `anchor` (>= every earlier anchor).
  void Generate(std::string_view text, std::size_t anchor) {
    segments_.push_back({out_.size(), anchor, false});
    out_.append(text);
  }

  // Copies the input from pos_ to `end` into a template literal: \ ` $ escaped.
  void CopyTemplateText(std::size_t end) {
    while (pos_ < end) {
      std::size_t special = src_.substr(0, end).find_first_of("\\`$", pos_);
      if (special == std::string_view::npos) {
        CopyTo(end);
        return;
      }
      CopyTo(special);
      const char escaped[] = {'\\', src_[special]};
      Generate(std::string_view(escaped, 2), special);
      pos_ = special + 1;
    }
  }

  // ---- positions and errors -------------------------------------------------

  SourcePosition PositionOf(std::size_t offset) const {
    SourcePosition p;
    for (std::size_t i = 0; i < offset && i < src_.size();) {
      if (std::size_t br = LineBreakAt(src_, i); br != 0) {
        ++p.line;
        p.column = 1;
        i += br;
      } else {
        p.column += Units(static_cast<unsigned char>(src_[i]));
        ++i;
      }
    }
    return p;
  }

  std::string Where(std::size_t offset) const {
    SourcePosition p = PositionOf(offset);
    return fmt::format("{}:{}", p.line, p.column);
  }

  Status Error(std::size_t offset, std::string_view message) const {
    return Status::InvalidArgument(fmt::format("{}: {}", Where(offset), message));
  }

  // ---- small scanners (return an end offset, do not emit) --------------------

  char At(std::size_t i) const { return i < src_.size() ? src_[i] : '\0'; }
  bool StartsWith(std::size_t i, std::string_view s) const {
    return src_.substr(std::min(i, src_.size())).starts_with(s);
  }

  std::size_t SkipIdent(std::size_t i) const {
    while (i < src_.size() && IsIdentPart(src_[i]) && LineBreakAt(src_, i) == 0 && SpaceAt(src_, i) == 0) {
      i += src_[i] == '\\' && i + 1 < src_.size() ? 2 : 1;
    }
    return i;
  }

  std::size_t SkipXmlName(std::size_t i) const {
    while (i < src_.size() && IsXmlNamePart(src_[i])) ++i;
    return i;
  }

  // Whitespace, line terminators and comments.
  std::size_t SkipSpaceAndComments(std::size_t i) const {
    while (i < src_.size()) {
      if (std::size_t n = LineBreakAt(src_, i) + SpaceAt(src_, i); n != 0) {
        i += n;
      } else if (StartsWith(i, "//")) {
        while (i < src_.size() && LineBreakAt(src_, i) == 0) ++i;
      } else if (StartsWith(i, "/*")) {
        std::size_t end = src_.find("*/", i + 2);
        i = end == std::string_view::npos ? src_.size() : end + 2;
      } else {
        break;
      }
    }
    return i;
  }

  std::size_t SkipString(std::size_t i) const {
    char quote = src_[i++];
    while (i < src_.size() && src_[i] != quote) {
      if (src_[i] == '\\') {
        i += 1 + std::max<std::size_t>(1, LineBreakAt(src_, i + 1 < src_.size() ? i + 1 : i));
      } else if (src_[i] == '\n' || src_[i] == '\r') {
        return i;  // unterminated: the engine reports it
      } else {
        ++i;
      }
    }
    return std::min(i + 1, src_.size());
  }

  std::size_t SkipRegex(std::size_t i) const {
    bool in_class = false;
    for (++i; i < src_.size() && LineBreakAt(src_, i) == 0; ++i) {
      char c = src_[i];
      if (c == '\\') {
        if (i + 1 < src_.size() && LineBreakAt(src_, i + 1) == 0) ++i;
      } else if (c == '[') {
        in_class = true;
      } else if (c == ']') {
        in_class = false;
      } else if (c == '/' && !in_class) {
        return SkipIdent(i + 1);  // flags
      }
    }
    return i;  // unterminated: the engine reports it
  }

  std::size_t SkipNumber(std::size_t i) const {
    if (src_[i] == '0' && (At(i + 1) == 'x' || At(i + 1) == 'X' || At(i + 1) == 'o' || At(i + 1) == 'O' ||
                           At(i + 1) == 'b' || At(i + 1) == 'B')) {
      i += 2;
      while (IsDigit(At(i)) || IsAsciiLetter(At(i)) || At(i) == '_') ++i;  // digits and the BigInt n
      return i;
    }
    while (IsDigit(At(i)) || At(i) == '_') ++i;
    if (At(i) == '.') {  // `1.` is a number: `1..x` is `1.` then `.x`
      ++i;
      while (IsDigit(At(i)) || At(i) == '_') ++i;
    }
    if ((At(i) == 'e' || At(i) == 'E') &&
        (IsDigit(At(i + 1)) || ((At(i + 1) == '+' || At(i + 1) == '-') && IsDigit(At(i + 2))))) {
      i += 2;
      while (IsDigit(At(i)) || At(i) == '_') ++i;
    }
    if (At(i) == 'n') ++i;
    return i;
  }

  // After an identifier or accessor name ending at `end`: refuses `name::`.
  Status CheckNoNamespace(std::size_t name_start, std::size_t end) const {
    if (StartsWith(SkipSpaceAndComments(end), "::")) return Error(name_start, kNamespaces);
    return Status::Ok();
  }

  // ---- JavaScript -------------------------------------------------------------

  // Scans code from pos_ until `stop` (see Stop). `in_found` is set for the head of
  // a `for each (`: its first top-level `in` becomes `of __sbEach(`.
  Status ScanCode(Stop stop, int depth, bool* in_found) {
    if (depth > kMaxE4xNesting) return Error(pos_, "E4X and template nesting is too deep");
    struct Bracket {
      char open;
      bool control;  // the `(` of an if/while/for/with
    };
    std::vector<Bracket> brackets;
    Prev prev = Prev::kOperator;
    if (stop == Stop::kEnd) prev = Prev::kStart;
    std::string_view prev_word;
    bool line_start = pos_ == 0;  // only whitespace and comments since the last line terminator
    while (pos_ < src_.size()) {
      std::size_t i = pos_;
      char c = src_[i];
      if (std::size_t br = LineBreakAt(src_, i); br != 0) {
        CopyTo(i + br);
        line_start = true;
        continue;
      }
      if (std::size_t sp = SpaceAt(src_, i); sp != 0) {
        CopyTo(i + sp);
        continue;
      }
      bool html_comment =
          StartsWith(i, "<!--") || (line_start && StartsWith(i, "-->")) || (i == 0 && StartsWith(i, "#!"));
      if (html_comment && c == '<' && prev == Prev::kOperator) {
        return Error(i, "E4X comment literals are not supported");
      }
      if (StartsWith(i, "//") || html_comment) {
        std::size_t end = i;
        while (end < src_.size() && LineBreakAt(src_, end) == 0) ++end;
        CopyTo(end);
        continue;
      }
      if (StartsWith(i, "/*")) {
        std::size_t end = src_.find("*/", i + 2);
        end = end == std::string_view::npos ? src_.size() : end + 2;
        for (std::size_t k = i; k < end; ++k) line_start = line_start || LineBreakAt(src_, k) != 0;
        CopyTo(end);
        continue;
      }
      line_start = false;
      std::string_view word;
      if (c == '"' || c == '\'') {
        CopyTo(SkipString(i));
        prev = Prev::kOperand;
      } else if (c == '`') {
        SB_RETURN_IF_ERROR(ScanTemplate(depth));
        prev = Prev::kOperand;
      } else if (IsDigit(c) || (c == '.' && IsDigit(At(i + 1)))) {
        CopyTo(SkipNumber(i));
        prev = Prev::kOperand;
      } else if (IsIdentStart(c) || (c == '#' && IsIdentStart(At(i + 1)))) {
        std::size_t end = SkipIdent(i + 1);
        word = src_.substr(i, end - i);
        SB_RETURN_IF_ERROR(CheckNoNamespace(i, end));
        if (prev == Prev::kDot) {  // a property name, keyword or not
          CopyTo(end);
          prev = Prev::kOperand;
          word = {};
        } else if (word == "in" && in_found != nullptr && !*in_found && brackets.empty()) {
          Generate("of __sbEach(", i);
          pos_ = end;
          while (At(pos_) == ' ' || At(pos_) == '\t') ++pos_;  // `in EXPR` → `of __sbEach(EXPR`
          *in_found = true;
          prev = Prev::kOperator;
        } else if (word == "for" && ScanForEach(end, depth, &prev)) {
          word = {};
        } else if (word == "default" && SkipIdent(SkipSpaceAndComments(end)) - SkipSpaceAndComments(end) == 3 &&
                   StartsWith(SkipSpaceAndComments(end), "xml")) {
          return Error(i, kNamespaces);
        } else {
          CopyTo(end);
          prev = ExpectsOperand(word) ? Prev::kOperator : Prev::kOperand;
        }
        if (!status_.ok()) return status_;
      } else if (c == '.') {
        SB_RETURN_IF_ERROR(ScanDot(&prev));
      } else if (c == '?' && At(i + 1) == '.' && !IsDigit(At(i + 2))) {
        if (At(i + 2) == '@' || At(i + 2) == '.' || At(i + 2) == '*') {
          return Error(i, "optional chaining of an E4X accessor (x?.@a, x?..n, x?.*) is not supported");
        }
        CopyTo(i + 2);
        prev = Prev::kDot;
      } else if (c == '<' && OperandExpected(prev) && At(i + 1) != '<' && At(i + 1) != '=') {
        SB_RETURN_IF_ERROR(ScanXmlStart(depth));
        prev = pos_ == i + 1 ? Prev::kOperator : Prev::kOperand;
      } else if (c == '<') {
        std::size_t end = i + 1;
        if (At(end) == '<') ++end;
        if (At(end) == '=') ++end;
        CopyTo(end);
        prev = Prev::kOperator;
      } else if (c == '/') {
        CopyTo(OperandExpected(prev) ? SkipRegex(i) : i + (At(i + 1) == '=' ? 2 : 1));
        prev = OperandExpected(prev) ? Prev::kOperand : Prev::kOperator;
      } else if (c == '(' || c == '[' || c == '{') {
        brackets.push_back({c, c == '(' && IsControlKeyword(prev_word)});
        CopyTo(i + 1);
        prev = c == '{' ? Prev::kStart : Prev::kOperator;
      } else if (c == ')' || c == ']' || c == '}') {
        if (brackets.empty() && ((stop == Stop::kBrace && c == '}') || (stop == Stop::kParen && c == ')'))) {
          return Status::Ok();
        }
        bool control = false;
        if (!brackets.empty()) {
          control = brackets.back().control;
          brackets.pop_back();
        }
        CopyTo(i + 1);
        prev = (c == '}' || control) ? Prev::kStart : Prev::kOperand;
      } else if (c == '@') {
        return Error(i, "unexpected '@' (E4X attribute access is written x.@name)");
      } else if (c == ':' && At(i + 1) == ':') {
        return Error(i, kNamespaces);
      } else if ((c == '+' || c == '-') && At(i + 1) == c) {
        CopyTo(i + 2);
        if (prev != Prev::kOperand) prev = Prev::kOperator;
      } else {
        CopyTo(i + 1);  // any other punctuator (`=>`, `,`, `;`, `?`, `:` … all expect an operand)
        prev = c == ';' ? Prev::kStart : Prev::kOperator;
      }
      prev_word = word;
    }
    return Status::Ok();
  }

  // A template literal at pos_; each ${} is code, transformed in turn.
  Status ScanTemplate(int depth) {
    std::size_t i = pos_ + 1;
    while (i < src_.size()) {
      char c = src_[i];
      if (c == '\\') {
        i += 2;
      } else if (c == '`') {
        CopyTo(i + 1);
        return Status::Ok();
      } else if (c == '$' && At(i + 1) == '{') {
        CopyTo(i + 2);
        SB_RETURN_IF_ERROR(ScanCode(Stop::kBrace, depth + 1, nullptr));
        if (pos_ >= src_.size()) return Status::Ok();  // unterminated: the engine reports it
        i = pos_ + 1;
        CopyTo(i);
      } else {
        ++i;
      }
    }
    CopyTo(src_.size());
    return Status::Ok();
  }

  // At `for` (ending at `end`): when `each (` follows, rewrites the loop head and
  // returns true; otherwise returns false and emits nothing. An error is left in status_.
  bool ScanForEach(std::size_t end, int depth, Prev* prev) {
    std::size_t each = SkipSpaceAndComments(end);
    if (SkipIdent(each) != each + 4 || !StartsWith(each, "each")) return false;
    std::size_t for_at = pos_;
    std::size_t paren = SkipSpaceAndComments(each + 4);
    if (At(paren) != '(') {
      status_ = Error(each, "for each must be followed by (");
      return true;
    }
    CopyTo(each);
    pos_ = each + 4;
    std::size_t after = pos_;
    while (At(after) == ' ' || At(after) == '\t') ++after;
    if (after == paren) pos_ = paren;  // `for each (` → `for (`
    CopyTo(paren + 1);
    bool in_found = false;
    status_ = ScanCode(Stop::kParen, depth + 1, &in_found);
    if (!status_.ok()) return true;
    if (!in_found) {
      status_ = Error(for_at, "for each needs the form for each (x in expr)");
      return true;
    }
    if (pos_ >= src_.size()) return true;  // unterminated: the engine reports it
    Generate(")", pos_);
    CopyTo(pos_ + 1);
    *prev = Prev::kStart;
    return true;
  }

  // At a `.` that does not start a number.
  Status ScanDot(Prev* prev) {
    std::size_t i = pos_;
    char next = At(i + 1);
    if (next == '.' && At(i + 2) == '.') {  // spread
      CopyTo(i + 3);
      *prev = Prev::kOperator;
      return Status::Ok();
    }
    bool descendants = next == '.';
    std::size_t j = i + (descendants ? 2 : 1);
    bool attribute = At(j) == '@';
    if (attribute) ++j;
    if (!descendants && !attribute && At(j) != '*') {
      if (next == '(') return Error(i, "E4X filtering predicates are not supported");
      std::size_t k = SkipSpaceAndComments(j);
      if (k != j && (At(k) == '(' || At(k) == '@' || At(k) == '*')) {
        return At(k) == '(' ? Error(i, "E4X filtering predicates are not supported") : Error(i, kAccessorSpace);
      }
      CopyTo(i + 1);
      *prev = Prev::kDot;
      return Status::Ok();
    }
    std::size_t name_end = At(j) == '*' ? j + 1 : SkipIdent(j);
    if (name_end == j || (At(j) != '*' && !IsIdentStart(At(j)))) {
      if (attribute && At(j) == '[') return Error(i, "E4X attribute access by expression (x.@[expr]) is not supported");
      if (descendants && !attribute && At(j) == '(') return Error(i, "E4X filtering predicates are not supported");
      if (SkipSpaceAndComments(j) != j) return Error(i, kAccessorSpace);
      return Error(i, "malformed E4X accessor");
    }
    SB_RETURN_IF_ERROR(CheckNoNamespace(i, name_end));
    std::string prefix = "[\"";
    if (descendants) prefix += "..";
    if (attribute) prefix += "@";
    Generate(prefix, i);
    pos_ = j;
    CopyTo(name_end);
    Generate("\"]", name_end);
    *prev = Prev::kOperand;
    return Status::Ok();
  }

  // ---- XML literals -------------------------------------------------------------

  // At a `<` where an operand is expected. Rewrites an XML literal; refuses E4X
  // forms it does not support; copies a plain `<` (an operator then, and the
  // engine's to judge) leaving pos_ one past it.
  Status ScanXmlStart(int depth) {
    std::size_t i = pos_;
    char next = At(i + 1);
    if (next == '{') return Error(i, kComputed);
    if (next == '?') return Error(i, "E4X processing instruction literals are not supported");
    if (next == '!') return Error(i, "E4X comment and CDATA literals are not supported outside an element");
    if (next == '>' || IsXmlNameStart(next)) return ScanXml(depth);
    CopyTo(i + 1);
    return Status::Ok();
  }

  struct OpenTag {
    std::string_view name;  // empty for the list <>
    std::size_t at = 0;
  };

  Status Unterminated(std::size_t start, const std::vector<OpenTag>& open) const {
    const OpenTag& top = open.back();
    return Error(start, fmt::format("unterminated E4X literal: <{}> at {} is never closed", top.name, Where(top.at)));
  }

  // The closing `>` of the literal (at pos_): the `>`, the last piece's closing
  // backtick and the kinds argument, all standing for the `>`.
  void FinishLiteral(const std::string& kinds) {
    Generate(fmt::format(">`, \"{}\")", kinds), pos_);
    ++pos_;
  }

  Status ScanXml(int depth) {
    std::size_t start = pos_;
    std::vector<OpenTag> open;
    std::string kinds;  // one letter per {expr}: a (attribute value) or c (content)
    if (At(start + 1) == '>') {
      Generate("__sbXmlList``(`", start);
      CopyTo(start + 2);
      open.push_back({{}, start});
    } else {
      Generate("__sbXml``(`", start);
      bool self_closed = false;
      SB_RETURN_IF_ERROR(ScanStartTag(depth, start, &open, &self_closed, &kinds));
      if (self_closed) {
        FinishLiteral(kinds);
        return Status::Ok();
      }
      CopyTo(pos_ + 1);
    }
    while (!open.empty()) {
      std::size_t i = pos_;
      if (i >= src_.size()) return Unterminated(start, open);
      char c = src_[i];
      if (c == '{') {
        kinds += 'c';
        SB_RETURN_IF_ERROR(ScanExpression(depth, start, open));
      } else if (c != '<') {
        std::size_t end = src_.find_first_of("<{", i);
        CopyTemplateText(end == std::string_view::npos ? src_.size() : end);
      } else if (StartsWith(i, "<!--") || StartsWith(i, "<![CDATA[")) {
        bool comment = At(i + 2) == '-';
        std::size_t end = src_.find(comment ? "-->" : "]]>", i + (comment ? 4 : 9));
        if (end == std::string_view::npos) {
          return Error(i, comment ? "unterminated XML comment in an E4X literal"
                                  : "unterminated CDATA section in an E4X literal");
        }
        CopyTemplateText(end + 3);
      } else if (At(i + 1) == '?') {
        return Error(i, "XML processing instructions in E4X literals are not supported");
      } else if (At(i + 1) == '{' || (At(i + 1) == '/' && At(i + 2) == '{')) {
        return Error(i, kComputed);
      } else if (At(i + 1) == '/') {
        std::size_t name_end = SkipXmlName(i + 2);
        std::string_view name = src_.substr(i + 2, name_end - i - 2);
        std::size_t close = name_end;
        while (IsXmlSpace(At(close))) ++close;
        if (At(close) != '>') {
          if (close >= src_.size()) return Unterminated(start, open);
          return Error(i, "malformed E4X closing tag");
        }
        if (name != open.back().name) {
          return Error(i, fmt::format("E4X closing tag </{}> does not match <{}> at {}", name, open.back().name,
                                      Where(open.back().at)));
        }
        open.pop_back();
        CopyTemplateText(close);
        if (open.empty()) {
          FinishLiteral(kinds);
        } else {
          CopyTo(close + 1);
        }
      } else if (IsXmlNameStart(At(i + 1))) {
        bool self_closed = false;
        SB_RETURN_IF_ERROR(ScanStartTag(depth, start, &open, &self_closed, &kinds));
        CopyTo(pos_ + 1);
      } else if (At(i + 1) == '>') {
        return Error(i, "an E4X list literal <> cannot be nested");
      } else {
        return Error(i, "'<' in E4X text must start a tag (write &lt;)");
      }
    }
    return Status::Ok();
  }

  // At `<name`: copies the tag up to its closing `>` (left at pos_), pushing the
  // element onto `open` unless it ends in `/>`.
  Status ScanStartTag(int depth, std::size_t start, std::vector<OpenTag>* open, bool* self_closed, std::string* kinds) {
    std::size_t at = pos_;
    std::size_t name_end = SkipXmlName(at + 1);
    std::string_view name = src_.substr(at + 1, name_end - at - 1);
    CopyTo(name_end);
    open->push_back({name, at});
    while (true) {
      std::size_t i = pos_;
      while (IsXmlSpace(At(i))) ++i;
      CopyTo(i);
      if (i >= src_.size()) return Unterminated(start, *open);
      char c = src_[i];
      if (c == '/' && At(i + 1) == '>') {
        CopyTo(i + 1);
        open->pop_back();
        *self_closed = true;
        return Status::Ok();
      }
      if (c == '>') return Status::Ok();
      if (c == '{') return Error(i, kComputed);
      if (!IsXmlNameStart(c)) return Error(i, "malformed E4X tag");
      std::size_t attr_end = SkipXmlName(i);
      std::size_t eq = attr_end;
      while (IsXmlSpace(At(eq))) ++eq;
      if (At(eq) != '=') {
        if (eq >= src_.size()) return Unterminated(start, *open);
        return Error(i, fmt::format("E4X attribute {} has no value", src_.substr(i, attr_end - i)));
      }
      std::size_t value = eq + 1;
      while (IsXmlSpace(At(value))) ++value;
      CopyTo(value);
      char quote = At(value);
      if (quote == '"' || quote == '\'') {
        std::size_t close = src_.find(quote, value + 1);
        if (close == std::string_view::npos) return Unterminated(start, *open);
        CopyTemplateText(close + 1);
      } else if (quote == '{') {
        *kinds += 'a';
        SB_RETURN_IF_ERROR(ScanExpression(depth, start, *open));
      } else {
        if (value >= src_.size()) return Unterminated(start, *open);
        return Error(value, "an E4X attribute value must be quoted or {expression}");
      }
      if (pos_ < src_.size() && !IsXmlSpace(src_[pos_]) && src_[pos_] != '>' && src_[pos_] != '/') {
        return Error(pos_, "malformed E4X tag");
      }
    }
  }

  // At `{` in a literal: the piece before it closed and the expression as an
  // argument of its own, `(0, EXPR)` — a comma expression, so that SpiderMonkey
  // notes the expression's own line and column (an error in an argument of a call,
  // or in a tagged template's substitution, is reported at the call) — then the
  // next piece opened.
  Status ScanExpression(int depth, std::size_t start, const std::vector<OpenTag>& open) {
    std::size_t brace = pos_;
    Generate("`, (0, ", brace);
    pos_ = brace + 1;
    SB_RETURN_IF_ERROR(ScanCode(Stop::kBrace, depth + 1, nullptr));
    if (pos_ >= src_.size()) return Unterminated(start, open);
    Generate("), `", pos_);
    ++pos_;
    return Status::Ok();
  }

  // ---- the position map -------------------------------------------------------------

  PositionMap BuildMap() const {
    PositionMap map;
    int line = 1;
    int out_col = 1;
    int in_col = 1;
    std::size_t in_at = 0;
    std::vector<PositionMap::Piece> pieces;
    bool identity = true;
    auto add = [&](PositionMap::Piece p) {
      if (!pieces.empty() && pieces.back().out_column == p.out_column) pieces.pop_back();
      pieces.push_back(p);
      identity = identity && p.copied && p.out_column == p.original_column;
    };
    auto end_line = [&] {
      if (!identity) map.AddLine(line, std::move(pieces));
      pieces.clear();
      identity = true;
    };
    for (std::size_t s = 0; s < segments_.size(); ++s) {
      const Segment& seg = segments_[s];
      std::size_t out_end = s + 1 < segments_.size() ? segments_[s + 1].out : out_.size();
      assert(seg.in >= in_at);
      for (; in_at < seg.in; ++in_at) in_col += Units(static_cast<unsigned char>(src_[in_at]));
      add({out_col, in_col, seg.copied});
      if (!seg.copied) {
        for (std::size_t k = seg.out; k < out_end; ++k) out_col += Units(static_cast<unsigned char>(out_[k]));
        continue;
      }
      for (std::size_t k = seg.out; k < out_end;) {
        std::size_t br = LineBreakAt(out_, k);
        if (br == 0) {
          int u = Units(static_cast<unsigned char>(out_[k]));
          out_col += u;
          in_col += u;
          ++k;
          continue;
        }
        end_line();
        ++line;
        out_col = 1;
        in_col = 1;
        k += br;
        add({1, 1, true});
      }
      in_at = seg.in + (out_end - seg.out);
    }
    end_line();
    return map;
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  std::string out_;
  std::vector<Segment> segments_;
  Status status_;  // an error ScanForEach found
};

}  // namespace

Result<Transformed> TransformE4x(std::string_view source) {
  return Transformer(source).Run();
}

}  // namespace stagebridge::script
