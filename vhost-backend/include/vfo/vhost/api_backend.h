// VfodApiBackend: the ops API (proto/include/vfo/api/backend.h) carried out
// by vfod: ports through the LagController (VF pair, PortManager, LAG), LAG
// settings and operator failover through lag-core, counters from the relay.
//
// Threads: the ApiBackend methods run on gRPC threads; each one hands its
// work to the control thread through the ControlQueue and waits, because
// PortManager and LagController are control-thread-only. poll() and the
// observer callbacks run on the control thread. takeLearnedChanges() may
// be called from any thread (the learned-address persister).
//
// Contract: as ApiBackend's. A failing call changes nothing. Ports that
// came from the config file are reported like API ports (their spec is
// derived from the config) and cannot be created again through the API
// (ALREADY_EXISTS unless the specs match).
//
// Events published: vhost connected/disconnected and port state changes
// (seen by poll(), which compares with the last state it saw, so a change
// that is undone between two polls is not reported), failovers with their
// announce results, member link changes.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "vfo/api/backend.h"
#include "vfo/api/event_buffer.h"
#include "vfo/api/metrics.h"
#include "vfo/base/clock.h"
#include "vfo/vhost/config.h"
#include "vfo/vhost/control_queue.h"
#include "vfo/vhost/lag_controller.h"
#include "vfo/vhost/port_manager.h"
#include "vfo/vhost/relay.h"

namespace vfo::vhost {

// api::PortSpec -> PortSettings (pure): allowed MACs = [mac] + extras,
// queue pairs, features, role. INVALID_ARGUMENT when the spec masks a
// feature vfod relies on.
StatusOr<PortSettings> portSettingsOf(const api::PortSpec& spec);
// The API spec of a port vfod has (config-file ports have no API extras).
api::PortSpec apiSpecOf(const PortSettings& settings);
// The API's state of a port: lifecycle, guest link, member, detached mark.
api::PortState apiPortStateOf(const PortRecord& record, bool detached, bool degraded);

class VfodApiBackend final : public api::ApiBackend {
 public:
  // Every reference must outlive the backend. Construct on the control
  // thread; it registers itself as the LagController's observer.
  VfodApiBackend(const VfodConfig& config, ControlQueue& control, PortManager& ports,
                 LagController& lag, api::EventBuffer& events, const Clock& clock);
  ~VfodApiBackend() override;

  // The relay whose shared uplinks metricsSnapshot() reports (none without
  // this call). Must outlive the backend.
  void setRelay(const Relay* relay) { relay_ = relay; }

  // ApiBackend
  StatusOr<api::PortInfo> createPort(const api::PortSpec& spec) override;
  Status deletePort(const std::string& port_id) override;
  StatusOr<api::PortInfo> getPort(const std::string& port_id) override;
  StatusOr<std::vector<api::PortInfo>> listPorts() override;
  StatusOr<api::PortInfo> updatePort(const api::PortSpec& updated,
                                     const api::PortFieldMask& changed) override;
  // Marks the port detached (libvirt's `stopped end`): kept, reported
  // kDetached until its guest runs again (poll() clears the mark).
  Status detachPort(const std::string& port_id) override;
  Status checkPort(const api::PortSpec& spec) override;
  Status checkLag(const api::LagSettings& settings) override;
  Status checkActiveMember(const std::string& member) override;
  StatusOr<api::LagInfo> getLag() override;
  StatusOr<api::LagInfo> updateLag(const api::LagSettings& settings) override;
  StatusOr<api::LagInfo> setActiveMember(const std::string& member) override;
  StatusOr<api::StatsInfo> getStats(const std::string& port_id) override;
  Status restoreLearned(const std::string& port_id,
                        const std::vector<api::LearnedAddress>& addresses) override;
  api::VersionInfo version() override;
  api::HealthInfo health() override;

  // Control thread, once per loop iteration: publishes guest-side events
  // and refreshes the learned-address snapshot.
  void poll();
  // Everything the Prometheus endpoint exports, taken in one control-loop
  // turn (any thread).
  StatusOr<api::MetricsSnapshot> metricsSnapshot();

  // Learned addresses of API ports whose set changed since the last call.
  std::map<std::string, std::vector<api::LearnedAddress>> takeLearnedChanges();

 private:
  // All below: control thread.
  StatusOr<api::PortInfo> infoOf(const std::string& id);
  // The LagController options of an API port. INVALID_ARGUMENT for a pin
  // that is not a member or invalid announce timing.
  StatusOr<LagController::PortOptions> portOptionsOf(const api::PortSpec& spec) const;
  // The lag-core settings `settings` stand for. FAILED_PRECONDITION for a
  // mode or hash policy change, INVALID_ARGUMENT for a primary that is not
  // a member or outside active-backup.
  StatusOr<std::pair<lag::LagConfig, lag::AnnounceConfig>> lagConfigOf(
      const api::LagSettings& settings);
  api::LagInfo lagInfo();
  std::vector<api::LearnedAddress> learnedOf(const std::string& id);
  bool degraded(const PortRecord& record) const;
  void onFailover(const lag::FailoverRecord& r);
  std::chrono::system_clock::time_point wallTime(TimePoint t) const;

  const VfodConfig& config_;
  ControlQueue& control_;
  PortManager& ports_;
  LagController& lag_;
  const Relay* relay_ = nullptr;  // shared-uplink counters for metrics
  api::EventBuffer& events_;
  const Clock& clock_;

  // Control thread only.
  std::map<std::string, api::PortSpec> specs_;           // ports created through the API
  std::set<std::string> detached_;                       // marked detached, guest not back yet
  std::map<std::string, uint64_t> failovers_by_reason_;  // carried-out moves since start
  struct Seen {
    api::PortState state = api::PortState::kWaiting;
    bool connected = false;
  };
  std::map<std::string, Seen> seen_;  // last state poll() reported
  uint64_t seen_changes_ = ~uint64_t(0);
  TimePoint next_learned_scan_{};

  std::mutex learned_mu_;
  std::map<std::string, std::vector<api::LearnedAddress>> learned_;  // guarded: last snapshot
  std::set<std::string> learned_dirty_;                              // guarded: changed since take
};

}  // namespace vfo::vhost
