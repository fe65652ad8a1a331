// vfo_bench_failover: N cable cuts of pf0 on the lab, each followed by a
// restore and the failback, with vfod (software VFs on both host ports,
// active-backup, primary pf0) and a testpmd icmpecho guest. Per cut:
//   - carrier notification -> datapath switched, -> first announce frame
//     (vfod's own failover record, monotonic clock);
//   - pings lost and the longest gap between replies while the remote host
//     pings the guest every 1 ms (ping -D timestamps);
//   - time from calling `vfo-lab cut` until the ToR's table shows the guest
//     MAC on tor-p1 (includes the tool itself, ~100 ms).
// Prints p50 / p99 / max. Usage: vfo_bench_failover [--cuts N] (default 100).
//
// With --announce-ports [N] (default 256): the announce fan-out of one cut
// that moves N ports at once, each with learned addresses (default 3 IPv4 +
// 1 IPv6), on shared uplinks; see runAnnounceBench. --cuts defaults to 5
// there; --ipv4/--ipv6 set the addresses per port, --announce-rate the
// LAG's announce rate limit (frames/s, through the desired state).
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "announce_capture.h"
#include "vfo/api/state_store.h"
#include "vfo/api/types.h"
#include "vfo/base/mac_address.h"
#include "vfo/lag/announce_scheduler.h"
#include "vfo/testing/guest.h"
#include "vfo/testing/lab.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace {

using namespace std::chrono_literals;
using namespace vfo::testing;

constexpr const char* kGuestMac = "52:54:00:5c:0b:01";
constexpr const char* kGuestIp = "198.18.0.10";

struct Cut {
  double switched_us = -1;     // notification -> switched
  double first_frame_us = -1;  // notification -> first announce frame
  int lost = 0;                // pings lost at 1 ms
  double gap_ms = 0;           // longest gap between replies
  double tor_ms = -1;          // cut called -> ToR shows the guest on tor-p1
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
  return v[i];
}

std::string stats(const std::string& config) {
  return run({binaryDir() + "/vhost-backend/vfod", "--stats", "--config", config}, 10s).out;
}

double longestGap(const std::string& log) {
  static const std::regex line(R"(\[(\d+\.\d+)\] \d+ bytes from)");
  double prev = -1, gap = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it) {
    const double t = std::stod((*it)[1]);
    if (prev >= 0) gap = std::max(gap, (t - prev) * 1000.0);
    prev = t;
  }
  return gap;
}

