// commands_operator.cc — `operator add|list|disable|enable|password`.
#include "cli/commands_operator.h"

#include <iostream>
#include <istream>

#include <fmt/format.h>

#include "auth/authenticator.h"
#include "cli/app.h"
#include "store/pool.h"

namespace stagebridge::cli {
namespace {

int Fail(const Status& status) {
  std::cerr << "stagebridge: " << status.message() << "\n";
  return kExitFailed;
}

// The first line of `in`, without its line ending; empty when there is none.
std::string ReadPassword(std::istream& in) {
  std::string line;
  if (!std::getline(in, line)) {
    return {};
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
    line.pop_back();
  }
  return line;
}

std::string Trim(const std::string& s) {
  std::size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) {
    return {};
  }
  std::size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Each entry may hold several comma-separated ids; blanks around them are dropped.
std::vector<std::string> SplitSchemaList(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const std::string& entry : entries) {
    std::size_t start = 0;
    while (true) {
      std::size_t comma = entry.find(',', start);
      std::string id = Trim(entry.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (!id.empty()) {
        out.push_back(std::move(id));
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  return out;
}

// Runs `work` with an Authenticator over the local database, tables ensured.
template <typename Work>
int WithAuthenticator(const Config& config, Work work) {
  store::ConnectionPool pool(config.Get("local_db"), 1);
  auth::Authenticator authenticator(pool, auth::AuthOptions{});
  if (Status s = authenticator.EnsureTables(); !s.ok()) {
    return Fail(s.WithContext("local database"));
  }
  return work(authenticator);
}

std::string Rights(const auth::Operator& op) {
  if (op.admin) {
    return "admin";
  }
  if (op.schemas.empty()) {
    return "-";
  }
  return fmt::format("{}", fmt::join(op.schemas, ","));
}

}  // namespace

int CmdOperatorAdd(const Config& config, const std::string& login, bool admin, const std::vector<std::string>& schemas,
                   std::istream& password_in) {
  std::string password = ReadPassword(password_in);
  if (password.empty()) {
    return Fail(Status::InvalidArgument("empty password refused (give it on the first line of standard input)"));
  }
  std::vector<std::string> ids = SplitSchemaList(schemas);
  return WithAuthenticator(config, [&](auth::Authenticator& authenticator) {
    if (Status s = authenticator.AddOperator(login, password, admin, ids); !s.ok()) {
      return Fail(s);
    }
    std::string rights =
        admin ? "admin" : (ids.empty() ? "no schema rights yet" : fmt::format("may write {}", fmt::join(ids, ", ")));
    std::cout << fmt::format("operator '{}' added ({})\n", login, rights);
    return kExitOk;
  });
}

int CmdOperatorList(const Config& config) {
  return WithAuthenticator(config, [&](auth::Authenticator& authenticator) {
    Result<std::vector<auth::Operator>> ops = authenticator.ListOperators();
    if (!ops.ok()) {
      return Fail(ops.status());
    }
    std::cout << fmt::format("{:<24} {:<40} {}\n", "LOGIN", "RIGHTS", "STATUS");
    for (const auth::Operator& op : *ops) {
      std::cout << fmt::format("{:<24} {:<40} {}\n", op.login, Rights(op), op.disabled ? "disabled" : "enabled");
    }
    return kExitOk;
  });
}

int CmdOperatorDisable(const Config& config, const std::string& login) {
  return WithAuthenticator(config, [&](auth::Authenticator& authenticator) {
    if (Status s = authenticator.SetDisabled(login, true); !s.ok()) {
      return Fail(s);
    }
    std::cout << fmt::format("operator '{}' disabled\n", login);
    return kExitOk;
  });
}

int CmdOperatorEnable(const Config& config, const std::string& login) {
  return WithAuthenticator(config, [&](auth::Authenticator& authenticator) {
    if (Status s = authenticator.SetDisabled(login, false); !s.ok()) {
      return Fail(s);
    }
    std::cout << fmt::format("operator '{}' enabled\n", login);
    return kExitOk;
  });
}

int CmdOperatorPassword(const Config& config, const std::string& login, std::istream& password_in) {
  std::string password = ReadPassword(password_in);
  if (password.empty()) {
    return Fail(Status::InvalidArgument("empty password refused (give it on the first line of standard input)"));
  }
  return WithAuthenticator(config, [&](auth::Authenticator& authenticator) {
    if (Status s = authenticator.SetPassword(login, password); !s.ok()) {
      return Fail(s);
    }
    std::cout << fmt::format("password of operator '{}' changed\n", login);
    return kExitOk;
  });
}

}  // namespace stagebridge::cli
