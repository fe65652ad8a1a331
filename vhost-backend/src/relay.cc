#include "vfo/vhost/relay.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstring>

#include "dpdk_vhost.h"

namespace vfo::vhost {

struct Relay::Plan {
  std::vector<QueueUnit*> units;       // immutable once published
  std::vector<Relay::Shared*> shared;  // shared uplinks this worker polls
};

// A snapshot of which port owns which MAC on one shared uplink. Immutable
// once published; freed after a quiesce.
struct Relay::MacTable {
  struct Entry {
    uint64_t mac;        // MacSet::key() of the MAC
    DatapathPort* port;  // owner
    friend bool operator<(const Entry& a, const Entry& b) { return a.mac < b.mac; }
  };
  std::vector<Entry> entries;          // sorted by mac, unique
  std::vector<DatapathPort*> ports;    // every port using the uplink (flooding)
  std::vector<DatapathPort*> foreign;  // ports that take unknown unicast too

  DatapathPort* find(uint64_t mac) const {
    auto it = std::lower_bound(entries.begin(), entries.end(), Entry{mac, nullptr});
    return it != entries.end() && it->mac == mac ? it->port : nullptr;
  }
};

struct Relay::Shared {
  SharedUplinkSpec spec;  // immutable
  int worker = -1;        // control thread: index of the polling worker
  std::atomic<const MacTable*> table{nullptr};
  std::unique_ptr<const MacTable> owned;                 // control thread: storage behind `table`
  std::vector<std::unique_ptr<const MacTable>> retired;  // replaced, freed after a quiesce
  SharedUplinkStats stats;                               // written by the polling worker
};

namespace {

// Whether the port's current steering delivers frames received on `member`.
bool receivesOn(const DatapathPort& p, lag::MemberId member) {
  return Steering::unpack(p.steering.load(std::memory_order_acquire)).rx_members & (1u << member);
}

}  // namespace

// Command ring element: send `frame` unchanged on `member`.
struct Relay::Command {
  rte_mbuf* frame;    // owned by the command until sent or freed
  uint64_t port_key;  // DatapathPort::key
  uint32_t member;    // lag::MemberId
  uint32_t retries;   // loops it already waited for its uplink queue (worker only)
};

// Commands a worker takes per loop. Frames their uplink queue refused wait,
// in order, for the next loop (at most kCommandBurst), and are dropped after
// kCommandRetries loops.
inline constexpr unsigned kCommandBurst = 64;
inline constexpr uint32_t kCommandRetries = 100000;

struct alignas(64) Relay::Worker {
  std::vector<Relay::Shared*> shared;      // control thread: shared uplinks it polls
  Relay* relay = nullptr;                  // owner
  uint32_t index = 0;                      // QSBR thread id and position in workers_
  unsigned lcore = 0;                      // EAL lcore it runs on
  std::atomic<const Plan*> plan{nullptr};  // what the worker polls
  std::unique_ptr<Plan> current;           // control thread: storage behind `plan`
  std::vector<QueueUnit*> units;           // control thread: master copy of the plan
  rte_ring* learner = nullptr;             // worker -> control, SP/SC
  rte_ring* commands = nullptr;            // control -> worker, SP/SC
  WorkerStats stats;                       // written by the worker
  Command pending[kCommandBurst];          // worker only: refused commands, in order
  unsigned pending_n = 0;                  // worker only: entries in `pending`
};

// Learner ring element (rte_ring element size must be a multiple of 4).
struct Relay::LearnerItem {
  rte_mbuf* frame;     // copy from learner_pool_, freed by the consumer
  uint64_t port_key;   // DatapathPort::key
  uint32_t direction;  // Direction
  uint32_t pad;        // keeps the size a multiple of 8
};
static_assert(sizeof(void*) == 8);

Duration nextIdleSleep(uint32_t empty_polls, Duration previous, Duration max) {
  if (max.count() <= 0 || empty_polls < kEmptyPollsBeforeSleep) return Duration(0);
  if (previous.count() <= 0) return std::min<Duration>(kFirstIdleSleep, max);
  return std::min<Duration>(previous * 2, max);
}

Relay::Relay(const RelayOptions& options) : options_(options) {}

StatusOr<std::unique_ptr<Relay>> Relay::create(const RelayOptions& options) {
  if (options.worker_lcores.empty()) return invalidArgument("relay: no worker lcores");
  auto pow2 = [](uint32_t n) { return n >= 2 && (n & (n - 1)) == 0; };
  if (!pow2(options.learner_ring_size) || !pow2(options.command_ring_size))
    return invalidArgument("relay: ring sizes must be powers of two");
  std::unique_ptr<Relay> r(new Relay(options));
  const int socket = int(rte_socket_id());

  r->pool_ = rte_pktmbuf_pool_create("vfo_mbufs", options.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     socket);
  if (!r->pool_)
    return resourceExhausted(
        fmt::format("relay: cannot create the packet pool of {} mbufs: {} "
                    "(raise memory.size_mb or lower memory.mbufs)",
                    options.mbufs, rte_strerror(rte_errno)));
  const uint32_t learner_mbufs = std::max<uint32_t>(
      2048, options.learner_ring_size * uint32_t(options.worker_lcores.size()) + 512);
  r->learner_pool_ =
      rte_pktmbuf_pool_create("vfo_learn", learner_mbufs, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (!r->learner_pool_)
    return resourceExhausted(
        fmt::format("relay: cannot create the learner pool: {}", rte_strerror(rte_errno)));

  const uint32_t n = uint32_t(options.worker_lcores.size());
  const size_t qs_size = rte_rcu_qsbr_get_memsize(n);
  r->qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("vfo_qsbr", qs_size, RTE_CACHE_LINE_SIZE));
  if (!r->qsbr_ || rte_rcu_qsbr_init(r->qsbr_, n) != 0)
    return resourceExhausted("relay: cannot allocate the QSBR variable");

  for (uint32_t i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->relay = r.get();
    w->index = i;
    w->lcore = options.worker_lcores[i];
    w->current = std::make_unique<Plan>();
    w->plan.store(w->current.get(), std::memory_order_release);
    w->learner =
        rte_ring_create_elem(fmt::format("vfo_learn{}", i).c_str(), sizeof(LearnerItem),
                             options.learner_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    w->commands =
        rte_ring_create_elem(fmt::format("vfo_cmd{}", i).c_str(), sizeof(Command),
                             options.command_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!w->learner || !w->commands)
      return resourceExhausted(fmt::format("relay: cannot create the rings of worker {}: {}", i,
                                           rte_strerror(rte_errno)));
    r->workers_.push_back(std::move(w));
  }
  return r;
}

Relay::~Relay() {
  stop();
  for (auto& w : workers_) {
    // Frames still queued belong to nobody now.
    if (w->learner) {
      LearnerItem item;
      while (rte_ring_sc_dequeue_elem(w->learner, &item, sizeof item) == 0)
        rte_pktmbuf_free(item.frame);
      rte_ring_free(w->learner);
    }
    if (w->commands) {
      Command c;
      while (rte_ring_sc_dequeue_elem(w->commands, &c, sizeof c) == 0) rte_pktmbuf_free(c.frame);
      rte_ring_free(w->commands);
    }
    for (unsigned i = 0; i < w->pending_n; ++i) rte_pktmbuf_free(w->pending[i].frame);
  }
  if (!ports_.empty())
    log_.error("", "{} ports still present at shutdown; freeing them", ports_.size());
  for (auto& [key, port] : ports_) freeSharedRings(*port);
  ports_.clear();
  rte_free(qsbr_);
  rte_mempool_free(learner_pool_);
  rte_mempool_free(pool_);
}

Status Relay::start() {
  if (started_) return okStatus();
  for (const auto& w : workers_) {
    if (!rte_lcore_is_enabled(w->lcore) || w->lcore == rte_get_main_lcore())
      return failedPrecondition(
          fmt::format("relay: lcore {} is not an EAL worker lcore", w->lcore));
    if (rte_rcu_qsbr_thread_register(qsbr_, w->index) != 0)
      return internalError("relay: QSBR registration failed");
  }
  running_.store(true, std::memory_order_release);
  for (auto& w : workers_) {
    if (int rc = rte_eal_remote_launch(&Relay::workerEntry, w.get(), w->lcore); rc != 0) {
      stop();
      return failedPrecondition(
          fmt::format("relay: cannot launch worker on lcore {}: {}", w->lcore, rte_strerror(-rc)));
    }
    log_.info(fmt::format("[worker {}]", w->index), "started on lcore {}", w->lcore);
  }
  started_ = true;
  return okStatus();
}

void Relay::stop() {
  if (!running_.exchange(false)) return;
  for (auto& w : workers_) {
    rte_eal_wait_lcore(w->lcore);
    rte_rcu_qsbr_thread_unregister(qsbr_, w->index);
  }
  started_ = false;
  log_.info("", "workers stopped");
}

int Relay::workerEntry(void* arg) {
  auto* w = static_cast<Worker*>(arg);
  return w->relay->workerLoop(*w);
}

int Relay::workerLoop(Worker& w) {
  // Short sleeps must stay short: the default 50 us timer slack would turn
  // a 1 us backoff into 50 us.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  const Duration max_sleep = options_.idle_backoff_max;
  uint32_t empty_polls = 0;
  Duration sleep{0};
  rte_rcu_qsbr_thread_online(qsbr_, w.index);
  while (running_.load(std::memory_order_relaxed)) {
    // Nothing loaded in earlier iterations is used past this point.
    rte_rcu_qsbr_quiescent(qsbr_, w.index);
    // Accounting only (busy_tsc_cycles: frames per busy cycle is the
    // worker's capacity, see bench/relay); no decision reads the TSC.
    const uint64_t loop_start = rte_rdtsc();
    const Plan* plan = w.plan.load(std::memory_order_acquire);
    uint32_t moved = runCommands(w, *plan);
    for (Shared* su : plan->shared) moved += pollShared(w, *su);
    for (QueueUnit* u : plan->units) moved += relayUnit(w, *u);
    bump(w.stats.loops);
    if (moved != 0) {
      bump(w.stats.busy_loops);
      bump(w.stats.busy_tsc_cycles, rte_rdtsc() - loop_start);
      empty_polls = 0;
      sleep = Duration(0);
      continue;
    }
    if (empty_polls < kEmptyPollsBeforeSleep) ++empty_polls;
    sleep = nextIdleSleep(empty_polls, sleep, max_sleep);
    if (sleep.count() == 0) continue;
    // Offline while asleep so quiesce() does not wait for the sleep.
    rte_rcu_qsbr_thread_offline(qsbr_, w.index);
    timespec ts{0, long(sleep.count())};
    nanosleep(&ts, nullptr);
    rte_rcu_qsbr_thread_online(qsbr_, w.index);
    bump(w.stats.idle_sleeps);
    bump(w.stats.idle_sleep_ns, uint64_t(sleep.count()));
  }
  rte_rcu_qsbr_thread_offline(qsbr_, w.index);
  return 0;
}

uint32_t Relay::relayUnit(Worker& w, QueueUnit& u) {
  DatapathPort& p = *u.port;
  const int vid = p.vid.load(std::memory_order_acquire);
  const uint16_t guest_qps = p.guest_queue_pairs.load(std::memory_order_acquire);
  const PortPolicy* pol = p.policy.load(std::memory_order_acquire);
  const Steering st = Steering::unpack(p.steering.load(std::memory_order_acquire));
  const bool forwarding = p.forwarding.load(std::memory_order_acquire);
  uint32_t moved = 0;
  if (vid >= 0 && u.qp < guest_qps && p.vring_enabled[2 * u.qp + 1].load(std::memory_order_acquire))
    moved += fromGuest(w, u, vid, *pol, st, forwarding);
  moved += toGuest(w, u, vid, *pol, st, forwarding, guest_qps);
  return moved;
}

void Relay::copyToLearner(Worker& w, QueueUnit& u, rte_mbuf* m, Direction dir) {
  rte_mbuf* copy = rte_pktmbuf_copy(m, learner_pool_, 0, UINT32_MAX);
  if (!copy) {
    bump(u.stats.drop_learner_ring_full);
    return;
  }
  LearnerItem item{copy, u.port->key, uint32_t(dir), 0};
  if (rte_ring_sp_enqueue_elem(w.learner, &item, sizeof item) != 0) {
    rte_pktmbuf_free(copy);
    bump(u.stats.drop_learner_ring_full);
    return;
  }
  bump(u.stats.learner_copies);
}

uint32_t Relay::fromGuest(Worker& w, QueueUnit& u, int vid, const PortPolicy& pol, Steering st,
                          bool forwarding) {
  DatapathPort& p = *u.port;
  rte_mbuf* pkts[kBurstSize];
  const uint16_t n = rte_vhost_dequeue_burst(vid, uint16_t(2 * u.qp + 1), pool_, pkts, kBurstSize);
  if (n == 0) return 0;
  QueueStats& s = u.stats;
  const MemberSelector* sel = p.selector.load(std::memory_order_acquire);

  rte_mbuf* out[kMaxMembers][kBurstSize];
  uint16_t out_n[kMaxMembers] = {};
  uint64_t out_bytes[kMaxMembers] = {};
  uint64_t bytes = 0;
  rte_mbuf* drop[kBurstSize];
  uint16_t drop_n = 0;

  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    bytes += m->pkt_len;
    if (!forwarding) {
      bump(s.drop_port_inactive);
      drop[drop_n++] = m;
      continue;
    }
    const FrameView f{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
    const GuestDecision d = classifyFromGuest(f, pol.macs, pol.vlan);
    if (d.verdict != GuestVerdict::kForward) {
      switch (d.verdict) {
        case GuestVerdict::kDropSpoofed:
          bump(s.drop_spoofed_source);
          break;
        case GuestVerdict::kDropTagged:
          bump(s.drop_guest_tagged);
          break;
        default:
          bump(s.drop_runt);
          break;
      }
      drop[drop_n++] = m;
      continue;
    }
    if (d.learn) copyToLearner(w, u, m, Direction::kFromGuest);
    const lag::MemberId member = sel ? sel->select(sel->context, f.data, f.len) : st.tx_member;
    if (member >= p.member_count || !p.uplinks[member].present) {
      bump(s.drop_no_live_member);
      drop[drop_n++] = m;
      continue;
    }
    if (pol.vlan != lag::kNoVlan) {
      m->vlan_tci = pol.vlan;
      if (p.uplinks[member].tx_vlan_offload) {
        m->ol_flags |= RTE_MBUF_F_TX_VLAN;
      } else if (rte_vlan_insert(&m) != 0) {
        bump(s.drop_tag_failed);
        drop[drop_n++] = m;
        continue;
      }
    }
    out[member][out_n[member]++] = m;
    out_bytes[member] += m->pkt_len;
  }
  bump(s.guest_tx_packets, n);
  bump(s.guest_tx_bytes, bytes);
  if (drop_n) rte_pktmbuf_free_bulk(drop, drop_n);

  for (uint32_t member = 0; member < p.member_count; ++member) {
    const uint16_t k = out_n[member];
    if (k == 0) continue;
    MemberStats& ms = u.members[member];
    const UplinkPort& up = p.uplinks[member];
    uint16_t ready = k;
    uint16_t txq = u.qp;
    if (up.shared >= 0) {
      txq = uint16_t(w.index);
      ready = switchLocal(u, *shared_[size_t(up.shared)], out[member], k, &out_bytes[member]);
      if (ready == 0) continue;
    } else if (up.tx_prepare) {
      // Checksum/TSO offloads the guest asked for (the vhost library set
      // the mbuf flags): let the driver fix up headers; drop what it refuses.
      ready = rte_eth_tx_prepare(up.eth_port, u.qp, out[member], k);
      if (ready < k) {
        for (uint16_t i = ready; i < k; ++i) out_bytes[member] -= out[member][i]->pkt_len;
        rte_pktmbuf_free_bulk(&out[member][ready], k - ready);
        bump(s.drop_tx_prepare, k - ready);
      }
    }
    const uint16_t sent = rte_eth_tx_burst(up.eth_port, txq, out[member], ready);
    uint64_t sent_bytes = out_bytes[member];
    if (sent < ready) {
      for (uint16_t i = sent; i < ready; ++i) sent_bytes -= out[member][i]->pkt_len;
      rte_pktmbuf_free_bulk(&out[member][sent], ready - sent);
      bump(s.drop_uplink_tx_full, ready - sent);
      bump(ms.drop_tx_full, ready - sent);
    }
    bump(ms.tx_packets, sent);
    bump(ms.tx_bytes, sent_bytes);
  }
  return n;
}

uint32_t Relay::toGuest(Worker& w, QueueUnit& u, int vid, const PortPolicy& pol, Steering st,
                        bool forwarding, uint16_t guest_qps) {
  DatapathPort& p = *u.port;
  QueueStats& s = u.stats;
  // The guest RX ring for this queue pair; queue pair 0's when the guest
  // runs fewer queue pairs than the uplink spreads flows over.
  int rx_vring = -1;
  if (vid >= 0) {
    if (u.qp < guest_qps && p.vring_enabled[2 * u.qp].load(std::memory_order_acquire))
      rx_vring = 2 * u.qp;
    else if (guest_qps > 0 && p.vring_enabled[0].load(std::memory_order_acquire))
      rx_vring = 0;
  }
  uint32_t moved = 0;
  rte_mbuf* pkts[kBurstSize];
  rte_mbuf* keep[kBurstSize];
  rte_mbuf* drop[kBurstSize];
  for (uint32_t member = 0; member < p.member_count; ++member) {
    const UplinkPort& up = p.uplinks[member];
    if (!up.present) continue;
    uint16_t n;
    if (up.shared < 0)
      n = rte_eth_rx_burst(up.eth_port, u.qp, pkts, kBurstSize);
    else if (u.qp == 0)
      n = uint16_t(rte_ring_sc_dequeue_burst(p.shared_rx[member], reinterpret_cast<void**>(pkts),
                                             kBurstSize, nullptr));
    else
      continue;
    if (n == 0) continue;
    moved += n;
    MemberStats& ms = u.members[member];
    uint64_t rx_bytes = 0;
    for (uint16_t i = 0; i < n; ++i) rx_bytes += pkts[i]->pkt_len;
    bump(ms.rx_packets, n);
    bump(ms.rx_bytes, rx_bytes);
    if (!(st.rx_members & (1u << member))) {
      // A standby member: drop like a bond's backup slave, so broadcast
      // and flooded frames do not reach the guest twice.
      bump(ms.drop_standby_rx, n);
      bump(s.drop_standby_rx, n);
      rte_pktmbuf_free_bulk(pkts, n);
      continue;
    }
    if (!forwarding) {
      bump(s.drop_port_inactive, n);
      rte_pktmbuf_free_bulk(pkts, n);
      continue;
    }
    if (rx_vring < 0) {
      bump(s.drop_guest_not_ready, n);
      rte_pktmbuf_free_bulk(pkts, n);
      continue;
    }
    uint16_t keep_n = 0, drop_n = 0;
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      StrippedTag tag;
      if (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) {
        tag.present = true;
        tag.tci = m->vlan_tci;
      }
      const FrameView f{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
      const UplinkDecision d =
          classifyFromUplink(f, tag, pol.macs, pol.vlan, pol.deliver_foreign_unicast);
      if (d.verdict != UplinkVerdict::kDeliver) {
        switch (d.verdict) {
          case UplinkVerdict::kDropVlan:
            bump(s.drop_vlan);
            break;
          case UplinkVerdict::kDropNotForGuest:
            bump(s.drop_not_for_guest);
            break;
          default:
            bump(s.drop_runt);
            break;
        }
        drop[drop_n++] = m;
        continue;
      }
      if (d.tag == TagAction::kStripInband) {
        if (rte_vlan_strip(m) != 0) {
          bump(s.drop_tag_failed);
          drop[drop_n++] = m;
          continue;
        }
      } else if (d.tag == TagAction::kReinsertStripped) {
        m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
        if (rte_vlan_insert(&m) != 0) {
          bump(s.drop_tag_failed);
          drop[drop_n++] = m;
          continue;
        }
      }
      if (d.learn) copyToLearner(w, u, m, Direction::kToGuest);
      keep[keep_n++] = m;
    }
    if (keep_n) {
      const uint16_t enq = rte_vhost_enqueue_burst(vid, uint16_t(rx_vring), keep, keep_n);
      uint64_t enq_bytes = 0;
      for (uint16_t i = 0; i < enq; ++i) enq_bytes += keep[i]->pkt_len;
      bump(s.guest_rx_packets, enq);
      bump(s.guest_rx_bytes, enq_bytes);
      if (enq < keep_n) bump(s.drop_guest_ring_full, keep_n - enq);
      // The enqueue copies into guest memory: every mbuf is ours to free.
      rte_pktmbuf_free_bulk(keep, keep_n);
    }
    if (drop_n) rte_pktmbuf_free_bulk(drop, drop_n);
  }
  return moved;
}

namespace {

// Where copies of one broadcast/multicast frame went.
struct FloodResult {
  uint32_t delivered = 0;  // copies enqueued
  uint32_t standby = 0;    // ports skipped: they receive on another member
  uint32_t full = 0;       // copies lost: ring or pool full
};

// Enqueues a copy of `m` (not consumed) to every port in `ports` except
// `except` that receives on `member`.
FloodResult floodCopies(rte_mempool* pool, const std::vector<DatapathPort*>& ports,
                        lag::MemberId member, rte_mbuf* m, const DatapathPort* except) {
  FloodResult r;
  for (DatapathPort* p : ports) {
    if (p == except) continue;
    if (!receivesOn(*p, member)) {
      ++r.standby;
      continue;
    }
    rte_mbuf* copy = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);
    if (!copy || rte_ring_mp_enqueue(p->shared_rx[member], copy) != 0) {
      if (copy) rte_pktmbuf_free(copy);
      ++r.full;
      continue;
    }
    ++r.delivered;
  }
  return r;
}

}  // namespace

uint32_t Relay::pollShared(Worker&, Shared& su) {
  const MacTable* table = su.table.load(std::memory_order_acquire);
  const lag::MemberId member = su.spec.member;
  SharedUplinkStats& s = su.stats;
  uint32_t moved = 0;
  rte_mbuf* pkts[kBurstSize];
  for (uint16_t q = 0; q < su.spec.rx_queues; ++q) {
    const uint16_t n = rte_eth_rx_burst(su.spec.eth_port, q, pkts, kBurstSize);
    if (n == 0) continue;
    moved += n;
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) bytes += pkts[i]->pkt_len;
    bump(s.rx_packets, n);
    bump(s.rx_bytes, bytes);
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      if (m->data_len < kEthHeaderLen) {
        bump(s.drop_runt);
        rte_pktmbuf_free(m);
        continue;
      }
      const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
      DatapathPort* p = (d[0] & 1) ? nullptr : table->find(MacSet::key(d));
      if (p == nullptr) {
        // Broadcast/multicast to every port; unknown unicast only to the
        // ports that take foreign unicast.
        const bool flood = d[0] & 1;
        const auto& to = flood ? table->ports : table->foreign;
        if (!flood && to.empty()) {
          bump(s.drop_unknown_unicast);
        } else {
          const FloodResult r = floodCopies(pool_, to, member, m, nullptr);
          bump(s.delivered, r.delivered);
          if (r.delivered > 1) bump(s.flood_copies, r.delivered - 1);
          bump(s.drop_standby, r.standby);
          bump(s.drop_ring_full, r.full);
        }
        rte_pktmbuf_free(m);
        continue;
      }
      if (!receivesOn(*p, member)) {
        bump(s.drop_standby);
        rte_pktmbuf_free(m);
      } else if (rte_ring_mp_enqueue(p->shared_rx[member], m) != 0) {
        bump(s.drop_ring_full);
        rte_pktmbuf_free(m);
      } else {
        bump(s.delivered);
      }
    }
  }
  return moved;
}

