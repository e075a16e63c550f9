// processor.cc — the ffdaUnsubscribe cycle: watermark, batches of requests
// applied one by one inside a cloud transaction, clean-up.
#include "subscription/processor.h"

#include <chrono>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "staging/record.h"
#include "staging/values.h"
#include "subscription/requests.h"
#include "xml/document.h"

namespace stagebridge::subscription {
namespace {

constexpr const char* kMissingTables = "SUB-300001";

// The blocklist flag of each channel (nms:service messageType).
const char* ChannelFlag(std::int64_t message_type) {
  switch (message_type) {
    case 0: return "blackListEmail";
    case 1: return "blackListMobile";
    case 2: return "blackListPhone";
    case 3: return "blackListPostalMail";
    case 4: return "blackListFax";
    default: return nullptr;
  }
}

// The nms:recipient blocklist flags.
constexpr const char* kFlags[] = {"blackList",      "blackListEmail",      "blackListMobile",
                                  "blackListPhone", "blackListPostalMail", "blackListFax"};

// Timestamps read back from SQLite carry no zone; they are UTC (PostgreSQL
// would read them in its session's time zone).
std::string WithZone(std::string ts, store::DialectKind cloud) {
  if (ts.size() == 19 && cloud == store::DialectKind::kPostgres) ts += "+00";
  return ts;
}

// Column names of the four cloud tables, from the compiled schemas.
struct Tables {
  const schema::Schema* recipients = nullptr;
  const schema::Schema* services = nullptr;
  const schema::Schema* subscriptions = nullptr;
  const schema::Schema* history = nullptr;

  static Result<Tables> From(const schema::SchemaSet& schemas) {
    Tables t{schemas.Find(kRecipientSchema), schemas.Find(kServiceSchema), schemas.Find(kSubscriptionSchema),
             schemas.Find(kHistorySchema)};
    if (!t.recipients || !t.services || !t.subscriptions || !t.history) {
      return Status::Internal("a built-in subscription schema is missing");
    }
    return t;
  }
};

std::string Col(const schema::Schema& s, std::string_view attr) {
  if (attr == "id") return s.attributes.front().sql_name;
  const schema::Attribute* a = s.FindAttribute(attr);
  return a != nullptr ? a->sql_name : std::string(attr);
}

struct Recipient {
  bool exists = false;
  std::string id;
  std::map<std::string, bool> flags;  // blackList, blackListEmail, …
};

struct Service {
  std::string id;
  std::int64_t message_type = 0;
};

class Batch {
 public:
  Batch(store::Database& cloud, const Tables& t, ProcessResult& result) : cloud_(cloud), t_(t), result_(result) {}

  Status Apply(const Request& r) {
    std::optional<Service> service;
    if (!r.service.empty()) {
      SB_ASSIGN_OR_RETURN(service, FindService(r.service));
      if (!service) {
        if (r.action == Action::kUnsubscribe) return NoOp();
        return Refuse(r, nullptr, nullptr, fmt::format("unknown service '{}'", r.service));
      }
    }
    SB_ASSIGN_OR_RETURN(Recipient found, FindRecipient(r.key_attr, r.key_value));
    Recipient* rcp = &found;
    if (!rcp->exists) {
      if (r.action == Action::kUnsubscribe) return NoOp();
      if (!r.create) return Refuse(r, nullptr, service ? &*service : nullptr, "unknown recipient (create was not set)");
      SB_ASSIGN_OR_RETURN(std::string conflict, CreateRecipient(r, *rcp));
      if (!conflict.empty()) return Refuse(r, nullptr, service ? &*service : nullptr, conflict);
    }
    const Service* svc = service ? &*service : nullptr;
    if (r.action == Action::kSubscribe) {
      if (svc == nullptr) return Refuse(r, rcp, nullptr, "no service named");
      if (rcp->flags["blackList"]) return Refuse(r, rcp, svc, "the recipient is on the blocklist (blackList)");
      if (const char* flag = ChannelFlag(svc->message_type); flag != nullptr && rcp->flags[flag]) {
        return Refuse(r, rcp, svc, fmt::format("the recipient opted out of the service's channel ({})", flag));
      }
      SB_ASSIGN_OR_RETURN(
          auto rows,
          cloud_.Query(fmt::format("SELECT 1 FROM {} WHERE {} = $1 AND {} = $2", t_.subscriptions->sql_table,
                                   Col(*t_.subscriptions, "recipient-id"), Col(*t_.subscriptions, "service-id")),
                       {rcp->id, svc->id}));
      if (!rows.empty()) return NoOp();
      SB_RETURN_IF_ERROR(
          cloud_
              .Execute(
                  fmt::format("INSERT INTO {} ({}, {}, {}, {}) VALUES ($1, $2, $3, $4)", t_.subscriptions->sql_table,
                              Col(*t_.subscriptions, "id"), Col(*t_.subscriptions, "recipient-id"),
                              Col(*t_.subscriptions, "service-id"), Col(*t_.subscriptions, "created")),
                  {staging::NewUuid(), rcp->id, svc->id, WithZone(r.requested, cloud_.kind())})
              .status());
      ++result_.subscriptions.inserted;
      return Record(r, rcp, svc, "subscribe", "");
    }
    if (svc == nullptr) {  // Unsubscribe from everything: the blocklist
      if (rcp->flags["blackList"]) return NoOp();
      SB_RETURN_IF_ERROR(cloud_
                             .Execute(fmt::format("UPDATE {} SET {} = 1 WHERE {} = $1", t_.recipients->sql_table,
                                                  Col(*t_.recipients, "blackList"), Col(*t_.recipients, "id")),
                                      {rcp->id})
                             .status());
      rcp->flags["blackList"] = true;
      ++result_.subscriptions.updated;
      return Record(r, rcp, nullptr, "blocklist", "");
    }
    SB_ASSIGN_OR_RETURN(
        std::int64_t n,
        cloud_.Execute(fmt::format("DELETE FROM {} WHERE {} = $1 AND {} = $2", t_.subscriptions->sql_table,
                                   Col(*t_.subscriptions, "recipient-id"), Col(*t_.subscriptions, "service-id")),
                       {rcp->id, svc->id}));
    if (n == 0) return NoOp();
    ++result_.subscriptions.deleted;
    return Record(r, rcp, svc, "unsubscribe", "");
  }

