#include "vfo/vhost/port_manager.h"

#include <algorithm>

#include "vfo/vhost/virtio_features.h"

namespace vfo::vhost {

namespace {

// Bumps a change counter when the scope ends (after the change is visible).
struct ChangeOnExit {
  std::atomic<uint64_t>& counter;
  ~ChangeOnExit() { counter.fetch_add(1, std::memory_order_release); }
};

std::string portEntity(std::string_view id) {
  return fmt::format("[port {}]", id);
}
}  // namespace

PortManager::PortManager(DpdkControl& dpdk, DatapathControl& datapath, Options options)
    : dpdk_(dpdk),
      datapath_(datapath),
      options_(std::move(options)),
      group_active_(options_.lag.members.empty() ? lag::kNoMember : options_.lag.primary) {}

PortManager::~PortManager() {
  closeAll();
}

std::shared_ptr<PortManager::Port> PortManager::findById(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

std::shared_ptr<PortManager::Port> PortManager::findByPath(const std::string& path) const {
  auto it = by_path_.find(path);
  return it == by_path_.end() ? nullptr : it->second;
}

std::string PortManager::uplinkDevargs(const PortSettings& s, uint32_t member) {
  if (member < s.uplink_devargs.size() && !s.uplink_devargs[member].empty())
    return s.uplink_devargs[member];
  // af_packet vdev names must be unique in the process: number them.
  return fmt::format("net_af_packet_vfo{}m{},iface={},qpairs={}", next_uplink_name_++, member,
                     options_.lag.members[member].netdev, s.queue_pairs);
}

VhostSocketRequest PortManager::socketRequestFor(const PortSettings& settings,
                                                 const std::vector<UplinkInfo>& uplinks) {
  VhostSocketRequest req;
  req.path = settings.socket_path;
  req.role = settings.role;
  bool checksum = !uplinks.empty(), tso = !uplinks.empty(), multi_segs = !uplinks.empty();
  for (const auto& u : uplinks) {
    checksum &= u.tx_checksum;
    tso &= u.tx_tso;
    multi_segs &= u.tx_multi_segs;
  }
  uint64_t disabled = settings.disabled_features | kGuestOffloadFeatures;
  if (!checksum) disabled |= kHostChecksumFeatures | kHostSegmentationFeatures;
  if (!tso) disabled |= kHostSegmentationFeatures;
  if (settings.queue_pairs == 1) disabled |= featureBit(kVirtioNetFMq);
  req.disabled_features = disabled;
  req.linear_buffers = !multi_segs;
  return req;
}

void PortManager::teardown(Port& port) {
  const std::string entity = portEntity(port.settings.id);
  if (port.dp) port.dp->forwarding.store(false, std::memory_order_release);
  if (port.registered) {
    // May run onDestroyDevice on this thread: mu_ is not held here.
    if (Status s = dpdk_.unregisterVhostSocket(port.settings.socket_path); !s.isOk())
      log_.warn(entity, "unregistering socket {}: {}", port.settings.socket_path, s.toString());
    port.registered = false;
  }
  if (port.dp) {
    datapath_.removePort(port.dp);
    port.dp = nullptr;
  }
  for (size_t i = port.uplinks.size(); i-- > 0;) {
    if (i < port.uplink_shared.size() && port.uplink_shared[i]) continue;
    if (Status s = dpdk_.closeUplink(port.uplinks[i]); !s.isOk())
      log_.warn(entity, "closing uplink {}: {}", port.uplinks[i].device_name, s.toString());
  }
  port.uplinks.clear();
  port.uplink_shared.clear();
}

Status PortManager::createPort(const PortSettings& settings, PortState initial) {
  const ChangeOnExit change_on_exit{changes_};
  const std::string entity = portEntity(settings.id);
  if (initial != PortState::kActive && initial != PortState::kIncoming)
    return invalidArgument(fmt::format("port {}: a port starts active or incoming, not {}",
                                       settings.id, portStateName(initial)));
  if (settings.uplink_devargs.size() != options_.lag.members.size())
    return invalidArgument(fmt::format("port {}: {} uplink entries for {} LAG members", settings.id,
                                       settings.uplink_devargs.size(),
                                       options_.lag.members.size()));
  if (settings.queue_pairs < 1 || settings.queue_pairs > kMaxQueuePairs)
    return invalidArgument(fmt::format("port {}: queue_pairs {} is out of range 1..{}", settings.id,
                                       settings.queue_pairs, kMaxQueuePairs));
  if (settings.allowed_macs.empty() || settings.allowed_macs.size() > kMaxMacsPerPort)
    return invalidArgument(fmt::format("port {}: {} allowed MACs; want 1..{}", settings.id,
                                       settings.allowed_macs.size(), kMaxMacsPerPort));
  {
    std::lock_guard lock(mu_);
    if (auto it = by_id_.find(settings.id); it != by_id_.end()) {
      if (it->second->settings == settings) return okStatus();
      return alreadyExists("port " + settings.id + " exists with other settings");
    }
    if (auto other = findByPath(settings.socket_path))
      return alreadyExists("port " + settings.id + ": socket " + settings.socket_path +
                           " is used by port " + other->settings.id);
  }

  auto port = std::make_shared<Port>();
  port->settings = settings;
  port->state = initial;
  port->active_member = group_active_;

  // 1. Uplinks, one per member; the standby is opened and started too so a
  //    failover is only a store of the steering word.
  for (uint32_t m = 0; m < options_.lag.members.size(); ++m) {
    if (settings.uplink_devargs[m].empty() && m < options_.shared_uplinks.size() &&
        options_.shared_uplinks[m].index >= 0) {
      UplinkInfo shared = options_.shared_uplinks[m].info;
      // The relay sends on shared uplinks without offload requests.
      shared.tx_vlan_insert = shared.tx_checksum = shared.tx_tso = shared.tx_prepare = false;
      port->uplinks.push_back(shared);
      port->uplink_shared.push_back(true);
      continue;
    }
    UplinkRequest req;
    req.devargs = uplinkDevargs(settings, m);
    req.queue_pairs = settings.queue_pairs;
    auto up = dpdk_.openUplink(req);
    if (!up.isOk()) {
      teardown(*port);
      return up.status().withContext(
          fmt::format("port {}: uplink on member {}", settings.id, options_.lag.members[m].name));
    }
    log_.info(entity, "uplink on member {}: {} (ethdev {}, {} queue pairs)",
              options_.lag.members[m].name, up->device_name, up->eth_port, settings.queue_pairs);
    port->uplinks.push_back(*up);
    port->uplink_shared.push_back(false);
  }

  // 2. Relay state.
  DatapathPortSpec spec;
  spec.id = settings.id;
  spec.queue_pairs = settings.queue_pairs;
  for (size_t m = 0; m < port->uplinks.size(); ++m) {
    const UplinkInfo& u = port->uplinks[m];
    const int16_t shared = port->uplink_shared[m] ? options_.shared_uplinks[m].index : -1;
    spec.uplinks.push_back(UplinkPort{true, u.eth_port, u.tx_vlan_insert, u.tx_prepare, shared});
  }
  for (const auto& mac : settings.allowed_macs) spec.policy.macs.add(mac);
  spec.policy.vlan = settings.vlan;
  spec.policy.deliver_foreign_unicast = options_.datapath.deliver_foreign_unicast;
  spec.steering = Steering::activeBackup(port->active_member);
  spec.forwarding = portForwards(initial);
  auto dp = datapath_.addPort(spec);
  if (!dp.isOk()) {
    teardown(*port);
    return dp.status().withContext("port " + settings.id);
  }
  port->dp = *dp;

  // 3. The socket. The port is in the table first: in client mode DPDK may
  //    deliver events for it as soon as the socket is started.
  {
    std::lock_guard lock(mu_);
    port->seq = next_seq_++;
    by_id_.emplace(settings.id, port);
    by_path_.emplace(settings.socket_path, port);
  }
  auto fail = [&](const Status& s) {
    teardown(*port);
    std::lock_guard lock(mu_);
    by_id_.erase(settings.id);
    by_path_.erase(settings.socket_path);
    return s.withContext("port " + settings.id);
  };
  if (settings.role == SocketRole::kServer) {
    if (Status s = dpdk_.removeStaleSocket(settings.socket_path); !s.isOk()) return fail(s);
  }
  const VhostSocketRequest req = socketRequestFor(settings, port->uplinks);
  if (Status s = dpdk_.registerVhostSocket(req); !s.isOk()) return fail(s);
  port->registered = true;
  if (settings.role == SocketRole::kServer) {
    if (Status s = dpdk_.setSocketPermissions(settings.socket_path, options_.sockets.owner,
                                              options_.sockets.group, options_.sockets.mode);
        !s.isOk())
      return fail(s);
  }
  log_.info(entity,
            "created ({}): socket {} ({}), mac {}, vlan {}, {} queue pairs, active member {}, "
            "offered features withdrawn: {}",
            portStateName(initial), settings.socket_path, socketRoleName(settings.role),
            settings.mac.toString(), settings.vlan, settings.queue_pairs,
            port->active_member == lag::kNoMember ? std::string("none")
                                                  : options_.lag.members[port->active_member].name,
            describeFeatures(req.disabled_features));
  return okStatus();
}

Status PortManager::deletePort(std::string_view id) {
  const ChangeOnExit change_on_exit{changes_};
  std::shared_ptr<Port> port;
  {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return notFound("port " + std::string(id) + " does not exist");
    port = it->second;
    port->state = PortState::kGone;
  }
  teardown(*port);
  {
    std::lock_guard lock(mu_);
    by_id_.erase(port->settings.id);
    by_path_.erase(port->settings.socket_path);
  }
  log_.info(portEntity(id), "deleted");
  return okStatus();
}

Status PortManager::applyEvent(std::string_view id, PortEvent event) {
  const ChangeOnExit change_on_exit{changes_};
  if (event == PortEvent::kDelete) return deletePort(id);
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return notFound("port " + std::string(id) + " does not exist");
  Port& port = *it->second;
  auto next = nextPortState(port.state, event);
  if (!next.isOk()) return next.status().withContext("port " + std::string(id));
  log_.info(portEntity(id), "{} -> {}", portStateName(port.state), portStateName(*next));
  port.state = *next;
  port.dp->forwarding.store(portForwards(port.state), std::memory_order_release);
  return okStatus();
}

Status PortManager::updatePortPolicy(std::string_view id, lag::VlanId vlan,
                                     const std::vector<MacAddress>& allowed_macs) {
  if (allowed_macs.empty() || allowed_macs.size() > kMaxMacsPerPort)
    return invalidArgument(
        fmt::format("allowed_macs: {} entries; want 1..{}", allowed_macs.size(), kMaxMacsPerPort));
  for (const auto& m : allowed_macs)
    if (m.isMulticast() || m.isZero())
      return invalidArgument("allowed_macs: " + m.toString() + " is not a unicast address");
  if (vlan > 4094)
    return invalidArgument(fmt::format("vlan: {} is out of range 1..4094 (0 = untagged)", vlan));
  auto port = findById(id);
  if (!port) return notFound("port " + std::string(id) + " does not exist");
  PortPolicy policy;
  for (const auto& m : allowed_macs) policy.macs.add(m);
  policy.vlan = vlan;
  policy.deliver_foreign_unicast = options_.datapath.deliver_foreign_unicast;
  datapath_.replacePolicy(port->dp, policy);
  {
    std::lock_guard lock(mu_);
    port->settings.vlan = vlan;
    port->settings.mac = allowed_macs[0];
    port->settings.allowed_macs = allowed_macs;
  }
  log_.info(portEntity(id), "policy: vlan {}, {} allowed MACs (guest {})", vlan,
            allowed_macs.size(), allowed_macs[0].toString());
  return okStatus();
}

Status PortManager::setActiveMember(std::string_view id, lag::MemberId member) {
  const ChangeOnExit change_on_exit{changes_};
  if (member != lag::kNoMember && member >= options_.lag.members.size())
    return invalidArgument(fmt::format("member {} is outside the LAG (0..{})", member,
                                       options_.lag.members.size() - 1));
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return notFound("port " + std::string(id) + " does not exist");
  Port& port = *it->second;
  if (port.active_member == member) return okStatus();
  const auto name = [&](lag::MemberId m) {
    return m == lag::kNoMember ? std::string("none") : options_.lag.members[m].name;
  };
  log_.info(portEntity(id), "active member {} -> {}", name(port.active_member), name(member));
  port.active_member = member;
  port.dp->steering.store(Steering::activeBackup(member).pack(), std::memory_order_release);
  port.dp->events.active_member_changes.fetch_add(1, std::memory_order_relaxed);
  return okStatus();
}

Status PortManager::setActiveMemberAll(lag::MemberId member) {
  if (member != lag::kNoMember && member >= options_.lag.members.size())
    return invalidArgument(fmt::format("member {} is outside the LAG (0..{})", member,
                                       options_.lag.members.size() - 1));
  group_active_ = member;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : by_id_) ids.push_back(id);
  }
  for (const auto& id : ids) {
    Status s = setActiveMember(id, member);
    if (!s.isOk() && s.code() != StatusCode::kNotFound) return s;
  }
  return okStatus();
}

