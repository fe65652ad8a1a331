#include "vfo/testing/guest.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vfo/base/mac_address.h"
#include "vfo/testing/names.h"
#include "vfo/testing/wait.h"

namespace vfo::testing {

namespace {

std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string lastChars(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

// Writing to the stdin pipe of a launcher that has exited must fail with
// EPIPE, not kill the test with SIGPIPE.
void ignoreSigpipe() {
  signal(SIGPIPE, SIG_IGN);
}

std::string guestDir() {
  return sourceDir() + "/tests/guest";
}

// "A.B.C.D/P" (family AF_INET) or "X::Y/P" (AF_INET6).
bool validPrefix(const std::string& text, int family) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash + 1 >= text.size()) return false;
  unsigned char buf[16];
  if (inet_pton(family, text.substr(0, slash).c_str(), buf) != 1) return false;
  const std::string len = text.substr(slash + 1);
  if (len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(len) <= (family == AF_INET ? 32 : 128);
}

bool validAddress(const std::string& text, int family) {
  unsigned char buf[16];
  return inet_pton(family, text.c_str(), buf) == 1;
}

// Lines of `text` containing `marker`, in order.
std::vector<std::string> linesWith(const std::string& text, const std::string& marker) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find(marker) != std::string::npos) out.push_back(line);
  }
  return out;
}

const char* modeName(TestpmdMode m) {
  switch (m) {
    case TestpmdMode::kIcmpEcho:
      return "icmpecho";
    case TestpmdMode::kMacSwap:
      return "macswap";
    case TestpmdMode::kTxOnly:
      return "txonly";
    case TestpmdMode::kRxOnly:
      return "rxonly";
    case TestpmdMode::kIo:
      return "io";
  }
  return "icmpecho";
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

// The digits at `pos` in `text` (none: nullopt).
std::optional<uint64_t> numberAt(const std::string& text, size_t pos) {
  size_t end = pos;
  while (end < text.size() && isDigit(text[end])) ++end;
  if (end == pos || end - pos > 19) return std::nullopt;
  return std::stoull(text.substr(pos, end - pos));
}

// The value after "<key>:" and blanks within `block`, as a number.
std::optional<uint64_t> counter(const std::string& block, const std::string& key) {
  size_t at = block.find(key + ":");
  if (at == std::string::npos) return std::nullopt;
  at += key.size() + 1;
  while (at < block.size() && block[at] == ' ') ++at;
  return numberAt(block, at);
}

// Start offsets of every "<title> for port N" block in `log`.
std::vector<size_t> blockStarts(const std::string& log, const std::string& title, int port) {
  std::vector<size_t> out;
  const std::string needle = title + " for port " + std::to_string(port);
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    const size_t after = at + needle.size();
    if (after < log.size() && isDigit(log[after])) continue;  // port 1 vs port 10
    out.push_back(at);
  }
  return out;
}

// "[0-9]+([-,][0-9]+)*"
bool validCoreList(const std::string& s) {
  bool want_digit = true;
  for (char c : s) {
    if (isDigit(c)) {
      want_digit = false;
    } else if ((c == ',' || c == '-') && !want_digit) {
      want_digit = true;
    } else {
      return false;
    }
  }
  return !want_digit;
}

bool validFilePrefix(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

// The block starting at `start`, up to its closing line of '#' or '-';
// nothing while the closing line is not written yet.
std::optional<std::string> blockAt(const std::string& log, size_t start) {
  size_t end = log.find("\n  ####", start + 1);
  size_t end2 = log.find("\n  ----", start + 1);
  if (end2 != std::string::npos && (end == std::string::npos || end2 < end)) end = end2;
  if (end == std::string::npos) return std::nullopt;
  return log.substr(start, end - start);
}

}  // namespace

// --- image -------------------------------------------------------------------

StatusOr<GuestImage> ensureGuestImage() {
  GuestImage img;
  img.dir = binaryDir() + "/guest";
  auto r = run({guestDir() + "/build-initramfs", "--out", img.dir}, std::chrono::minutes(5));
  if (!r.ok()) return unavailable("build-initramfs failed: " + r.describe());
  img.kernel = img.dir + "/vmlinuz";
  img.initrd = img.dir + "/initramfs.cpio.gz";
  return img;
}

// --- QMP ---------------------------------------------------------------------

