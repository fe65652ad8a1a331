// Address learner: which IPv4/IPv6 addresses each VM port's guest uses, so
// that a move to another member can be announced for every one of them.
//
// Rules (docs/lag-frames.md has the reasoning):
//  - A binding (MAC, VLAN, IP) comes from parseAddressFrame(): ARP requests,
//    replies and gratuitous ARP, IPv6 NS with a unicast source and NA, and
//    DHCPv4 ACKs.
//  - ARP and ND bindings are learned only from frames the guest sent
//    (FrameDirection::kFromGuest): a frame from the network naming the
//    guest's MAC proves nothing about the guest. DHCP ACKs are learned in
//    either direction (the server's ACK travels to the guest; a guest that
//    is itself a DHCP server names its clients' MACs, which the next rule
//    rejects).
//  - Only bindings whose MAC is in the port's allowed set are learned.
//  - DAD Neighbor Solicitations (source ::) and ARP probes (sender
//    0.0.0.0) are counted, not learned: the address may still fail
//    duplicate detection, and announcing it with the Override flag would
//    take it from its real owner. The guest's first use of the address as a
//    source (NS, NA, ARP) teaches it.
//  - An entry is keyed by (VLAN, IP). Seeing it again refreshes its age; seen
//    under another allowed MAC of the same port, it moves to that MAC.
//  - An entry not seen for `max_age` is forgotten (expire()).
//  - A port holds at most `max_addresses_per_port` entries; learning one more
//    evicts the least recently seen.
//  - Malformed frames are counted per defect and change nothing.
//
// Threads: not thread-safe. One owner thread calls every method; stats()
// and defects() may be read from any thread (relaxed counters). observe()
// does not allocate unless it learns a new address; it never logs.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/frame_parser.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

struct AddressLearnerConfig {
  // An address not seen again for this long is forgotten. Default 10 min;
  // valid 1 s .. 24 h.
  Duration max_age = std::chrono::minutes(10);
  // Entries per port; learning one more evicts the least recently seen.
  // Default 64; valid 1 .. 4096.
  uint32_t max_addresses_per_port = 64;
  // Learn (and so announce) IPv6 link-local addresses (fe80::/10). Default
  // on: routers and neighbors cache the guest's link-local address as well.
  bool learn_ipv6_link_local = true;

  // INVALID_ARGUMENT naming the field when a value is out of range.
  Status validate() const;
};

// Which way a frame crossed the VM port.
enum class FrameDirection : uint8_t {
  kFromGuest,  // sent by the guest, on its way to the network
  kToGuest,    // arriving from the network, on its way to the guest
};

// One learned address. A plain value: it can be exported, persisted and
// handed back to restore().
struct LearnedAddress {
  AddressBinding binding;                       // MAC, VLAN and IP
  AddressSource source = AddressSource::kNone;  // kind of frame that last confirmed it
  TimePoint first_seen;                         // when it was learned
  TimePoint last_seen;                          // last confirmation; ages from here

  Duration age(TimePoint now) const { return now - last_seen; }
  friend bool operator==(const LearnedAddress&, const LearnedAddress&) = default;
};

// "52:54:00:12:34:56 vlan 0 198.18.0.5 via arp_request, age 2.5 s".
std::string formatLearnedAddress(const LearnedAddress& entry, TimePoint now);

// What observe() did with a frame.
enum class LearnOutcome : uint8_t {
  kLearned,           // a new entry was added (possibly evicting the oldest)
  kRefreshed,         // a known entry was seen again; its age restarted
  kMoved,             // a known entry now belongs to another allowed MAC of the port
  kNoAddress,         // a valid ARP/ND/DHCP frame that binds nothing (probe, DAD, ...)
  kNotRelevant,       // not an address frame
  kMalformed,         // rejected; counted under its defect
  kWrongDirection,    // an ARP/ND binding arriving from the network: not learned
  kMacNotAllowed,     // a binding for a MAC the port may not use
  kLinkLocalSkipped,  // an IPv6 link-local binding with learn_ipv6_link_local off
  kUnknownPort,       // no such port in the learner
};
std::string_view learnOutcomeName(LearnOutcome outcome);

