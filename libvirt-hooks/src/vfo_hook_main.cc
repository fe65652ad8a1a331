// vfo-hook: the libvirt qemu hook, installed as /etc/libvirt/hooks/qemu.d/vfo.
//
//   vfo [--socket=T] [--socket-dir=D] [--config=F] [--log=L] <domain> <operation> <sub-op> <extra>
//
// The domain XML comes on stdin (at most max_xml_bytes). What each operation
// does is runHook()'s (hook.h); settings come from hook_config.h. stdout
// carries only the XML of filter operations; stderr only one-line reasons
// (libvirt shows them when the hook fails); everything else goes to the log
// (syslog by default). A watchdog (SIGALRM, default action: the process
// dies) ends the run after budget + ready_timeout + 2 s whatever happens
// (stdin never closed, a stuck library call), so libvirtd never hangs on it.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "vfo/hooks/grpc_vfod_client.h"
#include "vfo/hooks/hook.h"
#include "vfo/hooks/hook_config.h"

namespace {

using namespace vfo::hooks;

// Reads stdin up to `limit` bytes. Returns false when there was more (the
// rest is drained so libvirt's writer is not left with a broken pipe).
bool readStdin(size_t limit, std::string* out) {
  char buf[65536];
  bool over = false;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (over) continue;
    if (out->size() + size_t(n) <= limit) {
      out->append(buf, size_t(n));
    } else {
      // Keep limit + 1 bytes: runHook refuses it as too large, like any
      // oversized input, without this process holding the rest.
      out->append(buf, limit + 1 - out->size());
      over = true;
    }
  }
  return !over;
}

bool writeAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

// Where log lines go (HookSettings::log).
class HookLog {
 public:
  explicit HookLog(const std::string& where) : where_(where) {
    if (where_ == "syslog") openlog("vfo-hook", LOG_PID, LOG_DAEMON);
  }
  void line(bool error, const std::string& text) const {
    if (where_ == "none") return;
    if (where_ == "syslog") {
      syslog(error ? LOG_ERR : LOG_INFO, "%s", text.c_str());
      return;
    }
    const int fd = ::open(where_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return;  // logging must never fail the hook
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    (void)writeAll(
        fd, fmt::format("{:.3f} vfo-hook[{}] {}{}\n", std::chrono::duration<double>(now).count(),
                        ::getpid(), error ? "error: " : "", text));
    ::close(fd);
  }

 private:
  std::string where_;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto settings = loadHookSettings(&args, [](const char* n) { return std::getenv(n); });
  // Operations whose failure must not stop a VM that is going away or running.
  const bool lenient = args.size() >= 3 && ((args[1] == "stopped" && args[2] == "end") ||
                                            (args[1] == "release" && args[2] == "end") ||
                                            (args[1] == "reconnect" && args[2] == "begin"));
  // The watchdog covers everything, reading stdin included: vfod calls end
  // within the budget, the readiness wait within ready_timeout.
  const HookSettings limits = settings ? *settings : HookSettings{};
  ::alarm(unsigned(
      std::chrono::ceil<std::chrono::seconds>(limits.budget + limits.ready_timeout).count() + 2));
  std::string xml;
  (void)readStdin(limits.max_xml_bytes, &xml);
  if (!settings) {
    HookLog("syslog").line(true, "config: " + settings.status().message());
    if (lenient) return 0;
    writeAll(STDERR_FILENO, "vfo: hook config: " + settings.status().message() + "\n");
    return 1;
  }
  const HookLog log(settings->log);

  const std::string what =
      fmt::format("domain {} {} {}", args.size() > 0 ? args[0] : "?",
                  args.size() > 1 ? args[1] : "?", args.size() > 2 ? args[2] : "?");

  HookConfig config;
  config.xml.socket_dir = settings->socket_dir;
  config.xml.max_bytes = settings->max_xml_bytes;
  config.ready_timeout = settings->ready_timeout;
  config.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  config.socket_exists = [](const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  };
  GrpcVfodClient vfod({settings->api_target, settings->call_timeout, settings->budget});

  const auto t0 = std::chrono::steady_clock::now();
  HookResult r = runHook(args, xml, vfod, config);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();

  for (const auto& l : r.log) log.line(false, what + ": " + l);
  for (const auto& e : r.errors) log.line(true, what + ": " + e);
  log.line(r.exit_code != 0, fmt::format("{}: exit {} after {} ms", what, r.exit_code, ms));

  if (!r.out.empty() && !writeAll(STDOUT_FILENO, r.out)) {
    log.line(true, what + ": cannot write the XML back to stdout");
    writeAll(STDERR_FILENO, "vfo: cannot write the domain XML back to libvirt\n");
    return 1;
  }
  for (const auto& e : r.errors) writeAll(STDERR_FILENO, e + "\n");
  return r.exit_code;
}