Status PortManager::setSelector(std::string_view id, const MemberSelector* selector,
                                uint32_t rx_members) {
  if (selector && !selector->select)
    return invalidArgument("selector: the select function is missing");
  const uint32_t all =
      options_.lag.members.size() >= 32 ? ~0u : (1u << options_.lag.members.size()) - 1;
  if (rx_members & ~all)
    return invalidArgument(
        fmt::format("rx_members 0x{:x} names members outside the LAG (0x{:x})", rx_members, all));
  auto port = findById(id);
  if (!port) return notFound("port " + std::string(id) + " does not exist");
  Steering st;
  {
    std::lock_guard lock(mu_);
    st = Steering::unpack(port->dp->steering.load(std::memory_order_relaxed));
    if (selector) {
      st.rx_members = rx_members;
    } else {
      st = Steering::activeBackup(port->active_member);
    }
    port->dp->selector.store(selector, std::memory_order_release);
    port->dp->steering.store(st.pack(), std::memory_order_release);
  }
  datapath_.quiesce();
  log_.info(portEntity(id), "{}",
            selector ? fmt::format("member selector set, rx members 0x{:x}", rx_members)
                     : std::string("member selector cleared: active-backup"));
  return okStatus();
}

Status PortManager::sendOnMember(std::string_view id, lag::MemberId member,
                                 const std::vector<std::vector<uint8_t>>& frames) {
  auto port = findById(id);
  if (!port) return notFound("port " + std::string(id) + " does not exist");
  if (member >= options_.lag.members.size())
    return invalidArgument(fmt::format("member {} is outside the LAG", member));
  return datapath_.sendOnMember(port->dp, member, frames);
}

