#include "vfo/vhost/daemon.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "vfo/api/metrics_server.h"
#include "vfo/api/server.h"
#include "vfo/api/state_store.h"
#include "vfo/base/atomic_file.h"
#include "vfo/base/log.h"
#include "vfo/hooks/grpc_port_control.h"
#include "vfo/hooks/libvirt_domain_source.h"
#include "vfo/hooks/reconcile_service.h"
#include "vfo/netlink/netlink_socket.h"
#include "vfo/sriov/software_vf_provider.h"
#include "vfo/sriov/sriov_sysfs.h"
#include "vfo/sriov/sysfs_io.h"
#include "vfo/sriov/sysfs_sriov_provider.h"
#include "vfo/sriov/vf_netlink.h"
#include "vfo/vhost/api_backend.h"
#include "vfo/vhost/control_queue.h"
#include "vfo/vhost/eal.h"
#include "vfo/vhost/eal_dpdk_control.h"
#include "vfo/vhost/lag_controller.h"
#include "vfo/vhost/port_manager.h"
#include "vfo/vhost/probe_channel.h"
#include "vfo/vhost/relay.h"

namespace vfo::vhost {

namespace {

const Logger kLog{"vfod"};

std::string memberName(const std::vector<std::string>& members, lag::MemberId m) {
  if (m == lag::kNoMember || m >= members.size()) return "none";
  return members[m];
}

Status makeDirectory(const std::string& dir, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return okStatus();
  std::filesystem::create_directories(dir, ec);
  if (ec) return errnoStatus(ec.value(), "creating directory " + dir);
  ::chmod(dir.c_str(), mode);
  return okStatus();
}

api::ApiServerOptions apiOptionsOf(const VfodConfig& c) {
  api::ApiServerOptions o;
  o.listen = c.api.listen;
  o.socket_mode = c.api.socket_mode;
  o.socket_group = c.api.group;
  o.access.allowed_uids = c.api.allowed_uids;
  // vfod itself (its libvirt reconciliation) may always call its own API.
  if (std::find(o.access.allowed_uids.begin(), o.access.allowed_uids.end(), ::geteuid()) ==
      o.access.allowed_uids.end())
    o.access.allowed_uids.push_back(::geteuid());
  o.access.allowed_gids = c.api.allowed_gids;
  o.port_socket_dir = c.sockets.dir;
  return o;
}

// Writes the learned addresses the backend reports as changed into the
// API's desired state, once a second, off the control thread (recordLearned
// takes the API's mutation lock, which an API call holds while it waits for
// the control thread).
class LearnedPersister {
 public:
  LearnedPersister(VfodApiBackend& backend, api::ApiServer& api) : backend_(backend), api_(api) {
    thread_ = std::thread([this] { run(); });
  }
  ~LearnedPersister() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    flush();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
      lock.unlock();
      flush();
      lock.lock();
    }
  }
  void flush() {
    for (auto& [id, addrs] : backend_.takeLearnedChanges()) {
      Status s = api_.recordLearned(id, std::move(addrs));
      if (!s.isOk() && s.code() != StatusCode::kNotFound)
        kLog.warn(fmt::format("[port {}]", id), "learned addresses not saved: {}", s.toString());
    }
  }
  VfodApiBackend& backend_;
  api::ApiServer& api_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::string statsFilePath(const VfodConfig& config) {
  return config.state_dir + "/stats.txt";
}
std::string pidFilePath(const VfodConfig& config) {
  return config.state_dir + "/vfod.pid";
}

std::string renderStats(uint64_t sequence, const std::vector<PortStatsEntry>& ports,
                        const std::vector<WorkerStatsSnapshot>& workers,
                        const std::vector<std::string>& members) {
  std::string out = fmt::format("# vfod stats snapshot {}\n", sequence);
  for (const auto& e : ports) {
    const std::string& id = e.record.settings.id;
    out += fmt::format("port {} state {} vhost {} active_member {}\n", id,
                       portStateName(e.record.state), vhostLinkName(e.record.vhost),
                       memberName(members, e.record.active_member));
    e.report.total.forEach([&](const StatInfo& i, uint64_t v) {
      out += fmt::format("port {} {} {}\n", id, i.name, v);
    });
    for (size_t q = 0; q < e.report.queues.size(); ++q)
      e.report.queues[q].forEach([&](const StatInfo& i, uint64_t v) {
        if (v) out += fmt::format("port {} queue {} {} {}\n", id, q, i.name, v);
      });
    for (size_t m = 0; m < e.report.members.size(); ++m)
      e.report.members[m].forEach([&](const StatInfo& i, uint64_t v) {
        out += fmt::format("port {} member {} {} {}\n", id, memberName(members, lag::MemberId(m)),
                           i.name, v);
      });
    e.report.events.forEach([&](const StatInfo& i, uint64_t v) {
      out += fmt::format("port {} event {} {}\n", id, i.name, v);
    });
  }
  for (size_t w = 0; w < workers.size(); ++w)
    workers[w].forEach([&](const StatInfo& i, uint64_t v) {
      out += fmt::format("worker {} {} {}\n", w, i.name, v);
    });
  return out;
}

namespace {

class Daemon {
 public:
  explicit Daemon(const VfodConfig& config) : config_(config) {
    for (const auto& m : config.lag.members) member_names_.push_back(m.name);
  }

