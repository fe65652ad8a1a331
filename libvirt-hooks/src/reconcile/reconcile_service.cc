#include "vfo/hooks/reconcile_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "vfo/base/log.h"

namespace vfo::hooks {

namespace {

const Logger kLog("reconcile");

std::string secs(Duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

std::string portEntity(const std::string& id) {
  return "[port " + id + "]";
}

// Logs the pending decisions as they start and end, like OVS's "will be
// disabled if it stays down": once per transition, not per pass.
void logTransitions(const ReconcileReport& before, const ReconcileReport& after) {
  std::map<std::string, PortVerdict> old;
  for (const auto& p : before.ports) old[p.port_id] = p.verdict;
  for (const auto& p : after.ports) {
    auto it = old.find(p.port_id);
    const bool was_pending = it != old.end() && it->second == PortVerdict::kPendingDelete;
    if (p.verdict == PortVerdict::kPendingDelete && !was_pending)
      kLog.info(portEntity(p.port_id), "{}", p.detail);
    else if (was_pending &&
             (p.verdict == PortVerdict::kInUse || p.verdict == PortVerdict::kOwnerRunning ||
              p.verdict == PortVerdict::kConflict))
      kLog.info(portEntity(p.port_id), "deletion cancelled: {}", p.detail);
    else if (p.verdict == PortVerdict::kConflict &&
             (it == old.end() || it->second != PortVerdict::kConflict))
      kLog.warn(portEntity(p.port_id), "{}", p.detail);
  }
}

}  // namespace

Status validateReconcileServiceOptions(const ReconcileServiceOptions& o) {
  VFO_RETURN_IF_ERROR(validateReconcilerConfig(o.reconciler));
  if (o.resync_interval < std::chrono::seconds(1) || o.resync_interval > std::chrono::hours(1))
    return invalidArgument(fmt::format("reconcile.resync_interval: {} is out of range 1 s..1 h",
                                       secs(o.resync_interval)));
  if (o.reconnect_initial <= Duration(0) || o.reconnect_initial > std::chrono::hours(1))
    return invalidArgument(fmt::format("reconcile.reconnect_initial: {} is out of range (0 s..1 h]",
                                       secs(o.reconnect_initial)));
  if (o.reconnect_max < o.reconnect_initial || o.reconnect_max > std::chrono::hours(1))
    return invalidArgument(
        fmt::format("reconcile.reconnect_max: {} is out of range reconnect_initial ({})..1 h",
                    secs(o.reconnect_max), secs(o.reconnect_initial)));
  if (o.xml.socket_dir.empty() || o.xml.socket_dir[0] != '/')
    return invalidArgument(
        fmt::format("reconcile.socket_dir: '{}' must be an absolute path (vfod's sockets.dir)",
                    o.xml.socket_dir));
  return okStatus();
}

ReconcileService::ReconcileService(DomainSource& domains, PortControl& ports, const Clock& clock,
                                   ReconcileServiceOptions options)
    : domains_(domains),
      ports_(ports),
      clock_(clock),
      options_(std::move(options)),
      reconciler_(clock, options_.reconciler) {
  report_ = reconciler_.report();
}

ReconcileService::~ReconcileService() {
  stop();
}

Status ReconcileService::start() {
  VFO_RETURN_IF_ERROR(validateReconcileServiceOptions(options_));
  {
    std::lock_guard lock(mu_);
    if (started_) return failedPrecondition("reconciliation service already started");
    stopping_ = false;
    wake_ = true;  // first pass at once
  }
  domains_.setChangeCallback([this](std::string_view why) {
    kLog.info("", "libvirt: {}; reconciling", why);
    poke();
  });
  VFO_RETURN_IF_ERROR(domains_.start());
  std::lock_guard lock(mu_);
  started_ = true;
  thread_ = std::thread([this] { loop(); });
  return okStatus();
}

void ReconcileService::stop() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    stopping_ = true;
    started_ = false;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
  domains_.stop();
}

void ReconcileService::poke() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

uint64_t ReconcileService::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

ReconcileReport ReconcileService::report() const {
  std::lock_guard lock(report_mu_);
  return report_;
}

void ReconcileService::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_ = false;
    lock.unlock();
    const TimePoint next = runOnce();
    lock.lock();
    if (stopping_ || wake_) continue;
    const TimePoint now = clock_.now();
    const Duration wait = next > now ? next - now : Duration(0);
    cv_.wait_for(lock, wait, [this] { return stopping_ || wake_; });
  }
}