uint16_t Relay::switchLocal(QueueUnit& u, Shared& su, rte_mbuf** frames, uint16_t n,
                            uint64_t* bytes) {
  const MacTable* t = su.table.load(std::memory_order_acquire);
  if (t->ports.size() <= 1) return n;  // no other local port
  const lag::MemberId member = su.spec.member;
  uint16_t keep = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = frames[i];
    const uint8_t* d = rte_pktmbuf_mtod(m, const uint8_t*);
    if (d[0] & 1) {
      // Out on the wire, and to the local ports that listen on this member
      // (the ToR does not send it back to them).
      const FloodResult r = floodCopies(pool_, t->ports, member, m, u.port);
      bump(u.stats.local_flood_copies, r.delivered);
      bump(u.stats.drop_local_full, r.full);
      frames[keep++] = m;
      continue;
    }
    DatapathPort* p = t->find(MacSet::key(d));
    // A local port that receives on another member is reached through the
    // ToR like any remote host.
    if (p == nullptr || p == u.port || !receivesOn(*p, member)) {
      frames[keep++] = m;
      continue;
    }
    *bytes -= m->pkt_len;
    if (rte_ring_mp_enqueue(p->shared_rx[member], m) == 0) {
      bump(u.stats.local_switched);
    } else {
      bump(u.stats.drop_local_full);
      rte_pktmbuf_free(m);
    }
  }
  return keep;
}

