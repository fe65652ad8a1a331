#include "vfo/hooks/grpc_vfod_client.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "vfo/api/convert.h"
#include "vfo/api/port_registry.h"
#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::hooks {

namespace {

using Clock = std::chrono::steady_clock;

api::PortSpec toApiSpec(const HookPortSpec& h) {
  api::PortSpec s;
  s.port_id = h.port_id;
  s.socket_path = h.socket_path;
  s.role = h.role == VhostRole::kVfodClient ? api::VhostRole::kClient : api::VhostRole::kServer;
  s.mac = h.mac;
  s.allowed_macs = h.allowed_macs;
  s.vlan = h.vlan;
  s.queues = uint16_t(std::min<uint32_t>(h.queues, UINT16_MAX));
  s.pinned_member = h.lag_pin;
  s.domain_name = h.domain_name;
  s.domain_uuid = h.domain_uuid;
  s.incoming_migration = h.incoming_migration;
  return s;
}

}  // namespace

struct GrpcVfodClient::Impl {
  explicit Impl(GrpcVfodClientOptions o)
      : options(std::move(o)),
        end(Clock::now() + options.budget),
        stub(v1::Vfo::NewStub(
            grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials()))) {}

  // Sets the call's deadline: call_timeout from now, never past the budget.
  // Returns false when the budget is spent (the call is not made).
  bool deadline(grpc::ClientContext& ctx) {
    const auto now = Clock::now();
    const auto until = std::min(now + options.call_timeout, end);
    if (until <= now) return false;
    ctx.set_deadline(std::chrono::system_clock::now() + (until - now));
    return true;
  }

  Status budgetSpent(std::string_view call) const {
    return deadlineExceeded(
        fmt::format("{}: the hook's time budget of {} ms for vfod ({}) is spent", call,
                    options.budget.count(), options.target));
  }

  // vfo::Status codes equal gRPC codes; transport failures name the socket.
  Status fromGrpc(std::string_view call, const grpc::Status& st) const {
    if (st.ok()) return okStatus();
    const auto code = static_cast<StatusCode>(st.error_code());
    if (st.error_code() == grpc::StatusCode::UNAVAILABLE)
      return Status(code, fmt::format("{}: vfod at {} is not reachable: {}", call, options.target,
                                      st.error_message()));
    if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
      return Status(code, fmt::format("{}: vfod at {} did not answer within {} ms", call,
                                      options.target, options.call_timeout.count()));
    return Status(code, st.error_message());
  }

  StatusOr<v1::Port> getPort(const std::string& port_id) {
    grpc::ClientContext ctx;
    if (!deadline(ctx)) return budgetSpent("GetPort");
    v1::GetPortRequest req;
    req.set_port_id(port_id);
    v1::Port resp;
    VFO_RETURN_IF_ERROR(fromGrpc("GetPort", stub->GetPort(&ctx, req, &resp)));
    return resp;
  }

  GrpcVfodClientOptions options;
  Clock::time_point end;  // the budget ends here
  std::unique_ptr<v1::Vfo::Stub> stub;
};

GrpcVfodClient::GrpcVfodClient(GrpcVfodClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

GrpcVfodClient::~GrpcVfodClient() = default;

Status GrpcVfodClient::createPort(const HookPortSpec& spec, bool* created) {
  *created = false;
  api::PortSpec want = toApiSpec(spec);
  auto existing = impl_->getPort(spec.port_id);
  if (existing.isOk()) {
    // Compare on identity only (see the header): owner and incoming flag are taken over.
    auto have = api::portSpecFromProto(existing->spec(), /*socket_dir=*/"", "spec");
    if (!have) return internalError("GetPort answered an invalid spec: " + have.status().message());
    want.domain_name = have->domain_name;
    want.domain_uuid = have->domain_uuid;
    want.incoming_migration = have->incoming_migration;
    want.disabled_features = have->disabled_features;
    want.announce = have->announce;
    const std::string diff = api::firstDifference(*have, want);
    if (!diff.empty())
      return alreadyExists(fmt::format(
          "port {} exists in vfod with another {}; the domain XML and vfod disagree (delete the "
          "port with `vfoctl port delete {}` if it is stale)",
          spec.port_id, diff, spec.port_id));
    return okStatus();
  }
  // FAILED_PRECONDITION: a port vfod could not restore at start; CreatePort retries it.
  const StatusCode code = existing.status().code();
  if (code != StatusCode::kNotFound && code != StatusCode::kFailedPrecondition)
    return existing.status();

  grpc::ClientContext ctx;
  if (!impl_->deadline(ctx)) return impl_->budgetSpent("CreatePort");
  v1::CreatePortRequest req;
  api::toProto(want, req.mutable_spec());
  v1::Port resp;
  VFO_RETURN_IF_ERROR(impl_->fromGrpc("CreatePort", impl_->stub->CreatePort(&ctx, req, &resp)));
  *created = code == StatusCode::kNotFound;
  return okStatus();
}

Status GrpcVfodClient::deletePort(const std::string& port_id) {
  grpc::ClientContext ctx;
  if (!impl_->deadline(ctx)) return impl_->budgetSpent("DeletePort");
  v1::DeletePortRequest req;
  req.set_port_id(port_id);
  v1::DeletePortResponse resp;
  return impl_->fromGrpc("DeletePort", impl_->stub->DeletePort(&ctx, req, &resp));
}

StatusOr<HookPortState> GrpcVfodClient::portState(const std::string& port_id) {
  VFO_ASSIGN_OR_RETURN(v1::Port port, impl_->getPort(port_id));
  VFO_ASSIGN_OR_RETURN(api::PortState state, api::portStateFromProto(port.state(), "state"));
  return state;
}

Status GrpcVfodClient::setOwner(const std::string& port_id, const std::string& domain_name,
                                const std::string& domain_uuid) {
  grpc::ClientContext ctx;
  if (!impl_->deadline(ctx)) return impl_->budgetSpent("UpdatePort");
  v1::UpdatePortRequest req;
  req.set_port_id(port_id);
  req.add_update_fields("domain_name");
  req.add_update_fields("domain_uuid");
  req.mutable_spec()->set_domain_name(domain_name);
  req.mutable_spec()->set_domain_uuid(domain_uuid);
  v1::Port resp;
  return impl_->fromGrpc("UpdatePort", impl_->stub->UpdatePort(&ctx, req, &resp));
}

Status GrpcVfodClient::markDetached(const std::string& port_id) {
  grpc::ClientContext ctx;
  if (!impl_->deadline(ctx)) return impl_->budgetSpent("DetachPort");
  v1::DetachPortRequest req;
  req.set_port_id(port_id);
  v1::Port resp;
  return impl_->fromGrpc("DetachPort", impl_->stub->DetachPort(&ctx, req, &resp));
}

}  // namespace vfo::hooks
