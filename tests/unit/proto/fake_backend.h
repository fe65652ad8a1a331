// An in-memory ApiBackend for the API tests: ports and a two-member LAG as
// plain data, events published like vfod would, and scripted failures
// ("the next createPort returns RESOURCE_EXHAUSTED").
#pragma once

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <optional>

#include "vfo/api/backend.h"
#include "vfo/api/event_buffer.h"

namespace vfo::api::testing {

class FakeBackend : public ApiBackend {
 public:
  explicit FakeBackend(EventBuffer& events) : events_(events) {
    lag_.members = {{"pf0", true, LinkState::kUp, true, std::nullopt, 0, {{"failovers", 0}}},
                    {"pf1", true, LinkState::kUp, true, std::nullopt, 0, {{"failovers", 0}}}};
    lag_.active_member = "pf0";
  }

  // The next call of `method` fails with `status` (once).
  void failNext(const std::string& method, Status status) {
    std::lock_guard lock(mu_);
    failures_[method] = std::move(status);
  }
  int calls(const std::string& method) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }
  size_t portCount() const {
    std::lock_guard lock(mu_);
    return ports_.size();
  }
  std::map<std::string, std::vector<LearnedAddress>> restored_learned;  // restoreLearned calls
  HealthInfo health_info;                                               // what health() returns

