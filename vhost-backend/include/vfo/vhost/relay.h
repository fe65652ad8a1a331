// The relay: worker lcores that move frames between each port's vhost-user
// queues and its uplinks (one per LAG member).
//
// Per queue pair and poll:
//   guest -> network: rte_vhost_dequeue_burst (<= 32), anti-spoof, copy
//     ARP/ND/DHCP to the learner ring, VLAN tag, send on the member the
//     port's steering (or selector) picks.
//   network -> guest: rte_eth_rx_burst from every member's uplink; frames of
//     a standby member dropped; VLAN filter/strip; unicast filter;
//     rte_vhost_enqueue_burst; whatever the guest ring refuses is dropped.
// Nothing blocks, allocates from the heap or takes a lock per frame; every
// drop is counted by reason (stats.h).
//
// Threads: create/start/stop/addPort/removePort/replacePolicy/moveQueue/
// sendOnMember/drainLearner run on the control thread; quiesce() may also
// run on the vhost-events thread. Workers are EAL lcores.
//
// Shared uplinks (VF_PROVIDER_SHARED): one ethdev per member that every
// port uses. The worker that polls it reads every RX queue and hands each
// frame to the ports whose MAC it is addressed to (broadcast/multicast: a
// copy per port) through the port's shared_rx ring; only ports whose
// steering receives on that member get it (a standby's copy is not made).
// A guest frame sent on a shared uplink to another local port that receives
// on the same member is switched inside the relay (the ToR never sends a
// frame back out of the port it came in on); broadcast/multicast goes out
// and to those local ports. The MAC table is an immutable snapshot rebuilt
// by the control thread when ports or their MACs change.
//
// Reclamation: workers report a quiescent state (rte_rcu_qsbr) at the top of
// each loop iteration and go offline while they sleep; anything unpublished
// is freed only after rte_rcu_qsbr_synchronize().
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vfo/base/log.h"
#include "vfo/vhost/datapath_port.h"
#include "vfo/vhost/frame.h"
#include "vfo/vhost/stats.h"

struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;
struct rte_mbuf;

namespace vfo::vhost {

struct RelayOptions {
  std::vector<unsigned> worker_lcores;                   // one worker per lcore, >= 1
  Duration idle_backoff_max = kDefaultIdleBackoffMax;    // 0 = busy poll
  uint32_t learner_ring_size = kDefaultLearnerRingSize;  // per worker, power of two
  uint32_t command_ring_size = 4096;                     // per worker, power of two
  uint32_t mbufs = kDefaultMbufs;                        // shared packet pool
};

// Consumer of the frames workers copy for address learning (lag-core's
// AddressLearner, through vfod's LagController). Called on the control thread; `frame`
// is valid only during the call.
class LearnerSink {
 public:
  virtual ~LearnerSink() = default;
  virtual void onLearnerFrame(const DatapathPort& port, Direction dir, FrameView frame) = 0;
};

// Empty polls in a row before a worker starts to sleep.
inline constexpr uint32_t kEmptyPollsBeforeSleep = 64;
// First sleep of the backoff; each further empty round doubles it.
inline constexpr Duration kFirstIdleSleep = std::chrono::microseconds(1);

// The next sleep of the idle backoff (pure): 0 while fewer than
// kEmptyPollsBeforeSleep polls were empty or when `max` is 0; then
// kFirstIdleSleep, doubling per round, capped at `max`.
Duration nextIdleSleep(uint32_t empty_polls, Duration previous, Duration max);

// A member's shared uplink: an open, started ethdev.
struct SharedUplinkSpec {
  std::string name;          // logs and stats (the member's name)
  lag::MemberId member = 0;  // the member every port uses it for
  uint16_t eth_port = 0;     // ethdev port id
  uint16_t rx_queues = 1;    // RX queues to poll, >= 1
  uint16_t tx_queues = 1;    // TX queues, >= the number of workers (one each)
};

// Ring size of a port's shared_rx ring (frames).
inline constexpr uint32_t kSharedRxRingSize = 512;

class Relay final : public DatapathControl {
 public:
  // Needs an initialised EAL; creates pools, rings and the QSBR variable.
  static StatusOr<std::unique_ptr<Relay>> create(const RelayOptions& options);
  ~Relay() override;  // stop(); every port must have been removed
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Launches one worker per lcore. FAILED_PRECONDITION if an lcore is busy.
  Status start();
  // Stops and joins the workers. Idempotent.
  void stop();

