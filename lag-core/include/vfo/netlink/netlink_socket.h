// A narrow netlink socket interface, its real AF_NETLINK implementation and
// (in fake_netlink_socket.h) a scripted fake.
//
// Two ways to use a socket:
//  * event stream: subscribe() to multicast groups, send() requests such as a
//    dump, and drain receive() whenever fd() is readable. Replies and
//    notifications arrive interleaved, in kernel order.
//  * request/response: transact() sends one request and blocks until its ACK,
//    error or end of dump. Only on a socket without subscriptions (so that no
//    notification can be mistaken for, or lost among, replies).
//
// Threads: a socket is used by one thread at a time (the owner's event loop);
// only fd() may be read from elsewhere. Errors: kernel errors in NLMSG_ERROR
// map through errnoStatus(); a receive-buffer overrun (ENOBUFS: the kernel
// dropped notifications) is not an error but ReceiveKind::kOverrun so the
// owner can resynchronise.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "vfo/base/clock.h"
#include "vfo/base/status.h"
#include "vfo/netlink/netlink_message.h"

namespace vfo::netlink {

enum class ReceiveKind {
  kDatagram,    // `bytes` holds one datagram (one or more messages)
  kWouldBlock,  // nothing queued now
  kOverrun,     // ENOBUFS: notifications were dropped; state must be re-read
};

struct Received {
  ReceiveKind kind = ReceiveKind::kWouldBlock;  // what happened
  Bytes bytes;                                  // the datagram for kDatagram, else empty
  TimePoint received_at;  // clock time right after recvmsg returned (monotonic)
};

// Called for every reply message of a transact() except the final ACK / DONE.
// A non-OK return aborts the transaction with that status (after the rest of
// the reply has been drained).
using ReplyFn = std::function<Status(const Message&)>;

class NetlinkSocket {
 public:
  virtual ~NetlinkSocket() = default;

  // Pollable descriptor, readable when receive() may return something.
  virtual int fd() const = 0;
  // Netlink port id the kernel assigned (nlmsg_pid of our replies).
  virtual uint32_t portId() const = 0;
  // Joins multicast group `group` (RTNLGRP_*, 1-based).
  virtual Status subscribe(uint32_t group) = 0;
  // Sends one request, overwriting nlmsg_seq with the next sequence number
  // and nlmsg_pid with 0; returns that sequence number.
  virtual StatusOr<uint32_t> send(Bytes message) = 0;
  // Non-blocking receive of one datagram.
  virtual StatusOr<Received> receive() = 0;
  // Sends `request` with NLM_F_ACK added and waits up to `timeout` for the
  // end of its reply: the ACK (OK), an NLMSG_ERROR (errnoStatus of the errno
  // with the kernel's extended-ACK text), or NLMSG_DONE for dumps.
  // DEADLINE_EXCEEDED on timeout; FAILED_PRECONDITION on a subscribed socket.
  virtual Status transact(Bytes request, const ReplyFn& on_reply, Duration timeout) = 0;
};

struct NetlinkSocketOptions {
  int protocol = 0;  // NETLINK_ROUTE (0)
  // SO_RCVBUF(FORCE) size in bytes; 0 keeps the kernel default. Large enough
  // that a burst of link notifications does not overrun (resync still covers
  // it when it does).
  int rcvbuf_bytes = 4 << 20;
  // Open the socket inside this network namespace (a path such as a
  // /run/netns entry); empty = the caller's namespace. The socket stays bound
  // to that namespace for its whole life.
  std::string netns_path;
};

// AF_NETLINK socket: SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_EXT_ACK
// and NETLINK_CAP_ACK enabled, port id assigned by the kernel.
class RtNetlinkSocket final : public NetlinkSocket {
 public:
  // Errors: errnoStatus of socket()/bind()/setns() (PERMISSION_DENIED without
  // CAP_NET_ADMIN for the namespace, NOT_FOUND for a missing netns path).
  static StatusOr<std::unique_ptr<RtNetlinkSocket>> open(
      const NetlinkSocketOptions& options = {}, const Clock& clock = MonotonicClock::instance());
  ~RtNetlinkSocket() override;
  RtNetlinkSocket(const RtNetlinkSocket&) = delete;
  RtNetlinkSocket& operator=(const RtNetlinkSocket&) = delete;

  int fd() const override { return fd_; }
  uint32_t portId() const override { return port_id_; }
  Status subscribe(uint32_t group) override;
  StatusOr<uint32_t> send(Bytes message) override;
  StatusOr<Received> receive() override;
  Status transact(Bytes request, const ReplyFn& on_reply, Duration timeout) override;

  // The receive buffer the kernel granted (getsockopt SO_RCVBUF).
  int rcvbufBytes() const;

 private:
  RtNetlinkSocket(int fd, uint32_t port_id, const Clock& clock)
      : fd_(fd), port_id_(port_id), clock_(clock) {}
  int fd_;
  uint32_t port_id_;
  const Clock& clock_;
  uint32_t next_seq_ = 1;
  bool subscribed_ = false;
  Bytes buf_;  // receive buffer, sized once
};

}  // namespace vfo::netlink
