// commands_service.cc — `service add|list`.
#include "cli/commands_service.h"

#include <array>
#include <iostream>

#include <fmt/format.h>

#include "cli/app.h"
#include "schema/schema_set.h"
#include "staging/record.h"
#include "staging/values.h"
#include "store/database.h"
#include "subscription/requests.h"
#include "sync/merger.h"

namespace stagebridge::cli {
namespace {

constexpr std::array<const char*, 5> kChannels{"email", "mobile", "phone", "mail", "fax"};

int Fail(const Status& status) {
  std::cerr << "stagebridge: " << status.message() << "\n";
  return kExitFailed;
}

// The cloud database and the compiled nms:service, with its table present.
struct Services {
  std::unique_ptr<store::Database> cloud;
  schema::SchemaSet schemas;
  const schema::Schema* service = nullptr;
  const schema::Schema* subscription = nullptr;

  std::string Col(const char* attr) const { return service->FindAttribute(attr)->sql_name; }
};

Result<Services> OpenServices(const Config& config) {
  SB_ASSIGN_OR_RETURN(schema::SchemaSet schemas, schema::SchemaSet::LoadDirectory(config.Get("schemas_dir")));
  SB_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> cloud, store::OpenDatabase(config.Get("cloud_db")));
  Services s{std::move(cloud), std::move(schemas), nullptr, nullptr};
  s.service = s.schemas.Find(subscription::kServiceSchema);
  s.subscription = s.schemas.Find(subscription::kSubscriptionSchema);
  if (s.service == nullptr || s.subscription == nullptr) return Status::Internal("nms:service is missing");
  SB_ASSIGN_OR_RETURN(bool exists, s.cloud->TableExists(s.service->sql_table));
  if (!exists) {
    return Status::FailedPrecondition(
        fmt::format("The cloud table {} does not exist: run `stagebridge schema apply` first.", s.service->sql_table));
  }
  return s;
}

}  // namespace

int CmdServiceAdd(const Config& config, const ServiceAddOptions& options) {
  Result<std::vector<std::string>> names =
      subscription::ParseServiceNames(options.name, subscription::Action::kSubscribe);
  if (!names.ok()) return Fail(names.status());
  if (names->size() != 1 || options.name.find(',') != std::string::npos) {
    return Fail(Status::InvalidArgument(
        fmt::format("'{}' is not one service name (a comma separates names in Subscribe).", options.name)));
  }
  const std::string& name = names->front();
  std::int64_t channel = -1;
  for (std::size_t i = 0; i < kChannels.size(); ++i) {
    if (options.channel == kChannels[i]) channel = static_cast<std::int64_t>(i);
  }
  if (channel < 0) {
    return Fail(Status::InvalidArgument(
        fmt::format("Unknown channel '{}' (one of: {}).", options.channel, fmt::join(kChannels, ", "))));
  }
  Result<Services> s = OpenServices(config);
  if (!s.ok()) return Fail(s.status());
  std::string label = options.label.empty() ? name : options.label;
  if (Result<store::Value> checked =
          staging::ConvertValue(*s->service->FindAttribute("label"), subscription::kServiceSchema, label);
      !checked.ok()) {
    return Fail(checked.status());
  }
  Result<std::int64_t> existing = sync::ScalarInt(
      *s->cloud, fmt::format("SELECT count(*) FROM {} WHERE {} = $1", s->service->sql_table, s->Col("name")), {name});
  if (!existing.ok()) return Fail(existing.status());
  if (*existing > 0) return Fail(Status::AlreadyExists(fmt::format("The service '{}' already exists.", name)));
  Result<std::int64_t> added = s->cloud->Execute(
      fmt::format("INSERT INTO {} ({}, {}, {}, {}) VALUES ($1, $2, $3, $4)", s->service->sql_table,
                  s->service->attributes.front().sql_name, s->Col("name"), s->Col("label"), s->Col("messageType")),
      {staging::NewUuid(), name, label, channel});
  if (!added.ok()) return Fail(added.status());
  std::cout << fmt::format("service '{}' added (label '{}', channel {})\n", name, label, options.channel);
  return kExitOk;
}

int CmdServiceList(const Config& config) {
  Result<Services> s = OpenServices(config);
  if (!s.ok()) return Fail(s.status());
  std::string subs = s->subscription->sql_table;
  std::string fk = s->subscription->FindAttribute("service-id")->sql_name;
  std::string id = s->service->attributes.front().sql_name;
  // Subscribers: subscriptions whose recipient still exists (a recipient deleted
  // through IngestExt leaves its subscription rows behind).
  const schema::Schema* recipients = s->schemas.Find(subscription::kRecipientSchema);
  std::string rcp_fk = s->subscription->FindAttribute("recipient-id")->sql_name;
  Result<std::vector<store::Row>> rows = s->cloud->Query(fmt::format(
      "SELECT {0}, {1}, {2}, (SELECT count(*) FROM {3} x WHERE x.{4} = s.{5} AND EXISTS (SELECT 1 FROM {7} r WHERE "
      "r.{8} = x.{9})) FROM {6} s ORDER BY {0}",
      s->Col("name"), s->Col("label"), s->Col("messageType"), subs, fk, id, s->service->sql_table,
      recipients->sql_table, recipients->attributes.front().sql_name, rcp_fk));
  if (!rows.ok()) return Fail(rows.status());
  std::cout << fmt::format("{:<24} {:<32} {:<8} {}\n", "NAME", "LABEL", "CHANNEL", "SUBSCRIBERS");
  for (const store::Row& row : *rows) {
    std::int64_t channel = sync::AsInt(row[2]);
    std::string channel_name =
        channel >= 0 && channel < static_cast<std::int64_t>(kChannels.size()) ? kChannels[channel] : "other";
    std::cout << fmt::format("{:<24} {:<32} {:<8} {}\n", store::ValueToString(row[0]),
                             store::IsNull(row[1]) ? "" : store::ValueToString(row[1]), channel_name,
                             sync::AsInt(row[3]));
  }
  return kExitOk;
}

}  // namespace stagebridge::cli
