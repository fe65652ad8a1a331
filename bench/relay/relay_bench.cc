// vfo_bench_relay: vfod's relay against dpdk-testpmd io-fwd between the
// same two kinds of ports, measured in the same run.
//
//   guest (testpmd virtio-user, forwarding on lcore 0)
//     <-> forwarder on lcore 1: vfod's relay worker | testpmd io-fwd (baseline)
//     <-> uplink: net_null (TX sink; for bidirectional it also generates RX)
//
// Modes: guest->uplink (guest txonly, uplink no-rx) and bidirectional
// (uplink generates frames towards the guest, the guest sends every frame
// back with its own source MAC: testpmd "mac" mode). vfod runs with its
// anti-spoof and learner classification on every frame (the guest's MAC is
// the only allowed source), idle backoff off (busy poll, like testpmd).
//
// Method, and why. The machine has two cores: the guest generator gets one,
// the forwarder the other. A forwarder that keeps up with the generator
// forwards exactly what the generator makes, so frames per second of wall
// time ("delivered") measure the generator, not the forwarder: in
// guest->uplink both forwarders poll empty most of the time (vfod's "busy"
// column, the share of its loop iterations that moved frames, is a few
// percent). So the bench also measures each forwarder's own cost: TSC cycles
// spent in loop iterations that moved frames, divided by the frames taken
// in (testpmd --record-core-cycles, "CPU cycles/packet"; vfod's worker
// counter busy_tsc_cycles over guest_tx_packets + uplink rx_packets).
// "capacity" = TSC Hz / cycles per frame is what one lcore would forward if
// it never polled empty; it is taken from the run with the fewest cycles per
// frame (interference only adds cycles), the medians are printed as well.
// Cycles per frame also fall as the offered rate rises (caches stay warm
// between bursts), so runs are comparable only at similar delivered rates:
// -v prints every run. In guest->uplink both get full 32-frame bursts, so
// the per-frame costs compare like for like. In bidirectional mode the
// net_null uplink produces frames as fast as it is polled, more than the
// guest drains, so most uplink->guest frames are dropped at the full guest
// RX ring (testpmd TX-dropped, vfod drop_guest_ring_full): the forwarders are
// overloaded by design and the cycles per frame mix forwarded frames and
// cheap drops: the forwarder that drops the larger share (compare the drops
// column) looks cheaper per frame, so bidir figures compare only loosely.
//
// Limits. (1) Cycles are TSC (wall) cycles: when other processes preempt the
// forwarder inside a busy iteration, the time counts against it; the header
// prints the load average, and each figure is the median of alternating runs.
// (2) vfod's busy iteration covers both directions of the port and its
// command ring; testpmd counts each stream separately (its empty polls of the
// other stream are not counted), which slightly favours testpmd. (3) testpmd's
// counter covers the whole run including warm-up, vfod's the measured
// window. (4) No drop-free rate search: neither testpmd txonly nor net_null
// can be rate-limited, so "zero drops below the capacity" is only shown at
// the rate the guest generator reaches (drops column, guest->uplink).
//
// Prints Mpps for both and the ratio. Usage:
//   vfo_bench_relay [--seconds N] [--repeat N] [--sizes 64,1518] [--modes tx,bidir] [-v]
// Each configuration runs `repeat` times (baseline and vfod alternating);
// the table shows medians, -v every run.
#include <fmt/format.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace {

using namespace std::chrono_literals;
using vfo::testing::Process;

constexpr const char* kGuestMac = "52:54:00:00:0b:01";
constexpr const char* kPeerMac = "02:00:00:00:0b:02";

struct Result {
  double mpps = 0;     // frames per second through the forwarder, both directions summed
  double cycles = 0;   // forwarder's TSC cycles per frame taken in, in iterations that moved frames
  uint64_t drops = 0;  // frames the forwarder dropped over the whole run
  double busy = -1;    // vfod only: share of worker loop iterations that moved frames
  double burst = 0;    // vfod only: frames taken in per busy iteration (32 per direction = full)
  std::string note;    // what went wrong, if anything
};

// TSC ticks per second, measured against the steady clock over 200 ms (the
// forwarders' cycle counts are TSC ticks: rte_rdtsc).
double tscHz() {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(200ms);
  const uint64_t c1 = __rdtsc();
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(c1 - c0) / dt;
}

