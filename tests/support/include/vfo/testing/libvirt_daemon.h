// A private libvirt for end-to-end tests: virtlogd and libvirtd (libvirt 9.0,
// the qemu:///system driver) run as root, as the test's own processes, with
// their own configuration, state, runtime, cache and log directories and their
// own hook directory. Nothing of a system libvirt (if one runs) is read,
// written or stopped.
//
// How the isolation works (libvirt 9.0 lets only part of it be configured):
//  - configurable: libvirtd.conf `unix_sock_dir` moves the client sockets
//    (the URI is "qemu:///system?socket=<dir>/libvirt-sock"), `-f` / `-p`
//    move the config file and pid file of both daemons.
//  - compiled in, not configurable for a privileged daemon: /etc/libvirt
//    (qemu.conf and the hooks: /etc/libvirt/hooks/qemu and every executable in
//    /etc/libvirt/hooks/qemu.d/; see "Hooks" below),
//    /run/libvirt (state, virtlogd's socket), /var/lib/libvirt,
//    /var/cache/libvirt (QEMU capabilities), /var/log/libvirt (QEMU logs).
//    LIBVIRT_* and XDG_* variables only move these for an unprivileged
//    (qemu:///session) daemon. So both daemons run in a private mount
//    namespace (held by a `sleep` process the test owns) in which these five
//    paths are bind mounts of directories in the test's work directory.
//    options.private_dirs adds more (e.g. /etc/vfo). The mounts never
//    propagate to the host. The one host-visible trace is an empty mount
//    point directory made when one of these paths is missing (typically
//    /run/libvirt); it is removed again by stop().
//  - QEMU runs as root without a security driver, dynamic ownership or
//    cgroups, so libvirt changes no owner or xattr of the files a domain
//    names (kernel, sockets in the build or temp directories) and leaves no
//    "machine" cgroup behind.
//  - No networks, storage pools or filters are defined (the config directory
//    is empty), so libvirt creates no bridge, firewall rule or dnsmasq.
//
// Contract:
//  - start() returns OK once `virsh -c uri() version` answers (the first
//    answer waits for libvirt's QEMU capability probe, several seconds).
//  - Hooks: libvirtd decides when it starts (and on SIGHUP) whether qemu
//    hooks exist (hooks/qemu, or at least one executable in hooks/qemu.d);
//    if they do, every call runs the executables in qemu.d at that moment,
//    in name order. So at least one hook (options.qemu_hooks) must be in
//    place before start(); installQemuHook() later adds more that take
//    effect at once.
//  - stop() (also run by the destructor, also after a failed start) destroys
//    every domain of this libvirtd, kills any QEMU left from this daemon's
//    state directory (checked by its command line: only a QEMU named after
//    one of its domains), stops libvirtd, virtlogd and the namespace holder by
//    pid, and removes the work directory unless options.keep_work_dir.
//  - Needs root, unshare and nsenter (util-linux) and the Debian packages
//    libvirt-daemon-system, libvirt-clients and qemu-system-x86;
//    unavailableReason() says what is missing, for GTEST_SKIP.
//  - Not thread-safe: one thread drives a LibvirtDaemon.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/testing/subprocess.h"

namespace vfo::testing {

// One more directory the daemons (and the hooks and QEMUs they run) see in
// place of a host directory, e.g. /etc/vfo for vfo-hook's hook.conf.
struct PrivateDir {
  std::string path;    // absolute path as the daemons see it
  std::string source;  // existing directory bind-mounted there
};

struct LibvirtDaemonOptions {
  // Executables installed as hooks/qemu.d/<file name> (copied, mode 0755)
  // before libvirtd starts. libvirt runs them in file name order.
  std::vector<std::string> qemu_hooks;
  // More bind mounts in the daemons' namespace (created empty on the host
  // when missing, removed again by stop()).
  std::vector<PrivateDir> private_dirs;
  // Where the daemons keep everything; empty = a fresh temp directory.
  std::string work_dir;
  // How long start()/startLibvirtd() wait for `virsh version` to answer.
  std::chrono::milliseconds start_timeout = std::chrono::seconds(90);
  // Keep the work directory (logs) after stop(), for debugging.
  bool keep_work_dir = false;
};

class LibvirtDaemon {
 public:
  explicit LibvirtDaemon(LibvirtDaemonOptions options = {});
  ~LibvirtDaemon();  // stop()
  LibvirtDaemon(const LibvirtDaemon&) = delete;
  LibvirtDaemon& operator=(const LibvirtDaemon&) = delete;

  // Empty when this machine can run a private libvirtd, else why not (not
  // root, a binary missing).
  static std::string unavailableReason();

  // Writes the configuration, makes the namespace, starts virtlogd and
  // libvirtd and waits for libvirtd to answer. INVALID_ARGUMENT naming the
  // field for a bad private_dirs entry; FAILED_PRECONDITION when called twice; UNAVAILABLE (with
  // the daemon's log) when a daemon exits or does not answer in time. After a failure, stop()
  // cleans up.
  Status start();

  // Stops libvirtd only (SIGTERM; running QEMUs are not touched: libvirt
  // leaves them running) / starts it again in the same namespace and waits
  // for it to answer. Together: a libvirtd restart, after which libvirt
  // reconnects to its running domains (hook "reconnect begin").
  Status stopLibvirtd();
  Status startLibvirtd();

  // Copies `executable` to hooks/qemu.d/<name> (see the contract above for
  // when libvirtd runs it). FAILED_PRECONDITION before start(); INVALID_ARGUMENT for an empty or
  // path-like name, NOT_FOUND when the file cannot be read.
  Status installQemuHook(const std::string& executable, const std::string& name);

  // Stops everything this object started and removes its files. Idempotent.
  void stop();

  // The URI that reaches this libvirtd ("qemu:///system?socket=...").
  const std::string& uri() const { return uri_; }
  // Runs `virsh -c uri() args...`.
  RunResult virsh(const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  const std::string& workDir() const { return work_dir_; }
  // The hook directory libvirtd reads as /etc/libvirt/hooks/qemu.d.
  std::string qemuHookDir() const { return work_dir_ + "/etc/hooks/qemu.d"; }
  // libvirt's QEMU log of `domain` (command line, QEMU's stderr).
  std::string qemuLog(const std::string& domain) const;
  // The pid of `domain`'s QEMU from libvirt's state directory, if it runs.
  std::optional<pid_t> qemuPid(const std::string& domain) const;
  // The daemons' own logs (warnings and errors).
  std::string libvirtdLog() const;
  std::string virtlogdLog() const;
  // libvirtd's pid, -1 when it is not running.
  pid_t libvirtdPid() const;

 private:
  Status writeConfig();
  Status startNamespace();
  Status startVirtlogd();
  void killLeftoverQemus();

  LibvirtDaemonOptions options_;
  std::string work_dir_;                  // everything lives below it
  bool own_work_dir_ = false;             // made by us (removed by stop())
  std::string uri_;                       // qemu:///system?socket=...
  std::vector<std::string> made_mounts_;  // mount points we had to create on the host
  std::unique_ptr<Process> holder_;       // keeps the mount namespace alive
  std::unique_ptr<Process> virtlogd_;     // virtlogd in the namespace
  std::unique_ptr<Process> libvirtd_;     // libvirtd in the namespace
  int libvirtd_starts_ = 0;               // names the per-start log files
  bool started_ = false;                  // start() was called
};

}  // namespace vfo::testing