  int run() {
    setLogLevel(config_.log_level);
    // Every thread DPDK creates inherits this mask: the signals reach only
    // the signalfd read by the control loop.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGHUP}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    const int sfd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (sfd < 0) {
      kLog.error("", "signalfd: {}", strerror(errno));
      return 1;
    }

    const HostFacts facts = probeHostFacts();
    auto args = ealArguments(config_, facts);
    if (!args.isOk()) {
      kLog.error("", "{}", args.status().toString());
      return 1;
    }
    prefix_ = effectiveFilePrefix(config_, facts);
    kLog.info("", "starting: EAL {}", fmt::join(*args, " "));
    if (Status s = initEal(*args); !s.isOk()) {
      kLog.error("", "{}", s.toString());
      return 1;
    }
    const int rc = runWithEal(sfd);
    cleanupEal(prefix_);
    ::close(sfd);
    kLog.info("", "stopped");
    return rc;
  }

 private:
  int runWithEal(int sfd) {
    for (const auto& [dir, mode] : {std::pair{config_.state_dir, mode_t(0750)},
                                    std::pair{config_.sockets.dir, mode_t(0755)}}) {
      if (Status s = makeDirectory(dir, mode); !s.isOk()) {
        kLog.error("", "{}", s.toString());
        return 1;
      }
    }
    if (Status s = writeFileAtomically(pidFilePath(config_), fmt::format("{}\n", getpid()), 0644);
        !s.isOk()) {
      kLog.error("", "{}", s.toString());
      return 1;
    }

    RelayOptions ro;
    for (uint32_t l : config_.eal.worker_lcores) ro.worker_lcores.push_back(l);
    ro.idle_backoff_max = config_.datapath.idle_backoff_max;
    ro.learner_ring_size = config_.datapath.learner_ring_size;
    ro.mbufs = config_.memory.mbufs;
    auto relay = Relay::create(ro);
    if (!relay.isOk()) {
      kLog.error("", "{}", relay.status().toString());
      std::filesystem::remove(pidFilePath(config_));
      return 1;
    }
    int rc = 0;
    {
      EalDpdkControl dpdk((*relay)->packetPool());
      if (config_.lag.vf_provider == VfProviderSetting::kSoftware)
        dpdk.setParkable([](const std::string& device) {
          constexpr std::string_view kPrefix = "net_af_packet_";
          return device.rfind(kPrefix, 0) == 0 &&
                 sriov::parseSoftwareVfName(std::string_view(device).substr(kPrefix.size()));
        });
      // Shared uplinks: opened once, before any port, and closed only after
      // the workers stopped.
      std::vector<SharedUplinkRef> shared;
      if (config_.lag.vf_provider == VfProviderSetting::kShared) {
        const uint16_t workers = uint16_t(config_.eal.worker_lcores.size());
        for (lag::MemberId m = 0; m < config_.lag.members.size() && rc == 0; ++m) {
          const MemberSettings& ms = config_.lag.members[m];
          UplinkRequest req;
          // framecnt: 4096 frames per ring instead of 512, so an announce
          // burst after a failover (thousands of frames) or a burst of
          // guest traffic does not fill the TX ring every port shares.
          req.devargs = fmt::format(
              "net_af_packet_vfoshared{},iface={},qpairs={},framecnt=4096,qdisc_bypass=1", m,
              ms.netdev, workers);
          req.queue_pairs = workers;
          req.promiscuous = true;
          auto up = dpdk.openUplink(req);
          if (!up.isOk()) {
            kLog.error("", "shared uplink of member {}: {}", ms.name, up.status().toString());
            rc = 1;
            break;
          }
          auto index = (*relay)->addSharedUplink(
              SharedUplinkSpec{ms.name, m, up->eth_port, workers, workers});
          if (!index.isOk()) {
            kLog.error("", "{}", index.status().toString());
            (void)dpdk.closeUplink(*up);
            rc = 1;
            break;
          }
          shared.push_back(SharedUplinkRef{*index, *up});
        }
      }
      PortManager ports(dpdk, **relay,
                        PortManager::Options{config_.sockets, config_.lag, config_.datapath,
                                             rc == 0 ? shared : std::vector<SharedUplinkRef>{}});
      EalDpdkControl::setEventHandler(&ports);
      if (Status s = (*relay)->start(); !s.isOk()) {
        kLog.error("", "{}", s.toString());
        rc = 1;
      }
      std::unique_ptr<LagController> lag;
      if (rc == 0) {
        auto made = makeLag(ports);
        if (made.isOk()) {
          lag = std::move(*made);
        } else {
          kLog.error("", "{}", made.status().toString());
          rc = 1;
        }
      }
      // The API's desired state: loaded before VF adoption so the VFs of
      // API ports are adopted too; a file vfod cannot read stops the start.
      std::optional<api::StateStore> store;
      std::optional<api::StateStore::Loaded> loaded;
      if (rc == 0 && config_.api.enabled) {
        store.emplace(config_.state_dir);
        auto l = store->load();
        if (!l.isOk()) {
          kLog.error("", "API state {}: {}", store->path(), l.status().toString());
          rc = 1;
        } else {
          loaded = std::move(*l);
          if (!loaded->problem.empty())
            kLog.error("", "API state {}: {} (set aside as {}); starting without it", store->path(),
                       loaded->problem, loaded->set_aside_path);
        }
      }
      if (rc == 0 && lag->vfPairs()) {
        std::vector<PortSettings> wanted = config_.ports;
        if (loaded)
          for (const auto& spec : loaded->state.ports)
            if (auto s = portSettingsOf(spec); s.isOk()) wanted.push_back(*s);
        lag->adopt(wanted);
      }
      for (const auto& p : config_.ports) {
        if (rc != 0) break;
        if (Status s = lag->createPort(p); !s.isOk()) {
          kLog.error(fmt::format("[port {}]", p.id), "{}", s.toString());
          rc = 1;
        }
      }
      ControlQueue control;
      api::EventBuffer events(config_.api.event_buffer);
      std::optional<VfodApiBackend> backend;
      std::optional<api::ApiServer> api;
      std::optional<LearnedPersister> persister;
      std::optional<api::MetricsServer> metrics;
      if (rc == 0)
        backend.emplace(config_, control, ports, *lag, events, MonotonicClock::instance());
      if (backend) backend->setRelay(relay->get());
      if (rc == 0 && config_.api.enabled) {
        api.emplace(*backend, events, *store, apiOptionsOf(config_));
        for (const auto& failure : api->restore(loaded->state, loaded->problem))
          kLog.error("", "restore: {}", failure);
        if (!loaded->state.ports.empty())
          kLog.info("", "restored {} API ports from {}", loaded->state.ports.size(), store->path());
        auto path = api::unixSocketPath(config_.api.listen);
        if (path.isOk()) {
          const std::string dir = std::filesystem::path(*path).parent_path().string();
          if (Status s = makeDirectory(dir, 0755); !s.isOk())
            kLog.error("", "API socket directory: {}", s.toString());
        }
        if (Status s = api->start(); !s.isOk()) {
          kLog.error("", "API: {}", s.toString());
          rc = 1;
        } else {
          kLog.info("", "API listening on {}", config_.api.listen);
          persister.emplace(*backend, *api);
        }
      }
      // Reconciliation with libvirt: through vfod's own API, so its ports
      // are persisted like the hook's. A missing libvirtd is not an error.
      std::optional<hooks::LibvirtDomainSource> domains;
      std::optional<hooks::GrpcPortControl> port_control;
      std::optional<hooks::ReconcileService> reconcile;
      if (rc == 0 && config_.libvirt.enabled) {
        if (!api) {
          kLog.warn("", "libvirt reconciliation needs the ops API (api.listen is \"none\"): off");
        } else {
          hooks::LibvirtDomainSourceOptions lo;
          lo.uri = config_.libvirt.uri;
          domains.emplace(lo);
          hooks::GrpcVfodClientOptions co;
          co.target = config_.api.listen;
          port_control.emplace(co);
          hooks::ReconcileServiceOptions ro;
          ro.reconciler.grace = config_.libvirt.grace;
          ro.xml.socket_dir = config_.sockets.dir;
          reconcile.emplace(*domains, *port_control, MonotonicClock::instance(), ro);
          if (Status s = reconcile->start(); !s.isOk()) {
            kLog.error("", "libvirt reconciliation: {}", s.toString());
            rc = 1;
          } else {
            kLog.info("", "reconciling ports with libvirt at {} (grace {} ms)", config_.libvirt.uri,
                      std::chrono::duration_cast<std::chrono::milliseconds>(config_.libvirt.grace)
                          .count());
          }
        }
      }
      if (rc == 0 && !config_.metrics_listen.empty()) {
        api::MetricsServerOptions mo;
        mo.listen = config_.metrics_listen;
        VfodApiBackend* b = &*backend;
        metrics.emplace(mo, [b]() { return b->metricsSnapshot(); });
        if (Status s = metrics->start(); !s.isOk()) {
          kLog.error("", "metrics: {}", s.toString());
          rc = 1;
        } else {
          kLog.info("", "metrics on {}", config_.metrics_listen);
        }
      }
      if (rc == 0) {
        kLog.info(
            "", "running: {} ports, {} workers, idle backoff up to {} us (pid {})",
            config_.ports.size(), config_.eal.worker_lcores.size(),
            std::chrono::duration_cast<std::chrono::microseconds>(config_.datapath.idle_backoff_max)
                .count(),
            getpid());
        controlLoop(sfd, ports, **relay, *lag, control, backend ? &*backend : nullptr);
      }
      // API calls in flight get UNAVAILABLE; then the API stops before the
      // ports go away.
      control.close();
      if (reconcile) reconcile->stop();
      if (domains) domains->stop();
      if (metrics) metrics->stop();
      persister.reset();
      if (api) api->stop();
      events.close();
      if (lag) {
        if (rc == 0) dumpStats(ports, **relay, "final", lag.get());
        lag->closeAll();
      }
      ports.closeAll();
      // Parked software VFs and their uplinks (kept for fast port creation)
      // go away with vfod.
      dpdk.closeParked();
      if (software_vfs_)
        for (const auto& m : config_.lag.members)
          if (auto n = software_vfs_->purgeParked(m.netdev); !n.isOk())
            kLog.warn("", "parked software VFs on {}: {}", m.netdev, n.status().toString());
      EalDpdkControl::setEventHandler(nullptr);
      (*relay)->stop();
      for (const auto& s : shared)
        if (Status st = dpdk.closeUplink(s.info); !st.isOk())
          kLog.warn("", "shared uplink {}: {}", s.info.device_name, st.toString());
    }
    software_vfs_ = nullptr;
    vf_provider_.reset();
    vf_netlink_.reset();
    sriov_sysfs_.reset();
    sysfs_io_.reset();
    vf_socket_.reset();
    probe_channel_.reset();
    link_socket_.reset();
    relay->reset();
    std::filesystem::remove(pidFilePath(config_));
    return rc;
  }

