#include "vfo/testing/lab.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "vfo/testing/names.h"

namespace vfo::testing {

namespace {

// Every lab operation waits on the kernel with its own deadline (seconds);
// this only bounds a hung tool.
constexpr std::chrono::seconds kToolTimeout{60};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

}  // namespace

std::string Lab::defaultName() {
  return uniqueName("l");
}

std::string Lab::toolPath() {
  return sourceDir() + "/tests/lab/vfo-lab";
}

Lab::Lab(std::string name) : name_(std::move(name)) {
  RunResult r = tool({"up"});
  if (!r.ok()) {
    throw std::runtime_error("vfo-lab up --name " + name_ + " failed: " + r.describe());
  }
  up_ = true;
}

Lab::~Lab() {
  if (!up_) return;
  RunResult r = tool({"down"});
  if (!r.ok()) ADD_FAILURE() << "vfo-lab down --name " << name_ << " failed: " << r.describe();
}

void Lab::down() {
  mustRun({"down"});
  up_ = false;
}

RunResult Lab::tool(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{toolPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--name");
  argv.push_back(name_);
  return run(argv, kToolTimeout);
}

void Lab::mustRun(const std::vector<std::string>& args) const {
  RunResult r = tool(args);
  if (!r.ok()) {
    throw std::runtime_error("vfo-lab " + join(args) + " --name " + name_ +
                             " failed: " + r.describe());
  }
}

void Lab::checkPort(int i) const {
  if (i < 0 || i >= kPorts) {
    throw std::out_of_range("lab port index " + std::to_string(i) + " is not 0 or 1");
  }
}

std::string Lab::portArg(int i) const {
  checkPort(i);
  return "pf" + std::to_string(i);
}

std::string Lab::pf(int i) const {
  checkPort(i);
  return name_ + "-pf" + std::to_string(i);
}
std::string Lab::torNs() const {
  return name_ + "-tor";
}
std::string Lab::wireNs(int i) const {
  checkPort(i);
  return name_ + "-w" + std::to_string(i);
}
std::string Lab::torPort(int i) const {
  checkPort(i);
  return "tor-p" + std::to_string(i);
}
std::string Lab::remoteNs() const {
  return name_ + "-rem";
}
std::string Lab::hostNs(const std::string& host) const {
  return name_ + "-" + host;
}
std::string Lab::hostPort(const std::string& host) const {
  return "tor-" + host;
}

void Lab::cut(int i) {
  mustRun({"cut", portArg(i)});
}
void Lab::restore(int i) {
  mustRun({"restore", portArg(i)});
}
void Lab::blackhole(int i) {
  mustRun({"blackhole", portArg(i)});
}
void Lab::heal(int i) {
  mustRun({"heal", portArg(i)});
}

std::string Lab::addHost(const std::string& host, const std::string& cidr, const std::string& mac,
                         int on_port) {
  std::vector<std::string> args{"host", "add", "--host", host, "--ip", cidr};
  if (!mac.empty()) args.insert(args.end(), {"--mac", mac});
  if (on_port >= 0) args.insert(args.end(), {"--on", portArg(on_port)});
  mustRun(args);
  return hostNs(host);
}

void Lab::delHost(const std::string& host) {
  mustRun({"host", "del", "--host", host});
}

std::map<std::string, std::string> Lab::fdb() const {
  RunResult r = tool({"fdb"});
  if (!r.ok()) throw std::runtime_error("vfo-lab fdb --name " + name_ + " failed: " + r.describe());
  std::map<std::string, std::string> out;
  std::istringstream lines(r.out);
  std::string mac, port;
  while (lines >> mac >> port) out[lower(mac)] = port;
  return out;
}

std::optional<std::string> Lab::fdbPortOf(const std::string& mac) const {
  auto table = fdb();
  auto it = table.find(lower(mac));
  if (it == table.end()) return std::nullopt;
  return it->second;
}

bool Lab::carrier(int i) const {
  std::ifstream f("/sys/class/net/" + pf(i) + "/carrier");
  int v = 0;
  return (f >> v) && v == 1;
}

std::string Lab::macOf(const std::string& ns, const std::string& dev) const {
  std::vector<std::string> argv{"ip"};
  if (!ns.empty()) argv.insert(argv.end(), {"-n", ns});
  argv.insert(argv.end(), {"-o", "link", "show", "dev", dev});
  RunResult r = run(argv, std::chrono::seconds(10));
  if (!r.ok()) return "";
  // "link/ether aa:bb:cc:dd:ee:ff brd ..." (plain parsing: std::regex trips
  // GCC 12 false warnings in sanitizer builds).
  const std::string key = "link/ether ";
  auto pos = r.out.find(key);
  if (pos == std::string::npos || r.out.size() < pos + key.size() + 17) return "";
  return lower(r.out.substr(pos + key.size(), 17));
}

RunResult Lab::execIn(const std::string& ns, const std::vector<std::string>& argv,
                      std::chrono::milliseconds timeout) const {
  std::vector<std::string> full{"ip", "netns", "exec", ns};
  full.insert(full.end(), argv.begin(), argv.end());
  return run(full, timeout);
}

RunResult Lab::shIn(const std::string& ns, const std::string& script,
                    std::chrono::milliseconds timeout) const {
  return execIn(ns, {"sh", "-c", script}, timeout);
}

PingResult Lab::ping(const std::string& from_ns, const std::string& ip, int count,
                     std::chrono::milliseconds interval) const {
  char interval_s[32];
  std::snprintf(interval_s, sizeof interval_s, "%.3f", double(interval.count()) / 1000.0);
  // Each reply is awaited at most 1 s (-W 1); the timeout only bounds a hang.
  auto timeout = interval * count + std::chrono::seconds(5);
  RunResult r = execIn(
      from_ns, {"ping", "-n", "-q", "-c", std::to_string(count), "-i", interval_s, "-W", "1", ip},
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  return parsePing(r);
}

PingResult parsePing(const RunResult& run) {
  PingResult p;
  p.run = run;
  // "5 packets transmitted, 4 received, ..."
  const std::string tx_key = " packets transmitted, ";
  auto pos = run.out.find(tx_key);
  if (pos == std::string::npos) return p;
  auto start = run.out.find_last_not_of("0123456789", pos - 1);
  start = start == std::string::npos ? 0 : start + 1;
  try {
    p.transmitted = std::stoi(run.out.substr(start, pos - start));
    p.received = std::stoi(run.out.substr(pos + tx_key.size()));
  } catch (const std::exception&) {
    p.transmitted = p.received = 0;
  }
  return p;
}

void LabTest::SetUp() {
  try {
    lab_ = std::make_unique<Lab>();
  } catch (const std::exception& e) {
    FAIL() << "could not build the lab: " << e.what();
  }
}

void LabTest::TearDown() {
  lab_.reset();
}

}  // namespace vfo::testing
