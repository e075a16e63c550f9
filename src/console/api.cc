// api.cc — the console's data endpoints (docs/console.md): overview, schema
// rows, workflow runs and run-now, subscriptions, operators. Every read of a
// business table goes through the query engine with the caller's rights.
#include <algorithm>
#include <charconv>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "console/console.h"
#include "console/json.h"
#include "query/querydef.h"
#include "soap/envelope.h"
#include "workflow/history.h"

namespace stagebridge::console {
namespace {

constexpr int kMaxRuns = 100;
constexpr std::int64_t kHistoryRows = 50;
constexpr std::size_t kTriggerBytes = 32;  // SbWorkflowRun.sTrigger

// The integer query parameter `name`, clamped to [low, high]; `fallback` when absent or not a number.
std::int64_t IntParam(const http::Request& request, std::string_view name, std::int64_t fallback, std::int64_t low,
                      std::int64_t high) {
  std::string text = soap::QueryValue(request.query, name);
  std::int64_t value = fallback;
  if (!text.empty()) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) value = fallback;
  }
  return std::clamp(value, low, high);
}

query::SelectNode Node(std::string expr, std::string alias = {}, bool group_by = false) {
  return query::SelectNode{std::move(expr), std::move(alias), group_by};
}

// One run as JSON, keeping only the figures of schemas `op` may read.
void WriteRun(JsonWriter& w, const workflow::RunRecord& run, const auth::Operator& op) {
  w.BeginObject();
  w.Key("id").Int(run.id).Key("workflow").String(run.workflow).Key("trigger").String(run.trigger);
  w.Key("started").Int(run.started).Key("ended").Int(run.ended).Key("status").String(run.status);
  w.Key("error").String(run.error);
  w.Key("schemas").BeginArray();
  for (const sync::SchemaResult& s : run.schemas) {
    if (!op.CanWrite(s.schema)) continue;
    w.BeginObject().Key("schema").String(s.schema).Key("staged").Int(s.staged).Key("inserted").Int(s.inserted);
    w.Key("updated").Int(s.updated).Key("deleted").Int(s.deleted).Key("rejected").Int(s.rejected);
    w.Key("rejections").BeginArray();
    for (const std::string& why : s.rejections) w.String(why);
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
}

// A query's failure as a response: rights are 403, anything else about the
// request (a bad where expression, say) 400, the databases 503.
http::Response QueryError(const Status& status) {
  int code = 400;
  if (status.code() == Status::Code::kPermissionDenied) code = 403;
  if (status.code() == Status::Code::kUnavailable || status.code() == Status::Code::kInternal) code = 503;
  return JsonError(code, status.message());
}

}  // namespace

std::vector<const schema::Schema*> Console::VisibleSources(const auth::Operator& op) const {
  std::vector<const schema::Schema*> out;
  for (const schema::Schema* s : deps_.schemas.All()) {
    if (s->is_cloud() && !s->stg_schema.empty() && op.CanWrite(s->id())) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](const schema::Schema* a, const schema::Schema* b) { return a->id() < b->id(); });
  return out;
}

Result<std::vector<Backlog>> Console::ReadBacklog() {
  std::vector<Backlog> out;
  auth::Operator everything;
  everything.admin = true;
  for (const schema::Schema* source : VisibleSources(everything)) {
    query::QueryDef q;
    q.schema = source->stg_schema;
    q.operation = query::Operation::kSelect;
    q.select = {Node("Count()", "@n"), Node("Min(@lastModified)", "@oldest")};
    SB_ASSIGN_OR_RETURN(query::QueryResult r, deps_.queries.Execute(q, nullptr));
    Backlog b{source->id(), source->stg_schema, 0, std::nullopt};
    if (!r.rows.empty() && r.rows[0].size() == 2) {
      if (r.rows[0][0]) b.pending = std::stoll(*r.rows[0][0]);
      b.oldest = r.rows[0][1];
      if (b.oldest && b.oldest->empty()) b.oldest.reset();
    }
    out.push_back(std::move(b));
  }
  return out;
}

