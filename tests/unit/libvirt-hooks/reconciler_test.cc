// The Reconciler state machine and ReconcileService passes, in virtual time,
// with a fake domain source and a fake vfod.
#include "vfo/hooks/reconciler.h"

#include <gtest/gtest.h>

#include <map>

#include "vfo/hooks/reconcile_service.h"
#include "vfo/testing/log_capture.h"
#include "vfo/testing/wait.h"

namespace vfo::hooks {
namespace {

using namespace std::chrono_literals;

const char* kUuid1 = "11111111-2222-3333-4444-000000000001";
const char* kUuid2 = "11111111-2222-3333-4444-000000000002";

struct Iface {
  std::string mac;
  std::string path;
  std::string mode = "client";
};

std::string domainXml(const std::string& name, const std::string& uuid,
                      const std::vector<Iface>& ifaces) {
  std::string xml =
      "<domain type='kvm'><name>" + name + "</name><uuid>" + uuid + "</uuid><devices>";
  for (const auto& i : ifaces)
    xml += "<interface type='vhostuser'><mac address='" + i.mac + "'/><source type='unix' path='" +
           i.path + "' mode='" + i.mode + "'/><model type='virtio'/></interface>";
  xml += "</devices></domain>";
  return xml;
}

RunningDomain domain(const std::string& name, const std::string& uuid,
                     const std::vector<Iface>& ifaces) {
  return runningDomainFromXml(name, uuid, domainXml(name, uuid, ifaces), false, {});
}

const Iface kNet0{"52:54:00:00:00:01", "/run/vfo/sockets/vm1-net0.sock"};
const Iface kNet1{"52:54:00:00:00:02", "/run/vfo/sockets/vm1-net1.sock", "server"};
const Iface kOvs{"52:54:00:00:00:03", "/var/run/openvswitch/vhu1"};

HookPortSpec port(const std::string& id, const std::string& mac, const std::string& owner_name,
                  const std::string& owner_uuid) {
  HookPortSpec p;
  p.port_id = id;
  p.socket_path = "/run/vfo/sockets/" + id + ".sock";
  p.mac = *MacAddress::parse(mac);
  p.domain_name = owner_name;
  p.domain_uuid = owner_uuid;
  return p;
}

std::vector<std::string> describe(const std::vector<ReconcileAction>& actions) {
  std::vector<std::string> out;
  for (const auto& a : actions)
    out.push_back(std::string(reconcileActionKindName(a.kind)) + " " + a.spec.port_id);
  return out;
}

const PortReport* find(const ReconcileReport& r, const std::string& id) {
  for (const auto& p : r.ports)
    if (p.port_id == id) return &p;
  return nullptr;
}

TEST(Reconciler, CreatesMissingPortsOfRunningDomainsAndIgnoresForeignInterfaces) {
  FakeClock clock;
  Reconciler r(clock);
  r.setDomains({domain("vm1", kUuid1, {kNet0, kOvs, kNet1})});
  r.setPorts({});
  auto actions = r.plan();
  ASSERT_EQ(describe(actions), (std::vector<std::string>{"create vm1-net0", "create vm1-net1"}));
  EXPECT_EQ(actions[0].spec.domain_name, "vm1");
  EXPECT_EQ(actions[0].spec.domain_uuid, kUuid1);
  EXPECT_EQ(actions[0].spec.role, VhostRole::kVfodServer);
  EXPECT_EQ(actions[1].spec.role, VhostRole::kVfodClient);
  EXPECT_NE(actions[0].reason.find("domain vm1 runs and needs it"), std::string::npos);
  EXPECT_EQ(find(r.report(), "vm1-net0")->verdict, PortVerdict::kMissing);
  EXPECT_EQ(find(r.report(), "vhu1"), nullptr);  // the OVS socket is not vfod's

  for (const auto& a : actions) r.onActionResult(a, okStatus());
  EXPECT_TRUE(r.plan().empty());
  EXPECT_EQ(find(r.report(), "vm1-net0")->verdict, PortVerdict::kInUse);
  EXPECT_EQ(r.nextDeadline(), kNever);
}

TEST(Reconciler, DeletesAPortWhoseOwnerIsGoneOnlyAfterTheGracePeriod) {
  FakeClock clock;
  Reconciler r(clock);  // default grace 30 s
  const TimePoint t0 = clock.now();
  r.setDomains({});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  EXPECT_TRUE(r.plan().empty());
  EXPECT_EQ(r.nextDeadline(), t0 + 30s);
  const ReconcileReport rep = r.report();
  const PortReport* p = find(rep, "vm1-net0");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->verdict, PortVerdict::kPendingDelete);
  EXPECT_EQ(p->deadline, t0 + 30s);
  EXPECT_NE(p->detail.find("owner vm1 (uuid " + std::string(kUuid1) +
                           ") is not running; deleted in 30.0 s unless it comes back"),
            std::string::npos)
      << p->detail;