uint32_t Relay::runCommands(Worker& w, const Plan& plan) {
  // Frames refused last loop go first, then new commands.
  Command cmds[kCommandBurst];
  unsigned n = w.pending_n;
  std::copy(w.pending, w.pending + n, cmds);
  w.pending_n = 0;
  const unsigned fresh = rte_ring_sc_dequeue_burst_elem(w.commands, cmds + n, sizeof(Command),
                                                        kCommandBurst - n, nullptr);
  bump(w.stats.commands, fresh);
  n += fresh;
  if (n == 0) return 0;

  // Where each goes. A port's frames come together: reuse the last lookup.
  struct Target {
    QueueUnit* unit;  // queue pair 0 of the port
    uint16_t eth;     // uplink ethdev
    uint16_t txq;     // its TX queue (the worker's own on a shared uplink)
  };
  Target to[kCommandBurst];
  unsigned k = 0;
  QueueUnit* last = nullptr;
  for (unsigned i = 0; i < n; ++i) {
    Command& c = cmds[i];
    QueueUnit* unit = last && last->port->key == c.port_key ? last : nullptr;
    for (size_t j = 0; !unit && j < plan.units.size(); ++j)
      if (plan.units[j]->port->key == c.port_key && plan.units[j]->qp == 0) unit = plan.units[j];
    if (!unit) {
      bump(w.stats.drop_command_stale);
      rte_pktmbuf_free(c.frame);
      continue;
    }
    last = unit;
    DatapathPort& p = *unit->port;
    if (c.member >= p.member_count || !p.uplinks[c.member].present) {
      bump(unit->stats.drop_announce);
      rte_pktmbuf_free(c.frame);
      continue;
    }
    const UplinkPort& up = p.uplinks[c.member];
    to[k] = Target{unit, up.eth_port, up.shared >= 0 ? uint16_t(w.index) : uint16_t(0)};
    cmds[k++] = c;
  }

  // One burst per run of frames for the same uplink queue. A queue that
  // refused frames takes no more this loop: later ones would overtake them.
  rte_mbuf* burst[kCommandBurst];
  std::pair<uint16_t, uint16_t> full[kCommandBurst];
  unsigned full_n = 0;
  for (unsigned i = 0; i < k;) {
    unsigned j = i;
    while (j < k && to[j].eth == to[i].eth && to[j].txq == to[i].txq) {
      burst[j - i] = cmds[j].frame;
      ++j;
    }
    const std::pair<uint16_t, uint16_t> q{to[i].eth, to[i].txq};
    const bool blocked = std::find(full, full + full_n, q) != full + full_n;
    const uint16_t sent = blocked ? 0 : rte_eth_tx_burst(q.first, q.second, burst, uint16_t(j - i));
    for (unsigned m = i; m < j; ++m) {
      QueueUnit& u = *to[m].unit;
      MemberStats& ms = u.members[cmds[m].member];
      if (m < i + sent) {
        bump(u.stats.announce_sent);
        bump(ms.tx_packets);
        bump(ms.tx_bytes, cmds[m].frame->pkt_len);
      } else if (++cmds[m].retries >= kCommandRetries) {
        bump(u.stats.drop_announce);
        bump(ms.drop_tx_full);
        rte_pktmbuf_free(cmds[m].frame);
      } else {
        w.pending[w.pending_n++] = cmds[m];
      }
    }
    if (i + sent < j && !blocked) full[full_n++] = q;
    i = j;
  }
  return n;
}

