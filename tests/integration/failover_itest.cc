// The vertical slice on the real lab: vfod (a process, config written here)
// hosts lag-core's LagRuntime and makes software VFs (macvlans) on the lab's
// two host ports through sriov-manager; a testpmd virtio-user guest answers
// ARP and ping (icmpecho). The remote host pings the guest every
// millisecond; `vfo-lab cut pf0` must leave the pings flowing over pf1 with
// at most a handful lost, the ToR must show the guest MAC on tor-p1, and
// restoring pf0 must bring the port back (active-backup, failback on). In
// balance-vm, only the ports homed on the cut member move.
//
// CPUs: vfod's control thread is lcore 0 and its relay worker lcore 1 (it
// sleeps when idle, idle backoff 100 us); testpmd forwards on lcore 0 and
// keeps its main lcore (stats only) on 1, so the worker and testpmd's
// forwarding core never share a CPU.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "vfo/testing/guest.h"
#include "vfo/testing/lab.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace vfo::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGuestIp = "198.18.0.10";
constexpr const char* kGuest2Ip = "198.18.0.11";
constexpr const char* kGuestMac = "52:54:00:5c:00:01";
constexpr const char* kGuest2Mac = "52:54:00:5c:00:02";

std::string vfodBinary() {
  return binaryDir() + "/vhost-backend/vfod";
}

void writeFile(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  fputs(text.c_str(), f);
  fclose(f);
}

