// LibvirtDomainSource against real libvirt code: the in-process test driver
// (test:///default, shared by every connection of this process, with real
// lifecycle events through the default event loop) and a qemu:///system URI
// whose socket does not exist (libvirtd down).
#include "vfo/hooks/libvirt_domain_source.h"

#include <gtest/gtest.h>
#include <libvirt/libvirt.h>

#include <map>
#include <mutex>

#include "vfo/hooks/reconcile_service.h"
#include "vfo/testing/log_capture.h"
#include "vfo/testing/names.h"
#include "vfo/testing/wait.h"

namespace vfo::hooks {
namespace {

using namespace std::chrono_literals;

std::string testDomainXml(const std::string& name, const std::string& sock) {
  return "<domain type='test'><name>" + name +
         "</name><memory>65536</memory><os><type>hvm</type></os><devices>"
         "<interface type='vhostuser'><mac address='52:54:00:12:34:31'/>"
         "<source type='unix' path='/run/vfo/sockets/" +
         sock +
         ".sock' mode='client'/><model type='virtio'/></interface>"
         "<interface type='vhostuser'><mac address='52:54:00:12:34:32'/>"
         "<source type='unix' path='/var/run/openvswitch/" +
         sock +
         "' mode='client'/><model type='virtio'/></interface>"
         "</devices></domain>";
}

// A read-write connection to the test driver, to start and stop domains the
// source (read-only, same driver state) sees.
class TestDriver {
 public:
  TestDriver() : conn_(virConnectOpen("test:///default")) {}
  ~TestDriver() {
    for (auto* d : started_) {
      virDomainDestroy(d);  // already destroyed is fine
      virDomainFree(d);
    }
    if (conn_) virConnectClose(conn_);
  }
  bool ok() const { return conn_ != nullptr; }
  virDomainPtr create(const std::string& xml) {
    virDomainPtr d = virDomainCreateXML(conn_, xml.c_str(), 0);
    if (d) started_.push_back(d);
    return d;
  }

