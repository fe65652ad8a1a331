#include "vfo/testing/libvirt_daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "vfo/testing/names.h"
#include "vfo/testing/wait.h"

namespace vfo::testing {

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The paths libvirt 9.0 compiles in for a privileged daemon, and the
// directory of the work dir each one is bind-mounted from.
struct CompiledPath {
  const char* host;  // the path libvirtd uses
  const char* work;  // its replacement below the work directory
};
constexpr CompiledPath kCompiledPaths[] = {
    {"/etc/libvirt", "etc"},         {"/run/libvirt", "run"},     {"/var/lib/libvirt", "lib"},
    {"/var/cache/libvirt", "cache"}, {"/var/log/libvirt", "log"},
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Status writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return internalError("cannot write " + path);
  return Status::ok();
}

// Whether `name` is an executable found in PATH (or an absolute path).
bool haveProgram(const std::string& name) {
  return run({"sh", "-c", "command -v " + name}, 10s).ok();
}

// Whether process `pid` exists and is not a zombie.
bool alive(pid_t pid) {
  const std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  return stat[paren + 2] != 'Z';
}

// "guest=NAME," from a QEMU command line libvirt made (-name guest=NAME,...).
bool isQemuOfDomain(pid_t pid, const std::string& domain) {
  std::string cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : cmdline)
    if (c == '\0') c = ' ';
  return cmdline.find("qemu-system") != std::string::npos &&
         cmdline.find("guest=" + domain + ",") != std::string::npos;
}

}  // namespace

LibvirtDaemon::LibvirtDaemon(LibvirtDaemonOptions options) : options_(std::move(options)) {}

LibvirtDaemon::~LibvirtDaemon() {
  stop();
}

std::string LibvirtDaemon::unavailableReason() {
  if (::geteuid() != 0) return "a private libvirtd needs root";
  for (const char* p :
       {"libvirtd", "virtlogd", "virsh", "unshare", "nsenter", "mount", "qemu-system-x86_64"})
    if (!haveProgram(p))
      return std::string(p) +
             " not found (scripts/setup installs libvirt-daemon-system, libvirt-clients, "
             "qemu-system-x86, util-linux)";
  return "";
}

Status LibvirtDaemon::start() {
  if (started_) return failedPrecondition("LibvirtDaemon::start called twice");
  started_ = true;
  if (std::string why = unavailableReason(); !why.empty()) return failedPrecondition(why);
  for (size_t i = 0; i < options_.private_dirs.size(); ++i) {
    const PrivateDir& d = options_.private_dirs[i];
    const std::string field = "private_dirs[" + std::to_string(i) + "]";
    if (d.path.empty() || d.path[0] != '/' || d.path.find("..") != std::string::npos)
      return invalidArgument(field + ".path: '" + d.path + "' must be absolute without '..'");
    if (!fs::is_directory(d.source))
      return invalidArgument(field + ".source: '" + d.source + "' is not a directory");
  }
  if (options_.work_dir.empty()) {
    work_dir_ = makeTempDir("vfo-libvirt-");
    own_work_dir_ = true;
  } else {
    work_dir_ = options_.work_dir;
    std::error_code ec;
    fs::create_directories(work_dir_, ec);
    if (ec) return internalError("cannot create work_dir " + work_dir_ + ": " + ec.message());
  }
  uri_ = "qemu:///system?socket=" + work_dir_ + "/run/libvirt-sock";
  VFO_RETURN_IF_ERROR(writeConfig());
  for (const std::string& hook : options_.qemu_hooks)
    VFO_RETURN_IF_ERROR(installQemuHook(hook, fs::path(hook).filename()));
  VFO_RETURN_IF_ERROR(startNamespace());
  VFO_RETURN_IF_ERROR(startVirtlogd());
  return startLibvirtd();
}