 private:
  Status NoOp() {
    ++result_.no_ops;
    return Status::Ok();
  }

  Result<std::optional<Service>> FindService(const std::string& name) {
    auto it = services_.find(name);
    if (it != services_.end()) return it->second;
    SB_ASSIGN_OR_RETURN(auto rows, cloud_.Query(fmt::format("SELECT {}, {} FROM {} WHERE {} = $1",
                                                            Col(*t_.services, "id"), Col(*t_.services, "messageType"),
                                                            t_.services->sql_table, Col(*t_.services, "name")),
                                                {name}));
    std::optional<Service> found;
    if (!rows.empty()) found = Service{store::ValueToString(rows[0][0]), sync::AsInt(rows[0][1])};
    services_[name] = found;
    return found;
  }

  // Not cached: a recipient may be named by its id in one request and by its
  // email in the next, and the transaction sees its own writes.
  Result<Recipient> FindRecipient(const std::string& key_attr, const std::string& key_value) {
    std::vector<std::string> cols{Col(*t_.recipients, "id")};
    for (const char* f : kFlags) cols.push_back(Col(*t_.recipients, f));
    SB_ASSIGN_OR_RETURN(auto rows, cloud_.Query(fmt::format("SELECT {} FROM {} WHERE {} = $1", fmt::join(cols, ", "),
                                                            t_.recipients->sql_table, Col(*t_.recipients, key_attr)),
                                                {key_value}));
    Recipient r;
    if (!rows.empty()) {
      r.exists = true;
      r.id = store::ValueToString(rows[0][0]);
      std::size_t i = 1;
      for (const char* f : kFlags) {
        const store::Value& v = rows[0][i++];
        r.flags[f] = !store::IsNull(v) && sync::AsInt(v) != 0;
      }
    }
    return r;
  }