http::Response Console::Overview(const Caller& caller) {
  const auth::Operator& op = caller.op;
  Result<std::vector<Backlog>> backlog = ReadBacklog();
  if (!backlog.ok()) return QueryError(backlog.status());
  Result<store::ConnectionPool::Lease> db = deps_.local.Acquire();
  if (!db.ok()) return JsonError(503, db.status().message());
  Result<std::vector<workflow::RunRecord>> replicate_runs = workflow::ListRuns(**db, "ffdaReplicateStagingData", 50);
  if (!replicate_runs.ok()) return JsonError(503, replicate_runs.status().message());

  JsonWriter w;
  w.BeginObject().Key("now").Int(workflow::NowSeconds());
  w.Key("schemas").BeginArray();
  for (const Backlog& b : *backlog) {
    if (!op.CanWrite(b.schema)) continue;
    const schema::Schema* source = deps_.schemas.Find(b.schema);
    w.BeginObject().Key("schema").String(b.schema).Key("staging").String(b.staging);
    w.Key("label").String(source != nullptr ? source->label : b.schema);
    w.Key("pending").Int(b.pending).Key("oldest").OptionalString(b.oldest);
    w.Key("attributes").BeginArray();
    if (source != nullptr) {
      for (const schema::Attribute& a : source->attributes) w.String(a.name);
    }
    w.EndArray();
    // The newest replicate run that merged this schema.
    w.Key("last_run");
    bool found = false;
    for (const workflow::RunRecord& run : *replicate_runs) {
      auto it = std::find_if(run.schemas.begin(), run.schemas.end(),
                             [&](const sync::SchemaResult& s) { return s.schema == b.schema; });
      if (it == run.schemas.end()) continue;
      w.BeginObject().Key("id").Int(run.id).Key("status").String(run.status).Key("ended").Int(run.ended);
      w.Key("merged").Int(it->staged).Key("rejected").Int(it->rejected).EndObject();
      found = true;
      break;
    }
    if (!found) w.Null();
    w.EndObject();
  }
  w.EndArray();

  // The scheduled workflows first, then any other workflow found in the
  // history (user workflows), each with its newest run.
  w.Key("workflows").BeginArray();
  std::set<std::string> listed;
  auto write_workflow = [&](const std::string& name, const WorkflowEntry* entry) -> Status {
    SB_ASSIGN_OR_RETURN(std::vector<workflow::RunRecord> last, workflow::ListRuns(**db, name, 1));
    w.BeginObject().Key("name").String(name);
    w.Key("schedule").String(entry != nullptr ? entry->schedule_text : "");
    w.Key("last");
    if (last.empty()) {
      w.Null();
    } else {
      WriteRun(w, last[0], op);
    }
    w.Key("next");
    std::int64_t after = options_.started != 0 ? options_.started : workflow::NowSeconds();
    if (!last.empty()) after = std::max(after, last[0].ended != 0 ? last[0].ended : last[0].started);
    if (entry != nullptr && entry->schedule.kind != workflow::Schedule::Kind::kOff) {
      auto next = entry->schedule.Next(std::chrono::system_clock::time_point(std::chrono::seconds(after)));
      w.Int(std::chrono::duration_cast<std::chrono::seconds>(next.time_since_epoch()).count());
    } else {
      w.Null();
    }
    w.EndObject();
    listed.insert(name);
    return Status::Ok();
  };
  for (const WorkflowEntry& e : options_.workflows) {
    if (Status s = write_workflow(e.name, &e); !s.ok()) return JsonError(503, s.message());
  }
  Result<std::vector<workflow::RunRecord>> recent = workflow::ListRuns(**db, "", 200);
  if (recent.ok()) {
    for (const workflow::RunRecord& run : *recent) {
      if (listed.count(run.workflow) != 0) continue;
      if (Status s = write_workflow(run.workflow, nullptr); !s.ok()) return JsonError(503, s.message());
    }
  }
  w.EndArray();

  // The plot: the samples kept, then the present as the last point.
  w.Key("series").BeginObject();
  w.Key("interval").Int(std::chrono::duration_cast<std::chrono::seconds>(options_.sample_interval).count());
  w.Key("capacity").Int(static_cast<std::int64_t>(deps_.series.Capacity()));
  w.Key("samples").BeginArray();
  auto write_sample = [&](std::int64_t time, std::int64_t ingested, const std::map<std::string, std::int64_t>& p) {
    w.BeginObject().Key("t").Int(time).Key("ingested").Int(ingested).Key("pending").BeginObject();
    for (const auto& [schema, rows] : p) {
      if (op.CanWrite(schema)) w.Key(schema).Int(rows);
    }
    w.EndObject().EndObject();
  };
  for (const Sample& s : deps_.series.Snapshot()) write_sample(s.time, s.ingested, s.pending);
  std::map<std::string, std::int64_t> now_pending;
  for (const Backlog& b : *backlog) now_pending[b.schema] = b.pending;
  write_sample(workflow::NowSeconds(), deps_.series.IngestedSinceLastSample(), now_pending);
  w.EndArray().EndObject();
  w.EndObject();
  return JsonResponse(200, w.Str());
}

