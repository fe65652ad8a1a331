#include "vfo/api/server.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "vfo/api/convert.h"
#include "vfo/base/log.h"
#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::api {
namespace {

const Logger kLog("api");
constexpr size_t kEventBatch = 64;                    // events per read from the buffer
constexpr std::chrono::milliseconds kWatchPoll{100};  // cancellation/shutdown check period

grpc::Status toGrpc(const Status& s) {
  if (s.isOk()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

}  // namespace

// Returns the gRPC form of a failed vfo::Status from a handler.
#define VFO_GRPC_RETURN_IF_ERROR(expr)         \
  do {                                         \
    ::vfo::Status vfo_s_ = (expr);             \
    if (!vfo_s_.isOk()) return toGrpc(vfo_s_); \
  } while (0)

class ApiServer::Service final : public v1::Vfo::Service {
 public:
  Service(ApiBackend& backend, EventBuffer& events, StateStore& store,
          const ApiServerOptions& options)
      : backend_(backend), events_(events), store_(store), options_(options) {}

  void setListener(UnixSocketListener* l) { listener_ = l; }
  void beginShutdown() { stopping_ = true; }

  // ---- called by ApiServer ----

  std::vector<std::string> restore(const DesiredState& state, const std::string& load_problem) {
    std::lock_guard lock(mu_);
    std::vector<std::string> failures;
    if (!load_problem.empty()) startup_problems_.push_back(load_problem);
    registry_.replace(state);
    if (state.lag) {
      auto r = backend_.updateLag(*state.lag);
      if (!r) failures.push_back("LAG settings not restored: " + r.status().toString());
    }
    if (!state.forced_active_member.empty()) {
      auto r = backend_.setActiveMember(state.forced_active_member);
      if (!r)
        failures.push_back(fmt::format("active member {} not restored: {}",
                                       state.forced_active_member, r.status().toString()));
    }
    for (const PortSpec& spec : state.ports) {
      auto r = backend_.createPort(spec);
      if (!r) {
        registry_.markUnrestored(spec.port_id, r.status().toString());
        failures.push_back(
            fmt::format("port {} not restored: {}", spec.port_id, r.status().toString()));
        continue;
      }
      auto learned = state.learned.find(spec.port_id);
      if (learned != state.learned.end()) {
        Status s = backend_.restoreLearned(spec.port_id, learned->second);
        if (!s)
          failures.push_back(fmt::format("port {} learned addresses not restored: {}", spec.port_id,
                                         s.toString()));
      }
    }
    for (const auto& f : failures) {
      kLog.error("", "restore: {}", f);
      startup_problems_.push_back(f);
    }
    kLog.info("", "restored {} of {} port(s) from the desired state",
              state.ports.size() - registry_.unrestored().size(), state.ports.size());
    return failures;
  }

  Status recordLearned(const std::string& port_id, std::vector<LearnedAddress> addresses) {
    std::lock_guard lock(mu_);
    if (!registry_.find(port_id)) return notFound(fmt::format("port {} does not exist", port_id));
    DesiredState next = registry_.state();
    auto& slot = next.learned[port_id];
    if (slot == addresses) return okStatus();
    slot = std::move(addresses);
    if (slot.empty()) next.learned.erase(port_id);
    VFO_RETURN_IF_ERROR(persist(next));
    registry_.replace(std::move(next));
    return okStatus();
  }

  DesiredState desiredState() const {
    std::lock_guard lock(mu_);
    return registry_.state();
  }

  // ---- vfo.v1.Vfo ----

  grpc::Status CreatePort(grpc::ServerContext* ctx, const v1::CreatePortRequest* req,
                          v1::Port* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    if (!req->has_spec()) return toGrpc(invalidArgument("spec: required"));
    auto spec = portSpecFromProto(req->spec(), options_.port_socket_dir, "spec");
    if (!spec) return toGrpc(spec.status());
    std::lock_guard lock(mu_);
    auto admission = registry_.admit(*spec);
    if (!admission) return toGrpc(admission.status());
    if (*admission == PortRegistry::Admission::kAlreadyPresent) {
      auto port = backend_.getPort(spec->port_id);
      if (!port) return toGrpc(port.status());
      toProto(*port, resp);
      return grpc::Status::OK;
    }
    VFO_GRPC_RETURN_IF_ERROR(backend_.checkPort(*spec));
    const DesiredState before = registry_.state();
    PortRegistry next = registry_;
    next.put(*spec);
    VFO_GRPC_RETURN_IF_ERROR(persist(next.state()));
    auto port = backend_.createPort(*spec);
    if (!port) {
      revert(before);
      return toGrpc(port.status());
    }
    next.clearUnrestored(spec->port_id);
    registry_ = std::move(next);
    kLog.info(entity(spec->port_id), "created (uid {})", callerUid(ctx));
    toProto(*port, resp);
    return grpc::Status::OK;
  }

  grpc::Status DeletePort(grpc::ServerContext* ctx, const v1::DeletePortRequest* req,
                          v1::DeletePortResponse*) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    VFO_GRPC_RETURN_IF_ERROR(validatePortId(req->port_id()));
    std::lock_guard lock(mu_);
    if (!registry_.find(req->port_id())) return toGrpc(notInRegistry(req->port_id()));
    const bool in_backend = !registry_.unrestored().contains(req->port_id());
    const DesiredState before = registry_.state();
    PortRegistry next = registry_;
    next.erase(req->port_id());
    VFO_GRPC_RETURN_IF_ERROR(persist(next.state()));
    if (in_backend) {
      Status s = backend_.deletePort(req->port_id());
      if (!s && s.code() != StatusCode::kNotFound) {  // NOT_FOUND: already gone, keep it deleted
        revert(before);
        return toGrpc(s);
      }
    }
    registry_ = std::move(next);
    kLog.info(entity(req->port_id()), "deleted (uid {})", callerUid(ctx));
    return grpc::Status::OK;
  }

  grpc::Status GetPort(grpc::ServerContext* ctx, const v1::GetPortRequest* req,
                       v1::Port* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    VFO_GRPC_RETURN_IF_ERROR(validatePortId(req->port_id()));
    {
      // Ports vfod created from its config file are not in the registry:
      // the backend answers for every port.
      std::lock_guard lock(mu_);
      auto it = registry_.unrestored().find(req->port_id());
      if (it != registry_.unrestored().end())
        return toGrpc(failedPrecondition(fmt::format(
            "port {} could not be restored at start ({}); CreatePort with the same spec retries, "
            "DeletePort drops it",
            req->port_id(), it->second)));
    }
    auto port = backend_.getPort(req->port_id());
    if (!port) return toGrpc(port.status());
    toProto(*port, resp);
    return grpc::Status::OK;
  }

  grpc::Status ListPorts(grpc::ServerContext* ctx, const v1::ListPortsRequest*,
                         v1::ListPortsResponse* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    auto ports = backend_.listPorts();
    if (!ports) return toGrpc(ports.status());
    std::sort(ports->begin(), ports->end(),
              [](const PortInfo& a, const PortInfo& b) { return a.spec.port_id < b.spec.port_id; });
    for (const auto& p : *ports) toProto(p, resp->add_ports());
    return grpc::Status::OK;
  }

  grpc::Status UpdatePort(grpc::ServerContext* ctx, const v1::UpdatePortRequest* req,
                          v1::Port* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    VFO_GRPC_RETURN_IF_ERROR(validatePortId(req->port_id()));
    std::lock_guard lock(mu_);
    const PortSpec* current = registry_.find(req->port_id());
    if (!current) return toGrpc(notInRegistry(req->port_id()));
    if (registry_.unrestored().contains(req->port_id()))
      return toGrpc(failedPrecondition(fmt::format(
          "port {} could not be restored at start; recreate it first", req->port_id())));
    auto update = applyPortUpdate(*req, *current);
    if (!update) return toGrpc(update.status());
    if (update->updated == *current) {  // nothing to change
      auto port = backend_.getPort(req->port_id());
      if (!port) return toGrpc(port.status());
      toProto(*port, resp);
      return grpc::Status::OK;
    }
    VFO_GRPC_RETURN_IF_ERROR(backend_.checkPort(update->updated));
    const DesiredState before = registry_.state();
    PortRegistry next = registry_;
    next.put(update->updated);
    VFO_GRPC_RETURN_IF_ERROR(persist(next.state()));
    auto port = backend_.updatePort(update->updated, update->changed);
    if (!port) {
      revert(before);
      return toGrpc(port.status());
    }
    registry_ = std::move(next);
    kLog.info(entity(req->port_id()), "updated (uid {})", callerUid(ctx));
    toProto(*port, resp);
    return grpc::Status::OK;
  }

  grpc::Status DetachPort(grpc::ServerContext* ctx, const v1::DetachPortRequest* req,
                          v1::Port* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    VFO_GRPC_RETURN_IF_ERROR(validatePortId(req->port_id()));
    std::lock_guard lock(mu_);
    if (!registry_.find(req->port_id())) return toGrpc(notInRegistry(req->port_id()));
    if (registry_.unrestored().contains(req->port_id()))
      return toGrpc(failedPrecondition(fmt::format(
          "port {} could not be restored at start; there is no guest to detach", req->port_id())));
    // Runtime state only: the desired state does not change, nothing is written.
    VFO_GRPC_RETURN_IF_ERROR(backend_.detachPort(req->port_id()));
    auto port = backend_.getPort(req->port_id());
    if (!port) return toGrpc(port.status());
    kLog.info(entity(req->port_id()), "detached (uid {})", callerUid(ctx));
    toProto(*port, resp);
    return grpc::Status::OK;
  }

  grpc::Status GetLag(grpc::ServerContext* ctx, const v1::GetLagRequest*, v1::Lag* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    auto lag = backend_.getLag();
    if (!lag) return toGrpc(lag.status());
    toProto(*lag, resp);
    return grpc::Status::OK;
  }

  grpc::Status UpdateLag(grpc::ServerContext* ctx, const v1::UpdateLagRequest* req,
                         v1::Lag* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    std::lock_guard lock(mu_);
    LagSettings current;
    if (registry_.state().lag) {
      current = *registry_.state().lag;
    } else {
      auto lag = backend_.getLag();
      if (!lag) return toGrpc(lag.status());
      current = lag->settings;
    }
    auto settings = applyLagUpdate(*req, current);
    if (!settings) return toGrpc(settings.status());
    VFO_GRPC_RETURN_IF_ERROR(backend_.checkLag(*settings));
    const DesiredState before = registry_.state();
    DesiredState next = before;
    next.lag = *settings;
    VFO_GRPC_RETURN_IF_ERROR(persist(next));
    auto lag = backend_.updateLag(*settings);
    if (!lag) {
      revert(before);
      return toGrpc(lag.status());
    }
    // A new primary / reselect / failback policy reselects the active member
    // and so ends the operator's SetActiveMember choice (as a link change
    // does). Keep what a restart restores equal to what runs now: the
    // member the reselection left active becomes the persisted one.
    if (!next.forced_active_member.empty() && lag->active_member != next.forced_active_member) {
      next.forced_active_member = lag->active_member;
      if (Status s = store_.save(next); !s)
        kLog.error("[lag]",
                   "cannot record the active member {} after the reselection: {}; a restart "
                   "makes {} active again",
                   lag->active_member, s.toString(), before.forced_active_member);
    }
    registry_.replace(std::move(next));
    kLog.info("[lag]", "settings updated (uid {})", callerUid(ctx));
    toProto(*lag, resp);
    return grpc::Status::OK;
  }

  grpc::Status SetActiveMember(grpc::ServerContext* ctx, const v1::SetActiveMemberRequest* req,
                               v1::Lag* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    if (req->member().empty())
      return toGrpc(invalidArgument("member: required (a LAG member name)"));
    if (req->member().size() > 64)
      return toGrpc(invalidArgument("member: longer than 64 characters"));
    std::lock_guard lock(mu_);
    VFO_GRPC_RETURN_IF_ERROR(backend_.checkActiveMember(req->member()));
    const DesiredState before = registry_.state();
    DesiredState next = before;
    next.forced_active_member = req->member();
    VFO_GRPC_RETURN_IF_ERROR(persist(next));
    auto lag = backend_.setActiveMember(req->member());
    if (!lag) {
      revert(before);
      return toGrpc(lag.status());
    }
    registry_.replace(std::move(next));
    kLog.info("[lag]", "operator made {} active (uid {})", req->member(), callerUid(ctx));
    toProto(*lag, resp);
    return grpc::Status::OK;
  }

  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                        v1::Stats* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    if (!req->port_id().empty()) VFO_GRPC_RETURN_IF_ERROR(validatePortId(req->port_id()));
    auto stats = backend_.getStats(req->port_id());
    if (!stats) return toGrpc(stats.status());
    std::sort(stats->ports.begin(), stats->ports.end(),
              [](const PortStatsInfo& a, const PortStatsInfo& b) { return a.port_id < b.port_id; });
    toProto(*stats, resp);
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::Event>* writer) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    auto start = events_.startAfter(req->resume_token(), req->from_oldest());
    if (!start) return toGrpc(start.status());
    uint64_t after = *start;
    for (;;) {
      auto batch = events_.readAfter(after, kEventBatch);
      if (!batch) return toGrpc(batch.status());
      for (const Event& e : *batch) {
        v1::Event out;
        toProto(e, events_.epoch(), &out);
        if (!writer->Write(out))
          return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
        after = e.seq;
      }
      if (!batch->empty()) continue;
      if (req->no_follow()) return grpc::Status::OK;
      while (!events_.waitNewer(after, kWatchPoll)) {
        if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
        if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "vfod is shutting down");
      }
      if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "vfod is shutting down");
    }
  }

  grpc::Status GetVersion(grpc::ServerContext* ctx, const v1::GetVersionRequest*,
                          v1::Version* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    VersionInfo v = backend_.version();
    resp->set_version(v.version);
    resp->set_api("vfo.v1");
    resp->set_dpdk_version(v.dpdk_version);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext* ctx, const v1::HealthRequest*,
                      v1::HealthResponse* resp) override {
    VFO_GRPC_RETURN_IF_ERROR(authorize(ctx));
    HealthInfo h = backend_.health();
    {
      std::lock_guard lock(mu_);
      for (const auto& p : startup_problems_) h.problems.push_back(p);
      for (const auto& [id, why] : registry_.unrestored())
        h.problems.push_back(fmt::format("port {} is not running: restore failed: {}", id, why));
    }
    toProto(h, resp);
    return grpc::Status::OK;
  }

 private:
  Status authorize(grpc::ServerContext* ctx) const {
    if (!listener_) return unavailable("the API is not serving");
    auto cred = listener_->credentials(ctx->peer());
    if (!cred)
      return permissionDenied(
          fmt::format("cannot identify the caller (peer '{}'); only local "
                      "Unix-socket callers are served",
                      ctx->peer()));
    return options_.access.check(*cred);
  }

  uid_t callerUid(grpc::ServerContext* ctx) const {
    auto cred = listener_->credentials(ctx->peer());
    return cred ? cred->uid : uid_t(-1);
  }

  // Why a port the API did not create cannot be changed: NOT_FOUND, or
  // FAILED_PRECONDITION for a port vfod created from its config file.
  Status notInRegistry(const std::string& port_id) {
    if (backend_.getPort(port_id).isOk())
      return failedPrecondition(
          fmt::format("port {} comes from vfod's config file, not from the "
                      "API; change or remove it in the config",
                      port_id));
    return notFound(fmt::format("port {} does not exist", port_id));
  }

  static std::string entity(const std::string& port_id) {
    return fmt::format("[port {}]", port_id);
  }

  // Caller holds mu_.
  Status persist(const DesiredState& state) {
    Status s = store_.save(state);
    if (!s) {
      kLog.error("", "cannot write the desired state: {}", s.toString());
      // Whatever the errno class, for the caller this is vfod being unable to
      // serve the change right now: UNAVAILABLE, retry once the disk is fixed.
      return unavailable(
          fmt::format("cannot persist the desired state, nothing was changed: {}", s.toString()));
    }
    return s;
  }

  // Caller holds mu_. The backend refused: put the previous desired state back.
  void revert(const DesiredState& before) {
    Status s = store_.save(before);
    if (!s)
      kLog.error("",
                 "cannot restore the previous desired state after a failed call: {}; the "
                 "file now holds a request that failed",
                 s.toString());
  }

  ApiBackend& backend_;
  EventBuffer& events_;
  StateStore& store_;
  const ApiServerOptions& options_;
  UnixSocketListener* listener_ = nullptr;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;                      // serializes mutations; guards the fields below
  PortRegistry registry_;                      // accepted desired state
  std::vector<std::string> startup_problems_;  // from load and restore
};