PortRecord PortManager::recordOf(const Port& port) const {
  PortRecord r;
  r.settings = port.settings;
  r.state = port.state;
  r.vhost = port.vhost;
  r.active_member = port.active_member;
  r.negotiated_features = port.device_vid >= 0 ? port.features : 0;
  r.guest_queue_pairs = port.device_vid >= 0 ? port.guest_queue_pairs : 0;
  r.dirty_logging = port.device_vid >= 0 && (port.features & featureBit(kVhostFLogAll));
  return r;
}

StatusOr<PortRecord> PortManager::exportPort(std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return notFound("port " + std::string(id) + " does not exist");
  return recordOf(*it->second);
}

Status PortManager::importPort(const PortRecord& record) {
  const ChangeOnExit change_on_exit{changes_};
  if (record.state == PortState::kGone)
    return invalidArgument("port " + record.settings.id + ": cannot import a port that is gone");
  const PortState initial =
      record.state == PortState::kIncoming ? PortState::kIncoming : PortState::kActive;
  VFO_RETURN_IF_ERROR(createPort(record.settings, initial));
  if (record.state == PortState::kMigratingOut)
    VFO_RETURN_IF_ERROR(applyEvent(record.settings.id, PortEvent::kBeginMigrationOut));
  if (record.active_member != lag::kNoMember && record.active_member < options_.lag.members.size())
    VFO_RETURN_IF_ERROR(setActiveMember(record.settings.id, record.active_member));
  return okStatus();
}

