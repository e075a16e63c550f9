// parser.cc — <srcSchema> parsing, naming and per-document validation.
#include "schema/parser.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <set>

#include <fmt/format.h>

#include "store/table_spec.h"
#include "xml/document.h"

namespace stagebridge::schema {
namespace {

constexpr int kDefaultStringLength = 255;
constexpr int kMaxStringLength = 4000;  // longer text is a memo
constexpr int kIdLength = 255;          // any caller-supplied string is an id

constexpr std::array<std::string_view, 7> kReservedNames{
    "id", "delete", "lastModified", "stgSeq", "stgKey", "stgOp", "xtkschema",
};

// SQL words that must not be used as a table or column name, whatever the dialect.
constexpr std::array<std::string_view, 40> kSqlKeywords{
    "all",    "and",   "as",       "asc",    "between", "by",    "case",   "check",  "column", "create",
    "delete", "desc",  "distinct", "drop",   "else",    "end",   "exists", "from",   "group",  "having",
    "in",     "index", "insert",   "into",   "is",      "join",  "key",    "like",   "limit",  "not",
    "null",   "or",    "order",    "select", "set",     "table", "union",  "update", "user",   "where",
};

bool IsSqlKeyword(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return std::find(kSqlKeywords.begin(), kSqlKeywords.end(), lower) != kSqlKeywords.end();
}

// XML names the platform allows for schema items: a letter or '_' then letters,
// digits, '_'. Stricter than XML on purpose: these names become SQL identifiers.
bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool IsNumber(std::string_view text, bool allow_fraction) {
  if (text.empty()) return false;
  if (allow_fraction) {
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    return ec == std::errc() && p == text.data() + text.size();
  }
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && p == text.data() + text.size();
}

// Collects problems; every message names the file and the element it is about.
class Problems {
 public:
  explicit Problems(std::string_view source) : source_(source) {}
  void Add(std::string_view where, std::string_view what) {
    lines_.push_back(fmt::format("{}: {}: {}", source_, where, what));
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const {
    std::string msg;
    for (const auto& l : lines_) {
      if (!msg.empty()) msg += '\n';
      msg += l;
    }
    return Status::InvalidArgument(msg);
  }

 private:
  std::string source_;
  std::vector<std::string> lines_;
};

// Checks a default expression against the attribute's type.
bool DefaultFits(const Attribute& a) {
  std::string_view d = a.default_expr;
  switch (a.type) {
    case AttrType::kString:
    case AttrType::kMemo:
    case AttrType::kUuid: return d.size() >= 2 && d.front() == '\'' && d.back() == '\'';
    case AttrType::kBoolean: return d == "true" || d == "false" || d == "0" || d == "1";
    case AttrType::kLong:
    case AttrType::kInt:
    case AttrType::kInt64:
    case AttrType::kShort:
    case AttrType::kByte: return IsNumber(d, false);
    case AttrType::kDouble:
    case AttrType::kFloat: return IsNumber(d, true);
    case AttrType::kDate:
    case AttrType::kDatetime:
    case AttrType::kDatetimeNoTz: return d == "GetDate()" || d == "Now()";
  }
  return false;
}

Attribute ParseAttribute(pugi::xml_node node, std::string_view where_prefix, Problems& problems) {
  Attribute a;
  a.name = xml::Attr(node, "name");
  std::string where = fmt::format("{}, attribute '{}'", where_prefix, a.name);
  if (!IsValidName(a.name)) {
    problems.Add(where, fmt::format("bad identifier '{}' (letters, digits and '_', starting with a letter, "
                                    "at most 63 characters)",
                                    a.name));
  } else if (IsReservedAttributeName(a.name) || a.name.starts_with('_')) {
    problems.Add(where, fmt::format("'{}' is a reserved name", a.name));
  }
  std::string_view type_name = xml::Attr(node, "type", "string");
  if (auto t = ParseTypeName(type_name)) {
    a.type = *t;
  } else {
    problems.Add(where, fmt::format("unknown type '{}'", type_name));
  }
  a.label = xml::Attr(node, "label");
  if (a.type == AttrType::kString) {
    std::string_view len = xml::Attr(node, "length");
    if (len.empty()) {
      a.length = kDefaultStringLength;
    } else if (!IsNumber(len, false) || std::stoi(std::string(len)) < 1 ||
               std::stoi(std::string(len)) > kMaxStringLength) {
      problems.Add(where, fmt::format("length '{}' is not a number between 1 and {}", len, kMaxStringLength));
    } else {
      a.length = std::stoi(std::string(len));
    }
  } else if (a.type == AttrType::kUuid) {
    a.length = 36;
  }
  std::string_view sqlname = xml::Attr(node, "sqlname");
  a.sql_name = sqlname.empty() ? std::string(SqlPrefix(a.type)) + Capitalize(a.name) : std::string(sqlname);
  if (!store::IsValidIdentifier(a.sql_name)) {
    problems.Add(where, fmt::format("bad SQL name '{}'", a.sql_name));
  } else if (IsSqlKeyword(a.sql_name)) {
    problems.Add(where, fmt::format("SQL name '{}' is a reserved SQL word", a.sql_name));
  }
  a.default_expr = xml::Attr(node, "default");
  if (!a.default_expr.empty() && !DefaultFits(a)) {
    problems.Add(where, fmt::format("default '{}' does not fit type {}", a.default_expr, TypeName(a.type)));
  }
  std::string_view not_null = xml::Attr(node, "notNull", "false");
  if (auto b = xml::ParseBool(not_null)) {
    a.not_null = *b;
  } else {
    problems.Add(where, fmt::format("notNull '{}' is not a boolean", not_null));
  }
  return a;
}

void ParseBoolAttr(pugi::xml_node node, const char* name, bool& out, std::string_view where, Problems& problems) {
  std::string_view v = xml::Attr(node, name);
  if (auto b = xml::ParseBool(v)) {
    out = *b;
  } else {
    problems.Add(where, fmt::format("{} '{}' is not a boolean", name, v));
  }
}

}  // namespace

bool IsReservedAttributeName(std::string_view name) {
  return std::find(kReservedNames.begin(), kReservedNames.end(), name) != kReservedNames.end();
}

Result<Schema> ParseSrcSchema(std::string_view text, std::string_view source) {
  SB_ASSIGN_OR_RETURN(auto doc, xml::ParseXml(text, source));
  pugi::xml_node root = doc->document_element();
  Problems problems(source);
  if (std::string_view(root.name()) != "srcSchema") {
    problems.Add(fmt::format("<{}>", root.name()), "the root element must be <srcSchema>");
    return problems.ToStatus();
  }
  Schema s;
  s.source = source;
  s.ns = xml::Attr(root, "namespace");
  s.name = xml::Attr(root, "name");
  s.label = xml::Attr(root, "label", s.name);
  std::string where = fmt::format("<srcSchema namespace='{}' name='{}'>", s.ns, s.name);
  if (!IsValidName(s.ns) || !IsValidName(s.name)) {
    problems.Add(where, "bad identifier: namespace and name must be letters, digits and '_', starting with a letter");
    return problems.ToStatus();
  }

  pugi::xml_node main;
  for (pugi::xml_node e : root.children("element")) {
    if (std::string_view(xml::Attr(e, "name")) == s.name) main = e;
  }
  if (!main) {
    problems.Add(where, fmt::format("no main <element name='{}'>", s.name));
    return problems.ToStatus();
  }
  std::string ewhere = fmt::format("element '{}'", s.name);
  s.label = xml::Attr(main, "label", s.label);
  s.data_source = xml::Attr(main, "dataSource");
  ParseBoolAttr(main, "autopk", s.autopk, ewhere, problems);
  ParseBoolAttr(main, "autouuid", s.autouuid, ewhere, problems);
  ParseBoolAttr(main, "autoStg", s.auto_stg, ewhere, problems);
  ParseBoolAttr(main, "replicated", s.replicated, ewhere, problems);
  std::string_view sqltable = xml::Attr(main, "sqltable");
  s.sql_table = sqltable.empty() ? Capitalize(s.ns) + Capitalize(s.name) : std::string(sqltable);
  if (!store::IsValidIdentifier(s.sql_table) || IsSqlKeyword(s.sql_table)) {
    problems.Add(ewhere, fmt::format("bad SQL table name '{}'", s.sql_table));
  }
  std::string_view stg_src = xml::Attr(root, "stgSrcSchema");
  if (s.autouuid && !s.autopk) problems.Add(ewhere, "autouuid requires autopk=\"true\"");
  if (s.auto_stg) {
    if (!stg_src.empty() || s.name.ends_with("Stg")) {
      problems.Add(ewhere, "autoStg is not allowed on a staging schema");
    } else if (s.replicated) {
      problems.Add(ewhere, "autoStg is not allowed on a replicated schema");
    } else if (s.data_source.empty()) {
      problems.Add(ewhere,
                   "autoStg is only allowed on a cloud schema (dataSource=\"nms:extAccount:ffda\"); "
                   "this schema is local");
    } else if (!s.autouuid) {
      problems.Add(ewhere, "autoStg requires autopk=\"true\" and autouuid=\"true\" (staged rows are keyed by uuid)");
    }
  }

  // The primary key comes first.
  if (s.autopk) {
    Attribute id;
    id.name = "id";
    id.role = AttrRole::kPrimaryKey;
    id.not_null = true;
    id.label = "Primary key";
    if (s.autouuid) {
      id.type = AttrType::kUuid;
      id.length = kIdLength;
      id.sql_name = "u" + Capitalize(s.name) + "Id";
    } else {
      id.type = AttrType::kInt64;
      id.sql_name = "i" + Capitalize(s.name) + "Id";
    }
    s.attributes.push_back(std::move(id));
    s.keys.push_back(Key{"id", {"id"}, true});
  }

  std::set<std::string> names{"id"};
  std::set<std::string> sql_names;
  for (const Attribute& a : s.attributes) sql_names.insert(a.sql_name);
  auto add_attribute = [&](Attribute a, std::string_view awhere) {
    if (a.link.empty() && (!IsValidName(a.name) || IsReservedAttributeName(a.name))) return;  // reported
    if (!names.insert(a.name).second) {
      problems.Add(awhere, fmt::format("duplicate attribute '{}'", a.name));
      return;
    }
    std::string lower = a.sql_name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!sql_names.insert(lower).second) {
      problems.Add(awhere, fmt::format("SQL name '{}' is used twice", a.sql_name));
      return;
    }
    s.attributes.push_back(std::move(a));
  };

