// BondFollower: mirror a kernel bond's decisions instead of deciding (the LAN
// driver observes the bonding driver). Given the bond's name and its slaves
// (interface name -> MemberId), it follows rtnetlink link messages and
// reports:
//  * the active member (IFLA_LINKINFO / IFLA_INFO_DATA / IFLA_BOND_ACTIVE_SLAVE,
//    an ifindex resolved to a slave name), wire to onBondActiveMember();
//  * per-slave state (IFLA_INFO_SLAVE_DATA: IFLA_BOND_SLAVE_STATE active/backup,
//    IFLA_BOND_SLAVE_MII_STATUS up/fail/down/back), enslave and release;
//  * the bond itself: present or deleted, its mode (IFLA_BOND_MODE).
// An RTM_NEWLINK of the bond carrying IFLA_EVENT = IFLA_EVENT_BONDING_FAILOVER
// marks the active change it reports as a kernel failover.
//
// Rules:
//  * The active slave exists only in modes that use one (active-backup,
//    balance-tlb, balance-alb: the kernel sends IFLA_BOND_ACTIVE_SLAVE only
//    then). In other modes (802.3ad, balance-rr, xor, broadcast) the active
//    member is reported as kNoMember and the mode tells why.
//  * A slave of the bond whose name is not configured is an unknown slave:
//    reported with member kNoMember and counted; if it becomes active the
//    active member is kNoMember with its ifname (traffic is on a port vfo
//    does not own).
//  * An active ifindex not yet resolvable to a name (its slave message comes
//    later in the dump) is held until the slave is seen or the dump ends.
//  * Bond deleted (RTM_DELLINK, or missing from a resync dump): bond status
//    present=false, active member kNoMember, every slave released.
//  * Only changes are reported; resync after ENOBUFS re-dumps and reports
//    differences. Malformed bonding attributes are counted, never trusted.
//
// Tested without a bonding module: this kernel has none, so the tests feed
// RTM_NEWLINK messages written byte for byte as kernel 6.1's
// rtnl_fill_ifinfo / bond_fill_info / bond_fill_slave_info produce them.
// Threads: single-threaded (PolledMonitor contract); callbacks run inside
// onReadable() or onLinkMessage().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/monitor_thread.h"
#include "vfo/lag/types.h"
#include "vfo/netlink/link_stream.h"

namespace vfo::lag {

// IFLA_BOND_MODE values (BOND_MODE_* in linux/if_bonding.h).
enum class BondMode : uint8_t {
  kBalanceRr = 0,     // round robin
  kActiveBackup = 1,  // one active slave
  kBalanceXor = 2,    // hash % slaves
  kBroadcast = 3,     // every slave
  k8023ad = 4,        // LACP aggregator
  kBalanceTlb = 5,    // transmit load balancing, one receiving (active) slave
  kBalanceAlb = 6,    // tlb + receive load balancing
};
std::string_view bondModeName(BondMode m);
// Whether the kernel tracks an active slave in this mode (bond_uses_primary).
bool bondModeHasActiveSlave(BondMode m);

// IFLA_BOND_SLAVE_STATE (BOND_STATE_*).
enum class BondSlaveState : uint8_t {
  kActive = 0,  // carries traffic
  kBackup = 1,  // standby
};
// IFLA_BOND_SLAVE_MII_STATUS (BOND_LINK_*).
enum class BondMiiStatus : uint8_t {
  kUp = 0,    // link up
  kFail = 1,  // just went down, downdelay running
  kDown = 2,  // down
  kBack = 3,  // coming back, updelay running
};
std::string_view bondSlaveStateName(BondSlaveState s);
std::string_view bondMiiStatusName(BondMiiStatus s);

struct BondSlaveConfig {
  std::string ifname;           // slave interface name
  MemberId member = kNoMember;  // the member it stands for
};

struct BondFollowerConfig {
  std::string bond;                     // bond device name (1..15 chars)
  std::vector<BondSlaveConfig> slaves;  // 1..N distinct names and members
};

// The bond appeared, changed mode or disappeared.
struct BondStatusEvent {
  bool present = false;          // the bond device exists
  int32_t ifindex = 0;           // its ifindex when present
  std::optional<BondMode> mode;  // its mode when known
  TimePoint seen_at;             // receipt time of the message
};

// The kernel's active slave changed.
struct BondActiveEvent {
  MemberId member = kNoMember;  // configured member, or kNoMember (none / unknown slave / mode)
  int32_t ifindex = 0;          // active slave ifindex; 0 = none
  std::string ifname;           // active slave name if known
  bool failover = false;        // reported with IFLA_EVENT_BONDING_FAILOVER
  TimePoint seen_at;            // receipt time of the message that showed it
};

// A slave's bonding state changed (or it was enslaved / released).
struct BondSlaveEvent {
  std::string ifname;                   // slave name
  int32_t ifindex = 0;                  // slave ifindex
  MemberId member = kNoMember;          // configured member, kNoMember for an unknown slave
  bool enslaved = false;                // currently a slave of the bond
  std::optional<BondSlaveState> state;  // IFLA_BOND_SLAVE_STATE when enslaved
  std::optional<BondMiiStatus> mii;     // IFLA_BOND_SLAVE_MII_STATUS when enslaved
  uint32_t link_failure_count = 0;      // IFLA_BOND_SLAVE_LINK_FAILURE_COUNT
  TimePoint seen_at;                    // receipt time
};

#define VFO_BOND_FOLLOWER_STATS(X)                                     \
  X(bond_messages, "link messages about the bond")                     \
  X(slave_messages, "link messages about its slaves")                  \
  X(active_changes, "active member changes reported")                  \
  X(failover_events, "IFLA_EVENT_BONDING_FAILOVER notifications")      \
  X(unknown_slaves, "slave messages for names not configured")         \
  X(not_a_bond, "messages for the bond name whose kind is not 'bond'") \
  X(malformed, "bonding attributes rejected as malformed")
VFO_DECLARE_STATS(BondFollowerStats, VFO_BOND_FOLLOWER_STATS)

class BondFollower final : public PolledMonitor {
 public:
  struct Callbacks {
    std::function<void(const BondStatusEvent&)> on_status;  // bond present/mode
    std::function<void(const BondActiveEvent&)> on_active;  // wire to onBondActiveMember()
    std::function<void(const BondSlaveEvent&)> on_slave;    // per-slave state
  };

