// vfo_bench_relay: vfod's relay against dpdk-testpmd io-fwd between the
// same two kinds of ports, measured in the same run, with a paced generator.
//
//   vfo_relay_gen (lcore 0: virtio-user "guest" [+ virtio-user "uplink peer"])
//     <-> forwarder on lcore 1: vfod's relay worker | testpmd io-fwd (baseline)
//     <-> uplink: guest->uplink mode: net_null (TX sink, no RX)
//                 bidir mode: net_vhost, the generator's second virtio-user
//
// Both forwarders see the same ports, the same generator and the same frames
// (IPv4/UDP from the guest MAC, and in bidir from a peer MAC to the guest
// MAC). vfod does its full per-frame work: anti-spoof (the guest MAC is the
// only allowed source) and learner classification; idle backoff off (busy
// poll, like testpmd). The bench pins itself to CPU 0, so its own work and
// the commands it runs never take the forwarder's core.
//
// A session = one forwarder process + one generator process. The generator
// is driven phase by phase (vfo_relay_gen reads "run RATE SECONDS"), and the
// forwarder's counters are read between phases, when nothing is in flight:
// counts per phase are exact (testpmd: "show fwd stats all" on its command
// line; vfod: `vfod --stats`). Every session runs:
//   warm-up  unpaced, 2 s, not counted;
//   max      unpaced (the generator sends as fast as the TX ring takes
//            frames): the delivered rate is the lower of what the generator
//            makes and what the forwarder moves; frames the TX ring refused
//            are back-pressure here, not drops;
//   rates    paced at fixed rates: 50%, 70%, 90% of vfod's max and 90% of
//            testpmd's max, both from the better of two calibration sessions at the
//            start of the same configuration; per rate: offered Mpps,
//            delivered Mpps, the forwarder's drops by reason, frames the
//            forwarder did not take from the generator's ring ("refused"),
//            and the forwarder's cycles per frame at that rate.
// Configurations repeat `repeat` times (baseline and vfod sessions
// alternating) after two calibration pairs; figures are medians with
// [min-max] over the runs (max phases: calibration sessions included), drops
// are summed over the runs.
//
// Cycles per frame: TSC cycles spent in loop iterations that moved frames,
// per frame taken in (testpmd --record-core-cycles "total cycles" over its
// received frames; vfod's busy_tsc_cycles over guest_tx_packets + uplink
// rx_packets), per phase. They depend on the offered rate (caches cool
// between rare bursts), so they are compared at equal paced rates: the
// "cost ratio" is testpmd's cycles over vfod's at the same offered rate
// (>100%: vfod is cheaper per frame). capacity = TSC Hz / cycles per frame:
// what one lcore would forward if it never polled empty.
//
// Limits: TSC cycles are wall cycles (preemption inside a busy iteration
// counts against the forwarder: each row shows how often the forwarding
// thread and the generator were preempted, and the header and trailer print
// the load average). vfod's busy iteration covers both directions and its
// command ring; testpmd counts per stream, so its empty polls of the other
// stream are not counted (slightly favours testpmd, more so at part-full
// bursts). On two cores the generator has one core: the max rate is mostly
// the generator's, which is why the forwarders are compared by cycles at
// equal paced rates and, with --profile, by where their samples go.
//
// Usage:
//   vfo_bench_relay [--seconds N] [--repeat N] [--sizes 64,1518] [--modes tx,bidir]
//                   [--nice N] [--quiet-wait S] [--profile] [-v]
// --profile samples the forwarding thread with `perf record -t` during each
// max phase and prints the share of its samples by object. The vhost
// library's per-frame work is the same code in both forwarders (same rings,
// same full bursts when the forwarder is saturated), so the ratio of its
// shares of user-space samples estimates the per-frame cost ratio without
// TSC wall time: preemption does not enter it (the kernel's samples are left
// out), and is shown next to the TSC figures.
// Each session first waits (up to --quiet-wait S seconds, default 60) until
// both CPUs were at least 90% idle over 500 ms: other work on the machine
// preempts the forwarder and the generator and spoils every figure. -v
// prints each session's idle share at its start.
// --nice N (-20..19, default 0) renices the forwarder and the generator once
// they run: on a machine shared with other work, a negative value makes the
// scheduler preempt them less (at the others' expense); the preempt column
// shows how often it still did.
#include <fmt/format.h>
#include <sched.h>
#include <sys/resource.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "vfo/testing/dpdk_args.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace {

using namespace std::chrono_literals;
using vfo::testing::Process;

constexpr const char* kGuestMac = "52:54:00:00:0b:01";
constexpr const char* kPeerMac = "02:00:00:00:0b:02";
constexpr double kWarmupSeconds = 2;
// A session starts once both CPUs were at least this idle over 500 ms (or
// --quiet-wait seconds passed).
constexpr double kQuietIdle = 0.9;

// A forwarder's cumulative counters at one moment.
struct Counters {
  uint64_t in = 0;                        // frames taken in (from either side)
  uint64_t out = 0;                       // frames transmitted (to either side)
  uint64_t busy_cycles = 0;               // TSC cycles in iterations that moved frames
  uint64_t loops = 0;                     // vfod only: worker loop iterations
  uint64_t busy_loops = 0;                // vfod only: iterations that moved frames
  std::map<std::string, uint64_t> drops;  // frames dropped, by reason
};

