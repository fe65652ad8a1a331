#include "vfo/vhost/api_backend.h"

#include <fmt/format.h>
#include <rte_version.h>

#include <algorithm>

#include "vfo/base/log.h"
#include "vfo/base/version.h"
#include "vfo/lag/decision_event.h"

namespace vfo::vhost {

namespace {

const Logger kLog{"api"};

api::LagMode apiModeOf(LagModeSetting m) {
  switch (m) {
    case LagModeSetting::kActiveBackup:
      return api::LagMode::kActiveBackup;
    case LagModeSetting::kBalanceVm:
      return api::LagMode::kBalanceVm;
    case LagModeSetting::kBalanceFlow:
      return api::LagMode::kBalanceFlow;
  }
  return api::LagMode::kActiveBackup;
}

api::PrimaryReselect apiReselectOf(lag::PrimaryReselect r) {
  switch (r) {
    case lag::PrimaryReselect::kAlways:
      return api::PrimaryReselect::kAlways;
    case lag::PrimaryReselect::kBetter:
      return api::PrimaryReselect::kBetter;
    case lag::PrimaryReselect::kFailure:
      return api::PrimaryReselect::kFailure;
  }
  return api::PrimaryReselect::kAlways;
}

lag::PrimaryReselect lagReselectOf(api::PrimaryReselect r) {
  switch (r) {
    case api::PrimaryReselect::kAlways:
      return lag::PrimaryReselect::kAlways;
    case api::PrimaryReselect::kBetter:
      return lag::PrimaryReselect::kBetter;
    case api::PrimaryReselect::kFailure:
      return lag::PrimaryReselect::kFailure;
  }
  return lag::PrimaryReselect::kAlways;
}

api::HashPolicy apiHashOf(lag::HashPolicy h) {
  switch (h) {
    case lag::HashPolicy::kLayer2:
      return api::HashPolicy::kLayer2;
    case lag::HashPolicy::kLayer23:
      return api::HashPolicy::kLayer2_3;
    case lag::HashPolicy::kLayer34:
      return api::HashPolicy::kLayer3_4;
    case lag::HashPolicy::kEncap23:
      return api::HashPolicy::kEncap2_3;
    case lag::HashPolicy::kEncap34:
      return api::HashPolicy::kEncap3_4;
  }
  return api::HashPolicy::kLayer2;
}

api::LinkState apiLinkOf(const lag::MemberView& v) {
  const bool pending = v.pending != lag::PendingAction::kNone;
  if (v.enabled) return pending ? api::LinkState::kGoingDown : api::LinkState::kUp;
  return pending ? api::LinkState::kGoingUp : api::LinkState::kDown;
}

template <class Snapshot>
void addCounters(const Snapshot& s, api::Counters& out) {
  s.forEach([&](const StatInfo& i, uint64_t v) { out[std::string(i.name)] += v; });
}

std::optional<lag::AnnounceTiming> timingOf(const std::optional<api::AnnounceSettings>& a) {
  if (!a) return std::nullopt;
  return lag::AnnounceTiming{a->count, a->interval};
}

// The "iface=" of af_packet devargs, else the devargs themselves.
std::string vfNameOf(const std::string& devargs) {
  const auto pos = devargs.find("iface=");
  if (pos == std::string::npos) return devargs;
  const auto end = devargs.find(',', pos);
  return devargs.substr(pos + 6, end == std::string::npos ? std::string::npos : end - pos - 6);
}

}  // namespace

StatusOr<PortSettings> portSettingsOf(const api::PortSpec& spec) {
  PortSettings s;
  s.id = spec.port_id;
  s.socket_path = spec.socket_path;
  s.role = spec.role == api::VhostRole::kServer ? SocketRole::kServer : SocketRole::kClient;
  s.mac = spec.mac;
  s.allowed_macs.push_back(spec.mac);
  for (const auto& m : spec.allowed_macs)
    if (std::find(s.allowed_macs.begin(), s.allowed_macs.end(), m) == s.allowed_macs.end())
      s.allowed_macs.push_back(m);
  s.vlan = spec.vlan;
  s.queue_pairs = spec.queues;
  if (spec.disabled_features & unmaskableFeatures())
    return invalidArgument(
        fmt::format("disabled_features: 0x{:x} masks feature bits vfod relies on (0x{:x})",
                    spec.disabled_features, spec.disabled_features & unmaskableFeatures()));
  s.disabled_features = spec.disabled_features;
  return s;
}

api::PortSpec apiSpecOf(const PortSettings& s) {
  api::PortSpec spec;
  spec.port_id = s.id;
  spec.socket_path = s.socket_path;
  spec.role = s.role == SocketRole::kServer ? api::VhostRole::kServer : api::VhostRole::kClient;
  spec.mac = s.mac;
  for (const auto& m : s.allowed_macs)
    if (m != s.mac) spec.allowed_macs.push_back(m);
  spec.vlan = s.vlan;
  spec.queues = s.queue_pairs;
  spec.disabled_features = s.disabled_features;
  return spec;
}

api::PortState apiPortStateOf(const PortRecord& r, bool detached, bool degraded) {
  switch (r.state) {
    case PortState::kIncoming:
      return api::PortState::kIncoming;
    case PortState::kMigratingOut:
      return api::PortState::kMigratingOut;
    case PortState::kGone:
      return api::PortState::kGone;
    case PortState::kActive:
      break;
  }
  if (r.vhost == VhostLink::kRunning)
    return degraded ? api::PortState::kDegraded : api::PortState::kActive;
  return detached ? api::PortState::kDetached : api::PortState::kWaiting;
}

VfodApiBackend::VfodApiBackend(const VfodConfig& config, ControlQueue& control, PortManager& ports,
                               LagController& lag, api::EventBuffer& events, const Clock& clock)
    : config_(config), control_(control), ports_(ports), lag_(lag), events_(events), clock_(clock) {
  LagController::Observer o;
  o.on_failover = [this](const lag::FailoverRecord& r) { onFailover(r); };
  o.on_link = [this](lag::MemberId m, bool up) {
    const auto& names = lag_.memberNames();
    if (m >= names.size()) return;
    events_.publish(api::MemberEvent{names[m], up ? api::LinkState::kDown : api::LinkState::kUp,
                                     up ? api::LinkState::kUp : api::LinkState::kDown});
  };
  lag_.setObserver(std::move(o));
}

VfodApiBackend::~VfodApiBackend() {
  lag_.setObserver({});
}

std::chrono::system_clock::time_point VfodApiBackend::wallTime(TimePoint t) const {
  const auto now_wall = std::chrono::system_clock::now();
  if (t == kNever) return now_wall;
  return now_wall -
         std::chrono::duration_cast<std::chrono::system_clock::duration>(clock_.now() - t);
}

void VfodApiBackend::onFailover(const lag::FailoverRecord& r) {
  ++failovers_by_reason_[std::string(lag::decisionReasonName(r.reason))];
  const auto& names = lag_.memberNames();
  auto name = [&](lag::MemberId m) { return m < names.size() ? names[m] : std::string(); };
  api::FailoverEvent e;
  e.port_id = r.port_name;
  e.from_member = name(r.from);
  e.to_member = name(r.to);
  e.reason = std::string(lag::decisionReasonName(r.reason));
  e.cause_seen_at = wallTime(r.cause_seen_at);
  e.switched_at = wallTime(r.switched_at);
  e.frames_announced = r.frames_announced;
  events_.publish(std::move(e));
  if (r.frames_announced > 0 && r.to != lag::kNoMember) {
    api::AnnounceEvent a;
    a.port_id = r.port_name;
    a.member = name(r.to);
    a.frames = r.frames_announced;
    if (r.first_frame_at != kNever && r.last_frame_at != kNever)
      a.first_to_last = r.last_frame_at - r.first_frame_at;
    events_.publish(std::move(a));
  }
}

bool VfodApiBackend::degraded(const PortRecord& r) const {
  if (config_.lag.mode == LagModeSetting::kBalanceFlow)
    return lag_.runtime().group().liveSet().current()->count == 0;
  return r.active_member == lag::kNoMember;
}

std::vector<api::LearnedAddress> VfodApiBackend::learnedOf(const std::string& id) {
  std::vector<api::LearnedAddress> out;
  auto index = lag_.portIndex(id);
  if (!index) return out;
  const TimePoint now = clock_.now();
  for (const auto& a : lag_.runtime().learner().addresses(*index)) {
    api::LearnedAddress l;
    l.mac = a.binding.mac;
    l.vlan = a.binding.vlan;
    l.ip = a.binding.family == lag::IpFamily::kIpv4 ? a.binding.ipv4.toString()
                                                    : a.binding.ipv6.toString();
    l.age = a.age(now);
    out.push_back(std::move(l));
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.ip, x.vlan) < std::tie(y.ip, y.vlan);
  });
  return out;
}