  clock.advance(29'999ms);
  r.setDomains({});  // a later pass sees the same: the timer keeps its start
  EXPECT_TRUE(r.plan().empty());
  clock.advance(1ms);
  auto actions = r.plan();
  ASSERT_EQ(describe(actions), (std::vector<std::string>{"delete vm1-net0"}));
  EXPECT_EQ(find(r.report(), "vm1-net0")->verdict, PortVerdict::kDeleteDue);
  r.onActionResult(actions[0], okStatus());
  EXPECT_TRUE(r.report().ports.empty());
  EXPECT_EQ(r.nextDeadline(), kNever);
}

TEST(Reconciler, AConfigurableGraceOfZeroDeletesAtOnce) {
  FakeClock clock;
  Reconciler r(clock, {.grace = 0s});
  r.setDomains({});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  EXPECT_EQ(describe(r.plan()), (std::vector<std::string>{"delete vm1-net0"}));
}

TEST(Reconciler, ADomainComingBackWithinTheGraceCancelsTheDelete) {
  FakeClock clock;
  Reconciler r(clock);
  r.setDomains({});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  clock.advance(20s);
  r.setDomains({domain("vm1", kUuid1, {kNet0})});
  EXPECT_EQ(find(r.report(), "vm1-net0")->verdict, PortVerdict::kInUse);
  EXPECT_EQ(r.nextDeadline(), kNever);
  clock.advance(40s);
  EXPECT_TRUE(r.plan().empty());

  // Gone again: the grace period starts from now, not from the first time.
  r.setDomains({});
  clock.advance(29s);
  EXPECT_TRUE(r.plan().empty());
  clock.advance(1s);
  EXPECT_EQ(describe(r.plan()), (std::vector<std::string>{"delete vm1-net0"}));
}

TEST(Reconciler, AnotherRunningDomainNeedingThePortKeepsIt) {
  FakeClock clock;
  Reconciler r(clock, {.grace = 0s});
  // Recorded owner uuid 1 is gone; vm1 was redefined with uuid 2 and runs.
  r.setDomains({domain("vm1", kUuid2, {kNet0})});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  EXPECT_TRUE(r.plan().empty());
  EXPECT_EQ(find(r.report(), "vm1-net0")->verdict, PortVerdict::kInUse);
}

TEST(Reconciler, OwnerIsMatchedByNameWhenNoUuidWasRecorded) {
  FakeClock clock;
  Reconciler r(clock, {.grace = 0s});
  r.setDomains({domain("vm1", kUuid1, {})});  // runs, no longer lists the port
  r.setPorts({port("old", "52:54:00:00:00:09", "vm1", "")});
  EXPECT_TRUE(r.plan().empty());
  EXPECT_EQ(find(r.report(), "old")->verdict, PortVerdict::kOwnerRunning);
  r.setDomains({domain("vm2", kUuid2, {})});
  EXPECT_EQ(describe(r.plan()), (std::vector<std::string>{"delete old"}));
}

TEST(Reconciler, PortsWithoutAnOwnerAreNeverDeleted) {
  FakeClock clock;
  Reconciler r(clock);
  r.setDomains({});
  r.setPorts({port("ops-port", "52:54:00:00:00:05", "", "")});
  for (int i = 0; i < 5; ++i) {
    clock.advance(1h);
    r.setDomains({});
    EXPECT_TRUE(r.plan().empty());
  }
  EXPECT_EQ(find(r.report(), "ops-port")->verdict, PortVerdict::kOperatorOwned);
  EXPECT_EQ(r.nextDeadline(), kNever);
}

TEST(Reconciler, NothingIsDecidedWhileLibvirtIsUnreachableAndTheGraceStartsAgain) {
  FakeClock clock;
  Reconciler r(clock);
  r.setDomains({domain("vm2", kUuid2, {{"52:54:00:00:00:07", "/run/vfo/sockets/vm2.sock"}})});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  clock.advance(25s);
  r.setDomainsUnknown("libvirt qemu:///system: Failed to connect socket");
  EXPECT_TRUE(r.plan().empty());  // neither the delete nor vm2's create
  EXPECT_EQ(r.nextDeadline(), kNever);
  auto rep = r.report();
  EXPECT_FALSE(rep.domains_known);
  EXPECT_EQ(find(rep, "vm1-net0")->verdict, PortVerdict::kUndecided);
  EXPECT_EQ(find(rep, "vm2"), nullptr);
  EXPECT_NE(rep.lines()[0].find("not reachable (libvirt qemu:///system: Failed to connect"),
            std::string::npos);

  clock.advance(10s);  // 35 s after the owner was first seen gone
  r.setDomains({});
  EXPECT_TRUE(r.plan().empty());
  clock.advance(29s);
  EXPECT_TRUE(r.plan().empty());
  clock.advance(1s);
  EXPECT_EQ(describe(r.plan()), (std::vector<std::string>{"delete vm1-net0"}));
}

TEST(Reconciler, ADomainWhoseXmlCannotBeParsedKeepsItsPortsAndGetsNone) {
  FakeClock clock;
  Reconciler r(clock, {.grace = 0s});
  RunningDomain bad = runningDomainFromXml("vm1", kUuid1, "<domain><name>vm1", false, {});
  ASSERT_FALSE(bad.xml_error.empty());
  r.setDomains({bad});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  EXPECT_TRUE(r.plan().empty());
  auto rep = r.report();
  EXPECT_EQ(find(rep, "vm1-net0")->verdict, PortVerdict::kOwnerRunning);
  ASSERT_EQ(rep.domain_problems.size(), 1u);
  EXPECT_NE(rep.domain_problems[0].find("domain vm1: INVALID_ARGUMENT"), std::string::npos)
      << rep.domain_problems[0];
}

TEST(Reconciler, AnExistingPortWithAnotherSpecIsAConflictLeftAlone) {
  FakeClock clock;
  Reconciler r(clock, {.grace = 0s});
  r.setDomains({domain("vm1", kUuid1, {kNet0})});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:99", "other", kUuid2)});
  EXPECT_TRUE(r.plan().empty());
  const ReconcileReport rep = r.report();
  const PortReport* p = find(rep, "vm1-net0");
  EXPECT_EQ(p->verdict, PortVerdict::kConflict);
  EXPECT_NE(p->detail.find("mac 52:54:00:00:00:99 != 52:54:00:00:00:01"), std::string::npos)
      << p->detail;
}

TEST(Reconciler, AFailedActionIsRetriedWithBackoff) {
  FakeClock clock;
  Reconciler r(clock, {.retry_initial = 1s, .retry_max = 3s});
  const TimePoint t0 = clock.now();
  r.setDomains({domain("vm1", kUuid1, {kNet0})});
  r.setPorts({});
  auto a = r.plan();
  ASSERT_EQ(a.size(), 1u);
  r.onActionResult(a[0], resourceExhausted("no free VF on pf0"));
  EXPECT_TRUE(r.plan().empty());
  EXPECT_EQ(r.nextDeadline(), t0 + 1s);
  const ReconcileReport rep = r.report();
  const PortReport* p = find(rep, "vm1-net0");
  EXPECT_EQ(p->last_error, "RESOURCE_EXHAUSTED: no free VF on pf0");
  EXPECT_EQ(p->deadline, t0 + 1s);

  clock.advance(1s);
  a = r.plan();
  ASSERT_EQ(a.size(), 1u);
  r.onActionResult(a[0], resourceExhausted("no free VF on pf0"));
  EXPECT_EQ(r.nextDeadline(), t0 + 3s);  // 2 s backoff
  clock.advance(2s);
  r.onActionResult(r.plan().at(0), resourceExhausted("no free VF on pf0"));
  EXPECT_EQ(r.nextDeadline(), t0 + 6s);  // capped at 3 s
  clock.advance(3s);
  r.onActionResult(r.plan().at(0), okStatus());
  EXPECT_TRUE(r.plan().empty());
  EXPECT_EQ(find(r.report(), "vm1-net0")->last_error, "");
}

TEST(Reconciler, DeletingAPortThatIsAlreadyGoneCountsAsDone) {
  FakeClock clock;
  Reconciler r(clock, {.grace = 0s});
  r.setDomains({});
  r.setPorts({port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1)});
  auto a = r.plan();
  ASSERT_EQ(a.size(), 1u);
  r.onActionResult(a[0], notFound("port vm1-net0 does not exist"));
  EXPECT_TRUE(r.plan().empty());
  EXPECT_TRUE(r.report().ports.empty());
}

TEST(Reconciler, ConfigIsValidatedWithTheFieldNamed) {
  EXPECT_TRUE(validateReconcilerConfig({}).isOk());
  Status s = validateReconcilerConfig({.grace = -1s});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "reconcile.grace: -1.0 s is out of range 0 s..1 h");
  s = validateReconcilerConfig({.retry_initial = 0s});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("reconcile.retry_initial"), std::string::npos);
  s = validateReconcilerConfig({.retry_initial = 10s, .retry_max = 5s});
  EXPECT_NE(s.message().find("reconcile.retry_max"), std::string::npos);
  ReconcileServiceOptions o;
  o.xml.socket_dir = "run/vfo";
  EXPECT_EQ(validateReconcileServiceOptions(o).code(), StatusCode::kInvalidArgument);
  o = {};
  o.resync_interval = 10ms;
  EXPECT_NE(validateReconcileServiceOptions(o).message().find("reconcile.resync_interval"),
            std::string::npos);
}

