// Announce scheduler: after a VM port moves to another member, tell the
// network where the port's addresses now live.
//
// Per schedule (one port on one member): a burst of RARP for every MAC,
// gratuitous ARP for every IPv4 address and an unsolicited NA for every IPv6
// address, repeated `announce_count` times; the first burst is due at once,
// each later one `announce_interval` after the previous burst finished. A
// port has at most one pending schedule: scheduling it again (a flap while
// an announce is pending) replaces the old one and starts over on the new
// member, so a flap never doubles the frames.
//
// A global token bucket (`max_frames_per_second`, depth `burst_frames`)
// bounds what all ports together put on the wire, so a 1000-VM failover
// cannot flood the ToR's control plane. Frames over the limit are deferred,
// never dropped: bursts are served in due-time order (ties: the order they
// became due), and nextDeadline() says when the next token arrives.
//
// A pure state machine in the OVS style: inputs schedule()/cancel()/
// onTick(now), time is injected, frames leave through the send callback,
// nothing sleeps or reads a clock. Threads: not thread-safe; one owner
// thread calls every method, and the callbacks run on it, inside
// onTick()/schedule()/cancel(); they must not call back into the
// scheduler. stats() may be read from any thread. onTick() builds frames in
// a stack buffer: it does not allocate per frame.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/ip_address.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/address_learner.h"
#include "vfo/lag/frames.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

struct AnnounceConfig {
  // Bursts per schedule. Default 3; valid 1..100.
  uint32_t announce_count = 3;
  // Gap from the end of one burst to the next. Default 50 ms; valid
  // 1 ms..60 s.
  Duration announce_interval = std::chrono::milliseconds(50);
  // Form of the gratuitous ARP. Default request (as Linux sends it).
  GarpForm garp_form = GarpForm::kRequest;
  // Global limit over all ports, frames per second; 0 = unlimited. Default
  // 10000; valid 0..10000000.
  uint32_t max_frames_per_second = 10000;
  // Token bucket depth: frames that may leave back to back after an idle
  // period. Default 2048: the first burst of a failover of 256 ports with 4
  // addresses each (256 RARP + 1024 GARP/NA) leaves at once; the sustained
  // rate stays max_frames_per_second. Valid 1..1000000.
  uint32_t burst_frames = 2048;

  // INVALID_ARGUMENT naming the field when a value is out of range.
  Status validate() const;
};

// A MAC to announce with RARP, with the VLAN it lives on.
struct AnnounceMac {
  MacAddress mac;         // unicast guest MAC
  VlanId vlan = kNoVlan;  // 802.1Q id on the member's wire, kNoVlan untagged
};
// An IPv4 address to announce with gratuitous ARP.
struct AnnounceIpv4 {
  MacAddress mac;         // owner of the address
  VlanId vlan = kNoVlan;  // 802.1Q id on the member's wire
  Ipv4Address ip;         // usable unicast address
};
// An IPv6 address to announce with an unsolicited NA.
struct AnnounceIpv6 {
  MacAddress mac;         // owner of the address
  VlanId vlan = kNoVlan;  // 802.1Q id on the member's wire
  Ipv6Address ip;         // usable unicast address (link-local included)
};

// Everything one burst announces, in this order: RARP for each of `macs`,
// GARP for each of `ipv4`, NA for each of `ipv6`. VLANs are as the frames
// must appear on the member's wire: the scheduler's frames are sent as is.
struct AnnounceSet {
  std::vector<AnnounceMac> macs;   // RARP per entry
  std::vector<AnnounceIpv4> ipv4;  // gratuitous ARP per entry
  std::vector<AnnounceIpv6> ipv6;  // unsolicited NA per entry
  size_t framesPerBurst() const { return macs.size() + ipv4.size() + ipv6.size(); }
};