StatusOr<api::PortInfo> VfodApiBackend::infoOf(const std::string& id) {
  VFO_ASSIGN_OR_RETURN(PortRecord r, ports_.exportPort(id));
  api::PortInfo info;
  // The API's spec when the port came through it, with the live VLAN and
  // MACs (UpdatePort changes them); else all from vfod's settings.
  const api::PortSpec live = apiSpecOf(r.settings);
  auto it = specs_.find(id);
  info.spec = it != specs_.end() ? it->second : live;
  info.spec.vlan = live.vlan;
  info.spec.allowed_macs = live.allowed_macs;
  const bool is_degraded = degraded(r);
  info.state = apiPortStateOf(r, detached_.count(id) > 0, is_degraded);
  info.vhost_connected = r.vhost != VhostLink::kDisconnected;
  const auto& names = lag_.memberNames();
  if (r.active_member < names.size() && !is_degraded) info.active_member = names[r.active_member];
  const sriov::PortPair* pair = lag_.vfPairs() ? lag_.vfPairs()->find(id) : nullptr;
  for (size_t m = 0; m < names.size(); ++m) {
    api::MemberVf vf;
    vf.member = names[m];
    if (pair && m < pair->vfs.size()) {
      vf.vf = pair->vfs[m].ref.toString();
      vf.devargs = pair->vfs[m].devargs;
    } else if (m < r.settings.uplink_devargs.size() && !r.settings.uplink_devargs[m].empty()) {
      vf.devargs = r.settings.uplink_devargs[m];
      vf.vf = vfNameOf(vf.devargs);
    } else if (config_.lag.vf_provider == VfProviderSetting::kShared) {
      vf.vf = "shared:" + config_.lag.members[m].netdev;
    }
    vf.active = config_.lag.mode == LagModeSetting::kBalanceFlow
                    ? !is_degraded
                    : (r.active_member == lag::MemberId(m));
    info.vfs.push_back(std::move(vf));
  }
  info.learned = learnedOf(id);
  if (auto lcore = ports_.workerLcore(id); lcore.isOk()) info.worker_lcore = *lcore;
  return info;
}

