// A small self-contained lab for vfod integration tests, until the shared
// network lab and guest helpers are merged:
//
//   root namespace                 namespace <s>ns
//   <s>-pf0 (vfod uplink, pf0) === <s>-p0 --+
//                                            br0  198.18.0.100/24 ("remote host")
//   <s>-pf1 (vfod uplink, pf1) === <s>-p1 --+
//
// plus helpers to run vfod and a dpdk-testpmd virtio-user guest. Everything
// carries a unique suffix and is removed in destructors, also on failure.
// Processes are stopped by pid. The root-side veths have IPv6 disabled so
// that only vfod transmits on them.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vfo/testing/dpdk_args.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace vfo::vhost::itest {

using namespace std::chrono_literals;
using vfo::testing::Process;
using vfo::testing::RunResult;

// The guest's IPv4 address seen from the namespace (testpmd's icmpecho
// answers ARP and ping for any address).
inline constexpr const char* kGuestIp = "198.18.0.7";
inline constexpr const char* kGuestMac = "52:54:00:00:07:01";

class MiniLab {
 public:
  MiniLab() : suffix_(vfo::testing::uniqueName("vh")) {
    ns = suffix_ + "ns";
    pf0 = suffix_ + "-pf0";
    pf1 = suffix_ + "-pf1";
    std::string script = "set -e\nip netns add " + ns + "\n";
    for (int i = 0; i < 2; ++i) {
      const std::string root = suffix_ + "-pf" + std::to_string(i);
      const std::string peer = suffix_ + "-p" + std::to_string(i);
      script += "ip link add " + root + " type veth peer name " + peer + "\n";
      script += "sysctl -qw net.ipv6.conf." + root + ".disable_ipv6=1\n";
      script += "ip link set " + peer + " netns " + ns + "\n";
      script += "ip link set " + root + " up\n";
    }
    script += "ip -n " + ns + " link add br0 type bridge\n";
    for (int i = 0; i < 2; ++i) {
      const std::string peer = suffix_ + "-p" + std::to_string(i);
      script += "ip -n " + ns + " link set " + peer + " master br0\n";
      script += "ip -n " + ns + " link set " + peer + " up\n";
    }
    script += "ip -n " + ns + " link set br0 up\n";
    script += "ip -n " + ns + " addr add 198.18.0.100/24 dev br0\n";
    script += "ip -n " + ns + " link set lo up\n";
    RunResult r = vfo::testing::sh(script);
    ok_ = r.ok();
    if (!ok_) ADD_FAILURE() << "lab setup failed: " << r.describe();
  }
  ~MiniLab() {
    vfo::testing::sh("ip netns del " + ns + " 2>/dev/null; ip link del " + pf0 +
                     " 2>/dev/null; ip link del " + pf1 + " 2>/dev/null; true");
  }
  MiniLab(const MiniLab&) = delete;
  MiniLab& operator=(const MiniLab&) = delete;

  bool ok() const { return ok_; }
  const std::string& suffix() const { return suffix_; }

  RunResult inNs(const std::string& cmd, std::chrono::milliseconds timeout = 30s) const {
    return vfo::testing::sh("ip netns exec " + ns + " " + cmd, timeout);
  }

  // Kernel counter of a root-side netdev (/sys/class/net/DEV/statistics).
  static uint64_t counter(const std::string& dev, const std::string& name) {
    RunResult r = vfo::testing::sh("cat /sys/class/net/" + dev + "/statistics/" + name);
    return r.ok() ? std::stoull(r.out) : 0;
  }

  // Waits until one ping to `ip` gets an answer, then sends `count` more and
  // returns ping's output (check "N received" and the absence of "DUP!").
  std::optional<std::string> pingUntilAnswered(const std::string& ip, int count = 5,
                                               const std::string& extra = "") const {
    const bool answered = vfo::testing::waitFor(
        [&] { return inNs("ping -c 1 -W 1 " + extra + " " + ip).ok(); }, 20s, 100ms);
    if (!answered) return std::nullopt;
    RunResult r = inNs("ping -c " + std::to_string(count) + " -i 0.2 -W 2 " + extra + " " + ip);
    return r.out + r.err;
  }

