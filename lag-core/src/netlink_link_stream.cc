#include <fmt/format.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

#include "vfo/base/log.h"
#include "vfo/netlink/link_stream.h"

namespace vfo::netlink {

namespace {
constexpr Logger kLog("netlink");
}

LinkStream::LinkStream(NetlinkSocket& socket, Handlers handlers)
    : socket_(socket), h_(std::move(handlers)) {}

Status LinkStream::start(TimePoint now) {
  VFO_RETURN_IF_ERROR(socket_.subscribe(RTNLGRP_LINK));
  return requestDump(now);
}

Status LinkStream::requestDump(TimePoint now) {
  VFO_ASSIGN_OR_RETURN(uint32_t seq, socket_.send(buildGetLinkDump()));
  dump_seq_ = seq;
  dump_interrupted_ = false;
  resync_pending_ = false;
  bump(stats_.dumps);
  if (h_.on_dump_start) h_.on_dump_start(now);
  return okStatus();
}

Status LinkStream::onReadable(TimePoint now) {
  for (;;) {
    VFO_ASSIGN_OR_RETURN(Received r, socket_.receive());
    switch (r.kind) {
      case ReceiveKind::kWouldBlock:
        return okStatus();
      case ReceiveKind::kOverrun:
        bump(stats_.overruns);
        if (log_limit_.allow()) {
          kLog.warn("[rtnl link]",
                    "receive buffer overrun: link notifications lost, resyncing ({} lines "
                    "suppressed)",
                    log_limit_.takeSuppressed());
        }
        // The kernel refuses a second dump on a socket while one runs
        // (EBUSY): finish the current one first, then dump again.
        if (dumping()) {
          resync_pending_ = true;
        } else {
          VFO_RETURN_IF_ERROR(requestDump(r.received_at));
        }
        break;
      case ReceiveKind::kDatagram:
        VFO_RETURN_IF_ERROR(handleDatagram(r, now));
        break;
    }
  }
}

Status LinkStream::handleDatagram(const Received& r, TimePoint now) {
  (void)now;
  bump(stats_.datagrams);
  MessageReader mr(r.bytes);
  Message m;
  while (mr.next(&m)) {
    const bool ours = dump_seq_ != 0 && m.seq == dump_seq_ && m.pid == socket_.portId();
    if (m.type == NLMSG_ERROR) {
      if (!ours) continue;  // an error for a request we no longer track
      Status s = statusFromError(m, "netlink RTM_GETLINK dump");
      dump_seq_ = 0;
      bump(stats_.dump_errors);
      if (!s.isOk()) return s;
      continue;
    }
    if (m.type == NLMSG_DONE) {
      if (!ours) continue;
      if (m.flags & NLM_F_DUMP_INTR) dump_interrupted_ = true;
      dump_seq_ = 0;
      int32_t done_error = 0;
      if (m.payload.size() >= sizeof(done_error)) {
        std::memcpy(&done_error, m.payload.data(), sizeof(done_error));
      }
      if (done_error < 0) {
        bump(stats_.dump_errors);
        return errnoStatus(-done_error, "netlink RTM_GETLINK dump");
      }
      if (dump_interrupted_) {
        bump(stats_.dumps_interrupted);
        VFO_RETURN_IF_ERROR(requestDump(r.received_at));
        continue;
      }
      if (h_.on_dump_done) h_.on_dump_done(r.received_at);
      if (resync_pending_) VFO_RETURN_IF_ERROR(requestDump(r.received_at));
      continue;
    }
    if (m.type != RTM_NEWLINK && m.type != RTM_DELLINK) continue;
    if (ours && (m.flags & NLM_F_DUMP_INTR)) dump_interrupted_ = true;
    auto lm = parseLinkMessage(m);
    if (!lm.isOk()) {
      bump(stats_.malformed);
      if (log_limit_.allow()) {
        kLog.warn("[rtnl link]", "ignoring malformed link message: {} ({} lines suppressed)",
                  lm.status().toString(), log_limit_.takeSuppressed());
      }
      continue;
    }
    bump(stats_.link_messages);
    if (h_.on_link) {
      h_.on_link(*lm, ours ? LinkOrigin::kDump : LinkOrigin::kNotification, r.received_at);
    }
  }
  if (!mr.status().isOk()) {
    bump(stats_.malformed);
    if (log_limit_.allow()) {
      kLog.warn("[rtnl link]", "ignoring rest of malformed datagram: {} ({} lines suppressed)",
                mr.status().toString(), log_limit_.takeSuppressed());
    }
  }
  return okStatus();
}

}  // namespace vfo::netlink