// ---- control side -------------------------------------------------------

void Relay::publish(uint32_t worker) {
  Worker& w = *workers_[worker];
  auto next = std::make_unique<Plan>();
  next->units = w.units;
  next->shared = w.shared;
  std::unique_ptr<Plan> old = std::move(w.current);
  w.current = std::move(next);
  w.plan.store(w.current.get(), std::memory_order_release);
  // The worker may still iterate the old plan until its next quiescent
  // state.
  quiesce();
}

StatusOr<DatapathPort*> Relay::addPort(const DatapathPortSpec& spec) {
  if (spec.queue_pairs < 1 || spec.queue_pairs > kMaxQueuePairs)
    return invalidArgument(
        fmt::format("queue_pairs {} is out of range 1..{}", spec.queue_pairs, kMaxQueuePairs));
  if (spec.uplinks.size() > kMaxMembers)
    return invalidArgument(fmt::format("{} uplinks; at most {}", spec.uplinks.size(), kMaxMembers));
  for (size_t m = 0; m < spec.uplinks.size(); ++m) {
    const int16_t sh = spec.uplinks[m].shared;
    if (sh < 0) continue;
    if (size_t(sh) >= shared_.size() || shared_[size_t(sh)]->spec.member != m)
      return invalidArgument(fmt::format(
          "port {}: member {} names shared uplink {}, which is not that member's", spec.id, m, sh));
  }
  std::unique_ptr<DatapathPort> port = makeDatapathPort(spec, next_key_++);
  DatapathPort* raw = port.get();
  for (uint32_t m = 0; m < raw->member_count; ++m) {
    if (raw->uplinks[m].shared < 0) continue;
    const ssize_t size = rte_ring_get_memsize(kSharedRxRingSize);
    auto* ring =
        size > 0 ? static_cast<rte_ring*>(rte_zmalloc(nullptr, size_t(size), 64)) : nullptr;
    if (ring && rte_ring_init(ring, fmt::format("vfo_p{}m{}", raw->key, m).c_str(),
                              kSharedRxRingSize, RING_F_SC_DEQ) != 0) {
      rte_free(ring);
      ring = nullptr;
    }
    if (!ring) {
      freeSharedRings(*raw);
      return resourceExhausted(
          fmt::format("port {}: no memory for its ring on shared uplink {} (raise memory.size_mb)",
                      spec.id, raw->uplinks[m].shared));
    }
    raw->shared_rx[m] = ring;
  }
  {
    std::lock_guard lock(mu_);
    ports_.emplace(raw->key, std::move(port));
  }
  // In the MAC tables before the workers poll it: frames wait in its ring.
  rebuildSharedOf(*raw);
  // Spread the queue pairs: each goes to the worker with the fewest units.
  for (uint16_t q = 0; q < spec.queue_pairs; ++q) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < workers_.size(); ++i)
      if (workers_[i]->units.size() < workers_[best]->units.size()) best = i;
    raw->queues[q].worker_lcore = workers_[best]->lcore;
    workers_[best]->units.push_back(&raw->queues[q]);
    publish(best);
  }
  log_.debug(fmt::format("[port {}]", spec.id), "{} queue pairs handed to workers",
             spec.queue_pairs);
  return raw;
}

