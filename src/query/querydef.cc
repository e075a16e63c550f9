// querydef.cc — reading a queryDef document into the model.
#include "query/querydef.h"

#include <charconv>

#include <fmt/format.h>

#include "query/expr.h"
#include "xml/document.h"

namespace stagebridge::query {
namespace {

Status Bad(std::string_view message) {
  return CodedError(Status::Code::kInvalidArgument, codes::kBadQueryDef, message);
}

Status Unsupported(std::string_view message) {
  return CodedError(Status::Code::kInvalidArgument, codes::kUnsupported, message);
}

std::string_view Local(pugi::xml_node n) {
  return xml::LocalName(n.name());
}

bool NameIs(pugi::xml_node n, std::string_view camel) {
  std::string_view name = Local(n);
  if (name == camel) return true;
  // The documentation's prose also writes <orderby>/<groupby>.
  if (name.size() != camel.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(name[i])) != std::tolower(static_cast<unsigned char>(camel[i]))) {
      return false;
    }
  }
  return true;
}

Result<bool> BoolAttr(pugi::xml_node n, const char* name, std::string_view where) {
  pugi::xml_attribute a = n.attribute(name);
  if (!a) return false;
  std::optional<bool> v = xml::ParseBool(a.value());
  if (!v) {
    return Bad(
        fmt::format("The attribute '{}' of {} must be true, false, 1 or 0, not '{}'.", name, where, Quote(a.value())));
  }
  return *v;
}

Result<std::optional<std::int64_t>> CountAttr(pugi::xml_node n, const char* name) {
  pugi::xml_attribute a = n.attribute(name);
  if (!a) return std::optional<std::int64_t>();
  std::string_view text = a.value();
  std::int64_t v = -1;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < 0) {
    return Bad(
        fmt::format("The attribute '{}' of the queryDef must be a non-negative integer, not '{}'.", name, Quote(text)));
  }
  return std::optional<std::int64_t>(v);
}

// Only expressions and nodes are read: an element we do not know inside a
// list would change the result, so it is refused.
Status ExpectOnly(pugi::xml_node parent, std::string_view child, std::string_view where) {
  for (pugi::xml_node n : parent.children()) {
    if (n.type() != pugi::node_element) continue;
    if (Local(n) != child) {
      return Unsupported(fmt::format("<{}> in {} is not supported (only <{}> is).", Quote(Local(n)), where, child));
    }
  }
  return Status::Ok();
}

// `kind` is "where" or "having"; `path` numbers the enclosing groups ("2.").
Status ReadConditions(pugi::xml_node parent, std::string_view kind, const std::string& path,
                      std::vector<Condition>& out, std::size_t& count, const QueryDefLimits& limits) {
  SB_RETURN_IF_ERROR(ExpectOnly(parent, "condition", fmt::format("<{}>", Quote(Local(parent)))));
  std::size_t index = 0;
  for (pugi::xml_node n : parent.children()) {
    if (n.type() != pugi::node_element) continue;
    ++index;
    if (++count > limits.max_conditions) {
      return CodedError(Status::Code::kInvalidArgument, codes::kLimits,
                        fmt::format("The queryDef has more than {} conditions.", limits.max_conditions));
    }
    Condition c;
    c.where = fmt::format("{} condition {}{}", kind, path, index);
    if (xml::ParseBool(xml::Attr(n, "ignore")).value_or(false)) continue;
    for (const char* refused : {"sql", "filter-name", "setOperator"}) {
      if (n.attribute(refused)) {
        return Unsupported(fmt::format("The attribute '{}' of {} is not supported.", refused, c.where));
      }
    }
    if (!xml::Attr(n, "enabledIf").empty()) {
      return Unsupported(fmt::format("A non-empty 'enabledIf' ({}) is not supported.", c.where));
    }
    std::string_view op = xml::Attr(n, "boolOperator", xml::Attr(n, "bool-operator"));
    std::string upper;
    for (char ch : op) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (upper == "OR") {
      c.or_next = true;
    } else if (!upper.empty() && upper != "AND") {
      return Bad(fmt::format("The boolOperator of {} must be AND or OR, not '{}'.", c.where, Quote(op)));
    }
    c.expr = std::string(xml::Attr(n, "expr"));
    bool has_children = n.find_child([](pugi::xml_node k) { return k.type() == pugi::node_element; });
    if (has_children) {
      if (!c.expr.empty()) {
        return Unsupported(
            fmt::format("{} has both an expression and nested conditions (a link condition); "
                        "write the nested conditions in a condition without expr.",
                        c.where));
      }
      SB_RETURN_IF_ERROR(ReadConditions(n, kind, fmt::format("{}{}.", path, index), c.group, count, limits));
      if (c.group.empty()) continue;  // every nested condition ignored
    } else if (c.expr.empty()) {
      return Bad(fmt::format("{} has no expr.", c.where));
    }
    out.push_back(std::move(c));
  }
  return Status::Ok();
}

}  // namespace

std::string_view OperationName(Operation op) {
  switch (op) {
    case Operation::kGet: return "get";
    case Operation::kGetIfExists: return "getIfExists";
    case Operation::kSelect: return "select";
    case Operation::kCount: return "count";
  }
  return "select";
}

