#include "vfo/vhost/eal_dpdk_control.h"

#include <limits.h>
#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "dpdk_vhost.h"

namespace vfo::vhost {

namespace {

std::atomic<VhostEventHandler*> g_handler{nullptr};

std::string socketPathOf(int vid) {
  char buf[PATH_MAX];
  if (rte_vhost_get_ifname(vid, buf, sizeof buf) != 0) return "";
  return buf;
}

// librte_vhost callbacks (vhost-events thread; destroy_device also from
// rte_vhost_driver_unregister on the control thread).

int cbNewDevice(int vid) {
  VhostEventHandler* h = g_handler.load(std::memory_order_acquire);
  if (!h) return -1;
  VhostDeviceInfo info;
  info.vid = vid;
  info.path = socketPathOf(vid);
  if (rte_vhost_get_negotiated_features(vid, &info.features) != 0) return -1;
  info.vrings = rte_vhost_get_vring_num(vid);
  // The workers poll: the guest need not kick us.
  for (uint16_t q = 0; q < info.vrings; ++q) rte_vhost_enable_guest_notification(vid, q, 0);
  return h->onNewDevice(info) ? 0 : -1;
}

void cbDestroyDevice(int vid) {
  if (VhostEventHandler* h = g_handler.load(std::memory_order_acquire))
    h->onDestroyDevice(vid, socketPathOf(vid));
}

int cbVringStateChanged(int vid, uint16_t queue_id, int enable) {
  if (VhostEventHandler* h = g_handler.load(std::memory_order_acquire))
    h->onVringStateChanged(vid, socketPathOf(vid), queue_id, enable != 0);
  return 0;
}

int cbFeaturesChanged(int vid, uint64_t features) {
  if (VhostEventHandler* h = g_handler.load(std::memory_order_acquire))
    h->onFeaturesChanged(vid, socketPathOf(vid), features);
  return 0;
}

int cbNewConnection(int vid) {
  if (VhostEventHandler* h = g_handler.load(std::memory_order_acquire))
    h->onNewConnection(vid, socketPathOf(vid));
  return 0;
}

void cbDestroyConnection(int vid) {
  if (VhostEventHandler* h = g_handler.load(std::memory_order_acquire))
    h->onDestroyConnection(vid, socketPathOf(vid));
}

const rte_vhost_device_ops kDeviceOps = {
    .new_device = cbNewDevice,
    .destroy_device = cbDestroyDevice,
    .vring_state_changed = cbVringStateChanged,
    .features_changed = cbFeaturesChanged,
    .new_connection = cbNewConnection,
    .destroy_connection = cbDestroyConnection,
    .guest_notified = nullptr,
    .reserved = {nullptr},
};

// Offloads vfod enables on an uplink when the device has them.
constexpr uint64_t kWantedTxOffloads =
    RTE_ETH_TX_OFFLOAD_VLAN_INSERT | RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
    RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
constexpr uint64_t kChecksumTxOffloads =
    RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;

// The ethdev created by probing `devargs`, if any.
int findPortFor(const std::string& devargs) {
  rte_dev_iterator it;
  if (rte_eth_iterator_init(&it, devargs.c_str()) != 0) return -1;
  const uint16_t port = rte_eth_iterator_next(&it);
  if (port != RTE_MAX_ETHPORTS) {
    rte_eth_iterator_cleanup(&it);
    return port;
  }
  return -1;
}

}  // namespace

EalDpdkControl::EalDpdkControl(rte_mempool* rx_pool) : rx_pool_(rx_pool) {}

EalDpdkControl::~EalDpdkControl() {
  closeParked();
}

size_t EalDpdkControl::closeParked() {
  const size_t n = parked_.size();
  auto parked = std::move(parked_);
  parked_.clear();
  for (auto& [name, p] : parked) {
    if (Status s = removeUplink(p.info); !s.isOk())
      log_.warn(fmt::format("[uplink {}]", name), "parked uplink not removed: {}", s.toString());
  }
  if (n) log_.info("", "{} parked uplinks removed", n);
  return n;
}

void EalDpdkControl::setEventHandler(VhostEventHandler* handler) {
  g_handler.store(handler, std::memory_order_release);
}

StatusOr<UplinkInfo> EalDpdkControl::openUplink(const UplinkRequest& req) {
  const std::string what = "uplink '" + req.devargs + "'";
  const std::string device_name = req.devargs.substr(0, req.devargs.find(','));
  if (auto it = parked_.find(device_name); it != parked_.end()) {
    Parked p = it->second;
    parked_.erase(it);
    if (p.queue_pairs == req.queue_pairs) {
      // Frames that reached the parked netdev (broadcasts) are stale.
      rte_mbuf* stale[32];
      for (uint16_t q = 0; q < p.queue_pairs; ++q)
        for (uint16_t n; (n = rte_eth_rx_burst(p.info.eth_port, q, stale, 32)) > 0;)
          rte_pktmbuf_free_bulk(stale, n);
      open_ports_.insert(p.info.eth_port);
      queues_[p.info.eth_port] = p.queue_pairs;
      log_.info(fmt::format("[uplink {}]", device_name), "taken back from the parked uplinks");
      return p.info;
    }
    // Another queue count: start over with a fresh device.
    if (Status s = removeUplink(p.info); !s.isOk()) return s.withContext(what);
  }
  bool probed_here = false;
  int port = findPortFor(req.devargs);
  if (port >= 0 && open_ports_.count(uint16_t(port)))
    return alreadyExists(what + ": the device is already an uplink of another port");
  if (port < 0) {
    const int rc = rte_dev_probe(req.devargs.c_str());
    if (rc != 0 && rc != -EEXIST) {
      // Drivers return -1 as often as a real errno: name the errno only
      // when there is one.
      const std::string why = rc < -1 ? std::string(": ") + rte_strerror(-rc) : "";
      return unavailable(what + ": rte_dev_probe failed" + why +
                         " (does the netdev or PCI device exist? see the DPDK log above)");
    }
    probed_here = rc == 0;
    port = findPortFor(req.devargs);
    if (port < 0)
      return notFound(what + ": probing created no ethdev (the devargs name no network device)");
  }
  const uint16_t pid = uint16_t(port);
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(pid, &info);
  rte_device* device = info.device;
  auto undo = [&](Status s) -> Status {
    rte_eth_dev_stop(pid);
    rte_eth_dev_close(pid);
    if (probed_here && device) rte_dev_remove(device);
    return s;
  };
  if (rc != 0) return undo(errnoStatus(-rc, what + ": rte_eth_dev_info_get"));
  if (info.max_rx_queues < req.queue_pairs || info.max_tx_queues < req.queue_pairs)
    return undo(invalidArgument(fmt::format(
        "{}: the device has {} RX / {} TX queues, the port needs {} (net_af_packet: qpairs={})",
        what, info.max_rx_queues, info.max_tx_queues, req.queue_pairs, req.queue_pairs)));

  rte_eth_conf conf{};
  conf.txmode.offloads = info.tx_offload_capa & kWantedTxOffloads;
  rc = rte_eth_dev_configure(pid, req.queue_pairs, req.queue_pairs, &conf);
  if (rc != 0) return undo(errnoStatus(-rc, what + ": rte_eth_dev_configure"));
  uint16_t rxd = req.rx_descriptors, txd = req.tx_descriptors;
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd);
  if (rc != 0) return undo(errnoStatus(-rc, what + ": rte_eth_dev_adjust_nb_rx_tx_desc"));
  const int socket =
      rte_eth_dev_socket_id(pid) < 0 ? int(rte_socket_id()) : rte_eth_dev_socket_id(pid);
  for (uint16_t q = 0; q < req.queue_pairs; ++q) {
    rc = rte_eth_rx_queue_setup(pid, q, rxd, unsigned(socket), nullptr, rx_pool_);
    if (rc != 0) return undo(errnoStatus(-rc, fmt::format("{}: RX queue {} setup", what, q)));
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(pid, q, txd, unsigned(socket), &txconf);
    if (rc != 0) return undo(errnoStatus(-rc, fmt::format("{}: TX queue {} setup", what, q)));
  }
  rc = rte_eth_dev_start(pid);
  if (rc != 0) return undo(errnoStatus(-rc, what + ": rte_eth_dev_start"));
  if (req.promiscuous) {
    rc = rte_eth_promiscuous_enable(pid);
    if (rc != 0) return undo(errnoStatus(-rc, what + ": rte_eth_promiscuous_enable"));
  }

