// runner.cc — workflow runs: lease, heartbeat, history, the merge per schema.
#include "workflow/runner.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "staging/record.h"
#include "subscription/processor.h"
#include "subscription/requests.h"
#include "xml/document.h"

namespace stagebridge::workflow {
namespace {

std::string MakeHolder() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}:{}", host, getpid(), staging::NewUuid().substr(0, 8));
}

// Runs whose end could not be recorded (the local database went away as they
// ended): left so, the history would show them running beside the next run of
// the same holder, which MarkInterrupted leaves alone. The holder's next run of
// the workflow records them first, in error, with the time they really ended
// (another holder may have marked them interrupted meanwhile, ending them later).
std::mutex unrecorded_mu;
std::vector<RunRecord> unrecorded;  // GUARDED_BY(unrecorded_mu)

void RecordLateEnds(store::Database& local, const std::string& holder, const std::string& workflow) {
  std::lock_guard lock(unrecorded_mu);
  std::erase_if(unrecorded, [&](const RunRecord& r) {
    if (r.holder != holder || r.workflow != workflow) return false;
    std::string error = fmt::format("{}{}(ended at {}, recorded late: the local database was unreachable then)",
                                    r.error, r.error.empty() ? "" : " ", r.ended);
    return FinishRun(local, r.id, r.status == "done" ? "done" : "error", error, r.ended).ok();
  });
}

// Renews the lease every third of its lifetime on its own connection until
// stopped; sets `lost` when the lease could not be renewed (another process may
// then take it: the run stops before its next cloud commit).
class Heartbeat {
 public:
  Heartbeat(store::ConnectionPool& pool, std::string workflow, std::string holder, std::int64_t ttl,
            std::atomic<bool>& lost)
      : thread_([this, &pool, workflow = std::move(workflow), holder = std::move(holder), ttl, &lost] {
          auto period = std::chrono::milliseconds(std::max<std::int64_t>(ttl * 1000 / 3, 100));
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
            Result<store::ConnectionPool::Lease> db = pool.Acquire();
            Result<bool> kept = db.ok() ? RenewLease(**db, workflow, holder, ttl) : Result<bool>(db.status());
            if (!kept.ok() || !*kept) {
              spdlog::error("workflow {}: lease lost ({}); the run stops", workflow,
                            kept.ok() ? "taken over" : kept.status().ToString());
              lost = true;
              return;
            }
          }
        }) {}
  ~Heartbeat() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// Whether a run may go on after a committed batch.
Status GoOn(const RunRequest& request, const std::atomic<bool>& lease_lost) {
  if (lease_lost) {
    return CodedError(Status::Code::kAborted, "SYN-300005",
                      "The run lost its lease (another process may have taken over); it stopped after its last "
                      "committed batch.");
  }
  if (request.stop != nullptr && *request.stop) {
    return CodedError(Status::Code::kAborted, "SYN-300006",
                      "The run was stopped (server shutting down) after its last committed batch.");
  }
  return Status::Ok();
}

std::string Summary(const sync::SchemaResult& r) {
  return fmt::format("{}: {} staged row(s) merged: {} inserted, {} updated, {} deleted, {} rejected", r.schema,
                     r.staged, r.inserted, r.updated, r.deleted, r.rejected);
}

}  // namespace

const std::vector<std::string>& Workflows() {
  static const std::vector<std::string> kNames{kReplicate, kUnsubscribe, kCleanup};
  return kNames;
}

Runner::Runner(store::ConnectionPool& local, const schema::SchemaSet& schemas, RunnerOptions options)
    : local_(local), schemas_(schemas), options_(std::move(options)), holder_(MakeHolder()) {}

Status Runner::Prepare() {
  SB_ASSIGN_OR_RETURN(auto db, local_.Acquire());
  return EnsureHistoryTables(*db);
}