// ---- ReconcileService passes with fakes ----

class FakeDomains : public DomainSource {
 public:
  bool down = false;
  std::vector<DomainRecord> domains;
  int lists = 0;
  ChangeCallback cb;

  void setChangeCallback(ChangeCallback c) override { cb = std::move(c); }
  Status start() override { return okStatus(); }
  void stop() override {}
  StatusOr<std::vector<DomainRecord>> listRunning() override {
    ++lists;
    if (down)
      return unavailable(
          "libvirt qemu:///system: Failed to connect socket to "
          "'/var/run/libvirt/libvirt-sock-ro': No such file or directory");
    return domains;
  }
  void run(const std::string& name, const std::string& uuid, const std::vector<Iface>& ifaces) {
    domains.push_back({name, uuid, domainXml(name, uuid, ifaces), "", false});
  }
};

class FakePorts : public PortControl {
 public:
  std::map<std::string, HookPortSpec> ports;
  std::vector<std::string> calls;
  Status fail_next_create;
  bool list_fails = false;

  StatusOr<std::vector<HookPortSpec>> listPorts() override {
    if (list_fails) return unavailable("vfod's control thread did not answer within 2 s");
    std::vector<HookPortSpec> out;
    for (const auto& [id, p] : ports) out.push_back(p);
    return out;
  }
  Status createPort(const HookPortSpec& spec) override {
    calls.push_back("create " + spec.port_id);
    if (!fail_next_create.isOk()) return std::exchange(fail_next_create, okStatus());
    ports[spec.port_id] = spec;
    return okStatus();
  }
  Status deletePort(const std::string& id) override {
    calls.push_back("delete " + id);
    return ports.erase(id) ? okStatus() : notFound("port " + id + " does not exist");
  }
};