std::vector<PortRecord> PortManager::listPorts() const {
  std::lock_guard lock(mu_);
  std::vector<PortRecord> out;
  for (const auto& [id, p] : by_id_) out.push_back(recordOf(*p));
  return out;
}

StatusOr<PortStatsReport> PortManager::portStats(std::string_view id) const {
  auto port = findById(id);
  if (!port) return notFound("port " + std::string(id) + " does not exist");
  return collectStats(*port->dp);
}

StatusOr<uint32_t> PortManager::workerLcore(std::string_view id) const {
  auto port = findById(id);
  if (!port) return notFound("port " + std::string(id) + " does not exist");
  return port->dp->queues[0].worker_lcore;
}

void PortManager::closeAll() {
  std::vector<std::shared_ptr<Port>> ports;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, p] : by_id_) ports.push_back(p);
  }
  std::sort(ports.begin(), ports.end(),
            [](const auto& a, const auto& b) { return a->seq > b->seq; });
  for (const auto& p : ports) (void)deletePort(p->settings.id);
}

// ---- vhost events -----------------------------------------------------------

VhostLink PortManager::linkOf(const Port& port) {
  if (port.device_vid >= 0) return VhostLink::kRunning;
  return port.connections.empty() ? VhostLink::kDisconnected : VhostLink::kConnected;
}