// One phase of a session: what the generator offered and what the forwarder
// did with it.
struct Phase {
  double target_mpps = 0;                 // requested rate, both directions summed (0: unpaced)
  double seconds = 0;                     // phase length (generator's TSC)
  uint64_t offered = 0;                   // frames the generator handed to its TX rings
  uint64_t refused = 0;                   // of those, frames the rings refused (not taken)
  uint64_t skipped = 0;                   // frames due while the generator stalled, not offered
  uint64_t max_backlog = 0;               // generator's largest backlog in frames (paced)
  bool behind = false;                    // generator offered < 99% of the frames due
  uint64_t in = 0;                        // forwarder: frames taken in
  uint64_t out = 0;                       // forwarder: frames transmitted (delivered)
  uint64_t busy_cycles = 0;               // forwarder: TSC cycles in busy iterations
  double busy_share = -1;                 // vfod: share of loop iterations that moved frames
  uint64_t fwd_preempted = 0;             // involuntary switches of the forwarding thread
  uint64_t gen_preempted = 0;             // involuntary switches of the generator
  std::map<std::string, double> profile;  // --profile: forwarding thread's samples by object, %
  std::map<std::string, uint64_t> drops;  // forwarder drops by reason (non-zero only)
  double offeredMpps() const { return seconds > 0 ? double(offered) / seconds / 1e6 : 0; }
  double acceptedMpps() const {
    return seconds > 0 ? double(offered - refused) / seconds / 1e6 : 0;
  }
  double deliveredMpps() const { return seconds > 0 ? double(out) / seconds / 1e6 : 0; }
  double cycles() const { return in > 0 ? double(busy_cycles) / double(in) : 0; }
  uint64_t dropTotal() const {
    uint64_t d = 0;
    for (const auto& [k, v] : drops) d += v;
    return d;
  }
};

// What a session measured: the max phase, then one phase per paced rate.
struct SessionResult {
  std::optional<Phase> max;  // unpaced phase
  std::vector<Phase> rates;  // in the order asked
  std::string error;         // what went wrong, if anything (then the rest is partial)
  double idle_at_start = 0;  // busiest CPU's idle share just before the session
  double waited = 0;         // seconds spent waiting for that idle share
};

// Idle share (0..1) of the busier of CPUs 0 and 1 over `window`, from
// /proc/stat (idle + iowait jiffies over all jiffies).
double idleShare(std::chrono::milliseconds window) {
  auto sample = [] {
    std::map<std::string, std::pair<uint64_t, uint64_t>> out;  // cpu -> (idle, total)
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("cpu0 ", 0) != 0 && line.rfind("cpu1 ", 0) != 0) continue;
      std::istringstream f(line);
      std::string name;
      uint64_t v, total = 0, idle = 0;
      f >> name;
      for (int i = 0; f >> v; ++i) {
        total += v;
        if (i == 3 || i == 4) idle += v;
      }
      out[name] = {idle, total};
    }
    return out;
  };
  const auto a = sample();
  std::this_thread::sleep_for(window);
  const auto b = sample();
  double least = 1;
  for (const auto& [cpu, v] : b) {
    const auto it = a.find(cpu);
    if (it == a.end() || v.second <= it->second.second) continue;
    least =
        std::min(least, double(v.first - it->second.first) / double(v.second - it->second.second));
  }
  return least;
}

// Waits up to `max_wait` for both CPUs to be at least `want` idle over
// 500 ms (other work on the machine spoils every figure); returns the last
// idle share and sets `waited`.
double waitQuiet(double want, std::chrono::seconds max_wait, double& waited) {
  const auto t0 = std::chrono::steady_clock::now();
  double idle = idleShare(500ms);
  while (idle < want && std::chrono::steady_clock::now() - t0 < max_wait) idle = idleShare(500ms);
  waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return idle;
}

// TSC ticks per second, measured against the steady clock over 200 ms.
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

// Involuntary context switches (the scheduler preempted it) of the thread of
// `pid` named `comm` ("" = the main thread); 0 when unreadable.
// The id of the thread of `pid` named `comm` ("" = the main thread); empty
// when there is none.
std::string threadId(pid_t pid, const std::string& comm) {
  if (pid <= 0) return "";
  if (comm.empty()) return std::to_string(pid);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec)) {
    std::ifstream c(e.path() / "comm");
    std::string name;
    std::getline(c, name);
    if (name == comm) return e.path().filename();
  }
  return "";
}

uint64_t preemptions(pid_t pid, const std::string& comm) {
  const std::string tid = threadId(pid, comm);
  if (tid.empty()) return 0;
  std::ifstream st(fmt::format("/proc/{}/task/{}/status", pid, tid));
  std::string line;
  while (std::getline(st, line))
    if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) return std::stoull(line.substr(27));
  return 0;
}

// Sets the nice value of every thread of `pid` (Linux nice is per thread).
void reniceAll(pid_t pid, int nice) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec))
    setpriority(PRIO_PROCESS, id_t(std::stoi(e.path().filename())), nice);
}

// EAL's name of the lcore 1 thread: the forwarding thread of both forwarders.
constexpr const char* kForwardingThread = "rte-worker-1";

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size()))
    ++n;
  return n;
}

// The unsigned number after `key` in `text` from `from` on (0 if absent).
uint64_t numberAfter(const std::string& text, const std::string& key, size_t from = 0) {
  const size_t p = text.find(key, from);
  if (p == std::string::npos) return 0;
  return std::strtoull(text.c_str() + p + key.size(), nullptr, 10);
}

// A forwarder under test: started with its ports, read between phases.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Empty when running, else what failed.
  virtual std::string start() = 0;
  // Empty once the forwarder moves frames between the generator's ports
  // (call after the generator is ready), else what failed.
  virtual std::string waitForwarding() { return ""; }
  // Current cumulative counters; nullopt (and `error`) when unreadable.
  virtual std::optional<Counters> read(std::string& error) = 0;
  // The forwarder's process (its lcore 1 thread is the forwarding one).
  virtual pid_t pid() const = 0;
  // The vhost-user sockets the generator connects to.
  virtual std::string guestSocket() const = 0;
  virtual std::string uplinkSocket() const = 0;
};

