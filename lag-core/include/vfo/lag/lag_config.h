// Configuration of one LAG group's decision logic (modes, hysteresis, hash
// policy). A plain struct with named defaults, validated once at the edge by
// validate(); everything downstream assumes a valid config.
//
// Contract: validate() never changes the struct; an error names the field
// ("members[1].name: ...") and carries StatusCode::kInvalidArgument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/status.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// How the group chooses a member for a VM port's traffic.
enum class LagMode {
  kActiveBackup,      // one active member for every port (bonding mode 1)
  kBalanceVm,         // each port has a home member chosen by HRW hashing or a pin
  kBalanceFlow,       // per packet: bond_xmit_hash() % live members (bonding mode 2/4 tx)
  kFollowKernelBond,  // mirror the active member a kernel bond reports; no own policy
};

// When a returning primary takes over again in active-backup; the same
// semantics as bonding's primary_reselect option.
enum class PrimaryReselect {
  kAlways,   // the primary becomes active whenever it is (back) up
  kBetter,   // only if its speed is higher than the current active member's
  kFailure,  // only when the current active member fails
};

// balance-flow hash: bonding's xmit_hash_policy values with the same names.
enum class HashPolicy {
  kLayer2,   // "layer2": MAC low bytes and ethertype
  kLayer23,  // "layer2+3": layer2 plus IP addresses
  kLayer34,  // "layer3+4": IP addresses and TCP/UDP/SCTP ports (or ICMP id)
  kEncap23,  // "encap2+3": layer2 plus addresses found by the flow dissector
  kEncap34,  // "encap3+4": addresses and ports found by the flow dissector
};

// Most members a group can have; bounds the datapath's live-member array.
inline constexpr size_t kMaxMembers = 8;
// Longest member / port name accepted (IFNAMSIZ - 1 for members).
inline constexpr size_t kMaxMemberNameLen = 15;
inline constexpr size_t kMaxPortNameLen = 64;
// Longest updelay / downdelay / balance-vm failback delay accepted.
inline constexpr Duration kMaxDelay = std::chrono::hours(1);

struct MemberConfig {
  // Netdev name of the physical port ("pf0"); unique within the group,
  // 1..15 characters, no '/', no whitespace.
  std::string name;
  // Link speed in Mb/s, compared by primary_reselect=better; 0 = unknown
  // (not allowed when primary_reselect is better).
  uint32_t speed_mbps = 0;
  // true: the member is healthy only while the probe monitor says "alive"
  // (like bonding's arp_ip_target); false: carrier alone decides.
  bool probing = false;
};

struct LagConfig {
  // Group name used in logs and toText() ("lag0").
  std::string name = "lag0";
  // Decision mode; default active-backup.
  LagMode mode = LagMode::kActiveBackup;
  // Members in configuration order; MemberId is the index here (1..8 entries).
  std::vector<MemberConfig> members;
  // active-backup only: name of the preferred member; unset = none.
  std::optional<std::string> primary;
  // active-backup only: when a returning primary takes over; default always.
  PrimaryReselect primary_reselect = PrimaryReselect::kAlways;
  // active-backup only: false = never move back to the primary while the
  // current active member is healthy (acts as primary_reselect=failure).
  bool failback = true;
  // A member whose health came up is enabled after staying up this long; 0 = at once.
  Duration updelay{0};
  // A member whose health went down is disabled after staying down this long; 0 = at once.
  Duration downdelay{0};
  // balance-vm only: ports move back to a returned home member this long after
  // it was enabled; std::nullopt = "stay": never move back automatically.
  std::optional<Duration> vm_failback_delay = std::chrono::seconds(1);
  // balance-flow only: xmit_hash_policy; default layer2 as in bonding.
  HashPolicy hash_policy = HashPolicy::kLayer2;

  // OK or INVALID_ARGUMENT naming the first offending field.
  Status validate() const;
};

// Names as in bonding's sysfs / OVS: "active-backup", "balance-vm",
// "balance-flow", "follow-kernel-bond".
std::string_view lagModeName(LagMode mode);
StatusOr<LagMode> parseLagMode(std::string_view text);
// "always", "better", "failure".
std::string_view primaryReselectName(PrimaryReselect r);
StatusOr<PrimaryReselect> parsePrimaryReselect(std::string_view text);
// "layer2", "layer2+3", "layer3+4", "encap2+3", "encap3+4".
std::string_view hashPolicyName(HashPolicy p);
StatusOr<HashPolicy> parseHashPolicy(std::string_view text);

// "200 ms", "1.5 ms", "0 ms", "2 s" style text for logs and toText().
std::string formatDuration(Duration d);

}  // namespace vfo::lag
