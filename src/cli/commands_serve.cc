// commands_serve.cc — `serve`: the HTTP front door on the configured address.
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/app.h"
#include "cli/commands.h"
#include "http/server.h"
#include "store/database.h"

namespace stagebridge::cli {

int CmdServe(const Config& config) {
  // Open the local database first: a server that cannot stage writes must not
  // pretend to serve.
  auto local = store::OpenDatabase(config.Get("local_db"));
  if (!local.ok()) {
    std::cerr << "stagebridge: local database: " << local.status().message() << "\n";
    return kExitFailed;
  }
  http::ServerOptions options;
  options.listen = config.Get("listen");
  options.threads = config.GetInt("threads");
  options.max_body_bytes = static_cast<std::size_t>(std::stoll(config.Get("max_body_bytes")));
  options.instance_name = config.Get("instance_name");
  http::Server server(options, [](const http::Request& request) {
    http::Response response;
    response.status = 404;
    response.body = "no such endpoint: " + request.path + "\n";
    return response;
  });
  Result<std::uint16_t> port = server.Start();
  if (!port.ok()) {
    std::cerr << "stagebridge: " << port.status().message() << "\n";
    return kExitFailed;
  }
  auto host = http::ParseListen(options.listen);
  spdlog::info("stagebridge listening on http://{}:{} (local db {})", host->first, *port,
               store::ParseDatabaseUrl(config.Get("local_db"))->redacted);
  // A line on stdout that scripts and tests wait for instead of sleeping.
  std::cout << "listening on " << host->first << ":" << *port << std::endl;
  server.Wait();
  spdlog::info("stopped");
  return kExitOk;
}

}  // namespace stagebridge::cli
