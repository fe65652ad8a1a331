// Prometheus exposition cost: renderMetrics() for 1, 64 and 512 ports with
// vfod's counter set (27 per-queue counters on 2 queue pairs, 4 event
// counters, 6 per member on 2 members), and a whole scrape (connect, GET,
// read) through MetricsServer on loopback TCP.
// Baseline: formatting the same number of "name value" lines with no labels,
// escaping or families. Reported: time per render/scrape and bytes.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vfo/api/metrics_server.h"
#include "vfo/base/log.h"

namespace vfo::api {
namespace {

const char* kQueueCounters[] = {"guest_tx_packets",
                                "guest_tx_bytes",
                                "guest_rx_packets",
                                "guest_rx_bytes",
                                "drop_spoofed_source",
                                "drop_guest_tagged",
                                "drop_runt",
                                "drop_no_live_member",
                                "drop_uplink_tx_full",
                                "drop_tx_prepare",
                                "drop_port_inactive",
                                "drop_guest_ring_full",
                                "drop_guest_not_ready",
                                "drop_standby_rx",
                                "drop_vlan",
                                "drop_not_for_guest",
                                "drop_tag_failed",
                                "drop_learner_ring_full",
                                "drop_announce",
                                "learner_copies",
                                "announce_sent",
                                "tx_retries",
                                "rx_bursts",
                                "tx_bursts",
                                "rx_empty_polls",
                                "tx_full_polls",
                                "guest_kicks"};
const char* kEventCounters[] = {"vhost_connects", "vhost_disconnects", "vhost_refused",
                                "active_member_changes"};
const char* kMemberCounters[] = {"tx_packets", "tx_bytes",     "rx_packets",
                                 "rx_bytes",   "drop_tx_full", "drop_standby_rx"};

MetricsSnapshot makeSnapshot(int ports) {
  MetricsSnapshot s;
  uint64_t v = 1;
  for (int p = 0; p < ports; ++p) {
    PortStatsInfo st;
    st.port_id = fmt::format("vm{}/net0", p);
    for (uint32_t q = 0; q < 2; ++q)
      for (const char* c : kQueueCounters) {
        st.queues[q][c] = v;
        st.port[c] += v++;
      }
    for (const char* c : kEventCounters) st.port[c] = v++;
    for (const char* m : {"pf0", "pf1"})
      for (const char* c : kMemberCounters) st.members[m][c] = v++;
    s.stats.ports.push_back(std::move(st));
    PortInfo info;
    info.spec.port_id = s.stats.ports.back().port_id;
    info.state = PortState::kActive;
    info.vfs = {{"pf0", "pf0/vf0", "", true}, {"pf1", "pf1/vf0", "", false}};
    s.ports.push_back(std::move(info));
  }
  LagInfo lag;
  lag.active_member = "pf0";
  for (const char* m : {"pf0", "pf1"}) {
    MemberInfo mi;
    mi.name = m;
    mi.link = LinkState::kUp;
    mi.counters = {{"carrier_changes", 3}, {"tx_packets", 5}};
    lag.members.push_back(mi);
  }
  lag.counters = {{"failovers", 2}, {"failbacks", 1}, {"port_moves", 9}};
  s.lag = lag;
  s.failovers_by_reason = {{"member-down", 2}, {"member-up", 1}};
  return s;
}

size_t sampleCount(const std::string& text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i)
    if ((i == 0 || text[i - 1] == '\n') && text[i] != '#') ++n;
  return n;
}

void BM_RenderMetrics(benchmark::State& state) {
  const MetricsSnapshot s = makeSnapshot(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = renderMetrics(s);
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["samples"] = static_cast<double>(sampleCount(renderMetrics(s)));
}
BENCHMARK(BM_RenderMetrics)->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond);

// Baseline: the same number of plain "name value" lines.
void BM_PlainLinesBaseline(benchmark::State& state) {
  const size_t lines = sampleCount(renderMetrics(makeSnapshot(static_cast<int>(state.range(0)))));
  for (auto _ : state) {
    std::string out;
    for (size_t i = 0; i < lines; ++i) out += fmt::format("vfo_counter_{} {}\n", i % 64, i);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_PlainLinesBaseline)->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond);

void BM_ScrapeOverLoopback(benchmark::State& state) {
  setLogLevel(LogLevel::kWarn);
  const MetricsSnapshot s = makeSnapshot(static_cast<int>(state.range(0)));
  MetricsServerOptions o;
  o.listen = "127.0.0.1:0";
  MetricsServer srv(o, [&]() -> StatusOr<MetricsSnapshot> { return s; });
  if (!srv.start().isOk()) {
    state.SkipWithError("cannot start the metrics server");
    return;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(srv.boundPort());
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  size_t bytes = 0;
  for (auto _ : state) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      close(fd);
      state.SkipWithError("scrape failed");
      return;
    }
    char buf[65536];
    bytes = 0;
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) bytes += static_cast<size_t>(n);
    close(fd);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ScrapeOverLoopback)->Arg(1)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace vfo::api