StatusOr<LagController::PortOptions> VfodApiBackend::portOptionsOf(
    const api::PortSpec& spec) const {
  LagController::PortOptions options;
  options.initial = spec.incoming_migration ? PortState::kIncoming : PortState::kActive;
  if (!spec.pinned_member.empty()) {
    options.pin = lag_.memberByName(spec.pinned_member);
    if (!options.pin)
      return invalidArgument(
          fmt::format("spec.pinned_member: '{}' is not a LAG member", spec.pinned_member));
  }
  options.announce = timingOf(spec.announce);
  if (options.announce)
    VFO_RETURN_IF_ERROR(options.announce->validate().withContext("spec.announce"));
  return options;
}

Status VfodApiBackend::checkPort(const api::PortSpec& spec) {
  return control_.call([&]() -> Status {
    VFO_RETURN_IF_ERROR(portSettingsOf(spec).status());
    return portOptionsOf(spec).status();
  });
}

StatusOr<api::PortInfo> VfodApiBackend::createPort(const api::PortSpec& spec) {
  return control_.call([&]() -> StatusOr<api::PortInfo> {
    VFO_ASSIGN_OR_RETURN(PortSettings settings, portSettingsOf(spec));
    // API ports name no devargs: each member's default (its VF, shared
    // uplink or netdev).
    settings.uplink_devargs.assign(config_.lag.members.size(), "");
    if (ports_.exportPort(spec.port_id).isOk())
      return alreadyExists(
          fmt::format("port {} already exists in vfod{}", spec.port_id,
                      specs_.count(spec.port_id)
                          ? ""
                          : " (from its config file: change it there, not through the API)"));
    VFO_ASSIGN_OR_RETURN(LagController::PortOptions options, portOptionsOf(spec));
    VFO_RETURN_IF_ERROR(lag_.createPort(settings, options));
    specs_[spec.port_id] = spec;
    detached_.erase(spec.port_id);
    if (spec.incoming_migration) events_.publish(api::MigrationEvent{spec.port_id, "incoming"});
    return infoOf(spec.port_id);
  });
}

