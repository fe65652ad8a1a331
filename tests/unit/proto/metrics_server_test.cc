// MetricsServer over real sockets (loopback TCP and a Unix socket in a temp
// directory): scrapes with a raw socket client and Python's urllib, every
// error answer, address refusal, bounded waits and stop().
#include "vfo/api/metrics_server.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"

namespace vfo::api {
namespace {

using namespace std::chrono_literals;

MetricsSnapshot snapshot() {
  MetricsSnapshot s;
  PortStatsInfo p;
  p.port_id = "vm1/net0";
  p.port = {{"guest_tx_packets", 42}};
  s.stats.ports = {p};
  s.failovers_by_reason = {{"member-down", 1}};
  return s;
}

// A connected client socket (TCP to 127.0.0.1:port, or a Unix path).
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  explicit Client(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::copy(path.begin(), path.end(), sa.sun_path);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close early (431)
      off += static_cast<size_t>(n);
    }
  }
  // Everything until EOF or `timeout`.
  std::string readAll(std::chrono::milliseconds timeout = 5000ms) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) break;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string statusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string bodyOf(const std::string& response) {
  const size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

std::string fetch(uint16_t port, const std::string& request) {
  Client c(port);
  if (!c.connected()) return "connect failed";
  c.send(request);
  return c.readAll();
}

MetricsServerOptions tcpOptions() {
  MetricsServerOptions o;
  o.listen = "127.0.0.1:0";
  return o;
}

TEST(MetricsServer, ServesGetMetricsOnLoopbackTcp) {
  MetricsServer srv(tcpOptions(), [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  ASSERT_TRUE(srv.start().isOk());
  ASSERT_NE(srv.boundPort(), 0);
  const std::string r =
      fetch(srv.boundPort(), "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(statusLine(r), "HTTP/1.0 200 OK");
  EXPECT_NE(r.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos)
      << r;
  const std::string want = renderMetrics(snapshot());
  EXPECT_NE(r.find(fmt::format("\r\nContent-Length: {}\r\n", want.size())), std::string::npos);
  EXPECT_EQ(bodyOf(r), want);
  EXPECT_EQ(srv.scrapes(), 1u);

  // A query string is ignored; a real HTTP client (Python's urllib) reads it too.
  auto py = testing::run(
      {"/usr/bin/python3", "-c",
       fmt::format("import urllib.request as u; r = u.urlopen('http://127.0.0.1:{}/metrics?x=1', "
                   "timeout=10); print(r.status, r.headers['Content-Type']); "
                   "print(r.read().decode(), end='')",
                   srv.boundPort())},
      30s);
  ASSERT_TRUE(py.ok()) << py.describe();
  EXPECT_EQ(py.out, "200 text/plain; version=0.0.4; charset=utf-8\n" + want);
  srv.stop();
  EXPECT_EQ(fetch(srv.boundPort(), "GET /metrics HTTP/1.0\r\n\r\n"), "connect failed");
}

TEST(MetricsServer, HeadAnswersHeadersOnly) {
  MetricsServer srv(tcpOptions(), [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  ASSERT_TRUE(srv.start().isOk());
  const std::string r = fetch(srv.boundPort(), "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(statusLine(r), "HTTP/1.0 200 OK");
  EXPECT_NE(r.find(fmt::format("Content-Length: {}\r\n", renderMetrics(snapshot()).size())),
            std::string::npos);
  EXPECT_EQ(bodyOf(r), "");
}

TEST(MetricsServer, AnswersBadRequestsWithoutCrashing) {
  MetricsServerOptions o = tcpOptions();
  o.max_request_bytes = 256;
  o.request_timeout = 300ms;
  std::atomic<bool> fail{false};
  MetricsServer srv(o, [&]() -> StatusOr<MetricsSnapshot> {
    if (fail) return unavailable("the LAG runtime is not running");
    return snapshot();
  });
  ASSERT_TRUE(srv.start().isOk());
  const uint16_t port = srv.boundPort();

  EXPECT_EQ(statusLine(fetch(port, "GET /foo HTTP/1.1\r\n\r\n")), "HTTP/1.0 404 Not Found");
  EXPECT_EQ(statusLine(fetch(port, "GET / HTTP/1.1\r\n\r\n")), "HTTP/1.0 404 Not Found");
  std::string r = fetch(port, "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_EQ(statusLine(r), "HTTP/1.0 405 Method Not Allowed");
  EXPECT_NE(r.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_EQ(statusLine(fetch(port, "garbage\r\n\r\n")), "HTTP/1.0 400 Bad Request");
  EXPECT_EQ(statusLine(fetch(port, "GET /metrics\r\n\r\n")), "HTTP/1.0 400 Bad Request");
  EXPECT_EQ(statusLine(fetch(port, "GET metrics HTTP/1.1\r\n\r\n")), "HTTP/1.0 400 Bad Request");
  EXPECT_EQ(statusLine(fetch(port, "GET /metrics HTTP/2.0\r\n\r\n")), "HTTP/1.0 400 Bad Request");
  EXPECT_EQ(statusLine(fetch(port, std::string("GET /met\0rics HTTP/1.1\r\n\r\n", 27))),
            "HTTP/1.0 404 Not Found");
  EXPECT_EQ(
      statusLine(fetch(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n")),
      "HTTP/1.0 431 Request Header Fields Too Large");
  {
    Client slow(port);  // sends half a request, then nothing
    slow.send("GET /metrics HTTP/1.1\r\n");
    const auto t = std::chrono::steady_clock::now();
    EXPECT_EQ(statusLine(slow.readAll()), "HTTP/1.0 408 Request Timeout");
    EXPECT_LT(std::chrono::steady_clock::now() - t, 3s);
  }
  {
    Client early(port);  // closes after half a request
    early.send("GET /metr");
  }
  {
    Client silent(port);  // connects and leaves
  }
  fail = true;
  r = fetch(port, "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(statusLine(r), "HTTP/1.0 503 Service Unavailable");
  EXPECT_EQ(bodyOf(r), "UNAVAILABLE: the LAG runtime is not running\n");
  fail = false;
  // Still serving after all of it.
  r = fetch(port, "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(statusLine(r), "HTTP/1.0 200 OK");
  EXPECT_EQ(bodyOf(r), renderMetrics(snapshot()));
  EXPECT_EQ(srv.scrapes(), 1u);
  EXPECT_GE(srv.errors(), 11u);
}

TEST(MetricsServer, StopIsPromptWhileAClientHoldsTheConnection) {
  MetricsServerOptions o = tcpOptions();
  o.request_timeout = 30s;
  MetricsServer srv(o, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  ASSERT_TRUE(srv.start().isOk());
  Client c(srv.boundPort());
  ASSERT_TRUE(c.connected());
  c.send("GET /metrics HTTP/1.1\r\n");  // never finished
  // The server thread accepts at once and waits in serve() for the rest of
  // the head (up to 30 s); stop() must interrupt that wait.
  const auto t = std::chrono::steady_clock::now();
  srv.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t, 2s);  // a bound, not a speed target
}

TEST(MetricsServer, ServesOnAUnixSocketAndRemovesItAtStop) {
  const std::string dir = testing::makeTempDir("vfo-metrics-");
  const std::string path = dir + "/metrics.sock";
  MetricsServerOptions o;
  o.listen = "unix://" + path;
  MetricsServer srv(o, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  ASSERT_TRUE(srv.start().isOk());
  struct stat st {};
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(srv.boundPort(), 0);
  {
    Client c(path);
    ASSERT_TRUE(c.connected());
    c.send("GET /metrics HTTP/1.0\r\n\r\n");
    const std::string r = c.readAll();
    EXPECT_EQ(statusLine(r), "HTTP/1.0 200 OK");
    EXPECT_EQ(bodyOf(r), renderMetrics(snapshot()));
  }
  // A second server on the same live socket is refused.
  MetricsServer second(o, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  Status s = second.start();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("is in use"), std::string::npos) << s.message();
  srv.stop();
  EXPECT_NE(lstat(path.c_str(), &st), 0);  // removed

  // A regular file in the way is refused and left alone.
  std::ofstream(path) << "not a socket";
  s = second.start();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("exists and is not a socket"), std::string::npos);
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  testing::removeTree(dir);
}

TEST(MetricsServer, AStaleUnixSocketFileIsReplaced) {
  const std::string dir = testing::makeTempDir("vfo-metrics-");
  const std::string path = dir + "/metrics.sock";
  {
    // Bind a socket and close it without unlinking: a crashed vfod's leftover.
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::copy(path.begin(), path.end(), sa.sun_path);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    close(fd);
  }
  MetricsServerOptions o;
  o.listen = "unix:" + path;
  MetricsServer srv(o, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  ASSERT_TRUE(srv.start().isOk());
  Client c(path);
  EXPECT_TRUE(c.connected());
  srv.stop();
  testing::removeTree(dir);
}

TEST(MetricsServer, NonLoopbackAndMalformedAddressesAreRefused) {
  for (const char* bad :
       {"0.0.0.0:9464", "10.1.2.3:9464", "198.18.0.1:9464", "[::]:9464", "[2001:db8::1]:9464",
        "[::ffff:127.0.0.1]:9464", "example.com:9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000",
        "127.0.0.1:94x", ":9464", "", "::1:9464", "unix:relative.sock", "unix://", "[::1]9464"}) {
    auto a = parseMetricsListen(bad);
    ASSERT_FALSE(a.isOk()) << bad;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(a.status().message().starts_with("metrics_listen: '" + std::string(bad) + "'"))
        << a.status().message();
    MetricsServerOptions o;
    o.listen = bad;
    MetricsServer srv(o, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
    EXPECT_EQ(srv.start().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(parseMetricsListen("0.0.0.0:9464").status().message(),
            "metrics_listen: '0.0.0.0:9464' is not a loopback address; metrics are served only "
            "on a loopback address (127.0.0.1:PORT, [::1]:PORT) or a Unix socket (unix:///path)");
  std::string too_long = "unix:///" + std::string(120, 'a');
  EXPECT_EQ(parseMetricsListen(too_long).status().code(), StatusCode::kInvalidArgument);

  auto a = parseMetricsListen("127.0.0.1:9464");
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->kind, MetricsListenAddress::Kind::kTcp4);
  EXPECT_EQ(a->port, 9464);
  a = parseMetricsListen("localhost:1");
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->host, "127.0.0.1");
  a = parseMetricsListen("127.3.4.5:0");
  ASSERT_TRUE(a.isOk());
  a = parseMetricsListen("[::1]:9464");
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->kind, MetricsListenAddress::Kind::kTcp6);
  a = parseMetricsListen("unix:///run/vfo/metrics.sock");
  ASSERT_TRUE(a.isOk());
  EXPECT_EQ(a->path, "/run/vfo/metrics.sock");
}

TEST(MetricsServer, OptionsAndABusyPortAreRefusedClearly) {
  MetricsServerOptions o = tcpOptions();
  o.max_request_bytes = 10;
  MetricsServer small(o, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  Status s = small.start();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("metrics.max_request_bytes"), std::string::npos);

  MetricsServer first(tcpOptions(), [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  ASSERT_TRUE(first.start().isOk());
  EXPECT_EQ(first.start().code(), StatusCode::kFailedPrecondition);
  MetricsServerOptions same;
  same.listen = fmt::format("127.0.0.1:{}", first.boundPort());
  MetricsServer second(same, [] { return StatusOr<MetricsSnapshot>(snapshot()); });
  s = second.start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.toString();
  EXPECT_NE(s.message().find("Address already in use"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace vfo::api
