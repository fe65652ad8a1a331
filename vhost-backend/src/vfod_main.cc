// vfod: the vfo vhost-user datapath daemon. See docs/vfod.md.
#include <fmt/format.h>
#include <sys/resource.h>

#include <cstring>
#include <optional>
#include <string>

#include "vfo/base/version.h"
#include "vfo/vhost/config.h"
#include "vfo/vhost/daemon.h"

namespace {

constexpr const char* kUsage =
    "usage: vfod [--config FILE] [--check-config | --stats]\n"
    "  --config FILE    text-format vfo.v1.DaemonConfig (default /etc/vfo/vfod.textproto)\n"
    "  --check-config   validate the file, print the ports it defines, exit\n"
    "  --stats          print the counters of the running vfod of this config\n"
    "  --metrics-listen ADDR  serve Prometheus metrics on a loopback host:port or\n"
    "                   unix:///path (overrides metrics.listen)\n"
    "  --version        print the version\n";

}  // namespace

int main(int argc, char** argv) {
  // Every vhost-user socket and its connection is a descriptor: with shared
  // uplinks one vfod holds hundreds of ports, more than the usual soft limit.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  std::string config_path(vfo::vhost::kDefaultConfigPath);
  enum class Mode { kRun, kCheck, kStats } mode = Mode::kRun;
  std::optional<std::string> metrics_listen;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      config_path = a.substr(9);
    } else if (a == "--metrics-listen" && i + 1 < argc) {
      metrics_listen = argv[++i];
    } else if (a.rfind("--metrics-listen=", 0) == 0) {
      metrics_listen = a.substr(17);
    } else if (a == "--check-config") {
      mode = Mode::kCheck;
    } else if (a == "--stats") {
      mode = Mode::kStats;
    } else if (a == "--version") {
      fmt::print("vfod {}\n", vfo::kVfoVersion);
      return 0;
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else {
      fmt::print(stderr, "vfod: unknown argument '{}'\n{}", a, kUsage);
      return 2;
    }
  }
  auto config = vfo::vhost::loadConfigFile(config_path);
  if (!config.isOk()) {
    fmt::print(stderr, "vfod: {}\n", config.status().message());
    return 2;
  }
  if (metrics_listen) config->metrics_listen = *metrics_listen;
  switch (mode) {
    case Mode::kCheck:
      fmt::print("{}: OK, {} LAG members, {} ports\n", config_path, config->lag.members.size(),
                 config->ports.size());
      for (const auto& p : config->ports)
        fmt::print("port {} socket {} ({}) mac {} vlan {} queue_pairs {}\n", p.id, p.socket_path,
                   vfo::vhost::socketRoleName(p.role), p.mac.toString(), p.vlan, p.queue_pairs);
      return 0;
    case Mode::kStats:
      return vfo::vhost::requestStats(*config);
    case Mode::kRun:
      break;
  }
  return vfo::vhost::runDaemon(*config);
}
