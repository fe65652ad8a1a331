#include "vfo/hooks/grpc_port_control.h"

#include <grpcpp/grpcpp.h>

#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::hooks {

struct GrpcPortControl::Impl {
  explicit Impl(GrpcVfodClientOptions o)
      : options(std::move(o)),
        stub(v1::Vfo::NewStub(
            grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials()))) {}
  GrpcVfodClientOptions options;
  std::unique_ptr<v1::Vfo::Stub> stub;
};

GrpcPortControl::GrpcPortControl(GrpcVfodClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

GrpcPortControl::~GrpcPortControl() = default;

StatusOr<std::vector<HookPortSpec>> GrpcPortControl::listPorts() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + impl_->options.call_timeout);
  v1::ListPortsRequest req;
  v1::ListPortsResponse resp;
  grpc::Status st = impl_->stub->ListPorts(&ctx, req, &resp);
  if (!st.ok())
    return Status(static_cast<StatusCode>(st.error_code()),
                  "ListPorts at " + impl_->options.target + ": " + st.error_message());
  std::vector<HookPortSpec> out;
  for (const auto& p : resp.ports()) {
    const v1::PortSpec& s = p.spec();
    HookPortSpec h;
    h.port_id = s.port_id();
    h.socket_path = s.socket_path();
    h.role = s.role() == v1::VHOST_ROLE_CLIENT ? VhostRole::kVfodClient : VhostRole::kVfodServer;
    if (auto m = MacAddress::parse(s.mac()); m.isOk()) h.mac = *m;
    for (const auto& a : s.allowed_macs())
      if (auto m = MacAddress::parse(a); m.isOk()) h.allowed_macs.push_back(*m);
    h.vlan = uint16_t(s.vlan());
    h.queues = s.queues() == 0 ? 1 : s.queues();
    h.lag_pin = s.pinned_member();
    h.domain_name = s.domain_name();
    h.domain_uuid = s.domain_uuid();
    h.incoming_migration = p.state() == v1::PORT_STATE_INCOMING;
    out.push_back(std::move(h));
  }
  return out;
}

Status GrpcPortControl::createPort(const HookPortSpec& spec) {
  GrpcVfodClient client(impl_->options);  // a fresh budget per action
  bool created = false;
  return client.createPort(spec, &created);
}

Status GrpcPortControl::deletePort(const std::string& port_id) {
  GrpcVfodClient client(impl_->options);
  return client.deletePort(port_id);
}

}  // namespace vfo::hooks
