#include "vfo/hooks/reconciler.h"

#include <fmt/format.h>

#include <algorithm>

namespace vfo::hooks {

namespace {

constexpr Duration kMaxConfigDuration = std::chrono::hours(1);

std::string secs(Duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

std::string ownerText(const HookPortSpec& p) {
  if (p.domain_uuid.empty()) return p.domain_name;
  if (p.domain_name.empty()) return "uuid " + p.domain_uuid;
  return fmt::format("{} (uuid {})", p.domain_name, p.domain_uuid);
}

bool hasOwner(const HookPortSpec& p) {
  return !p.domain_uuid.empty() || !p.domain_name.empty();
}

// First field in which an existing port differs from what the domain needs
// (the fields vfod cannot change under a running guest); empty = same.
std::string firstDifference(const HookPortSpec& have, const HookPortSpec& want) {
  if (have.socket_path != want.socket_path)
    return fmt::format("socket_path {} != {}", have.socket_path, want.socket_path);
  if (have.mac != want.mac)
    return fmt::format("mac {} != {}", have.mac.toString(), want.mac.toString());
  if (have.role != want.role)
    return fmt::format("role {} != {}", vhostRoleName(have.role), vhostRoleName(want.role));
  if (have.queues != want.queues) return fmt::format("queues {} != {}", have.queues, want.queues);
  return "";
}

}  // namespace

RunningDomain runningDomainFromXml(const std::string& name, const std::string& uuid,
                                   const std::string& xml, bool incoming,
                                   const DomainXmlLimits& limits) {
  RunningDomain d;
  d.name = name;
  d.uuid = uuid;
  auto parsed = parseDomainXml(xml, limits);
  if (!parsed.isOk()) {
    d.xml_error = parsed.status().toString();
    return d;
  }
  // libvirt's name/UUID are authoritative (the live XML carries the same).
  parsed->name = name;
  parsed->uuid = uuid;
  d.ports = portSpecsFor(*parsed, incoming);
  return d;
}

std::string_view reconcileActionKindName(ReconcileActionKind k) {
  switch (k) {
    case ReconcileActionKind::kCreate:
      return "create";
    case ReconcileActionKind::kDelete:
      return "delete";
  }
  return "?";
}

std::string_view portVerdictName(PortVerdict v) {
  switch (v) {
    case PortVerdict::kInUse:
      return "in-use";
    case PortVerdict::kConflict:
      return "conflict";
    case PortVerdict::kOperatorOwned:
      return "operator-owned";
    case PortVerdict::kOwnerRunning:
      return "owner-running";
    case PortVerdict::kPendingDelete:
      return "pending-delete";
    case PortVerdict::kDeleteDue:
      return "delete-due";
    case PortVerdict::kMissing:
      return "missing";
    case PortVerdict::kUndecided:
      return "undecided";
  }
  return "?";
}

Status validateReconcilerConfig(const ReconcilerConfig& c) {
  if (c.grace < Duration(0) || c.grace > kMaxConfigDuration)
    return invalidArgument(
        fmt::format("reconcile.grace: {} is out of range 0 s..1 h", secs(c.grace)));
  if (c.retry_initial <= Duration(0) || c.retry_initial > kMaxConfigDuration)
    return invalidArgument(fmt::format("reconcile.retry_initial: {} is out of range (0 s..1 h]",
                                       secs(c.retry_initial)));
  if (c.retry_max < c.retry_initial || c.retry_max > kMaxConfigDuration)
    return invalidArgument(
        fmt::format("reconcile.retry_max: {} is out of range retry_initial ({})..1 h",
                    secs(c.retry_max), secs(c.retry_initial)));
  return okStatus();
}

Reconciler::Reconciler(const Clock& clock, ReconcilerConfig config)
    : clock_(clock), config_(config) {}

void Reconciler::setDomains(std::vector<RunningDomain> domains) {
  domains_ = std::move(domains);
  domains_known_ = true;
  unknown_reason_.clear();
  needed_.clear();
  for (size_t i = 0; i < domains_.size(); ++i)
    for (const auto& p : domains_[i].ports) needed_.emplace(p.port_id, i);  // first one wins
  refresh();
}

void Reconciler::setDomainsUnknown(std::string reason) {
  domains_known_ = false;
  unknown_reason_ = std::move(reason);
  domains_.clear();
  needed_.clear();
  orphan_since_.clear();  // the grace period starts again once domains are known
  retries_.clear();
}

void Reconciler::setPorts(std::vector<HookPortSpec> ports) {
  ports_.clear();
  for (auto& p : ports) {
    std::string id = p.port_id;
    ports_.emplace(std::move(id), std::move(p));
  }
  refresh();
}

const RunningDomain* Reconciler::neededBy(const std::string& port_id) const {
  auto it = needed_.find(port_id);
  return it == needed_.end() ? nullptr : &domains_[it->second];
}

bool Reconciler::ownerRunning(const HookPortSpec& port) const {
  for (const auto& d : domains_) {
    if (!port.domain_uuid.empty()) {
      if (d.uuid == port.domain_uuid) return true;
    } else if (d.name == port.domain_name) {
      return true;
    }
  }
  return false;
}

void Reconciler::refresh() {
  if (!domains_known_) return;
  const TimePoint now = clock_.now();
  // Orphan timers: start for newly orphaned ports, drop for the others.
  std::map<std::string, TimePoint> next;
  for (const auto& [id, port] : ports_) {
    if (!hasOwner(port) || neededBy(id) || ownerRunning(port)) continue;
    auto it = orphan_since_.find(id);
    next[id] = it == orphan_since_.end() ? now : it->second;
  }
  orphan_since_ = std::move(next);
  // Retries only for actions still wanted.
  for (auto it = retries_.begin(); it != retries_.end();) {
    const bool exists = ports_.count(it->first) > 0;
    const bool wanted = it->second.kind == ReconcileActionKind::kCreate
                            ? (!exists && neededBy(it->first))
                            : (exists && orphan_since_.count(it->first));
    it = wanted ? std::next(it) : retries_.erase(it);
  }
}

std::vector<ReconcileAction> Reconciler::plan() {
  std::vector<ReconcileAction> out;
  if (!domains_known_) return out;
  const TimePoint now = clock_.now();
  auto retryBlocked = [&](const std::string& id, ReconcileActionKind kind) {
    auto it = retries_.find(id);
    return it != retries_.end() && it->second.kind == kind && now < it->second.at;
  };
  // Creates in domain order, then deletes in port id order.
  for (const auto& d : domains_) {
    for (const auto& spec : d.ports) {
      if (ports_.count(spec.port_id)) continue;
      if (needed_.at(spec.port_id) != static_cast<size_t>(&d - domains_.data())) continue;
      if (retryBlocked(spec.port_id, ReconcileActionKind::kCreate)) continue;
      out.push_back({ReconcileActionKind::kCreate, spec,
                     fmt::format("domain {} runs and needs it; vfod does not have it", d.name)});
    }
  }
  for (const auto& [id, since] : orphan_since_) {
    if (now < since + config_.grace) continue;
    if (retryBlocked(id, ReconcileActionKind::kDelete)) continue;
    const HookPortSpec& port = ports_.at(id);
    out.push_back({ReconcileActionKind::kDelete, port,
                   fmt::format("owner {} has not been running for {} (grace {})", ownerText(port),
                               secs(now - since), secs(config_.grace))});
  }
  return out;
}

void Reconciler::onActionResult(const ReconcileAction& action, const Status& result) {
  const std::string& id = action.spec.port_id;
  const bool done = result.isOk() || (action.kind == ReconcileActionKind::kDelete &&
                                      result.code() == StatusCode::kNotFound);
  if (done) {
    retries_.erase(id);
    if (action.kind == ReconcileActionKind::kCreate)
      ports_[id] = action.spec;
    else
      ports_.erase(id);
    refresh();
    return;
  }
  Retry& r = retries_[id];
  if (r.kind != action.kind) r = Retry{};
  r.kind = action.kind;
  r.backoff =
      r.backoff == Duration(0) ? config_.retry_initial : std::min(r.backoff * 2, config_.retry_max);
  r.at = clock_.now() + r.backoff;
  r.error = result.toString();
}

TimePoint Reconciler::nextDeadline() const {
  if (!domains_known_) return kNever;
  TimePoint next = kNever;
  for (const auto& [id, since] : orphan_since_) {
    TimePoint due = since + config_.grace;
    auto it = retries_.find(id);
    if (it != retries_.end() && it->second.kind == ReconcileActionKind::kDelete)
      due = std::max(due, it->second.at);
    next = std::min(next, due);
  }
  for (const auto& [id, r] : retries_)
    if (r.kind == ReconcileActionKind::kCreate) next = std::min(next, r.at);
  return next;
}

ReconcileReport Reconciler::report() const {
  ReconcileReport rep;
  rep.now = clock_.now();
  rep.domains_known = domains_known_;
  rep.domains_unknown_reason = unknown_reason_;
  rep.running_domains = static_cast<uint32_t>(domains_.size());
  rep.next_deadline = nextDeadline();
  for (const auto& d : domains_)
    if (!d.xml_error.empty())
      rep.domain_problems.push_back(fmt::format(
          "domain {}: {} (its ports are kept; none is created for it)", d.name, d.xml_error));

  auto retryOf = [&](const std::string& id, PortReport& r) {
    auto it = retries_.find(id);
    if (it == retries_.end()) return;
    r.last_error = it->second.error;
    r.deadline = std::max(r.deadline == kNever ? it->second.at : r.deadline, it->second.at);
  };

  std::map<std::string, PortReport> by_id;
  for (const auto& [id, port] : ports_) {
    PortReport r;
    r.port_id = id;
    r.domain_name = port.domain_name;
    r.domain_uuid = port.domain_uuid;
    if (!domains_known_) {
      r.verdict = PortVerdict::kUndecided;
      r.detail = "libvirt is not reachable (" + unknown_reason_ + "); nothing is decided";
    } else if (const RunningDomain* d = neededBy(id)) {
      const HookPortSpec* want = &d->ports[0];
      for (const auto& spec : d->ports)
        if (spec.port_id == id) want = &spec;
      const std::string diff = firstDifference(port, *want);
      if (diff.empty()) {
        r.verdict = PortVerdict::kInUse;
        r.detail = fmt::format("domain {} runs and uses it", d->name);
      } else {
        r.verdict = PortVerdict::kConflict;
        r.detail = fmt::format(
            "domain {} runs and needs it, but vfod's port differs ({}); left alone, fix it "
            "with vfoctl",
            d->name, diff);
      }
      if (r.domain_name.empty() && r.domain_uuid.empty()) {
        r.domain_name = d->name;
        r.domain_uuid = d->uuid;
      }
    } else if (!hasOwner(port)) {
      r.verdict = PortVerdict::kOperatorOwned;
      r.detail = "no owner recorded (operator or config port); never deleted here";
    } else if (ownerRunning(port)) {
      r.verdict = PortVerdict::kOwnerRunning;
      r.detail =
          fmt::format("owner {} runs but its XML does not list this port (or cannot be read); kept",
                      ownerText(port));
    } else {
      const TimePoint due = orphan_since_.at(id) + config_.grace;
      if (rep.now < due) {
        r.verdict = PortVerdict::kPendingDelete;
        r.deadline = due;
        r.detail = fmt::format("owner {} is not running; deleted in {} unless it comes back",
                               ownerText(port), secs(due - rep.now));
      } else {
        r.verdict = PortVerdict::kDeleteDue;
        r.detail = fmt::format("owner {} has not been running for {}; delete planned",
                               ownerText(port), secs(rep.now - orphan_since_.at(id)));
      }
      retryOf(id, r);
    }
    by_id[id] = std::move(r);
  }
  if (domains_known_) {
    for (const auto& [id, idx] : needed_) {
      if (ports_.count(id)) continue;
      const RunningDomain& d = domains_[idx];
      PortReport r;
      r.port_id = id;
      r.domain_name = d.name;
      r.domain_uuid = d.uuid;
      r.verdict = PortVerdict::kMissing;
      r.detail =
          fmt::format("domain {} runs and needs it; vfod does not have it: create planned", d.name);
      retryOf(id, r);
      by_id[id] = std::move(r);
    }
  }
  for (auto& [id, r] : by_id) rep.ports.push_back(std::move(r));
  return rep;
}

std::vector<std::string> ReconcileReport::lines() const {
  std::vector<std::string> out;
  if (domains_known)
    out.push_back(fmt::format("libvirt: {} running domain(s)", running_domains));
  else
    out.push_back(fmt::format("libvirt: not reachable ({}); nothing is created or deleted",
                              domains_unknown_reason));
  for (const auto& p : domain_problems) out.push_back(p);
  for (const auto& p : ports) {
    std::string line =
        fmt::format("port {}: {}: {}", p.port_id, portVerdictName(p.verdict), p.detail);
    if (!p.last_error.empty())
      line += fmt::format("; last attempt failed: {}; retry in {}", p.last_error,
                          secs(p.deadline > now ? p.deadline - now : Duration(0)));
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace vfo::hooks