int runBench(int cuts) {
  Lab lab;
  const std::string dir = makeTempDir("vfo-bench-failover-");
  const std::string prefix = uniqueName("vfbf");
  const std::string config = dir + "/vfod.textproto";
  {
    std::ofstream f(config);
    f << "eal { main_lcore: 0 worker_lcores: 1 file_prefix: \"" << prefix << "\" }\n"
      << "memory { hugepages: HUGEPAGES_NEVER size_mb: 256 mbufs: 8192 }\n"
      << "sockets { dir: \"" << dir << "/sock\" }\nstate_dir: \"" << dir << "/state\"\n"
      << "api { listen: \"unix://" << dir << "/api.sock\" }\nlibvirt { uri: \"none\" }\n"
      << "datapath { idle_backoff_max { nanos: 100000 } }\n"
      << "lag { primary: \"pf0\" vf_provider: VF_PROVIDER_SOFTWARE\n"
      << "  members { name: \"pf0\" netdev: \"" << lab.pf(0) << "\" }\n"
      << "  members { name: \"pf1\" netdev: \"" << lab.pf(1) << "\" } }\n"
      << "ports { id: \"vm1\" mac: \"" << kGuestMac << "\" }\n";
  }
  std::vector<Cut> results;
  {
    Process vfod({binaryDir() + "/vhost-backend/vfod", "--config", config}, dir + "/vfod.log");
    if (!waitFor([&] { return vfod.log().find("vfod running:") != std::string::npos; }, 30s)) {
      fmt::print(stderr, "vfod did not start:\n{}\n", vfod.log());
      return 1;
    }
    TestpmdOptions o;
    o.socket = dir + "/sock/vm1.sock";
    o.mac = kGuestMac;
    o.lcores = "0@0,1@1";  // forwarding on CPU 0; vfod's worker is on CPU 1
    o.main_lcore = 1;
    o.work_dir = dir;
    TestpmdGuest guest(o);
    if (!guest.start().isOk() || !guest.waitReady(30s).isOk() ||
        !waitFor([&] { return lab.ping(lab.remoteNs(), kGuestIp, 1).allReceived(); }, 30s)) {
      fmt::print(stderr, "the guest does not answer\n{}\n", vfod.log());
      return 1;
    }
    const std::regex rec(
        R"(failover (\d+) port vm1 from pf0 to pf1 reason member-down switched_us (-?\d+) first_frame_us (-?\d+))");
    long last_seq = 0;
    for (int i = 0; i < cuts; ++i) {
      Cut c;
      Process ping({"ip", "netns", "exec", lab.remoteNs(), "ping", "-n", "-D", "-i", "0.001", "-c",
                    "700", "-W", "1", kGuestIp},
                   dir + "/ping.log");
      waitFor([&] { return ping.log().find("icmp_seq=100 ") != std::string::npos; }, 10s, 2ms);
      const auto t0 = std::chrono::steady_clock::now();
      lab.cut(0);
      if (waitFor([&] { return lab.fdbPortOf(kGuestMac) == lab.torPort(1); }, 5s, 1ms))
        c.tor_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count();
      ping.waitExit(30s);
      const PingResult pr = parsePing(RunResult{0, false, ping.log(), ""});
      c.lost = pr.transmitted - pr.received;
      c.gap_ms = longestGap(ping.log());
      const std::string st = stats(config);
      for (auto it = std::sregex_iterator(st.begin(), st.end(), rec); it != std::sregex_iterator();
           ++it) {
        if (std::stol((*it)[1]) <= last_seq) continue;
        last_seq = std::stol((*it)[1]);
        c.switched_us = std::stod((*it)[2]);
        c.first_frame_us = std::stod((*it)[3]);
      }
      results.push_back(c);
      lab.restore(0);
      waitFor([&] { return lab.fdbPortOf(kGuestMac) == lab.torPort(0); }, 10s, 5ms);
      fmt::print(
          "cut {:3}: switched +{:.0f} us, first frame +{:.0f} us, {} lost, gap {:.1f} ms, "
          "ToR {:.1f} ms\n",
          i + 1, c.switched_us, c.first_frame_us, c.lost, c.gap_ms, c.tor_ms);
    }
    guest.stop();
    vfod.stop(10s);
  }
  removeTree(dir);
  removeTree("/var/run/dpdk/" + prefix);

  auto column = [&](auto get) {
    std::vector<double> v;
    for (const auto& c : results) v.push_back(get(c));
    return v;
  };
  auto row = [&](const char* what, const std::vector<double>& v, const char* unit) {
    fmt::print("{:<52} p50 {:8.1f}  p99 {:8.1f}  max {:8.1f} {}\n", what, percentile(v, 0.5),
               percentile(v, 0.99), v.empty() ? 0 : *std::max_element(v.begin(), v.end()), unit);
  };
  fmt::print("\n{} cuts of pf0 (active-backup, software VFs, testpmd guest)\n", results.size());
  row("carrier notification -> switched", column([](const Cut& c) { return c.switched_us; }), "us");
  row("carrier notification -> first announce frame",
      column([](const Cut& c) { return c.first_frame_us; }), "us");
  row("pings lost at 1 ms", column([](const Cut& c) { return double(c.lost); }), "");
  row("longest gap between replies", column([](const Cut& c) { return c.gap_ms; }), "ms");
  row("vfo-lab cut called -> ToR shows the MAC on tor-p1",
      column([](const Cut& c) { return c.tor_ms; }), "ms");
  return 0;
}

// ---- announce fan-out (--announce-ports) -----------------------------------

struct AnnounceOptions {
  int ports = 256;    // API ports restored from the desired state
  int ipv4 = 3;       // learned IPv4 addresses per port (one GARP each)
  int ipv6 = 1;       // learned IPv6 addresses per port (one NA each)
  int cuts = 5;       // cut/restore cycles in one vfod
  uint32_t rate = 0;  // announce_rate_limit through the desired state; 0 = vfod's default
};