void PortManager::onNewConnection(int vid, const std::string& path) {
  const ChangeOnExit change_on_exit{changes_};
  std::lock_guard lock(mu_);
  auto port = findByPath(path);
  if (!port) return;
  port->connections[vid] = {};
  port->vhost = linkOf(*port);
  log_.info(portEntity(port->settings.id), "vhost-user connection (vid {}, {} open)", vid,
            port->connections.size());
}

void PortManager::onDestroyConnection(int vid, const std::string& path) {
  const ChangeOnExit change_on_exit{changes_};
  std::lock_guard lock(mu_);
  auto port = findByPath(path);
  if (!port || !port->connections.erase(vid)) return;
  port->vhost = linkOf(*port);
  log_.info(portEntity(port->settings.id), "vhost-user connection closed (vid {})", vid);
}

bool PortManager::onNewDevice(const VhostDeviceInfo& info) {
  const ChangeOnExit change_on_exit{changes_};
  std::lock_guard lock(mu_);
  auto port = findByPath(info.path);
  if (!port || port->state == PortState::kGone) {
    log_.warn("", "vhost device {} on unknown socket {} refused", info.vid, info.path);
    return false;
  }
  const std::string entity = portEntity(port->settings.id);
  const uint16_t qps = uint16_t(info.vrings / 2);
  if (port->device_vid >= 0 && port->device_vid != info.vid) {
    port->dp->events.vhost_refused.fetch_add(1, std::memory_order_relaxed);
    log_.error(entity, "refusing vhost device {}: the port already serves vid {}", info.vid,
               port->device_vid);
    return false;
  }
  if (qps == 0 || qps > port->settings.queue_pairs) {
    port->dp->events.vhost_refused.fetch_add(1, std::memory_order_relaxed);
    log_.error(entity,
               "refusing guest driver (vid {}): it has {} queue pairs, the port allows {}; set "
               "queues={} on the guest's interface or raise queue_pairs",
               info.vid, qps, port->settings.queue_pairs, port->settings.queue_pairs);
    return false;
  }
  // The workers see this device's vring states, then its queue count, then
  // its id (release order; they load in reverse).
  const auto& vrings = port->connections[info.vid];
  for (size_t v = 0; v < vrings.size(); ++v)
    port->dp->vring_enabled[v].store(vrings[v], std::memory_order_release);
  port->device_vid = info.vid;
  port->features = info.features;
  port->guest_queue_pairs = qps;
  port->vhost = VhostLink::kRunning;
  port->dp->guest_queue_pairs.store(qps, std::memory_order_release);
  port->dp->vid.store(info.vid, std::memory_order_release);
  port->dp->events.vhost_connects.fetch_add(1, std::memory_order_relaxed);
  log_.info(entity, "guest driver running (vid {}): {} queue pairs, features 0x{:x} ({})", info.vid,
            qps, info.features, describeFeatures(info.features));
  // The destination of a live migration: QEMU starts the device when the
  // migrated guest runs here, which ends the migration for this port.
  if (port->state == PortState::kIncoming) {
    port->state = PortState::kActive;
    port->dp->forwarding.store(true, std::memory_order_release);
    log_.info(entity, "incoming migration completed: the guest runs here, forwarding");
  }
  return true;
}