  // Inserts the recipient a Subscribe with create=true describes. Returns why it
  // cannot be created ("" when it was): its id or a declared key's value already
  // belongs to another recipient (checked first, so the transaction stays usable).
  Result<std::string> CreateRecipient(const Request& r, Recipient& rcp) {
    pugi::xml_document doc;
    if (!doc.load_string(r.recipient.c_str()) || !doc.first_child()) {
      return Status::Internal(fmt::format("request {}: the recipient to create is unreadable", r.seq));
    }
    std::vector<std::string> cols;
    store::Params values;
    std::map<std::string, store::Value> given;  // attribute name → value
    std::string id;
    for (pugi::xml_attribute a : doc.first_child().attributes()) {
      std::string_view name = a.name();
      if (name == "id") {
        id = a.value();
        continue;
      }
      const schema::Attribute* attr = t_.recipients->FindAttribute(name);
      if (attr == nullptr) continue;  // checked when the call was accepted
      SB_ASSIGN_OR_RETURN(store::Value v, staging::ConvertValue(*attr, kRecipientSchema, a.value()));
      cols.push_back(attr->sql_name);
      given[attr->name] = v;
      values.push_back(std::move(v));
    }
    if (id.empty()) id = staging::NewUuid();
    given["id"] = id;
    for (const schema::Key& key : t_.recipients->keys) {
      std::vector<std::string> where;
      store::Params params;
      for (const std::string& field : key.fields) {
        std::string attr = key.internal ? std::string("id") : field;
        auto it = given.find(attr);
        if (it == given.end() || store::IsNull(it->second)) break;
        where.push_back(fmt::format("{} = ${}", Col(*t_.recipients, attr), params.size() + 1));
        params.push_back(it->second);
      }
      if (where.size() != key.fields.size()) continue;  // not every field given: no conflict possible
      SB_ASSIGN_OR_RETURN(auto rows, cloud_.Query(fmt::format("SELECT 1 FROM {} WHERE {}", t_.recipients->sql_table,
                                                              fmt::join(where, " AND ")),
                                                  params));
      if (!rows.empty()) {
        return fmt::format("cannot create the recipient: its {} is already another recipient's",
                           key.internal ? std::string("id") : fmt::format("{}", fmt::join(key.fields, "+")));
      }
    }
    cols.insert(cols.begin(), Col(*t_.recipients, "id"));
    values.insert(values.begin(), id);
    std::string placeholders;
    for (std::size_t i = 1; i <= cols.size(); ++i) placeholders += fmt::format("{}${}", i > 1 ? ", " : "", i);
    SB_RETURN_IF_ERROR(cloud_
                           .Execute(fmt::format("INSERT INTO {} ({}) VALUES ({})", t_.recipients->sql_table,
                                                fmt::join(cols, ", "), placeholders),
                                    values)
                           .status());
    rcp.exists = true;
    rcp.id = id;
    for (const char* f : kFlags) {
      auto it = given.find(f);
      rcp.flags[f] = it != given.end() && !store::IsNull(it->second) && sync::AsInt(it->second) != 0;
    }
    ++result_.recipients_created;
    return std::string();
  }

  Status Refuse(const Request& r, const Recipient* rcp, const Service* svc, const std::string& why) {
    ++result_.subscriptions.rejected;
    if (result_.subscriptions.rejections.size() < static_cast<std::size_t>(sync::kMaxRecordedRejections)) {
      result_.subscriptions.rejections.push_back(
          fmt::format("{}={}, service '{}': {}", r.key_attr, r.key_value, r.service, why));
    }
    return Record(r, rcp, svc, "refused", why);
  }

  Status Record(const Request& r, const Recipient* rcp, const Service* svc, const char* action,
                const std::string& reason) {
    const schema::Schema& h = *t_.history;
    return cloud_
        .Execute(fmt::format("INSERT INTO {} ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) VALUES ($1, $2, $3, $4, $5, "
                             "$6, $7, $8, $9, $10, CURRENT_TIMESTAMP)",
                             h.sql_table, Col(h, "id"), Col(h, "recipient-id"), Col(h, "service-id"),
                             Col(h, "serviceName"), Col(h, "recipientKey"), Col(h, "action"), Col(h, "origin"),
                             Col(h, "reason"), Col(h, "sequence"), Col(h, "requested"), Col(h, "applied")),
                 {staging::NewUuid(), rcp != nullptr && rcp->exists ? store::Value{rcp->id} : store::Value{},
                  svc != nullptr ? store::Value{svc->id} : store::Value{}, r.service,
                  fmt::format("{}={}", r.key_attr, r.key_value).substr(0, 255), std::string(action), r.origin,
                  reason.empty() ? store::Value{} : store::Value{reason.substr(0, 255)}, r.seq,
                  WithZone(r.requested, cloud_.kind())})
        .status();
  }

