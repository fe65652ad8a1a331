// The network lab as a C++ test fixture: a thin wrapper over tests/lab/vfo-lab
// (see docs/lab.md for the topology and what each operation proves).
//
// Contract:
//  - Lab's constructor builds a fresh lab ("vfo-lab up") under a unique name
//    and throws std::runtime_error (with the tool's stderr) if that fails; a
//    failed up leaves nothing behind. The destructor runs "vfo-lab down",
//    which removes every namespace and root link named <name>-* and kills the
//    processes inside those namespaces; a failing down is reported as a
//    gtest failure (destructors do not throw).
//  - Operations that change the lab (cut, restore, blackhole, heal, addHost,
//    delHost) return only once the change has taken effect (the tool waits on
//    the kernel state with a deadline) and throw std::runtime_error on failure.
//  - Queries (fdb, carrier, ping, execIn, shIn) never throw for a negative
//    answer; they report it in their result.
//  - Not thread-safe: one thread drives a Lab. Several Labs may exist side by
//    side in one or several processes (names are unique).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vfo/testing/subprocess.h"

namespace vfo::testing {

// The outcome of one ping run.
struct PingResult {
  int transmitted = 0;  // echo requests sent, from ping's summary line
  int received = 0;     // echo replies received, from ping's summary line
  RunResult run;        // the ping process itself (exit code, output)
  bool allReceived() const { return transmitted > 0 && received == transmitted; }
};

class Lab {
 public:
  static constexpr int kPorts = 2;                          // pf0 and pf1
  static constexpr const char* kRemoteIp = "198.18.0.100";  // address of remoteNs()
  static constexpr const char* kRemoteCidr = "198.18.0.100/24";

  // Builds lab `name` (1-9 chars, see vfo-lab --help). Throws on failure.
  explicit Lab(std::string name = defaultName());
  ~Lab();
  Lab(const Lab&) = delete;
  Lab& operator=(const Lab&) = delete;

  // A fresh unique lab name ("l" + 5 hex chars).
  static std::string defaultName();
  // Path of the vfo-lab tool in the source tree.
  static std::string toolPath();

  const std::string& name() const { return name_; }
  std::string pf(int i) const;                          // host end of port i in the root namespace
  std::string torNs() const;                            // the ToR namespace (bridge br0)
  std::string wireNs(int i) const;                      // the wire namespace of port i
  std::string torPort(int i) const;                     // ToR bridge port of port i ("tor-p<i>")
  std::string remoteNs() const;                         // the remote host's namespace
  std::string hostNs(const std::string& host) const;    // namespace of an added host
  std::string hostPort(const std::string& host) const;  // its ToR bridge port

  // Pulls / plugs port i's cable: both ends lose / regain carrier.
  void cut(int i);
  void restore(int i);
  // Silently drops everything on port i's wire / stops doing so; carrier stays.
  void blackhole(int i);
  void heal(int i);

  // Adds host namespace hostNs(host) with eth0 at `cidr` (inside
  // 198.18.0.0/15). Cabled to the ToR unless `on_port` >= 0, in which case
  // eth0 is a macvlan on pf(on_port). `mac` empty = kernel-chosen. Returns the
  // namespace name.
  std::string addHost(const std::string& host, const std::string& cidr, const std::string& mac = "",
                      int on_port = -1);
  void delHost(const std::string& host);

  // Learned MACs of the ToR bridge: lowercase MAC -> ToR port name.
  std::map<std::string, std::string> fdb() const;
  // The ToR port `mac` is learned on, if any (any case accepted).
  std::optional<std::string> fdbPortOf(const std::string& mac) const;

  // Carrier of pf(i) as the kernel reports it (false if unreadable, e.g.
  // the link is administratively down).
  bool carrier(int i) const;
  // MAC address of `dev` in namespace `ns` (empty ns = root), lowercase;
  // empty if the link does not exist.
  std::string macOf(const std::string& ns, const std::string& dev) const;

  // Runs argv inside namespace `ns` ("ip netns exec").
  RunResult execIn(const std::string& ns, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Runs a sh script inside namespace `ns`.
  RunResult shIn(const std::string& ns, const std::string& script,
                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Pings `ip` from namespace `from_ns`: `count` requests `interval` apart,
  // waiting up to 1 s for each reply.
  PingResult ping(const std::string& from_ns, const std::string& ip, int count = 3,
                  std::chrono::milliseconds interval = std::chrono::milliseconds(200)) const;

  // Runs the tool with `args` followed by "--name <name>".
  RunResult tool(const std::vector<std::string>& args) const;
  // "vfo-lab status": exit 0 only if the lab is fully up.
  RunResult status() const { return tool({"status"}); }
  // Tears the lab down now (idempotent); throws on failure. The destructor
  // then has nothing left to do.
  void down();

 private:
  void mustRun(const std::vector<std::string>& args) const;
  void checkPort(int i) const;       // throws std::out_of_range unless 0 <= i < kPorts
  std::string portArg(int i) const;  // "pf<i>" for the tool

  std::string name_;  // the lab's name; every object it owns is <name_>-*
  bool up_ = false;   // whether down() is still owed
};

// Parses ping's summary line ("N packets transmitted, M received"); {0,0}
// fields when it is missing.
PingResult parsePing(const RunResult& run);

// Base fixture: a fresh lab per test, torn down after it even on failure.
class LabTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::unique_ptr<Lab> lab_;  // the test's lab; null only if SetUp failed
};

}  // namespace vfo::testing
