// vfod's counters, declared once (vfo/base/stats.h).
//
// Threads: QueueStats and MemberStats of one (port, queue pair) are written
// only by the worker that owns that queue pair (single writer, relaxed
// atomics) and read by anyone at any time. Port totals are sums computed at
// read time. PortEventStats are written with fetch_add by the control and
// vhost-events threads.
#pragma once

#include "vfo/base/stats.h"

namespace vfo::vhost {

// Per (port, queue pair): what the relay did with every frame.
#define VFO_VHOST_QUEUE_STATS(X)                                                        \
  X(guest_tx_packets, "frames the guest sent (dequeued from its TX ring)")              \
  X(guest_tx_bytes, "bytes the guest sent")                                             \
  X(guest_rx_packets, "frames delivered to the guest (enqueued to its RX ring)")        \
  X(guest_rx_bytes, "bytes delivered to the guest")                                     \
  X(drop_spoofed_source, "guest frames dropped: source MAC not allowed")                \
  X(drop_guest_tagged, "guest frames dropped: 802.1Q tag on a VLAN port")               \
  X(drop_runt, "frames dropped: shorter than an Ethernet header")                       \
  X(drop_no_live_member, "guest frames dropped: no live member to send on")             \
  X(drop_uplink_tx_full, "guest frames dropped: the uplink TX queue was full")          \
  X(drop_tx_prepare, "guest frames dropped: the uplink refused their offload request")  \
  X(drop_port_inactive, "frames dropped: port not forwarding (incoming migration)")     \
  X(drop_guest_ring_full, "uplink frames dropped: the guest RX ring was full")          \
  X(drop_guest_not_ready, "uplink frames dropped: guest not connected or ring off")     \
  X(drop_standby_rx, "uplink frames dropped: received on a standby member")             \
  X(drop_vlan, "uplink frames dropped: untagged or another VLAN on a VLAN port")        \
  X(drop_not_for_guest, "uplink frames dropped: unicast to a MAC the port lacks")       \
  X(drop_tag_failed, "frames dropped: VLAN tag could not be inserted or removed")       \
  X(learner_copies, "frames copied to the address learner")                             \
  X(drop_learner_ring_full, "learner copies dropped: learner ring or buffer pool full") \
  X(announce_sent, "announce frames sent on an uplink for the control plane")           \
  X(drop_announce, "announce frames dropped: member missing or uplink TX full")         \
  X(local_switched, "guest frames switched to another port on the same shared uplink")  \
  X(local_flood_copies, "copies of guest broadcast/multicast given to local ports")     \
  X(drop_local_full, "local copies dropped: the other port's ring or the pool was full")
VFO_DECLARE_STATS(QueueStats, VFO_VHOST_QUEUE_STATS)

// Per (port, queue pair, member): traffic on one uplink queue.
#define VFO_VHOST_MEMBER_STATS(X)                                              \
  X(tx_packets, "frames sent on the member's uplink")                          \
  X(tx_bytes, "bytes sent on the member's uplink")                             \
  X(rx_packets, "frames received from the member's uplink (before filtering)") \
  X(rx_bytes, "bytes received from the member's uplink")                       \
  X(drop_tx_full, "frames the uplink TX queue refused")                        \
  X(drop_standby_rx, "frames received while the member was standby")
VFO_DECLARE_STATS(MemberStats, VFO_VHOST_MEMBER_STATS)

// Per port: control-plane events.
#define VFO_VHOST_PORT_EVENT_STATS(X)                                            \
  X(vhost_connects, "guest drivers that became ready (new_device)")              \
  X(vhost_disconnects, "guest drivers that went away (destroy_device)")          \
  X(vhost_refused, "guest drivers refused (e.g. more queue pairs than allowed)") \
  X(active_member_changes, "changes of the port's active member")
VFO_DECLARE_STATS(PortEventStats, VFO_VHOST_PORT_EVENT_STATS)

// Per shared uplink (one per member in VF_PROVIDER_SHARED): what its
// demultiplexer did with received frames. Written by the worker that polls
// the uplink only.
#define VFO_VHOST_SHARED_UPLINK_STATS(X)                                           \
  X(rx_packets, "frames received on the shared uplink")                            \
  X(rx_bytes, "bytes received on the shared uplink")                               \
  X(delivered, "frames (or copies) handed to a port's ring")                       \
  X(flood_copies, "copies made of broadcast/multicast frames, one per extra port") \
  X(drop_unknown_unicast, "unicast frames for a MAC no port has")                  \
  X(drop_standby, "frames for ports that use another member (standby)")            \
  X(drop_ring_full, "frames dropped: the port's ring or the buffer pool was full") \
  X(drop_runt, "frames shorter than an Ethernet header")
VFO_DECLARE_STATS(SharedUplinkStats, VFO_VHOST_SHARED_UPLINK_STATS)

// Per worker.
#define VFO_VHOST_WORKER_STATS(X)                                                   \
  X(loops, "poll loop iterations")                                                  \
  X(busy_loops, "iterations that moved at least one frame")                         \
  X(busy_tsc_cycles, "TSC cycles spent in busy iterations (the worker's own load)") \
  X(idle_sleeps, "sleeps taken after a run of empty polls")                         \
  X(idle_sleep_ns, "nanoseconds asked to sleep")                                    \
  X(commands, "control commands executed")                                          \
  X(drop_command_stale, "commands for a queue the worker no longer owns")
VFO_DECLARE_STATS(WorkerStats, VFO_VHOST_WORKER_STATS)

}  // namespace vfo::vhost