Result<QueryDef> ReadQueryDef(pugi::xml_node root, const QueryDefLimits& limits) {
  if (!root || Local(root) != "queryDef") {
    return Bad(fmt::format("The query must be a <queryDef> element, not <{}>.", root ? Quote(Local(root)) : ""));
  }
  std::string_view xtkschema = xml::Attr(root, "xtkschema");
  if (!xtkschema.empty() && xtkschema != "xtk:queryDef") {
    return Bad(fmt::format("The queryDef's xtkschema must be 'xtk:queryDef', not '{}'.", Quote(xtkschema)));
  }
  QueryDef q;
  q.schema = std::string(xml::Attr(root, "schema"));
  if (q.schema.empty()) return Bad("The queryDef has no 'schema' attribute.");
  std::string_view op = xml::Attr(root, "operation");
  if (op == "get") {
    q.operation = Operation::kGet;
  } else if (op == "getIfExists") {
    q.operation = Operation::kGetIfExists;
  } else if (op == "select") {
    q.operation = Operation::kSelect;
  } else if (op == "count") {
    q.operation = Operation::kCount;
  } else if (op.empty()) {
    return Bad("The queryDef has no 'operation' attribute (get, getIfExists, select or count).");
  } else {
    return Bad(fmt::format("The operation '{}' is not supported (get, getIfExists, select or count).", Quote(op)));
  }
  SB_ASSIGN_OR_RETURN(q.line_count, CountAttr(root, "lineCount"));
  SB_ASSIGN_OR_RETURN(std::optional<std::int64_t> start, CountAttr(root, "startLine"));
  q.start_line = start.value_or(0);
  SB_ASSIGN_OR_RETURN(q.distinct, BoolAttr(root, "distinct", "the queryDef"));
  if (root.attribute("sql")) return Unsupported("The attribute 'sql' of the queryDef is not supported.");

  std::size_t conditions = 0;
  for (pugi::xml_node child : root.children()) {
    if (child.type() != pugi::node_element) continue;
    if (NameIs(child, "select")) {
      SB_RETURN_IF_ERROR(ExpectOnly(child, "node", "<select>"));
      for (pugi::xml_node n : child.children("node")) {
        std::string where = fmt::format("select node {}", q.select.size() + 1);
        if (q.select.size() >= limits.max_select_nodes) {
          return CodedError(Status::Code::kInvalidArgument, codes::kLimits,
                            fmt::format("The queryDef selects more than {} nodes.", limits.max_select_nodes));
        }
        if (n.find_child([](pugi::xml_node k) { return k.type() == pugi::node_element; })) {
          return Unsupported(fmt::format("{} has nested nodes (a collection link), which is not supported.", where));
        }
        SelectNode node;
        node.expr = std::string(xml::Attr(n, "expr"));
        if (node.expr.empty()) return Bad(fmt::format("{} has no expr.", where));
        node.alias = std::string(xml::Attr(n, "alias"));
        SB_ASSIGN_OR_RETURN(node.group_by, BoolAttr(n, "groupBy", where));
        q.select.push_back(std::move(node));
      }
    } else if (NameIs(child, "where")) {
      SB_RETURN_IF_ERROR(ReadConditions(child, "where", "", q.where, conditions, limits));
    } else if (NameIs(child, "having")) {
      SB_RETURN_IF_ERROR(ReadConditions(child, "having", "", q.having, conditions, limits));
    } else if (NameIs(child, "orderBy")) {
      SB_RETURN_IF_ERROR(ExpectOnly(child, "node", "<orderBy>"));
      for (pugi::xml_node n : child.children("node")) {
        std::string where = fmt::format("orderBy node {}", q.order_by.size() + 1);
        if (q.order_by.size() >= limits.max_order_nodes) {
          return CodedError(Status::Code::kInvalidArgument, codes::kLimits,
                            fmt::format("The queryDef orders by more than {} nodes.", limits.max_order_nodes));
        }
        OrderNode node;
        node.expr = std::string(xml::Attr(n, "expr"));
        if (node.expr.empty()) return Bad(fmt::format("{} has no expr.", where));
        SB_ASSIGN_OR_RETURN(node.desc, BoolAttr(n, "sortDesc", where));
        q.order_by.push_back(std::move(node));
      }
    } else if (NameIs(child, "groupBy")) {
      SB_RETURN_IF_ERROR(ExpectOnly(child, "node", "<groupBy>"));
      for (pugi::xml_node n : child.children("node")) {
        std::string expr(xml::Attr(n, "expr"));
        if (expr.empty()) return Bad(fmt::format("groupBy node {} has no expr.", q.group_by.size() + 1));
        if (q.group_by.size() >= limits.max_order_nodes) {
          return CodedError(Status::Code::kInvalidArgument, codes::kLimits,
                            fmt::format("The queryDef groups by more than {} nodes.", limits.max_order_nodes));
        }
        q.group_by.push_back(std::move(expr));
      }
    } else {
      return Unsupported(fmt::format("<{}> in a queryDef is not supported (select, where, orderBy, groupBy, having).",
                                     Quote(Local(child))));
    }
  }
  return q;
}

Result<QueryDef> ParseQueryDef(std::string_view text, const QueryDefLimits& limits) {
  Result<std::unique_ptr<pugi::xml_document>> doc = xml::ParseXml(text, "queryDef document");
  if (!doc.ok()) return CodedError(Status::Code::kInvalidArgument, "SOP-330001", doc.status().message());
  return ReadQueryDef((*doc)->document_element(), limits);
}

std::vector<std::string> SplitTopLevel(std::string_view list) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  char quote = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    char c = list[i];
    if (quote != 0) {
      current.push_back(c);
      if (c == '\\' && i + 1 < list.size()) {
        current.push_back(list[++i]);
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(current);
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  out.push_back(current);
  for (std::string& s : out) {
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    while (!s.empty() && s.back() == ' ') s.pop_back();
  }
  std::erase_if(out, [](const std::string& s) { return s.empty(); });
  return out;
}

}  // namespace stagebridge::query