void Relay::removePort(DatapathPort* port) {
  if (!port) return;
  std::unique_ptr<DatapathPort> owned;
  {
    std::lock_guard lock(mu_);
    auto it = ports_.find(port->key);
    if (it == ports_.end()) return;
    owned = std::move(it->second);
    ports_.erase(it);
  }
  // Out of the MAC tables first (quiesced): nobody enqueues to its rings.
  rebuildSharedOf(*port);
  for (uint32_t i = 0; i < workers_.size(); ++i) {
    auto& units = workers_[i]->units;
    const size_t before = units.size();
    units.erase(
        std::remove_if(units.begin(), units.end(), [&](QueueUnit* u) { return u->port == port; }),
        units.end());
    if (units.size() != before) publish(i);
  }
  // publish() quiesced: no worker touches the port any more.
  freeSharedRings(*port);
}

void Relay::freeSharedRings(DatapathPort& port) {
  for (rte_ring*& ring : port.shared_rx) {
    if (!ring) continue;
    void* frame;
    while (rte_ring_sc_dequeue(ring, &frame) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(frame));
    rte_free(ring);
    ring = nullptr;
  }
}

StatusOr<int16_t> Relay::addSharedUplink(const SharedUplinkSpec& spec) {
  if (spec.rx_queues < 1) return invalidArgument("shared uplink " + spec.name + ": no RX queue");
  if (spec.tx_queues < workers_.size())
    return invalidArgument(fmt::format("shared uplink {}: {} TX queues for {} workers (one each)",
                                       spec.name, spec.tx_queues, workers_.size()));
  if (spec.member >= kMaxMembers)
    return invalidArgument(fmt::format("shared uplink {}: member {} is out of range 0..{}",
                                       spec.name, spec.member, kMaxMembers - 1));
  for (const auto& su : shared_)
    if (su->spec.member == spec.member)
      return invalidArgument(fmt::format("shared uplink {}: member {} has one already ({})",
                                         spec.name, spec.member, su->spec.name));
  if (shared_.size() >= size_t(INT16_MAX)) return resourceExhausted("too many shared uplinks");
  auto su = std::make_unique<Shared>();
  su->spec = spec;
  su->owned = std::make_unique<const MacTable>();
  su->table.store(su->owned.get(), std::memory_order_release);
  uint32_t best = 0;
  for (uint32_t i = 1; i < workers_.size(); ++i)
    if (workers_[i]->shared.size() < workers_[best]->shared.size()) best = i;
  su->worker = int(best);
  workers_[best]->shared.push_back(su.get());
  shared_.push_back(std::move(su));
  publish(best);
  log_.info(fmt::format("[shared {}]", spec.name), "member {} on ethdev {}, polled by lcore {}",
            spec.member, spec.eth_port, workers_[best]->lcore);
  return int16_t(shared_.size() - 1);
}

