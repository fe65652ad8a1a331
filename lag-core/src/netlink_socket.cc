#include "vfo/netlink/netlink_socket.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace vfo::netlink {

namespace {

// Large enough for any dump chunk the kernel builds (it sizes chunks from the
// reader's buffer, up to 32 KiB) and any notification.
constexpr size_t kReceiveBufferBytes = 64 * 1024;

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

StatusOr<int> openHere(const NetlinkSocketOptions& o) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, o.protocol);
  if (fd < 0) return errnoStatus(errno, "netlink socket()");
  if (o.rcvbuf_bytes > 0) {
    // SO_RCVBUFFORCE goes past net.core.rmem_max but needs CAP_NET_ADMIN;
    // fall back to the capped SO_RCVBUF.
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &o.rcvbuf_bytes, sizeof(int)) != 0 &&
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf_bytes, sizeof(int)) != 0) {
      int e = errno;
      ::close(fd);
      return errnoStatus(e, fmt::format("netlink SO_RCVBUF {}", o.rcvbuf_bytes));
    }
  }
  int one = 1;
  // Both are optional refinements (extended error text, short ACKs).
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int e = errno;
    ::close(fd);
    return errnoStatus(e, "netlink bind()");
  }
  return fd;
}

// setns() changes the calling thread only: do it in a short-lived thread so
// the caller's namespace is untouched, and keep the socket it opened.
StatusOr<int> openIn(const NetlinkSocketOptions& o) {
  if (o.netns_path.empty()) return openHere(o);
  StatusOr<int> result = internalError("netns thread did not run");
  std::thread t([&] {
    int ns = ::open(o.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      result = errnoStatus(errno, fmt::format("open netns '{}'", o.netns_path));
      return;
    }
    if (::setns(ns, CLONE_NEWNET) != 0) {
      result = errnoStatus(errno, fmt::format("setns '{}'", o.netns_path));
      ::close(ns);
      return;
    }
    ::close(ns);
    result = openHere(o);
  });
  t.join();
  return result;
}

}  // namespace

StatusOr<std::unique_ptr<RtNetlinkSocket>> RtNetlinkSocket::open(const NetlinkSocketOptions& o,
                                                                 const Clock& clock) {
  VFO_ASSIGN_OR_RETURN(int fd, openIn(o));
  sockaddr_nl sa{};
  socklen_t len = sizeof(sa);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    int e = errno;
    ::close(fd);
    return errnoStatus(e, "netlink getsockname()");
  }
  std::unique_ptr<RtNetlinkSocket> s(new RtNetlinkSocket(fd, sa.nl_pid, clock));
  s->buf_.resize(kReceiveBufferBytes);
  return s;
}

RtNetlinkSocket::~RtNetlinkSocket() {
  if (fd_ >= 0) ::close(fd_);
}

int RtNetlinkSocket::rcvbufBytes() const {
  int v = 0;
  socklen_t len = sizeof(v);
  if (::getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &v, &len) != 0) return -1;
  return v;
}

Status RtNetlinkSocket::subscribe(uint32_t group) {
  if (::setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) {
    return errnoStatus(errno, fmt::format("netlink join group {}", group));
  }
  subscribed_ = true;
  return okStatus();
}

StatusOr<uint32_t> RtNetlinkSocket::send(Bytes message) {
  if (message.size() < kNlmsgHeaderSize) {
    return invalidArgument(
        fmt::format("netlink send: {} bytes cannot hold a message header", message.size()));
  }
  uint32_t seq = next_seq_++;
  if (next_seq_ == 0) next_seq_ = 1;
  patchHeader(message, seq, 0);
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = ::sendto(fd_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&to),
                         sizeof(to));
    if (n >= 0) break;
    if (errno == EINTR) continue;
    uint16_t type = 0;
    std::memcpy(&type, message.data() + 4, 2);
    return errnoStatus(errno, fmt::format("netlink send {}", messageTypeName(type)));
  }
  return seq;
}

StatusOr<Received> RtNetlinkSocket::receive() {
  Received r;
  for (;;) {
    sockaddr_nl from{};
    iovec iov{buf_.data(), buf_.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_, &mh, 0);
    r.received_at = clock_.now();
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        r.kind = ReceiveKind::kWouldBlock;
        return r;
      }
      if (errno == ENOBUFS) {
        r.kind = ReceiveKind::kOverrun;
        return r;
      }
      return errnoStatus(errno, "netlink recvmsg");
    }
    if (mh.msg_flags & MSG_TRUNC) {
      return internalError(
          fmt::format("netlink recvmsg: datagram larger than the {}-byte buffer", buf_.size()));
    }
    if (from.nl_pid != 0) continue;  // only the kernel talks to us
    r.kind = ReceiveKind::kDatagram;
    r.bytes.assign(buf_.begin(), buf_.begin() + n);
    return r;
  }
}

Status RtNetlinkSocket::transact(Bytes request, const ReplyFn& on_reply, Duration timeout) {
  if (subscribed_) {
    return failedPrecondition(
        "netlink transact: socket has multicast subscriptions; use a separate socket");
  }
  if (request.size() < kNlmsgHeaderSize) {
    return invalidArgument("netlink transact: request shorter than a message header");
  }
  uint16_t type = 0;
  std::memcpy(&type, request.data() + 4, 2);
  std::string what = messageTypeName(type);
  addFlags(request, NLM_F_ACK);
  uint16_t flags = 0;
  std::memcpy(&flags, request.data() + 6, 2);
  const bool dump = (flags & NLM_F_DUMP) == NLM_F_DUMP;
  VFO_ASSIGN_OR_RETURN(uint32_t seq, send(std::move(request)));
  const TimePoint deadline = clock_.now() + timeout;
  Status result;  // first error from on_reply, reported after the drain
  for (;;) {
    VFO_ASSIGN_OR_RETURN(Received r, receive());
    if (r.kind == ReceiveKind::kOverrun) {
      return unavailable(fmt::format("netlink {}: reply lost (receive buffer overrun)", what));
    }
    if (r.kind == ReceiveKind::kWouldBlock) {
      Duration left = deadline - clock_.now();
      if (left <= Duration::zero()) {
        return deadlineExceeded(
            fmt::format("netlink {}: no reply within {} ms", what,
                        std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
      }
      pollfd p{fd_, POLLIN, 0};
      int ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(left).count()) + 1;
      if (::poll(&p, 1, ms) < 0 && errno != EINTR) return errnoStatus(errno, "netlink poll");
      continue;
    }
    MessageReader mr(r.bytes);
    Message m;
    while (mr.next(&m)) {
      if (m.seq != seq || m.pid != port_id_) continue;  // stale reply of an earlier request
      if (m.type == NLMSG_ERROR) {
        Status s = statusFromError(m, fmt::format("netlink {}", what));
        return s.isOk() ? result : s;
      }
      if (m.type == NLMSG_DONE) {
        if (m.payload.size() >= 4) {
          int32_t err = 0;
          std::memcpy(&err, m.payload.data(), 4);
          if (err < 0) return errnoStatus(-err, fmt::format("netlink {} dump", what));
        }
        if (dump) return result;
        continue;
      }
      if (result.isOk() && on_reply) result = on_reply(m);
    }
    if (!mr.status().isOk()) return mr.status().withContext(fmt::format("netlink {} reply", what));
  }
}

}  // namespace vfo::netlink