std::vector<std::string> splitWords(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The stats line "port <id> state <s> vhost <v> active_member <m>", or "".
std::string portStateLine(const std::string& stats, const std::string& port) {
  std::istringstream in(stats);
  for (std::string line; std::getline(in, line);) {
    auto w = splitWords(line);
    if (w.size() == 8 && w[0] == "port" && w[1] == port && w[2] == "state" && w[4] == "vhost" &&
        w[6] == "active_member")
      return line;
  }
  return "";
}

// One vfod process with software VFs on the lab's two ports.
class VfodProcess {
 public:
  VfodProcess(const Lab& lab, const std::string& dir, const std::string& lag_extra,
              const std::string& ports)
      : dir_(dir), prefix_(uniqueName("vfsl")) {
    config_ = dir + "/vfod.textproto";
    writeFile(config_, "eal { main_lcore: 0 worker_lcores: 1 file_prefix: \"" + prefix_ +
                           "\" }\n"
                           "memory { hugepages: HUGEPAGES_NEVER size_mb: 256 mbufs: 8192 }\n"
                           "sockets { dir: \"" +
                           dir + "/sock\" }\nstate_dir: \"" + dir +
                           "/state\"\n"
                           "api { listen: \"unix://" +
                           dir +
                           "/api.sock\" }\nlibvirt { uri: \"none\" }\n"
                           "datapath { idle_backoff_max { nanos: 100000 } }\n"
                           "lag {\n  vf_provider: VF_PROVIDER_SOFTWARE\n" +
                           lag_extra + "  members { name: \"pf0\" netdev: \"" + lab.pf(0) +
                           "\" }\n  members { name: \"pf1\" netdev: \"" + lab.pf(1) + "\" }\n}\n" +
                           ports);
  }
  ~VfodProcess() {
    stop();
    removeTree("/var/run/dpdk/" + prefix_);
  }

  bool start() {
    proc_ = std::make_unique<Process>(std::vector<std::string>{vfodBinary(), "--config", config_},
                                      dir_ + "/vfod." + std::to_string(++starts_) + ".log");
    const bool up = waitFor(
        [&] {
          return !proc_->running() || proc_->log().find("vfod running:") != std::string::npos;
        },
        30s, 20ms);
    if (!up || !proc_->running()) {
      ADD_FAILURE() << "vfod did not start:\n" << proc_->log();
      return false;
    }
    return true;
  }
  int stop() { return proc_ ? proc_->stop(10s) : 0; }
  int kill() { return proc_ ? proc_->kill() : 0; }  // SIGKILL: a crash
  std::string log() const { return proc_ ? proc_->log() : ""; }
  std::string socket(const std::string& port) const { return dir_ + "/sock/" + port + ".sock"; }

  // `vfod --stats` output.
  std::string stats() const {
    RunResult r = run({vfodBinary(), "--stats", "--config", config_}, 10s);
    if (!r.ok()) ADD_FAILURE() << "vfod --stats: " << r.describe();
    return r.out;
  }
  bool portLine(const std::string& port, const std::string& what) const {
    const std::string line = portStateLine(stats(), port);
    return !line.empty() && line.find(what) != std::string::npos;
  }
  std::string activeMember(const std::string& port) const {
    auto words = splitWords(portStateLine(stats(), port));
    return words.size() == 8 ? words[7] : "";
  }

 private:
  std::string dir_;
  std::string prefix_;
  std::string config_;
  std::unique_ptr<Process> proc_;
  int starts_ = 0;
};

// Software VFs (macvlans with `mac`) on `dev`.
int softwareVfsOn(const std::string& dev, const std::string& mac) {
  RunResult r = sh("ip -o link show | grep '@" + dev + ":' | grep -c " + mac + " || true");
  return std::atoi(r.out.c_str());
}

// The failover line of vfod's stats for `port` moved from -> to for
// `reason` (an empty from, to or reason matches any).
struct FailoverLine {
  long switched_us = -1;     // cause seen -> datapath switched
  long first_frame_us = -1;  // cause seen -> first announce frame handed out
  int frames = 0;            // announce frames
};
std::optional<FailoverLine> failoverLine(const std::string& stats, const std::string& port,
                                         const std::string& from, const std::string& to,
                                         const std::string& reason) {
  // "failover <seq> port <id> from <m> to <m> reason <r> switched_us <x>
  // first_frame_us <y> frames <n>": the last one that matches.
  std::optional<FailoverLine> last;
  std::istringstream in(stats);
  for (std::string line; std::getline(in, line);) {
    auto w = splitWords(line);
    if (w.size() != 16 || w[0] != "failover" || w[2] != "port" || w[3] != port ||
        (!from.empty() && w[5] != from) || (!to.empty() && w[7] != to) ||
        (!reason.empty() && w[9] != reason) || w[10] != "switched_us" ||
        w[12] != "first_frame_us" || w[14] != "frames")
      continue;
    FailoverLine l;
    l.switched_us = std::stol(w[11]);
    l.first_frame_us = std::stol(w[13]);
    l.frames = std::stoi(w[15]);
    last = l;
  }
  return last;
}

std::unique_ptr<TestpmdGuest> startGuest(const std::string& socket, const std::string& mac,
                                         const std::string& work_dir) {
  TestpmdOptions o;
  o.socket = socket;
  o.mac = mac;
  o.mode = TestpmdMode::kIcmpEcho;
  o.lcores = "0@0,1@1";  // forwarding lcore 0 on CPU 0, main lcore 1 on CPU 1
  o.main_lcore = 1;
  o.work_dir = work_dir;
  auto g = std::make_unique<TestpmdGuest>(o);
  Status s = g->start();
  EXPECT_TRUE(s.isOk()) << s.toString();
  s = g->waitReady(30s);
  EXPECT_TRUE(s.isOk()) << s.toString();
  return g;
}

// A background ping from the remote host: `count` requests `interval` apart.
class BackgroundPing {
 public:
  BackgroundPing(const Lab& lab, const std::string& ip, int count, const std::string& interval,
                 const std::string& log)
      : proc_(std::vector<std::string>{"ip", "netns", "exec", lab.remoteNs(), "ping", "-n", "-D",
                                       "-i", interval, "-c", std::to_string(count), "-W", "1", ip},
              log) {}
  // The longest time without a reply between two replies, in ms (the outage
  // as the remote host saw it), from ping's -D timestamps.
  double longestGapMs() const {
    // "[1700000000.123456] 64 bytes from ...": the -D timestamp of a reply.
    const std::string log = proc_.log();
    double prev = -1, gap = 0;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);) {
      if (line.size() < 3 || line[0] != '[' || line.find("] ") == std::string::npos ||
          line.find(" bytes from ") == std::string::npos)
        continue;
      const double t = std::stod(line.substr(1, line.find(']') - 1));
      if (prev >= 0) gap = std::max(gap, (t - prev) * 1000.0);
      prev = t;
    }
    return gap;
  }
  // Waits until reply `seq` was printed.
  bool waitSeq(int seq, std::chrono::milliseconds timeout) {
    const std::string needle = "icmp_seq=" + std::to_string(seq) + " ";
    return waitFor([&] { return proc_.log().find(needle) != std::string::npos; }, timeout, 5ms);
  }
  PingResult finish(std::chrono::milliseconds timeout) {
    if (!proc_.waitExit(timeout)) proc_.stop(1s);
    RunResult r;
    r.exit_code = proc_.exitCode();
    r.out = proc_.log();
    return parsePing(r);
  }

 private:
  Process proc_;
};

