// e4x.h — the E4X source-to-source transform: rewrites the E4X the platform's
// workflow JavaScript uses into plain JavaScript that SpiderMonkey 102 (which has
// no E4X) runs against the runtime's globals (__sbXml, __sbXmlList, __sbEach; the
// XML object itself is the runtime's business, not this module's).
//
// What it rewrites:
//   <a x="1" y={e}>t {c}</a>     __sbXml``(`<a x="1" y=`, (0, e), `>t `, (0, c), `</a>`, "ac")
//   <>...</>                     __sbXmlList``(`<>...</>`, "")   (same rules inside)
//   x.@name  x.@*                x["@name"]  x["@*"]     (reads and assignments alike)
//   x..name  x..@name  x..*  x..@*   x["..name"]  x["..@name"]  x["..*"]  x["..@*"]
//   x.*                          x["*"]
//   for each (var e in EXPR)     for (var e of __sbEach(EXPR))   (let, const, or none too)
// A literal is a call: `__sbXml``` (an empty tagged template: its strings array is
// the same object at every evaluation of that place in the source, so the runtime
// parses each literal once) returns the place's builder, called with the text
// pieces (template literals without substitutions), each {expr} between them as an
// argument of its own, and last the kinds of the {expr}s (a: attribute value, c:
// content). Each expression is written `(0, EXPR)`, in place: SpiderMonkey notes
// the line and column of a comma expression's operand, while an error inside a
// plain argument, or a tagged template's substitution, is reported at the call.
// Inside a literal's pieces the characters \ ` and $ are escaped, so the cooked
// strings equal the literal's text (save that a template normalises CR LF and CR
// to LF, as an XML parser does anyway). Each {expr} is transformed in turn.
// Everything else E4X is refused with Status::InvalidArgument("LINE:COLUMN:
// message") at the user's position, never rewritten into something that means
// another thing: namespaces (ns::n, x.ns::n, x.@ns::n, default xml namespace),
// filtering predicates x.(cond), x.@[expr], computed names <{n}>, processing
// instructions, comment or CDATA literals outside an element, whitespace inside
// an accessor (x. @a), optional chaining of an accessor (x?.@a), a stray @.
//
// How `<` and `/` are read: after a token that ends an operand (an identifier or
// keyword such as `this`, a number, a string, a template, a regex, an XML literal,
// `)`, `]`) they are operators; after anything else (an operator, `(`, `[`, `{`,
// `}`, `,`, `;`, `:`, `?`, `=>`, the start of the input, and the keywords return
// typeof case in of instanceof new delete void throw yield await else do) an
// operand is expected, so `/` starts a regex and `<` starts an XML literal when it
// is followed by a name-start character or `>`. A `)` that closes the head of an
// if/while/for/with is read as "operand expected" too (`if (c) <a/>;`).
// The known ambiguity: a `}` that closes an object literal or a function
// expression inside an expression (`({} < b)`, `f = function () {} / 2`) is taken
// for the end of a block, so a following `<name` or `/` is read as an XML literal
// or a regex; likewise `of`, `yield` and `await` used as plain variable names.
// Neither appears in sensible code. `<!--` and a line-leading `-->` are HTML-like
// comments as in browsers' JavaScript, except `<!--` where an expression must
// follow (`x = <!-- c -->`), which is an E4X comment literal and is refused.
//
// Invariants: the transform never adds or removes a line terminator (every
// output line is the same line of the input); plain JavaScript without E4X comes
// out byte-identical; PositionMap::Original gives the exact original position of
// any output character copied from the user's text, and for generated characters
// the position of what they replace (or, for inserted closers, the position just
// after what they close).
//
// Thread-safety: TransformE4x is a pure function; a PositionMap is a value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace stagebridge::script {

// 1-based; columns count characters (code points), as SpiderMonkey 102 counts the
// columns of its errors and stack frames (a 4-byte UTF-8 character counts 1).
struct SourcePosition {
  int line = 1;
  int column = 1;
  friend bool operator==(const SourcePosition&, const SourcePosition&) = default;
};

// Maps a position in the transformed code back to the user's source. Lines are
// identical; only columns move, per line, and only lines the transform changed
// are stored.
class PositionMap {
 public:
  // From `out_column` on (to the next piece), the output line holds the user's
  // text from `original_column` on (`copied`), or generated text standing for
  // `original_column`.
  struct Piece {
    int out_column = 1;
    int original_column = 1;
    bool copied = true;
  };

  SourcePosition Original(int line, int column) const;

  // REQUIRES: lines in increasing order; `pieces` sorted by out_column, the first at 1.
  void AddLine(int line, std::vector<Piece> pieces);
  // How many lines differ from the input (for tests and diagnostics).
  std::size_t ChangedLines() const { return lines_.size(); }

 private:
  struct Line {
    int line = 0;
    std::vector<Piece> pieces;
  };
  std::vector<Line> lines_;
};

struct Transformed {
  std::string code;
  PositionMap map;
};

// Nesting deeper than this ({expr} in a literal, ${} in a template, for each
// heads, within one another) is refused rather than risking the stack.
inline constexpr int kMaxE4xNesting = 256;

// Rewrites the E4X in `source` (UTF-8 JavaScript). Errors:
// InvalidArgument("LINE:COLUMN: message"), the position in `source`.
Result<Transformed> TransformE4x(std::string_view source);

}  // namespace stagebridge::script