TEST(ReconcileService, CreatesThenDeletesAfterTheGraceThroughPortControl) {
  FakeClock clock;
  FakeDomains domains;
  FakePorts ports;
  ports.ports["ops"] = port("ops", "52:54:00:00:00:05", "", "");
  testing::LogCapture log;
  ReconcileServiceOptions opts;
  opts.reconciler.grace = 10s;
  ReconcileService svc(domains, ports, clock, opts);

  domains.run("vm1", kUuid1, {kNet0, kOvs});
  TimePoint next = svc.runOnce();
  EXPECT_EQ(ports.calls, (std::vector<std::string>{"create vm1-net0"}));
  EXPECT_EQ(ports.ports.at("vm1-net0").domain_uuid, kUuid1);
  EXPECT_EQ(next, clock.now() + 60s);  // resync
  EXPECT_TRUE(
      log.contains("INFO  reconcile [port vm1-net0] created: domain vm1 runs and needs it"));

  domains.domains.clear();  // vm1 destroyed while vfod missed the release hook
  next = svc.runOnce();
  EXPECT_EQ(next, clock.now() + 10s);
  EXPECT_TRUE(log.contains(
      "[port vm1-net0] owner vm1 (uuid 11111111-2222-3333-4444-000000000001) is not running; "
      "deleted in 10.0 s unless it comes back"));
  clock.advance(10s);
  svc.runOnce();
  EXPECT_EQ(ports.calls, (std::vector<std::string>{"create vm1-net0", "delete vm1-net0"}));
  EXPECT_EQ(ports.ports.count("ops"), 1u);  // operator port untouched
  auto rep = svc.report();
  ASSERT_EQ(rep.ports.size(), 1u);
  EXPECT_EQ(rep.ports[0].verdict, PortVerdict::kOperatorOwned);
  EXPECT_EQ(svc.passes(), 3u);
}

