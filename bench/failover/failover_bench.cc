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
// With --announce-ports N: the announce fan-out instead (see
// runAnnounceBench).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

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

// Announce fan-out: `ports` ports with 4 MACs each (so 4 RARP per burst
// and port, standing in for 4 addresses) on net_null uplinks (no guests),
// members watching the lab's host ports; one cut of pf0 moves them all.
// Prints, over the ports, the offset of each port's first announce frame
// from the carrier notification (from vfod's failover log lines).
int runAnnounceBench(int ports) {
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
      << "lag { primary: \"pf0\"\n"
      << "  members { name: \"pf0\" netdev: \"" << lab.pf(0) << "\" }\n"
      << "  members { name: \"pf1\" netdev: \"" << lab.pf(1) << "\" } }\n";
    for (int p = 0; p < ports; ++p) {
      f << fmt::format("ports {{ id: \"p{}\" mac: \"52:54:00:7a:{:02x}:{:02x}\"", p, p >> 8,
                       p & 0xff);
      for (int m = 1; m < 4; ++m)
        f << fmt::format(" allowed_macs: \"52:54:0{}:7a:{:02x}:{:02x}\"", m, p >> 8, p & 0xff);
      f << fmt::format(" uplinks {{ member: \"pf0\" devargs: \"net_null_p{}m0\" }}", p)
        << fmt::format(" uplinks {{ member: \"pf1\" devargs: \"net_null_p{}m1\" }} }}\n", p);
    }
  }
  std::vector<double> first_us, last_ms;
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
      removeTree(dir);
      removeTree("/var/run/dpdk/" + prefix);
      return 1;
    }
    fmt::print("vfod created {} ports in {:.1f} s\n", ports,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    lab.cut(0);
    const std::regex line(
        R"(failover pf0 -> pf1 \(member-down\): cause seen, decided [^,]+, switched [^,]+, first frame \+([0-9.]+) (us|ms), last frame \+([0-9.]+) (us|ms), (\d+) frames)");
    auto count = [&] {
      const std::string log = vfod.log();
      return std::distance(std::sregex_iterator(log.begin(), log.end(), line),
                           std::sregex_iterator());
    };
    waitFor([&] { return count() >= ports; }, 30s, 50ms);
    const std::string log = vfod.log();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
         ++it) {
      const double f = std::stod((*it)[1]) * ((*it)[2] == "ms" ? 1000.0 : 1.0);
      const double l = std::stod((*it)[3]) * ((*it)[4] == "ms" ? 1.0 : 0.001);
      first_us.push_back(f);
      last_ms.push_back(l);
    }
    vfod.stop(30s);
  }
  removeTree(dir);
  removeTree("/var/run/dpdk/" + prefix);
  fmt::print("\n{} ports x 4 MACs moved by one cut ({} failover records)\n", ports,
             first_us.size());
  auto row = [&](const char* what, const std::vector<double>& v, const char* unit) {
    fmt::print("{:<52} p50 {:8.1f}  p99 {:8.1f}  max {:8.1f} {}\n", what, percentile(v, 0.5),
               percentile(v, 0.99), v.empty() ? 0 : *std::max_element(v.begin(), v.end()), unit);
  };
  row("notification -> port's first announce frame", first_us, "us");
  row("notification -> port's last frame (3 bursts)", last_ms, "ms");
  return first_us.size() == size_t(ports) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int cuts = 100;
  int announce_ports = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cuts" && i + 1 < argc) {
      cuts = std::atoi(argv[++i]);
    } else if (a == "--announce-ports" && i + 1 < argc) {
      announce_ports = std::atoi(argv[++i]);
    } else {
      fmt::print(stderr, "usage: vfo_bench_failover [--cuts N] [--announce-ports N]\n");
      return 2;
    }
  }
  if (cuts < 1) cuts = 1;
  try {
    if (announce_ports > 0) return runAnnounceBench(std::min(announce_ports, 4096));
    return runBench(cuts);
  } catch (const std::exception& e) {
    fmt::print(stderr, "vfo_bench_failover: {}\n", e.what());
    return 1;
  }
}
