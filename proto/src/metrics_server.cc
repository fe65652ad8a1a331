#include "vfo/api/metrics_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "vfo/api/access.h"
#include "vfo/base/log.h"

namespace vfo::api {

namespace {

const Logger kLog("metrics");

Status badListen(std::string_view text, std::string_view why) {
  return invalidArgument(
      fmt::format("metrics_listen: '{}' {}; metrics are served only on a loopback address "
                  "(127.0.0.1:PORT, [::1]:PORT) or a Unix socket (unix:///path)",
                  text, why));
}

StatusOr<uint16_t> parsePort(std::string_view text, std::string_view port) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535)
    return badListen(text, fmt::format("has no valid port ('{}' is not 0..65535)", port));
  return static_cast<uint16_t>(value);
}

int remainingMs(TimePoint deadline) {
  const TimePoint now = MonotonicClock::instance().now();
  if (now >= deadline) return 0;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 1, 60'000));
}

std::string_view reasonPhrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

}  // namespace

StatusOr<MetricsListenAddress> parseMetricsListen(std::string_view text) {
  MetricsListenAddress a;
  if (text.starts_with("unix:")) {
    std::string_view path = text.substr(5);
    if (path.starts_with("//")) path.remove_prefix(2);
    if (path.empty() || path.front() != '/')
      return badListen(text, "needs an absolute path (unix:///run/vfo/metrics.sock)");
    if (path.size() >= sizeof(sockaddr_un::sun_path))
      return badListen(text, fmt::format("is longer than a Unix socket path may be ({} bytes)",
                                         sizeof(sockaddr_un::sun_path) - 1));
    if (path.find('\0') != std::string_view::npos) return badListen(text, "contains a NUL byte");
    a.kind = MetricsListenAddress::Kind::kUnix;
    a.path = std::string(path);
    return a;
  }
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return badListen(text, "is not [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    in6_addr addr{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &addr) != 1)
      return badListen(text, "is not an IPv6 address");
    if (!IN6_IS_ADDR_LOOPBACK(&addr)) return badListen(text, "is not a loopback address");
    a.kind = MetricsListenAddress::Kind::kTcp6;
    a.host = "::1";
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return badListen(text, "has no port (HOST:PORT)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host == "localhost") host = "127.0.0.1";
    in_addr addr{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &addr) != 1)
      return badListen(text, host.find(':') != std::string_view::npos
                                 ? "is not HOST:PORT (write IPv6 as [::1]:PORT)"
                                 : "is not an IPv4 address, [IPv6] address or unix: path");
    if ((ntohl(addr.s_addr) >> 24) != 127) return badListen(text, "is not a loopback address");
    a.kind = MetricsListenAddress::Kind::kTcp4;
    a.host = std::string(host);
  }
  VFO_ASSIGN_OR_RETURN(a.port, parsePort(text, port));
  return a;
}

MetricsServer::MetricsServer(MetricsServerOptions options, SnapshotFn snapshot)
    : options_(std::move(options)), snapshot_(std::move(snapshot)) {}

MetricsServer::~MetricsServer() {
  stop();
}

Status MetricsServer::start() {
  if (thread_.joinable()) return failedPrecondition("metrics server already started");
  VFO_ASSIGN_OR_RETURN(address_, parseMetricsListen(options_.listen));
  if (options_.max_request_bytes < 64 || options_.max_request_bytes > (1u << 20))
    return invalidArgument(fmt::format("metrics.max_request_bytes: {} is out of range 64..1048576",
                                       options_.max_request_bytes));
  for (auto [name, d] : {std::pair{"request_timeout", options_.request_timeout},
                         std::pair{"write_timeout", options_.write_timeout}})
    if (d < std::chrono::milliseconds(1) || d > std::chrono::seconds(60))
      return invalidArgument(
          fmt::format("metrics.{}: {} ms is out of range 1 ms..60 s", name,
                      std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
  if (!snapshot_) return invalidArgument("metrics: no snapshot callback");

  int fd = -1;
  if (address_.kind == MetricsListenAddress::Kind::kUnix) {
    VFO_ASSIGN_OR_RETURN(
        fd, bindUnixSocket(address_.path, options_.socket_mode, std::nullopt, "metrics_listen"));
  } else {
    const bool v6 = address_.kind == MetricsListenAddress::Kind::kTcp6;
    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return errnoStatus(errno, "socket()");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    int rc;
    if (v6) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
      sockaddr_in6 sa{};
      sa.sin6_family = AF_INET6;
      sa.sin6_addr = in6addr_loopback;
      sa.sin6_port = htons(address_.port);
      rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    } else {
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      inet_pton(AF_INET, address_.host.c_str(), &sa.sin_addr);
      sa.sin_port = htons(address_.port);
      rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    }
    if (rc != 0) {
      const int e = errno;
      close(fd);
      return errnoStatus(e, "metrics_listen: bind " + options_.listen);
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    bound_port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                           : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  auto fail = [&](int e, std::string what) {
    close(fd);
    if (address_.kind == MetricsListenAddress::Kind::kUnix) unlink(address_.path.c_str());
    bound_port_ = 0;
    return errnoStatus(e, what);
  };
  if (listen(fd, 16) != 0) return fail(errno, "metrics_listen: listen " + options_.listen);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return fail(errno, "eventfd");
  listen_fd_ = fd;
  thread_ = std::thread([this] { loop(); });
  if (address_.kind == MetricsListenAddress::Kind::kUnix)
    kLog.info("", "serving Prometheus metrics on unix://{}", address_.path);
  else
    kLog.info("", "serving Prometheus metrics on http://{}:{}/metrics",
              address_.kind == MetricsListenAddress::Kind::kTcp6 ? "[::1]" : address_.host,
              bound_port_);
  return okStatus();
}

void MetricsServer::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    if (address_.kind == MetricsListenAddress::Kind::kUnix) unlink(address_.path.c_str());
  }
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
  bound_port_ = 0;
}

void MetricsServer::loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      kLog.error("", "poll failed: {}; metrics server stops", strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) continue;  // EAGAIN, ECONNABORTED, EMFILE: try again on the next wake-up
    serve(c);
    close(c);
  }
}

