// MetricsServer: a minimal HTTP/1.0 server for Prometheus scrapes.
//
//   GET /metrics (any query string)   200, text/plain; version=0.0.4, body = renderMetrics()
//   HEAD /metrics                     200, headers only
//   another path                      404
//   another method                    405 (Allow: GET, HEAD)
//   malformed request line            400
//   request head over max_request_bytes  431
//   head not complete within request_timeout  408
//   snapshot callback fails           503 with its message
// Every response carries Content-Length and "Connection: close"; the
// connection is closed after one response.
//
// Listens only where local users can reach it: a loopback TCP address
// (127.0.0.0/8 or ::1) or a Unix socket; anything else is refused with
// INVALID_ARGUMENT. Off by default: vfod starts it only when
// --metrics-listen (config metrics.listen) is set.
//
// Threads: one server thread accepts and answers connections one at a time;
// the snapshot callback runs on it. A slow client holds the thread for at
// most request_timeout (reading) + write_timeout (writing). start()/stop()
// from the owner's thread; stop() returns within about those timeouts.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "vfo/api/metrics.h"
#include "vfo/base/clock.h"
#include "vfo/base/status.h"

namespace vfo::api {

// A parsed --metrics-listen value.
struct MetricsListenAddress {
  enum class Kind {
    kTcp4,  // 127.x.y.z:port
    kTcp6,  // [::1]:port
    kUnix,  // unix:///absolute/path
  };
  Kind kind = Kind::kTcp4;  // address family
  std::string host;         // "127.0.0.1" / "::1" (TCP only)
  uint16_t port = 0;        // TCP port; 0 = pick a free one (tests)
  std::string path;         // Unix socket path
};

// Accepts "127.0.0.1:9464" (any 127.0.0.0/8 address), "localhost:9464"
// (= 127.0.0.1), "[::1]:9464", "unix:///run/vfo/metrics.sock". Anything
// else, including 0.0.0.0, :: and routable addresses, is INVALID_ARGUMENT
// naming metrics_listen and what to use instead.
StatusOr<MetricsListenAddress> parseMetricsListen(std::string_view text);

struct MetricsServerOptions {
  std::string listen = "127.0.0.1:9464";               // see parseMetricsListen
  size_t max_request_bytes = 8192;                     // request head limit (bytes)
  Duration request_timeout = std::chrono::seconds(2);  // to receive the request head
  Duration write_timeout = std::chrono::seconds(5);    // to send the response
  uint32_t socket_mode = 0660;                         // Unix socket file permission bits
};

class MetricsServer {
 public:
  // Called once per GET/HEAD /metrics on the server thread. An error status
  // becomes a 503 whose body is its message.
  using SnapshotFn = std::function<StatusOr<MetricsSnapshot>()>;

  MetricsServer(MetricsServerOptions options, SnapshotFn snapshot);
  ~MetricsServer();  // stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Validates the options, binds, listens and starts the thread.
  // INVALID_ARGUMENT for a bad or non-loopback address or limits;
  // FAILED_PRECONDITION when already started, the Unix socket path is held
  // by a live listener or is not a socket; errno-based codes when bind fails
  // (EADDRINUSE -> UNAVAILABLE).
  Status start();
  // Stops the thread and closes the socket (removing a Unix socket file).
  // Idempotent.
  void stop();

  // The bound TCP port (useful with port 0); 0 for Unix sockets or before start.
  uint16_t boundPort() const { return bound_port_; }
  // Scrapes answered with 200 / any other status (tests and self-metrics).
  uint64_t scrapes() const { return scrapes_; }
  uint64_t errors() const { return errors_; }

 private:
  void loop();
  void serve(int fd);

  const MetricsServerOptions options_;
  const SnapshotFn snapshot_;
  MetricsListenAddress address_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  uint16_t bound_port_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> scrapes_{0};
  std::atomic<uint64_t> errors_{0};
};

}  // namespace vfo::api