class FailoverItest : public LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    dir_ = makeTempDir("vfo-failover-");
  }
  void TearDown() override {
    guests_.clear();
    vfod_.reset();
    // Software VFs are deleted by vfod's clean stop; nothing named vfo* may
    // remain on the lab's ports.
    if (lab_) {
      for (int i = 0; i < Lab::kPorts; ++i) {
        RunResult r = sh("ip -o link show | grep -c '@" + lab_->pf(i) + ":' || true");
        EXPECT_EQ(r.out, "0\n") << "macvlans left on " << lab_->pf(i);
      }
    }
    removeTree(dir_);
    LabTest::TearDown();
  }

  // Waits until `ip` answers the remote host.
  bool answers(const std::string& ip) {
    return waitFor([&] { return lab_->ping(lab_->remoteNs(), ip, 1).allReceived(); }, 30s, 100ms);
  }

  std::string dir_;
  std::unique_ptr<VfodProcess> vfod_;
  std::vector<std::unique_ptr<TestpmdGuest>> guests_;
};

TEST_F(FailoverItest, ActiveBackupCutKeepsPingsFlowingAndFailsBack) {
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "  mode: LAG_MODE_ACTIVE_BACKUP\n  primary: \"pf0\"\n",
      std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  ASSERT_TRUE(vfod_->start());
  // The software VFs exist: one macvlan per member with the guest MAC.
  for (int i = 0; i < Lab::kPorts; ++i) {
    RunResult r = sh("ip -o link show | grep '@" + lab_->pf(i) + ":' | grep -c " + kGuestMac);
    EXPECT_EQ(r.out, "1\n") << "no software VF with the guest MAC on " << lab_->pf(i) << "\n"
                            << vfod_->log();
  }
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  ASSERT_TRUE(waitFor([&] { return vfod_->portLine("vm1", "vhost running"); }, 30s, 100ms))
      << vfod_->stats();
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf0");
  ASSERT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(0); }, 5s))
      << "ToR has not learned the guest on " << lab_->torPort(0);

  // 1 ms pings for 4 s; the cable is cut after the 500th reply.
  BackgroundPing ping(*lab_, kGuestIp, 4000, "0.001", dir_ + "/ping-cut.log");
  ASSERT_TRUE(ping.waitSeq(500, 10s)) << "pings did not start flowing";
  const auto cut_at = std::chrono::steady_clock::now();
  lab_->cut(0);
  const bool moved =
      waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(1); }, 5s, 1ms);
  const auto relearned_after = std::chrono::steady_clock::now() - cut_at;
  EXPECT_TRUE(moved) << "ToR did not relearn the guest on " << lab_->torPort(1);
  const PingResult cut = ping.finish(30s);
  ASSERT_GT(cut.transmitted, 3000) << cut.run.out;
  const int lost = cut.transmitted - cut.received;
  std::printf(
      "active-backup cut pf0: %d of %d pings lost at 1 ms, longest gap between replies "
      "%.1f ms; ToR fdb showed the guest on tor-p1 %.1f ms after vfo-lab cut was called\n",
      lost, cut.transmitted, ping.longestGapMs(),
      std::chrono::duration<double, std::milli>(relearned_after).count());
  EXPECT_LE(lost, 10) << "more than a handful of pings lost";

  const std::string stats = vfod_->stats();
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf1");
  auto f = failoverLine(stats, "vm1", "pf0", "pf1", "member-down");
  ASSERT_TRUE(f.has_value()) << stats;
  EXPECT_GE(f->switched_us, 0);
  EXPECT_GE(f->first_frame_us, f->switched_us);
  EXPECT_GE(f->frames, 2) << "RARP and GARP at least";
  std::printf(
      "vfod timeline: carrier loss seen -> switched +%ld us -> first announce +%ld us, "
      "%d frames\n",
      f->switched_us, f->first_frame_us, f->frames);
  EXPECT_NE(vfod_->log().find("failover pf0 -> pf1 (member-down)"), std::string::npos)
      << vfod_->log();

  // Failback: pf0 returns, the port goes back and the ToR relearns it there.
  lab_->restore(0);
  EXPECT_TRUE(waitFor([&] { return vfod_->activeMember("vm1") == "pf0"; }, 10s, 20ms))
      << vfod_->stats();
  EXPECT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(0); }, 5s, 5ms))
      << "ToR did not relearn the guest on " << lab_->torPort(0) << " after failback";
  const PingResult after = lab_->ping(lab_->remoteNs(), kGuestIp, 20, 10ms);
  EXPECT_TRUE(after.allReceived()) << after.run.out;
  EXPECT_TRUE(failoverLine(vfod_->stats(), "vm1", "pf1", "pf0", /*any reason*/ "").has_value());
}