// The first three fields of /proc/loadavg: other work on the two cores
// preempts the forwarder and the generator and spoils every figure.
std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// testpmd's "CPU cycles/packet=X" from its final statistics
// (--record-core-cycles): TSC cycles of forwarding iterations that received
// frames, per frame received.
double testpmdCyclesPerPacket(const std::string& log) {
  const size_t p = log.rfind("CPU cycles/packet=");
  return p == std::string::npos ? 0.0 : std::stod(log.substr(p + 18));
}

std::string tempDir() {
  return vfo::testing::makeTempDir("vfo-bench-relay-");
}

// The guest: testpmd with one virtio-user port, forwarding on lcore 0.
std::unique_ptr<Process> startGuest(const std::string& dir, const std::string& socket, int size,
                                    bool bidir, bool server, const std::string& prefix) {
  std::string vdev = std::string("net_virtio_user0,path=") + socket + ",mac=" + kGuestMac;
  if (server) vdev += ",server=1";
  std::vector<std::string> argv{"dpdk-testpmd",
                                "-l",
                                "0,1",
                                "--main-lcore",
                                "1",
                                "--no-huge",
                                "-m",
                                "512",
                                "--no-pci",
                                "--no-shconf",
                                "--no-telemetry",
                                "--file-prefix",
                                prefix,
                                "--vdev",
                                vdev,
                                "--",
                                "--stats-period",
                                "1",
                                "--total-num-mbufs",
                                "16384",
                                "--nb-cores",
                                "1",
                                std::string("--eth-peer=0,") + kPeerMac};
  if (bidir) {
    argv.push_back("--forward-mode=mac");
  } else {
    argv.push_back("--forward-mode=txonly");
    argv.push_back("--txpkts=" + std::to_string(size));
  }
  return std::make_unique<Process>(argv, dir + "/guest.log");
}

// The uplink. For bidir it generates frames on RX; copy=1 writes each
// frame's bytes like a real driver does (otherwise the payload is never
// touched and the first reader pays a cache miss the baseline never sees).
std::string nullDevargs(const std::string& name, int size, bool bidir) {
  return fmt::format("{},size={}{}", name, size, bidir ? ",copy=1" : ",no-rx=1");
}

// testpmd's "Tx-pps" (printed once a second per port), summed over ports:
// one entry per second.
std::vector<double> testpmdTxPps(const std::string& log) {
  std::map<int, std::vector<double>> pps;
  std::istringstream in(log);
  std::string line;
  int port = -1;
  while (std::getline(in, line)) {
    if (auto p = line.find("NIC statistics for port "); p != std::string::npos) {
      port = std::stoi(line.substr(p + 24));
    } else if (auto p = line.find("Tx-pps:"); p != std::string::npos && port >= 0) {
      pps[port].push_back(std::stod(line.substr(p + 7)));
    }
  }
  size_t n = SIZE_MAX;
  for (auto& [p, v] : pps) n = std::min(n, v.size());
  std::vector<double> sum(pps.empty() ? 0 : n, 0.0);
  for (auto& [p, v] : pps)
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += v[i];
  return sum;
}

// Frames testpmd's io-fwd could not transmit over the whole run, from the
// per-port summary it prints when it stops ("Forward statistics for port N"
// ... "TX-dropped: X").
uint64_t forwardDrops(const std::string& log) {
  std::istringstream in(log);
  std::string line;
  bool in_port_block = false;
  uint64_t drops = 0;
  while (std::getline(in, line)) {
    if (line.find("Forward statistics for port") != std::string::npos) in_port_block = true;
    if (auto p = line.find("TX-dropped:"); p != std::string::npos && in_port_block) {
      drops += std::stoull(line.substr(p + 11));
      in_port_block = false;
    }
  }
  return drops;
}