http::Response Console::Rows(const http::Request& request, const Caller& caller) {
  std::string id = soap::QueryValue(request.query, "schema");
  std::string side = soap::QueryValue(request.query, "side");
  const schema::Schema* source = deps_.schemas.Find(id);
  if (source == nullptr || !source->is_cloud() || source->stg_schema.empty()) {
    return JsonError(404, fmt::format("no staged schema '{}'", id.substr(0, 100)));
  }
  if (!caller.op.CanWrite(source->id())) {
    return JsonError(403, fmt::format("operator '{}' has no right on schema '{}'", caller.op.login, source->id()));
  }
  if (side != "staging" && side != "cloud") return JsonError(400, "side must be staging or cloud");
  std::int64_t start = IntParam(request, "start", 0, 0, std::numeric_limits<std::int32_t>::max());
  std::int64_t count = IntParam(request, "count", 50, 1, options_.max_page_rows);
  query::QueryDef q;
  q.schema = side == "staging" ? source->stg_schema : source->id();
  q.operation = query::Operation::kSelect;
  q.start_line = start;
  q.line_count = count + 1;  // one more tells whether a next page exists
  if (std::string where = soap::QueryValue(request.query, "where"); !where.empty()) {
    q.where.push_back(query::Condition{where, {}, false, "where condition 1"});
  }
  Result<query::QueryResult> r = deps_.queries.Execute(q, &caller.op);
  if (!r.ok()) return QueryError(r.status());
  bool more = static_cast<std::int64_t>(r->rows.size()) > count;
  if (more) r->rows.resize(static_cast<std::size_t>(count));
  JsonWriter w;
  w.BeginObject().Key("schema").String(q.schema).Key("start").Int(start).Key("more").Bool(more);
  w.Key("columns").BeginArray();
  for (const query::OutputColumn& c : r->columns) w.String(c.name);
  w.EndArray().Key("rows").BeginArray();
  for (const auto& row : r->rows) {
    w.BeginArray();
    for (const auto& value : row) w.OptionalString(value);
    w.EndArray();
  }
  w.EndArray().EndObject();
  return JsonResponse(200, w.Str());
}

http::Response Console::Runs(const http::Request& request, const Caller& caller) {
  std::string name = soap::QueryValue(request.query, "workflow");
  int limit = static_cast<int>(IntParam(request, "limit", 20, 1, kMaxRuns));
  Result<store::ConnectionPool::Lease> db = deps_.local.Acquire();
  if (!db.ok()) return JsonError(503, db.status().message());
  Result<std::vector<workflow::RunRecord>> runs = workflow::ListRuns(**db, name, limit);
  if (!runs.ok()) return JsonError(503, runs.status().message());
  JsonWriter w;
  w.BeginObject().Key("runs").BeginArray();
  for (const workflow::RunRecord& run : *runs) WriteRun(w, run, caller.op);
  w.EndArray().EndObject();
  return JsonResponse(200, w.Str());
}

http::Response Console::Run(const http::Request& request, const Caller& caller) {
  std::int64_t id = IntParam(request, "id", 0, 0, std::numeric_limits<std::int64_t>::max());
  Result<store::ConnectionPool::Lease> db = deps_.local.Acquire();
  if (!db.ok()) return JsonError(503, db.status().message());
  Result<workflow::RunRecord> run = workflow::GetRun(**db, id);
  if (!run.ok()) {
    return JsonError(run.status().code() == Status::Code::kNotFound ? 404 : 503, run.status().message());
  }
  JsonWriter w;
  w.BeginObject().Key("run");
  WriteRun(w, *run, caller.op);
  // A user workflow's log lines may quote any data it read: admins only.
  w.Key("log_visible").Bool(caller.op.admin).Key("log").BeginArray();
  if (caller.op.admin) {
    Result<std::vector<workflow::LogLine>> log = workflow::ListLog(**db, id);
    if (!log.ok()) return JsonError(503, log.status().message());
    for (const workflow::LogLine& line : *log) {
      w.BeginObject().Key("time").Int(line.time).Key("activity").String(line.activity);
      w.Key("level").String(line.level).Key("text").String(line.text).EndObject();
    }
  }
  w.EndArray().EndObject();
  return JsonResponse(200, w.Str());
}

http::Response Console::RunNow(const std::map<std::string, std::string>& body, const Caller& caller) {
  auto it = body.find("workflow");
  std::string name = it == body.end() ? "" : it->second;
  // The technical workflows are known here; any other (a user workflow) is
  // the scheduler's to know, and admins' to run.
  bool technical = std::any_of(options_.workflows.begin(), options_.workflows.end(),
                               [&](const WorkflowEntry& e) { return e.name == name; });
  if (name.empty()) return JsonError(400, "workflow is required");
  const auth::Operator& op = caller.op;
  if (!technical && !op.admin) return JsonError(403, fmt::format("only an admin may run '{}'", name.substr(0, 100)));
  std::string schemas;  // "" = all: admins
  if (!op.admin) {
    // As StartReplicateStagingData: an operator merges the schemas it may write.
    if (name == "ffdaReplicateStagingData") {
      for (const schema::Schema* s : VisibleSources(op)) schemas += (schemas.empty() ? "" : ",") + s->id();
      if (schemas.empty()) return JsonError(403, "no right on any staged schema");
    } else if (name != "ffdaUnsubscribe" || !op.CanWrite("nms:subscription")) {
      return JsonError(403, fmt::format("only an admin may run '{}'", name.substr(0, 100)));
    }
  }
  std::string trigger = ("console:" + op.login).substr(0, kTriggerBytes);
  if (!deps_.run_now(name, schemas, trigger)) {
    return JsonError(404, fmt::format("no workflow '{}' runs here", name.substr(0, 100)));
  }
  spdlog::info("console: '{}' asked for a run of {} now", op.login, name);
  JsonWriter w;
  w.BeginObject().Key("queued").Bool(true).Key("workflow").String(name).EndObject();
  return JsonResponse(202, w.Str());
}

