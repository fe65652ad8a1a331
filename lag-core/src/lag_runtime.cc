#include "vfo/lag/lag_runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "vfo/base/log.h"

namespace vfo::lag {

namespace {
const Logger kLog("lag");
}  // namespace

LagRuntime::LagRuntime(LagRuntimeConfig config, const Clock& clock, Callbacks callbacks)
    : config_(std::move(config)), clock_(clock), cb_(std::move(callbacks)) {}

StatusOr<std::unique_ptr<LagRuntime>> LagRuntime::create(LagRuntimeConfig config,
                                                         const Clock& clock,
                                                         netlink::NetlinkSocket* socket,
                                                         SysfsLinkReader* sysfs,
                                                         Callbacks callbacks) {
  VFO_RETURN_IF_ERROR(config.lag.validate());
  const size_t n = config.lag.members.size();
  if (!config.member_netdevs.empty() && config.member_netdevs.size() != n)
    return invalidArgument(
        fmt::format("member_netdevs: {} names for {} members", config.member_netdevs.size(), n));
  if (!callbacks.switch_port || !callbacks.send_frame)
    return invalidArgument("callbacks: switch_port and send_frame are required");

  std::unique_ptr<LagRuntime> rt(new LagRuntime(std::move(config), clock, std::move(callbacks)));
  LagRuntime* self = rt.get();
  for (size_t m = 0; m < n; ++m) {
    std::string dev = self->config_.member_netdevs.empty() ? self->config_.lag.members[m].name
                                                           : self->config_.member_netdevs[m];
    if (!self->by_netdev_.emplace(dev, MemberId(m)).second)
      return invalidArgument(fmt::format("member_netdevs[{}]: {} is watched twice", m, dev));
    self->netdevs_.push_back(std::move(dev));
  }

  VFO_ASSIGN_OR_RETURN(self->group_,
                       LagGroup::create(self->config_.lag, clock,
                                        [self](const DecisionEvent& e) { self->onDecision(e); }));
  VFO_ASSIGN_OR_RETURN(self->learner_, AddressLearner::create(self->config_.learner));
  VFO_ASSIGN_OR_RETURN(
      self->announcer_,
      AnnounceScheduler::create(self->config_.announce, self->cb_.send_frame,
                                [self](const AnnounceRecord& r) { self->onAnnounceDone(r); }));
  LinkMonitorConfig lm;
  lm.interfaces = self->netdevs_;
  lm.poll_interval = self->config_.link_poll_interval;
  VFO_RETURN_IF_ERROR(LinkMonitor::validate(lm, socket != nullptr, sysfs != nullptr));
  self->links_ = std::make_unique<LinkMonitor>(socket, sysfs, lm,
                                               [self](const LinkEvent& e) { self->onLink(e); });
  return rt;
}

Status LagRuntime::start() {
  if (started_) return failedPrecondition("lag runtime already started");
  VFO_RETURN_IF_ERROR(links_->start(clock_.now()));
  started_ = true;
  group_->onTick(clock_.now());
  return okStatus();
}

StatusOr<PortIndex> LagRuntime::addPort(const RuntimePortSpec& spec) {
  if (spec.allowed_macs.empty())
    return invalidArgument(fmt::format("port {}: allowed_macs: at least the guest MAC", spec.name));
  if (spec.vlan > 4094)
    return invalidArgument(
        fmt::format("port {}: vlan: {} is out of range 0..4094", spec.name, spec.vlan));
  VFO_ASSIGN_OR_RETURN(PortIndex p, group_->addPort(spec.name, spec.pin));
  Status s = learner_->addPort(p, spec.allowed_macs);
  if (!s.isOk()) {
    (void)group_->removePort(p);
    return s.withContext("port " + spec.name);
  }
  ports_[p] = spec;
  return p;
}

Status LagRuntime::removePort(PortIndex port) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return notFound(fmt::format("port index {} does not exist", port));
  announcer_->forgetPort(port, clock_.now());
  in_flight_.erase(port);
  VFO_RETURN_IF_ERROR(group_->removePort(port));
  (void)learner_->removePort(port);
  ports_.erase(it);
  return okStatus();
}

Status LagRuntime::updatePort(PortIndex port, const RuntimePortSpec& spec) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return notFound(fmt::format("port index {} does not exist", port));
  if (spec.name != it->second.name)
    return invalidArgument(fmt::format("port {}: name cannot change", it->second.name));
  if (spec.allowed_macs.empty())
    return invalidArgument(fmt::format("port {}: allowed_macs: at least the guest MAC", spec.name));
  if (spec.vlan > 4094)
    return invalidArgument(
        fmt::format("port {}: vlan: {} is out of range 0..4094", spec.name, spec.vlan));
  if (spec.announce)
    VFO_RETURN_IF_ERROR(spec.announce->validate().withContext("port " + spec.name + ": announce"));
  const RuntimePortSpec old = it->second;
  VFO_RETURN_IF_ERROR(
      learner_->setAllowedMacs(port, spec.allowed_macs).withContext("port " + spec.name));
  if (spec.pin != old.pin) {
    Status s = group_->setPin(port, spec.pin);
    if (!s.isOk()) {
      (void)learner_->setAllowedMacs(port, old.allowed_macs);
      return s.withContext("port " + spec.name + ": pin");
    }
  }
  it->second = spec;
  return okStatus();
}