  store::Database& cloud_;
  const Tables& t_;
  ProcessResult& result_;
  std::map<std::string, std::optional<Service>> services_;
};

}  // namespace

Processor::Processor(store::Database& local, store::Database& cloud, const schema::SchemaSet& schemas,
                     ProcessOptions options)
    : local_(local), cloud_(cloud), schemas_(schemas), options_(std::move(options)) {}

Status Processor::Process(ProcessResult& result) {
  result = ProcessResult{};
  result.subscriptions.schema = kSubscriptionSchema;
  auto started = std::chrono::steady_clock::now();
  SB_ASSIGN_OR_RETURN(Tables tables, Tables::From(schemas_));
  for (const schema::Schema* s : {tables.recipients, tables.services, tables.subscriptions, tables.history}) {
    SB_ASSIGN_OR_RETURN(bool exists, cloud_.TableExists(s->sql_table));
    if (!exists) {
      return CodedError(Status::Code::kFailedPrecondition, kMissingTables,
                        fmt::format("The cloud table {} of {} does not exist: run `stagebridge schema apply` first; "
                                    "the subscription requests stay staged.",
                                    s->sql_table, s->id()));
    }
  }
  SB_RETURN_IF_ERROR(EnsureRequestTable(local_));
  SB_RETURN_IF_ERROR(sync::EnsureCloudBookkeeping(cloud_));
  SB_ASSIGN_OR_RETURN(std::string source_id, sync::LocalSourceId(local_));
  SB_RETURN_IF_ERROR(cloud_
                         .Execute("INSERT INTO SbAppliedSeq (sSource, sSchema, iSeq) VALUES ($1, $2, 0) ON CONFLICT "
                                  "DO NOTHING",
                                  {source_id, std::string(kWatermarkSchema)})
                         .status());
  SB_ASSIGN_OR_RETURN(std::int64_t applied, sync::AppliedWatermark(cloud_, source_id, kWatermarkSchema));
  // Requests a previous run applied but did not clear (it died after its commit).
  sync::CrashPoint("subscriptions-leftovers");
  SB_ASSIGN_OR_RETURN(result.subscriptions.leftovers_cleared, ClearRequests(local_, applied));
  SB_ASSIGN_OR_RETURN(std::int64_t upto, sync::HighestSequence(local_, kRequestTable, "iSeq"));
  SB_ASSIGN_OR_RETURN(
      std::int64_t total,
      sync::ScalarInt(local_, fmt::format("SELECT count(*) FROM {} WHERE iSeq <= $1", kRequestTable), {upto}));
  std::int64_t lo = applied;
  while (lo < upto) {
    SB_ASSIGN_OR_RETURN(std::vector<Request> requests,
                        ReadRequests(local_, lo, upto, std::max<std::int64_t>(options_.batch_requests, 1)));
    if (requests.empty()) break;
    std::int64_t hi = requests.back().seq;
    ProcessResult batch;
    batch.subscriptions.schema = kSubscriptionSchema;
    {
      store::Transaction txn(cloud_);
      SB_RETURN_IF_ERROR(txn.Begin());
      // Fence: another run (a lease that expired under a stalled holder) cannot apply twice.
      std::string lock_sql = "SELECT iSeq FROM SbAppliedSeq WHERE sSource = $1 AND sSchema = $2";
      if (cloud_.kind() == store::DialectKind::kPostgres) lock_sql += " FOR UPDATE";
      SB_ASSIGN_OR_RETURN(std::int64_t current,
                          sync::ScalarInt(cloud_, lock_sql, {source_id, std::string(kWatermarkSchema)}));
      if (current != lo) {
        return CodedError(Status::Code::kAborted, "SYN-300002",
                          fmt::format("The applied watermark of the subscription requests moved from {} to {} during "
                                      "the run (another run applied them concurrently); this batch was not applied.",
                                      lo, current));
      }
      Batch apply(cloud_, tables, batch);
      for (const Request& r : requests) SB_RETURN_IF_ERROR(apply.Apply(r));
      SB_RETURN_IF_ERROR(cloud_
                             .Execute("UPDATE SbAppliedSeq SET iSeq = $3, tsApplied = CURRENT_TIMESTAMP WHERE sSource "
                                      "= $1 AND sSchema = $2",
                                      {source_id, std::string(kWatermarkSchema), hi})
                             .status());
      sync::CrashPoint("subscriptions-applied");
      SB_RETURN_IF_ERROR(txn.Commit());
    }
    // Counted once committed: the figures never include a batch that rolled back.
    sync::SchemaResult& s = result.subscriptions;
    s.staged += static_cast<std::int64_t>(requests.size());
    s.inserted += batch.subscriptions.inserted;
    s.updated += batch.subscriptions.updated;
    s.deleted += batch.subscriptions.deleted;
    s.rejected += batch.subscriptions.rejected;
    for (std::string& why : batch.subscriptions.rejections) {
      if (s.rejections.size() < static_cast<std::size_t>(sync::kMaxRecordedRejections)) {
        s.rejections.push_back(std::move(why));
      }
    }
    ++s.batches;
    result.recipients_created += batch.recipients_created;
    result.no_ops += batch.no_ops;
    sync::CrashPoint("subscriptions-committed");
    SB_RETURN_IF_ERROR(ClearRequests(local_, hi).status());
    lo = hi;
    if (options_.on_batch) {
      sync::Progress p;
      p.schema = kSubscriptionSchema;
      p.done = s.staged;
      p.total = total;
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      SB_RETURN_IF_ERROR(options_.on_batch(p));
    }
  }
  return Status::Ok();
}

}  // namespace stagebridge::subscription
