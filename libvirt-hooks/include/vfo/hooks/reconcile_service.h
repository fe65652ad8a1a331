// ReconcileService: runs the Reconciler on its own thread, fed by a
// DomainSource (libvirt) and acting through a PortControl (vfod).
//
// A pass (runOnce): list the running domains (UNAVAILABLE -> the reconciler
// is told the domains are unknown and the next attempt waits a backoff of
// reconnect_initial doubling up to reconnect_max), list vfod's ports, plan,
// execute each action and report its result. Passes run at start, on every
// change callback from the source (lifecycle events, connection loss), on
// poke(), at the reconciler's next deadline and every resync_interval.
//
// Logging: libvirt becoming unreachable is logged once (warn), and its
// return once (info); every executed action is logged with its reason.
//
// Threads: start()/stop()/poke()/report() from any thread. stop() is bounded
// by the longest call in progress into the source or vfod (libvirt calls are
// bounded by its keepalive, vfod calls by PortControl's deadlines).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "vfo/base/clock.h"
#include "vfo/hooks/domain_source.h"
#include "vfo/hooks/reconciler.h"

namespace vfo::hooks {

struct ReconcileServiceOptions {
  ReconcilerConfig reconciler;                           // grace period, action retries
  DomainXmlLimits xml;                                   // vfod's socket directory
  Duration resync_interval = std::chrono::seconds(60);   // full pass without any event
  Duration reconnect_initial = std::chrono::seconds(1);  // first wait after libvirt failed
  Duration reconnect_max = std::chrono::seconds(30);     // backoff cap
};

// Checks the reconciler config and: resync 1 s..1 h, 0 < reconnect_initial
// <= reconnect_max <= 1 h, socket dir absolute. INVALID_ARGUMENT naming the
// field.
Status validateReconcileServiceOptions(const ReconcileServiceOptions& o);

class ReconcileService {
 public:
  // `domains`, `ports` and `clock` must outlive the service. The clock
  // drives the reconciler's decisions and the schedule; the thread waits
  // in real time for the schedule's deadlines (use MonotonicClock with
  // start(), any clock with runOnce()).
  ReconcileService(DomainSource& domains, PortControl& ports, const Clock& clock,
                   ReconcileServiceOptions options = {});
  ~ReconcileService();  // stop()
  ReconcileService(const ReconcileService&) = delete;
  ReconcileService& operator=(const ReconcileService&) = delete;

  // Validates the options, starts the source and the thread. A missing
  // libvirt is not an error. FAILED_PRECONDITION when already started.
  Status start();
  // Stops the thread, then the source. Idempotent.
  void stop();
  // Requests a pass soon (e.g. after vfod's ports changed through the API).
  void poke();

  // One pass now, on the caller's thread (tests drive it with a FakeClock;
  // not to be mixed with a started service). Returns the time of the next
  // scheduled pass.
  TimePoint runOnce();

  // What the reconciler plans and why, as of the last pass.
  ReconcileReport report() const;
  // Passes run so far (tests wait on it).
  uint64_t passes() const;

 private:
  void loop();

  DomainSource& domains_;
  PortControl& ports_;
  const Clock& clock_;
  const ReconcileServiceOptions options_;
  Reconciler reconciler_;  // guarded by pass_mu_

  std::mutex pass_mu_;                // one pass at a time; guards reconciler_ and below
  mutable std::mutex report_mu_;      // guards report_ (report() never waits for a pass)
  ReconcileReport report_;            // as of the last pass
  Duration reconnect_backoff_{0};     // 0 = libvirt reachable at the last attempt
  TimePoint next_libvirt_attempt_;    // no listing before this while unreachable
  bool libvirt_down_logged_ = false;  // the unreachable warning was logged
  bool ports_down_logged_ = false;    // the port-listing warning was logged

  mutable std::mutex mu_;  // guards the fields below
  std::condition_variable cv_;
  bool wake_ = false;
  bool stopping_ = false;
  uint64_t passes_ = 0;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace vfo::hooks