  for (pugi::xml_node child : main.children()) {
    if (child.type() != pugi::node_element) continue;
    std::string_view tag = child.name();
    if (tag == "attribute") {
      Attribute a = ParseAttribute(child, ewhere, problems);
      std::string awhere = fmt::format("{}, attribute '{}'", ewhere, a.name);
      add_attribute(std::move(a), awhere);
    } else if (tag == "element") {
      std::string lname(xml::Attr(child, "name"));
      std::string lwhere = fmt::format("{}, element '{}'", ewhere, lname);
      if (std::string_view(xml::Attr(child, "type")) != "link") {
        problems.Add(lwhere, "only links (type=\"link\") are supported as sub-elements");
        continue;
      }
      if (!IsValidName(lname) || IsReservedAttributeName(lname)) {
        problems.Add(lwhere, fmt::format("bad link name '{}'", lname));
        continue;
      }
      Link link{lname, std::string(xml::Attr(child, "target")), std::string(xml::Attr(child, "label", lname)),
                lname + "-id"};
      if (xml::Prefix(link.target).empty()) {
        problems.Add(lwhere, fmt::format("link target '{}' is not a schema id (ns:name)", link.target));
        continue;
      }
      Attribute fk;
      fk.name = link.fk_attribute;
      fk.type = AttrType::kUuid;
      fk.length = kIdLength;
      fk.sql_name = "u" + Capitalize(lname) + "Id";
      fk.label = link.label;
      fk.link = lname;
      add_attribute(std::move(fk), lwhere);
      s.links.push_back(std::move(link));
    } else if (tag == "key") {
      Key k;
      k.name = xml::Attr(child, "name");
      std::string kwhere = fmt::format("{}, key '{}'", ewhere, k.name);
      if (!IsValidName(k.name) || k.name == "id") {
        problems.Add(kwhere, fmt::format("bad key name '{}'", k.name));
        continue;
      }
      if (s.FindKey(k.name)) {
        problems.Add(kwhere, fmt::format("duplicate key '{}'", k.name));
        continue;
      }
      for (pugi::xml_node f : child.children("keyfield")) {
        std::string_view xpath = xml::Attr(f, "xpath");
        k.fields.emplace_back(xpath.starts_with('@') ? xpath.substr(1) : xpath);
      }
      if (k.fields.empty()) problems.Add(kwhere, "a key needs at least one <keyfield xpath=\"@…\"/>");
      s.keys.push_back(std::move(k));
    } else if (tag == "help" || tag == "compute-string" || tag == "sysFilter" || tag == "dbindex") {
      // Descriptive elements of the platform's schemas; nothing to compile.
    } else {
      problems.Add(ewhere, fmt::format("unsupported element <{}>", tag));
    }
  }
  // Keys may name attributes declared after them: check once everything is read.
  // A keyfield may name a link ("recipient"): it stands for the link's foreign key.
  for (Key& k : s.keys) {
    for (std::string& f : k.fields) {
      for (const Link& link : s.links) {
        if (f == link.name) f = link.fk_attribute;
      }
      const Attribute* a = s.FindAttribute(f);
      if (a == nullptr) {
        problems.Add(fmt::format("{}, key '{}'", ewhere, k.name), fmt::format("key on unknown attribute '@{}'", f));
      } else if (a->type == AttrType::kMemo) {
        problems.Add(fmt::format("{}, key '{}'", ewhere, k.name), fmt::format("key on memo attribute '@{}'", f));
      }
    }
  }
  if (!problems.empty()) return problems.ToStatus();
  return s;
}

}  // namespace stagebridge::schema
