// Reconciler: the pure decision logic that keeps vfod's ports in line with
// the domains libvirt runs (docs/libvirt-reconcile.md).
//
// The hook (hook.h) creates and deletes ports as libvirt starts and stops
// domains. The reconciler repairs what the hook could not do: vfod was down
// during a `release`, lost a port, or a domain came back after vfod
// restarted. Inputs are full observations (every running domain, every vfod
// port); outputs are actions the caller executes and reports back.
//
// Rules:
//  - A running domain's interface in vfod's socket directory needs the port
//    portSpecsFor() names; a missing one is created.
//  - A port that records an owner (domain UUID, or name when the UUID is
//    empty) whose domain does not run, and that no running domain needs, is
//    deleted once it has been in that state for the grace period; the owner
//    (or any domain needing the port) coming back cancels the deletion.
//  - A port without an owner (created by an operator or vfod's config) is
//    never deleted. A port whose owner runs is never deleted, even when the
//    owner's XML no longer lists it (reported, left to the operator).
//  - While libvirt is unreachable nothing is created or deleted and pending
//    deletions are forgotten: the grace period starts again once the
//    domains are known (restarting libvirtd never deletes a port).
//  - A domain whose XML cannot be read or parsed counts as running (its
//    ports are kept); nothing is created for it.
//  - A failed action is retried after a backoff (retry_initial doubling up
//    to retry_max, per port); a port already being the subject of a
//    conflict (exists with another spec) is reported, never touched.
//
// Threads: not thread-safe; one owner (ReconcileService's thread). Time comes
// from the injected Clock only.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/status.h"
#include "vfo/hooks/domain_xml.h"
#include "vfo/hooks/hook.h"

namespace vfo::hooks {

// A domain libvirt reports as active.
struct RunningDomain {
  std::string name;                 // libvirt domain name
  std::string uuid;                 // libvirt UUID, canonical text form
  std::vector<HookPortSpec> ports;  // portSpecsFor(parsed XML); empty if xml_error is set
  std::string xml_error;            // why the XML could not be read or parsed; empty = fine
};

// Builds a RunningDomain from libvirt's live XML. A parse error is recorded
// in xml_error (the domain still counts as running). `incoming` creates the
// specs in the incoming-migration state.
RunningDomain runningDomainFromXml(const std::string& name, const std::string& uuid,
                                   const std::string& xml, bool incoming,
                                   const DomainXmlLimits& limits);

enum class ReconcileActionKind {
  kCreate,  // create `spec` (idempotent on vfod's side)
  kDelete,  // delete port `spec.port_id` (NOT_FOUND counts as done)
};
std::string_view reconcileActionKindName(ReconcileActionKind k);  // "create", "delete"

struct ReconcileAction {
  ReconcileActionKind kind = ReconcileActionKind::kCreate;  // what to do
  HookPortSpec spec;   // create: the full spec; delete: the port as vfod has it
  std::string reason;  // one line, for the log ("domain vm1 runs and needs it")
};

// What the reconciler thinks of one port (existing or needed).
enum class PortVerdict {
  kInUse,          // exists and a running domain needs it
  kConflict,       // exists, a running domain needs it, but the specs differ: left alone
  kOperatorOwned,  // exists without an owner: never touched
  kOwnerRunning,   // exists, its owner runs but does not list it (or its XML is unreadable): kept
  kPendingDelete,  // owner gone; deleted at `deadline` unless it comes back
  kDeleteDue,      // grace period over: delete planned (or retried at `deadline`)
  kMissing,        // needed by a running domain, absent: create planned (or retried at `deadline`)
  kUndecided,      // libvirt unreachable: nothing is decided
};
std::string_view portVerdictName(PortVerdict v);  // "in-use", "pending-delete", ...

struct PortReport {
  std::string port_id;                        // the port
  std::string domain_name;                    // owner (existing) or needing domain (missing)
  std::string domain_uuid;                    // its UUID
  PortVerdict verdict = PortVerdict::kInUse;  // decision
  TimePoint deadline = kNever;                // pending delete / next retry; kNever = none
  std::string detail;                         // why, in words
  std::string last_error;                     // last failed action on this port, empty = none
};

// Introspection, like OVS bond/show: what the reconciler plans and why.
struct ReconcileReport {
  bool domains_known = false;                // the last domain listing succeeded
  std::string domains_unknown_reason;        // why not (libvirt unreachable ...)
  uint32_t running_domains = 0;              // domains in the last listing
  std::vector<std::string> domain_problems;  // "domain vm3: <xml error>"
  std::vector<PortReport> ports;             // sorted by port id
  TimePoint now;                             // when the report was made
  TimePoint next_deadline = kNever;          // Reconciler::nextDeadline()

  // One line per fact, e.g.
  //   port vm1-net0: pending-delete: owner vm1 (uuid ...) is not running;
  //     deleted in 12.5 s unless it comes back
  std::vector<std::string> lines() const;
};

struct ReconcilerConfig {
  Duration grace = std::chrono::seconds(30);         // owner gone this long before delete
  Duration retry_initial = std::chrono::seconds(1);  // first retry after a failed action
  Duration retry_max = std::chrono::seconds(60);     // backoff cap
};

// Checks ranges: grace 0..1 h, 0 < retry_initial <= retry_max <= 1 h.
// INVALID_ARGUMENT naming the field ("reconcile.grace: ...").
Status validateReconcilerConfig(const ReconcilerConfig& config);

class Reconciler {
 public:
  // `clock` must outlive the reconciler. `config` must be valid.
  Reconciler(const Clock& clock, ReconcilerConfig config = {});

  // Every domain libvirt runs now (a complete listing).
  void setDomains(std::vector<RunningDomain> domains);
  // libvirt cannot be asked now: the running set is unknown.
  void setDomainsUnknown(std::string reason);
  // Every port vfod has now (HookPortSpec::domain_name/uuid = recorded owner).
  void setPorts(std::vector<HookPortSpec> ports);

  // The actions due now: creates for missing ports, deletes whose grace
  // period is over, minus those waiting for a retry. Calling plan() again
  // before reporting results returns the same actions.
  std::vector<ReconcileAction> plan();
  // The outcome of an action from plan(). Success updates the port view (a
  // created port exists, a deleted one is gone); failure schedules a retry.
  void onActionResult(const ReconcileAction& action, const Status& result);

  // The earliest time plan() may return something new without new
  // observations (grace expiry or retry); kNever when none.
  TimePoint nextDeadline() const;

  ReconcileReport report() const;

  const ReconcilerConfig& config() const { return config_; }

 private:
  struct Retry {
    ReconcileActionKind kind = ReconcileActionKind::kCreate;  // the action that failed
    TimePoint at = kNever;                                    // not before
    Duration backoff{0};                                      // the wait used for `at`
    std::string error;                                        // the failure
  };
  // Recomputes orphan timers from the current observations.
  void refresh();
  const RunningDomain* neededBy(const std::string& port_id) const;
  bool ownerRunning(const HookPortSpec& port) const;

  const Clock& clock_;
  ReconcilerConfig config_;
  bool domains_known_ = false;
  std::string unknown_reason_ = "no domain listing yet";
  std::vector<RunningDomain> domains_;
  std::map<std::string, size_t> needed_;           // port id -> index in domains_ needing it
  std::map<std::string, HookPortSpec> ports_;      // vfod's ports by id
  std::map<std::string, TimePoint> orphan_since_;  // port id -> owner seen gone since
  std::map<std::string, Retry> retries_;           // port id -> failed action backoff
};

}  // namespace vfo::hooks