Result runBaseline(int size, bool bidir, int seconds) {
  const std::string dir = tempDir();
  const std::string sock = dir + "/vhost.sock";
  const std::string fwd_prefix = vfo::testing::uniqueName("vbf");
  const std::string guest_prefix = vfo::testing::uniqueName("vbg");
  Result r;
  {
    // The forwarder: io-fwd between the vhost-user port and net_null on lcore 1.
    Process fwd({"dpdk-testpmd",
                 "-l",
                 "0,1",
                 "--main-lcore",
                 "0",
                 "--no-huge",
                 "-m",
                 "512",
                 "--no-pci",
                 "--no-shconf",
                 "--no-telemetry",
                 "--file-prefix",
                 fwd_prefix,
                 "--vdev",
                 "net_vhost0,iface=" + sock + ",queues=1",
                 "--vdev",
                 nullDevargs("net_null0", size, bidir),
                 "--",
                 "--forward-mode=io",
                 "--stats-period",
                 "1",
                 "--total-num-mbufs",
                 "16384",
                 "--nb-cores",
                 "1",
                 "--record-core-cycles"},
                dir + "/fwd.log");
    if (!vfo::testing::waitFor([&] { return fwd.log().find("Port 0:") != std::string::npos; },
                               20s)) {
      r.note = "baseline forwarder did not start";
    }
    auto guest = startGuest(dir, sock, size, bidir, false, guest_prefix);
    // Wait for traffic, warm up, then measure a window of whole seconds.
    const bool flowing = vfo::testing::waitFor(
        [&] {
          for (double v : testpmdTxPps(fwd.log()))
            if (v > 0) return true;
          return false;
        },
        30s, 100ms);
    if (!flowing) {
      r.note = "baseline moved no frames:\n" + fwd.log().substr(0, 3000);
    } else {
      std::this_thread::sleep_for(2s);
      const size_t n0 = testpmdTxPps(fwd.log()).size();
      std::this_thread::sleep_for(std::chrono::seconds(seconds));
      vfo::testing::waitFor([&] { return testpmdTxPps(fwd.log()).size() >= n0 + seconds; }, 5s);
      const auto pps = testpmdTxPps(fwd.log());
      double sum = 0;
      int count = 0;
      for (size_t i = n0; i < pps.size() && count < seconds; ++i, ++count) sum += pps[i];
      r.mpps = count ? sum / count / 1e6 : 0;
    }
    guest->stop();
    fwd.stop();
    r.drops = forwardDrops(fwd.log());
    r.cycles = testpmdCyclesPerPacket(fwd.log());
  }
  // DPDK makes runtime directories even with --no-shconf.
  vfo::testing::removeTree("/var/run/dpdk/" + fwd_prefix);
  vfo::testing::removeTree("/var/run/dpdk/" + guest_prefix);
  vfo::testing::removeTree(dir);
  return r;
}

std::map<std::string, uint64_t> vfodStats(const std::string& config) {
  auto r = vfo::testing::run(
      {std::string(VFO_BINARY_DIR) + "/vhost-backend/vfod", "--stats", "--config", config}, 10s);
  std::map<std::string, uint64_t> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    const size_t sp = line.rfind(' ');
    if (line.empty() || line[0] == '#' || sp == std::string::npos) continue;
    const std::string v = line.substr(sp + 1);  // "worker 0 loops 123" counts too
    if (v.find_first_not_of("0123456789") != std::string::npos || v.empty()) continue;
    out[line.substr(0, sp)] = std::stoull(v);
  }
  return out;
}

