// engine.h — workflow JavaScript on SpiderMonkey 102 (libmozjs-102): one
// Session per run, holding the run's global (so `instance.vars` and top-level
// names are shared by its activities), on the thread that created it.
//
// A script's source goes through the E4X transform (e4x.h) first; every error
// (syntax, an uncaught exception, the time limit, the memory cap) is reported at
// the user's own line and column. The script reaches the outside only through
// its Host: no file, network, process or environment access exists in the
// global (standard JavaScript plus prelude.js).
//
// Limits: each Run has a time limit (an interrupt ends `while (true) {}`); the
// session's GC heap is capped (a runaway allocation ends the script with a
// clear error, the process goes on).
//
// Thread-safety: a Session is used by the thread that created it; Interrupt()
// may be called from any thread. Sessions on different threads run in parallel.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"

struct JSContext;

namespace stagebridge::script {

// One input of a service call: text, or an XML document (its serialization).
struct CallArg {
  bool xml = false;
  std::string text;
};

// One output: its SOAP type ("xsd:string", "ns:Element", …) and value (text, or XML).
struct CallOutput {
  std::string type;
  std::string value;
};

// What a script reaches outside the engine.
class Host {
 public:
  virtual ~Host() = default;
  // "service#method" of every method a script may call (xtk:session#Ingest, …).
  virtual std::vector<std::string> Methods() const = 0;
  // Calls a method; an error's message is the fault ("STG-200003 …").
  virtual Result<std::vector<CallOutput>> Call(const std::string& service, const std::string& method,
                                               const std::vector<CallArg>& args) = 0;
  // level: info | warning | error | verbose.
  virtual void Log(std::string_view level, std::string_view text) = 0;
  // getOption(name): the option's value, nullopt when undefined.
  virtual std::optional<std::string> Option(const std::string& name) = 0;
};

struct Limits {
  std::chrono::milliseconds timeout{60000};
  std::size_t memory_bytes = std::size_t{256} << 20;
};

// Why a script did not complete: where (the user's file, line and column; 0
// when unknown) and what.
struct Failure {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;

  std::string ToString() const;  // "file:line:column: message"
};

class Session {
 public:
  // Creates the engine context and the global on the calling thread. `stop`
  // (may be null) ends a running script when set (checked every 100 ms).
  static Result<std::unique_ptr<Session>> Create(Host& host, Limits limits, const std::atomic<bool>* stop = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one script (an activity) to its end. `file` names it in errors.
  std::optional<Failure> Run(std::string_view source, const std::string& file);
  // Compiles a script without running it: E4X and syntax errors.
  std::optional<Failure> Check(std::string_view source, const std::string& file);

 private:
  Session(Host& host, Limits limits, const std::atomic<bool>* stop);
  Status Init();
  void Watch();
  // Transforms and compiles (and runs, when `run`) one script.
  std::optional<Failure> Evaluate(std::string_view source, const std::string& file, bool run);

  Host& host_;
  const Limits limits_;
  const std::atomic<bool>* stop_;
  JSContext* cx_ = nullptr;
  struct Global;
  std::unique_ptr<Global> global_;

  // The watchdog: interrupts the script past its deadline or when stop is set.
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;  // GUARDED_BY(mu_); set while running
  bool quit_ = false;                                              // GUARDED_BY(mu_)
  std::atomic<int> interrupt_{0};                                  // 0 none, 1 time limit, 2 stop
  std::thread watchdog_;

  friend struct Natives;
};

// The process-wide engine (JS_Init), started on first use.
Status EnsureEngine();

}  // namespace stagebridge::script