Result<std::vector<const schema::Schema*>> Runner::Sources(const std::string& names) const {
  std::vector<const schema::Schema*> out;
  if (names.empty()) {
    for (const schema::Schema* s : schemas_.All()) {
      if (s->auto_stg && !s->stg_schema.empty()) out.push_back(s);
    }
    return out;
  }
  for (std::string_view rest = names;;) {
    std::size_t comma = rest.find(',');
    std::string name(rest.substr(0, comma));
    const schema::Schema* s = schemas_.Find(name);
    if (s != nullptr && s->is_staging()) s = schemas_.Find(s->stg_src_schema);  // "dem:sampleTableStg" names its source
    if (s == nullptr) {
      return CodedError(Status::Code::kNotFound, "SYN-300001",
                        fmt::format("The schema '{}' does not exist.", xml::Printable(name)));
    }
    if (!s->auto_stg || s->stg_schema.empty()) {
      return CodedError(
          Status::Code::kInvalidArgument, "SYN-300001",
          fmt::format("The schema '{}' is not staged (no autoStg=\"true\"): there is nothing to replicate.", s->id()));
    }
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return out;
}

std::vector<std::string> Runner::Known() const {
  std::vector<std::string> known = Workflows();
  if (user_ != nullptr) {
    for (std::string& name : user_->Names()) known.push_back(std::move(name));
  }
  return known;
}

Result<RunRecord> Runner::Run(const RunRequest& request) {
  std::vector<std::string> names = Known();
  if (std::find(names.begin(), names.end(), request.workflow) == names.end()) {
    return CodedError(
        Status::Code::kNotFound, "SYN-300003",
        fmt::format("Unknown workflow '{}' (known: {}).", xml::Printable(request.workflow), fmt::join(names, ", ")));
  }
  bool technical = std::find(Workflows().begin(), Workflows().end(), request.workflow) != Workflows().end();
  std::vector<const schema::Schema*> sources;
  if (request.workflow == kReplicate) {
    SB_ASSIGN_OR_RETURN(sources, Sources(request.schema));
  }
  SB_ASSIGN_OR_RETURN(auto local, local_.Acquire());

  // One run at a time: take the lease, waiting for the holder if asked to.
  for (int waited = 0;; ++waited) {
    SB_ASSIGN_OR_RETURN(bool got, TryAcquireLease(*local, request.workflow, holder_, options_.lease_seconds));
    if (got) break;
    if (!request.wait_for_lease || (request.stop != nullptr && *request.stop)) {
      SB_ASSIGN_OR_RETURN(auto holder, LeaseHolder(*local, request.workflow));
      return CodedError(Status::Code::kFailedPrecondition, "SYN-300004",
                        fmt::format("A run of {} is already in progress (held by {}).", request.workflow,
                                    holder.value_or("another process")));
    }
    if (waited % 20 == 0) spdlog::info("workflow {}: waiting for the run in progress to end", request.workflow);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  std::atomic<bool> lease_lost{false};
  RunRecord run;
  Status outcome;
  {
    Heartbeat heartbeat(local_, request.workflow, holder_, options_.lease_seconds, lease_lost);
    if (Status s = MarkInterrupted(*local, request.workflow, holder_); !s.ok()) {
      spdlog::warn("workflow {}: cannot mark interrupted runs: {}", request.workflow, s.ToString());
    }
    RecordLateEnds(*local, holder_, request.workflow);
    Result<std::int64_t> id = StartRun(*local, request.workflow, request.trigger, holder_);
    if (!id.ok()) {
      (void)ReleaseLease(*local, request.workflow, holder_);
      return id.status();
    }
    run.id = *id;
    run.workflow = request.workflow;
    run.trigger = request.trigger;
    run.holder = holder_;
    run.started = NowSeconds();
    spdlog::info("workflow {} run {} started ({})", run.workflow, run.id, run.trigger);
    if (request.workflow == kReplicate) {
      outcome = Replicate(request, sources, run, *local, lease_lost);
    } else if (request.workflow == kUnsubscribe) {
      outcome = Subscriptions(request, run, *local, lease_lost);
    } else if (request.workflow == kCleanup) {
      outcome = Cleanup(run, *local);
    } else if (!technical) {
      outcome = user_->Execute(run, *local, request.stop);
    }
  }
  run.status = outcome.ok() ? "done" : "error";
  run.error = outcome.ok() ? "" : outcome.message();
  run.ended = NowSeconds();
  if (Status s = FinishRun(*local, run.id, run.status, run.error); !s.ok()) {
    spdlog::error("workflow {} run {}: cannot record its end: {}", run.workflow, run.id, s.ToString());
    std::lock_guard lock(unrecorded_mu);
    unrecorded.push_back(run);  // recorded by this holder's next run
  }
  (void)ReleaseLease(*local, request.workflow, holder_);
  if (outcome.ok()) {
    spdlog::info("workflow {} run {} done in {} s", run.workflow, run.id, run.ended - run.started);
  } else {
    spdlog::error("workflow {} run {} stopped in error: {}", run.workflow, run.id, xml::Printable(run.error));
  }
  return run;
}

Result<std::unique_ptr<store::Database>> Runner::OpenCloud() const {
  Result<std::unique_ptr<store::Database>> cloud = store::OpenDatabase(options_.cloud_url);
  if (!cloud.ok()) {
    return CodedError(Status::Code::kUnavailable, "SYN-500001",
                      fmt::format("The cloud database is unavailable: {}; every staged row stays staged for the next "
                                  "run.",
                                  cloud.status().message()));
  }
  if ((*cloud)->kind() == store::DialectKind::kPostgres) {
    // A holder frozen inside its cloud transaction (not dead: its lease expired)
    // would keep the watermark row locked and block every later run; the server
    // ends such a session, releasing the lock (the fence then refuses its batch).
    (void)(*cloud)->Execute(fmt::format("SET idle_in_transaction_session_timeout = '{}s'",
                                        2 * std::max<std::int64_t>(options_.lease_seconds, 1)));
  }
  return cloud;
}

Status Runner::Replicate(const RunRequest& request, const std::vector<const schema::Schema*>& sources, RunRecord& run,
                         store::Database& local, const std::atomic<bool>& lease_lost) {
  SB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> cloud, OpenCloud());
  // The merge reads staging on a connection of its own (the run's connection
  // records the history meanwhile).
  SB_ASSIGN_OR_RETURN(auto reader, local_.Acquire());
  std::vector<std::string> errors;
  for (const schema::Schema* source : sources) {
    const schema::Schema* stg = schemas_.Find(source->stg_schema);
    if (stg == nullptr) continue;
    sync::MergeOptions options;
    options.batch_rows = options_.batch_rows;
    options.on_batch = [&](const sync::Progress& p) -> Status {
      double rate = p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0;
      spdlog::info("workflow {} run {}: {} {}/{} staged rows merged ({:.0f} rows/s)", run.workflow, run.id, p.schema,
                   p.done, p.total, rate);
      if (request.on_progress) request.on_progress(p);
      return GoOn(request, lease_lost);
    };
    auto last_log = std::chrono::steady_clock::now();
    options.on_loading = [&](const sync::Progress& p) {
      if (std::chrono::steady_clock::now() - last_log >= std::chrono::seconds(2)) {
        last_log = std::chrono::steady_clock::now();
        spdlog::info("workflow {} run {}: {} {}/{} staged rows streamed to the cloud ({:.0f} rows/s)", run.workflow,
                     run.id, p.schema, p.done, p.total, p.seconds > 0 ? static_cast<double>(p.done) / p.seconds : 0);
      }
      if (request.on_progress) request.on_progress(p);
    };
    sync::Merger merger(*reader, *cloud, options);
    sync::SchemaResult result;
    Status s = merger.Merge(*source, *stg, result);
    if (Status r = RecordSchema(local, run.id, result); !r.ok()) {
      spdlog::error("workflow {} run {}: cannot record {}: {}", run.workflow, run.id, source->id(), r.ToString());
    }
    spdlog::info("workflow {} run {}: {}", run.workflow, run.id, Summary(result));
    run.schemas.push_back(std::move(result));
    if (!s.ok()) {
      errors.push_back(fmt::format("{}: {}", source->id(), s.message()));
      if (s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kAborted) break;  // no use going on
    }
  }
  if (errors.empty()) return Status::Ok();
  return Status::Internal(fmt::format("{}", fmt::join(errors, "; ")));
}

Status Runner::Subscriptions(const RunRequest& request, RunRecord& run, store::Database& local,
                             const std::atomic<bool>& lease_lost) {
  // Recipients and services written through IngestExt are merged first, so a
  // request finds the recipient, service or blocklist flag written before it.
  std::vector<std::string> pending;
  for (const char* id : {subscription::kServiceSchema, subscription::kRecipientSchema}) {
    const schema::Schema* source = schemas_.Find(id);
    const schema::Schema* stg = source != nullptr ? schemas_.Find(source->stg_schema) : nullptr;
    if (stg == nullptr) continue;
    Result<std::int64_t> staged = sync::ScalarInt(local, "SELECT count(*) FROM " + stg->sql_table, {});
    if (staged.ok() && *staged > 0) pending.emplace_back(id);
  }
  if (!pending.empty()) {
    RunRequest merge;
    merge.workflow = kReplicate;
    merge.schema = fmt::format("{}", fmt::join(pending, ","));
    merge.trigger = kUnsubscribe;
    merge.on_progress = request.on_progress;
    merge.stop = request.stop;
    spdlog::info("workflow {} run {}: merging the staged {} first", run.workflow, run.id, merge.schema);
    SB_ASSIGN_OR_RETURN(RunRecord merged, Run(merge));
    if (merged.status != "done") {
      return Status::Internal(fmt::format("the staging sync of {} (run {}) failed, the requests stay staged: {}",
                                          merge.schema, merged.id, merged.error));
    }
  }
  SB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> cloud, OpenCloud());
  SB_ASSIGN_OR_RETURN(auto reader, local_.Acquire());
  subscription::ProcessOptions options;
  options.batch_requests = options_.subscription_batch;
  options.on_batch = [&](const sync::Progress& p) -> Status {
    spdlog::info("workflow {} run {}: {}/{} subscription request(s) applied", run.workflow, run.id, p.done, p.total);
    if (request.on_progress) request.on_progress(p);
    return GoOn(request, lease_lost);
  };
  subscription::Processor processor(*reader, *cloud, schemas_, options);
  subscription::ProcessResult result;
  Status s = processor.Process(result);
  if (Status r = RecordSchema(local, run.id, result.subscriptions); !r.ok()) {
    spdlog::error("workflow {} run {}: cannot record the figures: {}", run.workflow, run.id, r.ToString());
  }
  spdlog::info(
      "workflow {} run {}: {} subscription request(s) applied: {} subscribed, {} unsubscribed, {} blocklisted, {} "
      "refused, {} unchanged, {} recipient(s) created",
      run.workflow, run.id, result.subscriptions.staged, result.subscriptions.inserted, result.subscriptions.deleted,
      result.subscriptions.updated, result.subscriptions.rejected, result.no_ops, result.recipients_created);
  run.schemas.push_back(std::move(result.subscriptions));
  return s;
}

