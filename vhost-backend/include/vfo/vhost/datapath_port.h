// The state one VM port shares between the control plane and the relay
// workers, and the narrow interface the control plane uses to change it.
//
// Threads and memory ordering:
//  - Fields marked "immutable" are set before the port is handed to the
//    workers and never change afterwards.
//  - Atomics are written by the control thread or the vhost-events thread
//    with release stores and read by workers with acquire loads, once per
//    poll of the queue pair. No locks on the fast path.
//  - Pointers published to workers (policy, selector) are freed only after
//    DatapathControl::quiesce() returned (quiescent-state based reclamation:
//    every worker reports a quiescent state once per loop iteration).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/lag/types.h"
#include "vfo/vhost/config.h"
#include "vfo/vhost/frame.h"
#include "vfo/vhost/stats.h"

struct rte_ring;

namespace vfo::vhost {

// Frames moved per ring operation (dequeue, enqueue, rx, tx).
inline constexpr uint16_t kBurstSize = 32;

// Per-frame member choice for the balance modes (lag-core's balance-vm and
// balance-flow plug in here). Without a selector the port's steering word
// decides.
struct MemberSelector {
  // Returns the member to send `frame` on, or lag::kNoMember when none is
  // live. Called per frame on worker threads: must not block, allocate or
  // take locks; reads only immutable data behind `context`. `frame` is the
  // frame as the guest sent it (before VLAN tagging).
  lag::MemberId (*select)(const void* context, const uint8_t* frame, uint32_t len) = nullptr;
  // Opaque, owned by whoever publishes the selector; must stay valid until
  // the selector is replaced and quiesce() returned.
  const void* context = nullptr;
};

// Which member transmits the port's frames and which members' received
// frames reach the guest, packed in one atomic word so both change together.
struct Steering {
  lag::MemberId tx_member = lag::kNoMember;  // member for guest frames; kNoMember = none live
  uint32_t rx_members = 0;                   // bit m set: frames received on member m are delivered

  // Active-backup: transmit on `active`, deliver only what arrives on it
  // (a standby member's frames are dropped, like a bond's backup slave).
  static Steering activeBackup(lag::MemberId active) {
    Steering s;
    s.tx_member = active;
    s.rx_members = active == lag::kNoMember ? 0 : (1u << active);
    return s;
  }
  uint64_t pack() const { return uint64_t(rx_members) << 32 | tx_member; }
  static Steering unpack(uint64_t w) {
    Steering s;
    s.tx_member = lag::MemberId(w & 0xffffffffu);
    s.rx_members = uint32_t(w >> 32);
    return s;
  }
  friend bool operator==(const Steering&, const Steering&) = default;
};

// Per-port filtering policy; replaced as a whole (UpdatePort).
struct PortPolicy {
  MacSet macs;                           // allowed source MACs; also the RX unicast filter
  lag::VlanId vlan = lag::kNoVlan;       // 0 = transparent
  bool deliver_foreign_unicast = false;  // skip the RX unicast filter
};

// One member's uplink (backing VF) as the workers see it.
struct UplinkPort {
  bool present = false;          // an ethdev is open for this member
  uint16_t eth_port = 0;         // DPDK ethdev port id
  bool tx_vlan_offload = false;  // the ethdev inserts VLAN tags itself (RTE_MBUF_F_TX_VLAN)
  bool tx_prepare = false;       // checksum/TSO offloads on: run rte_eth_tx_prepare() first
  // -1: the ethdev is the port's own (its queue q serves queue pair q).
  // Otherwise the index of a shared uplink (Relay::addSharedUplink) that
  // every port of the member uses: received frames reach the port through
  // its demultiplexing ring (queue pair 0 only) and each worker transmits on
  // its own TX queue. Shared uplinks never use TX offloads.
  int16_t shared = -1;
};

struct DatapathPort;

// The unit of work a worker owns: one queue pair of one port. Its counters
// have exactly one writer, the owning worker.
struct alignas(64) QueueUnit {
  DatapathPort* port = nullptr;                  // immutable: the owning port
  uint16_t qp = 0;                               // immutable: queue pair index
  uint32_t worker_lcore = 0;                     // lcore of the owning worker (introspection)
  QueueStats stats;                              // written by the owning worker
  std::array<MemberStats, kMaxMembers> members;  // per member, written by the owning worker
};

struct DatapathPort {
  std::string id;                                 // immutable: port id (logs, stats)
  uint64_t key = 0;                               // immutable: unique, never reused in a process
  uint16_t queue_pairs = 1;                       // immutable: configured queue pairs
  uint32_t member_count = 0;                      // immutable: LAG members
  std::array<UplinkPort, kMaxMembers> uplinks{};  // immutable: per member