namespace {

// A connected unix stream socket, closed on destruction.
class UnixConn {
 public:
  ~UnixConn() {
    if (fd_ >= 0) close(fd_);
  }
  Status connectTo(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path)
      return invalidArgument("qmp socket path too long: " + path);
    std::copy(path.begin(), path.end(), addr.sun_path);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return errnoStatus(errno, "socket");
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return unavailable(fmt::format("qmp: connect {}: {}", path, strerror(errno)));
    return okStatus();
  }
  Status send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t w = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (w < 0) return unavailable(fmt::format("qmp: send: {}", strerror(errno)));
      off += size_t(w);
    }
    return okStatus();
  }
  // The next '\n'-terminated line, by `deadline`.
  StatusOr<std::string> readLine(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return deadlineExceeded("qmp: no reply in time");
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, int(left.count()));
      if (r < 0 && errno != EINTR) return errnoStatus(errno, "qmp: poll");
      if (r <= 0) continue;
      char chunk[4096];
      ssize_t got = read(fd_, chunk, sizeof chunk);
      if (got <= 0) return unavailable("qmp: connection closed by QEMU");
      buf_.append(chunk, size_t(got));
    }
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// The next line that is a reply ("return" or "error"), skipping events.
StatusOr<std::string> qmpReply(UnixConn& c, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    VFO_ASSIGN_OR_RETURN(std::string line, c.readLine(deadline));
    if (line.find("\"return\"") != std::string::npos) return line;
    if (line.find("\"error\"") != std::string::npos)
      return failedPrecondition("qmp error: " + line);
  }
}

}  // namespace

StatusOr<std::string> qmpExecute(const std::string& socket_path, const std::string& command_json,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  UnixConn c;
  VFO_RETURN_IF_ERROR(c.connectTo(socket_path));
  VFO_ASSIGN_OR_RETURN(std::string greeting, c.readLine(deadline));
  if (greeting.find("\"QMP\"") == std::string::npos)
    return unavailable("qmp: unexpected greeting: " + greeting);
  VFO_RETURN_IF_ERROR(c.send("{\"execute\":\"qmp_capabilities\"}\n"));
  VFO_ASSIGN_OR_RETURN(std::string caps, qmpReply(c, deadline));
  (void)caps;
  VFO_RETURN_IF_ERROR(c.send(command_json + "\n"));
  return qmpReply(c, deadline);
}

// --- parsers -----------------------------------------------------------------

std::string pingGapScript(const std::string& dest, int count, int interval_ms) {
  return fmt::format(
      "wait_carrier || result carrier timeout\n"
      "ping -c {} -i {:.3f} -W 1 {} >/tmp/p 2>&1\n"
      "result tx $(sed -n 's/^\\([0-9]*\\) packets transmitted.*/\\1/p' /tmp/p)\n"
      "result rx $(sed -n 's/.* \\([0-9]*\\) packets received.*/\\1/p' /tmp/p)\n"
      "result gap $(grep -o 'seq=[0-9]*' /tmp/p | cut -d= -f2 | "
      "awk 'NR>1 && $1-p>m {{m=$1-p}} {{p=$1}} END {{print m+0}}')\n",
      count, interval_ms / 1000.0, dest);
}