Status Runner::Cleanup(RunRecord& run, store::Database& local) {
  std::vector<std::string> done;
  SB_ASSIGN_OR_RETURN(std::int64_t runs, PurgeRuns(local, NowSeconds() - options_.history_days * 86400));
  done.push_back(fmt::format("{} old run(s) purged", runs));
  if (options_.purge_sessions) {
    SB_ASSIGN_OR_RETURN(std::int64_t sessions, options_.purge_sessions());
    done.push_back(fmt::format("{} expired session(s) purged", sessions));
  }
  // Staged rows the cloud already applied (a replicate run died before clearing them).
  SB_ASSIGN_OR_RETURN(auto sources, Sources(""));
  if (!sources.empty()) {
    Result<std::unique_ptr<store::Database>> cloud = store::OpenDatabase(options_.cloud_url);
    if (!cloud.ok()) {
      done.push_back("merged leftovers not checked: the cloud database is unavailable");
    } else {
      std::int64_t cleared = 0;
      for (const schema::Schema* source : sources) {
        if (const schema::Schema* stg = schemas_.Find(source->stg_schema)) {
          SB_ASSIGN_OR_RETURN(std::int64_t n, sync::ClearMerged(local, **cloud, *source, *stg));
          cleared += n;
        }
      }
      done.push_back(fmt::format("{} merged leftover row(s) cleared", cleared));
      // Subscription requests applied by a run that died before clearing them.
      SB_ASSIGN_OR_RETURN(std::string source_id, sync::LocalSourceId(local));
      SB_RETURN_IF_ERROR(sync::EnsureCloudBookkeeping(**cloud));
      SB_ASSIGN_OR_RETURN(std::int64_t applied,
                          sync::AppliedWatermark(**cloud, source_id, subscription::kWatermarkSchema));
      SB_RETURN_IF_ERROR(subscription::EnsureRequestTable(local));
      SB_ASSIGN_OR_RETURN(std::int64_t requests, subscription::ClearRequests(local, applied));
      done.push_back(fmt::format("{} applied subscription request(s) cleared", requests));
    }
  }
  spdlog::info("workflow {} run {}: {}", run.workflow, run.id, fmt::join(done, ", "));
  return Status::Ok();
}

}  // namespace stagebridge::workflow
