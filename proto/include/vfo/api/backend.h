// ApiBackend: what the ops API needs from vfod. The service edge validates
// and translates every request, enforces idempotency (PortRegistry) and
// persistence (StateStore), then calls exactly one backend method.
//
// Contract for implementations (vfod's daemon, test fakes):
//  - Every method returning Status either fully succeeds or changes nothing
//    (a half-created port is torn down before the error is returned).
//  - Codes: NOT_FOUND for an unknown port or member, RESOURCE_EXHAUSTED when
//    no VF is free, FAILED_PRECONDITION when the current state forbids the
//    change, INVALID_ARGUMENT for values only the backend can judge (a
//    pinned_member or primary that is not a LAG member, a masked feature
//    vfod relies on), UNAVAILABLE for a kernel/DPDK peer that is not there.
//    The code reaches the client unchanged (Status codes equal gRPC codes).
//  - Threads: methods are called from gRPC server threads, several at once
//    for the read-only ones. Mutating methods (createPort, deletePort,
//    updatePort, detachPort, updateLag, setActiveMember) are serialized by the service:
//    never two at a time. Implementations marshal onto their control thread
//    if they need to.
//  - Events: the backend publishes into the EventBuffer it is given by the
//    daemon (event_buffer.h); the service only reads it.
#pragma once

#include <string>
#include <vector>

#include "vfo/api/types.h"
#include "vfo/base/status.h"

namespace vfo::api {

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  // Creates the port described by `spec` (validated, defaults filled, id not
  // yet known to the registry) and returns it.
  virtual StatusOr<PortInfo> createPort(const PortSpec& spec) = 0;
  // Removes a port the registry knows.
  virtual Status deletePort(const std::string& port_id) = 0;
  virtual StatusOr<PortInfo> getPort(const std::string& port_id) = 0;
  // Every port, any order (the edge sorts).
  virtual StatusOr<std::vector<PortInfo>> listPorts() = 0;
  // Applies the fields in `changed` of `updated` (the full new spec) to a
  // known port and returns it.
  virtual StatusOr<PortInfo> updatePort(const PortSpec& updated, const PortFieldMask& changed) = 0;
  // The port's guest stopped (libvirt's `stopped end`): keep the port, its
  // socket and VFs, and report it kDetached until a guest driver connects
  // again (then kActive/kDegraded as usual). Idempotent: OK for a port that
  // is already detached. NOT_FOUND for an unknown port. Runtime state only:
  // nothing is persisted, a restarted vfod reports the port kWaiting.
  virtual Status detachPort(const std::string& port_id) = 0;

  // Check, without changing anything, what only the backend can judge
  // about a mutation: member names, settings it cannot change while
  // running, a member that is down, feature bits it relies on. Same codes
  // and messages as the mutating call. The service calls them before it
  // writes the desired state: a request written and then refused is in the
  // file until the previous state is written back, and a crash in between
  // would leave a state the restart cannot restore. Default: acceptable
  // (the mutating call still checks). A refusal that depends on the moment
  // (no free VF, a member going down in between) is still possible after
  // the write.
  virtual Status checkPort(const PortSpec& spec) {
    (void)spec;
    return okStatus();
  }
  virtual Status checkLag(const LagSettings& settings) {
    (void)settings;
    return okStatus();
  }
  virtual Status checkActiveMember(const std::string& member) {
    (void)member;
    return okStatus();
  }

  virtual StatusOr<LagInfo> getLag() = 0;
  // Applies the complete new settings.
  virtual StatusOr<LagInfo> updateLag(const LagSettings& settings) = 0;
  // Operator failover in active-backup.
  virtual StatusOr<LagInfo> setActiveMember(const std::string& member) = 0;

  // One port (port_id non-empty) or every port.
  virtual StatusOr<StatsInfo> getStats(const std::string& port_id) = 0;

  // At start (ApiServer::restore): the addresses a restored port had
  // learned, to re-announce once its guest runs again.
  virtual Status restoreLearned(const std::string& port_id,
                                const std::vector<LearnedAddress>& addresses) = 0;

  virtual VersionInfo version() = 0;
  virtual HealthInfo health() = 0;
};

}  // namespace vfo::api