// dpdk-testpmd io-fwd on lcore 1 between net_vhost (the guest's socket) and
// the uplink; its command line stays open on stdin for "show fwd stats all".
class TestpmdForwarder : public Forwarder {
 public:
  TestpmdForwarder(const std::string& dir, int size, bool bidir)
      : dir_(dir), size_(size), bidir_(bidir), prefix_(vfo::testing::uniqueName("vbf")) {}
  ~TestpmdForwarder() override {
    if (proc_) {
      proc_->writeStdin("quit\n");
      proc_->closeStdin();
      if (!proc_->waitExit(5s)) proc_->stop();
    }
    vfo::testing::removeTree("/var/run/dpdk/" + prefix_);
  }
  std::string guestSocket() const override { return dir_ + "/guest.sock"; }
  pid_t pid() const override { return proc_ ? proc_->pid() : -1; }
  std::string uplinkSocket() const override { return dir_ + "/uplink.sock"; }

  std::string start() override {
    // stdbuf: testpmd's stdout is a file here, fully buffered otherwise.
    std::vector<std::string> argv{"stdbuf", "-oL", "dpdk-testpmd"};
    for (auto& a : vfo::testing::isolatedEalArgs("0,1", 0, 512, prefix_)) argv.push_back(a);
    argv.insert(argv.end(), {"--vdev", "net_vhost0,iface=" + guestSocket() + ",queues=1", "--vdev",
                             bidir_ ? "net_vhost1,iface=" + uplinkSocket() + ",queues=1"
                                    : fmt::format("net_null0,size={},no-rx=1", size_),
                             "--", "-i", "--forward-mode=io", "--total-num-mbufs", "16384",
                             "--nb-cores", "1", "--record-core-cycles"});
    proc_ = std::make_unique<Process>(argv, dir_ + "/testpmd.log", true);
    proc_->writeStdin("start\n");
    if (!vfo::testing::waitFor(
            [&] { return proc_->log().find("Logical Core 1") != std::string::npos; }, 20s))
      return "testpmd did not start forwarding:\n" + proc_->log().substr(0, 3000);
    return "";
  }

  std::optional<Counters> read(std::string& error) override {
    // "show port summary all" prints a marker once the stats are out.
    const std::string marker = "Number of available ports";
    const size_t before = countOf(proc_->log(), marker);
    proc_->writeStdin("show fwd stats all\nshow port summary all\n");
    std::string log;
    if (!vfo::testing::waitFor(
            [&] {
              log = proc_->log();
              return countOf(log, marker) > before;
            },
            10s, 10ms)) {
      error = "testpmd did not answer 'show fwd stats all'";
      return std::nullopt;
    }
    const size_t acc = log.rfind("Accumulated forward statistics for all ports");
    if (acc == std::string::npos) {
      error = "testpmd printed no accumulated forward statistics";
      return std::nullopt;
    }
    Counters c;
    c.in = numberAfter(log, "RX-packets:", acc);
    c.out = numberAfter(log, "TX-packets:", acc);
    c.drops["rx_dropped"] = numberAfter(log, "RX-dropped:", acc);
    c.drops["tx_dropped"] = numberAfter(log, "TX-dropped:", acc);
    // Absent until the first frame: then no cycles either.
    const size_t cyc = log.find("CPU cycles/packet=", acc);
    if (cyc != std::string::npos && cyc < log.rfind(marker))
      c.busy_cycles = numberAfter(log, "total cycles=", cyc);
    return c;
  }

 private:
  std::string dir_;
  int size_;
  bool bidir_;
  std::string prefix_;
  std::unique_ptr<Process> proc_;
};

// vfod with one port "vm1" (the guest's MAC) and one uplink, worker on lcore 1.
class VfodForwarder : public Forwarder {
 public:
  VfodForwarder(const std::string& dir, int size, bool bidir)
      : dir_(dir), size_(size), bidir_(bidir), prefix_(vfo::testing::uniqueName("vbv")) {}
  ~VfodForwarder() override {
    if (proc_) proc_->stop();
    vfo::testing::removeTree("/var/run/dpdk/" + prefix_);
  }
  std::string guestSocket() const override { return dir_ + "/sock/vm1.sock"; }
  pid_t pid() const override { return proc_ ? proc_->pid() : -1; }

  // vfod forwards once the guest's driver runs and the member is active
  // (for a net_vhost uplink: once the generator's peer port connected).
  std::string waitForwarding() override {
    std::string last;
    const bool ok = vfo::testing::waitFor(
        [&] {
          auto r = vfo::testing::run(
              {std::string(VFO_BINARY_DIR) + "/vhost-backend/vfod", "--stats", "--config", config_},
              10s);
          const size_t p = r.out.find("port vm1 state ");
          last = p == std::string::npos ? r.out : r.out.substr(p, r.out.find('\n', p) - p);
          return last.find("vhost running") != std::string::npos &&
                 last.find("active_member pf0") != std::string::npos;
        },
        20s, 200ms);
    return ok ? "" : "vfod's port did not start forwarding: " + last;
  }
  std::string uplinkSocket() const override { return dir_ + "/uplink.sock"; }

