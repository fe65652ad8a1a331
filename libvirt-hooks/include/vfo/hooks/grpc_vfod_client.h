// GrpcVfodClient: the libvirt hook's VfodClient over the vfo.v1 gRPC API
// on vfod's Unix socket (default unix:///run/vfo/vfo.sock).
//
// Time: every call has a deadline of `call_timeout`, and no call goes past
// the client's overall budget (`budget`, counted from construction), so a
// hook run that makes any number of calls ends within the budget plus one
// connect. A vfod that is down (no socket, nobody listening) fails at once
// with UNAVAILABLE; a vfod that accepts but does not answer gives
// DEADLINE_EXCEEDED after the call deadline. Messages name the socket.
//
// createPort() and `created`: the API's CreatePort is idempotent and does
// not say whether the call created the port, so the client asks GetPort
// first. A port that exists is compared with the request on what makes it
// the same port (socket path, role, MAC, allowed MACs, VLAN, queues, LAG
// pin); the owner (domain name/UUID) and the incoming-migration flag are
// life-cycle facts, not identity, so `migrate begin` followed by `prepare
// begin` on a destination finds its incoming port and succeeds. A different
// port is ALREADY_EXISTS naming the first differing field. Only a NOT_FOUND
// GetPort followed by a successful CreatePort reports created = true. This
// is race-free for the hook because libvirt runs the hooks of one domain one
// at a time and port ids come from the domain's own socket paths; a port
// created by someone else between the two calls is either the same spec
// (CreatePort succeeds; reported as created) or ALREADY_EXISTS.
//
// Threads: one hook run uses one client from one thread; the class is not
// meant to be shared (gRPC's channel itself is thread-safe).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "vfo/hooks/hook.h"

namespace vfo::hooks {

inline constexpr const char* kDefaultApiTarget = "unix:///run/vfo/vfo.sock";

struct GrpcVfodClientOptions {
  std::string target = kDefaultApiTarget;        // gRPC target of vfod's API socket (unix:...)
  std::chrono::milliseconds call_timeout{2000};  // deadline of each call
  std::chrono::milliseconds budget{5000};        // all calls of this client end by then
};

class GrpcVfodClient : public VfodClient {
 public:
  explicit GrpcVfodClient(GrpcVfodClientOptions options);
  ~GrpcVfodClient() override;
  GrpcVfodClient(const GrpcVfodClient&) = delete;
  GrpcVfodClient& operator=(const GrpcVfodClient&) = delete;

  Status createPort(const HookPortSpec& spec, bool* created) override;
  Status deletePort(const std::string& port_id) override;
  StatusOr<HookPortState> portState(const std::string& port_id) override;
  Status setOwner(const std::string& port_id, const std::string& domain_name,
                  const std::string& domain_uuid) override;
  Status markDetached(const std::string& port_id) override;

 private:
  struct Impl;  // the stub and the deadline arithmetic (grpc_vfod_client.cc)
  std::unique_ptr<Impl> impl_;
};

}  // namespace vfo::hooks
