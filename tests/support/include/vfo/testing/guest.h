// Test guests: a QEMU TCG Linux guest and a dpdk-testpmd guest, each behind
// a vhost-user socket. Thin C++ handles over tests/guest/run-qemu-guest and
// tests/guest/run-testpmd-guest (docs/guests.md describes both).
//
// Contracts:
// - start() validates the options (INVALID_ARGUMENT naming the field, nothing
//   started) and launches the launcher as a Process in its own process group.
// - Each handle stops only what it started (its launcher's pid and process
//   group), at the latest in its destructor, also when a test fails.
// - Files a handle creates (logs, script files) live in its work directory,
//   under names unique to the handle: options.work_dir when given (the caller
//   removes it; several handles may share it), else a fresh temp directory
//   removed by the destructor.
// - Not thread-safe: use one handle from one thread.
// - Waits take a deadline; none sleeps a fixed time.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/testing/subprocess.h"

namespace vfo::testing {

// --- the guest image ---------------------------------------------------------

// Files of a built QEMU guest.
struct GuestImage {
  std::string dir;     // build-initramfs output directory
  std::string kernel;  // the Debian kernel (vmlinuz)
  std::string initrd;  // the initramfs (cpio.gz) with busybox, modules, /init
};

// Runs tests/guest/build-initramfs into binaryDir()/guest; a no-op when the
// stamp there matches the inputs. Safe to call from concurrent test processes
// (the script locks its output directory). UNAVAILABLE with the script's
// output when the build fails (e.g. no kernel installed).
StatusOr<GuestImage> ensureGuestImage();

// --- the QEMU guest ----------------------------------------------------------

// QEMU's role on the vhost-user socket.
enum class VhostUserRole {
  kClient,  // QEMU connects to the backend's socket (reconnect=1)
  kServer,  // QEMU listens on the socket and the backend connects
};

// What the guest does after its script.
enum class GuestHold {
  kNone,   // power off (QEMU exits)
  kSleep,  // stay up until stopped (vfo.hold=1)
  kShell,  // run a shell on the console; sendConsole() writes to it
};

struct QemuGuestOptions {
  std::string socket;                           // vhost-user socket; empty = no NIC
  VhostUserRole role = VhostUserRole::kClient;  // QEMU's side of the socket
  std::string mac;                              // device MAC; empty = QEMU's default
  int queues = 1;                               // queue pairs, 1..16 (>1 turns on mq)
  std::vector<std::string> ips;                 // IPv4 "198.18.0.10/24" on the guest
  std::vector<std::string> ip6s;                // IPv6 "2001:db8::10/64" on the guest
  std::string gw;                               // IPv4 default gateway; empty = none
  std::string gw6;                              // IPv6 default gateway; empty = none
  int vlan = 0;                                 // 802.1Q VLAN for the addresses; 0 = none
  int mtu = 0;                                  // NIC MTU; 0 = the driver's default
  std::string script;                           // guest shell script; empty = none
  GuestHold hold = GuestHold::kNone;            // after the script
  std::string qmp_socket;                       // QMP unix socket path; empty = none
  std::string incoming;                         // -incoming URI; empty = normal boot
  int memory_mb = 256;                          // guest memory, shared memfd
  int cpus = 1;  // vCPUs, 1..8; the guest driver uses min(cpus, queues) queue pairs
  std::vector<std::string> extra_qemu_args;  // appended to QEMU's command line
  std::chrono::seconds timeout{60};          // the launcher stops QEMU after this
  std::string work_dir;                      // logs and files; empty = own temp dir
};

// One QEMU TCG guest. The script reaches the guest base64-encoded on the
// kernel command line when it is short (kMaxInlineScript), else as a file
// through QEMU fw_cfg; either way it runs with /lib/vfo.sh's helpers.
class QemuGuest {
 public:
  // Longest script sent on the kernel command line (bytes before base64).
  static constexpr size_t kMaxInlineScript = 1024;

  explicit QemuGuest(QemuGuestOptions options);
  ~QemuGuest();  // stop(); removes the own work directory
  QemuGuest(const QemuGuest&) = delete;
  QemuGuest& operator=(const QemuGuest&) = delete;

  // Validates, builds the image if needed, launches. FAILED_PRECONDITION when
  // already started.
  Status start();