  // socket may be null when messages are fed through onLinkMessage().
  BondFollower(netlink::NetlinkSocket* socket, BondFollowerConfig config, Callbacks cb);

  // INVALID_ARGUMENT naming the field.
  static Status validate(const BondFollowerConfig& config);
  // Validates; with a socket subscribes and requests the initial dump.
  Status start(TimePoint now);

  int fd() const override;
  Status onReadable(TimePoint now) override;
  TimePoint nextDeadline() const override { return kNever; }
  Status onTick(TimePoint) override { return okStatus(); }

  // Feeds one decoded link message (the socket path calls this too).
  void onLinkMessage(const netlink::LinkMessage& m, TimePoint seen_at);
  // Sync round markers (LinkStream protocol); public for message-fed use.
  void onDumpStart(TimePoint t);
  void onDumpDone(TimePoint t);

  // Introspection.
  bool bondPresent() const { return bond_ifindex_ != 0; }
  std::optional<BondMode> mode() const { return mode_; }
  MemberId activeMember() const;
  int32_t activeIfindex() const { return active_ifindex_; }
  std::optional<BondSlaveEvent> slave(std::string_view ifname) const;
  BondFollowerStatsSnapshot stats() const { return stats_.snapshot(); }

 private:
  struct Slave {
    BondSlaveEvent last;            // last reported
    bool touched_in_round = false;  // seen in the current sync round
  };
  // What one link message says about a (possible) slave.
  struct SlaveInfo {
    int32_t ifindex = 0;                  // the link
    std::string ifname;                   // its name
    bool deleted = false;                 // RTM_DELLINK
    bool bond_slave = false;              // IFLA_INFO_SLAVE_KIND == "bond"
    uint32_t master = 0;                  // IFLA_MASTER, 0 if none
    std::optional<BondSlaveState> state;  // IFLA_BOND_SLAVE_STATE
    std::optional<BondMiiStatus> mii;     // IFLA_BOND_SLAVE_MII_STATUS
    uint32_t link_failure_count = 0;      // IFLA_BOND_SLAVE_LINK_FAILURE_COUNT
  };
  static StatusOr<SlaveInfo> parseSlave(const netlink::LinkMessage& m);
  void onBond(const netlink::LinkMessage& m, TimePoint seen_at);
  void onOther(const netlink::LinkMessage& m, TimePoint seen_at);
  void applySlave(const SlaveInfo& info, TimePoint seen_at);
  void bondGone(TimePoint seen_at);
  void release(int32_t ifindex, TimePoint seen_at);
  void setActive(int32_t ifindex, bool failover, TimePoint seen_at);
  void resolvePending(TimePoint seen_at, bool force);
  MemberId memberOf(std::string_view ifname) const;

  netlink::NetlinkSocket* socket_;
  BondFollowerConfig config_;
  Callbacks cb_;
  std::unique_ptr<netlink::LinkStream> stream_;
  BondFollowerStats stats_;

  int32_t bond_ifindex_ = 0;              // 0 = bond not present
  std::optional<BondMode> mode_;          // last mode seen
  bool bond_touched_in_round_ = false;    // bond seen in the current sync round
  int32_t active_ifindex_ = 0;            // last reported active slave ifindex
  int32_t pending_active_ = 0;            // active ifindex waiting for its name
  bool pending_failover_ = false;         // failover flag of the pending change
  TimePoint pending_seen_at_;             // receipt time of the pending change
  std::map<int32_t, Slave> slaves_;       // by ifindex: every slave seen enslaved
  std::map<int32_t, SlaveInfo> orphans_;  // bond slaves seen before the bond itself
  bool in_round_ = false;                 // between onDumpStart and onDumpDone
};

}  // namespace vfo::lag