Status VfodApiBackend::deletePort(const std::string& port_id) {
  return control_.call([&]() -> Status {
    VFO_RETURN_IF_ERROR(lag_.deletePort(port_id));
    specs_.erase(port_id);
    detached_.erase(port_id);
    {
      std::lock_guard lock(learned_mu_);
      learned_.erase(port_id);
      learned_dirty_.erase(port_id);
    }
    return okStatus();
  });
}

Status VfodApiBackend::detachPort(const std::string& port_id) {
  return control_.call([&]() -> Status {
    VFO_ASSIGN_OR_RETURN(PortRecord r, ports_.exportPort(port_id));
    if (!detached_.insert(port_id).second) return okStatus();  // already detached
    const api::PortState before = apiPortStateOf(r, false, degraded(r));
    const api::PortState after = apiPortStateOf(r, true, degraded(r));
    if (after != before) {
      // poll() only looks when PortManager changed: report this change here.
      events_.publish(api::PortStateEvent{port_id, before, after});
      if (auto it = seen_.find(port_id); it != seen_.end()) it->second.state = after;
    }
    return okStatus();
  });
}

StatusOr<api::PortInfo> VfodApiBackend::getPort(const std::string& port_id) {
  return control_.call([&]() { return infoOf(port_id); });
}

StatusOr<std::vector<api::PortInfo>> VfodApiBackend::listPorts() {
  return control_.call([&]() -> StatusOr<std::vector<api::PortInfo>> {
    std::vector<api::PortInfo> out;
    for (const auto& r : ports_.listPorts()) {
      auto info = infoOf(r.settings.id);
      if (info.isOk()) out.push_back(std::move(*info));
    }
    return out;
  });
}

StatusOr<api::PortInfo> VfodApiBackend::updatePort(const api::PortSpec& updated,
                                                   const api::PortFieldMask& changed) {
  return control_.call([&]() -> StatusOr<api::PortInfo> {
    const std::string& id = updated.port_id;
    VFO_ASSIGN_OR_RETURN(PortRecord r, ports_.exportPort(id));
    if (specs_.count(id) == 0)
      return failedPrecondition(fmt::format(
          "port {} comes from vfod's config file; change it there, not through the API", id));
    const LagController::PortOptions* current = lag_.portOptions(id);
    std::optional<lag::MemberId> pin = current ? current->pin : std::nullopt;
    std::optional<lag::AnnounceTiming> announce = current ? current->announce : std::nullopt;
    if (changed.pinned_member) {
      pin.reset();
      if (!updated.pinned_member.empty()) {
        pin = lag_.memberByName(updated.pinned_member);
        if (!pin)
          return invalidArgument(
              fmt::format("spec.pinned_member: '{}' is not a LAG member", updated.pinned_member));
      }
    }
    if (changed.announce) announce = timingOf(updated.announce);
    lag::VlanId vlan = r.settings.vlan;
    std::vector<MacAddress> macs = r.settings.allowed_macs;
    if (changed.vlan) vlan = updated.vlan;
    if (changed.allowed_macs) {
      VFO_ASSIGN_OR_RETURN(PortSettings s, portSettingsOf(updated));
      macs = s.allowed_macs;
    }
    if (changed.vlan || changed.allowed_macs || changed.pinned_member || changed.announce)
      VFO_RETURN_IF_ERROR(lag_.updatePort(id, vlan, macs, pin, announce));
    specs_[id] = updated;
    return infoOf(id);
  });
}

