#include <fmt/format.h>
#include <linux/netlink.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vfo/netlink/fake_netlink_socket.h"

namespace vfo::netlink {

FakeNetlinkSocket::FakeNetlinkSocket(const Clock& clock) : clock_(clock) {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

FakeNetlinkSocket::~FakeNetlinkSocket() {
  if (event_fd_ >= 0) ::close(event_fd_);
}

void FakeNetlinkSocket::pushLocked(Entry e) {
  queue_.push_back(std::move(e));
  uint64_t one = 1;
  (void)!::write(event_fd_, &one, sizeof(one));
}

void FakeNetlinkSocket::pushDatagram(Bytes datagram) {
  std::lock_guard<std::mutex> l(mu_);
  pushLocked(Entry{false, std::move(datagram)});
}

void FakeNetlinkSocket::pushMessages(const std::vector<Bytes>& messages) {
  Bytes d;
  for (const Bytes& m : messages) {
    d.insert(d.end(), m.begin(), m.end());
    d.resize(align4(d.size()), 0);
  }
  pushDatagram(std::move(d));
}

void FakeNetlinkSocket::pushOverrun() {
  std::lock_guard<std::mutex> l(mu_);
  pushLocked(Entry{true, {}});
}

void FakeNetlinkSocket::setDumpReply(uint16_t request_type, std::vector<Bytes> messages,
                                     size_t per_datagram) {
  std::lock_guard<std::mutex> l(mu_);
  dump_replies_[request_type] = {std::move(messages), per_datagram == 0 ? 1 : per_datagram};
}

void FakeNetlinkSocket::setReply(uint16_t request_type, std::vector<Bytes> messages) {
  std::lock_guard<std::mutex> l(mu_);
  replies_[request_type] = std::move(messages);
}

void FakeNetlinkSocket::setHandler(uint16_t request_type, Handler handler) {
  std::lock_guard<std::mutex> l(mu_);
  handlers_[request_type] = std::move(handler);
}

void FakeNetlinkSocket::failNext(uint16_t request_type, int err) {
  std::lock_guard<std::mutex> l(mu_);
  failures_[request_type].push_back(err);
}

void FakeNetlinkSocket::failSends(int err, int count) {
  std::lock_guard<std::mutex> l(mu_);
  send_errno_ = err;
  send_failures_ = count;
}

void FakeNetlinkSocket::onSend(std::function<void(const Message&)> hook) {
  std::lock_guard<std::mutex> l(mu_);
  send_hook_ = std::move(hook);
}

std::vector<Bytes> FakeNetlinkSocket::sent() const {
  std::lock_guard<std::mutex> l(mu_);
  return sent_;
}

std::vector<uint32_t> FakeNetlinkSocket::groups() const {
  std::lock_guard<std::mutex> l(mu_);
  return groups_;
}

size_t FakeNetlinkSocket::pending() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

Status FakeNetlinkSocket::subscribe(uint32_t group) {
  std::lock_guard<std::mutex> l(mu_);
  groups_.push_back(group);
  return okStatus();
}

std::vector<Bytes> FakeNetlinkSocket::answerLocked(const Message& req, bool* failed) {
  std::vector<Bytes> out;
  *failed = false;
  auto f = failures_.find(req.type);
  if (f != failures_.end() && !f->second.empty()) {
    int err = f->second.front();
    f->second.pop_front();
    out.push_back(buildError(req, err));
    *failed = true;
    return out;
  }
  const bool dump = (req.flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (auto h = handlers_.find(req.type); h != handlers_.end()) {
    std::vector<Bytes> replies;
    int err = h->second(req, &replies);
    if (err != 0) {
      out.push_back(buildError(req, err));
      *failed = true;
      return out;
    }
    for (Bytes& m : replies) {
      patchHeader(m, req.seq, kPortId);
      if (dump) addFlags(m, NLM_F_MULTI);
      out.push_back(std::move(m));
    }
    if (dump) {
      out.push_back(buildDone(req.seq, kPortId));
    } else if (req.flags & NLM_F_ACK) {
      out.push_back(buildError(req, 0));
    }
    return out;
  }
  if (dump) {
    auto d = dump_replies_.find(req.type);
    if (d != dump_replies_.end()) {
      const auto& [messages, per] = d->second;
      Bytes datagram;
      size_t in = 0;
      for (const Bytes& m : messages) {
        Bytes c = m;
        patchHeader(c, req.seq, kPortId);
        addFlags(c, NLM_F_MULTI);
        datagram.insert(datagram.end(), c.begin(), c.end());
        datagram.resize(align4(datagram.size()), 0);
        if (++in == per) {
          out.push_back(std::move(datagram));
          datagram.clear();
          in = 0;
        }
      }
      if (!datagram.empty()) out.push_back(std::move(datagram));
    }
    out.push_back(buildDone(req.seq, kPortId));
    return out;
  }
  auto r = replies_.find(req.type);
  if (r != replies_.end()) {
    for (const Bytes& m : r->second) {
      Bytes c = m;
      patchHeader(c, req.seq, kPortId);
      out.push_back(std::move(c));
    }
  }
  if (req.flags & NLM_F_ACK) out.push_back(buildError(req, 0));
  return out;
}

StatusOr<uint32_t> FakeNetlinkSocket::send(Bytes message) {
  std::function<void(const Message&)> hook;
  Message req;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (send_failures_ > 0) {
      --send_failures_;
      return errnoStatus(send_errno_, "netlink send (fake)");
    }
    if (message.size() < kNlmsgHeaderSize) {
      return invalidArgument("netlink send: message shorter than a header");
    }
    uint32_t seq = next_seq_++;
    patchHeader(message, seq, 0);
    sent_.push_back(message);
    hook = send_hook_;
  }
  MessageReader mr(message);
  if (!mr.next(&req)) return invalidArgument("netlink send: malformed message");
  req.pid = kPortId;  // replies go to our port
  if (hook) hook(req);
  std::lock_guard<std::mutex> l(mu_);
  bool failed = false;
  for (Bytes& d : answerLocked(req, &failed)) pushLocked(Entry{false, std::move(d)});
  return req.seq;
}

StatusOr<Received> FakeNetlinkSocket::receive() {
  std::lock_guard<std::mutex> l(mu_);
  Received r;
  r.received_at = clock_.now();
  if (queue_.empty()) {
    uint64_t v;
    (void)!::read(event_fd_, &v, sizeof(v));
    r.kind = ReceiveKind::kWouldBlock;
    return r;
  }
  Entry e = std::move(queue_.front());
  queue_.pop_front();
  if (queue_.empty()) {
    uint64_t v;
    (void)!::read(event_fd_, &v, sizeof(v));
  }
  if (e.overrun) {
    r.kind = ReceiveKind::kOverrun;
  } else {
    r.kind = ReceiveKind::kDatagram;
    r.bytes = std::move(e.bytes);
  }
  return r;
}

Status FakeNetlinkSocket::transact(Bytes request, const ReplyFn& on_reply, Duration) {
  std::vector<Bytes> answer;
  std::string what;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!groups_.empty()) {
      return failedPrecondition(
          "netlink transact: socket has multicast subscriptions; use a separate socket");
    }
    if (send_failures_ > 0) {
      --send_failures_;
      return errnoStatus(send_errno_, "netlink send (fake)");
    }
    if (request.size() < kNlmsgHeaderSize) {
      return invalidArgument("netlink transact: request shorter than a message header");
    }
    addFlags(request, NLM_F_ACK);
    patchHeader(request, next_seq_++, 0);
    sent_.push_back(request);
  }
  Message req;
  MessageReader mr(request);
  if (!mr.next(&req)) return invalidArgument("netlink transact: malformed request");
  req.pid = kPortId;
  what = fmt::format("netlink {}", messageTypeName(req.type));
  {
    std::lock_guard<std::mutex> l(mu_);
    bool failed = false;
    answer = answerLocked(req, &failed);
  }
  Status result;
  for (const Bytes& d : answer) {
    MessageReader r(d);
    Message m;
    while (r.next(&m)) {
      if (m.type == NLMSG_ERROR) {
        Status s = statusFromError(m, what);
        return s.isOk() ? result : s;
      }
      if (m.type == NLMSG_DONE) return result;
      if (result.isOk() && on_reply) result = on_reply(m);
    }
  }
  return result;
}

}  // namespace vfo::netlink