  // The LAG: a real rtnetlink socket for carrier, and for software or
  // SR-IOV VFs a second (unsubscribed) one for the macvlans or the PFs.
  StatusOr<std::unique_ptr<LagController>> makeLag(PortManager& ports) {
    VFO_ASSIGN_OR_RETURN(link_socket_, netlink::RtNetlinkSocket::open());
    if (config_.lag.vf_provider == VfProviderSetting::kSoftware) {
      VFO_ASSIGN_OR_RETURN(vf_socket_, netlink::RtNetlinkSocket::open());
      sriov::SoftwareVfOptions o;
      o.capacity = config_.lag.software_vf_capacity;
      o.proc_sys = &proc_sys_;
      o.park_on_reset = true;
      VFO_RETURN_IF_ERROR(sriov::SoftwareVfProvider::validate(o));
      auto software = std::make_unique<sriov::SoftwareVfProvider>(*vf_socket_, o);
      software_vfs_ = software.get();
      vf_provider_ = std::move(software);
    } else if (config_.lag.vf_provider == VfProviderSetting::kSriov) {
      VFO_ASSIGN_OR_RETURN(vf_socket_, netlink::RtNetlinkSocket::open());
      sysfs_io_ = std::make_unique<sriov::DirectorySysfsIo>(config_.lag.sriov_sysfs_root);
      sriov_sysfs_ = std::make_unique<sriov::SriovSysfs>(*sysfs_io_);
      vf_netlink_ = std::make_unique<sriov::VfNetlink>(*vf_socket_);
      sriov::SysfsSriovOptions o;
      o.bind_vfio = config_.lag.sriov_bind_vfio;
      vf_provider_ = std::make_unique<sriov::SysfsSriovProvider>(*sriov_sysfs_, *vf_netlink_, o);
    }
    if (config_.lag.probe) {
      std::vector<std::string> netdevs;
      for (const auto& m : config_.lag.members) netdevs.push_back(m.netdev);
      VFO_ASSIGN_OR_RETURN(probe_channel_, PacketProbeChannel::open(netdevs));
    }
    VFO_ASSIGN_OR_RETURN(
        auto lag, LagController::create(config_, ports, link_socket_.get(), vf_provider_.get(),
                                        MonotonicClock::instance(), probe_channel_.get()));
    VFO_RETURN_IF_ERROR(lag->start());
    // Consume the initial link dump before any port exists, so ports are
    // placed on a member whose state is known (and a port is not "moved" out
    // of degraded, with announces, a moment after vfod starts).
    const vfo::Clock& clock = MonotonicClock::instance();
    for (int round = 0; round < 64; ++round) {
      pollfd p{lag->fd(), POLLIN, 0};
      if (::poll(&p, 1, round == 0 ? 500 : 0) <= 0) break;
      VFO_RETURN_IF_ERROR(lag->onReadable(clock.now()));
    }
    return lag;
  }

