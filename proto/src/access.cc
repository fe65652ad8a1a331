#include "vfo/api/access.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "vfo/base/log.h"

namespace vfo::api {
namespace {

const Logger kLog("api");

}  // namespace

StatusOr<PeerCredentials> peerCredentials(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
    return errnoStatus(errno, "getsockopt(SO_PEERCRED)");
  PeerCredentials p{cred.pid, cred.uid, cred.gid, {}};
  std::vector<gid_t> groups(64);
  socklen_t glen = socklen_t(groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0 && errno == ERANGE) {
    groups.resize(glen / sizeof(gid_t));
    glen = socklen_t(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) != 0) glen = 0;
  }
  groups.resize(glen / sizeof(gid_t));
  p.groups = std::move(groups);
  return p;
}

Status AccessPolicy::check(const PeerCredentials& peer) const {
  auto has = [](const auto& v, auto x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  if (has(allowed_uids, peer.uid) || has(allowed_gids, peer.gid)) return okStatus();
  for (gid_t g : peer.groups)
    if (has(allowed_gids, g)) return okStatus();
  return permissionDenied(fmt::format(
      "caller uid {} gid {} (pid {}) may not use the vfo API: allowed uids [{}], gids [{}]; run as "
      "an allowed user or ask the operator to add your uid or group to the API access lists",
      peer.uid, peer.gid, peer.pid, fmt::join(allowed_uids, ","), fmt::join(allowed_gids, ",")));
}

StatusOr<std::string> unixSocketPath(std::string_view target) {
  std::string_view path;
  if (target.starts_with("unix://"))
    path = target.substr(7);
  else if (target.starts_with("unix:"))
    path = target.substr(5);
  else
    return invalidArgument(
        fmt::format("socket: '{}' is not a unix: target (want unix:///path)", target));
  if (path.empty() || path.front() != '/')
    return invalidArgument(
        fmt::format("socket: '{}' needs an absolute path (unix:///path)", target));
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return invalidArgument(
        fmt::format("socket: '{}' is longer than a Unix socket path may be ({} bytes)", path,
                    sizeof(sockaddr_un::sun_path) - 1));
  return std::string(path);
}

UnixSocketListener::~UnixSocketListener() {
  stop();
}

StatusOr<int> bindUnixSocket(const std::string& path, uint32_t mode, std::optional<gid_t> group,
                             std::string_view what) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return invalidArgument(fmt::format("{}: path too long: {}", what, path));
  std::copy(path.begin(), path.end(), addr.sun_path);

  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return failedPrecondition(
          fmt::format("{}: {} exists and is not a socket; remove it", what, path));
    // A socket file: is anybody listening on it?
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return errnoStatus(errno, "socket()");
    const bool live = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(probe);
    if (live)
      return failedPrecondition(fmt::format(
          "{}: {} is in use: another process listens on it (another vfod?)", what, path));
    if (unlink(path.c_str()) != 0) return errnoStatus(errno, "unlink stale socket " + path);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return errnoStatus(errno, "socket()");
  // Bind with a restrictive umask so the socket is never briefly wider than
  // the configured mode.
  const mode_t old_umask = umask(0777);
  const int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  umask(old_umask);
  if (rc != 0) {
    close(fd);
    return errnoStatus(bind_errno, fmt::format("{}: bind {}", what, path));
  }
  auto fail = [&](int err, std::string how) {
    close(fd);
    unlink(path.c_str());
    return errnoStatus(err, fmt::format("{}: {}", what, how));
  };
  if (group && chown(path.c_str(), uid_t(-1), *group) != 0)
    return fail(errno, fmt::format("chgrp {} {}", *group, path));
  if (chmod(path.c_str(), mode) != 0) return fail(errno, fmt::format("chmod {:o} {}", mode, path));
  return fd;
}

Status UnixSocketListener::start(grpc::Server* server) {
  server_ = server;
  const std::string& path = options_.path;
  VFO_ASSIGN_OR_RETURN(const int fd, bindUnixSocket(path, options_.mode, options_.group, "socket"));
  auto fail = [&](int err, std::string what) {
    close(fd);
    unlink(path.c_str());
    return errnoStatus(err, what);
  };
  if (listen(fd, 64) != 0) return fail(errno, "listen " + path);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return fail(errno, "eventfd");
  listen_fd_ = fd;
  thread_ = std::thread([this] { acceptLoop(); });
  return okStatus();
}

void UnixSocketListener::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(options_.path.c_str());
  }
  if (wake_fd_ >= 0) {
    close(wake_fd_);
    wake_fd_ = -1;
  }
}

void UnixSocketListener::acceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      kLog.error("", "poll on {}: {}", options_.path, strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EINTR || err == ECONNABORTED) continue;
      kLog.warn("", "accept on {}: {}", options_.path, strerror(err));
      // Out of fds or memory: back off instead of spinning on a ready socket.
      pollfd wake = {wake_fd_, POLLIN, 0};
      if (poll(&wake, 1, 100) > 0) return;
      continue;
    }
    auto cred = peerCredentials(conn);
    if (!cred) {
      kLog.warn("", "{}: dropping a connection: {}", options_.path, cred.status().toString());
      close(conn);
      continue;
    }
    {
      std::lock_guard lock(mu_);
      peers_[conn] = std::move(*cred);
    }
    // gRPC owns the fd from here and names the connection "fd:<conn>".
    grpc::AddInsecureChannelFromFd(server_, conn);
  }
}

std::optional<PeerCredentials> UnixSocketListener::credentials(std::string_view peer) const {
  if (!peer.starts_with("fd:")) return std::nullopt;
  int fd = -1;
  const char* end = peer.data() + peer.size();
  auto r = std::from_chars(peer.data() + 3, end, fd);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

}  // namespace vfo::api
