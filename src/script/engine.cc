// engine.cc — the SpiderMonkey embedding: context, global, natives, limits, errors.
#include "script/engine.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <js/Array.h>
#include <js/CharacterEncoding.h>
#include <js/CompilationAndEvaluation.h>
#include <js/Conversions.h>
#include <js/ErrorReport.h>
#include <js/Exception.h>
#include <js/Initialization.h>
#include <js/Interrupt.h>
#include <js/Promise.h>
#include <js/SavedFrameAPI.h>
#include <js/SourceText.h>
#include <js/String.h>
#include <jsapi.h>
#include <jsfriendapi.h>
#include <unistd.h>

#include "base/json.h"
#include "script/e4x.h"
#include "script/prelude_js.h"
#include "xml/document.h"

namespace stagebridge::script {
namespace {

constexpr const char* kPreludeFile = "stagebridge:prelude.js";

// SpiderMonkey allows one context per thread at a time.
thread_local bool session_on_thread = false;

struct Engine {
  bool ok = false;
  Engine() : ok(JS_Init()) {}
  ~Engine() {
    if (ok) JS_ShutDown();
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
};

// The string as UTF-8, embedded NULs included.
std::string Utf8(JSContext* cx, JS::HandleString s) {
  if (s == nullptr) return {};
  JSLinearString* linear = JS_EnsureLinearString(cx, s);
  if (linear == nullptr) return {};
  std::size_t length = JS::GetDeflatedUTF8StringLength(linear);
  JS::UniqueChars chars = JS_EncodeStringToUTF8(cx, s);
  return chars ? std::string(chars.get(), length) : std::string();
}

// ToString(v) as UTF-8; false (exception pending) when the conversion threw.
bool ValueText(JSContext* cx, JS::HandleValue v, std::string& out) {
  JS::RootedString s(cx, JS::ToString(cx, v));
  if (s == nullptr) return false;
  out = Utf8(cx, s);
  return true;
}

JSString* NewString(JSContext* cx, std::string_view text) {
  return JS_NewStringCopyUTF8N(cx, JS::UTF8Chars(text.data(), text.size()));
}

// A pugixml node as the prelude's tree: text → "…", element → {n, a, c}, CDATA → {k:"d", v}.
void AppendTree(std::string& out, pugi::xml_node node) {
  switch (node.type()) {
    case pugi::node_pcdata: AppendJsonString(out, node.value()); return;
    case pugi::node_cdata:
      out += "{\"k\":\"d\",\"v\":";
      AppendJsonString(out, node.value());
      out += '}';
      return;
    case pugi::node_comment:
      out += "{\"k\":\"c\",\"v\":";
      AppendJsonString(out, node.value());
      out += '}';
      return;
    case pugi::node_element: break;
    default: out += "\"\""; return;
  }
  out += "{\"n\":";
  AppendJsonString(out, node.name());
  out += ",\"a\":[";
  bool first = true;
  for (pugi::xml_attribute a : node.attributes()) {
    if (!first) out += ',';
    first = false;
    out += '[';
    AppendJsonString(out, a.name());
    out += ',';
    AppendJsonString(out, a.value());
    out += ']';
  }
  out += "],\"c\":[";
  first = true;
  for (pugi::xml_node c : node.children()) {
    if (c.type() != pugi::node_element && c.type() != pugi::node_pcdata && c.type() != pugi::node_cdata) continue;
    if (!first) out += ',';
    first = false;
    AppendTree(out, c);
  }
  out += "]}";
}

}  // namespace

Status EnsureEngine() {
  static Engine engine;
  if (!engine.ok) return Status::Internal("SCR-200001 The JavaScript engine (SpiderMonkey) failed to start.");
  return Status::Ok();
}

std::string Failure::ToString() const {
  if (line <= 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

struct Session::Global {
  JS::PersistentRootedObject object;
  // Promises rejected with no handler yet (a .then that threw, an async function
  // that failed): one left when the jobs ran out fails the script.
  std::vector<std::unique_ptr<JS::PersistentRootedObject>> unhandled;
  Global(JSContext* cx, JSObject* obj) : object(cx, obj) {}
};

// The natives the prelude captures (and removes from the global).
struct Natives {
  static Session& Of(JSContext* cx) { return *static_cast<Session*>(JS_GetContextPrivate(cx)); }

  // __sbParseXml(text) → JSON: the top-level nodes of the document.
  static bool ParseXml(JSContext* cx, unsigned argc, JS::Value* vp) {
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    std::string text;
    if (!ValueText(cx, args.get(0), text)) return false;
    Result<std::unique_ptr<pugi::xml_document>> doc = xml::ParseXml(text, "XML literal");
    if (!doc.ok()) {
      JS_ReportErrorUTF8(cx, "%s", doc.status().message().c_str());
      return false;
    }
    std::string json = "[";
    bool first = true;
    for (pugi::xml_node c : (*doc)->children()) {
      if (c.type() != pugi::node_element) continue;
      if (!first) json += ',';
      first = false;
      AppendTree(json, c);
    }
    json += ']';
    JSString* s = NewString(cx, json);
    if (s == nullptr) return false;
    args.rval().setString(s);
    return true;
  }

  // __sbCall(service, method, [arg, …]) → [[type, value], …]; an arg is a
  // string or {xml: "…"}. A fault throws an Error whose message is the fault.
  static bool Call(JSContext* cx, unsigned argc, JS::Value* vp) {
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    std::string service;
    std::string method;
    if (!ValueText(cx, args.get(0), service) || !ValueText(cx, args.get(1), method)) return false;
    std::vector<CallArg> inputs;
    if (args.get(2).isObject()) {
      JS::RootedObject array(cx, &args.get(2).toObject());
      uint32_t n = 0;
      if (!JS::GetArrayLength(cx, array, &n)) return false;
      for (uint32_t i = 0; i < n; ++i) {
        JS::RootedValue v(cx);
        if (!JS_GetElement(cx, array, i, &v)) return false;
        CallArg arg;
        if (v.isObject()) {
          JS::RootedObject o(cx, &v.toObject());
          JS::RootedValue x(cx);
          if (!JS_GetProperty(cx, o, "xml", &x)) return false;
          arg.xml = true;
          if (!ValueText(cx, x, arg.text)) return false;
        } else if (!ValueText(cx, v, arg.text)) {
          return false;
        }
        inputs.push_back(std::move(arg));
      }
    }
    Result<std::vector<CallOutput>> outs = Of(cx).host_.Call(service, method, inputs);
    if (!outs.ok()) {
      JS_ReportErrorUTF8(cx, "%s", outs.status().message().c_str());
      return false;
    }
    JS::RootedObject result(cx, JS::NewArrayObject(cx, outs->size()));
    if (result == nullptr) return false;
    for (std::size_t i = 0; i < outs->size(); ++i) {
      JS::RootedObject pair(cx, JS::NewArrayObject(cx, 2));
      if (pair == nullptr) return false;
      JS::RootedString type(cx, NewString(cx, (*outs)[i].type));
      JS::RootedString value(cx, NewString(cx, (*outs)[i].value));
      if (type == nullptr || value == nullptr) return false;
      if (!JS_SetElement(cx, pair, 0, type) || !JS_SetElement(cx, pair, 1, value) ||
          !JS_SetElement(cx, result, static_cast<uint32_t>(i), pair)) {
        return false;
      }
    }
    args.rval().setObject(*result);
    return true;
  }

  // __sbLog(level, text)
  static bool Log(JSContext* cx, unsigned argc, JS::Value* vp) {
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    std::string level;
    std::string text;
    if (!ValueText(cx, args.get(0), level) || !ValueText(cx, args.get(1), text)) return false;
    Of(cx).host_.Log(level, text);
    args.rval().setUndefined();
    return true;
  }

  // __sbOption(name) → string | undefined
  static bool Option(JSContext* cx, unsigned argc, JS::Value* vp) {
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    std::string name;
    if (!ValueText(cx, args.get(0), name)) return false;
    std::optional<std::string> value = Of(cx).host_.Option(name);
    if (!value) {
      args.rval().setUndefined();
      return true;
    }
    JSString* s = NewString(cx, *value);
    if (s == nullptr) return false;
    args.rval().setString(s);
    return true;
  }

  static bool Interrupt(JSContext* cx) { return Of(cx).interrupt_.load() == 0; }

  static void Rejection(JSContext* cx, bool /*muted*/, JS::HandleObject promise,
                        JS::PromiseRejectionHandlingState state, void* /*data*/) {
    auto& unhandled = Of(cx).global_->unhandled;
    if (state == JS::PromiseRejectionHandlingState::Unhandled) {
      unhandled.push_back(std::make_unique<JS::PersistentRootedObject>(cx, promise));
      return;
    }
    std::erase_if(unhandled, [&](const auto& p) { return p->get() == promise.get(); });
  }
};

Result<std::unique_ptr<Session>> Session::Create(Host& host, Limits limits, const std::atomic<bool>* stop) {
  SB_RETURN_IF_ERROR(EnsureEngine());
  if (session_on_thread) {
    return Status::FailedPrecondition("SCR-200001 a script session already runs on this thread");
  }
  std::unique_ptr<Session> session(new Session(host, limits, stop));
  SB_RETURN_IF_ERROR(session->Init());
  return session;
}

Session::Session(Host& host, Limits limits, const std::atomic<bool>* stop)
    : host_(host), limits_(limits), stop_(stop) {}

Session::~Session() {
  {
    std::lock_guard lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  global_.reset();  // unroot before the context goes
  if (cx_ != nullptr) {
    JS_DestroyContext(cx_);
    session_on_thread = false;
  }
}

Status Session::Init() {
  cx_ = JS_NewContext(JS::DefaultHeapMaxBytes);
  if (cx_ == nullptr) return Status::Internal("SCR-200001 cannot create a JavaScript context");
  session_on_thread = true;
  // Promise jobs (.then, await) go to the engine's own queue, run after each script.
  if (!js::UseInternalJobQueues(cx_)) return Status::Internal("SCR-200001 cannot set up the promise job queue");
  JS_SetContextPrivate(cx_, this);
  JS_SetGCParameter(cx_, JSGC_MAX_BYTES,
                    static_cast<std::uint32_t>(std::min<std::size_t>(limits_.memory_bytes, UINT32_MAX)));
  if (!JS::InitSelfHostedCode(cx_)) return Status::Internal("SCR-200001 cannot start the JavaScript engine");
  JS_AddInterruptCallback(cx_, &Natives::Interrupt);
  JS::SetPromiseRejectionTrackerCallback(cx_, &Natives::Rejection);

  static const JSClass kGlobalClass = {"global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps, nullptr, nullptr,
                                       nullptr};
  JS::RealmOptions options;
  JS::RootedObject global(cx_, JS_NewGlobalObject(cx_, &kGlobalClass, nullptr, JS::FireOnNewGlobalHook, options));
  if (global == nullptr) return Status::Internal("SCR-200001 cannot create the script global");
  global_ = std::make_unique<Global>(cx_, global);
  JSAutoRealm realm(cx_, global);
  if (!JS::InitRealmStandardClasses(cx_)) return Status::Internal("SCR-200001 cannot set up the standard classes");
  static const JSFunctionSpec kNatives[] = {
      JS_FN("__sbParseXml", &Natives::ParseXml, 1, 0), JS_FN("__sbCall", &Natives::Call, 3, 0),
      JS_FN("__sbLog", &Natives::Log, 2, 0), JS_FN("__sbOption", &Natives::Option, 1, 0), JS_FS_END};
  if (!JS_DefineFunctions(cx_, global, kNatives)) return Status::Internal("SCR-200001 cannot define the natives");
  std::vector<std::string> methods = host_.Methods();
  JS::RootedObject list(cx_, JS::NewArrayObject(cx_, methods.size()));
  if (list == nullptr) return Status::Internal("SCR-200001 out of memory");
  for (std::size_t i = 0; i < methods.size(); ++i) {
    JS::RootedString s(cx_, NewString(cx_, methods[i]));
    if (s == nullptr || !JS_SetElement(cx_, list, static_cast<uint32_t>(i), s)) {
      return Status::Internal("SCR-200001 out of memory");
    }
  }
  if (!JS_DefineProperty(cx_, global, "__sbMethods", list, 0)) return Status::Internal("SCR-200001 out of memory");
  JS::CompileOptions compile(cx_);
  compile.setFileAndLine(kPreludeFile, 1);
  JS::SourceText<mozilla::Utf8Unit> source;
  std::string_view prelude = PreludeJs();
  if (!source.init(cx_, prelude.data(), prelude.size(), JS::SourceOwnership::Borrowed)) {
    return Status::Internal("SCR-200001 out of memory");
  }
  JS::RootedValue ignored(cx_);
  if (!JS::Evaluate(cx_, compile, source, &ignored)) {
    JS_ClearPendingException(cx_);
    return Status::Internal("SCR-200001 the script prelude failed to run");
  }
  watchdog_ = std::thread([this] { Watch(); });
  return Status::Ok();
}

namespace {

// The process's resident memory, bytes (0 when unknown).
std::size_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0;
  unsigned long resident = 0;
  int n = std::fscanf(f, "%lu %lu", &pages, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<std::size_t>(resident) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

void Session::Watch() {
  std::unique_lock lock(mu_);
  std::size_t baseline = 0;
  while (!quit_) {
    // Every 10 ms while a script runs (a runaway allocation grows fast), 100 ms otherwise.
    auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ ? 10 : 100);
    if (deadline_ && *deadline_ < wake) wake = *deadline_;
    cv_.wait_until(lock, wake);
    if (quit_ || !deadline_) {
      baseline = 0;
      continue;
    }
    int why = 0;
    // The memory cap: the GC heap is capped by the engine (JSGC_MAX_BYTES),
    // but array elements, strings and ArrayBuffers live outside it; the
    // process's growth since the script started bounds them all.
    std::size_t resident = ResidentBytes();
    if (baseline == 0) baseline = resident;
    if (resident > baseline && resident - baseline > limits_.memory_bytes) why = 3;
    if (std::chrono::steady_clock::now() >= *deadline_) why = 1;
    if (stop_ != nullptr && stop_->load()) why = 2;
    if (why != 0 && interrupt_.load() == 0) {
      interrupt_.store(why);
      JS_RequestInterruptCallback(cx_);
    }
  }
}

namespace {

// "line:column: message" of a transform error.
Failure TransformFailure(const std::string& file, const Status& status) {
  Failure f;
  f.file = file;
  f.message = status.message();
  int line = 0;
  int column = 0;
  int used = 0;
  if (std::sscanf(f.message.c_str(), "%d:%d: %n", &line, &column, &used) == 2 && used > 0) {
    f.line = line;
    f.column = column;
    f.message = f.message.substr(static_cast<std::size_t>(used));
  }
  return f;
}

// The first frame of the user's file in an exception's stack: line, column (1-based).
bool UserFrame(JSContext* cx, JS::HandleObject stack, const std::string& file, std::uint32_t& line,
               std::uint32_t& column) {
  JS::RootedObject frame(cx, stack);
  for (int depth = 0; frame != nullptr && depth < 256; ++depth) {
    JS::RootedString source(cx);
    (void)JS::GetSavedFrameSource(cx, nullptr, frame, &source);
    if (Utf8(cx, source) == file) {
      (void)JS::GetSavedFrameLine(cx, nullptr, frame, &line);
      (void)JS::GetSavedFrameColumn(cx, nullptr, frame, &column);
      return true;
    }
    JS::RootedObject parent(cx);
    (void)JS::GetSavedFrameParent(cx, nullptr, frame, &parent);
    frame = parent;
  }
  return false;
}

}  // namespace

std::optional<Failure> Session::Run(std::string_view source, const std::string& file) {
  return Evaluate(source, file, true);
}

std::optional<Failure> Session::Check(std::string_view source, const std::string& file) {
  return Evaluate(source, file, false);
}

std::optional<Failure> Session::Evaluate(std::string_view source, const std::string& file, bool run) {
  Result<Transformed> code = TransformE4x(source);
  if (!code.ok()) return TransformFailure(file, code.status());

  JSAutoRealm realm(cx_, global_->object);
  global_->unhandled.clear();
  interrupt_.store(0);
  {
    std::lock_guard lock(mu_);
    deadline_ = std::chrono::steady_clock::now() + limits_.timeout;
  }
  cv_.notify_all();
  JS::CompileOptions compile(cx_);
  compile.setFileAndLine(file.c_str(), 1);
  JS::SourceText<mozilla::Utf8Unit> text;
  bool ok = text.init(cx_, code->code.data(), code->code.size(), JS::SourceOwnership::Borrowed);
  JS::RootedValue ignored(cx_);
  if (run) {
    ok = ok && JS::Evaluate(cx_, compile, text, &ignored);
    // The promise jobs the script queued (.then callbacks, async functions' rest),
    // under the same time limit; one that throws fails the script.
    if (ok) {
      js::RunJobs(cx_);
      ok = !JS_IsExceptionPending(cx_) && interrupt_.load() == 0;
      if (ok && !global_->unhandled.empty()) {
        JS::RootedObject promise(cx_, global_->unhandled.front()->get());
        JS::RootedValue reason(cx_, JS::GetPromiseResult(promise));
        global_->unhandled.clear();
        JS_SetPendingException(cx_, reason);
        ok = false;
      }
    }
  } else {
    ok = ok && JS::Compile(cx_, compile, text) != nullptr;
  }
  {
    std::lock_guard lock(mu_);
    deadline_.reset();
  }
  int why = interrupt_.exchange(0);
  if (ok) return std::nullopt;

  Failure f;
  f.file = file;
  if (!JS_IsExceptionPending(cx_)) {
    if (why == 1) {
      f.message = fmt::format("SCR-200002 the script ran past its time limit ({} s, script_timeout) and was stopped",
                              static_cast<double>(limits_.timeout.count()) / 1000.0);
    } else if (why == 2) {
      f.message = "SCR-200003 the script was stopped: the server is shutting down";
    } else if (why == 3) {
      f.message = fmt::format("SCR-200005 the script ran out of memory (limit {} MiB, script_memory) and was stopped",
                              limits_.memory_bytes >> 20);
    } else {
      f.message = "SCR-200004 the script was terminated (uncatchable error)";
    }
    return f;
  }
  JS::ExceptionStack exception(cx_);
  if (!JS::StealPendingExceptionStack(cx_, &exception)) {
    JS_ClearPendingException(cx_);
    f.message = "SCR-200004 the script failed (its error could not be read)";
    return f;
  }
  JS::ErrorReportBuilder report(cx_);
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  if (report.init(cx_, exception, JS::ErrorReportBuilder::NoSideEffects)) {
    f.message = report.toStringResult().c_str() != nullptr ? report.toStringResult().c_str() : "";
    const JSErrorReport* r = report.report();
    if (r != nullptr && r->filename != nullptr && file == r->filename) {
      line = r->lineno;
      column = r->column + 1;  // JSErrorReport's column is 0-based
    }
  } else {
    JS_ClearPendingException(cx_);
    f.message = "uncaught exception";
  }
  if (exception.stack() != nullptr) {
    JS::RootedObject stack(cx_, exception.stack());
    std::uint32_t l = 0;
    std::uint32_t c = 0;
    if (UserFrame(cx_, stack, file, l, c)) {
      line = l;
      column = c;
    }
  }
  if (f.message.rfind("uncaught exception: ", 0) == 0) f.message = f.message.substr(20);
  if (f.message.rfind("Error: ", 0) == 0) f.message = f.message.substr(7);
  if (f.message == "out of memory") {  // the engine's own report, not a message that mentions it
    f.message = fmt::format("SCR-200005 the script ran out of memory (limit {} MiB, script_memory)",
                            limits_.memory_bytes >> 20);
  }
  if (line > 0) {
    SourcePosition p = code->map.Original(static_cast<int>(line), static_cast<int>(column));
    f.line = p.line;
    f.column = p.column;
  }
  JS_ClearPendingException(cx_);
  return f;
}

}  // namespace stagebridge::script