  UplinkInfo out;
  out.eth_port = pid;
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(pid, name);
  out.device_name = name;
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(pid, &mac) == 0) out.mac = MacAddress::fromBytes(mac.addr_bytes);
  out.tx_vlan_insert = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_VLAN_INSERT;
  out.tx_checksum = (conf.txmode.offloads & kChecksumTxOffloads) == kChecksumTxOffloads;
  out.tx_tso = out.tx_checksum && (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO);
  out.tx_multi_segs = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  out.tx_prepare = out.tx_checksum;
  open_ports_.insert(pid);
  queues_[pid] = req.queue_pairs;
  log_.debug(fmt::format("[uplink {}]", out.device_name),
             "ethdev {} started: {} queue pairs, {} RX / {} TX descriptors, tx offloads 0x{:x}",
             pid, req.queue_pairs, rxd, txd, conf.txmode.offloads);
  return out;
}

Status EalDpdkControl::closeUplink(const UplinkInfo& uplink) {
  const uint16_t pid = uplink.eth_port;
  open_ports_.erase(pid);
  const uint16_t queues = queues_.count(pid) ? queues_[pid] : 0;
  queues_.erase(pid);
  if (parkable_ && queues > 0 && parkable_(uplink.device_name)) {
    parked_[uplink.device_name] = Parked{uplink, queues};
    log_.debug(fmt::format("[uplink {}]", uplink.device_name), "parked (kept started)");
    return okStatus();
  }
  return removeUplink(uplink);
}