std::map<std::string, std::string> parseGuestResults(const std::string& console) {
  std::map<std::string, std::string> out;
  const std::string marker = "VFO-RESULT ";
  for (const auto& line : linesWith(console, marker)) {
    std::string kv = line.substr(line.find(marker) + marker.size());
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

std::optional<int> parseGuestDone(const std::string& console) {
  const std::string needle = "VFO-DONE rc=";
  std::optional<int> rc;
  for (size_t at = console.find(needle); at != std::string::npos;
       at = console.find(needle, at + 1)) {
    if (auto n = numberAt(console, at + needle.size()); n && *n < 256) rc = int(*n);
  }
  return rc;
}

std::optional<TestpmdPortStats> parseTestpmdPortStats(const std::string& log, int port) {
  auto starts = blockStarts(log, "NIC statistics", port);
  if (starts.empty()) return std::nullopt;
  const auto found = blockAt(log, starts.back());
  if (!found) return std::nullopt;  // still being written
  const std::string& block = *found;
  TestpmdPortStats s;
  auto rxp = counter(block, "RX-packets");
  auto txp = counter(block, "TX-packets");
  if (!rxp || !txp) return std::nullopt;
  s.rx_packets = *rxp;
  s.tx_packets = *txp;
  s.rx_missed = counter(block, "RX-missed").value_or(0);
  s.rx_bytes = counter(block, "RX-bytes").value_or(0);
  s.rx_errors = counter(block, "RX-errors").value_or(0);
  s.rx_nombuf = counter(block, "RX-nombuf").value_or(0);
  s.tx_errors = counter(block, "TX-errors").value_or(0);
  s.tx_bytes = counter(block, "TX-bytes").value_or(0);
  return s;
}

size_t countTestpmdStatsBlocks(const std::string& log, int port) {
  return blockStarts(log, "NIC statistics", port).size();
}

std::optional<TestpmdForwardStats> parseTestpmdForwardStats(const std::string& log, int port) {
  auto starts = blockStarts(log, "Forward statistics", port);
  if (starts.empty()) return std::nullopt;
  const auto found = blockAt(log, starts.back());
  if (!found) return std::nullopt;  // still being written
  const std::string& block = *found;
  auto rxp = counter(block, "RX-packets");
  auto rxd = counter(block, "RX-dropped");
  auto txp = counter(block, "TX-packets");
  auto txd = counter(block, "TX-dropped");
  if (!rxp || !rxd || !txp || !txd) return std::nullopt;
  return TestpmdForwardStats{*rxp, *rxd, *txp, *txd};
}

std::string parseTestpmdPortMac(const std::string& log, int port) {
  const std::string needle = "Port " + std::to_string(port) + ": ";
  for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
    if (at > 0 && log[at - 1] != '\n') continue;  // only "Port N: MAC" lines
    auto mac = MacAddress::parse(log.substr(at + needle.size(), 17));
    if (mac) return mac->toString();
  }
  return "";
}

// --- QemuGuest -----------------------------------------------------------------

QemuGuest::QemuGuest(QemuGuestOptions options) : options_(std::move(options)) {}

QemuGuest::~QemuGuest() {
  stop();
  if (own_work_dir_) removeTree(work_dir_);
}

Status QemuGuest::validate() const {
  const auto& o = options_;
  if (!o.mac.empty()) {
    auto mac = MacAddress::parseUnicast(o.mac);
    if (!mac) return invalidArgument("mac: " + mac.status().message());
  }
  if (o.queues < 1 || o.queues > 16)
    return invalidArgument(fmt::format("queues: {} is not in 1..16", o.queues));
  if (o.socket.empty() && o.role == VhostUserRole::kServer)
    return invalidArgument("role: kServer needs a socket");
  if (o.socket.find(',') != std::string::npos)
    return invalidArgument("socket: '" + o.socket + "' contains ',' (QEMU option separator)");
  for (const auto& a : o.ips)
    if (!validPrefix(a, AF_INET))
      return invalidArgument("ips: '" + a + "' is not an IPv4 address/prefix like 198.18.0.10/24");
  for (const auto& a : o.ip6s)
    if (!validPrefix(a, AF_INET6))
      return invalidArgument("ip6s: '" + a + "' is not an IPv6 address/prefix like 2001:db8::1/64");
  if (!o.gw.empty() && !validAddress(o.gw, AF_INET))
    return invalidArgument("gw: '" + o.gw + "' is not an IPv4 address");
  if (!o.gw6.empty() && !validAddress(o.gw6, AF_INET6))
    return invalidArgument("gw6: '" + o.gw6 + "' is not an IPv6 address");
  if (o.vlan < 0 || o.vlan > 4094)
    return invalidArgument(fmt::format("vlan: {} is not in 0..4094 (0 = untagged)", o.vlan));
  if (o.mtu != 0 && (o.mtu < 68 || o.mtu > 65535))
    return invalidArgument(fmt::format("mtu: {} is not in 68..65535 (0 = default)", o.mtu));
  if (o.memory_mb < 64) return invalidArgument(fmt::format("memory_mb: {} < 64", o.memory_mb));
  if (o.cpus < 1 || o.cpus > 8)
    return invalidArgument(fmt::format("cpus: {} is not in 1..8", o.cpus));
  if (o.timeout.count() <= 0) return invalidArgument("timeout: must be positive");
  if (o.socket.empty() && (!o.ips.empty() || !o.ip6s.empty() || o.vlan || !o.mac.empty()))
    return invalidArgument("socket: network settings given but no socket (no NIC)");
  return okStatus();
}

Status QemuGuest::start() {
  if (process_) return failedPrecondition("QemuGuest: already started");
  VFO_RETURN_IF_ERROR(validate());
  VFO_ASSIGN_OR_RETURN(GuestImage img, ensureGuestImage());
  if (options_.work_dir.empty()) {
    work_dir_ = makeTempDir("vfo-qemu-");
    own_work_dir_ = true;
  } else {
    work_dir_ = options_.work_dir;
  }
  // Unique names: several guests may share one work directory (migration).
  const std::string base = work_dir_ + "/" + uniqueName("qemu");
  console_path_ = base + ".console.log";
  const auto& o = options_;
  std::vector<std::string> argv = {guestDir() + "/run-qemu-guest",
                                   "--guest-dir",
                                   img.dir,
                                   "--serial-log",
                                   console_path_,
                                   "--timeout",
                                   std::to_string(o.timeout.count()),
                                   "--memory",
                                   std::to_string(o.memory_mb),
                                   "--cpus",
                                   std::to_string(o.cpus)};
  auto add = [&](const std::string& flag, const std::string& value) {
    argv.push_back(flag);
    argv.push_back(value);
  };
  if (o.socket.empty()) {
    argv.push_back("--no-nic");
  } else {
    add("--socket", o.socket);
    if (o.role == VhostUserRole::kServer) argv.push_back("--server");
    add("--queues", std::to_string(o.queues));
  }
  if (!o.mac.empty()) add("--mac", o.mac);
  for (const auto& a : o.ips) add("--ip", a);
  for (const auto& a : o.ip6s) add("--ip6", a);
  if (!o.gw.empty()) add("--gw", o.gw);
  if (!o.gw6.empty()) add("--gw6", o.gw6);
  if (o.vlan) add("--vlan", std::to_string(o.vlan));
  if (o.mtu) add("--mtu", std::to_string(o.mtu));
  if (!o.script.empty()) {
    if (o.script.size() <= kMaxInlineScript) {
      add("--script", o.script);
    } else {
      const std::string path = base + ".script.sh";
      std::ofstream(path) << o.script << "\n";
      add("--script-file", path);
    }
  }
  if (o.hold == GuestHold::kSleep) add("--hold", "1");
  if (o.hold == GuestHold::kShell) add("--hold", "shell");
  if (!o.qmp_socket.empty()) add("--qmp", o.qmp_socket);
  if (!o.incoming.empty()) add("--incoming", o.incoming);
  if (!o.extra_qemu_args.empty()) {
    argv.push_back("--");
    argv.insert(argv.end(), o.extra_qemu_args.begin(), o.extra_qemu_args.end());
  }
  process_ = std::make_unique<Process>(argv, base + ".log",
                                       /*keep_stdin=*/o.hold == GuestHold::kShell);
  return okStatus();
}

std::string QemuGuest::console() const {
  return console_path_.empty() ? "" : readFile(console_path_);
}

std::string QemuGuest::log() const {
  return process_ ? process_->log() : "";
}

std::string QemuGuest::tail() const {
  return "\n--- end of QEMU launcher log ---\n" + lastChars(log(), 3000);
}

std::map<std::string, std::string> QemuGuest::results() const {
  return parseGuestResults(console());
}

bool QemuGuest::running() {
  if (!process_) return false;
  if (process_->running()) return true;
  if (!exit_code_) exit_code_ = process_->exitCode();
  return false;
}

pid_t QemuGuest::pid() const {
  return process_ ? process_->pid() : -1;
}

bool QemuGuest::waitForConsole(const std::string& text, std::chrono::milliseconds timeout) {
  return waitFor([&] { return console().find(text) != std::string::npos; }, timeout,
                 std::chrono::milliseconds(50));
}

StatusOr<int> QemuGuest::waitDone(std::chrono::milliseconds timeout) {
  if (!process_) return failedPrecondition("QemuGuest: not started");
  std::optional<int> rc;
  bool exited = false;
  waitFor(
      [&] {
        rc = parseGuestDone(console());
        if (rc) return true;
        exited = !running();
        // Once exited, the console file is complete: read it one last time.
        if (exited) rc = parseGuestDone(console());
        return exited;
      },
      timeout, std::chrono::milliseconds(50));
  if (rc) return *rc;
  if (exited)
    return unavailable(fmt::format("QEMU guest exited (status {}) without VFO-DONE{}",
                                   exit_code_.value_or(-1), tail()));
  return deadlineExceeded(
      fmt::format("QEMU guest: no VFO-DONE within {} ms{}", timeout.count(), tail()));
}

StatusOr<int> QemuGuest::waitExit(std::chrono::milliseconds timeout) {
  if (!process_) return failedPrecondition("QemuGuest: not started");
  if (!waitFor([&] { return !running(); }, timeout, std::chrono::milliseconds(50)))
    return deadlineExceeded(
        fmt::format("QEMU guest still running after {} ms{}", timeout.count(), tail()));
  return *exit_code_;
}

void QemuGuest::sendConsole(const std::string& line) {
  ignoreSigpipe();
  if (process_) process_->writeStdin(line + "\n");
}

StatusOr<std::string> QemuGuest::qmp(const std::string& command_json,
                                     std::chrono::milliseconds timeout) {
  if (options_.qmp_socket.empty()) return failedPrecondition("QemuGuest: no qmp_socket option");
  return qmpExecute(options_.qmp_socket, command_json, timeout);
}

int QemuGuest::stop(std::chrono::milliseconds grace) {
  if (!process_) return -1;
  if (running()) exit_code_ = process_->stop(grace);
  return exit_code_.value_or(-1);
}

// --- TestpmdGuest --------------------------------------------------------------

TestpmdGuest::TestpmdGuest(TestpmdOptions options) : options_(std::move(options)) {}

TestpmdGuest::~TestpmdGuest() {
  stop();
  if (own_work_dir_) removeTree(work_dir_);
}

Status TestpmdGuest::validate() const {
  const auto& o = options_;
  if (o.socket.empty()) return invalidArgument("socket: required");
  if (o.socket.find(',') != std::string::npos)
    return invalidArgument("socket: '" + o.socket + "' contains ',' (EAL argument separator)");
  if (o.queues < 1 || o.queues > 16)
    return invalidArgument(fmt::format("queues: {} is not in 1..16", o.queues));
  if (!o.mac.empty()) {
    if (o.pmd != TestpmdPmd::kVirtioUser)
      return invalidArgument("mac: only supported with TestpmdPmd::kVirtioUser");
    auto mac = MacAddress::parseUnicast(o.mac);
    if (!mac) return invalidArgument("mac: " + mac.status().message());
  }
  if (o.lcores.empty() && !validCoreList(o.cores))
    return invalidArgument("cores: '" + o.cores + "' is not a core list like 0,1");
  if (o.main_lcore < -1) return invalidArgument("main_lcore: must be -1 (default) or a core");
  if (o.memory_mb < 64) return invalidArgument(fmt::format("memory_mb: {} < 64", o.memory_mb));
  if (!o.interactive && o.stats_period_s <= 0)
    return invalidArgument(
        "stats_period_s: must be > 0 without interactive (testpmd would exit at once)");
  if (!o.file_prefix.empty() && !validFilePrefix(o.file_prefix))
    return invalidArgument("file_prefix: '" + o.file_prefix +
                           "' has characters other than [A-Za-z0-9_.-]");
  return okStatus();
}

Status TestpmdGuest::start() {
  if (process_) return failedPrecondition("TestpmdGuest: already started");
  VFO_RETURN_IF_ERROR(validate());
  if (options_.file_prefix.empty()) options_.file_prefix = uniqueName("vfotp");
  if (options_.work_dir.empty()) {
    work_dir_ = makeTempDir("vfo-testpmd-");
    own_work_dir_ = true;
  } else {
    work_dir_ = options_.work_dir;
  }
  const auto& o = options_;
  std::vector<std::string> argv = {guestDir() + "/run-testpmd-guest",
                                   "--socket",
                                   o.socket,
                                   "--pmd",
                                   o.pmd == TestpmdPmd::kVhost ? "vhost" : "virtio-user",
                                   "--queues",
                                   std::to_string(o.queues),
                                   "--mode",
                                   modeName(o.mode),
                                   "--file-prefix",
                                   o.file_prefix,
                                   "--memory",
                                   std::to_string(o.memory_mb)};
  auto add = [&](const std::string& flag, const std::string& value) {
    argv.push_back(flag);
    argv.push_back(value);
  };
  if (o.role == TestpmdSocketRole::kServer) argv.push_back("--server");
  if (o.role == TestpmdSocketRole::kClient) argv.push_back("--client");
  if (!o.mac.empty()) add("--mac", o.mac);
  if (o.lcores.empty())
    add("--cores", o.cores);
  else
    add("--lcores", o.lcores);
  if (o.main_lcore >= 0) add("--main-lcore", std::to_string(o.main_lcore));
  std::vector<std::string> app = o.extra_args;
  if (o.interactive) {
    argv.push_back("--interactive");
    app.insert(app.begin(), "--auto-start");
  } else {
    add("--stats-period", std::to_string(o.stats_period_s));
  }
  if (!app.empty()) {
    argv.push_back("--");
    argv.insert(argv.end(), app.begin(), app.end());
  }
  process_ = std::make_unique<Process>(argv, work_dir_ + "/" + o.file_prefix + ".log",
                                       /*keep_stdin=*/o.interactive);
  return okStatus();
}

std::string TestpmdGuest::log() const {
  return process_ ? process_->log() : "";
}

std::string TestpmdGuest::tail() const {
  return "\n--- end of testpmd log ---\n" + lastChars(log(), 3000);
}

bool TestpmdGuest::running() {
  if (!process_) return false;
  if (process_->running()) return true;
  if (!exit_code_) exit_code_ = process_->exitCode();
  return false;
}

pid_t TestpmdGuest::pid() const {
  return process_ ? process_->pid() : -1;
}

Status TestpmdGuest::waitReady(std::chrono::milliseconds timeout) {
  if (!process_) return failedPrecondition("TestpmdGuest: not started");
  bool ready = false, exited = false;
  waitFor(
      [&] {
        ready = log().find("packet forwarding - ports=") != std::string::npos;
        if (!ready) exited = !running();
        return ready || exited;
      },
      timeout, std::chrono::milliseconds(20));
  if (ready) return okStatus();
  if (exited)
    return unavailable(fmt::format("testpmd exited (status {}) before forwarding{}",
                                   exit_code_.value_or(-1), tail()));
  return deadlineExceeded(
      fmt::format("testpmd not forwarding within {} ms{}", timeout.count(), tail()));
}

std::string TestpmdGuest::portMac(int port) const {
  return parseTestpmdPortMac(log(), port);
}

std::optional<TestpmdPortStats> TestpmdGuest::lastStats(int port) const {
  return parseTestpmdPortStats(log(), port);
}

StatusOr<TestpmdPortStats> TestpmdGuest::freshStats(std::chrono::milliseconds timeout, int port) {
  if (!process_) return failedPrecondition("TestpmdGuest: not started");
  const size_t before = countTestpmdStatsBlocks(log(), port);
  if (options_.interactive) sendCommand(fmt::format("show port stats {}", port));
  std::optional<TestpmdPortStats> s;
  waitFor(
      [&] {
        const std::string l = log();
        if (countTestpmdStatsBlocks(l, port) <= before) return false;
        s = parseTestpmdPortStats(l, port);
        return s.has_value();
      },
      timeout, std::chrono::milliseconds(20));
  if (s) return *s;
  return deadlineExceeded(fmt::format("testpmd: no statistics for port {} within {} ms{}", port,
                                      timeout.count(), tail()));
}

StatusOr<TestpmdForwardStats> TestpmdGuest::forwardStats(int port) const {
  auto s = parseTestpmdForwardStats(log(), port);
  if (!s) return notFound(fmt::format("testpmd: no forward statistics for port {}", port));
  return *s;
}

void TestpmdGuest::sendCommand(const std::string& line) {
  ignoreSigpipe();
  if (process_) process_->writeStdin(line + "\n");
}

int TestpmdGuest::stop(std::chrono::milliseconds grace) {
  if (!process_) return -1;
  if (running()) exit_code_ = process_->stop(grace);
  // A killed testpmd cannot remove its EAL runtime directory; the launcher
  // does so on a clean exit. Remove the (empty) directory either way.
  std::error_code ec;
  std::filesystem::remove("/var/run/dpdk/" + options_.file_prefix, ec);
  return exit_code_.value_or(-1);
}

}  // namespace vfo::testing
