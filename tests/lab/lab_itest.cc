// Smoke tests of the network lab (tests/lab/vfo-lab) through its C++ fixture:
// the lab comes up, hosts on the ToR reach each other (ping, UDP), cut and
// blackhole do what docs/lab.md says, and down leaves nothing behind, also
// after a crash. Needs root; every lab has a unique name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "vfo/testing/lab.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace vfo::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr seconds kWait{10};  // deadline for every condition wait below

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream s(text);
  for (std::string l; std::getline(s, l);) out.push_back(l);
  return out;
}

// Namespaces whose name starts with `prefix`.
std::vector<std::string> namespacesWithPrefix(const std::string& prefix) {
  RunResult r = run({"ip", "netns", "list"});
  EXPECT_TRUE(r.ok()) << r.describe();
  std::vector<std::string> out;
  for (const auto& l : lines(r.out)) {
    std::string name = l.substr(0, l.find(' '));
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

// Root-namespace links whose name starts with `prefix`.
std::vector<std::string> rootLinksWithPrefix(const std::string& prefix) {
  RunResult r = run({"ip", "-o", "link", "show"});
  EXPECT_TRUE(r.ok()) << r.describe();
  std::vector<std::string> out;
  for (const auto& l : lines(r.out)) {
    auto a = l.find(": ");
    if (a == std::string::npos) continue;
    auto b = l.find_first_of(":@", a + 2);
    std::string name = l.substr(a + 2, b - a - 2);
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string operstate(const std::string& dev) {
  std::string s = readFile("/sys/class/net/" + dev + "/operstate");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Whether `dev` in `ns` has carrier (IFF_LOWER_UP; the link is admin up).
bool lowerUp(const std::string& ns, const std::string& dev) {
  RunResult r = run({"ip", "-n", ns, "-o", "link", "show", "dev", dev});
  return r.ok() && r.out.find("LOWER_UP") != std::string::npos;
}

// A temporary directory removed at scope exit.
struct TempDir {
  std::string path = makeTempDir("vfo-lab-test");
  ~TempDir() { removeTree(path); }
};

class LabSmokeTest : public LabTest {};

TEST_F(LabSmokeTest, ComesUpFully) {
  RunResult st = lab_->status();
  ASSERT_TRUE(st.ok()) << st.describe();
  EXPECT_THAT(st.out,
              HasSubstr("port pf0: host " + lab_->pf(0) + " carrier 1; wire " + lab_->wireNs(0) +
                        " forwarding; ToR port tor-p0 carrier 1 "
                        "state forwarding"));
  EXPECT_THAT(st.out,
              HasSubstr("port pf1: host " + lab_->pf(1) + " carrier 1; wire " + lab_->wireNs(1) +
                        " forwarding; ToR port tor-p1 carrier 1 "
                        "state forwarding"));
  for (int i = 0; i < Lab::kPorts; ++i) {
    EXPECT_TRUE(lab_->carrier(i)) << lab_->pf(i);
    EXPECT_EQ(operstate(lab_->pf(i)), "up") << lab_->pf(i);
    // Ports carry no address: vfod owns them.
    RunResult addr = run({"ip", "-o", "addr", "show", "dev", lab_->pf(i)});
    ASSERT_TRUE(addr.ok()) << addr.describe();
    EXPECT_EQ(addr.out, "") << lab_->pf(i);
  }
  RunResult addr =
      lab_->execIn(lab_->remoteNs(), {"ip", "-o", "-4", "addr", "show", "dev", "eth0"});
  ASSERT_TRUE(addr.ok()) << addr.describe();
  EXPECT_THAT(addr.out, HasSubstr(Lab::kRemoteCidr));
}

TEST_F(LabSmokeTest, RemotePingsSecondHostAndTorLearnsBoth) {
  std::string h2 = lab_->addHost("h2", "198.18.0.101/24");
  PingResult p = lab_->ping(lab_->remoteNs(), "198.18.0.101", 3, milliseconds(100));
  EXPECT_EQ(p.transmitted, 3) << p.run.describe();
  EXPECT_EQ(p.received, 3) << p.run.describe();
  PingResult back = lab_->ping(h2, Lab::kRemoteIp, 2, milliseconds(100));
  EXPECT_TRUE(back.allReceived()) << back.run.describe();

  std::string rem_mac = lab_->macOf(lab_->remoteNs(), "eth0");
  std::string h2_mac = lab_->macOf(h2, "eth0");
  ASSERT_FALSE(rem_mac.empty());
  ASSERT_FALSE(h2_mac.empty());
  EXPECT_EQ(lab_->fdbPortOf(rem_mac), std::optional<std::string>("tor-rem"));
  EXPECT_EQ(lab_->fdbPortOf(h2_mac), std::optional<std::string>(lab_->hostPort("h2")));

  // The --mac filter prints exactly that entry, and fails for an unknown MAC.
  RunResult one = lab_->tool({"fdb", "--mac", h2_mac});
  ASSERT_TRUE(one.ok()) << one.describe();
  EXPECT_EQ(one.out, h2_mac + " tor-h2\n");
  RunResult none = lab_->tool({"fdb", "--mac", "02:00:5e:00:00:01"});
  EXPECT_EQ(none.exit_code, 1) << none.describe();
  EXPECT_THAT(none.err, HasSubstr("not learned"));

  lab_->delHost("h2");
  EXPECT_TRUE(namespacesWithPrefix(h2).empty());
  RunResult port = run({"ip", "-n", lab_->torNs(), "link", "show", "dev", "tor-h2"});
  EXPECT_FALSE(port.ok()) << "ToR port of a deleted host survived";
}

TEST_F(LabSmokeTest, RemoteSendsUdpStreamToSecondHost) {
  ASSERT_TRUE(run({"sh", "-c", "command -v socat"}).ok()) << "socat missing: run scripts/setup";
  std::string h2 = lab_->addHost("h2", "198.18.0.101/24");
  TempDir tmp;
  const std::string& dir = tmp.path;
  Process receiver({"ip", "netns", "exec", h2, "socat", "-u", "UDP4-RECV:5000", "STDOUT"},
                   dir + "/recv.log");
  ASSERT_TRUE(waitFor(
      [&] {
        RunResult r = lab_->execIn(h2, {"ss", "-Hnul", "sport = :5000"});
        return r.ok() && !r.out.empty();
      },
      kWait))
      << receiver.log();

  constexpr int kCount = 200;
  RunResult sent = lab_->tool({"udp", "--from", "rem", "--to", "198.18.0.101:5000", "--count",
                               std::to_string(kCount), "--size", "100"});
  ASSERT_TRUE(sent.ok()) << sent.describe();
  EXPECT_THAT(sent.out, HasSubstr("sent 200 of 200 datagrams"));
  auto received = [&] { return lines(receiver.log()).size(); };
  EXPECT_TRUE(waitFor([&] { return received() == kCount; }, kWait))
      << "received " << received() << " of " << kCount;
  auto got = lines(receiver.log());
  ASSERT_FALSE(got.empty());
  EXPECT_THAT(got.front(), HasSubstr("vfo-lab seq=0"));
  EXPECT_EQ(got.front().size(), 99u);  // 100 bytes with the newline
  receiver.stop();
}

TEST_F(LabSmokeTest, CutDropsCarrierAndRestoreBringsItBack) {
  lab_->cut(0);
  EXPECT_FALSE(lab_->carrier(0));
  EXPECT_TRUE(waitFor([&] { return operstate(lab_->pf(0)) != "up"; }, kWait))
      << operstate(lab_->pf(0));
  EXPECT_FALSE(lowerUp(lab_->torNs(), "tor-p0")) << "the ToR end of a cut cable kept carrier";
  EXPECT_TRUE(lab_->carrier(1)) << "cutting pf0 touched pf1";
  RunResult st = lab_->status();
  EXPECT_TRUE(st.ok()) << st.describe();
  EXPECT_THAT(st.out, HasSubstr("host " + lab_->pf(0) + " carrier 0; wire " + lab_->wireNs(0) +
                                " cut; ToR port tor-p0 carrier 0 state disabled"));

  lab_->restore(0);
  EXPECT_TRUE(waitFor([&] { return lab_->carrier(0); }, kWait));
  EXPECT_TRUE(waitFor([&] { return operstate(lab_->pf(0)) == "up"; }, kWait))
      << operstate(lab_->pf(0));
  EXPECT_TRUE(lowerUp(lab_->torNs(), "tor-p0"));
}

// A "software VF" on pf1 (a macvlan in its own namespace) proves what the
// ToR sees: cut flushes its MAC, blackhole keeps it stale while frames die.
class LabPathTest : public LabTest {
 protected:
  void SetUp() override {
    LabTest::SetUp();
    if (HasFatalFailure()) return;
    vf_ns_ = lab_->addHost("vf1", "198.18.0.11/24", "", 1);
    vf_mac_ = lab_->macOf(vf_ns_, "eth0");
    ASSERT_FALSE(vf_mac_.empty());
  }

  PingResult pingRemote() const { return lab_->ping(vf_ns_, Lab::kRemoteIp, 3, milliseconds(100)); }
  PingResult pingFromRemote() const {
    return lab_->ping(lab_->remoteNs(), "198.18.0.11", 3, milliseconds(100));
  }

  std::string vf_ns_;   // namespace of the macvlan on pf1
  std::string vf_mac_;  // its MAC
};

TEST_F(LabPathTest, MacvlanOnPf1IsLearnedOnTorPort1) {
  PingResult p = pingRemote();
  EXPECT_TRUE(p.allReceived()) << p.run.describe();
  EXPECT_EQ(lab_->fdbPortOf(vf_mac_), std::optional<std::string>("tor-p1"));
  RunResult st = lab_->status();
  EXPECT_THAT(st.out, HasSubstr("host vf1: namespace " + vf_ns_ +
                                " eth0 198.18.0.11/24 (macvlan on " + lab_->pf(1) + ")"));
}

TEST_F(LabPathTest, CutFlushesTheMacAtTheTor) {
  ASSERT_TRUE(pingRemote().allReceived());
  ASSERT_EQ(lab_->fdbPortOf(vf_mac_), std::optional<std::string>("tor-p1"));
  lab_->cut(1);
  EXPECT_FALSE(lab_->carrier(1));
  EXPECT_EQ(lab_->fdbPortOf(vf_mac_), std::nullopt) << "the ToR kept a MAC of a dead port";
  EXPECT_EQ(pingRemote().received, 0);
  lab_->restore(1);
  PingResult p = pingRemote();
  EXPECT_TRUE(p.allReceived()) << p.run.describe();
  EXPECT_EQ(lab_->fdbPortOf(vf_mac_), std::optional<std::string>("tor-p1"));
}

TEST_F(LabPathTest, BlackholeKeepsCarrierAndStaleMacButLosesFrames) {
  ASSERT_TRUE(pingRemote().allReceived());
  lab_->blackhole(1);
  EXPECT_TRUE(lab_->carrier(1));
  EXPECT_TRUE(lowerUp(lab_->torNs(), "tor-p1"));
  EXPECT_TRUE(lowerUp(vf_ns_, "eth0"));
  PingResult out = pingRemote();
  EXPECT_EQ(out.transmitted, 3) << out.run.describe();
  EXPECT_EQ(out.received, 0) << out.run.describe();
  PingResult in = pingFromRemote();
  EXPECT_EQ(in.received, 0) << in.run.describe();
  EXPECT_EQ(lab_->fdbPortOf(vf_mac_), std::optional<std::string>("tor-p1"))
      << "a blackholed port must leave its MAC stale at the ToR";
  RunResult st = lab_->status();
  EXPECT_THAT(st.out, HasSubstr("wire " + lab_->wireNs(1) + " blackholed"));

  // A cable pull and plug while blackholed does not heal the path.
  lab_->cut(1);
  lab_->restore(1);
  EXPECT_EQ(pingRemote().received, 0);

  lab_->heal(1);
  PingResult healed = pingRemote();
  EXPECT_TRUE(healed.allReceived()) << healed.run.describe();
  PingResult back = pingFromRemote();
  EXPECT_TRUE(back.allReceived()) << back.run.describe();
  // pf0 was never involved.
  EXPECT_TRUE(lab_->carrier(0));
}

TEST(LabLifecycle, DownLeavesNoNamespaceLinkOrProcess) {
  auto lab = std::make_unique<Lab>();
  const std::string prefix = lab->name() + "-";
  std::string h2 = lab->addHost("h2", "198.18.0.101/24");
  std::string vf = lab->addHost("vf0", "198.18.0.10/24", "", 0);
  TempDir tmp;
  const std::string& dir = tmp.path;
  Process in_remote({"ip", "netns", "exec", lab->remoteNs(), "sleep", "600"}, dir + "/a.log");
  Process in_host({"ip", "netns", "exec", h2, "sleep", "600"}, dir + "/b.log");
  ASSERT_TRUE(waitFor(
      [&] {
        return lab->execIn(lab->remoteNs(), {"true"}).ok() &&
               run({"ip", "netns", "pids", lab->remoteNs()}).out.size() > 0 &&
               run({"ip", "netns", "pids", h2}).out.size() > 0;
      },
      kWait));
  EXPECT_EQ(namespacesWithPrefix(prefix).size(), 6u);  // tor w0 w1 rem h2 vf0
  EXPECT_EQ(rootLinksWithPrefix(prefix).size(), 2u);   // pf0 pf1

  lab->down();
  EXPECT_TRUE(in_remote.waitExit(kWait)) << "down left a process in the remote namespace";
  EXPECT_TRUE(in_host.waitExit(kWait)) << "down left a process in a host namespace";
  EXPECT_THAT(namespacesWithPrefix(prefix), ::testing::IsEmpty());
  EXPECT_THAT(rootLinksWithPrefix(prefix), ::testing::IsEmpty());
  RunResult st = lab->status();
  EXPECT_NE(st.exit_code, 0);
  EXPECT_THAT(st.err, HasSubstr("is not up"));
  // Idempotent.
  EXPECT_NO_THROW(lab->down());
}

TEST(LabLifecycle, DownCleansUpAfterACrash) {
  auto lab = std::make_unique<Lab>();
  const std::string prefix = lab->name() + "-";
  TempDir tmp;
  const std::string& dir = tmp.path;
  Process in_remote({"ip", "netns", "exec", lab->remoteNs(), "sleep", "600"}, dir + "/a.log");
  ASSERT_TRUE(waitFor(
      [&] {
        return !run({"ip", "netns", "pids", lab->remoteNs()}).out.empty();
      },
      kWait));
  // Half the lab vanishes, as after a crash in the middle of up or down.
  ASSERT_TRUE(run({"ip", "netns", "del", lab->wireNs(1)}).ok());
  ASSERT_TRUE(run({"ip", "netns", "del", lab->torNs()}).ok());
  RunResult st = lab->status();
  EXPECT_NE(st.exit_code, 0) << st.describe();
  EXPECT_THAT(st.err, HasSubstr("not fully up"));
  // up refuses a half-made lab instead of building over it.
  RunResult again = lab->tool({"up"});
  EXPECT_EQ(again.exit_code, 1) << again.describe();
  EXPECT_THAT(again.err, HasSubstr("already exists"));

  lab->down();
  EXPECT_TRUE(in_remote.waitExit(kWait));
  EXPECT_THAT(namespacesWithPrefix(prefix), ::testing::IsEmpty());
  EXPECT_THAT(rootLinksWithPrefix(prefix), ::testing::IsEmpty());
}

TEST_F(LabSmokeTest, UpRefusesAnExistingLab) {
  RunResult again = lab_->tool({"up"});
  EXPECT_EQ(again.exit_code, 1) << again.describe();
  EXPECT_THAT(again.err, HasSubstr("already exists"));
  RunResult st = lab_->status();
  EXPECT_TRUE(st.ok()) << "a refused up damaged the lab: " << st.describe();
}

TEST(LabLifecycle, BadNamesFailCleanlyAndCreateNothing) {
  const std::string long_name = uniqueName("toolong");  // 12 characters
  struct Case {
    std::string name;     // value given to --name
    std::string message;  // expected part of the one-line error
  };
  const std::vector<Case> cases = {
      {long_name, "at most 9 are allowed"},
      {"bad-name", "is invalid"},
      {"_x", "is invalid"},
      {"a b", "is invalid"},
      {"x/y", "is invalid"},
      {"", "must not be empty"},
  };
  for (const auto& c : cases) {
    RunResult r = run({Lab::toolPath(), "up", "--name", c.name});
    EXPECT_NE(r.exit_code, 0) << "name '" << c.name << "': " << r.describe();
    EXPECT_THAT(r.err, HasSubstr(c.message)) << "name '" << c.name << "'";
    EXPECT_EQ(r.out, "") << "name '" << c.name << "'";
  }
  EXPECT_THAT(namespacesWithPrefix(long_name), ::testing::IsEmpty());
  EXPECT_THAT(rootLinksWithPrefix(long_name.substr(0, 9)), ::testing::IsEmpty());
  RunResult missing = run({Lab::toolPath(), "up"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("needs --name"));
}

TEST_F(LabSmokeTest, BadHostRequestsFailAndChangeNothing) {
  struct Case {
    std::vector<std::string> args;  // after "host add"
    std::string message;            // expected part of the error
  };
  const std::vector<Case> cases = {
      {{"--host", "h2", "--ip", "10.0.0.1/24"}, "inside 198.18.0.0/15"},
      {{"--host", "h2", "--ip", "198.18.0.300/24"}, "octet above 255"},
      {{"--host", "h2", "--ip", "198.18.0.5"}, "inside 198.18.0.0/15"},
      {{"--host", "tor", "--ip", "198.18.0.5/24"}, "reserved"},
      {{"--host", "w1", "--ip", "198.18.0.5/24"}, "reserved"},
      {{"--host", "rem", "--ip", "198.18.0.5/24"}, "remote host"},
      {{"--host", "h2", "--ip", "198.18.0.5/24", "--mac", "01:00:5e:00:00:01"}, "multicast"},
      {{"--host", "h2", "--ip", "198.18.0.5/24", "--on", "pf7"}, "unknown port"},
      {{"--host", "h2", "--ip", "198.18.0.5/24", "--mac", "00:00:00:00:00:00"}, "failed"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args{"host", "add"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunResult r = lab_->tool(args);
    EXPECT_NE(r.exit_code, 0) << r.describe();
    EXPECT_THAT(r.err, HasSubstr(c.message)) << r.describe();
  }
  EXPECT_THAT(namespacesWithPrefix(lab_->hostNs("h2")), ::testing::IsEmpty());
  RunResult port = run({"ip", "-n", lab_->torNs(), "link", "show", "dev", "tor-h2"});
  EXPECT_FALSE(port.ok());
  RunResult st = lab_->status();
  EXPECT_TRUE(st.ok()) << st.describe();
}

}  // namespace
}  // namespace vfo::testing