Status LibvirtDaemon::writeConfig() {
  for (const auto& p : kCompiledPaths) {
    std::error_code ec;
    fs::create_directories(work_dir_ + "/" + p.work, ec);
    if (ec) return internalError("cannot create " + work_dir_ + "/" + p.work + ": " + ec.message());
  }
  std::error_code ec;
  fs::create_directories(qemuHookDir(), ec);
  if (ec) return internalError("cannot create " + qemuHookDir() + ": " + ec.message());
  const std::string etc = work_dir_ + "/etc/";
  // Sockets where the URI says (the same directory as /run/libvirt inside the
  // namespace), usable by root only, no polkit (there is no D-Bus here).
  VFO_RETURN_IF_ERROR(writeFile(etc + "libvirtd.conf", "unix_sock_dir = \"" + work_dir_ +
                                                           "/run\"\n"
                                                           "unix_sock_rw_perms = \"0700\"\n"
                                                           "unix_sock_ro_perms = \"0700\"\n"
                                                           "auth_unix_rw = \"none\"\n"
                                                           "auth_unix_ro = \"none\"\n"
                                                           "log_outputs = \"3:stderr\"\n"));
  VFO_RETURN_IF_ERROR(writeFile(etc + "virtlogd.conf", "log_outputs = \"3:stderr\"\n"));
  // QEMU as root and no relabelling: libvirt must not chown or tag (xattrs)
  // the kernel, initrd or sockets a test domain names. No cgroups: libvirt
  // would otherwise leave a "machine" cgroup behind on the host.
  return writeFile(etc + "qemu.conf",
                   "user = \"root\"\n"
                   "cgroup_controllers = [ ]\n"
                   "group = \"root\"\n"
                   "dynamic_ownership = 0\n"
                   "remember_owner = 0\n"
                   "security_driver = \"none\"\n");
}

Status LibvirtDaemon::installQemuHook(const std::string& executable, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return invalidArgument("hook name '" + name + "' must be a plain file name");
  if (work_dir_.empty())
    return failedPrecondition("installQemuHook before start(): no work directory yet");
  if (::access(executable.c_str(), R_OK) != 0)
    return notFound("hook executable " + executable + " cannot be read");
  std::error_code ec;
  fs::create_directories(qemuHookDir(), ec);
  const std::string target = qemuHookDir() + "/" + name;
  fs::copy_file(executable, target, fs::copy_options::overwrite_existing, ec);
  if (ec) return internalError("cannot copy " + executable + " to " + target + ": " + ec.message());
  if (::chmod(target.c_str(), 0755) != 0) return errnoStatus(errno, "chmod " + target);
  return Status::ok();
}

Status LibvirtDaemon::startNamespace() {
  std::vector<PrivateDir> binds;
  for (const auto& p : kCompiledPaths) binds.push_back({p.host, work_dir_ + "/" + p.work});
  binds.insert(binds.end(), options_.private_dirs.begin(), options_.private_dirs.end());
  std::string script = "set -e\n";
  for (const PrivateDir& b : binds) {
    if (!fs::exists(b.path)) {
      // Only the missing levels are recorded, deepest last, so that stop()
      // removes exactly what was made here.
      std::vector<std::string> missing;
      for (fs::path p = b.path; !p.empty() && p != p.root_path() && !fs::exists(p);
           p = p.parent_path())
        missing.insert(missing.begin(), p.string());
      std::error_code ec;
      fs::create_directories(b.path, ec);
      if (ec) return internalError("cannot create mount point " + b.path + ": " + ec.message());
      made_mounts_.insert(made_mounts_.end(), missing.begin(), missing.end());
    } else if (!fs::is_directory(b.path)) {
      return failedPrecondition(b.path + " exists and is not a directory");
    }
    script += "mount --bind '" + b.source + "' '" + b.path + "'\n";
  }
  script += "echo VFO-NS-READY\nexec sleep infinity\n";
  holder_ =
      std::make_unique<Process>(std::vector<std::string>{"unshare", "--mount", "--propagation",
                                                         "private", "--", "sh", "-c", script},
                                work_dir_ + "/namespace.log");
  const bool ready = waitFor(
      [&] {
        return !holder_->running() || holder_->log().find("VFO-NS-READY") != std::string::npos;
      },
      10s, 10ms);
  if (!ready || !holder_->running())
    return unavailable("mount namespace for libvirt not made: " + holder_->log());
  return Status::ok();
}

Status LibvirtDaemon::startVirtlogd() {
  const std::string sock = work_dir_ + "/run/virtlogd-sock";
  virtlogd_ = std::make_unique<Process>(
      std::vector<std::string>{"nsenter", "-t", std::to_string(holder_->pid()), "-m", "--",
                               "virtlogd", "-f", work_dir_ + "/etc/virtlogd.conf", "-p",
                               work_dir_ + "/run/virtlogd.pid"},
      work_dir_ + "/virtlogd.log");
  const bool up = waitFor([&] { return !virtlogd_->running() || fs::exists(sock); }, 20s, 10ms);
  if (!up || !virtlogd_->running())
    return unavailable("virtlogd did not start: " + virtlogd_->log());
  return Status::ok();
}

