// The ops API's plain internal structs: what the service edge hands to an
// ApiBackend after translating and validating the proto messages, and what
// it gets back. Nothing here depends on protobuf or gRPC.
//
// Contract: values reaching a backend are validated (see convert.h): MACs
// unicast, VLAN 0..4094, queues 1..16, socket path directly inside the
// socket directory, enums known, durations in range.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/mac_address.h"

namespace vfo::api {

using namespace std::chrono_literals;

inline constexpr uint32_t kMaxPortIdLength = 64;    // vfod's port id rule
inline constexpr uint32_t kMaxQueues = 16;          // queue pairs per port
inline constexpr uint32_t kMaxAllowedMacs = 7;      // extra source MACs per port
inline constexpr uint32_t kMaxVlan = 4094;          // 802.1Q VLAN ids 1..4094, 0 = untagged
inline constexpr size_t kMaxSocketPathBytes = 107;  // sun_path without the NUL
inline constexpr uint32_t kDefaultAnnounceCount = 3;
inline constexpr Duration kDefaultAnnounceInterval = 50ms;
inline constexpr uint32_t kDefaultAnnounceRateLimit = 10000;  // frames per second

// Who listens on a port's vhost-user socket.
enum class VhostRole : uint8_t {
  kServer,  // vfod listens; QEMU connects
  kClient,  // QEMU listens; vfod connects and reconnects
};

// Life cycle of a port as the API reports it.
enum class PortState : uint8_t {
  kIncoming,      // created for an incoming migration; no traffic yet
  kWaiting,       // socket ready, no guest connected
  kActive,        // guest connected, relaying
  kDegraded,      // guest connected, no live LAG member
  kMigratingOut,  // guest leaving this host; still relaying
  kDetached,      // guest stopped; port kept
  kGone,          // being deleted
};

// Announce bursts after a move.
struct AnnounceSettings {
  uint32_t count = kDefaultAnnounceCount;        // bursts, 1..10
  Duration interval = kDefaultAnnounceInterval;  // between bursts, 1 ms..1 s

  friend bool operator==(const AnnounceSettings&, const AnnounceSettings&) = default;
};

// A port as requested (CreatePort), defaults filled in.
struct PortSpec {
  std::string port_id;                       // validated id
  std::string socket_path;                   // absolute, directly in the socket directory
  VhostRole role = VhostRole::kServer;       // who listens
  MacAddress mac;                            // guest MAC, unicast
  std::vector<MacAddress> allowed_macs;      // extra source MACs (not including mac)
  uint16_t vlan = 0;                         // 0 = untagged, else 1..4094
  uint16_t queues = 1;                       // queue pairs, 1..16
  uint64_t disabled_features = 0;            // virtio feature bits withheld
  std::optional<AnnounceSettings> announce;  // none = the group's settings
  std::string pinned_member;                 // member name or empty
  std::string domain_name;                   // owning libvirt domain (informational)
  std::string domain_uuid;                   // its UUID (informational)
  bool incoming_migration = false;           // create in kIncoming

  friend bool operator==(const PortSpec&, const PortSpec&) = default;
};

// Which PortSpec fields an UpdatePort changes.
struct PortFieldMask {
  bool vlan = false;           // vlan
  bool allowed_macs = false;   // allowed_macs
  bool announce = false;       // announce
  bool pinned_member = false;  // pinned_member
  bool owner = false;          // domain_name and/or domain_uuid

  bool any() const { return vlan || allowed_macs || announce || pinned_member || owner; }
};

// One backing VF of a port.
struct MemberVf {
  std::string member;   // LAG member (PF) name
  std::string vf;       // "pf/vfN"
  std::string devargs;  // how vfod opened it
  bool active = false;  // carries the port's traffic now
};

// An address learned from the guest, worth re-announcing.
struct LearnedAddress {
  MacAddress mac;     // source MAC seen
  uint16_t vlan = 0;  // 0 = untagged
  std::string ip;     // IPv4/IPv6 text form
  Duration age{0};    // since last seen (not persisted)

  friend bool operator==(const LearnedAddress& a, const LearnedAddress& b) {
    return a.mac == b.mac && a.vlan == b.vlan && a.ip == b.ip;  // age is not identity
  }
};

// A port as the backend reports it.
struct PortInfo {
  PortSpec spec;                          // desired settings
  PortState state = PortState::kWaiting;  // life cycle
  bool vhost_connected = false;           // a guest driver is connected
  std::string active_member;              // empty when degraded
  std::vector<MemberVf> vfs;              // one per member
  std::vector<LearnedAddress> learned;    // learned addresses
  uint32_t worker_lcore = 0;              // relay worker lcore
};

// LAG mode.
enum class LagMode : uint8_t {
  kActiveBackup,      // one active member for all ports
  kBalanceVm,         // each port homed on a member
  kBalanceFlow,       // per-flow hash
  kFollowKernelBond,  // mirror a kernel bond
};

// When the primary takes over again.
enum class PrimaryReselect : uint8_t {
  kAlways,   // whenever it comes back
  kBetter,   // only if faster than the active member
  kFailure,  // only when the active member fails
};

// balance-flow hash inputs.
enum class HashPolicy : uint8_t {
  kLayer2,    // MACs
  kLayer2_3,  // MACs + IPs
  kLayer3_4,  // IPs + ports
  kEncap2_3,  // inner MACs + IPs
  kEncap3_4,  // inner IPs + ports
};

// LAG settings (UpdateLag), defaults filled in.
struct LagSettings {
  LagMode mode = LagMode::kActiveBackup;                        // group mode
  std::string primary;                                          // preferred member, empty = none
  PrimaryReselect primary_reselect = PrimaryReselect::kAlways;  // see PrimaryReselect
  bool failback = true;                          // active-backup: back to the primary
  Duration updelay{0};                           // link up this long before use, 0..1 h
  Duration downdelay{0};                         // link down this long before drop, 0..1 h
  Duration failback_delay{0};                    // balance-vm; negative = never
  HashPolicy hash_policy = HashPolicy::kLayer2;  // balance-flow hash
  AnnounceSettings announce;                     // after a failover
  uint32_t announce_rate_limit = kDefaultAnnounceRateLimit;  // frames/s, 1..1000000