  // Waits for the guest's "VFO-DONE rc=N" line and returns N. DEADLINE_EXCEEDED
  // when it does not come in time; UNAVAILABLE when QEMU exits without it.
  // Both messages carry the end of the console log.
  StatusOr<int> waitDone(std::chrono::milliseconds timeout);
  // Waits for the launcher to exit and returns its status: the guest's rc,
  // 124 on the launcher's timeout, 125 when QEMU failed. DEADLINE_EXCEEDED
  // when it is still running.
  StatusOr<int> waitExit(std::chrono::milliseconds timeout);
  // Waits until the console shows `text`.
  bool waitForConsole(const std::string& text, std::chrono::milliseconds timeout);

  // The serial console so far.
  std::string console() const;
  // The launcher's whole output (console plus QEMU's and the launcher's
  // messages), for assertion messages.
  std::string log() const;
  // "VFO-RESULT key=value" lines seen so far (a later line wins).
  std::map<std::string, std::string> results() const;

  // With GuestHold::kShell: sends one command line to the guest's shell.
  void sendConsole(const std::string& line);
  // Runs one QMP command (needs options.qmp_socket); see qmpExecute().
  StatusOr<std::string> qmp(const std::string& command_json,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

  bool running();
  pid_t pid() const;  // the launcher's pid; -1 when not running
  // Stops QEMU (SIGTERM to the launcher, SIGKILL to its group after `grace`)
  // and returns the launcher's exit status. A no-op once exited.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  const QemuGuestOptions& options() const { return options_; }
  const std::string& workDir() const { return work_dir_; }

 private:
  Status validate() const;
  std::string tail() const;

  QemuGuestOptions options_;
  std::string work_dir_;
  bool own_work_dir_ = false;
  std::string console_path_;
  std::unique_ptr<Process> process_;
  std::optional<int> exit_code_;
};

// One QMP exchange on a fresh connection to `socket_path`: reads the
// greeting, negotiates capabilities, sends `command_json` (e.g.
// {"execute":"query-status"}) and returns the reply line, skipping events.
// UNAVAILABLE when the socket does not answer, DEADLINE_EXCEEDED when no reply
// comes within `timeout`, FAILED_PRECONDITION with the reply when QEMU
// answers with an error.
StatusOr<std::string> qmpExecute(const std::string& socket_path, const std::string& command_json,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

// A guest script (after wait_carrier) that pings `dest` `count` times every
// `interval_ms` and reports VFO-RESULT tx and rx (echo requests sent and
// answered) and gap (the longest step between consecutive answered sequence
// numbers: 1 = none lost; k = k-1 lost in a row), so outages show in the
// guest's own view. A carrier timeout is reported as result carrier.
std::string pingGapScript(const std::string& dest, int count, int interval_ms);

// Parses "VFO-RESULT key=value" lines of a console log (a later line wins).
std::map<std::string, std::string> parseGuestResults(const std::string& console);
// The rc of the last "VFO-DONE rc=N" line, if any.
std::optional<int> parseGuestDone(const std::string& console);

// --- the testpmd guest -------------------------------------------------------

// Which end of the vhost-user socket testpmd is.
enum class TestpmdPmd {
  kVirtioUser,  // net_virtio_user: the guest's driver end
  kVhost,       // net_vhost: the backend end
};

// Whether testpmd listens on the socket or connects to it.
enum class TestpmdSocketRole {
  kPmdDefault,  // virtio-user connects, vhost listens
  kServer,      // testpmd listens
  kClient,      // testpmd connects
};

// testpmd forwarding modes used by vfo's tests (--forward-mode).
enum class TestpmdMode {
  kIcmpEcho,  // answers ARP requests (for any target IP) and ICMP echo
  kMacSwap,   // sends every frame back with the MACs swapped
  kTxOnly,    // transmits generated UDP frames (see --txpkts, --eth-peer)
  kRxOnly,    // receives and drops
  kIo,        // forwards unchanged to the paired port
};

struct TestpmdOptions {
  std::string socket;                                       // vhost-user socket path
  TestpmdPmd pmd = TestpmdPmd::kVirtioUser;                 // which end
  TestpmdSocketRole role = TestpmdSocketRole::kPmdDefault;  // listen or connect
  int queues = 1;                                           // queue pairs, 1..16
  std::string mac;                                          // port MAC (virtio-user only)
  TestpmdMode mode = TestpmdMode::kIcmpEcho;                // forwarding mode
  std::string cores = "0,1";                                // EAL -l list
  int main_lcore = -1;                                      // -1 = the first of `cores`
  std::string lcores;                                       // EAL --lcores map instead
  std::string file_prefix;                                  // empty = unique
  int memory_mb = 256;                                      // EAL -m with --no-huge
  int stats_period_s = 1;                                   // periodic stats (non-interactive)
  bool interactive = false;                                 // -i with --auto-start
  std::vector<std::string> extra_args;                      // testpmd application options
  std::string work_dir;                                     // log dir; empty = own temp dir
};

// One port's counters from testpmd's "NIC statistics for port N" block.
struct TestpmdPortStats {
  uint64_t rx_packets = 0;  // RX-packets
  uint64_t rx_missed = 0;   // RX-missed
  uint64_t rx_bytes = 0;    // RX-bytes
  uint64_t rx_errors = 0;   // RX-errors
  uint64_t rx_nombuf = 0;   // RX-nombuf
  uint64_t tx_packets = 0;  // TX-packets
  uint64_t tx_errors = 0;   // TX-errors
  uint64_t tx_bytes = 0;    // TX-bytes
};

// One port's counters from testpmd's final "Forward statistics for port N".
struct TestpmdForwardStats {
  uint64_t rx_packets = 0;  // RX-packets
  uint64_t rx_dropped = 0;  // RX-dropped
  uint64_t tx_packets = 0;  // TX-packets
  uint64_t tx_dropped = 0;  // TX-dropped
};

// One dpdk-testpmd process (virtio-user guest or vhost backend).
class TestpmdGuest {
 public:
  explicit TestpmdGuest(TestpmdOptions options);
  ~TestpmdGuest();  // stop(); removes the own work directory
  TestpmdGuest(const TestpmdGuest&) = delete;
  TestpmdGuest& operator=(const TestpmdGuest&) = delete;

  // Validates and launches. FAILED_PRECONDITION when already started.
  Status start();
  // Waits until forwarding has started ("packet forwarding - ports=" in the
  // log). UNAVAILABLE when testpmd exits first, DEADLINE_EXCEEDED otherwise;
  // both carry the end of the log.
  Status waitReady(std::chrono::milliseconds timeout);

  // The port's MAC as testpmd printed it at start ("Port 0: AA:BB:..."),
  // lower case; empty before that.
  std::string portMac(int port = 0) const;
  // The newest statistics block in the log, if any.
  std::optional<TestpmdPortStats> lastStats(int port = 0) const;
  // Statistics printed after this call: waits for the next periodic block,
  // or in interactive mode asks with "show port stats". DEADLINE_EXCEEDED when
  // none comes within `timeout`.
  StatusOr<TestpmdPortStats> freshStats(std::chrono::milliseconds timeout, int port = 0);
  // The final forward statistics testpmd prints when it stops. NOT_FOUND
  // while running or when it died without printing them.
  StatusOr<TestpmdForwardStats> forwardStats(int port = 0) const;

  // Interactive mode: sends one command line.
  void sendCommand(const std::string& line);

  std::string log() const;
  bool running();
  pid_t pid() const;  // the launcher's pid; -1 when not running
  // SIGTERM (testpmd prints its final statistics and exits), SIGKILL to the
  // group after `grace`. Returns the exit status (0 for a clean stop).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  const TestpmdOptions& options() const { return options_; }
  const std::string& filePrefix() const { return options_.file_prefix; }

 private:
  Status validate() const;
  std::string tail() const;

  TestpmdOptions options_;
  std::string work_dir_;
  bool own_work_dir_ = false;
  std::unique_ptr<Process> process_;
  std::optional<int> exit_code_;
};

// Parsers over testpmd's log, exposed for unit tests.
std::optional<TestpmdPortStats> parseTestpmdPortStats(const std::string& log, int port);
size_t countTestpmdStatsBlocks(const std::string& log, int port);
std::optional<TestpmdForwardStats> parseTestpmdForwardStats(const std::string& log, int port);
std::string parseTestpmdPortMac(const std::string& log, int port);

}  // namespace vfo::testing