Status LibvirtDaemon::startLibvirtd() {
  if (!holder_ || !holder_->running())
    return failedPrecondition("startLibvirtd without a namespace: call start() first");
  if (libvirtd_ && libvirtd_->running()) return failedPrecondition("libvirtd already runs");
  libvirtd_ = std::make_unique<Process>(
      std::vector<std::string>{"nsenter", "-t", std::to_string(holder_->pid()), "-m", "--",
                               "libvirtd", "-f", work_dir_ + "/etc/libvirtd.conf", "-p",
                               work_dir_ + "/run/libvirtd.pid"},
      work_dir_ + "/libvirtd." + std::to_string(++libvirtd_starts_) + ".log");
  RunResult last;
  const bool answered = waitFor(
      [&] {
        if (!libvirtd_->running()) return true;
        last = virsh({"version"}, 30s);
        return last.ok();
      },
      options_.start_timeout, 100ms);
  if (!libvirtd_->running())
    return unavailable("libvirtd exited with " + std::to_string(libvirtd_->exitCode()) + ": " +
                       libvirtd_->log());
  if (!answered)
    return unavailable("libvirtd does not answer `virsh version`: " + last.describe() +
                       "\nlibvirtd log:\n" + libvirtd_->log());
  return Status::ok();
}

Status LibvirtDaemon::stopLibvirtd() {
  if (!libvirtd_ || !libvirtd_->running()) return failedPrecondition("libvirtd is not running");
  const int rc = libvirtd_->stop(20s);
  if (rc != 0)
    return internalError("libvirtd exited with " + std::to_string(rc) +
                         " on SIGTERM: " + libvirtd_->log());
  return Status::ok();
}

RunResult LibvirtDaemon::virsh(const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{"virsh", "-c", uri_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

std::string LibvirtDaemon::qemuLog(const std::string& domain) const {
  return readFile(work_dir_ + "/log/qemu/" + domain + ".log");
}

std::optional<pid_t> LibvirtDaemon::qemuPid(const std::string& domain) const {
  const std::string text = readFile(work_dir_ + "/run/qemu/" + domain + ".pid");
  if (text.empty()) return std::nullopt;
  pid_t pid = 0;
  try {
    pid = pid_t(std::stol(text));
  } catch (...) {
    return std::nullopt;
  }
  if (pid <= 0 || !alive(pid) || !isQemuOfDomain(pid, domain)) return std::nullopt;
  return pid;
}

std::string LibvirtDaemon::libvirtdLog() const {
  std::string out;
  for (int i = 1; i <= libvirtd_starts_; ++i)
    out += "--- libvirtd start " + std::to_string(i) + " ---\n" +
           readFile(work_dir_ + "/libvirtd." + std::to_string(i) + ".log");
  return out;
}

std::string LibvirtDaemon::virtlogdLog() const {
  return virtlogd_ ? virtlogd_->log() : "";
}

pid_t LibvirtDaemon::libvirtdPid() const {
  return libvirtd_ && libvirtd_->running() ? libvirtd_->pid() : -1;
}

void LibvirtDaemon::killLeftoverQemus() {
  std::error_code ec;
  const std::string dir = work_dir_ + "/run/qemu";
  if (work_dir_.empty() || !fs::is_directory(dir, ec)) return;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".pid") continue;
    const std::string domain = entry.path().stem();
    const std::optional<pid_t> pid = qemuPid(domain);
    if (!pid) continue;
    ::kill(*pid, SIGKILL);
    waitFor([&] { return !alive(*pid); }, 10s, 10ms);
  }
}

void LibvirtDaemon::stop() {
  if (libvirtd_ && libvirtd_->running()) {
    RunResult list = virsh({"list", "--name"}, 20s);
    std::istringstream names(list.out);
    for (std::string name; std::getline(names, name);)
      if (!name.empty()) virsh({"destroy", name}, 30s);
  }
  killLeftoverQemus();
  if (libvirtd_) libvirtd_->stop(20s);
  if (virtlogd_) virtlogd_->stop(5s);
  if (holder_) holder_->stop(5s);
  for (auto it = made_mounts_.rbegin(); it != made_mounts_.rend(); ++it) ::rmdir(it->c_str());
  made_mounts_.clear();
  if (own_work_dir_ && !options_.keep_work_dir && !work_dir_.empty()) removeTree(work_dir_);
  own_work_dir_ = false;
}

}  // namespace vfo::testing