  std::string ns;   // the namespace (ToR bridge + remote host)
  std::string pf0;  // root-side veth of member pf0
  std::string pf1;  // root-side veth of member pf1

 private:
  std::string suffix_;
  bool ok_ = false;
};

// A scratch directory for one test: config, sockets, state, logs.
class TempDir {
 public:
  TempDir() : path(vfo::testing::makeTempDir("vfo-vhost-it-")) {}
  ~TempDir() { vfo::testing::removeTree(path); }
  std::string path;
};

inline std::string vfodBinary() {
  return vfo::testing::binaryDir() + "/vhost-backend/vfod";
}

inline void writeFile(const std::string& path, const std::string& text) {
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  fputs(text.c_str(), f);
  fclose(f);
}

// A vfod process with its own config. Stops it (SIGTERM) in the destructor
// and removes its DPDK runtime directory if it was killed.
class Vfod {
 public:
  // `ports` is the text of the ports { ... } blocks.
  // `lag_extra` goes inside the lag { } block ("vf_provider: ...").
  Vfod(const MiniLab& lab, const std::string& dir, const std::string& ports,
       const std::string& extra = "", const std::string& socket_dir = "",
       const std::string& lag_extra = "")
      : Vfod(lab.suffix(), lab.pf0, lab.pf1, dir, ports, extra, socket_dir, lag_extra) {}
  // Members pf0 and pf1 on netdevs `netdev0` and `netdev1`; `seed` starts the
  // unique EAL file prefix. Files (config, logs, state, sockets unless
  // `socket_dir` is given) live in `dir`.
  Vfod(const std::string& seed, const std::string& netdev0, const std::string& netdev1,
       const std::string& dir, const std::string& ports, const std::string& extra = "",
       const std::string& socket_dir = "", const std::string& lag_extra = "")
      : dir_(dir),
        prefix_(vfo::testing::uniqueName(seed)),
        socket_dir_(socket_dir.empty() ? dir + "/sock" : socket_dir) {
    config_ = dir + "/vfod.textproto";
    writeFile(config_, "eal { main_lcore: 0 worker_lcores: 1 file_prefix: \"" + prefix_ + "\" }\n" +
                           "memory { hugepages: HUGEPAGES_NEVER size_mb: 256 mbufs: 8192 }\n" +
                           "sockets { dir: \"" + socket_dir_ + "\" }\n" + "state_dir: \"" + dir +
                           "/state\"\n" + "api { listen: \"unix://" + dir + "/api.sock\" }\n" +
                           "libvirt { uri: \"none\" }\n" +
                           "datapath { idle_backoff_max { nanos: 100000 } }\n" + extra + "lag {\n" +
                           lag_extra + "  members { name: \"pf0\" netdev: \"" + netdev0 + "\" }\n" +
                           "  members { name: \"pf1\" netdev: \"" + netdev1 + "\" }\n}\n" + ports);
  }
  ~Vfod() {
    stop();
    vfo::testing::removeTree("/var/run/dpdk/" + prefix_);
  }

  // Starts vfod and waits until it runs (or fails the test with its log).
  bool start() {
    proc_ = std::make_unique<Process>(std::vector<std::string>{vfodBinary(), "--config", config_},
                                      dir_ + "/vfod." + std::to_string(++starts_) + ".log");
    const bool up = vfo::testing::waitFor(
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
  int kill() { return proc_ ? proc_->kill() : 0; }
  std::string log() const { return proc_ ? proc_->log() : ""; }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }  // -1 before start()
  const std::string& config() const { return config_; }
  std::string socketDir() const { return socket_dir_; }
  // The ops API target of this vfod ("unix://<dir>/api.sock").
  std::string apiTarget() const { return "unix://" + dir_ + "/api.sock"; }
  // Runs the built vfoctl against this vfod's API socket (20 s limit).
  RunResult vfoctl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{vfo::testing::binaryDir() + "/proto/vfoctl", "--socket",
                                  apiTarget()};
    argv.insert(argv.end(), args.begin(), args.end());
    return vfo::testing::run(argv, 20s);
  }

