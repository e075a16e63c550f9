// sqlite_rebuild.cc — adding columns SQLite's ALTER TABLE cannot add, by
// recreating the table with them and copying its rows across.
#include <cctype>
#include <string>

#include "store/sqlite_database.h"

namespace stagebridge::store {
namespace {

bool IsIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

std::string UpperWordAt(std::string_view text, std::size_t pos) {
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) {
    ++pos;
  }
  std::string word;
  for (; pos < text.size() && IsIdentifierChar(text[pos]); ++pos) {
    word += static_cast<char>(std::toupper(static_cast<unsigned char>(text[pos])));
  }
  return word;
}

// Where new column definitions go in a CREATE TABLE text: before the first
// table constraint (SQLite wants all columns first), else before the ')' that
// closes the definition list. `before_constraint` tells which it is.
Result<std::size_t> InsertionPoint(std::string_view sql, bool& before_constraint) {
  std::size_t open = sql.find('(');
  if (open == std::string_view::npos) {
    return Status::Internal("unexpected CREATE TABLE text");
  }
  int depth = 1;
  std::size_t item_start = open + 1;
  for (std::size_t i = open + 1; i < sql.size(); ++i) {
    char c = sql[i];
    auto skip_to = [&](std::string_view end) {
      std::size_t found = sql.find(end, i + 1);
      i = found == std::string_view::npos ? sql.size() : found + end.size() - 1;
    };
    if (c == '\'' || c == '"' || c == '`') {
      skip_to(std::string_view(&c, 1));
    } else if (c == '[') {
      skip_to("]");
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      skip_to("\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      skip_to("*/");
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' || (c == ',' && depth == 1)) {
      if (c == ')' && --depth > 0) {
        continue;
      }
      std::string word = UpperWordAt(sql, item_start);
      if (word == "CONSTRAINT" || word == "PRIMARY" || word == "UNIQUE" || word == "CHECK" || word == "FOREIGN") {
        before_constraint = true;
        while (std::isspace(static_cast<unsigned char>(sql[item_start]))) {
          ++item_start;
        }
        return item_start;
      }
      if (c == ')') {
        before_constraint = false;
        return i;
      }
      item_start = i + 1;
    }
  }
  return Status::Internal("unexpected CREATE TABLE text");
}

std::string Quoted(std::string_view name) {
  return "\"" + std::string(name) + "\"";
}

}  // namespace

Status SqliteAddColumnsByRebuild(Database& db, std::string_view table,
                                 const std::vector<std::string>& column_definitions) {
  SB_ASSIGN_OR_RETURN(std::vector<Row> tables,
                      db.Query("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = $1 COLLATE NOCASE",
                               {std::string(table)}));
  if (tables.empty()) {
    return Status::NotFound("table " + std::string(table) + " does not exist");
  }
  const std::string name = std::get<std::string>(tables[0][0]);
  const std::string create_sql = std::get<std::string>(tables[0][1]);
  SB_ASSIGN_OR_RETURN(std::vector<Row> columns,
                      db.Query("SELECT name FROM pragma_table_info($1) ORDER BY cid", {name}));
  std::string column_list;
  for (const Row& column : columns) {
    if (!column_list.empty()) {
      column_list += ", ";
    }
    column_list += Quoted(std::get<std::string>(column[0]));
  }
  SB_ASSIGN_OR_RETURN(std::vector<Row> dependents,
                      db.Query("SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger')"
                               " AND tbl_name = $1 AND sql IS NOT NULL ORDER BY type, name",
                               {name}));

  bool before_constraint = false;
  SB_ASSIGN_OR_RETURN(std::size_t at, InsertionPoint(create_sql, before_constraint));
  std::string added;
  for (const std::string& definition : column_definitions) {
    if (before_constraint) {
      added += definition + ", ";
    } else {
      added += ", " + definition;
    }
  }
  std::string temp = name + "_sb_rebuild";
  std::string body = create_sql.substr(create_sql.find('('));
  body.insert(at - create_sql.find('('), added);

  // Rows of other tables referencing this one are checked at COMMIT, by which
  // time the rebuilt table holds the same rows again.
  SB_RETURN_IF_ERROR(db.ExecuteScript("PRAGMA defer_foreign_keys = ON"));
  SB_RETURN_IF_ERROR(db.Execute("CREATE TABLE " + Quoted(temp) + " " + body).status());
  SB_RETURN_IF_ERROR(db.Execute("INSERT INTO " + Quoted(temp) + " (" + column_list + ") SELECT " + column_list +
                                " FROM " + Quoted(name))
                         .status());
  SB_RETURN_IF_ERROR(db.Execute("DROP TABLE " + Quoted(name)).status());
  SB_RETURN_IF_ERROR(db.Execute("ALTER TABLE " + Quoted(temp) + " RENAME TO " + Quoted(name)).status());
  for (const Row& dependent : dependents) {
    SB_RETURN_IF_ERROR(db.ExecuteScript(std::get<std::string>(dependent[0])));
  }
  return Status::Ok();
}

}  // namespace stagebridge::store