Status EalDpdkControl::removeUplink(const UplinkInfo& uplink) {
  const uint16_t pid = uplink.eth_port;
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(pid, &info) != 0)
    return notFound(fmt::format("uplink {}: ethdev {} is gone", uplink.device_name, pid));
  rte_device* device = info.device;
  int rc = rte_eth_dev_stop(pid);
  if (rc != 0)
    log_.warn(fmt::format("[uplink {}]", uplink.device_name), "stop: {}", rte_strerror(-rc));
  rc = rte_eth_dev_close(pid);
  if (rc != 0)
    log_.warn(fmt::format("[uplink {}]", uplink.device_name), "close: {}", rte_strerror(-rc));
  if (device) {
    rc = rte_dev_remove(device);
    if (rc != 0 && rc != -ENOENT)
      return errnoStatus(-rc, "uplink " + uplink.device_name + ": rte_dev_remove");
  }
  return okStatus();
}

Status EalDpdkControl::registerVhostSocket(const VhostSocketRequest& req) {
  uint64_t flags = 0;
  if (req.role == SocketRole::kClient) flags |= RTE_VHOST_USER_CLIENT;  // reconnects by default
  if (req.linear_buffers) flags |= RTE_VHOST_USER_LINEARBUF_SUPPORT;
  static_assert((RTE_VHOST_USER_ASYNC_COPY &
                 (RTE_VHOST_USER_CLIENT | RTE_VHOST_USER_LINEARBUF_SUPPORT)) == 0);
  const char* path = req.path.c_str();
  if (rte_vhost_driver_register(path, flags) != 0)
    return unavailable("socket " + req.path +
                       ": rte_vhost_driver_register failed (already registered, or too many "
                       "sockets; see the DPDK log above)");
  auto undo = [&](std::string why) {
    rte_vhost_driver_unregister(path);
    return unavailable("socket " + req.path + ": " + why);
  };
  if (rte_vhost_driver_disable_features(path, req.disabled_features) != 0)
    return undo("rte_vhost_driver_disable_features failed");
  if (rte_vhost_driver_callback_register(path, &kDeviceOps) != 0)
    return undo("rte_vhost_driver_callback_register failed");
  if (rte_vhost_driver_start(path) != 0)
    return undo(req.role == SocketRole::kServer
                    ? "rte_vhost_driver_start failed (cannot bind/listen; see the DPDK log above)"
                    : "rte_vhost_driver_start failed");
  return okStatus();
}

Status EalDpdkControl::unregisterVhostSocket(const std::string& path) {
  if (rte_vhost_driver_unregister(path.c_str()) != 0)
    return notFound("socket " + path + " is not registered");
  return okStatus();
}

Status EalDpdkControl::removeStaleSocket(const std::string& path) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!std::filesystem::exists(parent, ec)) {
    std::filesystem::create_directories(parent, ec);
    if (ec) return errnoStatus(ec.value(), "creating socket directory " + parent.string());
    ::chmod(parent.c_str(), 0755);
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return okStatus();
    return errnoStatus(errno, "socket " + path);
  }
  if (!S_ISSOCK(st.st_mode))
    return failedPrecondition("socket " + path + " exists and is not a socket; remove it");
  // A socket somebody still listens on is not stale (another vfod?).
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
    const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
    ::close(probe);
    if (live)
      return failedPrecondition("socket " + path +
                                " is in use: another process listens on it (another vfod?)");
  }
  if (::unlink(path.c_str()) != 0) return errnoStatus(errno, "removing stale socket " + path);
  log_.info("", "removed stale socket {}", path);
  return okStatus();
}

Status EalDpdkControl::setSocketPermissions(const std::string& path, std::optional<uid_t> owner,
                                            std::optional<gid_t> group, uint32_t mode) {
  if (owner || group) {
    if (::chown(path.c_str(), owner ? *owner : uid_t(-1), group ? *group : gid_t(-1)) != 0)
      return errnoStatus(errno, "chown of socket " + path);
  }
  if (::chmod(path.c_str(), mode_t(mode)) != 0)
    return errnoStatus(errno, "chmod of socket " + path);
  return okStatus();
}

}  // namespace vfo::vhost
