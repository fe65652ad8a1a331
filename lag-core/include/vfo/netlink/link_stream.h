// LinkStream: a consistent view of the kernel's links over one subscribed
// rtnetlink socket. It joins RTNLGRP_LINK, requests an RTM_GETLINK dump, and
// hands every RTM_NEWLINK / RTM_DELLINK (dump entries and notifications, in
// the order the kernel queued them) to the owner. After ENOBUFS (notifications
// lost) it requests a new dump; a dump marked NLM_F_DUMP_INTR (the link list
// changed while it was built) is repeated. Users diff what they are told
// against what they knew (LinkMonitor, BondFollower do).
//
// Sync protocol for the owner: on_dump_start(t) opens a sync round; every link
// that exists is then reported (by the dump, or by a notification newer than
// the dump) before on_dump_done(t). A link known before the round and not
// reported in it is gone.
//
// Threads: single-threaded, driven by the owner's event loop through fd() and
// onReadable(). Malformed messages are counted and skipped, never acted on.
#pragma once

#include <functional>

#include "vfo/base/clock.h"
#include "vfo/base/log.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/netlink/link_message.h"
#include "vfo/netlink/netlink_socket.h"

namespace vfo::netlink {

#define VFO_LINK_STREAM_STATS(X)                                           \
  X(datagrams, "datagrams received")                                       \
  X(link_messages, "RTM_NEWLINK/RTM_DELLINK messages handed to the owner") \
  X(malformed, "messages or datagrams rejected as malformed")              \
  X(overruns, "ENOBUFS: notifications lost, resync requested")             \
  X(dumps, "link dumps requested")                                         \
  X(dumps_interrupted, "dumps repeated because NLM_F_DUMP_INTR was set")   \
  X(dump_errors, "dump requests answered with an error")
VFO_DECLARE_STATS(LinkStreamStats, VFO_LINK_STREAM_STATS)

// Where a link message came from.
enum class LinkOrigin {
  kDump,          // part of a (re)sync dump
  kNotification,  // RTNLGRP_LINK multicast
};

class LinkStream {
 public:
  struct Handlers {
    // Every decoded link message; seen_at is when its datagram was received.
    std::function<void(const LinkMessage&, LinkOrigin, TimePoint seen_at)> on_link;
    // A sync round starts (before the first dump entry).
    std::function<void(TimePoint)> on_dump_start;
    // The round completed consistently.
    std::function<void(TimePoint)> on_dump_done;
  };

  LinkStream(NetlinkSocket& socket, Handlers handlers);

  // Subscribes to RTNLGRP_LINK and requests the initial dump. Errors from the
  // socket are returned as they are.
  Status start(TimePoint now);
  int fd() const { return socket_.fd(); }
  // Drains the socket (until it would block) and dispatches. Returns a socket
  // error or a dump refused by the kernel; malformed input is only counted.
  Status onReadable(TimePoint now);

  bool dumping() const { return dump_seq_ != 0; }
  LinkStreamStatsSnapshot stats() const { return stats_.snapshot(); }

 private:
  Status requestDump(TimePoint now);
  Status handleDatagram(const Received& r, TimePoint now);

  NetlinkSocket& socket_;
  Handlers h_;
  LinkStreamStats stats_;
  uint32_t dump_seq_ = 0;          // sequence of the dump in flight; 0 = none
  bool dump_interrupted_ = false;  // NLM_F_DUMP_INTR seen in the current dump
  bool resync_pending_ = false;    // an overrun happened during a dump
  // Warnings on this path are driven by the kernel (or a hostile peer in the
  // namespace): at most 10 lines/s, the rest counted in the next line.
  LogRateLimiter log_limit_{MonotonicClock::instance(), 10, 20};
};

}  // namespace vfo::netlink
