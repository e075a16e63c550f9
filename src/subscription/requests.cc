// requests.cc — decoding and staging subscription requests.
#include "subscription/requests.h"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "staging/values.h"
#include "staging/writer.h"
#include "store/sequence.h"
#include "store/table_spec.h"
#include "sync/merger.h"
#include "xml/document.h"

namespace stagebridge::subscription {
namespace {

constexpr const char* kBadServices = "SUB-200002";
constexpr const char* kBadKey = "SUB-200003";
constexpr const char* kUnknownAttribute = "STG-200003";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The nms:recipient attribute `_key` names ("@email" → email). Only the primary
// key and declared keys of one field reconcile a recipient.
Result<const schema::Attribute*> KeyAttribute(const schema::Schema& recipients, std::string_view key) {
  std::string_view spec = Trim(key);
  if (spec.empty()) spec = "@email";
  auto bad = [&] {
    std::vector<std::string> allowed{"@id"};
    for (const schema::Key* k : recipients.declared_keys()) {
      if (k->fields.size() == 1) allowed.push_back("@" + k->fields[0]);
    }
    return CodedError(Status::Code::kInvalidArgument, kBadKey,
                      fmt::format("The recipient's _key '{}' is not a key of {} (use one of: {}).",
                                  staging::Excerpt(key), kRecipientSchema, fmt::join(allowed, ", ")));
  };
  if (!spec.starts_with('@')) return bad();
  std::string_view name = spec.substr(1);
  if (name == "id") {
    return recipients.attributes.front().role == schema::AttrRole::kPrimaryKey
               ? Result<const schema::Attribute*>(&recipients.attributes.front())
               : bad();
  }
  for (const schema::Key* k : recipients.declared_keys()) {
    if (k->fields.size() == 1 && k->fields[0] == name) return recipients.FindAttribute(name);
  }
  return bad();
}

}  // namespace

Result<std::vector<std::string>> ParseServiceNames(std::string_view text, Action action) {
  std::vector<std::string> names;
  std::string_view rest = text;
  while (true) {
    std::size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    if (!item.empty()) {
      bool printable = std::all_of(item.begin(), item.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u >= 0x20 && u != 0x7f;
      });
      if (item.size() > 64 || !printable) {
        return CodedError(Status::Code::kInvalidArgument, kBadServices,
                          fmt::format("The service name '{}' is not a valid internal name (at most 64 printable "
                                      "characters).",
                                      staging::Excerpt(xml::Printable(item))));
      }
      std::string name(item);
      bool seen = false;
      for (const std::string& n : names) seen = seen || n == name;
      if (!seen) names.push_back(std::move(name));
      if (names.size() > kMaxServicesPerCall) {
        return CodedError(Status::Code::kInvalidArgument, kBadServices,
                          fmt::format("Too many services in one call (at most {}).", kMaxServicesPerCall));
      }
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (names.empty()) {
    if (action == Action::kSubscribe) {
      return CodedError(Status::Code::kInvalidArgument, kBadServices,
                        "Subscribe needs the internal name of a service in 'serviceName' (a comma-separated list "
                        "names several).");
    }
    names.emplace_back();  // Unsubscribe from nothing in particular: the global blocklist
  }
  return names;
}

Result<std::vector<Request>> DecodeRequests(Action action, const std::vector<std::string>& services,
                                            pugi::xml_node recipient, bool create, const schema::SchemaSet& schemas,
                                            const std::string& origin) {
  const schema::Schema* recipients = schemas.Find(kRecipientSchema);
  if (recipients == nullptr) return Status::Internal("the built-in schema nms:recipient is missing");
  SB_ASSIGN_OR_RETURN(const schema::Attribute* key, KeyAttribute(*recipients, xml::Attr(recipient, "_key")));
  std::string_view key_name = key->role == schema::AttrRole::kPrimaryKey ? std::string_view("id") : key->name;
  pugi::xml_attribute key_attr = recipient.attribute(std::string(key_name).c_str());
  if (!key_attr || Trim(key_attr.value()).empty()) {
    return CodedError(Status::Code::kInvalidArgument, kBadKey,
                      fmt::format("The recipient has no value for its key @{} (the _key it reconciles on).", key_name));
  }
  std::string key_value;
  if (key->role == schema::AttrRole::kPrimaryKey) {
    SB_RETURN_IF_ERROR(staging::CheckId(key_attr.value(), kRecipientSchema));
    key_value = key_attr.value();
  } else {
    SB_ASSIGN_OR_RETURN(store::Value v, staging::ConvertValue(*key, kRecipientSchema, key_attr.value()));
    key_value = store::ValueToString(v);
  }

  // Every attribute is checked, also without create: a typo is better refused now.
  pugi::xml_document kept;
  pugi::xml_node out = kept.append_child("recipient");
  for (pugi::xml_attribute a : recipient.attributes()) {
    std::string_view name = a.name();
    if (name == "_key" || name == "xtkschema" || name == "_operation" || name.starts_with("xmlns")) continue;
    const schema::Attribute* attr = recipients->FindAttribute(name);
    if (attr == nullptr || (attr->role != schema::AttrRole::kBusiness && attr->role != schema::AttrRole::kPrimaryKey)) {
      return CodedError(Status::Code::kInvalidArgument, kUnknownAttribute,
                        fmt::format("The attribute '{}' is not defined in schema '{}'.",
                                    staging::Excerpt(xml::Printable(name)), kRecipientSchema));
    }
    if (attr->role == schema::AttrRole::kPrimaryKey) {
      SB_RETURN_IF_ERROR(staging::CheckId(a.value(), kRecipientSchema));
    } else {
      SB_RETURN_IF_ERROR(staging::ConvertValue(*attr, kRecipientSchema, a.value()).status());
    }
    out.append_attribute(a.name()) = a.value();
  }
  std::string kept_xml;
  if (create) {
    std::ostringstream s;
    kept.save(s, "", pugi::format_raw | pugi::format_no_declaration);
    kept_xml = s.str();
  }
  std::vector<Request> requests;
  requests.reserve(services.size());
  for (const std::string& service : services) {
    Request r;
    r.action = action;
    r.service = service;
    r.key_attr = std::string(key_name);
    r.key_value = key_value;
    r.create = create && action == Action::kSubscribe;
    r.recipient = r.create ? kept_xml : std::string();
    r.origin = origin;
    requests.push_back(std::move(r));
  }
  return requests;
}

Status EnsureRequestTable(store::Database& db) {
  SB_RETURN_IF_ERROR(store::EnsureSequence(db, staging::kStagingSequence));
  store::TableSpec spec;
  spec.name = kRequestTable;
  spec.columns = {{"iSeq", store::ColumnType::kInt64, 0, true, ""},
                  {"iAction", store::ColumnType::kInt16, 0, true, "0"},
                  {"sService", store::ColumnType::kString, 64, true, "''"},
                  {"sKeyAttr", store::ColumnType::kString, 64, true, ""},
                  {"sKeyValue", store::ColumnType::kString, 255, true, ""},
                  {"iCreate", store::ColumnType::kInt16, 0, true, "0"},
                  {"mRecipient", store::ColumnType::kText, 0, false, ""},
                  {"sOrigin", store::ColumnType::kString, 128, true, "''"},
                  {"tsRequested", store::ColumnType::kTimestampTz, 0, true, "CURRENT_TIMESTAMP"}};
  spec.primary_key = {"iSeq"};
  return sync::EnsureTableRacing(db, spec);
}

Status StageRequests(store::Database& db, const std::vector<Request>& requests) {
  if (requests.empty()) return Status::Ok();
  std::string seq_expr = store::NextValueExpression(db.kind(), staging::kStagingSequence);
  std::string sql = fmt::format(
      "INSERT INTO {} (iSeq, iAction, sService, sKeyAttr, sKeyValue, iCreate, mRecipient, sOrigin) VALUES ({}, $1, "
      "$2, $3, $4, $5, $6, $7)",
      kRequestTable, seq_expr.empty() ? "$8" : seq_expr);
  store::Transaction txn(db);
  SB_RETURN_IF_ERROR(txn.Begin());
  std::vector<std::int64_t> seqs;
  if (seq_expr.empty()) {
    SB_ASSIGN_OR_RETURN(
        seqs, store::NextSequenceValues(db, staging::kStagingSequence, static_cast<std::int64_t>(requests.size())));
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const Request& r = requests[i];
    store::Params params{std::int64_t{static_cast<int>(r.action)},
                         r.service,
                         r.key_attr,
                         r.key_value,
                         std::int64_t{r.create ? 1 : 0},
                         r.recipient.empty() ? store::Value{} : store::Value{r.recipient},
                         r.origin};
    if (!seqs.empty()) params.emplace_back(seqs[i]);
    SB_RETURN_IF_ERROR(db.Execute(sql, params).status());
  }
  return txn.Commit();
}

Result<std::vector<Request>> ReadRequests(store::Database& db, std::int64_t lo, std::int64_t hi, std::int64_t limit) {
  SB_ASSIGN_OR_RETURN(
      auto rows,
      db.Query(fmt::format("SELECT iSeq, iAction, sService, sKeyAttr, sKeyValue, iCreate, mRecipient, sOrigin, "
                           "tsRequested FROM {} WHERE iSeq > $1 AND iSeq <= $2 ORDER BY iSeq LIMIT $3",
                           kRequestTable),
               {lo, hi, limit}));
  std::vector<Request> out;
  out.reserve(rows.size());
  auto as_text = [](const store::Value& v) { return store::IsNull(v) ? std::string() : store::ValueToString(v); };
  for (const store::Row& row : rows) {
    Request r;
    r.seq = sync::AsInt(row[0]);
    r.action = sync::AsInt(row[1]) == 1 ? Action::kSubscribe : Action::kUnsubscribe;
    r.service = as_text(row[2]);
    r.key_attr = as_text(row[3]);
    r.key_value = as_text(row[4]);
    r.create = sync::AsInt(row[5]) != 0;
    r.recipient = as_text(row[6]);
    r.origin = as_text(row[7]);
    r.requested = as_text(row[8]);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::int64_t> ClearRequests(store::Database& db, std::int64_t upto) {
  return db.Execute(fmt::format("DELETE FROM {} WHERE iSeq <= $1", kRequestTable), {upto});
}

Result<std::int64_t> PendingRequests(store::Database& db) {
  return sync::ScalarInt(db, fmt::format("SELECT count(*) FROM {}", kRequestTable), {});
}

}  // namespace stagebridge::subscription