  void controlLoop(int sfd, PortManager& ports, Relay& relay, LagController& lag,
                   ControlQueue& control, VfodApiBackend* backend) {
    using Clock = std::chrono::steady_clock;
    const vfo::Clock& clock = MonotonicClock::instance();
    const auto interval = config_.datapath.stats_interval;
    auto next_stats = Clock::now() + interval;
    for (;;) {
      // [0] signals, [1] the runtime's rtnetlink socket, [2] API work,
      // [3..] probe sockets.
      std::vector<pollfd> pfd{pollfd{sfd, POLLIN, 0}, pollfd{lag.fd(), POLLIN, 0},
                              pollfd{control.fd(), POLLIN, 0}};
      if (probe_channel_)
        for (lag::MemberId m = 0; m < config_.lag.members.size(); ++m)
          pfd.push_back(pollfd{probe_channel_->fd(m), POLLIN, 0});
      // At most 10 ms: the learner rings are drained at least this often;
      // earlier when a LAG timer (delay, announce burst) is due.
      int timeout_ms = 10;
      const TimePoint due = lag.nextDeadline();
      if (due != kNever) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            due - clock.now() + std::chrono::microseconds(999));
        timeout_ms = int(std::clamp<int64_t>(left.count(), 0, 10));
      }
      const int n = ::poll(pfd.data(), nfds_t(pfd.size()), timeout_ms);
      if (n > 0 && (pfd[1].revents & (POLLIN | POLLERR))) {
        if (Status s = lag.onReadable(clock.now()); !s.isOk())
          kLog.warn("", "link monitor: {}", s.toString());
      }
      for (size_t i = 3; n > 0 && i < pfd.size(); ++i)
        if (pfd[i].revents & POLLIN) lag.onProbeReadable(lag::MemberId(i - 3), clock.now());
      if (n > 0 && (pfd[2].revents & POLLIN)) control.runPending();
      if (clock.now() >= lag.nextDeadline()) {
        if (Status s = lag.onTick(clock.now()); !s.isOk()) kLog.warn("", "lag: {}", s.toString());
      }
      if (n > 0 && (pfd[0].revents & POLLIN)) {
        signalfd_siginfo si;
        if (::read(sfd, &si, sizeof si) == ssize_t(sizeof si)) {
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            kLog.info("", "signal {}: stopping", strsignal(int(si.ssi_signo)));
            return;
          }
          if (si.ssi_signo == SIGUSR1) dumpStats(ports, relay, "SIGUSR1", &lag);
          if (si.ssi_signo == SIGHUP)
            kLog.info("", "SIGHUP ignored: vfod reloads nothing implicitly");
        }
      }
      while (relay.drainLearner(lag) != 0) {
      }
      if (backend) backend->poll();
      if (interval.count() > 0 && Clock::now() >= next_stats) {
        dumpStats(ports, relay, "periodic", &lag);
        next_stats = Clock::now() + interval;
      }
    }
  }

  void dumpStats(PortManager& ports, Relay& relay, std::string_view why, LagController* lag) {
    std::vector<PortStatsEntry> entries;
    for (const auto& rec : ports.listPorts()) {
      auto report = ports.portStats(rec.settings.id);
      if (report.isOk()) entries.push_back({rec, *report});
    }
    std::string text = renderStats(++stats_seq_, entries, relay.workerStats(), member_names_);
    for (const auto& su : relay.sharedUplinks()) {
      text += fmt::format("shared {} ports {}\nshared {} macs {}\nshared {} lcore {}\n", su.name,
                          su.ports, su.name, su.macs, su.name, su.worker_lcore);
      su.stats.forEach([&](const StatInfo& i, uint64_t v) {
        text += fmt::format("shared {} {} {}\n", su.name, i.name, v);
      });
    }
    if (lag) text += lag->renderStats();
    if (Status s = writeFileAtomically(statsFilePath(config_), text, 0644); !s.isOk())
      kLog.warn("", "stats file: {}", s.toString());
    // One compact line per port in the log: non-zero counters only.
    for (const auto& e : entries) {
      std::string line;
      e.report.total.forEach([&](const StatInfo& i, uint64_t v) {
        if (v) line += fmt::format(" {}={}", i.name, v);
      });
      kLog.info(fmt::format("[port {}]", e.record.settings.id), "stats ({}): {} {}{}", why,
                portStateName(e.record.state), vhostLinkName(e.record.vhost),
                line.empty() ? " (no traffic)" : line);
    }
    if (lag) kLog.info("", "lag: {} failovers", lag->failoverCount());
  }

  VfodConfig config_;
  std::vector<std::string> member_names_;
  std::string prefix_;
  uint64_t stats_seq_ = 0;
  sriov::DirectorySysfsIo proc_sys_{"/proc/sys"};          // software VFs: disable_ipv6
  std::unique_ptr<netlink::RtNetlinkSocket> link_socket_;  // carrier notifications
  std::unique_ptr<netlink::RtNetlinkSocket> vf_socket_;    // software VF requests
  std::unique_ptr<PacketProbeChannel> probe_channel_;      // path probes, if configured
  std::unique_ptr<sriov::DirectorySysfsIo> sysfs_io_;      // SR-IOV VFs: sysfs
  std::unique_ptr<sriov::SriovSysfs> sriov_sysfs_;         // SR-IOV VFs: discovery
  std::unique_ptr<sriov::VfNetlink> vf_netlink_;           // SR-IOV VFs: PF rtnetlink
  std::unique_ptr<sriov::VfProvider> vf_provider_;         // software or SR-IOV VFs
  sriov::SoftwareVfProvider* software_vfs_ = nullptr;      // vf_provider_ if software
};

}  // namespace

