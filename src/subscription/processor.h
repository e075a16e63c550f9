// processor.h — applies the staged subscription requests to the cloud tables,
// exactly once and in order (the ffdaUnsubscribe workflow, SPEC §4).
//
// Rules, per request in sequence order (so the last request per recipient and
// service wins):
//   Subscribe    adds the (recipient, service) subscription — unless the recipient
//                is blocklisted (blackList) or opted out of the service's channel
//                (blackListEmail for an email service, …): then it is recorded as
//                refused. An unknown recipient is created when the call asked for
//                it (create=true) and is refused otherwise.
//   Unsubscribe  removes the subscription; an unknown or unsubscribed recipient is
//                a no-op. With no service it sets the recipient's blackList.
// Every change and every refusal is recorded in nms:subHisto (recipient, service,
// action subscribe/unsubscribe/blocklist/refused, origin, requested and applied
// times, the reason of a refusal). No-ops are not.
//
// Exactly once: the same watermark as the staging merge (docs/sync.md). The
// cloud table SbAppliedSeq holds, for this local database and the pseudo-schema
// "nms:subscription#requests", the sequence number up to which requests are
// applied; it moves in the same cloud transaction as the changes. Requests at or
// below it are cleared from the local table afterwards (again by the next run if
// this one dies first).
//
// Thread-safety: uses its two connections from the calling thread; one per run.
#pragma once

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "schema/schema_set.h"
#include "store/database.h"
#include "sync/merger.h"

namespace stagebridge::subscription {

// The pseudo-schema under which SbAppliedSeq records the applied requests.
inline constexpr const char* kWatermarkSchema = "nms:subscription#requests";

struct ProcessOptions {
  std::int64_t batch_requests = 10000;  // requests per cloud transaction
  // Called after each committed batch; an error stops the processing.
  std::function<Status(const sync::Progress&)> on_batch;
};

// What a run did. `subscriptions` uses the staging figures: staged = requests
// applied, inserted = subscriptions added, deleted = subscriptions removed,
// updated = recipients blocklisted, rejected = requests refused (with reasons).
struct ProcessResult {
  sync::SchemaResult subscriptions;
  std::int64_t recipients_created = 0;
  std::int64_t no_ops = 0;  // requests that changed nothing
};

class Processor {
 public:
  Processor(store::Database& local, store::Database& cloud, const schema::SchemaSet& schemas,
            ProcessOptions options = {});

  // Applies every request staged up to now. `result` tells what was applied,
  // also when an error stops the processing after some batches committed.
  Status Process(ProcessResult& result);

 private:
  store::Database& local_;
  store::Database& cloud_;
  const schema::SchemaSet& schemas_;
  ProcessOptions options_;
};

}  // namespace stagebridge::subscription