std::string portId(int p) {
  return fmt::format("p{:03}", p);
}
std::string portMac(int p) {
  return fmt::format("52:54:00:7a:{:02x}:{:02x}", p >> 8, p & 0xff);
}
std::string portIpv4(int p, int k) {  // 198.18.0.0/15, up to 512 ports
  return fmt::format("198.{}.{}.{}", 18 + (p >> 8), p & 0xff, 10 + k);
}
std::string portIpv6(int p, int k) {
  return fmt::format("2001:db8:7a:{:x}::{:x}", p, 0x10 + k);
}

// The API's desired state as vfod would have saved it: `o.ports` ports with
// their learned addresses (and the rate limit when one is asked for).
std::string desiredState(const AnnounceOptions& o, const std::string& sock_dir) {
  vfo::api::DesiredState st;
  for (int p = 0; p < o.ports; ++p) {
    vfo::api::PortSpec spec;
    spec.port_id = portId(p);
    spec.socket_path = sock_dir + "/" + spec.port_id + ".sock";
    spec.mac = *vfo::MacAddress::parse(portMac(p));
    st.ports.push_back(spec);
    auto& learned = st.learned[spec.port_id];
    for (int k = 0; k < o.ipv4; ++k) learned.push_back({spec.mac, 0, portIpv4(p, k), {}});
    for (int k = 0; k < o.ipv6; ++k) learned.push_back({spec.mac, 0, portIpv6(p, k), {}});
  }
  if (o.rate != 0) {
    vfo::api::LagSettings lag;
    lag.primary = "pf0";
    lag.announce_rate_limit = o.rate;
    st.lag = lag;
  }
  return vfo::api::StateStore::encode(st);
}

// "+42 us" / "+1.2 ms" -> microseconds; "-" -> -1.
double offsetUs(const std::string& s) {
  if (s == "-") return -1;
  const size_t sp = s.find(' ');
  const double v = std::stod(s.substr(1, sp - 1));
  return s.substr(sp + 1) == "ms" ? v * 1000.0 : v;
}

// One port's failover log line.
struct PortRecord {
  double switched_us = -1;     // notification -> datapath switched
  double first_us = -1;        // -> first announce frame handed to the relay
  double first_burst_us = -1;  // -> last frame of the first burst handed to the relay
  double last_us = -1;         // -> last frame of the last burst
  int frames = 0;              // frames announced (all bursts)
};

std::vector<PortRecord> failoverRecords(const std::string& log, const std::string& from,
                                        const std::string& to) {
  static const std::regex line(
      R"(\[port \S+\] failover (\S+) -> (\S+) \(\S+\): cause seen, decided [^,]+, switched ([^,]+), first frame ([^,]+), first burst ([^,]+), last frame ([^,]+), (\d+) frames)");
  std::vector<PortRecord> out;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it) {
    if ((*it)[1] != from || (*it)[2] != to) continue;
    out.push_back(PortRecord{offsetUs((*it)[3]), offsetUs((*it)[4]), offsetUs((*it)[5]),
                             offsetUs((*it)[6]), std::stoi((*it)[7])});
  }
  return out;
}

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Counters of `vfod --stats`: "announce <c> <v>" as "announce <c>", per-port
// and per-worker counters summed as "port <c>" / "worker <c>", and the
// number of "learned port" lines as "learned".
std::map<std::string, uint64_t> statCounters(const std::string& text) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream l(line);
    std::vector<std::string> w;
    for (std::string x; l >> x;) w.push_back(x);
    if (w.size() == 3 && w[0] == "announce") out["announce " + w[1]] += std::stoull(w[2]);
    if (w.size() == 4 && w[0] == "port" && std::isdigit(uint8_t(w[3][0])))
      out["port " + w[2]] += std::stoull(w[3]);
    if (w.size() == 4 && w[0] == "worker") out["worker " + w[2]] += std::stoull(w[3]);
    if (w.size() >= 2 && w[0] == "learned" && w[1] == "port") ++out["learned"];
  }
  return out;
}