// Bursts and gap of one schedule (AnnounceConfig's announce_count and
// announce_interval, or a port's own values).
struct AnnounceTiming {
  uint32_t count = 3;                                 // bursts, 1..100
  Duration interval = std::chrono::milliseconds(50);  // gap, 1 ms..60 s
  Status validate() const;                            // INVALID_ARGUMENT naming the field
  friend bool operator==(const AnnounceTiming&, const AnnounceTiming&) = default;
};

// The announce set for a port: RARP for every allowed MAC on `port_vlan`
// and on every other VLAN a learned entry of that MAC uses, plus every
// learned address. A learned VLAN of kNoVlan (the guest sent untagged)
// becomes `port_vlan` (the tag the datapath adds for the port, or kNoVlan).
AnnounceSet makeAnnounceSet(std::span<const MacAddress> allowed_macs, VlanId port_vlan,
                            std::span<const LearnedAddress> learned);

// How a schedule ended (or that it has not).
enum class AnnounceOutcome : uint8_t {
  kPending,    // bursts remain
  kCompleted,  // every burst was sent
  kRestarted,  // replaced by a newer schedule of the same port (flap)
  kCancelled,  // cancel() was called
};
std::string_view announceOutcomeName(AnnounceOutcome outcome);

// What one schedule did: the SR-IOV manager puts it into its failover event.
struct AnnounceRecord {
  PortIndex port = kNoPort;                             // the port announced
  MemberId member = kNoMember;                          // the member the frames went out on
  AnnounceOutcome outcome = AnnounceOutcome::kPending;  // how it ended
  uint32_t frames_per_burst = 0;                        // RARP + GARP + NA in one burst
  uint32_t bursts_sent = 0;                             // complete bursts so far
  uint32_t frames_sent = 0;                             // frames handed to the send callback
  uint32_t send_failures = 0;                           // of those, frames the callback refused
  uint32_t frames_deferred = 0;                         // frames the rate limit held back
  TimePoint cause_seen_at;                              // when the move's cause was seen
  TimePoint scheduled_at;                               // when schedule() was called
  TimePoint first_frame_at = kNever;                    // first frame sent, kNever if none
  TimePoint first_burst_at = kNever;  // last frame of the first burst sent, kNever until then
  TimePoint last_frame_at = kNever;   // last frame sent, kNever if none
  TimePoint ended_at = kNever;        // when the outcome was reached
};

#define VFO_ANNOUNCE_STATS(X)                                                                 \
  X(schedules, "announce schedules started")                                                  \
  X(restarted, "pending schedules replaced by a newer move of the same port (flap)")          \
  X(cancelled, "pending schedules cancelled")                                                 \
  X(completed, "schedules that sent all their bursts")                                        \
  X(bursts, "bursts completed")                                                               \
  X(frames_rarp, "RARP announce frames sent")                                                 \
  X(frames_garp, "gratuitous ARP frames sent")                                                \
  X(frames_na, "unsolicited Neighbor Advertisements sent")                                    \
  X(frames_deferred, "frames sent after their due time because the rate limit was exhausted") \
  X(send_failures, "frames the send callback could not queue")                                \
  X(rate_limited_ticks, "onTick() calls that stopped early on the rate limit")
VFO_DECLARE_STATS(AnnounceStats, VFO_ANNOUNCE_STATS)

class AnnounceScheduler {
 public:
  // Hands one frame to the datapath for `member` (the frame is only valid
  // during the call). Returns false when it could not be queued; the frame
  // is then counted as a send failure and not retried (later bursts repeat
  // it).
  using SendFn = std::function<bool(MemberId member, PortIndex port, FrameKind kind,
                                    std::span<const uint8_t> frame)>;
  // Called once per schedule when it stops being pending.
  using DoneFn = std::function<void(const AnnounceRecord& record)>;

  // INVALID_ARGUMENT when config.validate() fails or `send` is empty.
  static StatusOr<std::unique_ptr<AnnounceScheduler>> create(const AnnounceConfig& config,
                                                             SendFn send, DoneFn done = nullptr);