  // The pool uplink RX queues and dequeues allocate from.
  rte_mempool* packetPool() const { return pool_; }

  // DatapathControl
  StatusOr<DatapathPort*> addPort(const DatapathPortSpec& spec) override;
  void removePort(DatapathPort* port) override;
  void quiesce() override;
  void replacePolicy(DatapathPort* port, const PortPolicy& policy) override;
  Status sendOnMember(DatapathPort* port, lag::MemberId member,
                      const std::vector<std::vector<uint8_t>>& frames) override;

  // Registers a shared uplink; returns its index for UplinkPort::shared.
  // Its RX queues are polled by the worker with the fewest shared uplinks.
  // INVALID_ARGUMENT for too few TX queues or a member that has one already.
  StatusOr<int16_t> addSharedUplink(const SharedUplinkSpec& spec);
  struct SharedUplinkReport {
    std::string name;                 // SharedUplinkSpec::name
    lag::MemberId member = 0;         // its member
    uint32_t ports = 0;               // ports in its MAC table
    uint32_t macs = 0;                // MACs in its MAC table
    unsigned worker_lcore = 0;        // the lcore that polls it
    SharedUplinkStatsSnapshot stats;  // demultiplexer counters
  };
  std::vector<SharedUplinkReport> sharedUplinks() const;

  // Hands the queue pair to another worker (load balancing). The old worker
  // stops touching it before the new one starts.
  Status moveQueue(DatapathPort* port, uint16_t qp, uint32_t worker);
  // Worker index owning the queue pair, or -1.
  int ownerOf(const DatapathPort* port, uint16_t qp) const;
  uint32_t workerCount() const { return uint32_t(workers_.size()); }

  // Passes up to `max` learner frames to `sink`; returns how many.
  size_t drainLearner(LearnerSink& sink, size_t max = 256);

  std::vector<WorkerStatsSnapshot> workerStats() const;

 private:
  struct Plan;
  struct Worker;
  struct MacTable;
  struct Shared;
  struct LearnerItem;
  struct Command;

  explicit Relay(const RelayOptions& options);
  static int workerEntry(void* arg);
  int workerLoop(Worker& w);
  uint32_t relayUnit(Worker& w, QueueUnit& u);
  uint32_t fromGuest(Worker& w, QueueUnit& u, int vid, const PortPolicy& pol, Steering st,
                     bool forwarding);
  uint32_t toGuest(Worker& w, QueueUnit& u, int vid, const PortPolicy& pol, Steering st,
                   bool forwarding, uint16_t guest_qps);
  uint32_t runCommands(Worker& w, const Plan& plan);
  uint32_t pollShared(Worker& w, Shared& su);
  // Local switching of guest frames about to go out on a shared uplink;
  // compacts `frames` to those that still go out. Returns their count.
  uint16_t switchLocal(QueueUnit& u, Shared& su, rte_mbuf** frames, uint16_t n, uint64_t* bytes);
  // Control thread: publishes a new MAC table; the old one is retired and
  // freed by rebuildSharedOf() after one quiesce for all of them.
  void rebuildShared(int16_t index);
  void rebuildSharedOf(const DatapathPort& port);   // every table the port is in; quiesces
  static void freeSharedRings(DatapathPort& port);  // drains and frees shared_rx
  void copyToLearner(Worker& w, QueueUnit& u, rte_mbuf* m, Direction dir);
  void publish(uint32_t worker);  // control thread: new plan from units_[worker]

  RelayOptions options_;
  Logger log_{"relay"};
  rte_mempool* pool_ = nullptr;
  rte_mempool* learner_pool_ = nullptr;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> running_{false};
  bool started_ = false;

  std::vector<std::unique_ptr<Shared>> shared_;  // by index; only grows

  mutable std::mutex mu_;  // guards ports_ (control thread vs. stats readers)
  std::map<uint64_t, std::unique_ptr<DatapathPort>> ports_;  // by key
  uint64_t next_key_ = 1;                                    // control thread only
};

}  // namespace vfo::vhost
