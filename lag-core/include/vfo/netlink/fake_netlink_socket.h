// Scripted NetlinkSocket for tests: the test plays the kernel.
//
//   FakeNetlinkSocket sock(clock);
//   sock.setDumpReply(RTM_GETLINK, {msgA, msgB});     // answer to any GETLINK dump
//   sock.failNext(RTM_SETLINK, EBUSY);                // next SETLINK gets -EBUSY
//   sock.pushDatagram(notification);                  // unsolicited RTM_NEWLINK
//   sock.pushOverrun();                               // next receive(): ENOBUFS
//
// Replies to send() are queued as datagrams in order behind anything already
// queued, with nlmsg_seq / nlmsg_pid set like the kernel's. transact() answers
// synchronously from the same scripts. fd() is an eventfd that is readable
// while the queue is non-empty, so the fake works under poll()/epoll.
// Thread-safe: a test thread may push while a monitor thread receives.
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "vfo/netlink/netlink_socket.h"

namespace vfo::netlink {

class FakeNetlinkSocket final : public NetlinkSocket {
 public:
  static constexpr uint32_t kPortId = 4242;  // our port id as the kernel would assign

  explicit FakeNetlinkSocket(const Clock& clock);
  ~FakeNetlinkSocket() override;

  // ---- script --------------------------------------------------------------
  // Queues one datagram exactly as given.
  void pushDatagram(Bytes datagram);
  // Queues one datagram made of these messages back to back.
  void pushMessages(const std::vector<Bytes>& messages);
  // The next receive() (in queue order) reports ENOBUFS.
  void pushOverrun();
  // Answer for NLM_F_DUMP requests of `request_type`: the messages (seq, pid
  // and NLM_F_MULTI patched in), `per_datagram` per datagram, then NLMSG_DONE.
  void setDumpReply(uint16_t request_type, std::vector<Bytes> messages, size_t per_datagram = 1);
  // Answer for non-dump requests of `request_type` (before the ACK).
  void setReply(uint16_t request_type, std::vector<Bytes> messages);
  // The next request of `request_type` gets NLMSG_ERROR with -err (e.g.
  // EBUSY for "RTM_SETLINK returns EBUSY"); one-shot, stackable.
  void failNext(uint16_t request_type, int err);
  // Computes the answer to requests of `request_type`, for fakes that keep
  // state (a table the requests change): fills `replies` (dumps get seq,
  // pid, NLM_F_MULTI and NLMSG_DONE added; other requests their ACK) and
  // returns 0, or returns an errno for an NLMSG_ERROR. Takes precedence
  // over setReply/setDumpReply; failNext still comes first. Runs with the
  // fake's lock held: it must not call the fake.
  using Handler = std::function<int(const Message& request, std::vector<Bytes>* replies)>;
  void setHandler(uint16_t request_type, Handler handler);
  // The next `count` send() calls fail locally with errno `err`.
  void failSends(int err, int count = 1);
  // Called on every send()/transact() before the scripted reply is queued,
  // so a test can queue notifications that race with a dump.
  void onSend(std::function<void(const Message&)> hook);

  // ---- inspect -------------------------------------------------------------
  std::vector<Bytes> sent() const;       // every request, seq patched in
  std::vector<uint32_t> groups() const;  // subscribe() calls in order
  size_t pending() const;                // queued datagrams / overruns

  // ---- NetlinkSocket -------------------------------------------------------
  int fd() const override { return event_fd_; }
  uint32_t portId() const override { return kPortId; }
  Status subscribe(uint32_t group) override;
  StatusOr<uint32_t> send(Bytes message) override;
  StatusOr<Received> receive() override;
  Status transact(Bytes request, const ReplyFn& on_reply, Duration timeout) override;

 private:
  struct Entry {
    bool overrun = false;  // ENOBUFS marker
    Bytes bytes;           // the datagram otherwise
  };
  // Replies the "kernel" would queue for a request (under mu_).
  std::vector<Bytes> answerLocked(const Message& request, bool* failed);
  void pushLocked(Entry e);

  const Clock& clock_;
  int event_fd_ = -1;
  mutable std::mutex mu_;
  std::deque<Entry> queue_;
  std::vector<Bytes> sent_;
  std::vector<uint32_t> groups_;
  std::map<uint16_t, std::pair<std::vector<Bytes>, size_t>> dump_replies_;
  std::map<uint16_t, std::vector<Bytes>> replies_;
  std::map<uint16_t, Handler> handlers_;
  std::map<uint16_t, std::deque<int>> failures_;
  std::function<void(const Message&)> send_hook_;
  int send_errno_ = 0;
  int send_failures_ = 0;
  uint32_t next_seq_ = 1;
};

}  // namespace vfo::netlink