TEST_F(FailoverItest, ACrashedVfodsSoftwareVfsAreAdoptedNotDuplicated) {
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "", std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  ASSERT_TRUE(vfod_->start());
  ASSERT_EQ(softwareVfsOn(lab_->pf(0), kGuestMac), 1);
  ASSERT_EQ(softwareVfsOn(lab_->pf(1), kGuestMac), 1);
  vfod_->kill();
  // A crash releases nothing: the macvlans are still there.
  EXPECT_EQ(softwareVfsOn(lab_->pf(0), kGuestMac), 1);
  EXPECT_EQ(softwareVfsOn(lab_->pf(1), kGuestMac), 1);
  ASSERT_TRUE(vfod_->start());
  EXPECT_NE(vfod_->log().find("software VF adopted: vm1 on " + lab_->pf(0)), std::string::npos)
      << vfod_->log();
  EXPECT_NE(vfod_->log().find("software VF adopted: vm1 on " + lab_->pf(1)), std::string::npos);
  EXPECT_EQ(softwareVfsOn(lab_->pf(0), kGuestMac), 1) << "adopted, not duplicated";
  EXPECT_EQ(softwareVfsOn(lab_->pf(1), kGuestMac), 1);
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  // A clean stop deletes them (TearDown checks nothing is left).
  guests_.clear();
  EXPECT_EQ(vfod_->stop(), 0);
  EXPECT_EQ(softwareVfsOn(lab_->pf(0), kGuestMac), 0);
  EXPECT_EQ(softwareVfsOn(lab_->pf(1), kGuestMac), 0);
}

TEST_F(FailoverItest, BalanceFlowKeepsPingsFlowingWhicheverMemberIsCut) {
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "  mode: LAG_MODE_BALANCE_FLOW\n",
      std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  ASSERT_TRUE(vfod_->start());
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  for (int member = 0; member < Lab::kPorts; ++member) {
    BackgroundPing ping(*lab_, kGuestIp, 1500, "0.002",
                        dir_ + "/ping-flow" + std::to_string(member) + ".log");
    ASSERT_TRUE(ping.waitSeq(200, 10s));
    lab_->cut(member);
    const PingResult r = ping.finish(30s);
    std::printf("balance-flow cut pf%d: %d of %d pings lost at 2 ms, longest gap %.1f ms\n", member,
                r.transmitted - r.received, r.transmitted, ping.longestGapMs());
    EXPECT_LE(r.transmitted - r.received, 10);
    EXPECT_NE(
        vfod_->log().find("balance-flow: live members [pf" + std::to_string(1 - member) + "]"),
        std::string::npos)
        << vfod_->log();
    lab_->restore(member);
    ASSERT_TRUE(waitFor(
        [&] {
          return vfod_->log().rfind("balance-flow: live members [pf0 pf1]") >
                 vfod_->log().rfind("balance-flow: live members [pf" + std::to_string(1 - member) +
                                    "]");
        },
        10s, 20ms))
        << vfod_->log();
  }
  EXPECT_EQ(vfod_->stats().find("failover 1 "), std::string::npos)
      << "balance-flow moves no port and announces nothing";
}