  std::string start() override {
    config_ = dir_ + "/vfod.textproto";
    const std::string uplink = bidir_ ? "net_vhost_vfo0,iface=" + uplinkSocket() + ",queues=1"
                                      : fmt::format("net_null_vfo0,size={},no-rx=1", size_);
    // The member's netdev is "lo": the LAG uses a member only while its
    // netdev's carrier is up, and lo's always is (without a netdev the
    // member is named after a netdev that does not exist: never active).
    std::ofstream(config_) << fmt::format(
        "eal {{ main_lcore: 0 worker_lcores: 1 file_prefix: \"{}\" }}\n"
        "memory {{ hugepages: HUGEPAGES_NEVER size_mb: 512 mbufs: 16384 }}\n"
        "sockets {{ dir: \"{}/sock\" }}\nstate_dir: \"{}/state\"\n"
        "api {{ listen: \"unix://{}/api.sock\" }}\nlibvirt {{ uri: \"none\" }}\n"
        "datapath {{ idle_backoff_max {{ }} deliver_foreign_unicast: true }}\n"
        "lag {{ members {{ name: \"pf0\" netdev: \"lo\" }} }}\n"
        "ports {{ id: \"vm1\" mac: \"{}\" uplinks {{ member: \"pf0\" devargs: \"{}\" }} }}\n",
        prefix_, dir_, dir_, dir_, kGuestMac, uplink);
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{std::string(VFO_BINARY_DIR) + "/vhost-backend/vfod", "--config",
                                 config_},
        dir_ + "/vfod.log");
    if (!vfo::testing::waitFor(
            [&] { return proc_->log().find("vfod running:") != std::string::npos; }, 20s))
      return "vfod did not start:\n" + proc_->log().substr(0, 3000);
    return "";
  }

  std::optional<Counters> read(std::string& error) override {
    auto r = vfo::testing::run(
        {std::string(VFO_BINARY_DIR) + "/vhost-backend/vfod", "--stats", "--config", config_}, 10s);
    if (!r.ok()) {
      error = "vfod --stats: " + r.describe();
      return std::nullopt;
    }
    std::map<std::string, uint64_t> s;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const size_t sp = line.rfind(' ');
      if (line.empty() || line[0] == '#' || sp == std::string::npos) continue;
      const std::string v = line.substr(sp + 1);
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) continue;
      s[line.substr(0, sp)] = std::stoull(v);
    }
    if (!s.count("worker 0 busy_tsc_cycles")) {
      error = "vfod --stats printed no worker 0 busy_tsc_cycles:\n" + r.out.substr(0, 2000);
      return std::nullopt;
    }
    Counters c;
    c.in = s["port vm1 guest_tx_packets"] + s["port vm1 member pf0 rx_packets"];
    c.out = s["port vm1 member pf0 tx_packets"] + s["port vm1 guest_rx_packets"];
    c.busy_cycles = s["worker 0 busy_tsc_cycles"];
    c.loops = s["worker 0 loops"];
    c.busy_loops = s["worker 0 busy_loops"];
    const std::string prefix = "port vm1 drop_";  // port totals, every reason
    for (const auto& [k, v] : s)
      if (k.rfind(prefix, 0) == 0) c.drops[k.substr(9)] = v;
    return c;
  }

 private:
  std::string dir_;
  int size_;
  bool bidir_;
  std::string prefix_;
  std::string config_;
  std::unique_ptr<Process> proc_;
};

// vfo_relay_gen connected to a forwarder, driven one phase at a time.
class Generator {
 public:
  Generator(const std::string& dir, const Forwarder& fwd, int size, bool bidir)
      : prefix_(vfo::testing::uniqueName("vbg")), ports_(bidir ? 2 : 1) {
    std::vector<std::string> argv{std::string(VFO_BINARY_DIR) + "/bench/relay/vfo_relay_gen"};
    for (auto& a : vfo::testing::isolatedEalArgs("0", std::nullopt, 512, prefix_))
      argv.push_back(a);
    argv.push_back("--vdev");
    argv.push_back(fmt::format("net_virtio_user0,path={},mac={}", fwd.guestSocket(), kGuestMac));
    if (bidir) {
      argv.push_back("--vdev");
      argv.push_back(fmt::format("net_virtio_user1,path={},mac={}", fwd.uplinkSocket(), kPeerMac));
    }
    for (const char* a : {"--", "--guest-mac", kGuestMac, "--peer-mac", kPeerMac, "--size"})
      argv.push_back(a);
    argv.push_back(std::to_string(size));
    if (bidir) argv.push_back("--bidir");
    proc_ = std::make_unique<Process>(argv, dir + "/gen.log", true);
  }
  ~Generator() {
    proc_->writeStdin("quit\n");
    proc_->closeStdin();
    if (!proc_->waitExit(5s)) proc_->stop();
    vfo::testing::removeTree("/var/run/dpdk/" + prefix_);
  }

  // Empty once the generator's links are up, else what failed.
  std::string waitReady() {
    const bool ok = vfo::testing::waitFor(
        [&] {
          const std::string log = proc_->log();
          return log.find("ready ") != std::string::npos ||
                 log.find("error:") != std::string::npos || !proc_->running();
        },
        40s, 20ms);
    const std::string log = proc_->log();
    if (ok && log.find("ready ") != std::string::npos) return "";
    return "generator not ready:\n" + log.substr(0, 3000);
  }

  // Runs one phase; the result line's keys, or an empty map (and `error`).
  // `started`, if given, runs once the phase has been asked for.
  std::map<std::string, double> run(double total_mpps, double seconds, std::string& error,
                                    const std::function<void()>& started = {}) {
    const size_t before = countOf(proc_->log(), "result ");
    proc_->writeStdin(fmt::format("run {:.6f} {:.3f}\n", total_mpps / ports_, seconds));
    if (started) started();
    // Sleep through the phase, then poll rarely: the bench shares CPU 0
    // with the generator, and each wake-up can preempt it.
    std::this_thread::sleep_for(std::chrono::milliseconds(int64_t(seconds * 1000)));
    std::string log;
    const bool done = vfo::testing::waitFor(
        [&] {
          log = proc_->log();
          return countOf(log, "result ") > before || !proc_->running();
        },
        20s, 100ms);
    const size_t p = log.rfind("result ");
    if (!done || countOf(log, "result ") <= before || p == std::string::npos) {
      error = "generator gave no result:\n" + log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
      return {};
    }
    std::map<std::string, double> out;
    std::istringstream in(log.substr(p + 7, log.find('\n', p) - p - 7));
    std::string kv;
    while (in >> kv)
      if (auto eq = kv.find('='); eq != std::string::npos)
        out[kv.substr(0, eq)] = std::stod(kv.substr(eq + 1));
    return out;
  }