void PortManager::onDestroyDevice(int vid, const std::string& path) {
  const ChangeOnExit change_on_exit{changes_};
  {
    std::lock_guard lock(mu_);
    auto port = findByPath(path);
    if (!port || port->device_vid != vid) return;
    port->dp->vid.store(-1, std::memory_order_release);
    for (auto& e : port->dp->vring_enabled) e.store(false, std::memory_order_release);
    port->device_vid = -1;
    port->vhost = linkOf(*port);
    port->dp->events.vhost_disconnects.fetch_add(1, std::memory_order_relaxed);
    log_.info(portEntity(port->settings.id), "guest driver stopped (vid {})", vid);
  }
  // DPDK frees the device's rings after this returns: wait until every
  // worker has passed a quiescent state, i.e. none still uses `vid`.
  datapath_.quiesce();
}

void PortManager::onVringStateChanged(int vid, const std::string& path, uint16_t vring,
                                      bool enable) {
  std::lock_guard lock(mu_);
  auto port = findByPath(path);
  if (!port) return;
  auto it = port->connections.find(vid);
  if (it == port->connections.end() || vring >= it->second.size()) return;
  it->second[vring] = enable;
  if (port->device_vid == vid)
    port->dp->vring_enabled[vring].store(enable, std::memory_order_release);
  log_.debug(portEntity(port->settings.id), "vid {} vring {} ({} {}) {}", vid, vring,
             vring % 2 ? "guest TX" : "guest RX", vring / 2, enable ? "enabled" : "disabled");
}

void PortManager::onFeaturesChanged(int vid, const std::string& path, uint64_t features) {
  std::lock_guard lock(mu_);
  auto port = findByPath(path);
  if (!port || port->device_vid != vid) return;
  const bool was_logging = port->features & featureBit(kVhostFLogAll);
  const bool logging = features & featureBit(kVhostFLogAll);
  port->features = features;
  if (was_logging != logging)
    log_.info(portEntity(port->settings.id), "dirty page logging {} (live migration {})",
              logging ? "on" : "off", logging ? "started" : "ended");
}

}  // namespace vfo::vhost