api::LagInfo VfodApiBackend::lagInfo() {
  const lag::LagSnapshot snap = lag_.runtime().group().snapshot();
  const lag::AnnounceConfig& ac = lag_.runtime().announceConfig();
  api::LagInfo info;
  api::LagSettings& s = info.settings;
  s.mode = apiModeOf(config_.lag.mode);
  s.primary = snap.primary.value_or("");
  s.primary_reselect = apiReselectOf(snap.primary_reselect);
  s.failback = snap.failback;
  s.updelay = snap.updelay;
  s.downdelay = snap.downdelay;
  s.failback_delay = snap.vm_failback_delay ? *snap.vm_failback_delay : Duration(-1);
  s.hash_policy = apiHashOf(snap.hash_policy);
  s.announce.count = ac.announce_count;
  s.announce.interval = ac.announce_interval;
  s.announce_rate_limit = ac.max_frames_per_second;
  const auto& names = lag_.memberNames();
  const lag::ProbeMonitor* probes = lag_.probes();
  for (size_t m = 0; m < snap.members.size() && m < names.size(); ++m) {
    const lag::MemberSnapshot& ms = snap.members[m];
    api::MemberInfo mi;
    mi.name = names[m];
    mi.admin_up = ms.member.admin_up;
    mi.link = apiLinkOf(ms.member);
    mi.probe_alive = probes == nullptr || !ms.member.probing || ms.member.probe_alive;
    if (ms.member.pending != lag::PendingAction::kNone) mi.pending = ms.pending_remaining;
    mi.active_ports = ms.ports;
    addCounters(ms.member.stats, mi.counters);
    info.members.push_back(std::move(mi));
  }
  if (snap.active < names.size()) info.active_member = names[snap.active];
  addCounters(snap.stats, info.counters);
  addCounters(lag_.runtime().announcer().stats(), info.counters);
  info.counters["failovers_carried_out"] = lag_.failoverCount();
  return info;
}

StatusOr<api::LagInfo> VfodApiBackend::getLag() {
  return control_.call([&]() -> StatusOr<api::LagInfo> { return lagInfo(); });
}

StatusOr<std::pair<lag::LagConfig, lag::AnnounceConfig>> VfodApiBackend::lagConfigOf(
    const api::LagSettings& settings) {
  const api::LagSettings current = lagInfo().settings;
  if (settings.mode != current.mode)
    return failedPrecondition(fmt::format(
        "mode: vfod cannot change the LAG mode from {} to {} while ports run; set lag.mode in "
        "vfod's config file and restart vfod",
        api::lagModeName(current.mode), api::lagModeName(settings.mode)));
  if (settings.hash_policy != current.hash_policy)
    return failedPrecondition(
        "hash_policy: vfod cannot change the hash policy while ports run; set "
        "lag.xmit_hash_policy in vfod's config file and restart vfod");
  lag::LagConfig next = lag_.runtime().group().config();
  if (!settings.primary.empty() && !lag_.memberByName(settings.primary))
    return invalidArgument(fmt::format("primary: '{}' is not a LAG member", settings.primary));
  if (!settings.primary.empty() && config_.lag.mode != LagModeSetting::kActiveBackup)
    return invalidArgument("primary: only meaningful in mode active-backup");
  next.primary = settings.primary.empty() ? std::nullopt : std::optional(settings.primary);
  next.primary_reselect = lagReselectOf(settings.primary_reselect);
  next.failback = settings.failback;
  next.updelay = settings.updelay;
  next.downdelay = settings.downdelay;
  next.vm_failback_delay = settings.failback_delay < Duration::zero()
                               ? std::nullopt
                               : std::optional<Duration>(settings.failback_delay);
  lag::AnnounceConfig ac = lag_.runtime().announceConfig();
  ac.announce_count = settings.announce.count;
  ac.announce_interval = settings.announce.interval;
  ac.max_frames_per_second = settings.announce_rate_limit;
  return std::pair{next, ac};
}

Status VfodApiBackend::checkLag(const api::LagSettings& settings) {
  return control_.call([&]() -> Status {
    VFO_ASSIGN_OR_RETURN(auto next, lagConfigOf(settings));
    VFO_RETURN_IF_ERROR(next.second.validate().withContext("announce"));
    return next.first.validate();
  });
}

StatusOr<api::LagInfo> VfodApiBackend::updateLag(const api::LagSettings& settings) {
  return control_.call([&]() -> StatusOr<api::LagInfo> {
    VFO_ASSIGN_OR_RETURN(auto next, lagConfigOf(settings));
    VFO_RETURN_IF_ERROR(lag_.runtime().updateSettings(next.first, next.second));
    return lagInfo();
  });
}