  int ports() const { return ports_; }
  pid_t pid() const { return proc_->pid(); }

 private:
  std::string prefix_;
  int ports_;
  std::unique_ptr<Process> proc_;
};

// Shares (percent) of a perf recording's samples by kind of object: "vhost"
// (librte_vhost), "own" (the forwarder's executable), "pmd" (librte_net_*),
// "dpdk" (other librte_*), "kernel", "other"; empty when perf failed.
std::map<std::string, double> profileShares(const std::string& data, const std::string& own) {
  auto r = vfo::testing::run(
      {"perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso"}, 60s);
  std::map<std::string, double> out;
  if (!r.ok()) return out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string pct, dso;
    if (!(f >> pct >> dso) || pct.empty() || pct.back() != '%' || line[0] == '#') continue;
    const double v = std::strtod(pct.c_str(), nullptr);
    std::string kind = "other";
    if (dso.find("librte_vhost") != std::string::npos)
      kind = "vhost";
    else if (dso == own)
      kind = "own";
    else if (dso.find("librte_net_") != std::string::npos)
      kind = "pmd";
    else if (dso.find("librte_") != std::string::npos)
      kind = "dpdk";
    else if (dso.find("[kernel") != std::string::npos)
      kind = "kernel";
    out[kind] += v;
  }
  return out;
}

// One phase: counters before, the generator's run, counters after. With a
// `profile` path, the forwarding thread is sampled by perf during 80% of the
// phase.
std::optional<Phase> runPhase(Forwarder& fwd, Generator& gen, double total_mpps, double seconds,
                              std::string& error, const std::string& profile = "",
                              const std::string& own = "") {
  auto c0 = fwd.read(error);
  if (!c0) return std::nullopt;
  const uint64_t fp0 = preemptions(fwd.pid(), kForwardingThread);
  const uint64_t gp0 = preemptions(gen.pid(), "");
  std::unique_ptr<Process> perf;
  const std::string tid = threadId(fwd.pid(), kForwardingThread);
  auto g = gen.run(total_mpps, seconds, error, [&] {
    if (profile.empty() || tid.empty()) return;
    perf = std::make_unique<Process>(
        std::vector<std::string>{"perf", "record", "-q", "-t", tid, "-o", profile, "--", "sleep",
                                 fmt::format("{:.3f}", seconds * 0.8)},
        profile + ".log");
  });
  if (perf && !perf->waitExit(20s)) perf->stop();
  if (g.empty()) return std::nullopt;
  const uint64_t fp1 = preemptions(fwd.pid(), kForwardingThread);
  const uint64_t gp1 = preemptions(gen.pid(), "");
  auto c1 = fwd.read(error);
  if (!c1) return std::nullopt;
  Phase ph;
  ph.target_mpps = total_mpps;
  ph.seconds = g["seconds"];
  for (int p = 0; p < gen.ports(); ++p) {
    ph.offered += uint64_t(g[fmt::format("offered_{}", p)]);
    ph.refused += uint64_t(g[fmt::format("refused_{}", p)]);
    ph.skipped += uint64_t(g[fmt::format("skipped_{}", p)]);
  }
  ph.max_backlog = uint64_t(g["max_backlog"]);
  if (perf) ph.profile = profileShares(profile, own);
  ph.fwd_preempted = fp1 - fp0;
  ph.gen_preempted = gp1 - gp0;
  ph.behind = g["behind"] != 0;
  ph.in = c1->in - c0->in;
  ph.out = c1->out - c0->out;
  ph.busy_cycles = c1->busy_cycles - c0->busy_cycles;
  if (c1->loops > c0->loops)
    ph.busy_share = double(c1->busy_loops - c0->busy_loops) / double(c1->loops - c0->loops);
  for (const auto& [k, v] : c1->drops)
    if (uint64_t d = v - c0->drops[k]; d != 0) ph.drops[k] = d;
  return ph;
}

