// ApiServer: the vfo.v1.Vfo gRPC service over a Unix socket.
//
// Every call: the caller's credentials are checked (access.h), the request
// is validated and translated (convert.h), mutating calls are serialized,
// checked for idempotency (PortRegistry), written to the StateStore BEFORE
// the backend is asked to change anything, and the backend called once. If
// the backend fails, the previous desired state is written back: a failed
// call changes nothing, on disk or in vfod. Status codes pass to gRPC 1:1.
//
// Life cycle (vfod's control thread):
//   StateStore store(dir); auto loaded = store.load();
//   ApiServer api(backend, events, store, options);
//   api.restore(loaded->state, loaded->problem);  // recreates ports via the backend
//   api.start();  ...  api.stop();                // before the backend goes away
//
// Threads: gRPC server threads call the backend concurrently for read-only
// calls; mutating backend calls never overlap. recordLearned() may be called
// from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vfo/api/access.h"
#include "vfo/api/backend.h"
#include "vfo/api/event_buffer.h"
#include "vfo/api/port_registry.h"
#include "vfo/api/state_store.h"

namespace grpc {
class Server;
}

namespace vfo::api {

inline constexpr std::string_view kDefaultApiSocket = "unix:///run/vfo/vfo.sock";

struct ApiServerOptions {
  std::string listen{kDefaultApiSocket};             // unix:// target of the API socket
  uint32_t socket_mode = 0660;                       // permission bits of the API socket
  std::optional<gid_t> socket_group;                 // its group; none = vfod's group
  AccessPolicy access;                               // allowed uids/gids (default root)
  std::string port_socket_dir = "/run/vfo/sockets";  // vhost-user sockets must lie directly in it
  uint32_t grpc_threads = 16;  // max gRPC server threads (each WatchEvents holds one)
};

class ApiServer {
 public:
  ApiServer(ApiBackend& backend, EventBuffer& events, StateStore& store, ApiServerOptions options);
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Recreates the desired state through the backend: LAG settings, the
  // operator pin, every port (createPort), learned addresses
  // (restoreLearned). A port that fails stays in the desired state, is
  // listed by Health, and a CreatePort with the same spec retries it.
  // `load_problem` (StateStore::Loaded::problem) is listed by Health too.
  // Call before start(). Returns the one-line failures.
  std::vector<std::string> restore(const DesiredState& state, const std::string& load_problem = "");

  // Binds the socket and starts serving.
  Status start();
  // Stops serving: open WatchEvents streams end, in-flight calls get up to
  // 1 s, the socket file is removed. Idempotent.
  void stop();

  // Records the addresses learned on a port so a restart re-announces them;
  // written only when they changed. NOT_FOUND for an unknown port.
  Status recordLearned(const std::string& port_id, std::vector<LearnedAddress> addresses);

  // The desired state as accepted so far (copy; for tests and vfod --stats).
  DesiredState desiredState() const;

  const std::string& socketPath() const { return socket_path_; }

  class Service;  // the gRPC service implementation (server.cc)

 private:
  ApiBackend& backend_;
  EventBuffer& events_;
  StateStore& store_;
  ApiServerOptions options_;
  std::string socket_path_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<UnixSocketListener> listener_;
};

}  // namespace vfo::api