Status VfodApiBackend::checkActiveMember(const std::string& member) {
  return control_.call([&]() -> Status {
    auto m = lag_.memberByName(member);
    if (!m) return notFound(fmt::format("member: '{}' is not a LAG member", member));
    if (config_.lag.mode != LagModeSetting::kActiveBackup)
      return failedPrecondition(
          fmt::format("set-active-member: only valid in mode active-backup, not {}",
                      api::lagModeName(apiModeOf(config_.lag.mode))));
    const lag::LagSnapshot snap = lag_.runtime().group().snapshot();
    if (*m < snap.members.size() && !snap.members[*m].member.enabled)
      return failedPrecondition(fmt::format(
          "set-active-member: member {} is not enabled (link down or in its updelay)", member));
    return okStatus();
  });
}

StatusOr<api::LagInfo> VfodApiBackend::setActiveMember(const std::string& member) {
  return control_.call([&]() -> StatusOr<api::LagInfo> {
    auto m = lag_.memberByName(member);
    if (!m) return notFound(fmt::format("member: '{}' is not a LAG member", member));
    VFO_RETURN_IF_ERROR(lag_.runtime().group().setActiveMember(*m));
    return lagInfo();
  });
}

StatusOr<api::StatsInfo> VfodApiBackend::getStats(const std::string& port_id) {
  return control_.call([&]() -> StatusOr<api::StatsInfo> {
    api::StatsInfo out;
    std::vector<std::string> ids;
    if (!port_id.empty()) {
      VFO_RETURN_IF_ERROR(ports_.exportPort(port_id).status());
      ids.push_back(port_id);
    } else {
      for (const auto& r : ports_.listPorts()) ids.push_back(r.settings.id);
    }
    const auto& names = lag_.memberNames();
    for (const auto& id : ids) {
      auto report = ports_.portStats(id);
      if (!report.isOk()) continue;
      api::PortStatsInfo p;
      p.port_id = id;
      addCounters(report->total, p.port);
      addCounters(report->events, p.port);
      for (size_t q = 0; q < report->queues.size(); ++q)
        addCounters(report->queues[q], p.queues[uint32_t(q)]);
      for (size_t m = 0; m < report->members.size() && m < names.size(); ++m)
        addCounters(report->members[m], p.members[names[m]]);
      out.ports.push_back(std::move(p));
    }
    out.lag = lagInfo().counters;
    return out;
  });
}

Status VfodApiBackend::restoreLearned(const std::string& port_id,
                                      const std::vector<api::LearnedAddress>& addresses) {
  return control_.call([&]() -> Status {
    auto index = lag_.portIndex(port_id);
    if (!index) return notFound(fmt::format("port {} does not exist", port_id));
    const TimePoint now = clock_.now();
    std::vector<lag::LearnedAddress> entries;
    for (const auto& a : addresses) {
      lag::LearnedAddress e;
      e.binding.mac = a.mac;
      e.binding.vlan = a.vlan;
      if (auto v4 = Ipv4Address::parse(a.ip); v4.isOk()) {
        e.binding.family = lag::IpFamily::kIpv4;
        e.binding.ipv4 = *v4;
      } else if (auto v6 = Ipv6Address::parse(a.ip); v6.isOk()) {
        e.binding.family = lag::IpFamily::kIpv6;
        e.binding.ipv6 = *v6;
      } else {
        return invalidArgument(fmt::format("learned address '{}' is not an IP address", a.ip));
      }
      e.source = lag::AddressSource::kNone;
      e.first_seen = now;
      e.last_seen = now;
      entries.push_back(e);
    }
    VFO_RETURN_IF_ERROR(lag_.runtime().learner().restore(*index, entries, now));
    std::lock_guard lock(learned_mu_);
    learned_[port_id] = addresses;
    return okStatus();
  });
}

api::VersionInfo VfodApiBackend::version() {
  return {std::string(kVfoVersion), rte_version()};
}