// A session: start the forwarder and the generator, warm up, measure the
// max rate, then each paced rate (total Mpps, both directions summed).
SessionResult runSession(bool vfod, int size, bool bidir, double seconds,
                         const std::vector<double>& rates, int nice, int quiet_wait, bool profile) {
  SessionResult r;
  r.idle_at_start = waitQuiet(kQuietIdle, std::chrono::seconds(quiet_wait), r.waited);
  const std::string dir = vfo::testing::makeTempDir("vfo-bench-relay-");
  {
    std::unique_ptr<Forwarder> fwd;
    if (vfod)
      fwd = std::make_unique<VfodForwarder>(dir, size, bidir);
    else
      fwd = std::make_unique<TestpmdForwarder>(dir, size, bidir);
    r.error = fwd->start();
    if (r.error.empty()) {
      Generator gen(dir, *fwd, size, bidir);
      r.error = gen.waitReady();
      if (r.error.empty()) r.error = fwd->waitForwarding();
      if (r.error.empty() && nice != 0) {
        reniceAll(fwd->pid(), nice);
        reniceAll(gen.pid(), nice);
      }
      std::string err;
      if (r.error.empty() && gen.run(0, kWarmupSeconds, err).empty()) r.error = err;
      if (r.error.empty()) {
        r.max = runPhase(*fwd, gen, 0, seconds, err, profile ? dir + "/perf.data" : "",
                         vfod ? "vfod" : "dpdk-testpmd");
        if (!r.max) r.error = err;
      }
      for (size_t i = 0; r.error.empty() && i < rates.size(); ++i) {
        auto ph = runPhase(*fwd, gen, rates[i], seconds, err);
        if (!ph)
          r.error = err;
        else
          r.rates.push_back(*ph);
      }
    }
  }
  vfo::testing::removeTree(dir);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// "median [min-max]" with `digits` decimals.
std::string spread(const std::vector<double>& v, int digits) {
  if (v.empty()) return "-";
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt::format("{:.{}f} [{:.{}f}-{:.{}f}]", median(v), digits, *lo, digits, *hi, digits);
}

std::string dropsText(const std::map<std::string, uint64_t>& drops) {
  std::string s;
  for (const auto& [k, v] : drops)
    if (v) s += fmt::format("{}{} {}", s.empty() ? "" : ", ", k, v);
  return s.empty() ? "0" : s;
}

// Figures of one forwarder over all runs of one configuration.
struct Series {
  std::vector<double> max_mpps;               // max phase: delivered Mpps per run
  std::vector<double> max_cycles;             // max phase: cycles per frame per run
  std::vector<std::vector<Phase>> rate_runs;  // per paced rate: every run's phase
  std::vector<std::string> errors;            // per failed session
  std::vector<double> vhost_share;            // --profile: vhost share of user samples, %
  int sessions = 0;                           // sessions run
  int quiet = 0;                              // of those, started on a quiet machine
};

void addSession(Series& s, const SessionResult& r, size_t nrates) {
  if (!r.error.empty()) s.errors.push_back(r.error);
  ++s.sessions;
  if (r.idle_at_start >= kQuietIdle) ++s.quiet;
  if (r.max) {
    s.max_mpps.push_back(r.max->deliveredMpps());
    if (r.max->cycles() > 0) s.max_cycles.push_back(r.max->cycles());
    const auto& pr = r.max->profile;
    const double user = 100 - (pr.count("kernel") ? pr.at("kernel") : 0);
    if (pr.count("vhost") && user > 0) s.vhost_share.push_back(pr.at("vhost") / user * 100);
  }
  s.rate_runs.resize(nrates);
  for (size_t i = 0; i < r.rates.size() && i < nrates; ++i) s.rate_runs[i].push_back(r.rates[i]);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int repeat = 3;
  int nice = 0;
  int quiet_wait = 60;
  bool profile = false;
  bool verbose = false;
  std::vector<int> sizes{64, 1518};
  std::vector<std::string> modes{"tx", "bidir"};
  auto list = [](const std::string& v) {
    std::vector<std::string> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(item);
    return out;
  };
  auto usage = [] {
    fmt::print(stderr,
               "usage: vfo_bench_relay [--seconds N] [--repeat N] [--sizes 64,1518] "
               "[--modes tx,bidir] [--nice N] [--quiet-wait S] [--profile] [-v]\n");
    return 2;
  };
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--seconds" && i + 1 < argc) {
        seconds = std::stod(argv[++i]);
        if (seconds <= 0) return usage();
      } else if (a == "--sizes" && i + 1 < argc) {
        sizes.clear();
        for (const auto& s : list(argv[++i])) sizes.push_back(std::stoi(s));
      } else if (a == "--nice" && i + 1 < argc) {
        nice = std::stoi(argv[++i]);
        if (nice < -20 || nice > 19) return usage();
      } else if (a == "--quiet-wait" && i + 1 < argc) {
        quiet_wait = std::stoi(argv[++i]);
        if (quiet_wait < 0) return usage();
      } else if (a == "--profile") {
        profile = true;
      } else if (a == "-v") {
        verbose = true;
      } else if (a == "--repeat" && i + 1 < argc) {
        repeat = std::max(1, std::stoi(argv[++i]));
      } else if (a == "--modes" && i + 1 < argc) {
        modes = list(argv[++i]);
        for (const auto& m : modes)
          if (m != "tx" && m != "bidir") return usage();
      } else {
        return usage();
      }
    }
  } catch (const std::exception&) {
    return usage();
  }
  for (int s : sizes)
    if (s < 60 || s > 1518) return usage();
  // Progress shows line by line also when stdout is a file.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // The bench and everything it runs without its own lcore list (vfod
  // --stats, stdbuf) stay off the forwarder's core 1.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(0, &cpus);
  sched_setaffinity(0, sizeof cpus, &cpus);

  const double hz = tscHz();
  fmt::print(
      "relay benchmark: forwarder on lcore 1 (vfod relay worker | testpmd io-fwd), paced\n"
      "generator vfo_relay_gen on lcore 0; {} s phases, {} runs per forwarder (+2 calibration),\n"
      "nice {}, TSC {:.0f} MHz, load average at start {}\n",
      seconds, repeat, nice, hz / 1e6, loadAverage());
  int rc = 0;
  std::string verdicts;
  std::string verdicts_profile;  // --profile only
  for (const auto& mode : modes) {
    for (int size : sizes) {
      const bool bidir = mode == "bidir";
      const std::string name = fmt::format("{} {} B", bidir ? "bidir" : "guest->uplink", size);
      fmt::print("\n== {} (uplink {})\n", name,
                 bidir ? "net_vhost <-> generator virtio-user" : "net_null sink");
      std::fflush(stdout);
      Series base, vfod;
      // Calibration: each forwarder's max rate, to place the paced rates;
      // the better of two sessions each (a disturbed one only reads low).
      double bmax = 0, vmax = 0;
      std::string calib_errors;
      for (int c = 0; c < 2; ++c) {
        const SessionResult cb =
            runSession(false, size, bidir, seconds, {}, nice, quiet_wait, profile);
        const SessionResult cv =
            runSession(true, size, bidir, seconds, {}, nice, quiet_wait, profile);
        addSession(base, cb, 0);
        addSession(vfod, cv, 0);
        if (cb.max) bmax = std::max(bmax, cb.max->deliveredMpps());
        if (cv.max) vmax = std::max(vmax, cv.max->deliveredMpps());
        calib_errors += cb.error + cv.error;
      }
      if (bmax <= 0 || vmax <= 0) {
        fmt::print("  calibration failed: {}\n", calib_errors);
        rc = 1;
        continue;
      }
      struct Rate {
        double mpps;        // total, both directions
        std::string label;  // how it was chosen
        std::string tag;    // short label for the table
      };
      std::vector<Rate> rates{{0.5 * vmax, "50% vfod max", "50%v"},
                              {0.7 * vmax, "70% vfod max", "70%v"},
                              {0.9 * vmax, "90% vfod max", "90%v"},
                              {0.9 * bmax, "90% testpmd max", "90%t"}};
      std::sort(rates.begin(), rates.end(), [](auto& a, auto& b) { return a.mpps < b.mpps; });
      std::vector<double> rate_mpps;
      for (const auto& r : rates) rate_mpps.push_back(r.mpps);
      fmt::print("  calibration max (better of 2): testpmd {:.2f} Mpps, vfod {:.2f} Mpps\n", bmax,
                 vmax);
      for (int i = 0; i < repeat; ++i) {
        const SessionResult b =
            runSession(false, size, bidir, seconds, rate_mpps, nice, quiet_wait, profile);
        const SessionResult v =
            runSession(true, size, bidir, seconds, rate_mpps, nice, quiet_wait, profile);
        addSession(base, b, rates.size());
        addSession(vfod, v, rates.size());
        if (verbose) {
          using Named = std::pair<const char*, const SessionResult*>;
          for (const auto& [who, r] : {Named{"testpmd", &b}, Named{"vfod", &v}}) {
            fmt::print("  run {} {:<7} started at {:.0f}% idle (busier CPU) after {:.1f} s\n", i,
                       who, r->idle_at_start * 100, r->waited);
            if (r->max && !r->max->profile.empty()) {
              std::string p;
              for (const auto& [k, v] : r->max->profile)
                p += fmt::format("{}{} {:.1f}%", p.empty() ? "" : ", ", k, v);
              fmt::print("  run {} {:<7} max phase profile: {}\n", i, who, p);
            }
            if (r->max)
              fmt::print(
                  "  run {} {:<7} max {:.2f} Mpps {:.1f} cycles/frame, refused {}, "
                  "preempted fwd {} gen {}{}\n",
                  i, who, r->max->deliveredMpps(), r->max->cycles(), r->max->refused,
                  r->max->fwd_preempted, r->max->gen_preempted,
                  r->max->busy_share >= 0
                      ? fmt::format(" ({:.0f}% busy polls)", r->max->busy_share * 100)
                      : "");
            for (const auto& ph : r->rates)
              fmt::print(
                  "  run {} {:<7} rate {:.2f}: offered {:.3f} delivered {:.3f} Mpps, {:.1f} "
                  "cycles/frame, drops {}, refused {}, skipped {} (backlog max {}), preempted "
                  "fwd {} gen {}{}\n",
                  i, who, ph.target_mpps, ph.offeredMpps(), ph.deliveredMpps(), ph.cycles(),
                  dropsText(ph.drops), ph.refused, ph.skipped, ph.max_backlog, ph.fwd_preempted,
                  ph.gen_preempted, ph.behind ? " BEHIND" : "");
          }
        }
      }
      for (const auto* s : {&base, &vfod})
        for (const auto& e : s->errors) {
          fmt::print("  {} session failed: {}\n", s == &base ? "testpmd" : "vfod", e);
          rc = 1;
        }
      // Max rate: delivered with the generator unpaced.
      const double bm = median(base.max_mpps), vm = median(vfod.max_mpps);
      fmt::print(
          "  sessions started on a quiet machine (both CPUs >= {:.0f}% idle): testpmd {} of {}, "
          "vfod {} of {}\n",
          kQuietIdle * 100, base.quiet, base.sessions, vfod.quiet, vfod.sessions);
      fmt::print("  max rate (generator unpaced), median [min-max] over {} / {} runs:\n",
                 base.max_mpps.size(), vfod.max_mpps.size());
      fmt::print("    testpmd {:>22} Mpps   cycles/frame {:>22}\n", spread(base.max_mpps, 2),
                 spread(base.max_cycles, 1));
      fmt::print("    vfod    {:>22} Mpps   cycles/frame {:>22}\n", spread(vfod.max_mpps, 2),
                 spread(vfod.max_cycles, 1));
      fmt::print("    vfod / testpmd delivered: {:.0f}%\n", bm > 0 ? vm / bm * 100 : 0.0);
      if (!base.vhost_share.empty() && !vfod.vhost_share.empty()) {
        const double bs = median(base.vhost_share), vs = median(vfod.vhost_share);
        fmt::print(
            "  profile of the forwarding thread in the max phase (--profile): vhost library share\n"
            "  of user-space samples testpmd {}%, vfod {}%; per-frame cost ratio (testpmd / vfod\n"
            "  = vfod share / testpmd share, medians): {:.0f}%\n",
            spread(base.vhost_share, 1), spread(vfod.vhost_share, 1), bs > 0 ? vs / bs * 100 : 0.0);
        verdicts_profile += fmt::format("  {}: vfod capacity from profiles {:.0f}% of testpmd's\n",
                                        name, bs > 0 ? vs / bs * 100 : 0.0);
      }
      // Paced rates.
      fmt::print(
          "  paced rates ({} s each, {} runs; Mpps and cycles/frame: median [min-max]; drops and\n"
          "  refused: sum over runs):\n",
          seconds, repeat);
      fmt::print("    {:<16} {:<8} {:>21} {:>21} {:>23} {:>8} {:>9}  {}\n", "rate", "fwd",
                 "offered Mpps", "delivered Mpps", "cycles/frame", "preempt", "refused",
                 "drops by reason; generator");
      double zero_drop_up_to = 0;
      bool zero_so_far = true;
      std::string per_rate;  // vfod: lossless runs per paced rate
      int all_lossy = 0, all_lossy_preempted = 0;
      std::string cost_ratios;
      for (size_t i = 0; i < rates.size(); ++i) {
        double cyc[2] = {0, 0};
        for (int w = 0; w < 2; ++w) {
          const Series& s = w == 0 ? base : vfod;
          const auto& runs = i < s.rate_runs.size() ? s.rate_runs[i] : std::vector<Phase>{};
          std::vector<double> off, del, cycles;
          std::map<std::string, uint64_t> drops;
          uint64_t refused = 0, skipped = 0;
          int lossy = 0, lossy_preempted = 0;
          std::vector<double> fpre, gpre;
          int behind = 0;
          for (const auto& ph : runs) {
            off.push_back(ph.offeredMpps());
            del.push_back(ph.deliveredMpps());
            if (ph.cycles() > 0) cycles.push_back(ph.cycles());
            for (const auto& [k, v] : ph.drops) drops[k] += v;
            refused += ph.refused;
            skipped += ph.skipped;
            if (ph.refused + ph.dropTotal() > 0) {
              ++lossy;
              if (ph.fwd_preempted > 0) ++lossy_preempted;
            }
            behind += ph.behind ? 1 : 0;
            fpre.push_back(double(ph.fwd_preempted));
            gpre.push_back(double(ph.gen_preempted));
          }
          cyc[w] = median(cycles);
          std::string gen = behind ? fmt::format(
                                         "BEHIND in {} of {} runs (offered < 99% of the "
                                         "rate asked: the rate is the generator's)",
                                         behind, runs.size())
                                   : "kept the rate";
          if (skipped) gen += fmt::format(", skipped {} frames after stalls", skipped);
          if (lossy)
            gen += fmt::format("; losses in {} of {} runs, {} of them with the forwarder preempted",
                               lossy, runs.size(), lossy_preempted);
          fmt::print("    {:<16} {:<8} {:>21} {:>21} {:>23} {:>8} {:>9}  {}; {}\n",
                     fmt::format("{:.2f} {}", rates[i].mpps, rates[i].tag),
                     w == 0 ? "testpmd" : "vfod", spread(off, 3), spread(del, 3), spread(cycles, 1),
                     fmt::format("{:.0f}/{:.0f}", median(fpre), median(gpre)), refused,
                     dropsText(drops), gen);
          if (w == 1) {
            uint64_t d = refused;
            for (const auto& [k, v] : drops) d += v;
            const bool clean = !runs.empty() && d == 0 && behind == 0;
            if (zero_so_far && clean) zero_drop_up_to = rates[i].mpps;
            zero_so_far = zero_so_far && clean;
            per_rate += fmt::format("{}{:.2f} Mpps {}/{}", per_rate.empty() ? "" : ", ",
                                    rates[i].mpps, int(runs.size()) - lossy, runs.size());
            if (behind) per_rate += fmt::format(" (generator behind in {})", behind);
            all_lossy += lossy;
            all_lossy_preempted += lossy_preempted;
          }
        }
        if (cyc[0] > 0 && cyc[1] > 0)
          cost_ratios += fmt::format("{}{:.2f} Mpps {:.0f}%", cost_ratios.empty() ? "" : ", ",
                                     rates[i].mpps, cyc[0] / cyc[1] * 100);
      }
      fmt::print("    rates: {}\n", [&] {
        std::string s;
        for (const auto& r : rates)
          s += fmt::format("{}{:.2f} = {}", s.empty() ? "" : ", ", r.mpps, r.label);
        return s;
      }());
      fmt::print("  cost ratio (testpmd cycles / vfod cycles at the same paced rate): {}\n",
                 cost_ratios.empty() ? "-" : cost_ratios);
      const double top = rates.back().mpps;
      verdicts += fmt::format(
          "  {}: vfod max {:.2f} Mpps = {:.0f}% of testpmd's {:.2f}; {}\n"
          "    vfod runs without loss (0 drops, 0 refused) per paced rate: {}{}\n",
          name, vm, bm > 0 ? vm / bm * 100 : 0.0, bm,
          zero_drop_up_to > 0
              ? fmt::format("0 drops and 0 refused in every run at every paced rate up to {:.2f} "
                            "Mpps{}",
                            zero_drop_up_to, zero_drop_up_to >= top ? " (the highest asked)" : "")
              : std::string("losses (or a generator behind) already at the lowest paced rate"),
          per_rate,
          all_lossy == 0 ? ""
          : all_lossy_preempted == all_lossy
              ? fmt::format("; the forwarder was preempted in every one of the {} lossy runs",
                            all_lossy)
              : fmt::format("; {} of {} lossy runs without a forwarder preemption",
                            all_lossy - all_lossy_preempted, all_lossy));
      std::fflush(stdout);
    }
  }
  fmt::print(
      "\nSummary (target: vfod >= 90% of testpmd io-fwd at 64 B with anti-spoof and learning,\n"
      "zero drops below that rate):\n{}{}"
      "\noffered: frames the generator handed to its TX rings per second; delivered: frames the\n"
      "  forwarder transmitted per second (both directions summed in bidir); refused: offered\n"
      "  frames the forwarder did not take from the ring in time (lost like drops). drops: the\n"
      "  forwarder's own counters (vfod drop_* by reason; testpmd TX-dropped / RX-dropped).\n"
      "  The generator checks its own pace by TSC: BEHIND means it could not offer the rate.\n"
      "cycles/frame: forwarder TSC cycles in iterations that moved frames per frame taken in;\n"
      "  capacity = TSC Hz / cycles/frame. Load average at the end: {}\n",
      verdicts, verdicts_profile, loadAverage());
  return rc;
}