#define VFO_ADDRESS_LEARNER_STATS(X)                                                    \
  X(frames_seen, "frames handed to observe()")                                          \
  X(frames_not_relevant, "frames that are not ARP, NS/NA or DHCP server replies")       \
  X(frames_malformed, "address frames rejected as malformed (see the defect counters)") \
  X(frames_unknown_port, "frames for a port the learner does not know")                 \
  X(wrong_direction, "ARP/ND bindings that arrived from the network: not learned")      \
  X(mac_not_allowed, "bindings for a MAC the port may not use: not learned")            \
  X(link_local_skipped, "IPv6 link-local bindings skipped by configuration")            \
  X(arp_probes, "ARP probes (sender 0.0.0.0): nothing to learn")                        \
  X(dad_solicitations, "DAD Neighbor Solicitations (source ::): not learned, see docs") \
  X(dhcp_not_ack, "DHCP server messages other than ACK, or ACKs without an address")    \
  X(learned, "addresses learned")                                                       \
  X(refreshed, "known addresses seen again")                                            \
  X(moved, "known addresses seen under another allowed MAC of the same port")           \
  X(evicted, "least recently seen addresses dropped because the port was full")         \
  X(aged_out, "addresses forgotten after max_age without being seen")                   \
  X(dropped_disallowed, "addresses dropped because their MAC left the allowed set")     \
  X(dropped_port_removed, "addresses dropped with their port")                          \
  X(restored, "addresses loaded through restore()")
VFO_DECLARE_STATS(AddressLearnerStats, VFO_ADDRESS_LEARNER_STATS)

// Introspection of one port.
struct PortAddresses {
  PortIndex port = kNoPort;               // the port
  std::vector<MacAddress> allowed_macs;   // MACs the port may use, sorted
  std::vector<LearnedAddress> addresses;  // learned entries, most recently seen first
};

class AddressLearner {
 public:
  // INVALID_ARGUMENT when config.validate() fails.
  static StatusOr<std::unique_ptr<AddressLearner>> create(const AddressLearnerConfig& config);

  // Registers a port with the MACs it may use (each unicast and non-zero;
  // duplicates are merged). ALREADY_EXISTS if the port is known,
  // INVALID_ARGUMENT naming the bad MAC ("allowed_macs[1]: ...").
  Status addPort(PortIndex port, std::span<const MacAddress> allowed_macs);
  // Replaces the allowed set; entries of MACs no longer allowed are dropped.
  // NOT_FOUND for an unknown port; INVALID_ARGUMENT as for addPort().
  Status setAllowedMacs(PortIndex port, std::span<const MacAddress> allowed_macs);
  // Forgets the port and its entries. NOT_FOUND for an unknown port.
  Status removePort(PortIndex port);

  // Learns from one frame crossing `port` in `direction` at `now`. Datapath
  // contract: no Status, no logging; the outcome is also counted.
  LearnOutcome observe(PortIndex port, FrameDirection direction, std::span<const uint8_t> frame,
                       TimePoint now);

  // Forgets entries whose last_seen + max_age <= now. Cost: linear in the
  // number of entries; call it at nextDeadline().
  void expire(TimePoint now);
  // When expire() next has something to do (possibly earlier: refreshed
  // entries are found only by the scan), kNever without entries.
  TimePoint nextDeadline() const { return next_expiry_; }

  // Entries of `port`, most recently seen first; empty for an unknown port.
  std::vector<LearnedAddress> addresses(PortIndex port) const;
  // Every port, ordered by port index.
  std::vector<PortAddresses> snapshot() const;

  // Loads exported entries into a known port (for persistence across
  // restarts). All or nothing: NOT_FOUND for an unknown port;
  // INVALID_ARGUMENT naming the entry ("entries[3].binding.mac: ... is not
  // allowed on port 7") for a MAC outside the allowed set, an unusable
  // address, a VLAN above 4094, a duplicate (VLAN, IP), or times that are
  // in the future or out of order. Entries already older than max_age are
  // skipped (counted aged_out); an entry already known keeps the later
  // last_seen; the cap applies as for learning.
  Status restore(PortIndex port, std::span<const LearnedAddress> entries, TimePoint now);

  const AddressLearnerConfig& config() const { return config_; }
  AddressLearnerStatsSnapshot stats() const { return stats_.snapshot(); }
  FrameDefectStatsSnapshot defects() const { return defects_.snapshot(); }

 private:
  explicit AddressLearner(const AddressLearnerConfig& config) : config_(config) {}

  struct Port {
    std::vector<MacAddress> allowed;      // sorted, unique
    std::vector<LearnedAddress> entries;  // unordered; at most max_addresses_per_port
  };

  bool allowed(const Port& port, const MacAddress& mac) const;
  LearnOutcome learn(Port& port, const AddressBinding& binding, AddressSource source,
                     TimePoint first_seen, TimePoint last_seen);

  AddressLearnerConfig config_;
  std::unordered_map<PortIndex, Port> ports_;
  TimePoint next_expiry_ = kNever;  // lower bound of the earliest expiry
  AddressLearnerStats stats_;
  FrameDefectStats defects_;
};

}  // namespace vfo::lag