void Relay::rebuildShared(int16_t index) {
  Shared& su = *shared_[size_t(index)];
  const lag::MemberId member = su.spec.member;
  auto t = std::make_unique<MacTable>();
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, port] : ports_) {
      if (member >= port->member_count || port->uplinks[member].shared != index) continue;
      t->ports.push_back(port.get());
      const PortPolicy& pol = *port->owned_policy;
      for (uint64_t k : pol.macs.keys()) t->entries.push_back(MacTable::Entry{k, port.get()});
      if (pol.deliver_foreign_unicast) t->foreign.push_back(port.get());
    }
  }
  // Ports are visited oldest first: with a MAC claimed twice the older
  // port keeps it (stable sort keeps that order, unique keeps the first).
  std::stable_sort(t->entries.begin(), t->entries.end());
  auto dup = std::unique(t->entries.begin(), t->entries.end(),
                         [](const auto& a, const auto& b) { return a.mac == b.mac; });
  if (dup != t->entries.end())
    log_.warn(fmt::format("[shared {}]", su.spec.name),
              "{} MACs are claimed by more than one port; the oldest port keeps each",
              t->entries.end() - dup);
  t->entries.erase(dup, t->entries.end());
  su.table.store(t.get(), std::memory_order_release);
  // The old table stays allocated until the caller quiesced.
  su.retired.push_back(std::move(su.owned));
  su.owned = std::move(t);
}