  // Starts announcing `set` for `port` on `member`; the first burst is due
  // at `now` (call onTick(now) next: nextDeadline() returns `now`). A
  // pending schedule of the port ends as kRestarted first. Errors
  // (INVALID_ARGUMENT, nothing changed): kNoPort/kNoMember, an empty set, a
  // set above 4096 frames per burst, and per entry a multicast/zero MAC, a
  // VLAN above 4094 or an address a host cannot own ("ipv4[1].ip:
  // 224.0.0.1 is not a unicast address a host can own").
  // `timing` overrides the configured burst count and interval for this
  // schedule (a port's own announce settings); INVALID_ARGUMENT when out of
  // the AnnounceConfig ranges.
  Status schedule(PortIndex port, MemberId member, AnnounceSet set, TimePoint now,
                  TimePoint cause_seen_at, std::optional<AnnounceTiming> timing = std::nullopt);

  // Replaces the configuration (operator UpdateLag): new schedules use the
  // new count and interval, pending ones keep theirs; the rate limit applies
  // from the next frame. INVALID_ARGUMENT (nothing changed) when invalid.
  Status setConfig(const AnnounceConfig& config);

  // Stops the port's pending schedule (outcome kCancelled). Returns false
  // when nothing was pending.
  bool cancel(PortIndex port, TimePoint now);

  // Sends every frame due at `now` that the rate limit allows.
  void onTick(TimePoint now);
  // When onTick() next has something to do: the earliest due burst, or the
  // next token when that burst is held by the rate limit; kNever when idle.
  TimePoint nextDeadline() const;

  // The port's pending schedule, else its last finished one; nullopt if the
  // port never had one (or forgetPort() was called).
  std::optional<AnnounceRecord> record(PortIndex port) const;
  // Drops the port's pending schedule (as cancel()) and its record.
  void forgetPort(PortIndex port, TimePoint now);
  size_t pendingCount() const { return pending_.size(); }

  const AnnounceConfig& config() const { return config_; }
  AnnounceStatsSnapshot stats() const { return stats_.snapshot(); }

 private:
  AnnounceScheduler(const AnnounceConfig& config, SendFn send, DoneFn done);

  // Order of pending bursts: due time, then the order they were queued.
  struct Key {
    TimePoint due;  // when the current burst is due
    uint64_t seq;   // enqueue order: first come, first served among equal due times
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  struct Pending {
    MemberId member;        // where the frames go
    AnnounceTiming timing;  // bursts and gap of this schedule
    AnnounceSet set;        // what one burst announces
    Key key;                // position in queue_
    uint32_t next = 0;      // index of the next frame of the current burst
    AnnounceRecord record;  // progress so far, outcome kPending
  };

  void finish(std::unordered_map<PortIndex, Pending>::iterator it, AnnounceOutcome outcome,
              TimePoint now);
  void enqueue(PortIndex port, Pending& p, TimePoint due);
  // Builds frame `index` of the burst into `buf`; returns its length and kind.
  size_t buildFrame(const AnnounceSet& set, uint32_t index, std::span<uint8_t> buf,
                    FrameKind& kind) const;
  void refill(TimePoint now);
  bool limited() const { return config_.max_frames_per_second != 0; }

  AnnounceConfig config_;
  SendFn send_;
  DoneFn done_;
  std::unordered_map<PortIndex, Pending> pending_;
  std::map<Key, PortIndex> queue_;  // pending bursts in service order
  std::unordered_map<PortIndex, AnnounceRecord> finished_;
  uint64_t next_seq_ = 0;

  // Token bucket in units of 1e-9 frame: one frame costs kTokenUnit, refill
  // adds max_frames_per_second units per nanosecond. Integer, exact.
  int64_t tokens_ = 0;
  TimePoint bucket_at_{Duration::min()};  // time of the last refill; min = never refilled
  // Latest onTick() that stopped on the rate limit: a burst due at or before
  // it had frames held back.
  TimePoint throttled_at_{Duration::min()};
  AnnounceStats stats_;
};

}  // namespace vfo::lag