TEST_F(FailoverItest, BothMembersDownDegradesThePortUntilOneReturns) {
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "", std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  ASSERT_TRUE(vfod_->start());
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  lab_->cut(0);
  lab_->cut(1);
  ASSERT_TRUE(waitFor([&] { return vfod_->activeMember("vm1") == "none"; }, 5s, 20ms))
      << vfod_->stats();
  const std::string st = vfod_->stats();
  EXPECT_NE(st.find("degraded_events=1"), std::string::npos) << st;
  EXPECT_TRUE(failoverLine(st, "vm1", "pf1", "none", "all-members-down").has_value()) << st;
  // The guest keeps talking into the void: counted, not sent.
  EXPECT_FALSE(lab_->ping(lab_->remoteNs(), kGuestIp, 1).allReceived());
  // pf1 comes back first: the port recovers by itself, on pf1.
  lab_->restore(1);
  EXPECT_TRUE(waitFor([&] { return vfod_->activeMember("vm1") == "pf1"; }, 5s, 20ms))
      << vfod_->stats();
  EXPECT_TRUE(answers(kGuestIp)) << vfod_->stats();
  EXPECT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(1); }, 5s));
  lab_->restore(0);
}

TEST_F(FailoverItest, ActiveBackupWithoutFailbackStaysOnTheSurvivor) {
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "  failback: false\n",
      std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  ASSERT_TRUE(vfod_->start());
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  lab_->cut(0);
  ASSERT_TRUE(waitFor([&] { return vfod_->activeMember("vm1") == "pf1"; }, 5s, 10ms));
  lab_->restore(0);
  // pf0 is back (the runtime logs it) but the port stays on pf1.
  ASSERT_TRUE(waitFor(
      [&] {
        const std::string log = vfod_->log();
        return log.rfind("link " + lab_->pf(0) + " up") > log.find("link " + lab_->pf(0) + " down");
      },
      5s, 10ms))
      << vfod_->log();
  const PingResult after = lab_->ping(lab_->remoteNs(), kGuestIp, 20, 10ms);
  EXPECT_TRUE(after.allReceived()) << after.run.out;
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf1");
  EXPECT_EQ(lab_->fdbPortOf(kGuestMac), lab_->torPort(1));
}

TEST_F(FailoverItest, BalanceVmMovesOnlyThePortsOfTheCutMember) {
  // Pins make the homes explicit: vm1 on pf0, vm2 on pf1.
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "  mode: LAG_MODE_BALANCE_VM\n  vm_failback_delay { nanos: 200000000 }\n",
      std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\nports { id: \"vm2\" mac: \"" +
          kGuest2Mac + "\" }\n");
  // Pins live on the members: rewrite the member lines.
  {
    RunResult r = sh("sed -i 's|name: \"pf0\" netdev: \"" + lab_->pf(0) +
                     "\"|& pinned_ports: \"vm1\"|; s|name: \"pf1\" netdev: \"" + lab_->pf(1) +
                     "\"|& pinned_ports: \"vm2\"|' " + dir_ + "/vfod.textproto");
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  ASSERT_TRUE(vfod_->start());
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  guests_.push_back(startGuest(vfod_->socket("vm2"), kGuest2Mac, dir_));
  // icmpecho answers ARP for any address, so both guests would claim both
  // IPs: the remote host gets static neighbours instead.
  {
    RunResult r = lab_->shIn(lab_->remoteNs(),
                             std::string("ip neigh replace ") + kGuestIp + " lladdr " + kGuestMac +
                                 " dev eth0 nud permanent && ip neigh replace " + kGuest2Ip +
                                 " lladdr " + kGuest2Mac + " dev eth0 nud permanent");
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  ASSERT_TRUE(answers(kGuest2Ip)) << vfod_->stats() << vfod_->log();
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf0");
  EXPECT_EQ(vfod_->activeMember("vm2"), "pf1");
  ASSERT_TRUE(waitFor(
      [&] {
        return lab_->fdbPortOf(kGuestMac) == lab_->torPort(0) &&
               lab_->fdbPortOf(kGuest2Mac) == lab_->torPort(1);
      },
      5s))
      << "ToR fdb before the cut is not as homed";

  BackgroundPing p1(*lab_, kGuestIp, 1500, "0.002", dir_ + "/ping1.log");
  BackgroundPing p2(*lab_, kGuest2Ip, 1500, "0.002", dir_ + "/ping2.log");
  ASSERT_TRUE(p1.waitSeq(200, 10s) && p2.waitSeq(200, 10s));
  lab_->cut(0);
  EXPECT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(1); }, 5s, 1ms));
  const PingResult r1 = p1.finish(30s);
  const PingResult r2 = p2.finish(30s);
  std::printf("balance-vm: longest gap between replies vm1 %.1f ms, vm2 %.1f ms\n",
              p1.longestGapMs(), p2.longestGapMs());
  std::printf(
      "balance-vm cut pf0: vm1 (moved) lost %d of %d, vm2 (stayed) lost %d of %d "
      "(2 ms interval)\n",
      r1.transmitted - r1.received, r1.transmitted, r2.transmitted - r2.received, r2.transmitted);
  EXPECT_LE(r1.transmitted - r1.received, 10);
  EXPECT_LE(r2.transmitted - r2.received, 2) << "the guest on the surviving member was disturbed";
  const std::string stats = vfod_->stats();
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf1");
  EXPECT_EQ(vfod_->activeMember("vm2"), "pf1");
  EXPECT_TRUE(failoverLine(stats, "vm1", "pf0", "pf1", "member-down").has_value()) << stats;
  EXPECT_FALSE(failoverLine(stats, "vm2", /*any*/ "", /*any*/ "", "member-down").has_value())
      << stats;

  // pf0 returns: vm1 goes home after the failback delay, vm2 never moved.
  lab_->restore(0);
  EXPECT_TRUE(waitFor([&] { return vfod_->activeMember("vm1") == "pf0"; }, 10s, 20ms))
      << vfod_->stats();
  EXPECT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(0); }, 5s, 5ms));
  EXPECT_EQ(vfod_->activeMember("vm2"), "pf1");
  EXPECT_TRUE(lab_->ping(lab_->remoteNs(), kGuestIp, 5, 10ms).allReceived());
  EXPECT_TRUE(lab_->ping(lab_->remoteNs(), kGuest2Ip, 5, 10ms).allReceived());
}

