// fuzz_querydef.cc — libFuzzer target: the bytes are a queryDef document
// (query::ParseQueryDef, as the CLI reads one; the SOAP route reads the same
// element), compiled for both dialects (query::Compile) against its schema when
// it names a known one, else against dem:sampleTableStg.
//
// Beyond memory errors, UB, uncaught exceptions, stack exhaustion and hangs, it
// checks the compiler's contract (fuzz_common.h; STAGEBRIDGE_FUZZ_MEMORY_ONLY=1
// skips it):
//   * an error carries a QRY-2000xx or SOP-330001 code and a message a strict XML
//     parser accepts once escaped (it becomes a faultstring);
//   * nothing of the request reaches the SQL text: once the compiler's own
//     constant strings are taken out, the SQL holds no quote, no semicolon, no
//     comment, only identifiers, $N placeholders, integers and operators; every
//     $N names a bound parameter and every parameter is used.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "query/compiler.h"
#include "query/querydef.h"

using namespace stagebridge;

namespace {

// The string constants the compiler writes itself (compiler.cc).
constexpr std::string_view kConstants[] = {"'+00'",
                                           "''",
                                           "' 00:00:00'",
                                           "'\\'",
                                           "'%Y-%m-%d %H:%M:%f'",
                                           "'now'",
                                           "'UTC'",
                                           "'YYYY-MM-DD HH24:MI:SS'",
                                           "'%Y-%m-%d %H:%M:%S'",
                                           "'%Y'",
                                           "'%m'",
                                           "'%d'",
                                           "'%H'",
                                           "'%M'",
                                           "'%S'",
                                           "\"C\"",
                                           "'^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$'"};

bool SqlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ' ' ||
         c == ',' || c == '(' || c == ')' || c == '$' || c == '=' || c == '.' || c == '<' || c == '>' || c == '!' ||
         c == '+' || c == '-' || c == '*' || c == '/' || c == '|' || c == ':' || c == '~';
}

void CheckSql(const query::CompiledQuery& q) {
  std::string sql = q.sql;
  for (std::string_view k : kConstants) {
    for (std::size_t at = sql.find(k); at != std::string::npos; at = sql.find(k, at)) sql.replace(at, k.size(), " ");
  }
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (!SqlChar(sql[i])) fuzz::Violation("the SQL holds a character the compiler does not write", q.sql, i);
  }
  if (sql.find("--") != std::string::npos) fuzz::Violation("the SQL holds a comment", q.sql);
  std::size_t highest = 0;
  std::vector<bool> used(q.params.size() + 1, false);
  for (std::size_t at = sql.find('$'); at != std::string::npos; at = sql.find('$', at + 1)) {
    std::size_t n = 0;
    std::size_t i = at + 1;
    while (i < sql.size() && sql[i] >= '0' && sql[i] <= '9') n = n * 10 + static_cast<std::size_t>(sql[i++] - '0');
    if (n == 0 || n > q.params.size()) fuzz::Violation("a placeholder names no bound parameter", q.sql, at);
    used[n] = true;
    highest = std::max(highest, n);
  }
  for (std::size_t n = 1; n <= q.params.size(); ++n) {
    if (!used[n]) fuzz::Violation("a bound parameter is not used", q.sql);
  }
}

void CheckError(const Status& s) {
  const std::string& m = s.message();
  if (!(m.starts_with("QRY-2000") || m.starts_with("SOP-330001 "))) {
    fuzz::Violation("an error without a QRY-2000xx / SOP-330001 code", m);
  }
  fuzz::CheckXmlText("an error message is not valid XML text", xml::Escape(m));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<query::QueryDef> q = query::ParseQueryDef(text);
  if (!q.ok()) {
    if (fuzz::ContractChecks()) CheckError(q.status());
    return 0;
  }
  const schema::Schema* schema = fuzz::Schemas().Find(q->schema);
  if (schema == nullptr) schema = fuzz::Schemas().Find("dem:sampleTableStg");
  for (store::DialectKind dialect : {store::DialectKind::kSqlite, store::DialectKind::kPostgres}) {
    Result<query::CompiledQuery> c = query::Compile(*q, *schema, dialect);
    if (!fuzz::ContractChecks()) continue;
    if (!c.ok()) {
      CheckError(c.status());
    } else {
      CheckSql(*c);
    }
  }
  return 0;
}
