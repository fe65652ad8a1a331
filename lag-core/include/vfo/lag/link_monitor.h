// LinkMonitor: the Linux link-state adapter of lag-core. It watches a set of
// interface names (the LAG members) and reports every change of their link
// state as a LinkEvent, to be wired to the member logic's onCarrier().
//
// Sources (both optional, both may run together; whichever sees a change
// first reports it, the other then agrees silently):
//  * rtnetlink (RTNLGRP_LINK) through a LinkStream: initial dump at start(),
//    notifications within microseconds of the kernel's, resync by re-dump
//    after ENOBUFS with only the differences reported.
//  * polling fallback: /sys/class/net/<if>/{ifindex,flags,carrier,operstate}
//    every poll_interval through an injectable SysfsLinkReader.
//
// Link verdict precedence (LinkState::linkUp()):
//   1. the interface must exist and be admin up (IFF_UP);
//   2. IFF_LOWER_UP must be set (the kernel's "running and carrier ok");
//   3. IFLA_CARRIER, when present, must be 1 (netif_carrier_ok as the driver
//      reports it; it is the `carrier` field, falling back to IFF_LOWER_UP
//      when the attribute is absent);
//   4. IFLA_OPERSTATE, when present, must be UP or UNKNOWN: the kernel's RFC
//      2863 verdict overrides a raw carrier (DORMANT for 802.1X, LOWERLAYERDOWN
//      for stacked devices, TESTING); UNKNOWN is accepted because drivers that
//      do not track operstate report it while passing traffic.
// Polling has no IFF_LOWER_UP: it uses admin_up && carrier for step 2.
//
// Events: only for watched names, only when something in LinkState changed,
// seen_at = monotonic time the datagram was received (or the poll ran).
// Threads: single-threaded (PolledMonitor contract); the callback runs inside
// onReadable()/onTick().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/log.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/monitor_thread.h"
#include "vfo/netlink/link_stream.h"

namespace vfo::lag {

// Reads /sys/class/net/<ifname>/<attribute>. NOT_FOUND when the interface
// does not exist; other errno classes as errnoStatus. The content is returned
// without its trailing newline.
class SysfsLinkReader {
 public:
  virtual ~SysfsLinkReader() = default;
  virtual StatusOr<std::string> read(std::string_view ifname, std::string_view attribute) = 0;
};

// Reads the real sysfs under `root` (default /sys/class/net).
class RealSysfsLinkReader final : public SysfsLinkReader {
 public:
  explicit RealSysfsLinkReader(std::string root = "/sys/class/net") : root_(std::move(root)) {}
  StatusOr<std::string> read(std::string_view ifname, std::string_view attribute) override;

 private:
  std::string root_;
};

// What the monitor knows about one interface.
struct LinkState {
  bool present = false;   // the interface exists
  int32_t ifindex = 0;    // kernel ifindex; 0 when not present
  bool admin_up = false;  // IFF_UP
  bool lower_up = false;  // IFF_LOWER_UP (admin_up && carrier when polled)
  bool carrier = false;   // IFLA_CARRIER, else IFF_LOWER_UP (see precedence)
  netlink::OperState operstate = netlink::OperState::kUnknown;  // IFLA_OPERSTATE
  // The verdict for the member logic (precedence in the file comment).
  bool linkUp() const;
  bool operator==(const LinkState&) const = default;
};

// Which source reported an event.
enum class LinkEventSource {
  kNotification,  // an RTNLGRP_LINK notification
  kDump,          // the initial dump or a resync dump
  kPoll,          // the sysfs polling fallback
};
std::string_view linkEventSourceName(LinkEventSource s);

struct LinkEvent {
  std::string ifname;      // the watched name
  LinkState state;         // new state
  LinkState previous;      // state before this event (present=false at first sight)
  LinkEventSource source;  // who saw it
  TimePoint seen_at;       // monotonic receipt time of the kernel message / poll
};

struct LinkMonitorConfig {
  std::vector<std::string> interfaces;  // names to watch (1..15 chars each, distinct)
  Duration poll_interval{0};            // 0 = no polling; else >= 1 ms
};

#define VFO_LINK_MONITOR_STATS(X)                                     \
  X(events, "link events delivered")                                  \
  X(ignored_links, "link messages for names not watched")             \
  X(resyncs_completed, "dumps completed (initial and after overrun)") \
  X(vanished_in_resync, "watched links found gone by a resync")       \
  X(polls, "sysfs polling rounds")                                    \
  X(poll_errors, "sysfs reads that failed other than NOT_FOUND")
VFO_DECLARE_STATS(LinkMonitorStats, VFO_LINK_MONITOR_STATS)

class LinkMonitor final : public PolledMonitor {
 public:
  using EventFn = std::function<void(const LinkEvent&)>;

  // socket and sysfs may each be null (then that source is off); at least
  // one is needed, and sysfs is needed iff poll_interval > 0. Both must
  // outlive the monitor. Call validate() first or check start()'s status.
  LinkMonitor(netlink::NetlinkSocket* socket, SysfsLinkReader* sysfs, LinkMonitorConfig config,
              EventFn on_event);

  // INVALID_ARGUMENT naming the field for a bad config.
  static Status validate(const LinkMonitorConfig& config, bool have_socket, bool have_sysfs);

  // Validates, subscribes and requests the initial dump (events for the
  // current state arrive from onReadable()), and schedules the first poll at
  // `now`.
  Status start(TimePoint now);

  int fd() const override;
  Status onReadable(TimePoint now) override;
  TimePoint nextDeadline() const override;
  Status onTick(TimePoint now) override;

  // Current knowledge of a watched name; nullopt if not watched.
  std::optional<LinkState> state(std::string_view ifname) const;
  LinkMonitorStatsSnapshot stats() const { return stats_.snapshot(); }
  netlink::LinkStreamStatsSnapshot streamStats() const;

 private:
  struct Watched {
    LinkState state;                // last reported
    bool touched_in_round = false;  // reported by the current sync round
  };
  void onLink(const netlink::LinkMessage& m, netlink::LinkOrigin origin, TimePoint seen_at);
  void onDumpStart(TimePoint t);
  void onDumpDone(TimePoint t);
  void update(const std::string& name, Watched& w, const LinkState& next, LinkEventSource src,
              TimePoint seen_at);
  StatusOr<LinkState> pollOne(const std::string& name);

  netlink::NetlinkSocket* socket_;
  SysfsLinkReader* sysfs_;
  LinkMonitorConfig config_;
  EventFn on_event_;
  std::unique_ptr<netlink::LinkStream> stream_;
  std::map<std::string, Watched, std::less<>> watched_;
  std::map<int32_t, std::string> by_ifindex_;  // for RTM_DELLINK / renames
  TimePoint next_poll_ = kNever;
  LinkMonitorStats stats_;
  // Link up/down lines: a flapping port must not flood the log (the events
  // themselves are never limited).
  LogRateLimiter log_limit_{MonotonicClock::instance(), 20, 50};
};

}  // namespace vfo::lag