  friend bool operator==(const LagSettings&, const LagSettings&) = default;
};

// Member link state.
enum class LinkState : uint8_t {
  kUp,         // usable
  kDown,       // not usable
  kGoingUp,    // up, waiting for updelay
  kGoingDown,  // down, waiting for downdelay
};

using Counters = std::map<std::string, uint64_t>;  // counter name -> value

// A LAG member as the backend reports it.
struct MemberInfo {
  std::string name;                   // member name
  bool admin_up = false;              // netdev IFF_UP
  LinkState link = LinkState::kDown;  // after delays
  bool probe_alive = true;            // probe verdict (true when probing is off)
  std::optional<Duration> pending;    // remaining up/down delay, none = no decision pending
  uint32_t active_ports = 0;          // ports this member carries
  Counters counters;                  // member counters
};

// The LAG group as the backend reports it.
struct LagInfo {
  LagSettings settings;             // current settings
  std::vector<MemberInfo> members;  // config order
  std::string active_member;        // active-backup: empty when all down
  Counters counters;                // group counters
};

// Counters of one port.
struct PortStatsInfo {
  std::string port_id;                      // the port
  Counters port;                            // summed over queues + events
  std::map<uint32_t, Counters> queues;      // by queue pair
  std::map<std::string, Counters> members;  // by member name
};

// GetStats answer.
struct StatsInfo {
  std::vector<PortStatsInfo> ports;  // sorted by port id
  Counters lag;                      // group counters
};

// GetVersion answer (the API name is added by the edge).
struct VersionInfo {
  std::string version;       // vfod version
  std::string dpdk_version;  // rte_version()
};

// Health answer.
struct HealthInfo {
  bool serving = true;                // false: vfod cannot do its job
  std::vector<std::string> problems;  // human-readable reasons
};

// ---- events ----

struct VhostConnectedEvent {
  std::string port_id;  // the port whose guest connected
};
struct VhostDisconnectedEvent {
  std::string port_id;  // the port whose guest disconnected
};
struct PortStateEvent {
  std::string port_id;                   // the port
  PortState from = PortState::kWaiting;  // before
  PortState to = PortState::kWaiting;    // after
};
struct FailoverEvent {
  std::string port_id;      // the port that moved
  std::string from_member;  // empty when it was degraded
  std::string to_member;    // empty when it became degraded
  std::string reason;       // "member-down", "failback", "operator", ...
  std::chrono::system_clock::time_point cause_seen_at;  // cause observed
  std::chrono::system_clock::time_point switched_at;    // steering changed
  uint32_t frames_announced = 0;                        // announce frames sent
};
struct AnnounceEvent {
  std::string port_id;        // the port
  std::string member;         // member the frames left on
  uint32_t frames = 0;        // frames sent
  Duration first_to_last{0};  // first to last burst
};
struct MigrationEvent {
  std::string port_id;  // the port
  std::string phase;    // "incoming", "migrating-out", "completed", "failed"
};
struct MemberEvent {
  std::string member;                 // member name
  LinkState from = LinkState::kDown;  // before
  LinkState to = LinkState::kDown;    // after
};

using EventKind = std::variant<VhostConnectedEvent, VhostDisconnectedEvent, PortStateEvent,
                               FailoverEvent, AnnounceEvent, MigrationEvent, MemberEvent>;

// An event as stored in the EventBuffer.
struct Event {
  uint64_t seq = 0;                            // assigned by the buffer, increasing from 1
  std::chrono::system_clock::time_point time;  // wall-clock time it happened
  EventKind kind;                              // what happened
};

// The desired state the API persists (StateStore) and restores.
struct DesiredState {
  std::vector<PortSpec> ports;                                 // sorted by port id
  std::optional<LagSettings> lag;                              // none: vfod's config
  std::map<std::string, std::vector<LearnedAddress>> learned;  // by port id
  std::string forced_active_member;                            // SetActiveMember pin, empty = none

  friend bool operator==(const DesiredState&, const DesiredState&) = default;
};

std::string_view portStateName(PortState s);  // "waiting", "active", ...
std::string_view linkStateName(LinkState s);  // "up", "going-down", ...
std::string_view lagModeName(LagMode m);      // "active-backup", ...

}  // namespace vfo::api