 private:
  virConnectPtr conn_;
  std::vector<virDomainPtr> started_;
};

// vfod's ports, touched by the service thread and read by the test.
class LockedPorts : public PortControl {
 public:
  StatusOr<std::vector<HookPortSpec>> listPorts() override {
    std::lock_guard l(mu_);
    std::vector<HookPortSpec> out;
    for (const auto& [id, p] : ports_) out.push_back(p);
    return out;
  }
  Status createPort(const HookPortSpec& spec) override {
    std::lock_guard l(mu_);
    ports_[spec.port_id] = spec;
    return okStatus();
  }
  Status deletePort(const std::string& id) override {
    std::lock_guard l(mu_);
    return ports_.erase(id) ? okStatus() : notFound("port " + id + " does not exist");
  }
  bool has(const std::string& id) {
    std::lock_guard l(mu_);
    return ports_.count(id) > 0;
  }
  size_t size() {
    std::lock_guard l(mu_);
    return ports_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, HookPortSpec> ports_;
};

TEST(LibvirtDomainSource, ListsRunningDomainsOfTheTestDriver) {
  TestDriver driver;
  ASSERT_TRUE(driver.ok());
  const std::string name = testing::uniqueName("vfo-rc-");
  ASSERT_NE(driver.create(testDomainXml(name, name)), nullptr);

  LibvirtDomainSource src({.uri = "test:///default"});
  EXPECT_EQ(src.listRunning().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(src.start().isOk());
  auto listed = src.listRunning();
  ASSERT_TRUE(listed.isOk()) << listed.status().toString();
  const DomainRecord* mine = nullptr;
  for (const auto& d : *listed)
    if (d.name == name) mine = &d;
  ASSERT_NE(mine, nullptr);
  EXPECT_EQ(mine->uuid.size(), 36u);
  EXPECT_TRUE(mine->xml_error.empty());
  RunningDomain rd = runningDomainFromXml(mine->name, mine->uuid, mine->xml, false, {});
  ASSERT_TRUE(rd.xml_error.empty()) << rd.xml_error;
  ASSERT_EQ(rd.ports.size(), 1u);  // the OVS interface is not vfod's
  EXPECT_EQ(rd.ports[0].port_id, name);
  EXPECT_EQ(rd.ports[0].domain_uuid, mine->uuid);
  EXPECT_EQ(src.connects(), 1u);
  ASSERT_TRUE(src.listRunning().isOk());
  EXPECT_EQ(src.connects(), 1u);  // the connection is kept
  src.stop();
}

TEST(LibvirtDomainSource, AMissingLibvirtdFailsCleanlyAndEachCallRetries) {
  const std::string dir = testing::makeTempDir("vfo-rc-");
  LibvirtDomainSource src({.uri = "qemu:///system?socket=" + dir + "/libvirt-sock-ro"});
  ASSERT_TRUE(src.start().isOk());
  for (int i = 1; i <= 3; ++i) {
    auto r = src.listRunning();
    ASSERT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("libvirt qemu:///system?socket=" + dir), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find("No such file or directory"), std::string::npos)
        << r.status().message();
    EXPECT_EQ(src.attempts(), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(src.connects(), 0u);
  src.stop();
  testing::removeTree(dir);
}

TEST(LibvirtDomainSource, ServiceWithLibvirtDownLogsOnceRetriesAndStopsPromptly) {
  const std::string dir = testing::makeTempDir("vfo-rc-");
  LibvirtDomainSource src({.uri = "qemu:///system?socket=" + dir + "/libvirt-sock-ro"});
  LockedPorts ports;
  testing::LogCapture log;
  ReconcileServiceOptions opts;
  opts.reconnect_initial = 20ms;
  opts.reconnect_max = 40ms;
  {
    ReconcileService svc(src, ports, MonotonicClock::instance(), opts);
    ASSERT_TRUE(svc.start().isOk());
    ASSERT_TRUE(testing::waitFor([&] { return src.attempts() >= 4; }, 5000ms));
    const auto t = std::chrono::steady_clock::now();
    svc.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t, 2s);  // bounded, not a speed target
    EXPECT_FALSE(svc.report().domains_known);
  }
  int warnings = 0;
  for (const auto& l : log.lines)
    if (l.find("WARN  reconcile") != std::string::npos) ++warnings;
  EXPECT_EQ(warnings, 1);
  testing::removeTree(dir);
}

TEST(LibvirtDomainSource, LifecycleEventsDriveCreateAndGracefulDelete) {
  TestDriver driver;
  ASSERT_TRUE(driver.ok());
  LibvirtDomainSource src({.uri = "test:///default"});
  LockedPorts ports;
  ReconcileServiceOptions opts;
  opts.reconciler.grace = 1s;
  opts.resync_interval = 1h;  // only events (and the grace deadline) cause passes
  ReconcileService svc(src, ports, MonotonicClock::instance(), opts);
  ASSERT_TRUE(svc.start().isOk());
  ASSERT_TRUE(testing::waitFor([&] { return svc.passes() >= 1; }, 5000ms));
  const size_t before = ports.size();

  const std::string name = testing::uniqueName("vfo-rc-");
  virDomainPtr dom = driver.create(testDomainXml(name, name));
  ASSERT_NE(dom, nullptr);
  // Only the STARTED event can trigger this pass (resync is an hour away).
  ASSERT_TRUE(testing::waitFor([&] { return ports.has(name); }, 5000ms));
  EXPECT_EQ(ports.size(), before + 1);

  const uint64_t passes = svc.passes();
  const auto destroyed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(virDomainDestroy(dom), 0);
  ASSERT_TRUE(testing::waitFor([&] { return svc.passes() > passes; }, 5000ms));
  ReconcileReport rep = svc.report();
  if (std::chrono::steady_clock::now() - destroyed_at < 900ms) {
    // Seen within the grace period: kept and announced.
    ASSERT_TRUE(ports.has(name));
    bool pending = false;
    for (const auto& p : rep.ports)
      if (p.port_id == name) pending = p.verdict == PortVerdict::kPendingDelete;
    EXPECT_TRUE(pending);
  }
  ASSERT_TRUE(testing::waitFor([&] { return !ports.has(name); }, 5000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - destroyed_at, 1s);
  svc.stop();
}

TEST(LibvirtDomainSource, ADomainStartedAgainWithinTheGraceKeepsItsPort) {
  TestDriver driver;
  ASSERT_TRUE(driver.ok());
  LibvirtDomainSource src({.uri = "test:///default"});
  LockedPorts ports;
  ReconcileServiceOptions opts;
  opts.reconciler.grace = 30s;
  opts.resync_interval = 1h;
  ReconcileService svc(src, ports, MonotonicClock::instance(), opts);
  ASSERT_TRUE(svc.start().isOk());
  const std::string name = testing::uniqueName("vfo-rc-");
  virDomainPtr dom = driver.create(testDomainXml(name, name));
  ASSERT_NE(dom, nullptr);
  ASSERT_TRUE(testing::waitFor([&] { return ports.has(name); }, 5000ms));

  auto verdictIs = [&](PortVerdict v) {
    for (const auto& p : svc.report().ports)
      if (p.port_id == name) return p.verdict == v;
    return false;
  };
  ASSERT_EQ(virDomainDestroy(dom), 0);
  ASSERT_TRUE(testing::waitFor([&] { return verdictIs(PortVerdict::kPendingDelete); }, 5000ms));
  ASSERT_NE(driver.create(testDomainXml(name, name)), nullptr);  // back (new UUID, same socket)
  ASSERT_TRUE(testing::waitFor([&] { return verdictIs(PortVerdict::kInUse); }, 5000ms));
  EXPECT_EQ(svc.report().next_deadline, kNever);  // nothing left to delete
  EXPECT_TRUE(ports.has(name));
  svc.stop();
}

}  // namespace
}  // namespace vfo::hooks