http::Response Console::Subscriptions(const Caller& caller) {
  const auth::Operator* reader = &caller.op;
  query::QueryDef services;
  services.schema = "nms:service";
  services.line_count = 500;
  services.select = {Node("@id"), Node("@name"), Node("@label"), Node("@messageType")};
  services.order_by = {{"@name", false}};
  Result<query::QueryResult> s = deps_.queries.Execute(services, reader);
  if (!s.ok()) return QueryError(s.status());

  query::QueryDef counts;
  counts.schema = "nms:subscription";
  counts.line_count = 500;
  counts.select = {Node("[@service-id]", "@service", true), Node("Count()", "@n")};
  Result<query::QueryResult> c = deps_.queries.Execute(counts, reader);
  if (!c.ok()) return QueryError(c.status());
  std::map<std::string, std::string> subscribers;
  for (const auto& row : c->rows) {
    if (row.size() == 2 && row[0] && row[1]) subscribers[*row[0]] = *row[1];
  }

  query::QueryDef history;
  history.schema = "nms:subHisto";
  history.line_count = kHistoryRows;
  history.select = {Node("@requested"),    Node("@applied"), Node("@action"), Node("@serviceName"),
                    Node("@recipientKey"), Node("@origin"),  Node("@reason")};
  history.order_by = {{"@sequence", true}};
  Result<query::QueryResult> h = deps_.queries.Execute(history, reader);
  if (!h.ok()) return QueryError(h.status());

  JsonWriter w;
  w.BeginObject().Key("services").BeginArray();
  for (const auto& row : s->rows) {
    w.BeginObject().Key("name").OptionalString(row[1]).Key("label").OptionalString(row[2]);
    w.Key("channel").OptionalString(row[3]);
    auto n = row[0] ? subscribers.find(*row[0]) : subscribers.end();
    w.Key("subscribers").Int(n == subscribers.end() ? 0 : std::stoll(n->second)).EndObject();
  }
  w.EndArray().Key("history").BeginArray();
  for (const auto& row : h->rows) {
    w.BeginObject();
    for (std::size_t i = 0; i < h->columns.size() && i < row.size(); ++i) {
      w.Key(h->columns[i].name).OptionalString(row[i]);
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(200, w.Str());
}

http::Response Console::Operators(const Caller& caller) {
  if (!caller.op.admin) return JsonError(403, "the operators page is for admins only");
  Result<std::vector<auth::Operator>> ops = deps_.auth.ListOperators();
  if (!ops.ok()) return JsonError(503, ops.status().message());
  JsonWriter w;
  w.BeginObject().Key("operators").BeginArray();
  for (const auth::Operator& op : *ops) {
    w.BeginObject().Key("login").String(op.login).Key("admin").Bool(op.admin).Key("disabled").Bool(op.disabled);
    w.Key("schemas").BeginArray();
    for (const std::string& id : op.schemas) w.String(id);
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return JsonResponse(200, w.Str());
}

http::Response Console::SetOperatorDisabled(const std::map<std::string, std::string>& body, const Caller& caller) {
  if (!caller.op.admin) return JsonError(403, "the operators page is for admins only");
  auto login = body.find("login");
  auto disabled = body.find("disabled");
  if (login == body.end() || disabled == body.end() || (disabled->second != "true" && disabled->second != "false")) {
    return JsonError(400, "login and disabled (true or false) are required");
  }
  bool disable = disabled->second == "true";
  if (disable && login->second == caller.op.login) return JsonError(400, "you cannot disable your own login");
  if (Status s = deps_.auth.SetDisabled(login->second, disable); !s.ok()) {
    return JsonError(s.code() == Status::Code::kNotFound ? 404 : 503, s.message());
  }
  spdlog::info("console: '{}' {} operator '{}'", caller.op.login, disable ? "disabled" : "enabled", login->second);
  JsonWriter w;
  w.BeginObject().Key("login").String(login->second).Key("disabled").Bool(disable).EndObject();
  return JsonResponse(200, w.Str());
}

}  // namespace stagebridge::console