  StatusOr<PortInfo> createPort(const PortSpec& spec) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("createPort"));
    if (ports_.contains(spec.port_id)) return alreadyExists("fake: port exists in the backend");
    if (!spec.pinned_member.empty() && !isMember(spec.pinned_member))
      return invalidArgument(
          fmt::format("spec.pinned_member: {} is not a LAG member", spec.pinned_member));
    PortInfo p;
    p.spec = spec;
    p.state = spec.incoming_migration ? PortState::kIncoming : PortState::kWaiting;
    p.active_member = lag_.active_member;
    for (const auto& m : lag_.members)
      p.vfs.push_back({m.name, m.name + "/vf" + std::to_string(ports_.size()), "net_af_packet_x",
                       m.name == lag_.active_member});
    ports_[spec.port_id] = p;
    events_.publish(PortStateEvent{spec.port_id, PortState::kGone, p.state});
    return p;
  }
  Status deletePort(const std::string& id) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("deletePort"));
    if (!ports_.erase(id)) return notFound("fake: no port " + id);
    events_.publish(PortStateEvent{id, PortState::kWaiting, PortState::kGone});
    return okStatus();
  }
  StatusOr<PortInfo> getPort(const std::string& id) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("getPort"));
    auto it = ports_.find(id);
    if (it == ports_.end()) return notFound("fake: no port " + id);
    return it->second;
  }
  StatusOr<std::vector<PortInfo>> listPorts() override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("listPorts"));
    std::vector<PortInfo> out;
    for (auto it = ports_.rbegin(); it != ports_.rend(); ++it)
      out.push_back(it->second);  // unsorted
    return out;
  }
  StatusOr<PortInfo> updatePort(const PortSpec& updated, const PortFieldMask& changed) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("updatePort"));
    auto it = ports_.find(updated.port_id);
    if (it == ports_.end()) return notFound("fake: no port " + updated.port_id);
    if (changed.pinned_member && !updated.pinned_member.empty() && !isMember(updated.pinned_member))
      return invalidArgument(
          fmt::format("spec.pinned_member: {} is not a LAG member", updated.pinned_member));
    last_mask = changed;
    it->second.spec = updated;
    return it->second;
  }
  Status detachPort(const std::string& id) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("detachPort"));
    auto it = ports_.find(id);
    if (it == ports_.end()) return notFound("fake: no port " + id);
    PortInfo& p = it->second;
    if (p.state == PortState::kDetached) return okStatus();
    events_.publish(PortStateEvent{id, p.state, PortState::kDetached});
    p.state = PortState::kDetached;
    p.vhost_connected = false;
    return okStatus();
  }
  // A guest driver connects to the port's socket (what vfod's vhost
  // callback does): the port is active again, also after detachPort.
  Status connectGuest(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = ports_.find(id);
    if (it == ports_.end()) return notFound("fake: no port " + id);
    PortInfo& p = it->second;
    events_.publish(VhostConnectedEvent{id});
    if (p.state != PortState::kActive)
      events_.publish(PortStateEvent{id, p.state, PortState::kActive});
    p.state = PortState::kActive;
    p.vhost_connected = true;
    return okStatus();
  }
  // The checks fail only when told to (failNext("checkPort"), ...); the
  // mutating calls still refuse what they refuse.
  Status checkPort(const PortSpec&) override {
    std::lock_guard lock(mu_);
    return enter("checkPort");
  }
  Status checkLag(const LagSettings&) override {
    std::lock_guard lock(mu_);
    return enter("checkLag");
  }
  Status checkActiveMember(const std::string&) override {
    std::lock_guard lock(mu_);
    return enter("checkActiveMember");
  }
  StatusOr<LagInfo> getLag() override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("getLag"));
    return lag_;
  }
  StatusOr<LagInfo> updateLag(const LagSettings& s) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("updateLag"));
    if (!s.primary.empty() && !isMember(s.primary))
      return invalidArgument(fmt::format("settings.primary: {} is not a LAG member", s.primary));
    lag_.settings = s;
    return lag_;
  }
  StatusOr<LagInfo> setActiveMember(const std::string& member) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("setActiveMember"));
    if (!isMember(member)) return notFound(fmt::format("member: {} is not a LAG member", member));
    for (const auto& m : lag_.members)
      if (m.name == member && m.link != LinkState::kUp)
        return failedPrecondition(fmt::format("member: {} is down", member));
    if (lag_.active_member != member) {
      for (auto& [id, p] : ports_)
        events_.publish(FailoverEvent{id, lag_.active_member, member, "operator", {}, {}, 3});
      lag_.active_member = member;
      lag_.counters["failovers"]++;
    }
    return lag_;
  }
  StatusOr<StatsInfo> getStats(const std::string& port_id) override {
    std::lock_guard lock(mu_);
    VFO_RETURN_IF_ERROR(enter("getStats"));
    StatsInfo s;
    for (const auto& [id, p] : ports_) {
      if (!port_id.empty() && id != port_id) continue;
      PortStatsInfo ps{id, {{"guest_tx_packets", 10}, {"guest_rx_packets", 7}}, {}, {}};
      ps.queues[0] = {{"guest_tx_packets", 10}};
      ps.members["pf0"] = {{"tx_packets", 10}};
      s.ports.push_back(ps);
    }
    if (!port_id.empty() && s.ports.empty()) return notFound("fake: no port " + port_id);
    s.lag = {{"failovers", lag_.counters["failovers"]}};
    return s;
  }
  Status restoreLearned(const std::string& port_id, const std::vector<LearnedAddress>& a) override {
    std::lock_guard lock(mu_);
    restored_learned[port_id] = a;
    return okStatus();
  }
  VersionInfo version() override { return {"0.1.0", "22.11.4"}; }
  HealthInfo health() override {
    std::lock_guard lock(mu_);
    return health_info;
  }

  // Test access to the LAG (e.g. take a member down).
  LagInfo& lag() { return lag_; }
  PortFieldMask last_mask;  // of the last successful updatePort

 private:
  Status enter(const std::string& method) {  // caller holds mu_
    calls_[method]++;
    auto it = failures_.find(method);
    if (it == failures_.end()) return okStatus();
    Status s = it->second;
    failures_.erase(it);
    return s;
  }
  bool isMember(const std::string& name) const {
    for (const auto& m : lag_.members)
      if (m.name == name) return true;
    return false;
  }

  EventBuffer& events_;
  mutable std::mutex mu_;
  std::map<std::string, PortInfo> ports_;
  LagInfo lag_;
  std::map<std::string, Status> failures_;
  std::map<std::string, int> calls_;
};

}  // namespace vfo::api::testing
