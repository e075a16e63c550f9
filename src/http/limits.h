// limits.h — every limit the HTTP front door enforces, in one place.
#pragma once

#include <chrono>
#include <cstddef>

namespace stagebridge::http {

inline constexpr std::size_t kMaxHeaderBytes = std::size_t{16} * 1024;  // request line + headers
inline constexpr std::size_t kInitialReadBuffer = 4096;                 // per connection, grown for larger requests
inline constexpr std::size_t kDefaultMaxBodyBytes = 32u << 20;          // larger bodies get 413
inline constexpr std::chrono::seconds kReadTimeout{30};                 // per request, headers and body
inline constexpr std::chrono::seconds kWriteTimeout{30};
inline constexpr std::chrono::seconds kIdleTimeout{60};             // keep-alive connection waiting for a request
inline constexpr std::chrono::seconds kShutdownGrace{10};           // in-flight requests get this long on SIGTERM
inline constexpr std::chrono::microseconds kDefaultBusyPoll{1000};  // ServerOptions::busy_poll
inline constexpr std::chrono::seconds kDrainTimeout{2};             // discarding an oversized body after a 413
// A TLS client gets this long for its handshake; a stalled one is dropped and
// holds no thread meanwhile (the handshake is asynchronous).
inline constexpr std::chrono::seconds kHandshakeTimeout{10};
inline constexpr std::chrono::seconds kTlsShutdownTimeout{2};  // close_notify at the end of a TLS connection
inline constexpr std::size_t kMaxDrainBytes = 8u << 20;
// Request bodies held in memory at once, all connections together, by default;
// a request whose body would go beyond gets 503 (see ServerOptions).
inline constexpr std::size_t kDefaultMaxInflightBodyBytes = std::size_t{1} << 30;
inline constexpr std::chrono::milliseconds kAcceptRetryDelay{50};  // after accept() failed (e.g. EMFILE)
// File descriptors kept out of reach of client connections when their limit is
// derived from RLIMIT_NOFILE: database connections, workflow runs, logs.
inline constexpr int kFdReserve = 128;

}  // namespace stagebridge::http