api::HealthInfo VfodApiBackend::health() {
  auto problems = control_.call([&]() -> StatusOr<std::vector<std::string>> {
    std::vector<std::string> out;
    const lag::LagSnapshot snap = lag_.runtime().group().snapshot();
    size_t up = 0;
    for (const auto& m : snap.members) up += m.member.enabled ? 1 : 0;
    if (up == 0) out.push_back("no LAG member is up: every port is degraded");
    for (size_t m = 0; m < snap.members.size(); ++m)
      if (!snap.members[m].member.enabled && up > 0)
        out.push_back(
            fmt::format("LAG member {} is down: no redundancy", snap.members[m].member.name));
    return out;
  });
  api::HealthInfo h;
  if (!problems.isOk()) {
    h.serving = false;
    h.problems.push_back(problems.status().message());
    return h;
  }
  h.problems = std::move(*problems);
  h.serving = true;
  return h;
}

StatusOr<api::MetricsSnapshot> VfodApiBackend::metricsSnapshot() {
  return control_.call([&]() -> StatusOr<api::MetricsSnapshot> {
    api::MetricsSnapshot s;
    VFO_ASSIGN_OR_RETURN(s.stats, getStats(""));  // nested calls run inline here
    VFO_ASSIGN_OR_RETURN(s.ports, listPorts());
    s.lag = lagInfo();
    s.failovers_by_reason = failovers_by_reason_;
    auto help = [&](const auto& snapshot) {
      snapshot.forEach([&](const StatInfo& i, uint64_t) {
        s.counter_help.emplace(std::string(i.name), std::string(i.help));
      });
    };
    help(QueueStatsSnapshot{});
    help(MemberStatsSnapshot{});
    help(PortEventStatsSnapshot{});
    help(lag::GroupStatsSnapshot{});
    help(lag::MemberStatsSnapshot{});
    help(lag::AnnounceStatsSnapshot{});
    if (relay_)
      for (const auto& su : relay_->sharedUplinks()) {
        auto& out = s.shared_uplinks[su.name];
        out.ports = su.ports;
        su.stats.forEach([&](const StatInfo& i, uint64_t v) {
          out.counters.push_back({std::string(i.name), std::string(i.help), v});
        });
      }
    return s;
  });
}

void VfodApiBackend::poll() {
  const uint64_t changes = ports_.changeCount();
  const TimePoint now = clock_.now();
  const bool scan_learned = now >= next_learned_scan_;
  if (changes == seen_changes_ && !scan_learned) return;
  std::set<std::string> present;
  for (const auto& r : ports_.listPorts()) {
    const std::string& id = r.settings.id;
    present.insert(id);
    if (r.vhost == VhostLink::kRunning) detached_.erase(id);
    Seen now_seen{apiPortStateOf(r, detached_.count(id) > 0, degraded(r)),
                  r.vhost != VhostLink::kDisconnected};
    auto it = seen_.find(id);
    if (it == seen_.end()) {
      seen_[id] = now_seen;
      continue;
    }
    if (now_seen.connected != it->second.connected) {
      if (now_seen.connected)
        events_.publish(api::VhostConnectedEvent{id});
      else
        events_.publish(api::VhostDisconnectedEvent{id});
    }
    if (now_seen.state != it->second.state) {
      events_.publish(api::PortStateEvent{id, it->second.state, now_seen.state});
      if (it->second.state == api::PortState::kIncoming && now_seen.state != api::PortState::kGone)
        events_.publish(api::MigrationEvent{id, "completed"});
    }
    it->second = now_seen;
  }
  std::erase_if(seen_, [&](const auto& kv) { return present.count(kv.first) == 0; });
  seen_changes_ = changes;
  if (!scan_learned) return;
  next_learned_scan_ = now + std::chrono::seconds(1);
  for (const auto& [id, spec] : specs_) {
    auto addrs = learnedOf(id);
    std::lock_guard lock(learned_mu_);
    auto& slot = learned_[id];
    if (slot != addrs) {
      slot = std::move(addrs);
      learned_dirty_.insert(id);
    }
  }
}

std::map<std::string, std::vector<api::LearnedAddress>> VfodApiBackend::takeLearnedChanges() {
  std::lock_guard lock(learned_mu_);
  std::map<std::string, std::vector<api::LearnedAddress>> out;
  for (const auto& id : learned_dirty_)
    if (auto it = learned_.find(id); it != learned_.end()) out[id] = it->second;
  learned_dirty_.clear();
  return out;
}

}  // namespace vfo::vhost