void MetricsServer::serve(int fd) {
  const TimePoint read_deadline = MonotonicClock::instance().now() + options_.request_timeout;
  std::string head;
  int status = 0;
  std::string body;
  bool head_only = false;

  // 1. Read the request head (up to the empty line).
  char buf[1024];
  for (;;) {
    if (head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos) break;
    if (head.size() >= options_.max_request_bytes) {
      status = 431;
      body = fmt::format("request head longer than {} bytes\n", options_.max_request_bytes);
      break;
    }
    const int wait = remainingMs(read_deadline);
    if (wait == 0) {
      status = 408;
      body = "request not received in time\n";
      break;
    }
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, wait) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;  // stopping
    if (!fds[0].revents) continue;
    const size_t want = std::min(sizeof(buf), options_.max_request_bytes - head.size());
    const ssize_t n = recv(fd, buf, want, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return;  // reset by the peer
    }
    if (n == 0) {
      if (head.empty()) return;  // connected and left
      status = 400;
      body = "incomplete request\n";
      break;
    }
    head.append(buf, static_cast<size_t>(n));
  }

  // 2. Route.
  if (status == 0) {
    const std::string line = head.substr(0, head.find_first_of("\r\n"));
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
    const std::string method = line.substr(0, sp1);
    const std::string target = sp2 == std::string::npos ? "" : line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string version = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
    const bool method_ok = !method.empty() && std::all_of(method.begin(), method.end(), [](char c) {
      return c >= 'A' && c <= 'Z';
    });
    if (!method_ok || target.empty() || target[0] != '/' || target.find(' ') != std::string::npos ||
        (version != "HTTP/1.0" && version != "HTTP/1.1")) {
      status = 400;
      body = "malformed request line (want: GET /metrics HTTP/1.1)\n";
    } else if (target.substr(0, target.find('?')) != "/metrics") {
      status = 404;
      body = "not found; metrics are at /metrics\n";
    } else if (method != "GET" && method != "HEAD") {
      status = 405;
      body = "only GET and HEAD are allowed\n";
    } else {
      head_only = method == "HEAD";
      auto snap = snapshot_();
      if (!snap.isOk()) {
        status = 503;
        body = snap.status().toString() + "\n";
      } else {
        status = 200;
        body = renderMetrics(*snap);
      }
    }
  }
  if (status == 200)
    ++scrapes_;
  else
    ++errors_;

  // 3. Respond (bounded in time).
  std::string out = fmt::format(
      "HTTP/1.0 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", status, reasonPhrase(status),
      status == 200 ? kMetricsContentType : "text/plain; charset=utf-8", body.size());
  if (status == 405) out += "Allow: GET, HEAD\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  const TimePoint write_deadline = MonotonicClock::instance().now() + options_.write_timeout;
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return;
    const int wait = remainingMs(write_deadline);
    if (wait == 0) return;  // the client does not read: give up
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, wait) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
  }
  // Half-close, then drain what the client still sends for a moment so the
  // close does not reset the connection before it read the response (a
  // refused oversized request leaves unread bytes).
  shutdown(fd, SHUT_WR);
  const TimePoint drain_deadline =
      MonotonicClock::instance().now() + std::chrono::milliseconds(200);
  for (size_t drained = 0; drained < (64u << 10);) {
    const int wait = remainingMs(drain_deadline);
    if (wait == 0) return;
    pollfd fds[1] = {{fd, POLLIN, 0}};
    if (poll(fds, 1, wait) <= 0) return;
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    drained += static_cast<size_t>(n);
  }
}

}  // namespace vfo::api