// What the ToR saw of one cut, times relative to the carrier notification.
struct WireFigures {
  size_t frames = 0;           // announce frames of our ports on tor-p1
  size_t rarp = 0;             // of which RARP
  size_t garp = 0;             // of which gratuitous ARP
  size_t na = 0;               // of which unsolicited NA
  size_t distinct = 0;         // distinct (MAC, kind, address): the first burst
  double first_us = -1;        // first frame
  double first_burst_us = -1;  // last first occurrence of a distinct frame
  double last_us = -1;         // last frame (every burst)
  double excess = 0;           // max over windows of frames - rate * length
  double mean_rate = 0;        // frames / (last - first), per second
  double bucket_us = -1;       // first occurrence of distinct frame #bucket (unthrottled part)
  size_t early = 0;            // frames before the notification (should be none)
};

WireFigures wireFigures(std::vector<vfo::bench::WireFrame> f, std::chrono::nanoseconds t0,
                        double rate, size_t bucket) {
  WireFigures w;
  if (f.empty()) return w;
  std::sort(f.begin(), f.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  auto us = [&](std::chrono::nanoseconds t) { return double((t - t0).count()) / 1000.0; };
  std::set<std::string> seen;
  std::chrono::nanoseconds burst_end = f.front().at;
  for (const auto& x : f) {
    ++w.frames;
    (x.kind == vfo::bench::WireKind::kRarp   ? w.rarp
     : x.kind == vfo::bench::WireKind::kGarp ? w.garp
                                             : w.na)++;
    std::string key(reinterpret_cast<const char*>(x.mac.data()), 6);
    key += char(x.kind);
    key.append(reinterpret_cast<const char*>(x.address.data()), 16);
    if (seen.insert(key).second) {
      burst_end = x.at;
      if (seen.size() == bucket) w.bucket_us = us(x.at);
    }
    if (x.at < t0) ++w.early;
  }
  w.distinct = seen.size();
  w.first_us = us(f.front().at);
  w.first_burst_us = us(burst_end);
  w.last_us = us(f.back().at);
  const double span_s = double((f.back().at - f.front().at).count()) / 1e9;
  if (span_s > 0) w.mean_rate = double(w.frames) / span_s;
  // Token bucket check: frames in [t_i, t_j] = j - i + 1 may exceed
  // rate * (t_j - t_i) by at most the bucket depth. O(n): keep the best
  // (rate * t_i - i) seen so far.
  if (rate > 0) {
    double best = -1e300;
    for (size_t j = 0; j < f.size(); ++j) {
      const double t = double((f[j].at - f.front().at).count()) / 1e9;
      best = std::max(best, rate * t - double(j));
      w.excess = std::max(w.excess, double(j + 1) - rate * t + best);
    }
  }
  return w;
}

struct Row {
  std::string what;
  std::vector<double> v;
  std::string unit;
};

void printRows(const std::vector<Row>& rows) {
  for (const auto& r : rows)
    if (!r.v.empty())
      fmt::print("{:<62} p50 {:8.1f}  p99 {:8.1f}  max {:8.1f} {}\n", r.what, percentile(r.v, 0.5),
                 percentile(r.v, 0.99), r.v.empty() ? 0 : *std::max_element(r.v.begin(), r.v.end()),
                 r.unit);
}

// Announce fan-out: vfod with shared uplinks on the lab's two host ports
// and `o.ports` API ports restored, with their learned addresses, from a
// desired-state file written before vfod starts (no guests). Each cut of
// pf0 moves every port to pf1; the figures come from vfod's failover log
// lines and counters and from a packet socket on the ToR's tor-p1.
int runAnnounceBench(const AnnounceOptions& o) {
  const vfo::lag::AnnounceConfig defaults;
  const double rate = o.rate != 0 ? o.rate : defaults.max_frames_per_second;
  const uint32_t bucket = defaults.burst_frames;  // not settable through the API
  const int per_burst = 1 + o.ipv4 + o.ipv6;      // RARP for the guest MAC + one per address
  const size_t expected_burst = size_t(o.ports) * size_t(per_burst);
  const size_t expected_total = expected_burst * defaults.announce_count;
  // The kernel turns RX timestamping on through deferred work the first
  // time a socket asks for it; until then a packet socket stamps frames
  // when they are read. Asking now, long before the first cut, keeps every
  // capture on stamps taken at reception.
  const int stamp_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  if (stamp_fd < 0 || ::setsockopt(stamp_fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
    fmt::print(stderr, "SO_TIMESTAMPNS: {} (wire times may be late)\n", std::strerror(errno));
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd >= 0) ::close(fd);
    }
  } stamp_closer{stamp_fd};

  Lab lab;
  const std::string dir = makeTempDir("vfo-bench-announce-");
  const std::string prefix = uniqueName("vfba");
  const std::string config = dir + "/vfod.textproto";
  {
    std::ofstream f(config);
    f << "eal { main_lcore: 0 worker_lcores: 1 file_prefix: \"" << prefix << "\" }\n"
      << "memory { hugepages: HUGEPAGES_NEVER size_mb: 1024 mbufs: 65536 }\n"
      << "sockets { dir: \"" << dir << "/sock\" }\nstate_dir: \"" << dir << "/state\"\n"
      << "api { listen: \"unix://" << dir << "/api.sock\" }\nlibvirt { uri: \"none\" }\n"
      << "datapath { idle_backoff_max { nanos: 100000 } }\n"
      << "lag { primary: \"pf0\" vf_provider: VF_PROVIDER_SHARED\n"
      << "  members { name: \"pf0\" netdev: \"" << lab.pf(0) << "\" }\n"
      << "  members { name: \"pf1\" netdev: \"" << lab.pf(1) << "\" } }\n";
  }
  std::filesystem::create_directories(dir + "/state");
  {
    std::ofstream f(dir + "/state/api-state.pb", std::ios::binary);
    f << desiredState(o, dir + "/sock");
  }
  auto cleanup = [&] {
    removeTree(dir);
    removeTree("/var/run/dpdk/" + prefix);
  };

  const std::string bucket_row =
      fmt::format("wire: notification -> first-burst frame #{} (unthrottled)", bucket);
  std::vector<Row> rows = {
      {"vfod: notification -> port switched (all ports, all cuts)", {}, "us"},
      {"vfod: notification -> port's first frame to the relay", {}, "us"},
      {"vfod: notification -> port's first burst to the relay", {}, "ms"},
      {"vfod: notification -> LAST first-burst frame, all ports", {}, "ms"},
      {"wire: notification -> first announce frame on tor-p1", {}, "us"},
      {"wire: notification -> LAST first-burst frame on tor-p1", {}, "ms"},
      {"wire: notification -> last frame of all bursts", {}, "ms"},
      {bucket_row, {}, "ms"},
      {"wire: frames above the rate in any window (bucket depth)", {}, ""},
  };
  // The relay's busy-cycle counter is in TSC cycles; on this kind of
  // machine (constant_tsc) the TSC runs at the nominal "cpu MHz".
  double tsc_mhz = 0;
  {
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; tsc_mhz == 0 && std::getline(cpuinfo, line);)
      if (line.rfind("cpu MHz", 0) == 0) tsc_mhz = std::stod(line.substr(line.find(':') + 1));
  }
  if (tsc_mhz <= 0) tsc_mhz = 1000;
  int rc = 0;
  {
    Process vfod({binaryDir() + "/vhost-backend/vfod", "--config", config}, dir + "/vfod.log");
    const auto started = std::chrono::steady_clock::now();
    if (!waitFor(
            [&] {
              return !vfod.running() || vfod.log().find("vfod running:") != std::string::npos;
            },
            300s) ||
        !vfod.running()) {
      const std::string log = vfod.log();
      fmt::print(stderr, "vfod did not start:\n{}\n",
                 log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
      vfod.stop(30s);
      cleanup();
      return 1;
    }
    const double start_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto counters = statCounters(stats(config));
    const std::string start_log = vfod.log();
    fmt::print(
        "vfod (shared uplinks) restored {} API ports from the desired state in {:.1f} s; "
        "{} learned addresses in its learner (want {}); {} restore errors in the log\n",
        o.ports, start_s, counters["learned"], o.ports * (o.ipv4 + o.ipv6),
        countOf(start_log, "restore: "));
    if (counters["learned"] != uint64_t(o.ports * (o.ipv4 + o.ipv6))) {
      fmt::print(stderr, "the learned addresses were not restored:\n{}\n",
                 start_log.substr(start_log.size() > 4000 ? start_log.size() - 4000 : 0));
      rc = 1;
    }
    std::string loadavg;
    std::getline(std::ifstream("/proc/loadavg"), loadavg);
    fmt::print("load average before the cuts: {} (figures below include whatever else runs)\n",
               loadavg);
    fmt::print(
        "announce: {} frames per port and burst (RARP + {} GARP + {} NA), {} bursts {} ms "
        "apart, rate limit {:.0f} frames/s, bucket {} frames\n\n",
        per_burst, o.ipv4, o.ipv6, defaults.announce_count,
        std::chrono::duration_cast<std::chrono::milliseconds>(defaults.announce_interval).count(),
        rate, bucket);

    for (int c = 0; c < o.cuts && rc == 0; ++c) {
      // The relay has sent everything handed to it (the previous failback's
      // announce included): its counter stands still.
      uint64_t sent = ~0ull;
      waitFor(
          [&] {
            const uint64_t now = statCounters(stats(config))["port announce_sent"];
            const bool still = now == sent;
            sent = now;
            return still;
          },
          10s, 100ms);
      // And the token bucket is full again (it refills at the rate).
      const auto refilled = std::chrono::steady_clock::now() +
                            std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::duration<double>(double(bucket) / rate));
      waitFor([&] { return std::chrono::steady_clock::now() >= refilled; }, 10s, 5ms);
      const size_t log_at = vfod.log().size();
      vfo::bench::AnnounceCapture cap(lab.torNs(), lab.torPort(1), lab.pf(0),
                                      {0x52, 0x54, 0x00, 0x7a});
      if (vfo::Status s = cap.start(); !s.isOk()) {
        fmt::print(stderr, "capture: {}\n", s.toString());
        rc = 1;
        break;
      }
      const auto before = statCounters(stats(config));
      lab.cut(0);
      std::vector<PortRecord> recs;
      waitFor(
          [&] {
            recs = failoverRecords(vfod.log().substr(log_at), "pf0", "pf1");
            return recs.size() >= size_t(o.ports);
          },
          30s, 20ms);
      waitFor([&] { return cap.frameCount() >= expected_total; }, 3s, 5ms);
      cap.stop();
      const auto after = statCounters(stats(config));
      auto delta = [&](const std::string& k) {
        auto a = after.find(k);
        auto b = before.find(k);
        return (a == after.end() ? 0 : a->second) - (b == before.end() ? 0 : b->second);
      };
      const auto t0 = cap.notifiedAt();
      WireFigures w;
      if (t0) w = wireFigures(cap.frames(), *t0, rate, bucket);

      double last_burst = 0, last_switched = 0;
      int frames = 0;
      for (const auto& r : recs) {
        rows[0].v.push_back(r.switched_us);
        rows[1].v.push_back(r.first_us);
        rows[2].v.push_back(r.first_burst_us / 1000.0);
        last_burst = std::max(last_burst, r.first_burst_us / 1000.0);
        last_switched = std::max(last_switched, r.switched_us / 1000.0);
        frames += r.frames;
      }
      rows[3].v.push_back(last_burst);
      if (t0 && w.frames > 0) {
        rows[4].v.push_back(w.first_us);
        rows[5].v.push_back(w.first_burst_us / 1000.0);
        rows[6].v.push_back(w.last_us / 1000.0);
        if (w.bucket_us >= 0 && bucket < expected_burst) rows[7].v.push_back(w.bucket_us / 1000.0);
        rows[8].v.push_back(w.excess);
      }
      fmt::print(
          "cut {}: vfod: {} records, every port switched by +{:.2f} ms, last first-burst frame "
          "+{:.2f} ms, {} frames ({} expected; relay sent {}, dropped {}; send failures {}, "
          "deferred by the rate limit {}, rate-limited ticks {}, waited for the relay's ring "
          "{})\n",
          c + 1, recs.size(), last_switched, last_burst, frames, expected_total,
          delta("port announce_sent"), delta("port drop_announce"), delta("announce send_failures"),
          delta("announce frames_deferred"), delta("announce rate_limited_ticks"),
          delta("announce ring_backlog_waits"));
      if (!t0) {
        fmt::print("  wire: the carrier notification was not seen\n");
      } else {
        fmt::print(
            "  wire: {} frames ({} RARP, {} GARP, {} NA; {} distinct of {}; {} before the "
            "notification; socket drops {}), first +{:.0f} us, first-burst frame #{} {}, "
            "LAST first-burst frame +{:.2f} ms, last +{:.1f} ms; mean {:.0f} frames/s; max "
            "excess over {:.0f}/s: {:.0f} frames (bucket {})\n",
            w.frames, w.rarp, w.garp, w.na, w.distinct, expected_burst, w.early, cap.socketDrops(),
            w.first_us, bucket,
            w.bucket_us >= 0 ? fmt::format("+{:.2f} ms", w.bucket_us / 1000.0) : "n/a",
            w.first_burst_us / 1000.0, w.last_us / 1000.0, w.mean_rate, rate, w.excess, bucket);
      }
      if (t0 && w.distinct != expected_burst)
        fmt::print("  WARNING: {} of {} announces never reached the wire in this cut\n",
                   expected_burst - std::min(expected_burst, w.distinct), expected_burst);
      const uint64_t commands = delta("worker commands");
      if (commands > 0)
        fmt::print(
            "  relay worker: {} commands in {} busy loops, {:.1f} us of busy loop per command "
            "(wall time at {:.0f} MHz TSC, preemption included)\n",
            commands, delta("worker busy_loops"),
            double(delta("worker busy_tsc_cycles")) / tsc_mhz / double(commands), tsc_mhz);
      if (recs.size() != size_t(o.ports)) rc = 1;

      const size_t restore_at = vfod.log().size();
      lab.restore(0);
      if (!waitFor(
              [&] {
                return countOf(vfod.log().substr(restore_at), "] failover pf1 -> pf0 (") >=
                       size_t(o.ports);
              },
              30s, 20ms)) {
        fmt::print(stderr, "the ports did not fail back to pf0\n");
        rc = 1;
      }
    }
    vfod.stop(30s);
  }
  cleanup();
  fmt::print("\n{} cuts, {} ports x ({} RARP + {} GARP + {} NA) per burst, rate limit {:.0f}/s\n",
             rows[3].v.size(), o.ports, 1, o.ipv4, o.ipv6, rate);
  printRows(rows);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  int cuts = 0;
  AnnounceOptions announce;
  bool announce_mode = false;
  auto number = [&](int& i) -> std::optional<long> {
    if (i + 1 >= argc || !std::isdigit(uint8_t(argv[i + 1][0]))) return std::nullopt;
    return std::atol(argv[++i]);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    std::optional<long> n;
    if (a == "--cuts" && (n = number(i))) {
      cuts = int(*n);
    } else if (a == "--announce-ports") {
      announce_mode = true;
      if ((n = number(i))) announce.ports = int(*n);
    } else if (a == "--ipv4" && (n = number(i))) {
      announce.ipv4 = int(*n);
    } else if (a == "--ipv6" && (n = number(i))) {
      announce.ipv6 = int(*n);
    } else if (a == "--announce-rate" && (n = number(i))) {
      announce.rate = uint32_t(*n);
    } else {
      fmt::print(stderr,
                 "usage: vfo_bench_failover [--cuts N]\n"
                 "       vfo_bench_failover --announce-ports [N] [--cuts N] [--ipv4 N] [--ipv6 N]\n"
                 "                          [--announce-rate FRAMES_PER_S]\n");
      return 2;
    }
  }
  try {
    if (announce_mode) {
      if (announce.ports < 1 || announce.ports > 512 || announce.ipv4 < 0 || announce.ipv4 > 32 ||
          announce.ipv6 < 0 || announce.ipv6 > 32 || announce.rate > 1'000'000) {
        fmt::print(stderr,
                   "vfo_bench_failover: --announce-ports 1..512, --ipv4/--ipv6 0..32, "
                   "--announce-rate 0..1000000\n");
        return 2;
      }
      if (cuts > 0) announce.cuts = cuts;
      return runAnnounceBench(announce);
    }
    return runBench(cuts > 0 ? cuts : 100);
  } catch (const std::exception& e) {
    fmt::print(stderr, "vfo_bench_failover: {}\n", e.what());
    return 1;
  }
}