Status LagRuntime::updateSettings(const LagConfig& lag, const AnnounceConfig& announce) {
  VFO_RETURN_IF_ERROR(announce.validate().withContext("announce"));
  const AnnounceConfig old = config_.announce;
  VFO_RETURN_IF_ERROR(announcer_->setConfig(announce));
  if (Status s = group_->updateSettings(lag); !s.isOk()) {
    (void)announcer_->setConfig(old);
    return s;
  }
  config_.announce = announce;
  config_.lag = group_->config();
  return okStatus();
}

const RuntimePortSpec* LagRuntime::port(PortIndex port) const {
  auto it = ports_.find(port);
  return it == ports_.end() ? nullptr : &it->second;
}

LearnOutcome LagRuntime::observe(PortIndex port, FrameDirection direction,
                                 std::span<const uint8_t> frame) {
  return learner_->observe(port, direction, frame, clock_.now());
}

Status LagRuntime::onReadable(TimePoint now) {
  Status s = links_->onReadable(now);
  group_->onTick(now);
  announcer_->onTick(now);
  return s;
}

TimePoint LagRuntime::nextDeadline() const {
  return std::min({links_->nextDeadline(), group_->nextDeadline(), announcer_->nextDeadline(),
                   learner_->nextDeadline()});
}

Status LagRuntime::onTick(TimePoint now) {
  Status s = links_->onTick(now);
  group_->onTick(now);
  announcer_->onTick(now);
  learner_->expire(now);
  return s;
}

void LagRuntime::onLink(const LinkEvent& e) {
  auto it = by_netdev_.find(e.ifname);
  if (it == by_netdev_.end()) return;
  if (cb_.on_link) cb_.on_link(e);
  Status s = group_->onCarrier(it->second, e.state.linkUp(), e.seen_at);
  if (!s.isOk())
    kLog.error(fmt::format("[member {}]", e.ifname), "carrier event refused: {}", s.toString());
}

void LagRuntime::onDecision(const DecisionEvent& e) {
  if (cb_.on_decision) cb_.on_decision(e);
  if (e.port == kNoPort || e.reason == DecisionReason::kPortAdded) {
    if (e.port != kNoPort) cb_.switch_port(e.port, e.to);
    return;
  }
  auto pit = ports_.find(e.port);
  cb_.switch_port(e.port, e.to);
  FailoverRecord rec;
  rec.port = e.port;
  rec.port_name = e.port_name;
  rec.from = e.from;
  rec.to = e.to;
  rec.reason = e.reason;
  rec.cause_seen_at = e.cause_seen_at;
  rec.decided_at = e.decided_at;
  rec.switched_at = clock_.now();
  if (e.to == kNoMember || pit == ports_.end()) {
    // Degraded: nothing to announce on. Any running announce is moot.
    if (announcer_->cancel(e.port, clock_.now())) in_flight_.erase(e.port);
    if (cb_.on_failover) cb_.on_failover(rec);
    return;
  }
  const RuntimePortSpec& spec = pit->second;
  auto learned = learner_->addresses(e.port);
  AnnounceSet set = makeAnnounceSet(spec.allowed_macs, spec.vlan, learned);
  // A pending announce of this port ends as "restarted" inside schedule();
  // its record is reported (superseded) before the new one is registered.
  auto old = in_flight_.find(e.port);
  if (old != in_flight_.end()) old->second.superseded = true;
  Status s = announcer_->schedule(e.port, e.to, std::move(set), clock_.now(), e.cause_seen_at,
                                  spec.announce);
  if (!s.isOk()) {
    kLog.error(fmt::format("[port {}]", e.port_name), "announce not scheduled: {}", s.toString());
    if (cb_.on_failover) cb_.on_failover(rec);
    return;
  }
  in_flight_[e.port] = rec;
  // The first burst is due now: send it without waiting for the next tick.
  announcer_->onTick(clock_.now());
}

void LagRuntime::onAnnounceDone(const AnnounceRecord& r) {
  auto it = in_flight_.find(r.port);
  if (it == in_flight_.end()) return;
  FailoverRecord rec = it->second;
  rec.frames_announced = r.frames_sent - r.send_failures;
  rec.first_frame_at = r.first_frame_at;
  rec.first_burst_at = r.first_burst_at;
  rec.last_frame_at = r.last_frame_at;
  rec.superseded = r.outcome == AnnounceOutcome::kRestarted;
  in_flight_.erase(it);
  if (cb_.on_failover) cb_.on_failover(rec);
}

}  // namespace vfo::lag