TEST_F(FailoverItest, SilentPathFailureIsFoundByProbesAndTheTorRelearnsFromTheAnnounce) {
  // ARP probes every 50 ms from each member to the remote host; 3 missed
  // intervals fail a member whose carrier is still up.
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_,
      std::string("  primary: \"pf0\"\n  probe { target: \"") + Lab::kRemoteIp +
          "\" interval { nanos: 50000000 } missed_max: 3 }\n",
      std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  {
    RunResult r = sh("sed -i 's|name: \"pf0\" netdev: \"" + lab_->pf(0) +
                     "\"|& probe_source_ip: \"198.18.0.240\" probe_source_mac: "
                     "\"02:00:00:5c:00:f0\"|; s|name: \"pf1\" netdev: \"" +
                     lab_->pf(1) +
                     "\"|& probe_source_ip: \"198.18.0.241\" probe_source_mac: "
                     "\"02:00:00:5c:00:f1\"|' " +
                     dir_ + "/vfod.textproto");
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  ASSERT_TRUE(vfod_->start());
  guests_.push_back(startGuest(vfod_->socket("vm1"), kGuestMac, dir_));
  ASSERT_TRUE(answers(kGuestIp)) << vfod_->stats() << vfod_->log();
  ASSERT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(0); }, 5s));
  // The probes are answered: both members stay healthy (well past 3 intervals).
  ASSERT_TRUE(waitFor([&] { return lab_->fdbPortOf("02:00:00:5c:00:f1") == lab_->torPort(1); }, 5s))
      << "no probe left pf1";
  const PingResult steady = lab_->ping(lab_->remoteNs(), kGuestIp, 30, 20ms);
  EXPECT_TRUE(steady.allReceived()) << steady.run.out;
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf0");
  EXPECT_EQ(vfod_->log().find("path dead"), std::string::npos) << vfod_->log();

  BackgroundPing ping(*lab_, kGuestIp, 3000, "0.001", dir_ + "/ping-blackhole.log");
  ASSERT_TRUE(ping.waitSeq(500, 10s));
  const auto hole_at = std::chrono::steady_clock::now();
  lab_->blackhole(0);
  // The ToR keeps the guest MAC on tor-p0 (carrier is up, nothing flushes
  // it); only vfod's announce on pf1 can move it.
  const bool moved =
      waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(1); }, 5s, 1ms);
  const double moved_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - hole_at).count();
  EXPECT_TRUE(moved) << "ToR did not relearn the guest on tor-p1\n" << vfod_->log();
  EXPECT_TRUE(lab_->carrier(0)) << "a blackhole keeps the carrier";
  const PingResult r = ping.finish(30s);
  const int lost = r.transmitted - r.received;
  const double gap = ping.longestGapMs();
  std::printf(
      "blackhole pf0 (probes 50 ms x 3): ToR relearned the guest on tor-p1 %.1f ms after "
      "the blackhole; %d of %d pings lost at 1 ms, longest gap between replies %.1f ms\n",
      moved_ms, lost, r.transmitted, gap);
  // Detection takes 3 missed intervals: 100-150 ms after the last answered
  // probe, plus the announce.
  EXPECT_GE(gap, 90.0) << "the outage cannot be shorter than two probe intervals";
  EXPECT_LE(gap, 400.0) << "detection took longer than 3 missed 50 ms intervals allow";
  EXPECT_EQ(vfod_->activeMember("vm1"), "pf1");
  EXPECT_NE(vfod_->log().find("[member pf0] probe verdict: path dead"), std::string::npos);
  EXPECT_TRUE(failoverLine(vfod_->stats(), "vm1", "pf0", "pf1", "member-down").has_value())
      << vfod_->stats();

  // Healed: the probes are answered again, the port returns to pf0 and the
  // ToR relearns it there.
  lab_->heal(0);
  EXPECT_TRUE(waitFor([&] { return vfod_->activeMember("vm1") == "pf0"; }, 10s, 20ms))
      << vfod_->log();
  EXPECT_TRUE(waitFor([&] { return lab_->fdbPortOf(kGuestMac) == lab_->torPort(0); }, 5s, 5ms));
  EXPECT_TRUE(lab_->ping(lab_->remoteNs(), kGuestIp, 10, 10ms).allReceived());
}