int runDaemon(const VfodConfig& config) {
  Daemon d(config);
  return d.run();
}

int requestStats(const VfodConfig& config) {
  std::ifstream pidf(pidFilePath(config));
  pid_t pid = 0;
  if (!(pidf >> pid) || pid <= 0) {
    fmt::print(stderr, "vfod --stats: no running vfod ({} missing or empty)\n",
               pidFilePath(config));
    return 1;
  }
  const std::string path = statsFilePath(config);
  auto mtime = [&]() -> std::optional<std::filesystem::file_time_type> {
    std::error_code ec;
    auto t = std::filesystem::last_write_time(path, ec);
    if (ec) return std::nullopt;
    return t;
  };
  auto read_seq = [&]() -> long {
    std::ifstream f(path);
    std::string hash, word1, word2;
    long seq = -1;
    f >> hash >> word1 >> word2 >> seq;
    return seq;
  };
  const long before = read_seq();
  const auto before_time = mtime();
  if (::kill(pid, SIGUSR1) != 0) {
    fmt::print(stderr, "vfod --stats: cannot signal pid {}: {}\n", pid, strerror(errno));
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    const long seq = read_seq();
    if (seq >= 0 && (seq != before || mtime() != before_time)) {
      std::ifstream f(path);
      std::stringstream ss;
      ss << f.rdbuf();
      fmt::print("{}", ss.str());
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fmt::print(stderr, "vfod --stats: pid {} wrote no stats within 5 s\n", pid);
  return 1;
}

}  // namespace vfo::vhost