void Relay::rebuildSharedOf(const DatapathPort& port) {
  bool any = false;
  for (uint32_t m = 0; m < port.member_count; ++m) {
    if (port.uplinks[m].shared < 0) continue;
    rebuildShared(port.uplinks[m].shared);
    any = true;
  }
  if (!any) return;
  // One grace period for every table replaced above.
  quiesce();
  for (uint32_t m = 0; m < port.member_count; ++m)
    if (port.uplinks[m].shared >= 0) shared_[size_t(port.uplinks[m].shared)]->retired.clear();
}

std::vector<Relay::SharedUplinkReport> Relay::sharedUplinks() const {
  std::vector<SharedUplinkReport> out;
  for (const auto& su : shared_) {
    SharedUplinkReport r;
    r.name = su->spec.name;
    r.member = su->spec.member;
    r.ports = uint32_t(su->owned->ports.size());
    r.macs = uint32_t(su->owned->entries.size());
    r.worker_lcore = workers_[size_t(su->worker)]->lcore;
    r.stats = su->stats.snapshot();
    out.push_back(std::move(r));
  }
  return out;
}

void Relay::quiesce() {
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
}

void Relay::replacePolicy(DatapathPort* port, const PortPolicy& policy) {
  auto next = std::make_unique<const PortPolicy>(policy);
  port->policy.store(next.get(), std::memory_order_release);
  std::unique_ptr<const PortPolicy> old = std::move(port->owned_policy);
  port->owned_policy = std::move(next);
  // The MAC tables point at ports, not policies: rebuilt for new MACs.
  rebuildSharedOf(*port);
  quiesce();
}