TimePoint ReconcileService::runOnce() {
  std::lock_guard pass(pass_mu_);
  const TimePoint start = clock_.now();
  TimePoint next = start + options_.resync_interval;

  // 1. Domains (with a reconnect backoff while libvirt is unreachable).
  bool domains_ok = false;
  if (reconnect_backoff_ == Duration(0) || start >= next_libvirt_attempt_) {
    auto listed = domains_.listRunning();
    if (listed.isOk()) {
      if (libvirt_down_logged_) kLog.info("", "libvirt reachable again; reconciliation resumes");
      libvirt_down_logged_ = false;
      reconnect_backoff_ = Duration(0);
      std::vector<RunningDomain> running;
      for (const auto& d : *listed) {
        if (!d.xml_error.empty()) {
          RunningDomain r{d.name, d.uuid, {}, d.xml_error};
          running.push_back(std::move(r));
        } else {
          running.push_back(runningDomainFromXml(d.name, d.uuid, d.xml, d.incoming, options_.xml));
        }
      }
      reconciler_.setDomains(std::move(running));
      domains_ok = true;
    } else {
      reconnect_backoff_ = reconnect_backoff_ == Duration(0)
                               ? options_.reconnect_initial
                               : std::min(reconnect_backoff_ * 2, options_.reconnect_max);
      next_libvirt_attempt_ = start + reconnect_backoff_;
      if (!libvirt_down_logged_)
        kLog.warn("",
                  "{}; ports are neither created nor deleted until libvirt answers "
                  "(retrying with backoff up to {})",
                  listed.status().message(), secs(options_.reconnect_max));
      libvirt_down_logged_ = true;
      reconciler_.setDomainsUnknown(listed.status().message());
    }
  }
  if (reconnect_backoff_ != Duration(0)) next = std::min(next, next_libvirt_attempt_);

  // 2. vfod's ports (also while libvirt is unreachable, for the report),
  // 3. actions (the reconciler plans none while the domains are unknown).
  auto ports = ports_.listPorts();
  if (!ports.isOk()) {
    if (!ports_down_logged_)
      kLog.warn("", "cannot list vfod's ports: {}; nothing is changed, retrying every {}",
                ports.status().toString(), secs(options_.reconciler.retry_initial));
    ports_down_logged_ = true;
    next = std::min(next, start + options_.reconciler.retry_initial);
  } else {
    ports_down_logged_ = false;
    reconciler_.setPorts(std::move(*ports));
    for (const auto& a : domains_ok ? reconciler_.plan() : std::vector<ReconcileAction>{}) {
      Status s = a.kind == ReconcileActionKind::kCreate ? ports_.createPort(a.spec)
                                                        : ports_.deletePort(a.spec.port_id);
      reconciler_.onActionResult(a, s);
      const bool gone = a.kind == ReconcileActionKind::kDelete && s.code() == StatusCode::kNotFound;
      if (s.isOk() || gone)
        kLog.info(portEntity(a.spec.port_id), "{}d: {}", reconcileActionKindName(a.kind), a.reason);
      else
        kLog.warn(portEntity(a.spec.port_id), "{} failed: {} ({}); will retry",
                  reconcileActionKindName(a.kind), s.toString(), a.reason);
    }
  }
  next = std::min(next, reconciler_.nextDeadline());
  ReconcileReport rep = reconciler_.report();
  {
    std::lock_guard lock(report_mu_);
    logTransitions(report_, rep);
    report_ = std::move(rep);
  }
  {
    std::lock_guard lock(mu_);
    ++passes_;
  }
  return next;
}

}  // namespace vfo::hooks
