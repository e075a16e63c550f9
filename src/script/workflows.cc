// workflows.cc — loading user workflow files and running their activities.
#include "script/workflows.h"

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "script/host.h"
#include "workflow/history.h"
#include "xml/document.h"

namespace stagebridge::script {
namespace {

namespace fs = std::filesystem;

Status Bad(const std::string& file, const std::string& what) {
  return Status::InvalidArgument(fmt::format("SCR-200011 {}: {}", file, what));
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("cannot read {}", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Characters (code points) of a UTF-8 string: SpiderMonkey 102 counts the columns
// of its errors in code points (an emoji before an error counts 1).
int CodePoints(std::string_view s) {
  int n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Blank lines and spaces that put the script's first character at `offset` of `text`.
std::string PaddingFor(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  std::string_view before = text.substr(0, offset);
  auto lines = std::count(before.begin(), before.end(), '\n');
  std::size_t line_start = before.rfind('\n');
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  return std::string(static_cast<std::size_t>(lines), '\n') +
         std::string(static_cast<std::size_t>(CodePoints(before.substr(line_start))), ' ');
}

const std::set<std::string>& TechnicalNames() {
  static const std::set<std::string> kNames(workflow::Workflows().begin(), workflow::Workflows().end());
  return kNames;
}

// A script's source, and where to find the first character of its text in the file.
pugi::xml_node ScriptText(pugi::xml_node script) {
  for (pugi::xml_node c : script.children()) {
    if (c.type() == pugi::node_cdata || c.type() == pugi::node_pcdata) return c;
  }
  return {};
}

// A Host for compiling: nothing is ever called.
class NullHost : public Host {
 public:
  std::vector<std::string> Methods() const override { return {}; }
  Result<std::vector<CallOutput>> Call(const std::string&, const std::string&, const std::vector<CallArg>&) override {
    return Status::Internal("not running");
  }
  void Log(std::string_view, std::string_view) override {}
  std::optional<std::string> Option(const std::string&) override { return std::nullopt; }
};

// A parse error's "at offset N" (a byte offset in `text`) as "at line L, column C"
// (1-based, columns in code points): where an editor shows it.
std::string WithLineAndColumn(const std::string& message, std::string_view text) {
  static const std::regex kOffset(" at offset ([0-9]+)");
  std::smatch m;
  if (!std::regex_search(message, m, kOffset)) return message;
  std::size_t offset = std::min<std::size_t>(std::stoull(m[1].str()), text.size());
  std::string_view before = text.substr(0, offset);
  auto line = std::count(before.begin(), before.end(), '\n') + 1;
  std::size_t line_start = before.rfind('\n');
  line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
  return fmt::format("{} at line {}, column {}{}", m.prefix().str(), line, CodePoints(before.substr(line_start)) + 1,
                     m.suffix().str());
}

}  // namespace

Result<WorkflowDef> ParseWorkflow(std::string_view text, const std::string& file, const std::string& dir) {
  Result<std::unique_ptr<pugi::xml_document>> doc = xml::ParseXml(text, file);
  if (!doc.ok()) return Bad(file, WithLineAndColumn(doc.status().message(), text));
  pugi::xml_node root = (*doc)->document_element();
  if (std::string_view(root.name()) != "workflow") {
    return Bad(file, fmt::format("the root element is <{}>, not <workflow>", xml::Printable(root.name())));
  }
  WorkflowDef def;
  def.file = file;
  def.internal_name = root.attribute("internalName").value();
  static const std::regex kName("[A-Za-z][A-Za-z0-9_]{0,63}");
  if (!std::regex_match(def.internal_name, kName)) {
    return Bad(file, fmt::format("internalName '{}' is not a name (a letter, then up to 63 letters, digits or _)",
                                 xml::Printable(def.internal_name)));
  }
  if (TechnicalNames().count(def.internal_name) != 0) {
    return Bad(file, fmt::format("internalName '{}' is a technical workflow's", def.internal_name));
  }
  def.label = root.attribute("label").value();
  def.schedule_text = root.attribute("schedule").as_string("off");
  Result<workflow::Schedule> schedule = workflow::ParseSchedule(def.schedule_text);
  if (!schedule.ok()) return Bad(file, fmt::format("schedule: {}", schedule.status().message()));
  def.schedule = *schedule;
  def.op = root.attribute("operator").value();
  if (def.op.empty()) return Bad(file, "no operator=\"login\": the operator the workflow runs as");
  pugi::xml_node activities = root.child("activities");
  std::set<std::string> names;
  for (pugi::xml_node js : activities.children()) {
    if (js.type() != pugi::node_element) continue;
    if (std::string_view(js.name()) != "js") {
      return Bad(file, fmt::format("activity <{}>: only JavaScript activities (<js>) are supported",
                                   xml::Printable(js.name())));
    }
    Activity a;
    a.name = js.attribute("name").value();
    a.label = js.attribute("label").value();
    if (a.name.empty()) a.name = fmt::format("js{}", def.activities.size() + 1);
    if (!names.insert(a.name).second) return Bad(file, fmt::format("activity '{}' is defined twice", a.name));
    std::string src = js.attribute("src").value();
    pugi::xml_node script = js.child("script");
    if (!src.empty()) {
      if (script) return Bad(file, fmt::format("activity '{}': both src= and <script>", a.name));
      // A src= file sits in workflows_dir (or below): no absolute path, no way out.
      std::error_code ec;
      fs::path base = fs::weakly_canonical(fs::path(dir), ec);
      fs::path path = fs::weakly_canonical(base / src, ec);
      auto rel = path.lexically_relative(base);
      if (fs::path(src).is_absolute() || rel.empty() || *rel.begin() == "..") {
        return Bad(file,
                   fmt::format("activity '{}': src=\"{}\" is not a file inside {}", a.name, xml::Printable(src), dir));
      }
      Result<std::string> body = ReadFile(path);
      if (!body.ok()) return Bad(file, fmt::format("activity '{}': {}", a.name, body.status().message()));
      a.source = std::move(*body);
      a.file = path.string();
    } else {
      pugi::xml_node body = ScriptText(script);
      if (!body) return Bad(file, fmt::format("activity '{}': no script (<script> or src=)", a.name));
      a.file = file;
      a.source = PaddingFor(text, static_cast<std::size_t>(body.offset_debug())) + body.value();
    }
    def.activities.push_back(std::move(a));
  }
  if (def.activities.empty()) return Bad(file, "no activity (<activities><js …>)");
  for (const Activity& a : def.activities) {
    if (std::optional<Failure> f = CheckScript(a.source, a.file)) {
      return Bad(file, fmt::format("activity '{}': {}", a.name, f->ToString()));
    }
  }
  return def;
}

LoadReport LoadWorkflows(const std::string& dir) {
  LoadReport report;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return report;
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file(ec) && e.path().extension() == ".xml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::string> seen;  // name → file
  for (const fs::path& path : files) {
    Result<std::string> text = ReadFile(path);
    Result<WorkflowDef> def = text.ok() ? ParseWorkflow(*text, path.string(), dir) : Result<WorkflowDef>(text.status());
    if (!def.ok()) {
      report.errors.push_back(def.status().message());
      continue;
    }
    if (auto it = seen.find(def->internal_name); it != seen.end()) {
      report.errors.push_back(fmt::format("SCR-200011 {}: internalName '{}' is already defined by {}", path.string(),
                                          def->internal_name, it->second));
      continue;
    }
    seen[def->internal_name] = path.string();
    report.workflows.push_back(std::move(*def));
  }
  std::sort(report.workflows.begin(), report.workflows.end(),
            [](const WorkflowDef& a, const WorkflowDef& b) { return a.internal_name < b.internal_name; });
  return report;
}

std::optional<Failure> CheckScript(std::string_view source, const std::string& file) {
  NullHost host;
  Result<std::unique_ptr<Session>> session = Session::Create(host, Limits{});
  if (!session.ok()) return Failure{file, 0, 0, session.status().message()};
  return (*session)->Check(source, file);
}

Result<auth::Operator> ScriptOperator(auth::Authenticator& authenticator, const std::string& login) {
  SB_ASSIGN_OR_RETURN(std::vector<auth::Operator> ops, authenticator.ListOperators());
  for (auth::Operator& op : ops) {
    if (op.login != login) continue;
    if (op.disabled) {
      return Status::FailedPrecondition(fmt::format("SCR-200010 operator '{}' is disabled", xml::Printable(login)));
    }
    return std::move(op);
  }
  return Status::NotFound(fmt::format("SCR-200010 no operator '{}' (stagebridge operator add)", xml::Printable(login)));
}

UserWorkflowSet::UserWorkflowSet(ScriptEnv env, std::string dir)
    : env_(std::move(env)), dir_(std::move(dir)), defs_(std::make_shared<std::vector<WorkflowDef>>()) {}

LoadReport UserWorkflowSet::Reload() {
  LoadReport report = LoadWorkflows(dir_);
  auto defs = std::make_shared<std::vector<WorkflowDef>>(report.workflows);
  std::lock_guard lock(mu_);
  defs_ = std::move(defs);
  return report;
}

std::vector<workflow::Scheduler::Entry> UserWorkflowSet::Entries() const {
  std::lock_guard lock(mu_);
  std::vector<workflow::Scheduler::Entry> out;
  for (const WorkflowDef& d : *defs_) out.push_back({d.internal_name, d.schedule});
  return out;
}

std::optional<std::string> UserWorkflowSet::OperatorOf(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const WorkflowDef& d : *defs_) {
    if (d.internal_name == name) return d.op;
  }
  return std::nullopt;
}

std::vector<std::string> UserWorkflowSet::Names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const WorkflowDef& d : *defs_) out.push_back(d.internal_name);
  return out;
}

Status UserWorkflowSet::Execute(workflow::RunRecord& run, store::Database& local, const std::atomic<bool>* stop) {
  std::shared_ptr<const std::vector<WorkflowDef>> defs;
  {
    std::lock_guard lock(mu_);
    defs = defs_;
  }
  auto it =
      std::find_if(defs->begin(), defs->end(), [&](const WorkflowDef& d) { return d.internal_name == run.workflow; });
  if (it == defs->end()) {
    return Status::NotFound(fmt::format("SCR-200012 workflow '{}' is no longer defined", run.workflow));
  }
  const WorkflowDef& def = *it;
  std::string activity;
  // Log lines are written in batches: before each service call (so a line logged
  // after an Ingest is stored before the next call is made), every
  // kLogBatch lines, and when the run ends. A line is capped at kLogLineBytes and
  // a run at kLogLines lines (the server's own log gets the same).
  constexpr std::size_t kLogBatch = 500;
  constexpr std::size_t kLogLineBytes = std::size_t{64} * 1024;
  constexpr std::int64_t kLogLines = 100000;
  std::vector<workflow::LogLine> pending;  // GUARDED_BY(log_mu)
  std::int64_t logged = 0;
  std::mutex log_mu;  // the lines and the run's connection, shared with the flusher
  auto flush_locked = [&] {
    if (pending.empty()) return;
    if (Status s = workflow::AppendLog(local, run.id, pending); !s.ok()) {
      spdlog::warn("workflow {} run {}: cannot record {} log line(s): {}", run.workflow, run.id, pending.size(),
                   s.ToString());
    }
    pending.clear();
  };
  auto flush = [&] {
    std::lock_guard lock(log_mu);
    flush_locked();
  };
  // A line logged before a long computation is seen by `workflow log` within a second.
  std::condition_variable flusher_cv;
  bool done = false;  // GUARDED_BY(log_mu)
  std::thread flusher([&] {
    std::unique_lock lock(log_mu);
    while (!flusher_cv.wait_for(lock, std::chrono::seconds(1), [&] { return done; })) flush_locked();
  });
  struct StopFlusher {
    std::mutex& mu;
    bool& done;
    std::condition_variable& cv;
    std::thread& thread;
    ~StopFlusher() {
      {
        std::lock_guard lock(mu);
        done = true;
      }
      cv.notify_all();
      thread.join();
    }
  } stop_flusher{log_mu, done, flusher_cv, flusher};
  auto append = [&](std::string_view level, std::string_view text) {
    std::lock_guard lock(log_mu);
    if (++logged > kLogLines) {
      if (logged == kLogLines + 1) {
        pending.push_back({workflow::NowSeconds(), activity, "warning",
                           fmt::format("log truncated: a run keeps at most {} lines", kLogLines)});
      }
      return;
    }
    // A NUL cannot be stored in a PostgreSQL text column: shown as \x00.
    std::string stored;
    for (char c : text.substr(0, kLogLineBytes)) {
      if (c == '\0') {
        stored += "\\x00";
      } else {
        stored += c;
      }
    }
    if (text.size() > kLogLineBytes) stored += fmt::format(" … ({} bytes in all)", text.size());
    spdlog::info("workflow {} run {} [{}] {}: {}", run.workflow, run.id, activity, level, xml::Printable(stored));
    pending.push_back({workflow::NowSeconds(), activity, std::string(level), std::move(stored)});
    if (pending.size() >= kLogBatch) flush_locked();
  };
  Result<auth::Operator> op = ScriptOperator(env_.authenticator, def.op);
  if (!op.ok()) {
    append("error", op.status().message());
    flush();
    return op.status();
  }
  ServiceHost host(env_.router, *op, append, env_.options);
  host.set_before_call(flush);
  Result<std::unique_ptr<Session>> session = Session::Create(host, env_.limits, stop);
  if (!session.ok()) return session.status();
  for (const Activity& a : def.activities) {
    activity = a.name;
    if (std::optional<Failure> f = (*session)->Run(a.source, a.file)) {
      std::string where = f->ToString();
      append("error", where);
      flush();
      return Status::Internal(fmt::format("activity '{}' failed at {}", a.name, where));
    }
  }
  flush();
  return Status::Ok();
}

}  // namespace stagebridge::script
