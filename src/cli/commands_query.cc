// commands_query.cc — `query`: build or read the queryDef, run it, print it.
#include "cli/commands_query.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "cli/app.h"
#include "cli/json.h"
#include "query/engine.h"
#include "query/querydef.h"
#include "query/result.h"
#include "schema/schema_set.h"
#include "xml/document.h"

namespace stagebridge::cli {
namespace {

int Usage(std::string_view message) {
  std::cerr << "stagebridge: " << message << "\n";
  return kExitUsage;
}

int Fail(const Status& status) {
  std::cerr << "stagebridge: " << status.message() << "\n";
  return kExitFailed;
}

bool IsDocumentTarget(const std::string& target) {
  return target == "-" || target.ends_with(".xml") || std::filesystem::is_regular_file(target);
}

Result<query::QueryDef> FromFlags(const QueryOptions& o) {
  query::QueryDef q;
  q.schema = o.target;
  std::string op = o.count ? "count" : o.operation.empty() ? "select" : o.operation;
  if (op == "get") {
    q.operation = query::Operation::kGet;
  } else if (op == "getIfExists") {
    q.operation = query::Operation::kGetIfExists;
  } else if (op == "count") {
    q.operation = query::Operation::kCount;
  } else if (op == "select") {
    q.operation = query::Operation::kSelect;
  } else {
    return Status::InvalidArgument(fmt::format("--operation: '{}' is not get, getIfExists, select or count", op));
  }
  for (const std::string& list : o.select) {
    for (std::string& e : query::SplitTopLevel(list)) q.select.push_back({std::move(e), "", false});
  }
  for (std::size_t i = 0; i < o.where.size(); ++i) {
    q.where.push_back({o.where[i], {}, false, fmt::format("where condition {}", i + 1)});
  }
  for (const std::string& list : o.order) {
    for (std::string item : query::SplitTopLevel(list)) {
      bool desc = false;
      for (std::string_view suffix : {" desc", " DESC", " asc", " ASC"}) {
        if (item.size() > suffix.size() && item.ends_with(suffix)) {
          desc = suffix == " desc" || suffix == " DESC";
          item.resize(item.size() - suffix.size());
          break;
        }
      }
      q.order_by.push_back({item, desc});
    }
  }
  for (const std::string& list : o.group) {
    for (std::string& e : query::SplitTopLevel(list)) q.group_by.push_back(std::move(e));
  }
  if (o.limit) q.line_count = *o.limit;
  if (o.start) q.start_line = *o.start;
  q.distinct = o.distinct;
  return q;
}

std::string JsonRow(const query::QueryResult& r, const std::vector<std::optional<std::string>>& row) {
  std::string out = "{";
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    out += (i > 0 ? ", " : "") + JsonString(r.columns[i].name) + ": " + (row[i] ? JsonString(*row[i]) : "null");
  }
  return out + "}";
}

void PrintJson(const query::QueryResult& r, std::ostream& out) {
  switch (r.operation) {
    case query::Operation::kCount: out << "{\"count\": " << r.count << "}\n"; return;
    case query::Operation::kGet:
    case query::Operation::kGetIfExists: out << (r.rows.empty() ? "null" : JsonRow(r, r.rows[0])) << "\n"; return;
    case query::Operation::kSelect:
      out << "[";
      for (std::size_t i = 0; i < r.rows.size(); ++i) out << (i > 0 ? ",\n " : "") << JsonRow(r, r.rows[i]);
      out << "]\n";
      return;
  }
}

std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

void PrintCsv(const query::QueryResult& r, std::ostream& out) {
  if (r.operation == query::Operation::kCount) {
    out << "count\r\n" << r.count << "\r\n";
    return;
  }
  for (std::size_t i = 0; i < r.columns.size(); ++i) out << (i > 0 ? "," : "") << CsvField(r.columns[i].name);
  out << "\r\n";
  for (const auto& row : r.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) out << (i > 0 ? "," : "") << CsvField(row[i].value_or(""));
    out << "\r\n";
  }
}

std::size_t Width(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

void PrintTable(const query::QueryResult& r, std::ostream& out) {
  if (r.operation == query::Operation::kCount) {
    out << "count\n" << r.count << "\n";
    return;
  }
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : r.rows) {
    std::vector<std::string> line;
    for (const auto& v : row) line.push_back(v ? xml::Printable(*v) : "NULL");
    cells.push_back(std::move(line));
  }
  std::vector<std::size_t> widths;
  for (const query::OutputColumn& c : r.columns) widths.push_back(Width(c.name));
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], Width(line[i]));
  }
  auto print = [&](const std::vector<std::string>& line) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(widths[i] - Width(line[i]) + 2, ' ');
    }
    out << text << "\n";
  };
  std::vector<std::string> header;
  std::vector<std::string> rule;
  for (std::size_t i = 0; i < r.columns.size(); ++i) {
    header.push_back(r.columns[i].name);
    rule.push_back(std::string(widths[i], '-'));
  }
  print(header);
  print(rule);
  for (const auto& line : cells) print(line);
  if (r.operation == query::Operation::kSelect) {
    out << "(" << r.rows.size() << (r.rows.size() == 1 ? " row)\n" : " rows)\n");
  }
}

}  // namespace

int CmdQuery(const Config& config, const QueryOptions& options) {
  if (options.format != "table" && options.format != "xml" && options.format != "json" && options.format != "csv") {
    return Usage(fmt::format("--format: '{}' is not table, xml, json or csv", options.format));
  }
  Result<query::QueryDef> q = Status::Internal("unset");
  if (IsDocumentTarget(options.target)) {
    bool flags = !options.select.empty() || !options.where.empty() || !options.order.empty() ||
                 !options.group.empty() || options.limit || options.start || options.count || options.distinct ||
                 !options.operation.empty();
    if (flags) return Usage("a queryDef document carries its own select, where, order and limits: drop the flags");
    std::string text;
    if (options.target == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(options.target, std::ios::binary);
      if (!in) return Usage(fmt::format("cannot read {}", options.target));
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    q = query::ParseQueryDef(text);
  } else {
    q = FromFlags(options);
    if (!q.ok() && q.status().message().starts_with("--operation")) return Usage(q.status().message());
  }
  if (!q.ok()) return Fail(q.status());

  Result<schema::SchemaSet> schemas = schema::SchemaSet::LoadDirectory(config.Get("schemas_dir"));
  if (!schemas.ok()) return Fail(schemas.status());
  query::Engine engine(*schemas, QueryEngineOptionsFrom(config, 1));
  Result<query::QueryResult> result = engine.Execute(*q, nullptr);
  if (!result.ok()) return Fail(result.status());
  if (options.format == "xml") {
    std::cout << query::RenderXml(*result) << "\n";
  } else if (options.format == "json") {
    PrintJson(*result, std::cout);
  } else if (options.format == "csv") {
    PrintCsv(*result, std::cout);
  } else {
    PrintTable(*result, std::cout);
  }
  return kExitOk;
}

query::EngineOptions QueryEngineOptionsFrom(const Config& config, int connections) {
  query::EngineOptions options;
  options.local_url = config.Get("local_db");
  options.cloud_url = config.Get("cloud_db");
  options.connections = connections;
  options.compile.default_rows = config.GetInt("query_default_rows");
  options.compile.max_rows = config.GetInt("query_max_rows");
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(config.GetInt("query_timeout")) * 1000);
  return options;
}

}  // namespace stagebridge::cli
