// intake.cc — checking and staging Subscribe/Unsubscribe calls.
#include "subscription/intake.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "schema/staging.h"
#include "staging/values.h"
#include "xml/document.h"

namespace stagebridge::subscription {

Intake::Intake(store::ConnectionPool& local, std::string cloud_url, const schema::SchemaSet& schemas, int cache_seconds)
    : local_(local), cloud_url_(std::move(cloud_url)), schemas_(schemas), cache_ttl_(cache_seconds) {}

Status Intake::Prepare() {
  SB_ASSIGN_OR_RETURN(auto db, local_.Acquire());
  return EnsureRequestTable(*db);
}

Result<bool> Intake::Staged(const std::string& name) {
  const schema::Schema* services = schemas_.Find(kServiceSchema);
  const schema::Schema* stg = services != nullptr ? schemas_.Find(services->stg_schema) : nullptr;
  if (stg == nullptr) return false;
  const schema::Attribute* col = stg->FindAttribute("name");
  const schema::Attribute* op = stg->FindAttribute(schema::kStgOpAttr);
  if (col == nullptr || op == nullptr) return false;
  SB_ASSIGN_OR_RETURN(auto db, local_.Acquire());
  Result<std::vector<store::Row>> rows =
      db->Query(fmt::format("SELECT 1 FROM {} WHERE {} = $1 AND {} <> {}", stg->sql_table, col->sql_name, op->sql_name,
                            static_cast<int>(schema::StgOp::kDelete)),
                {name});
  if (!rows.ok()) return false;  // no staging table yet (schema apply not run): not staged
  return !rows->empty();
}

Status Intake::CheckServices(const std::vector<std::string>& names) {
  const schema::Schema* services = schemas_.Find(kServiceSchema);
  if (services == nullptr) return Status::Internal("the built-in schema nms:service is missing");
  auto now = std::chrono::steady_clock::now();
  for (const std::string& name : names) {
    if (name.empty()) continue;
    {
      std::lock_guard lock(mu_);
      auto it = known_.find(name);
      if (it != known_.end() && now - it->second < cache_ttl_) continue;
    }
    SB_ASSIGN_OR_RETURN(bool staged, Staged(name));
    bool found = staged;
    if (!found) {
      std::lock_guard lock(mu_);
      Status error;
      for (int attempt = 0; attempt < 2 && !found; ++attempt) {  // a dropped connection is reopened once
        if (!cloud_) {
          Result<std::unique_ptr<store::Database>> opened = store::OpenDatabase(cloud_url_);
          if (!opened.ok()) {
            error = opened.status();
            break;
          }
          cloud_ = std::move(*opened);
        }
        const schema::Attribute* col = services->FindAttribute("name");
        Result<std::vector<store::Row>> rows =
            cloud_->Query(fmt::format("SELECT 1 FROM {} WHERE {} = $1", services->sql_table, col->sql_name), {name});
        if (rows.ok()) {
          found = !rows->empty();
          error = Status::Ok();
          break;
        }
        error = rows.status();
        cloud_.reset();
      }
      if (!error.ok()) {
        spdlog::warn("subscription: cannot check service '{}' in the cloud database: {}", xml::Printable(name),
                     error.ToString());
        return CodedError(Status::Code::kUnavailable, "SUB-500001",
                          fmt::format("The service '{}' could not be checked: the cloud database is unavailable. "
                                      "Nothing was written; retry later.",
                                      staging::Excerpt(xml::Printable(name))));
      }
    }
    if (!found) {
      return CodedError(Status::Code::kNotFound, "SUB-200001",
                        fmt::format("Unknown service '{}': no nms:service has this internal name (create it with "
                                    "`stagebridge service add {}` or IngestExt on nms:serviceStg).",
                                    staging::Excerpt(xml::Printable(name)), staging::Excerpt(xml::Printable(name))));
    }
    std::lock_guard lock(mu_);
    known_[name] = now;
  }
  return Status::Ok();
}

Status Intake::Accept(Action action, std::string_view service_names, pugi::xml_node recipient, bool create,
                      const std::string& origin) {
  SB_ASSIGN_OR_RETURN(std::vector<std::string> names, ParseServiceNames(service_names, action));
  SB_ASSIGN_OR_RETURN(std::vector<Request> requests,
                      DecodeRequests(action, names, recipient, create, schemas_, origin));
  SB_RETURN_IF_ERROR(CheckServices(names));
  Result<store::ConnectionPool::Lease> db = local_.Acquire();
  Status s = db.ok() ? StageRequests(**db, requests) : db.status();
  if (!s.ok()) {
    spdlog::error("subscription: cannot stage {} request(s): {}", requests.size(), s.ToString());
    return CodedError(Status::Code::kUnavailable, "STG-500001",
                      "The local staging database is unavailable; nothing was written.");
  }
  return Status::Ok();
}

}  // namespace stagebridge::subscription