  // `vfod --stats`: "port vm1 drop_spoofed_source" -> value.
  std::map<std::string, uint64_t> stats() const {
    RunResult r = vfo::testing::run({vfodBinary(), "--stats", "--config", config_}, 10s);
    std::map<std::string, uint64_t> out;
    if (!r.ok()) {
      ADD_FAILURE() << "vfod --stats: " << r.describe();
      return out;
    }
    size_t pos = 0;
    while (pos < r.out.size()) {
      size_t end = r.out.find('\n', pos);
      if (end == std::string::npos) end = r.out.size();
      const std::string line = r.out.substr(pos, end - pos);
      pos = end + 1;
      const size_t sp = line.rfind(' ');
      if (line.empty() || line[0] == '#' || sp == std::string::npos) continue;
      const std::string value = line.substr(sp + 1);
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
        out[line] = 1;  // "port vm1 state active vhost running ..." lines
        continue;
      }
      out[line.substr(0, sp)] = std::stoull(value);
    }
    return out;
  }
  uint64_t stat(const std::string& key) const {
    auto s = stats();
    auto it = s.find(key);
    return it == s.end() ? 0 : it->second;
  }
  // Whether the port's status line says the guest driver is running.
  bool guestRunning(const std::string& port) const {
    for (const auto& [k, v] : stats())
      if (k.rfind("port " + port + " state ", 0) == 0 &&
          k.find(" vhost running ") != std::string::npos)
        return true;
    return false;
  }

 private:
  std::string dir_;
  std::string prefix_;
  std::string socket_dir_;
  std::string config_;
  std::unique_ptr<Process> proc_;
  int starts_ = 0;
};

// dpdk-testpmd with one virtio-user port: a guest speaking real virtio-net
// over vhost-user. Forwards on lcore 0 (vfod's worker is on lcore 1).
struct TestpmdOptions {
  explicit TestpmdOptions(std::string sock) : socket(std::move(sock)) {}
  TestpmdOptions& withMac(std::string m) {
    mac = std::move(m);
    return *this;
  }
  TestpmdOptions& withMode(std::string m) {
    mode = std::move(m);
    return *this;
  }
  TestpmdOptions& withQueues(int q) {
    queues = q;
    return *this;
  }
  TestpmdOptions& asServer() {
    server = true;
    return *this;
  }

  std::string socket;              // vhost-user socket path
  std::string mac = kGuestMac;     // the virtio-user port's MAC
  std::string mode = "icmpecho";   // testpmd forward mode
  int queues = 1;                  // queue pairs
  bool server = false;             // testpmd listens (vfod in client mode)
  std::vector<std::string> extra;  // more testpmd application arguments
};

class Testpmd {
 public:
  Testpmd(const std::string& dir, const TestpmdOptions& o)
      : prefix_(vfo::testing::uniqueName("vhtp")) {
    std::string vdev = "net_virtio_user0,path=" + o.socket + ",mac=" + o.mac +
                       ",queues=" + std::to_string(o.queues);
    if (o.server) vdev += ",server=1";
    std::vector<std::string> argv{"dpdk-testpmd"};
    for (auto& a : vfo::testing::isolatedEalArgs("0,1", 1, 256, prefix_)) argv.push_back(a);
    argv.insert(argv.end(), {"--vdev", vdev, "--", "--forward-mode=" + o.mode, "--stats-period",
                             "1", "--total-num-mbufs", "8192", "--nb-cores", "1", "--rxq",
                             std::to_string(o.queues), "--txq", std::to_string(o.queues)});
    argv.insert(argv.end(), o.extra.begin(), o.extra.end());
    proc_ = std::make_unique<Process>(argv, dir + "/" + prefix_ + ".log");
  }
  ~Testpmd() {
    stop();
    // DPDK makes a runtime directory even with --no-shconf.
    vfo::testing::removeTree("/var/run/dpdk/" + prefix_);
  }
  bool running() { return proc_->running(); }
  int stop() { return proc_->stop(5s); }
  int kill() { return proc_->kill(); }
  std::string log() const { return proc_->log(); }

