// Access control for the ops API socket.
//
// gRPC C++ 1.51 does not expose a Unix-socket caller's credentials (the
// auth context of an insecure UDS connection carries only the peer
// address). So vfod listens on the socket itself: UnixSocketListener binds
// it (mode and group as configured), accepts every connection, reads the
// caller's SO_PEERCRED (pid, uid, gid) and SO_PEERGROUPS (supplementary
// groups) right after accept(), records them under the connection's fd, and
// hands the fd to the gRPC server (grpc::AddInsecureChannelFromFd). gRPC
// names such a connection's peer "fd:<n>", so each call looks its
// credentials up by that fd. gRPC closes the fd only when the transport is
// destroyed, which waits for every call on it, so while a handler runs its
// fd number cannot belong to another connection; a reused number gets its
// entry overwritten by the accept that reuses it, before gRPC sees the fd.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vfo/base/status.h"

namespace grpc {
class Server;
}

namespace vfo::api {

// Who is calling, as the kernel reports it at connect time.
struct PeerCredentials {
  pid_t pid = 0;              // caller's process
  uid_t uid = 0;              // effective uid
  gid_t gid = 0;              // effective gid
  std::vector<gid_t> groups;  // supplementary groups (SO_PEERGROUPS)
};

// Reads SO_PEERCRED and SO_PEERGROUPS of a connected Unix socket.
StatusOr<PeerCredentials> peerCredentials(int fd);

// Who may call. A caller is allowed when its uid is listed, or its gid or
// one of its supplementary groups is listed.
struct AccessPolicy {
  std::vector<uid_t> allowed_uids = {0};  // default: root only
  std::vector<gid_t> allowed_gids;        // default: none

  // PERMISSION_DENIED naming the caller and how to get access.
  Status check(const PeerCredentials& peer) const;
};

// "unix:///run/vfo/vfo.sock" or "unix:/path" -> "/run/vfo/vfo.sock".
// INVALID_ARGUMENT for other schemes, relative or too long paths.
StatusOr<std::string> unixSocketPath(std::string_view target);

// Binds a non-blocking Unix stream socket at `path` with permission bits
// `mode` (never briefly wider: bound under umask 0777) and group `group`,
// replacing a stale socket file nobody listens on. Does not listen().
// FAILED_PRECONDITION when another process listens on it or a non-socket
// file is in the way; INVALID_ARGUMENT for a path longer than sun_path.
// Messages start with `what` ("socket", "metrics_listen"). On error nothing
// is left behind.
StatusOr<int> bindUnixSocket(const std::string& path, uint32_t mode, std::optional<gid_t> group,
                             std::string_view what);

// Listens on a Unix socket and feeds accepted connections to a gRPC server.
// Threads: one accept thread between start() and stop(); credentials() may
// be called from any thread.
class UnixSocketListener {
 public:
  struct Options {
    std::string path;            // socket file
    uint32_t mode = 0660;        // permission bits of the socket file
    std::optional<gid_t> group;  // chgrp target; none = the process's group
  };

  explicit UnixSocketListener(Options options) : options_(std::move(options)) {}
  ~UnixSocketListener();  // stop()
  UnixSocketListener(const UnixSocketListener&) = delete;
  UnixSocketListener& operator=(const UnixSocketListener&) = delete;

  // Creates the socket (replacing a stale socket file nobody listens on;
  // FAILED_PRECONDITION when another process listens on it or a non-socket
  // file is in the way), sets mode and group, and starts accepting into
  // `server`, which must outlive stop().
  Status start(grpc::Server* server);
  // Stops accepting and removes the socket file. Idempotent.
  void stop();

  // Credentials of the connection gRPC names `peer` ("fd:<n>"); none for an
  // unknown peer (callers must then deny).
  std::optional<PeerCredentials> credentials(std::string_view peer) const;

  const std::string& path() const { return options_.path; }

 private:
  void acceptLoop();

  Options options_;
  grpc::Server* server_ = nullptr;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd that stops the accept loop
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, PeerCredentials> peers_;  // guarded by mu_; fd -> credentials
};

}  // namespace vfo::api
