// commands_service.h — `service add|list`: the subscription services
// (nms:service rows, SPEC §2) in the cloud database, where Subscribe finds them
// at once. Services may also be written through IngestExt on nms:serviceStg.
//
// Thread-safety: called once, from main.
#pragma once

#include <string>

#include "cli/config.h"

namespace stagebridge::cli {

struct ServiceAddOptions {
  std::string name;               // internal name, what Subscribe's serviceName names
  std::string label;              // defaults to the name
  std::string channel = "email";  // email, mobile, phone, mail, fax (nms:service messageType 0–4)
};

// Adds a service to the cloud table NmsService; an existing name is refused.
int CmdServiceAdd(const Config& config, const ServiceAddOptions& options);

// Prints NAME, LABEL, CHANNEL and SUBSCRIBERS of every service in the cloud.
int CmdServiceList(const Config& config);

}  // namespace stagebridge::cli