ApiServer::ApiServer(ApiBackend& backend, EventBuffer& events, StateStore& store,
                     ApiServerOptions options)
    : backend_(backend),
      events_(events),
      store_(store),
      options_(std::move(options)),
      service_(std::make_unique<Service>(backend_, events_, store_, options_)) {}

ApiServer::~ApiServer() {
  stop();
}

std::vector<std::string> ApiServer::restore(const DesiredState& state,
                                            const std::string& load_problem) {
  return service_->restore(state, load_problem);
}

Status ApiServer::start() {
  VFO_ASSIGN_OR_RETURN(socket_path_, unixSocketPath(options_.listen));
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  grpc::ResourceQuota quota("vfo-api");
  quota.SetMaxThreads(int(std::max<uint32_t>(options_.grpc_threads, 2)));
  builder.SetResourceQuota(quota);
  server_ = builder.BuildAndStart();
  if (!server_) return internalError("gRPC server did not start");
  listener_ = std::make_unique<UnixSocketListener>(
      UnixSocketListener::Options{socket_path_, options_.socket_mode, options_.socket_group});
  service_->setListener(listener_.get());
  Status s = listener_->start(server_.get());
  if (!s) {
    server_->Shutdown();
    server_.reset();
    listener_.reset();
    return s;
  }
  kLog.info("", "serving vfo.v1 on {}", options_.listen);
  return okStatus();
}

void ApiServer::stop() {
  if (!server_) return;
  if (listener_) listener_->stop();
  service_->beginShutdown();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
  listener_.reset();
  service_->setListener(nullptr);
}

Status ApiServer::recordLearned(const std::string& port_id, std::vector<LearnedAddress> addresses) {
  return service_->recordLearned(port_id, std::move(addresses));
}

DesiredState ApiServer::desiredState() const {
  return service_->desiredState();
}

}  // namespace vfo::api