Status Relay::moveQueue(DatapathPort* port, uint16_t qp, uint32_t worker) {
  if (worker >= workers_.size())
    return invalidArgument(
        fmt::format("worker {} does not exist (0..{})", worker, workers_.size() - 1));
  if (qp >= port->queue_pairs)
    return invalidArgument(
        fmt::format("queue pair {} does not exist (port has {})", qp, port->queue_pairs));
  QueueUnit* unit = &port->queues[qp];
  const int from = ownerOf(port, qp);
  if (from == int(worker)) return okStatus();
  if (from >= 0) {
    auto& units = workers_[from]->units;
    units.erase(std::find(units.begin(), units.end(), unit));
    publish(uint32_t(from));  // quiesces: the old worker has let go
  }
  workers_[worker]->units.push_back(unit);
  publish(worker);
  return okStatus();
}

int Relay::ownerOf(const DatapathPort* port, uint16_t qp) const {
  if (qp >= port->queue_pairs) return -1;
  const QueueUnit* unit = &port->queues[qp];
  for (uint32_t i = 0; i < workers_.size(); ++i)
    if (std::find(workers_[i]->units.begin(), workers_[i]->units.end(), unit) !=
        workers_[i]->units.end())
      return int(i);
  return -1;
}

Status Relay::sendOnMember(DatapathPort* port, lag::MemberId member,
                           const std::vector<std::vector<uint8_t>>& frames) {
  if (member >= port->member_count || !port->uplinks[member].present)
    return notFound(fmt::format("port {} has no uplink on member {}", port->id, member));
  const int owner = ownerOf(port, 0);
  if (owner < 0) return failedPrecondition("port " + port->id + ": queue pair 0 has no worker");
  if (frames.empty()) return okStatus();
  if (frames.size() > options_.command_ring_size)
    return resourceExhausted(fmt::format("{} frames exceed the command ring ({})", frames.size(),
                                         options_.command_ring_size));
  std::vector<rte_mbuf*> mbufs(frames.size());
  if (rte_pktmbuf_alloc_bulk(pool_, mbufs.data(), unsigned(mbufs.size())) != 0)
    return resourceExhausted("no free packet buffers for announce frames");
  std::vector<Command> cmds;
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    char* dst =
        f.size() >= kEthHeaderLen ? rte_pktmbuf_append(mbufs[i], uint16_t(f.size())) : nullptr;
    if (!dst || f.size() > UINT16_MAX) {
      rte_pktmbuf_free_bulk(mbufs.data(), unsigned(mbufs.size()));
      return invalidArgument(fmt::format("frame {} has {} bytes; want {}..{}", i, f.size(),
                                         kEthHeaderLen, rte_pktmbuf_tailroom(mbufs[i])));
    }
    std::memcpy(dst, f.data(), f.size());
    cmds.push_back(Command{mbufs[i], port->key, member, 0});  // no retries yet
  }
  if (rte_ring_sp_enqueue_bulk_elem(workers_[owner]->commands, cmds.data(), sizeof(Command),
                                    unsigned(cmds.size()), nullptr) == 0) {
    rte_pktmbuf_free_bulk(mbufs.data(), unsigned(mbufs.size()));
    return resourceExhausted(fmt::format(
        "the command ring of worker {} is full; {} frames not sent", owner, frames.size()));
  }
  return okStatus();
}

size_t Relay::drainLearner(LearnerSink& sink, size_t max) {
  size_t done = 0;
  for (auto& w : workers_) {
    LearnerItem items[32];
    while (done < max) {
      const unsigned n =
          rte_ring_sc_dequeue_burst_elem(w->learner, items, sizeof(LearnerItem),
                                         unsigned(std::min<size_t>(32, max - done)), nullptr);
      if (n == 0) break;
      for (unsigned i = 0; i < n; ++i) {
        rte_mbuf* m = items[i].frame;
        const DatapathPort* port = nullptr;
        {
          std::lock_guard lock(mu_);
          auto it = ports_.find(items[i].port_key);
          if (it != ports_.end()) port = it->second.get();
        }
        // Copies are made from the first segment's headers; the learner
        // only needs a contiguous frame, so linearise if chained.
        if (port && (m->nb_segs == 1 || rte_pktmbuf_linearize(m) == 0)) {
          sink.onLearnerFrame(*port, Direction(items[i].direction),
                              FrameView{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len});
        }
        rte_pktmbuf_free(m);
      }
      done += n;
    }
  }
  return done;
}

std::vector<WorkerStatsSnapshot> Relay::workerStats() const {
  std::vector<WorkerStatsSnapshot> out;
  for (const auto& w : workers_) out.push_back(w->stats.snapshot());
  return out;
}

}  // namespace vfo::vhost
