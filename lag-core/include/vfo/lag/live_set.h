// The datapath's view of a LAG group: an immutable snapshot of the live
// members, published RCU-style by the control thread and read lock-free by
// any number of datapath threads.
//
// Publication: the control thread builds a new LiveSet, swaps the atomic
// pointer, and retires the old snapshot. A retired snapshot is freed only
// after a grace period: every registered reader has reported a quiescent
// state (a point where it holds no LiveSet pointer) since the swap. The
// grace-period mechanism is the injectable GracePeriodDomain; QsbrDomain is
// our own quiescent-state-based implementation, and the vhost datapath can
// plug rte_rcu_qsbr in instead (start() = rte_rcu_qsbr_start, completed() =
// rte_rcu_qsbr_check(..., wait=false)).
//
// Reader contract (datapath thread):
//   uint32_t id = *domain.registerReader();   // once, at thread start
//   loop: const LiveSet* s = publisher.current();   // no lock, no allocation
//         m = s->selectFlow(frame, len) for each packet of the burst
//         domain.quiescent(id);                      // s must not be used after this
//   domain.offline(id) before blocking; online(id) after; unregisterReader at exit.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/lag/flow_hash.h"
#include "vfo/lag/lag_config.h"
#include "vfo/lag/types.h"

namespace vfo::lag {

// Immutable once published: readers may use it without synchronisation
// until their next quiescent state.
struct LiveSet {
  uint64_t generation = 0;                  // 1 for the first publish, +1 for each
  HashPolicy policy = HashPolicy::kLayer2;  // balance-flow hash policy
  MemberId active = kNoMember;  // active-backup / follow: the active member; else kNoMember
  uint32_t count = 0;           // number of live members in `members`
  uint64_t count_magic = 0;     // fastmod constant for `count` (see setMembers)
  std::array<MemberId, kMaxMembers> members{};  // live members, ascending id (like usable_slaves)

  // Sets members[0..n) and the divisor constant. n <= kMaxMembers.
  void setMembers(const MemberId* ids, uint32_t n);

  // Datapath: the member for this frame under balance-flow
  // (bond_xmit_hash(frame) % count), kNoMember when no member is live.
  // No allocation, no locks; reads at most len bytes.
  MemberId selectFlow(const uint8_t* frame, size_t len) const {
    if (count == 0) return kNoMember;
    return members[modCount(bondXmitHash(policy, frame, len))];
  }

  // hash % count without a division (Lemire's exact 32-bit fastmod).
  uint32_t modCount(uint32_t hash) const {
    const uint64_t low = count_magic * hash;
    return uint32_t((static_cast<unsigned __int128>(low) * count) >> 64);
  }
};

// Grace-period hook: how the publisher learns that no reader can still hold
// a retired snapshot. Writer-side methods are called from the control thread only.
class GracePeriodDomain {
 public:
  virtual ~GracePeriodDomain() = default;
  // Called right after the pointer swap; returns a token for completed().
  virtual uint64_t start() = 0;
  // True once every reader has been quiescent (or offline) since start()
  // returned `token`. Must not block.
  virtual bool completed(uint64_t token) = 0;
};

// Quiescent-state-based reclamation with a fixed table of reader slots.
// Each slot holds the last grace-period token its reader observed at a
// quiescent state (0 = offline). All operations are seq_cst atomics: the
// proof is the usual one (a reader that observed token T at a quiescent
// state did so after the writer's swap, so everything it did with the old
// pointer happened before; a reader that comes online after the writer
// looked at its slot loads the new pointer).
class QsbrDomain final : public GracePeriodDomain {
 public:
  static constexpr uint32_t kMaxReaders = 64;

  // Any thread. The new reader starts online. RESOURCE_EXHAUSTED when all
  // kMaxReaders slots are taken.
  StatusOr<uint32_t> registerReader();
  // The reader's own thread (or after it exited). Frees the slot.
  void unregisterReader(uint32_t id);
  // Reader thread: it holds no LiveSet pointer now. Cheap: one load, one store.
  void quiescent(uint32_t id) {
    slots_[id].seen.store(token_.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }
  // Reader thread: stop/resume being waited for (around blocking calls).
  void offline(uint32_t id) { slots_[id].seen.store(0, std::memory_order_seq_cst); }
  void online(uint32_t id) { quiescent(id); }

  uint64_t start() override;
  bool completed(uint64_t token) override;

 private:
  struct alignas(64) Slot {
    std::atomic<bool> used{false};  // registered
    std::atomic<uint64_t> seen{0};  // last token at a quiescent state; 0 = offline
  };
  std::atomic<uint64_t> token_{1};  // current grace-period counter, starts at 1
  std::array<Slot, kMaxReaders> slots_;
};

// Owns the current LiveSet and the retired ones awaiting their grace period.
// publish()/reclaim() on the control thread only; current() from any thread.
class LiveSetPublisher {
 public:
  // `domain` is not owned and must outlive the publisher. Starts with an
  // empty snapshot (generation 0, no live member).
  explicit LiveSetPublisher(GracePeriodDomain* domain);
  // Frees everything: every reader must have stopped using the publisher.
  ~LiveSetPublisher();
  LiveSetPublisher(const LiveSetPublisher&) = delete;
  LiveSetPublisher& operator=(const LiveSetPublisher&) = delete;

  // Datapath: the current snapshot, never null. Valid until the calling
  // reader's next quiescent state.
  const LiveSet* current() const { return current_.load(std::memory_order_seq_cst); }

  // Control thread: publishes a copy of `next` with the next generation
  // number, retires the previous snapshot and frees every retired one whose
  // grace period completed. Allocates (control plane only).
  void publish(const LiveSet& next);
  // Control thread: frees retired snapshots whose grace period completed;
  // returns how many are still waiting.
  size_t reclaim();
  size_t retiredCount() const { return retired_.size(); }
  uint64_t generation() const { return generation_; }

 private:
  struct Retired {
    const LiveSet* set;  // unpublished snapshot
    uint64_t token;      // grace period that must complete before freeing it
  };
  GracePeriodDomain* domain_;
  std::atomic<const LiveSet*> current_;
  std::vector<Retired> retired_;
  uint64_t generation_ = 0;
};

}  // namespace vfo::lag