TEST(ReconcileService, LibvirtDownIsLoggedOnceAndRetriedWithBackoff) {
  FakeClock clock;
  FakeDomains domains;
  FakePorts ports;
  ports.ports["vm1-net0"] = port("vm1-net0", "52:54:00:00:00:01", "vm1", kUuid1);
  testing::LogCapture log;
  ReconcileServiceOptions opts;
  opts.reconciler.grace = 0s;
  opts.reconnect_initial = 1s;
  opts.reconnect_max = 4s;
  ReconcileService svc(domains, ports, clock, opts);
  domains.down = true;
  const TimePoint t0 = clock.now();
  EXPECT_EQ(svc.runOnce(), t0 + 1s);
  EXPECT_EQ(domains.lists, 1);
  clock.advance(500ms);
  EXPECT_EQ(svc.runOnce(), t0 + 1s);  // too early: libvirt is not asked
  EXPECT_EQ(domains.lists, 1);
  clock.advance(500ms);
  EXPECT_EQ(svc.runOnce(), t0 + 3s);  // asked again, backoff doubled
  EXPECT_EQ(domains.lists, 2);
  clock.advance(2s);
  EXPECT_EQ(svc.runOnce(), t0 + 7s);
  clock.advance(4s);
  EXPECT_EQ(svc.runOnce(), t0 + 11s);  // capped at 4 s
  EXPECT_TRUE(ports.calls.empty());    // nothing deleted although grace is 0
  EXPECT_EQ(ports.ports.count("vm1-net0"), 1u);
  int warnings = 0;
  for (const auto& l : log.lines)
    if (l.find("WARN  reconcile") != std::string::npos &&
        l.find("Failed to connect socket") != std::string::npos)
      ++warnings;
  EXPECT_EQ(warnings, 1);
  EXPECT_EQ(svc.report().ports.at(0).verdict, PortVerdict::kUndecided);

  domains.down = false;
  domains.run("vm1", kUuid1, {kNet0});
  clock.advance(4s);
  svc.runOnce();
  EXPECT_TRUE(log.contains("libvirt reachable again; reconciliation resumes"));
  EXPECT_TRUE(ports.calls.empty());  // owner runs: kept
  EXPECT_EQ(svc.report().ports.at(0).verdict, PortVerdict::kInUse);
}

TEST(ReconcileService, AFailedCreateIsLoggedAndRetried) {
  FakeClock clock;
  FakeDomains domains;
  FakePorts ports;
  testing::LogCapture log;
  ReconcileService svc(domains, ports, clock, {});
  domains.run("vm1", kUuid1, {kNet0});
  ports.fail_next_create = resourceExhausted("no free VF");
  EXPECT_EQ(svc.runOnce(), clock.now() + 1s);
  EXPECT_TRUE(log.contains("[port vm1-net0] create failed: RESOURCE_EXHAUSTED: no free VF"));
  clock.advance(1s);
  svc.runOnce();
  EXPECT_EQ(ports.calls, (std::vector<std::string>{"create vm1-net0", "create vm1-net0"}));
  EXPECT_EQ(ports.ports.count("vm1-net0"), 1u);
}

TEST(ReconcileService, NothingIsDoneWhileVfodsPortsCannotBeListed) {
  FakeClock clock;
  FakeDomains domains;
  FakePorts ports;
  testing::LogCapture log;
  ReconcileService svc(domains, ports, clock, {});
  domains.run("vm1", kUuid1, {kNet0});
  ports.list_fails = true;
  EXPECT_EQ(svc.runOnce(), clock.now() + 1s);  // retried after retry_initial
  clock.advance(1s);
  svc.runOnce();
  EXPECT_TRUE(ports.calls.empty());
  int warnings = 0;
  for (const auto& l : log.lines)
    if (l.find("cannot list vfod's ports: UNAVAILABLE") != std::string::npos) ++warnings;
  EXPECT_EQ(warnings, 1);
  ports.list_fails = false;
  clock.advance(1s);
  svc.runOnce();
  EXPECT_EQ(ports.calls, (std::vector<std::string>{"create vm1-net0"}));
}

TEST(ReconcileService, ThreadRunsOnChangeCallbacksAndStops) {
  FakeDomains domains;
  FakePorts ports;
  ReconcileService svc(domains, ports, MonotonicClock::instance(), {});
  ASSERT_TRUE(svc.start().isOk());
  EXPECT_EQ(svc.start().code(), StatusCode::kFailedPrecondition);
  auto waitPasses = [&](uint64_t n) {
    return testing::waitFor([&] { return svc.passes() >= n; }, 5000ms, 1ms);
  };
  ASSERT_TRUE(waitPasses(1));  // the first pass runs at start
  const uint64_t before = svc.passes();
  domains.cb("domain vm1 started");
  ASSERT_TRUE(waitPasses(before + 1));
  svc.stop();
  svc.stop();  // idempotent
}

}  // namespace
}  // namespace vfo::hooks
