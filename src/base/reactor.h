// reactor.h — the event loop a thread runs, seen from below: a client that
// must not block the thread (the staging writer's direct lane, talking to
// PostgreSQL) asks it to call back once a socket is ready.
//
// The HTTP server's I/O threads each run one (http/server.cc); code running on
// such a thread finds it with Reactor::Current(). Modules below http use it
// through this interface only, so none of them depends on Boost.Asio.
//
// Thread-safety: a Reactor is used on its own thread only.
#pragma once

#include <functional>

namespace stagebridge {

class Reactor {
 public:
  virtual ~Reactor() = default;

  // Calls `ready(true)` on this thread once `fd` is readable (`write`: writable),
  // `ready(false)` when the wait failed. The descriptor stays the caller's: it is
  // not closed, and not watched once `ready` ran. If the loop ends first (the
  // server stops), `ready` is destroyed without being called. With `spin` the
  // loop may poll instead of sleeping for a short while (the server's
  // busy_poll): an answer expected within microseconds then costs no thread
  // wake-up — worth a core's time only when nothing else waits for it.
  virtual void WaitFd(int fd, bool write, bool spin, std::function<void(bool ok)> ready) = 0;

  // The caller is about to close `fd` (none of its waits pending): the loop
  // stops watching it, and a later descriptor of the same number is new to it.
  virtual void Forget(int fd) = 0;

  // The reactor the calling thread runs, or null.
  static Reactor* Current() { return current_; }
  static void SetCurrent(Reactor* reactor) { current_ = reactor; }

 protected:
  Reactor() = default;

 private:
  static inline thread_local Reactor* current_ = nullptr;
};

}  // namespace stagebridge