  // vhost device id while the guest driver runs, -1 otherwise. Written by
  // the vhost-events thread; after it is set to -1, destroy_device waits in
  // quiesce() so no worker still uses the old id.
  std::atomic<int> vid{-1};
  // Queue pairs the guest's device has (vrings / 2); set before vid.
  std::atomic<uint16_t> guest_queue_pairs{0};
  // vring index (2*qp = guest RX, 2*qp+1 = guest TX) -> enabled by the guest.
  std::array<std::atomic<bool>, 2 * kMaxQueuePairs> vring_enabled{};
  // Steering::pack(); written by the control thread (failover).
  std::atomic<uint64_t> steering{Steering().pack()};
  // False while the port must not forward (incoming migration, deleting).
  std::atomic<bool> forwarding{false};
  // Current policy; never null while workers see the port.
  std::atomic<const PortPolicy*> policy{nullptr};
  // Balance-mode selector; null = use steering.tx_member.
  std::atomic<const MemberSelector*> selector{nullptr};

  // Per member with a shared uplink: frames demultiplexed (or switched
  // locally) to this port, multi-producer / single-consumer (the worker of
  // queue pair 0). Created and freed by the relay; null otherwise.
  std::array<rte_ring*, kMaxMembers> shared_rx{};

  PortEventStats events;                           // control/vhost event counters (fetch_add)
  std::unique_ptr<QueueUnit[]> queues;             // queue_pairs units
  std::unique_ptr<const PortPolicy> owned_policy;  // storage behind `policy`
};

// What the control plane asks for when it adds a port to the datapath.
struct DatapathPortSpec {
  std::string id;                   // port id
  uint16_t queue_pairs = 1;         // 1..kMaxQueuePairs
  std::vector<UplinkPort> uplinks;  // per member, index = MemberId
  PortPolicy policy;                // initial policy
  Steering steering;                // initial steering
  bool forwarding = false;          // initial forwarding gate
};

// Builds a DatapathPort from a spec (no DPDK): used by the relay and by
// fakes. `key` must be unique in the process.
std::unique_ptr<DatapathPort> makeDatapathPort(const DatapathPortSpec& spec, uint64_t key);

// Port totals over its queue pairs, and member totals over queue pairs.
struct PortStatsReport {
  QueueStatsSnapshot total;                                     // sum over queue pairs
  std::vector<QueueStatsSnapshot> queues;                       // per queue pair
  std::vector<MemberStatsSnapshot> members;                     // per member, summed over queues
  std::vector<std::vector<MemberStatsSnapshot>> queue_members;  // [qp][member]
  PortEventStatsSnapshot events;                                // control events
};
PortStatsReport collectStats(const DatapathPort& port);

// The control plane's handle on the relay. Every call comes from the
// control thread or the vhost-events thread; none blocks for longer than
// one worker loop iteration (plus its idle sleep).
class DatapathControl {
 public:
  virtual ~DatapathControl() = default;

  // Creates the port's shared state and gives its queue pairs to workers.
  // The pointer stays valid until removePort().
  virtual StatusOr<DatapathPort*> addPort(const DatapathPortSpec& spec) = 0;

  // Takes the port's queue pairs from the workers, waits until none touches
  // it, and frees it.
  virtual void removePort(DatapathPort* port) = 0;

  // Returns once every worker has passed a quiescent state after the call
  // began: stores published before are seen, older values are unused.
  virtual void quiesce() = 0;

  // Publishes a new policy for the port and frees the old one safely.
  virtual void replacePolicy(DatapathPort* port, const PortPolicy& policy) = 0;

  // Queues frames to go out, unchanged, on the member's uplink (queue 0, or
  // the worker's own queue on a shared uplink), through the command ring of
  // the worker that owns queue pair 0. Used for announcements after a
  // failover. The worker sends them in bursts per uplink queue, in order; a
  // frame the queue refuses waits for the next loop (dropped and counted
  // only after a long run of refusals). RESOURCE_EXHAUSTED when the ring or the
  // buffer pool is full (nothing queued); NOT_FOUND when the member has no
  // uplink.
  virtual Status sendOnMember(DatapathPort* port, lag::MemberId member,
                              const std::vector<std::vector<uint8_t>>& frames) = 0;
};

}  // namespace vfo::vhost