 private:
  std::string prefix_;
  std::unique_ptr<Process> proc_;
};

// A raw AF_PACKET socket on a netdev inside a namespace: sends crafted
// frames and receives frames with their VLAN tag (in-band or, as the kernel
// usually delivers it, in PACKET_AUXDATA). Needed because this kernel has
// no 802.1Q netdevs and no bridge VLAN filtering.
class RawSocket {
 public:
  struct Received {
    std::vector<uint8_t> bytes;  // as delivered (tag removed if the kernel stripped it)
    int vlan = -1;               // VLAN id (stripped or in-band), -1 if untagged
  };

  RawSocket(const std::string& ns, const std::string& dev) {
    const int self = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (self < 0 || target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "cannot enter namespace " << ns;
    } else {
      fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
      const int one = 1;
      if (fd_ >= 0) ::setsockopt(fd_, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
      sockaddr_ll sll{};
      sll.sll_family = AF_PACKET;
      sll.sll_protocol = htons(ETH_P_ALL);
      sll.sll_ifindex = int(if_nametoindex(dev.c_str()));
      if (fd_ < 0 || sll.sll_ifindex == 0 ||
          ::bind(fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
        ADD_FAILURE() << "cannot open a packet socket on " << dev;
      if (::setns(self, CLONE_NEWNET) != 0) ADD_FAILURE() << "cannot leave namespace " << ns;
    }
    if (self >= 0) ::close(self);
    if (target >= 0) ::close(target);
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool send(const std::vector<uint8_t>& frame) {
    return ::send(fd_, frame.data(), frame.size(), 0) == ssize_t(frame.size());
  }

  // The first incoming frame for which `match` holds, within `timeout`.
  template <typename Match>
  std::optional<Received> receive(Match match, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      uint8_t buf[2048];
      alignas(8) char control[256];
      sockaddr_ll from{};
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      const ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT);
      if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
      Received r;
      r.bytes.assign(buf, buf + n);
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
        tpacket_auxdata aux;
        std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
        if (aux.tp_status & TP_STATUS_VLAN_VALID) r.vlan = aux.tp_vlan_tci & 0x0fff;
      }
      if (r.vlan < 0 && n >= 18 && buf[12] == 0x81 && buf[13] == 0x00)
        r.vlan = ((buf[14] << 8) | buf[15]) & 0x0fff;
      if (match(r)) return r;
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
};

inline uint16_t inetChecksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += uint32_t(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

// An ICMP echo request from `src` to `dst` (MACs as 6 bytes), optionally
// 802.1Q tagged, with `id` in the echo identifier.
inline std::vector<uint8_t> icmpEcho(const std::array<uint8_t, 6>& dst,
                                     const std::array<uint8_t, 6>& src, int vlan, uint16_t id) {
  std::vector<uint8_t> f(dst.begin(), dst.end());
  f.insert(f.end(), src.begin(), src.end());
  if (vlan >= 0) f.insert(f.end(), {0x81, 0x00, uint8_t(vlan >> 8), uint8_t(vlan)});
  f.insert(f.end(), {0x08, 0x00});
  const size_t ip = f.size();
  const uint8_t hdr[20] = {0x45, 0, 0,   84, 0, 1,   0x40, 0,  64, 1,
                           0,    0, 198, 18, 0, 100, 198,  18, 0,  7};
  f.insert(f.end(), hdr, hdr + 20);
  const uint16_t ipsum = inetChecksum(&f[ip], 20);
  f[ip + 10] = uint8_t(ipsum >> 8);
  f[ip + 11] = uint8_t(ipsum);
  const size_t icmp = f.size();
  f.insert(f.end(), {8, 0, 0, 0, uint8_t(id >> 8), uint8_t(id), 0, 1});
  f.insert(f.end(), 56, 0xa5);
  const uint16_t sum = inetChecksum(&f[icmp], 64);
  f[icmp + 2] = uint8_t(sum >> 8);
  f[icmp + 3] = uint8_t(sum);
  return f;
}

}  // namespace vfo::vhost::itest
