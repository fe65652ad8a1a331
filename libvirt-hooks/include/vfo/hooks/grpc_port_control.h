// GrpcPortControl: the reconciliation service's PortControl over vfod's own
// ops API socket, so ports the reconciler creates or deletes take exactly
// the path of the hook's and vfoctl's (validation, idempotency, the
// persisted desired state, events).
//
// Every call has a deadline (GrpcVfodClient's per-call timeout and budget);
// UNAVAILABLE when the API does not answer. Called from the service thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vfo/hooks/domain_source.h"
#include "vfo/hooks/grpc_vfod_client.h"

namespace vfo::hooks {

class GrpcPortControl final : public PortControl {
 public:
  explicit GrpcPortControl(GrpcVfodClientOptions options);
  ~GrpcPortControl() override;

  StatusOr<std::vector<HookPortSpec>> listPorts() override;
  Status createPort(const HookPortSpec& spec) override;
  Status deletePort(const std::string& port_id) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vfo::hooks
