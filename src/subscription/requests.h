// requests.h — subscription requests (nms:subscription#Subscribe and
// #Unsubscribe, SPEC §3.4): decoded and checked from the SOAP parameters,
// staged durably in the local table SbSubscriptionRequest, and applied to the
// cloud tables in order by the ffdaUnsubscribe workflow (processor.h).
//
// SbSubscriptionRequest (local database):
//   iSeq (staging change sequence, the order of the requests), iAction (1
//   subscribe, 0 unsubscribe), sService (internal name; '' = the global
//   blocklist), sKeyAttr/sKeyValue (how the recipient reconciles: "email" and the
//   address, say), iCreate, mRecipient (the recipient's attributes for create, as
//   `<recipient a="v" …/>`), sOrigin ("soap:LOGIN"), tsRequested.
//
// Sequence numbers come from the staging sequence inside each INSERT on
// PostgreSQL (so HighestSequence() under a SHARE lock sees every write holding a
// lower number), and are reserved inside the write transaction on SQLite.
//
// Errors carry codes (docs/faults.md): SUB-200002 bad service list, SUB-200003
// bad recipient key, STG-200003 unknown recipient attribute, STG-200004 bad value.
//
// Thread-safety: stateless functions over the given connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pugixml.hpp>

#include "base/status.h"
#include "schema/schema_set.h"
#include "store/database.h"

namespace stagebridge::subscription {

inline constexpr const char* kRequestTable = "SbSubscriptionRequest";
inline constexpr const char* kRecipientSchema = "nms:recipient";
inline constexpr const char* kServiceSchema = "nms:service";
inline constexpr const char* kSubscriptionSchema = "nms:subscription";
inline constexpr const char* kHistorySchema = "nms:subHisto";
// Most services one call may name.
inline constexpr std::size_t kMaxServicesPerCall = 100;

enum class Action { kUnsubscribe = 0, kSubscribe = 1 };

struct Request {
  std::int64_t seq = 0;  // set when read back
  Action action = Action::kSubscribe;
  std::string service;    // internal name; "" = the global blocklist (Unsubscribe only)
  std::string key_attr;   // the nms:recipient attribute the recipient reconciles on ("email", "id")
  std::string key_value;  // as converted for that attribute
  bool create = false;    // Subscribe: create the recipient when it is unknown
  std::string recipient;  // create: the recipient's attributes, `<recipient a="v" …/>` (checked)
  std::string origin;     // who asked: "soap:LOGIN"
  std::string requested;  // when it was accepted (read back), as the database returns it
};

// Splits a serviceName parameter: comma-separated internal names, blanks around
// each trimmed, empty items skipped. Subscribe needs at least one name; an
// Unsubscribe naming none is the global blocklist and returns {""}.
Result<std::vector<std::string>> ParseServiceNames(std::string_view text, Action action);

// One request per service for `recipient` (the element inside the recipient
// parameter). Its `_key` names the reconciliation key: "@email" when absent,
// "@id", or another declared key of nms:recipient with one field; the key's
// value is required. With `create`, every other attribute is checked against
// nms:recipient and kept for the creation. REQUIRES: recipient is an element.
Result<std::vector<Request>> DecodeRequests(Action action, const std::vector<std::string>& services,
                                            pugi::xml_node recipient, bool create, const schema::SchemaSet& schemas,
                                            const std::string& origin);

// Creates the request table and the staging sequence if missing.
Status EnsureRequestTable(store::Database& db);

// Stages `requests` in one transaction, numbered in order. Nothing is written
// when it fails.
Status StageRequests(store::Database& db, const std::vector<Request>& requests);

// The requests with lo < iSeq <= hi, in order, at most `limit`.
Result<std::vector<Request>> ReadRequests(store::Database& db, std::int64_t lo, std::int64_t hi, std::int64_t limit);

// Deletes the requests with iSeq <= upto (applied); returns how many.
Result<std::int64_t> ClearRequests(store::Database& db, std::int64_t upto);

// Requests waiting for the workflow.
Result<std::int64_t> PendingRequests(store::Database& db);

}  // namespace stagebridge::subscription
