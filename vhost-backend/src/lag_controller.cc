#include "vfo/vhost/lag_controller.h"

#include <fmt/format.h>

#include <algorithm>

#include "vfo/base/log.h"
#include "vfo/lag/decision_event.h"
#include "vfo/lag/frame_parser.h"
#include "vfo/lag/frames.h"

namespace vfo::vhost {

namespace {

const Logger kLog{"lag"};

std::string memberLabel(const std::vector<std::string>& members, lag::MemberId m) {
  if (m == lag::kNoMember || m >= members.size()) return "none";
  return members[m];
}

// "+42 us" / "+1.2 ms" relative to `base`; "-" for kNever.
std::string offset(TimePoint t, TimePoint base) {
  if (t == kNever) return "-";
  const double us = double((t - base).count()) / 1000.0;
  if (us < 1000.0) return fmt::format("+{:.0f} us", us);
  return fmt::format("+{:.1f} ms", us / 1000.0);
}

int64_t micros(TimePoint t, TimePoint base) {
  if (t == kNever) return -1;
  return (t - base).count() / 1000;
}

}  // namespace

StatusOr<lag::LagRuntimeConfig> lagRuntimeConfigOf(const LagSettings& s) {
  lag::LagRuntimeConfig c;
  c.lag.name = s.name;
  switch (s.mode) {
    case LagModeSetting::kActiveBackup:
      c.lag.mode = lag::LagMode::kActiveBackup;
      break;
    case LagModeSetting::kBalanceVm:
      c.lag.mode = lag::LagMode::kBalanceVm;
      break;
    case LagModeSetting::kBalanceFlow:
      c.lag.mode = lag::LagMode::kBalanceFlow;
      break;
  }
  c.lag.hash_policy = s.hash_policy;
  for (const auto& m : s.members) {
    c.lag.members.push_back(lag::MemberConfig{m.name, 0, s.probe.has_value()});
    c.member_netdevs.push_back(m.netdev.empty() ? m.name : m.netdev);
  }
  if (c.lag.mode == lag::LagMode::kActiveBackup && s.primary < s.members.size())
    c.lag.primary = s.members[s.primary].name;
  c.lag.failback = s.failback;
  c.lag.updelay = s.updelay;
  c.lag.downdelay = s.downdelay;
  c.lag.vm_failback_delay = s.vm_failback_delay;
  if (Status st = c.lag.validate(); !st.isOk()) return st.withContext("lag");
  return c;
}

std::optional<lag::MemberId> pinOf(const LagSettings& lag, std::string_view port_id) {
  for (size_t m = 0; m < lag.members.size(); ++m)
    for (const auto& p : lag.members[m].pinned_ports)
      if (p == port_id) return lag::MemberId(m);
  return std::nullopt;
}

sriov::VfConfig vfConfigOf(const PortSettings& port) {
  sriov::VfConfig c;
  c.mac = port.mac;
  c.vlan = port.vlan;
  c.spoof_check = true;
  return c;
}

std::string formatFailover(const lag::FailoverRecord& r, const std::vector<std::string>& members) {
  std::string out = fmt::format(
      "[port {}] failover {} -> {} ({}): cause seen, decided {}, switched {}", r.port_name,
      memberLabel(members, r.from), memberLabel(members, r.to), lag::decisionReasonName(r.reason),
      offset(r.decided_at, r.cause_seen_at), offset(r.switched_at, r.cause_seen_at));
  if (r.to == lag::kNoMember) return out + ", degraded: nothing announced";
  out += fmt::format(", first frame {}, first burst {}, last frame {}, {} frames",
                     offset(r.first_frame_at, r.cause_seen_at),
                     offset(r.first_burst_at, r.cause_seen_at),
                     offset(r.last_frame_at, r.cause_seen_at), r.frames_announced);
  if (r.superseded) out += " (superseded by a newer move)";
  return out;
}

LagController::LagController(const VfodConfig& config, PortManager& ports, const Clock& clock)
    : config_(config), ports_(ports), clock_(clock) {
  for (const auto& m : config.lag.members) member_names_.push_back(m.name);
}

LagController::~LagController() = default;

StatusOr<std::unique_ptr<LagController>> LagController::create(
    const VfodConfig& config, PortManager& ports, netlink::NetlinkSocket* links,
    sriov::VfProvider* vfs, const Clock& clock, ProbeChannel* probes) {
  VFO_ASSIGN_OR_RETURN(lag::LagRuntimeConfig rc, lagRuntimeConfigOf(config.lag));
  // Software and SR-IOV VFs come in pairs from sriov-manager.
  const bool vf_pairs = config.lag.vf_provider == VfProviderSetting::kSoftware ||
                        config.lag.vf_provider == VfProviderSetting::kSriov;
  if (vf_pairs && vfs == nullptr)
    return invalidArgument("lag.vf_provider: software and SR-IOV VFs need a VF provider");
  std::unique_ptr<LagController> self(new LagController(config, ports, clock));
  LagController* me = self.get();
  lag::LagRuntime::Callbacks cb;
  cb.switch_port = [me](lag::PortIndex p, lag::MemberId to) { me->onSwitch(p, to); };
  cb.send_frame = [me](lag::MemberId m, lag::PortIndex p, lag::FrameKind,
                       std::span<const uint8_t> f) { return me->onSend(m, p, f); };
  cb.on_failover = [me](const lag::FailoverRecord& r) { me->onFailover(r); };
  cb.on_decision = [me](const lag::DecisionEvent&) { me->maybeRefreshFlow(); };
  cb.on_link = [me](const lag::LinkEvent& e) {
    if (e.state.linkUp() != e.previous.linkUp() || !e.previous.present) {
      kLog.info("", "link {} {}", e.ifname, e.state.linkUp() ? "up" : "down");
      if (me->observer_.on_link)
        for (size_t m = 0; m < me->config_.lag.members.size(); ++m) {
          const auto& ms = me->config_.lag.members[m];
          if ((ms.netdev.empty() ? ms.name : ms.netdev) == e.ifname)
            me->observer_.on_link(lag::MemberId(m), e.state.linkUp());
        }
    }
  };
  VFO_ASSIGN_OR_RETURN(self->runtime_,
                       lag::LagRuntime::create(std::move(rc), clock, links, nullptr, cb));
  if (config.lag.probe) {
    if (probes == nullptr) return invalidArgument("lag.probe: probing needs a probe channel");
    self->probe_channel_ = probes;
    lag::ProbeMonitor::Callbacks pcb;
    pcb.send_probe = [me](lag::MemberId m, const lag::ProbeAddress& t, lag::ProbeKind) {
      me->sendProbe(m, t);
    };
    pcb.on_verdict = [me](lag::MemberId m, bool alive, TimePoint seen_at) {
      kLog.info(fmt::format("[member {}]", me->member_names_[m]), "probe verdict: path {}",
                alive ? "alive" : "dead");
      if (Status s = me->runtime_->group().onProbeVerdict(m, alive, seen_at); !s.isOk())
        kLog.warn("", "probe verdict: {}", s.toString());
    };
    self->probe_ = std::make_unique<lag::ProbeMonitor>(pcb);
  }
  if (vf_pairs) {
    sriov::PairGroupConfig pc;
    pc.name = config.lag.name;
    for (const auto& m : config.lag.members) pc.members.push_back(m.netdev);
    VFO_ASSIGN_OR_RETURN(sriov::VfPairManager pm, sriov::VfPairManager::create(pc, *vfs));
    self->pairs_.emplace(std::move(pm));
    self->vf_kind_ = std::string(vfs->kind());
  }
  return self;
}

Status LagController::start() {
  VFO_RETURN_IF_ERROR(runtime_->start());
  if (!probe_) return okStatus();
  const auto& pc = *config_.lag.probe;
  const TimePoint now = clock_.now();
  for (size_t m = 0; m < member_names_.size(); ++m) {
    lag::ProbeMemberConfig c;
    c.member = lag::MemberId(m);
    c.targets = {lag::ProbeAddress::v4(pc.target.bytes())};
    c.interval = pc.interval;
    c.missed_max = pc.missed_max;
    VFO_RETURN_IF_ERROR(probe_->addMember(c, now));
    // The monitor starts a member alive without an event; the group must
    // hear it, or a probing member would never become healthy.
    VFO_RETURN_IF_ERROR(runtime_->group().onProbeVerdict(lag::MemberId(m), true, now));
  }
  return okStatus();
}

TimePoint LagController::nextDeadline() const {
  TimePoint d = runtime_->nextDeadline();
  if (probe_) d = std::min(d, probe_->nextDeadline());
  if (!backlog_.empty()) d = std::min(d, backlog_retry_at_);
  return d;
}

Status LagController::onTick(TimePoint now) {
  flushBacklog(now);
  if (probe_) probe_->onTick(now);
  Status s = runtime_->onTick(now);
  maybeRefreshFlow();
  return s;
}

Status LagController::onReadable(TimePoint now) {
  flushBacklog(now);
  Status s = runtime_->onReadable(now);
  maybeRefreshFlow();
  return s;
}

void LagController::maybeRefreshFlow() {
  if (!flowMode()) return;
  if (!flow_ || runtime_->group().liveSet().current()->generation != flow_->live.generation)
    refreshFlow();
}

void LagController::sendProbe(lag::MemberId member, const lag::ProbeAddress& target) {
  const MemberSettings& ms = config_.lag.members[member];
  auto frame = lag::buildArpRequest(ms.probe_mac, ms.probe_ip,
                                    Ipv4Address::fromBytes(target.data()), lag::kNoVlan);
  if (!frame.isOk() || !probe_channel_->send(member, *frame))
    kLog.debug(fmt::format("[member {}]", member_names_[member]), "probe not sent");
}

void LagController::onProbeReadable(lag::MemberId member, TimePoint now) {
  if (!probe_ || member >= member_names_.size()) return;
  const auto& probe_mac = config_.lag.members[member].probe_mac.bytes();
  probe_channel_->drain(member, [&](std::span<const uint8_t> frame) {
    if (frame.size() < 14 || !std::equal(probe_mac.begin(), probe_mac.end(), frame.begin()))
      return;  // not addressed to this member's probe MAC
    const lag::ParsedFrame p = lag::parseAddressFrame(frame);
    if (p.verdict != lag::ParseVerdict::kAddress || p.source != lag::AddressSource::kArpReply)
      return;
    probe_->onReply(member, lag::ProbeAddress::v4(p.binding.ipv4.bytes()), now);
  });
}

sriov::AdoptReport LagController::adopt(const std::vector<PortSettings>& ports) {
  if (!pairs_) return {};
  std::map<std::string, sriov::VfConfig> desired;
  for (const auto& p : ports) desired[p.id] = vfConfigOf(p);
  sriov::AdoptReport r = pairs_->adopt(desired);
  // A VF no port claims was left by a deletion cut off by a crash (the port
  // was already gone from the desired state): park it, or it would hold its
  // MAC forever. Only where vfod owns every VF (software VFs); SR-IOV VFs of
  // no port may serve VMs vfod knows nothing of and are left alone.
  pairs_->reclaimForeign(&r);
  for (const auto& a : r.reclaimed) kLog.info("", "{} VF of no port reclaimed: {}", vf_kind_, a);
  for (const auto& a : r.adopted) kLog.info("", "{} VF adopted: {}", vf_kind_, a);
  for (const auto& a : r.configured) kLog.info("", "{} VF configured: {}", vf_kind_, a);
  for (const auto& a : r.foreign)
    kLog.warn("", "{} VF of no configured port left alone: {}", vf_kind_, a);
  for (const auto& a : r.failed) kLog.warn("", "{} VF adoption failed: {}", vf_kind_, a);
  return r;
}

std::optional<lag::PortIndex> LagController::portIndex(std::string_view id) const {
  auto it = indexes_.find(id);
  if (it == indexes_.end()) return std::nullopt;
  return it->second;
}

void LagController::undoPort(const std::string& id, bool port_created, bool vfs_created) {
  if (port_created) {
    if (Status s = ports_.deletePort(id); !s.isOk())
      kLog.warn(fmt::format("[port {}]", id), "undo: {}", s.toString());
  }
  if (vfs_created && pairs_) {
    if (Status s = pairs_->deletePort(id); !s.isOk())
      kLog.warn(fmt::format("[port {}]", id), "undo: VFs: {}", s.toString());
  }
}

std::optional<lag::MemberId> LagController::memberByName(std::string_view name) const {
  for (size_t m = 0; m < member_names_.size(); ++m)
    if (member_names_[m] == name) return lag::MemberId(m);
  return std::nullopt;
}

const LagController::PortOptions* LagController::portOptions(std::string_view id) const {
  auto it = options_.find(id);
  return it == options_.end() ? nullptr : &it->second;
}

Status LagController::updatePort(std::string_view id_view, lag::VlanId vlan,
                                 std::vector<MacAddress> allowed_macs,
                                 std::optional<lag::MemberId> pin,
                                 std::optional<lag::AnnounceTiming> announce) {
  const std::string id(id_view);
  auto it = indexes_.find(id);
  if (it == indexes_.end()) return notFound("port " + id + " does not exist");
  const lag::PortIndex index = it->second;
  auto record = ports_.exportPort(id);
  if (!record.isOk()) return record.status();
  const PortSettings old = record->settings;
  const lag::RuntimePortSpec* old_spec = runtime_->port(index);
  if (old_spec == nullptr) return internalError("port " + id + " is not in the LAG runtime");
  const lag::RuntimePortSpec old_runtime = *old_spec;
  if (allowed_macs.empty() || allowed_macs[0] != old.mac)
    return invalidArgument("port " + id + ": allowed_macs: the first MAC must stay the guest MAC " +
                           old.mac.toString());

  VFO_RETURN_IF_ERROR(ports_.updatePortPolicy(id, vlan, allowed_macs));
  lag::RuntimePortSpec next = old_runtime;
  next.allowed_macs = allowed_macs;
  next.vlan = vlan;
  next.pin = pin;
  next.announce = announce;
  if (Status s = runtime_->updatePort(index, next); !s.isOk()) {
    (void)ports_.updatePortPolicy(id, old.vlan, old.allowed_macs);
    return s;
  }
  if (pairs_ && vlan != old.vlan) {
    PortSettings changed = old;
    changed.vlan = vlan;
    if (Status s = pairs_->updatePort(id, vfConfigOf(changed)); !s.isOk()) {
      (void)runtime_->updatePort(index, old_runtime);
      (void)ports_.updatePortPolicy(id, old.vlan, old.allowed_macs);
      return s.withContext("backing VFs");
    }
  }
  PortOptions& o = options_[id];
  o.pin = pin;
  o.announce = announce;
  // A pin change may have moved the port inside updatePort: apply it.
  if (!flowMode()) onSwitch(index, runtime_->group().portMember(index));
  return okStatus();
}

Status LagController::createPort(PortSettings settings, const PortOptions& options) {
  const std::string id = settings.id;
  if (indexes_.count(id)) return alreadyExists("port " + id + " is already in the LAG");
  bool vfs_created = false;
  if (pairs_) {
    auto pair = pairs_->createPort(id, vfConfigOf(settings));
    if (!pair.isOk()) return pair.status().withContext("port " + id + ": backing VFs");
    vfs_created = true;
    settings.uplink_devargs.resize(pair->vfs.size());
    for (size_t m = 0; m < pair->vfs.size(); ++m) {
      std::string devargs = pair->vfs[m].devargs;
      // net_af_packet takes its queue count in the devargs; PCI VFs are
      // configured with it when opened.
      if (settings.queue_pairs > 1 && devargs.rfind("net_af_packet", 0) == 0)
        devargs += fmt::format(",qpairs={}", settings.queue_pairs);
      settings.uplink_devargs[m] = devargs;
      kLog.info(fmt::format("[port {}]", id), "member {}: {} VF {} ({})", member_names_[m],
                vf_kind_, pair->vfs[m].netdev, devargs);
    }
  }
  if (Status s = ports_.createPort(settings, options.initial); !s.isOk()) {
    undoPort(id, false, vfs_created);
    return s;
  }
  lag::RuntimePortSpec spec;
  spec.name = id;
  spec.allowed_macs = settings.allowed_macs;
  spec.vlan = settings.vlan;
  spec.pin = options.pin ? options.pin : pinOf(config_.lag, id);
  spec.announce = options.announce;
  auto index = runtime_->addPort(spec);
  if (!index.isOk()) {
    undoPort(id, true, vfs_created);
    return index.status().withContext("port " + id + ": LAG");
  }
  ids_[*index] = id;
  indexes_[id] = *index;
  order_.push_back(id);
  options_[id] = PortOptions{options.initial, spec.pin, options.announce};
  if (flowMode()) {
    if (!flow_) refreshFlow();  // first port: build the selector
    if (Status s = ports_.setSelector(id, &flow_->selector, flow_->rx_members); !s.isOk()) {
      (void)runtime_->removePort(*index);
      ids_.erase(*index);
      indexes_.erase(id);
      options_.erase(id);
      order_.pop_back();
      undoPort(id, true, vfs_created);
      return s;
    }
    return okStatus();
  }
  // The placement decision ran inside addPort, before the index was known
  // here: apply it now.
  onSwitch(*index, runtime_->group().portMember(*index));
  return okStatus();
}

void LagController::refreshFlow() {
  auto next = std::make_unique<FlowSelector>();
  next->live = *runtime_->group().liveSet().current();
  next->selector.select = [](const void* ctx, const uint8_t* frame, uint32_t len) {
    return static_cast<const lag::LiveSet*>(ctx)->selectFlow(frame, len);
  };
  next->selector.context = &next->live;
  for (uint32_t i = 0; i < next->live.count; ++i) next->rx_members |= 1u << next->live.members[i];
  for (const auto& [index, id] : ids_) {
    if (Status s = ports_.setSelector(id, &next->selector, next->rx_members); !s.isOk())
      kLog.error(fmt::format("[port {}]", id), "balance-flow selector: {}", s.toString());
  }
  std::string live;
  for (uint32_t i = 0; i < next->live.count; ++i)
    live += (live.empty() ? "" : " ") + member_names_[next->live.members[i]];
  kLog.info("", "balance-flow: live members [{}] (generation {})", live, next->live.generation);
  // Every port now uses `next` and the workers quiesced in setSelector:
  // nothing reads the previous selector any more.
  flow_ = std::move(next);
}

Status LagController::deletePort(std::string_view id_view) {
  const std::string id(id_view);
  auto it = indexes_.find(id);
  if (it == indexes_.end()) return notFound("port " + id + " is not in the LAG");
  const lag::PortIndex index = it->second;
  if (Status s = runtime_->removePort(index); !s.isOk())
    kLog.warn(fmt::format("[port {}]", id), "LAG: {}", s.toString());
  // Its waiting announce frames must not go out for a later port that
  // gets the same index.
  std::erase_if(backlog_, [&](const WaitingFrame& w) { return w.port == index; });
  ids_.erase(index);
  indexes_.erase(it);
  options_.erase(id);
  order_.erase(std::remove(order_.begin(), order_.end(), id), order_.end());
  Status result = ports_.deletePort(id);
  if (pairs_) {
    if (Status s = pairs_->deletePort(id); !s.isOk() && result.isOk()) result = s;
  }
  return result;
}

void LagController::closeAll() {
  while (!order_.empty()) {
    const std::string id = order_.back();
    if (Status s = deletePort(id); !s.isOk())
      kLog.warn(fmt::format("[port {}]", id), "delete: {}", s.toString());
  }
}

void LagController::onSwitch(lag::PortIndex port, lag::MemberId to) {
  if (flowMode()) return;  // the selector decides per frame
  auto it = ids_.find(port);
  if (it == ids_.end()) return;  // inside addPort: createPort applies it
  if (Status s = ports_.setActiveMember(it->second, to); !s.isOk())
    kLog.error(fmt::format("[port {}]", it->second), "switch to {}: {}",
               memberLabel(member_names_, to), s.toString());
}

bool LagController::onSend(lag::MemberId member, lag::PortIndex port,
                           std::span<const uint8_t> frame) {
  auto it = ids_.find(port);
  if (it == ids_.end()) return false;
  std::vector<std::vector<uint8_t>> frames{std::vector<uint8_t>(frame.begin(), frame.end())};
  // Behind waiting frames, a new one waits too: frames leave in order.
  if (backlog_.empty()) {
    const Status s = ports_.sendOnMember(it->second, member, frames);
    if (s.isOk()) return true;
    if (s.code() != StatusCode::kResourceExhausted) return false;
  }
  if (backlog_.size() >= kAnnounceBacklog) {
    bump(backlog_stats_.ring_backlog_refused);
    return false;
  }
  bump(backlog_stats_.ring_backlog_waits);
  if (backlog_.empty()) backlog_retry_at_ = clock_.now() + kAnnounceRetry;
  backlog_.push_back(WaitingFrame{port, member, std::move(frames[0])});
  return true;
}

void LagController::flushBacklog(TimePoint now) {
  std::vector<std::vector<uint8_t>> frames(1);
  while (!backlog_.empty()) {
    WaitingFrame& w = backlog_.front();
    auto it = ids_.find(w.port);
    if (it != ids_.end()) {
      frames[0] = std::move(w.frame);
      const Status s = ports_.sendOnMember(it->second, w.member, frames);
      if (s.code() == StatusCode::kResourceExhausted) {
        w.frame = std::move(frames[0]);
        backlog_retry_at_ = now + kAnnounceRetry;  // the ring is still full
        return;
      }
      if (!s.isOk())
        kLog.debug(fmt::format("[port {}]", it->second), "waiting announce frame: {}",
                   s.toString());
    }
    backlog_.pop_front();
  }
}

void LagController::onFailover(const lag::FailoverRecord& r) {
  ++failover_count_;
  failovers_.push_back(r);
  while (failovers_.size() > kFailoverHistory) failovers_.pop_front();
  kLog.info("", "{}", formatFailover(r, member_names_));
  if (observer_.on_failover) observer_.on_failover(r);
}

void LagController::onLearnerFrame(const DatapathPort& port, Direction dir, FrameView frame) {
  auto it = indexes_.find(port.id);
  if (it == indexes_.end()) return;
  runtime_->observe(it->second,
                    dir == Direction::kFromGuest ? lag::FrameDirection::kFromGuest
                                                 : lag::FrameDirection::kToGuest,
                    std::span<const uint8_t>(frame.data, frame.len));
}

std::string LagController::renderStats() const {
  std::string out;
  const std::string text = runtime_->group().snapshot().toText();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (end > pos) out += "lag " + text.substr(pos, end - pos) + "\n";
    pos = end + 1;
  }
  for (const auto& [index, id] : ids_)
    for (const auto& a : runtime_->learner().addresses(index))
      out += fmt::format("learned port {} {} {}\n", id, a.binding.mac.toString(),
                         a.binding.family == lag::IpFamily::kIpv4 ? a.binding.ipv4.toString()
                                                                  : a.binding.ipv6.toString());
  runtime_->announcer().stats().forEach(
      [&](const StatInfo& i, uint64_t v) { out += fmt::format("announce {} {}\n", i.name, v); });
  backlog_stats_.snapshot().forEach(
      [&](const StatInfo& i, uint64_t v) { out += fmt::format("announce {} {}\n", i.name, v); });
  out += fmt::format("lag failovers {}\n", failover_count_);
  uint64_t seq = failover_count_ - failovers_.size();
  for (const auto& r : failovers_) {
    out += fmt::format(
        "failover {} port {} from {} to {} reason {} switched_us {} first_frame_us {} frames {}\n",
        ++seq, r.port_name, memberLabel(member_names_, r.from), memberLabel(member_names_, r.to),
        lag::decisionReasonName(r.reason), micros(r.switched_at, r.cause_seen_at),
        micros(r.first_frame_at, r.cause_seen_at), r.frames_announced);
  }
  return out;
}

}  // namespace vfo::vhost