// Frames of a pcap as tshark dissects them: one map field -> value per frame.
std::vector<std::map<std::string, std::string>> dissect(const std::string& pcap,
                                                        const std::vector<std::string>& fields) {
  std::vector<std::string> argv{"tshark", "-n", "-r", pcap, "-T", "fields", "-E", "separator=|"};
  for (const auto& f : fields) {
    argv.push_back("-e");
    argv.push_back(f);
  }
  RunResult r = run(argv, 30s);
  EXPECT_TRUE(r.ok()) << r.describe();
  std::vector<std::map<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t end = r.out.find('\n', pos);
    if (end == std::string::npos) end = r.out.size();
    const std::string line = r.out.substr(pos, end - pos);
    pos = end + 1;
    std::map<std::string, std::string> row;
    size_t start = 0;
    for (const auto& f : fields) {
      size_t bar = line.find('|', start);
      if (bar == std::string::npos) bar = line.size();
      row[f] = line.substr(start, bar - start);
      start = bar + 1;
    }
    out.push_back(row);
  }
  return out;
}

// End to end: a QEMU guest (unchanged virtio-net driver) with two IPv4
// addresses and one IPv6 address. vfod learns them from the guest's own
// ARP/ND; after the cut, tshark on the ToR port of pf1 sees RARP, a GARP for
// each IPv4 address and an unsolicited NA for the IPv6 address, all from the
// guest MAC, and the remote host never broadcasts an ARP request for the
// guest again.
TEST_F(FailoverItest, QemuGuestIsAnnouncedWithEveryAddressItUses) {
  vfod_ = std::make_unique<VfodProcess>(
      *lab_, dir_, "", std::string("ports { id: \"vm1\" mac: \"") + kGuestMac + "\" }\n");
  ASSERT_TRUE(vfod_->start());
  QemuGuestOptions o;
  o.socket = vfod_->socket("vm1");
  o.mac = kGuestMac;
  o.ips = {std::string(kGuestIp) + "/24", "198.18.0.12/24"};
  o.ip6s = {"2001:db8:5c::10/64"};
  // ARP from each IPv4 address; an NS from the IPv6 address once DAD is
  // over (for an address nobody has: the NS itself is what vfod learns
  // from). The guest's link-local address is learned from its own ND too.
  o.script =
      "ping -c 2 -W 2 198.18.0.100; a=$?; ping -c 2 -W 2 -I 198.18.0.12 198.18.0.100; b=$?; "
      "sleep 2; ping6 -c 1 -W 1 -I 2001:db8:5c::10 2001:db8:5c::100; result pings $a$b";
  o.hold = GuestHold::kSleep;
  o.timeout = std::chrono::seconds(170);
  o.work_dir = dir_;
  QemuGuest guest(o);
  ASSERT_TRUE(guest.start().isOk());
  ASSERT_TRUE(waitFor([&] { return guest.results().count("pings") > 0; }, 120s, 200ms))
      << guest.log();
  EXPECT_EQ(guest.results()["pings"], "00") << guest.console();
  ASSERT_TRUE(waitFor(
      [&] {
        const std::string st = vfod_->stats();
        const std::string p = std::string("learned port vm1 ") + kGuestMac + " ";
        return st.find(p + kGuestIp + "\n") != std::string::npos &&
               st.find(p + "198.18.0.12\n") != std::string::npos &&
               st.find(p + "2001:db8:5c::10\n") != std::string::npos;
      },
      10s, 100ms))
      << vfod_->stats();
  ASSERT_TRUE(answers(kGuestIp)) << guest.console();
  ASSERT_TRUE(answers("198.18.0.12"));

  const std::string pcap = dir_ + "/tor-p1.pcap";
  Process tshark({"ip", "netns", "exec", lab_->torNs(), "tshark", "-n", "-i", lab_->torPort(1),
                  "-w", pcap, "-f", "arp or rarp or icmp6"},
                 dir_ + "/tshark.log");
  ASSERT_TRUE(waitFor([&] { return tshark.log().find("Capturing on") != std::string::npos; }, 20s))
      << tshark.log();
  BackgroundPing ping(*lab_, kGuestIp, 300, "0.01", dir_ + "/ping-e2e.log");
  ASSERT_TRUE(ping.waitSeq(50, 10s));
  lab_->cut(0);
  ASSERT_TRUE(waitFor(
      [&] { return failoverLine(vfod_->stats(), "vm1", "pf0", "pf1", "member-down").has_value(); },
      5s, 20ms));
  const PingResult r = ping.finish(30s);
  // The announce's three bursts are 50 ms apart: all out long before this.
  tshark.stop(5s);
  std::printf("e2e cut with a QEMU guest: %d of %d pings lost at 10 ms, longest gap %.1f ms\n",
              r.transmitted - r.received, r.transmitted, ping.longestGapMs());
  EXPECT_LE(r.transmitted - r.received, 3);

  const auto frames =
      dissect(pcap, {"eth.src", "eth.type", "arp.opcode", "arp.src.proto_ipv4",
                     "arp.dst.proto_ipv4", "icmpv6.type", "icmpv6.nd.na.target_address"});
  std::set<std::string> garp, na;
  int rarp = 0, remote_arp_requests = 0;
  const std::string remote_mac = lab_->macOf(lab_->remoteNs(), "eth0");
  for (const auto& f : frames) {
    if (f.at("eth.src") == remote_mac && f.at("arp.opcode") == "1" &&
        f.at("arp.dst.proto_ipv4") == kGuestIp)
      ++remote_arp_requests;
    if (f.at("eth.src") != kGuestMac) continue;
    if (f.at("eth.type") == "0x8035") ++rarp;
    if (f.at("eth.type") == "0x0806" && f.at("arp.src.proto_ipv4") == f.at("arp.dst.proto_ipv4"))
      garp.insert(f.at("arp.src.proto_ipv4"));
    if (f.at("icmpv6.type") == "136") na.insert(f.at("icmpv6.nd.na.target_address"));
  }
  std::printf("tshark on tor-p1: %d RARP, GARP for %zu addresses, NA for %zu addresses\n", rarp,
              garp.size(), na.size());
  EXPECT_GE(rarp, 1);
  EXPECT_EQ(garp, (std::set<std::string>{kGuestIp, "198.18.0.12"}));
  EXPECT_EQ(na.count("2001:db8:5c::10"), 1u) << "no NA for the global IPv6 address";
  EXPECT_EQ(remote_arp_requests, 0) << "the remote host had to ask for the guest again";
  guest.stop();
}

}  // namespace
}  // namespace vfo::testing