Result runVfod(int size, bool bidir, int seconds) {
  const std::string dir = tempDir();
  const std::string prefix = vfo::testing::uniqueName("vbv");
  const std::string guest_prefix = vfo::testing::uniqueName("vbg");
  const std::string config = dir + "/vfod.textproto";
  {
    FILE* f = fopen(config.c_str(), "w");
    fmt::print(
        f,
        "eal {{ main_lcore: 0 worker_lcores: 1 file_prefix: \"{}\" }}\n"
        "memory {{ hugepages: HUGEPAGES_NEVER size_mb: 512 mbufs: 16384 }}\n"
        "sockets {{ dir: \"{}/sock\" }}\nstate_dir: \"{}/state\"\n"
        "api {{ listen: \"unix://{}/api.sock\" }}\nlibvirt {{ uri: \"none\" }}\n"
        "datapath {{ idle_backoff_max {{ }} deliver_foreign_unicast: true }}\n"
        "lag {{ members {{ name: \"pf0\" }} }}\n"
        "ports {{ id: \"vm1\" mac: \"{}\" uplinks {{ member: \"pf0\" devargs: \"{}\" }} }}\n",
        prefix, dir, dir, dir, kGuestMac, nullDevargs("net_null_vfo0", size, bidir));
    fclose(f);
  }
  Result r;
  {
    Process vfod({std::string(VFO_BINARY_DIR) + "/vhost-backend/vfod", "--config", config},
                 dir + "/vfod.log");
    if (!vfo::testing::waitFor(
            [&] { return vfod.log().find("vfod running:") != std::string::npos; }, 20s)) {
      r.note = "vfod did not start: " + vfod.log();
      vfod.stop();
      vfo::testing::removeTree(dir);
      vfo::testing::removeTree("/var/run/dpdk/" + prefix);
      return r;
    }
    auto guest = startGuest(dir, dir + "/sock/vm1.sock", size, bidir, false, guest_prefix);
    auto moved = [&](std::map<std::string, uint64_t>& s) {
      return s["port vm1 member pf0 tx_packets"] + s["port vm1 guest_rx_packets"];
    };
    // Frames the worker took in (dequeued from the guest, received from the
    // uplink), forwarded or dropped: testpmd's cycles/packet divides by its
    // received frames too.
    auto received = [&](std::map<std::string, uint64_t>& s) {
      return s["port vm1 guest_tx_packets"] + s["port vm1 member pf0 rx_packets"];
    };
    auto drops = [&](std::map<std::string, uint64_t>& s) {
      uint64_t d = 0;
      for (const auto& [k, v] : s)
        if (k.rfind("port vm1 drop_", 0) == 0) d += v;
      return d;
    };
    // Warm up until frames flow, then 2 s more, like the baseline.
    vfo::testing::waitFor(
        [&] {
          auto s = vfodStats(config);
          return moved(s) > 0;
        },
        20s, 100ms);
    std::this_thread::sleep_for(2s);
    auto s0 = vfodStats(config);
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    auto s1 = vfodStats(config);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.mpps = double(moved(s1) - moved(s0)) / dt / 1e6;
    const double loops = double(s1["worker 0 loops"] - s0["worker 0 loops"]);
    const double busy = double(s1["worker 0 busy_loops"] - s0["worker 0 busy_loops"]);
    r.busy = loops > 0 ? busy / loops : 0;
    const double frames = double(received(s1) - received(s0));
    r.burst = busy > 0 ? frames / busy : 0;
    r.cycles =
        frames > 0
            ? double(s1["worker 0 busy_tsc_cycles"] - s0["worker 0 busy_tsc_cycles"]) / frames
            : 0;
    guest->stop();
    auto s2 = vfodStats(config);
    r.drops = drops(s2);
    if (s2["port vm1 drop_spoofed_source"] != 0) r.note = "spoofed drops: check the guest MAC";
    vfod.stop();
  }
  vfo::testing::removeTree(dir);
  vfo::testing::removeTree("/var/run/dpdk/" + prefix);
  vfo::testing::removeTree("/var/run/dpdk/" + guest_prefix);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 4;
  int repeat = 3;
  bool verbose = false;
  std::vector<int> sizes{64, 1518};
  std::vector<std::string> modes{"tx", "bidir"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto list = [&](const std::string& v) {
      std::vector<std::string> out;
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) out.push_back(item);
      return out;
    };
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stoi(argv[++i]);
    } else if (a == "--sizes" && i + 1 < argc) {
      sizes.clear();
      for (const auto& s : list(argv[++i])) sizes.push_back(std::stoi(s));
    } else if (a == "-v") {
      verbose = true;
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::stoi(argv[++i]));
    } else if (a == "--modes" && i + 1 < argc) {
      modes = list(argv[++i]);
    } else {
      fmt::print(stderr,
                 "usage: vfo_bench_relay [--seconds N] [--repeat N] [--sizes 64,1518] [--modes "
                 "tx,bidir]\n");
      return 2;
    }
  }
  const double hz = tscHz();
  fmt::print(
      "relay benchmark: one forwarding lcore, guest = testpmd virtio-user, uplink = net_null;\n"
      "{} s windows, median of {} runs each, TSC {:.0f} MHz, load average at start {}\n\n",
      seconds, repeat, hz / 1e6, loadAverage());
  fmt::print("{:<6} {:>5} | {:>24} | {:>15} | {:>24} | {:>5} {:>6} | {:>15} | {:>21}\n", "", "",
             "delivered Mpps (median)", "cycles/frame", "capacity Mpps (best run)", "vfod", "vfod",
             "drops*", "median cycles/frame");
  fmt::print(
      "{:<6} {:>5} | {:>8} {:>8} {:>6} | {:>7} {:>7} | {:>8} {:>8} {:>6} | {:>5} {:>6} | "
      "{:>7} {:>7} | {:>7} {:>7} {:>5}\n",
      "mode", "bytes", "testpmd", "vfod", "ratio", "testpmd", "vfod", "testpmd", "vfod", "ratio",
      "busy", "burst", "testpmd", "vfod", "testpmd", "vfod", "ratio");
  int rc = 0;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  std::string verdicts;
  for (const auto& mode : modes) {
    for (int size : sizes) {
      const bool bidir = mode == "bidir";
      // Alternate baseline and vfod runs and take medians: the machine is
      // shared, so single runs are noisy.
      std::vector<double> base_mpps, vfod_mpps, base_cycles, vfod_cycles, vfod_busy, vfod_burst;
      uint64_t base_drops = 0, vfod_drops = 0;
      std::string notes;
      for (int i = 0; i < repeat; ++i) {
        const Result base = runBaseline(size, bidir, seconds);
        const Result vfod = runVfod(size, bidir, seconds);
        base_mpps.push_back(base.mpps);
        vfod_mpps.push_back(vfod.mpps);
        base_cycles.push_back(base.cycles);
        vfod_cycles.push_back(vfod.cycles);
        vfod_busy.push_back(vfod.busy);
        vfod_burst.push_back(vfod.burst);
        base_drops += base.drops;
        vfod_drops += vfod.drops;
        if (!base.note.empty()) notes += "  baseline: " + base.note + "\n";
        if (!vfod.note.empty()) notes += "  vfod: " + vfod.note + "\n";
        if (base.cycles <= 0) notes += "  baseline: testpmd printed no CPU cycles/packet\n";
        if (vfod.cycles <= 0) notes += "  vfod: no busy_tsc_cycles (old vfod?)\n";
        if (verbose)
          fmt::print(
              "  run {}: testpmd {:.2f} Mpps {:.1f} cycles/frame, vfod {:.2f} Mpps {:.1f} "
              "cycles/frame ({:.0f}% busy polls, {:.1f} frames each)\n",
              i, base.mpps, base.cycles, vfod.mpps, vfod.cycles, vfod.busy * 100, vfod.burst);
      }
      const double b = median(base_mpps), v = median(vfod_mpps);
      // Capacity from the least-disturbed run (fewest cycles per frame):
      // interference only ever adds cycles. The medians are printed too.
      auto least = [](const std::vector<double>& v) {
        double m = 0;
        for (double x : v)
          if (x > 0 && (m == 0 || x < m)) m = x;
        return m;
      };
      const double bc = least(base_cycles), vc = least(vfod_cycles);
      const double bm = median(base_cycles), vm = median(vfod_cycles);
      const double bcap = bc > 0 ? hz / bc / 1e6 : 0, vcap = vc > 0 ? hz / vc / 1e6 : 0;
      fmt::print(
          "{:<6} {:>5} | {:>8.2f} {:>8.2f} {:>5.0f}% | {:>7.1f} {:>7.1f} | {:>8.2f} {:>8.2f} "
          "{:>5.0f}% | {:>4.0f}% {:>6.1f} | {:>7} {:>7} | {:>7.1f} {:>7.1f} {:>4.0f}%\n",
          bidir ? "bidir" : "g->up", size, b, v, b > 0 ? v / b * 100 : 0.0, bc, vc, bcap, vcap,
          bcap > 0 ? vcap / bcap * 100 : 0.0, median(vfod_busy) * 100, median(vfod_burst),
          base_drops, vfod_drops, bm, vm, vm > 0 ? bm / vm * 100 : 0.0);
      if (size == 64 && bcap > 0)
        verdicts +=
            fmt::format("  {} 64 B: vfod capacity {:.0f}% of testpmd io-fwd ({})\n",
                        bidir ? "bidir" : "g->up", vcap / bcap * 100,
                        vcap >= 0.9 * bcap ? "meets the 90% target" : "BELOW the 90% target");
      if (!notes.empty()) {
        fmt::print("{}", notes);
        rc = 1;
      }
      std::fflush(stdout);
    }
  }
  fmt::print(
      "\nTarget (issue): vfod >= 90% of testpmd io-fwd at 64 bytes, with anti-spoof and learning:\n"
      "{}"
      "\ndelivered: frames forwarded per second of wall time (both directions summed for bidir);\n"
      "  the one-core guest generator limits it when the forwarder keeps up (vfod busy < 100%).\n"
      "cycles/frame: the forwarder's TSC cycles in iterations that moved frames, per frame\n"
      "  taken in (testpmd --record-core-cycles; vfod's busy_tsc_cycles), from the run with the\n"
      "  fewest (interference only adds cycles; the last columns are medians, ratio = capacity\n"
      "  ratio); capacity = TSC Hz / cycles: what one lcore would forward if it never polled\n"
      "  empty. Cycles/frame fall as the offered rate rises (warmer caches): -v shows each\n"
      "  run's delivered rate. vfod busy: share of its loop\n"
      "  iterations that moved frames; burst: frames per such iteration (32 per direction = "
      "full).\n"
      "* drops over all runs (warm-up included): testpmd TX-dropped, vfod drop_* counters.\n"
      "Load average at the end: {}\n",
      verdicts, loadAverage());
  return rc;
}
