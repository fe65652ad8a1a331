#include "vfo/hooks/hook.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace vfo::hooks {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(VFO_SOURCE_DIR) + "/tests/unit/libvirt-hooks/fixtures/" + name);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// vfod with a port table; can be down, slow to become ready, or refuse.
class FakeVfod : public VfodClient {
 public:
  struct Entry {
    HookPortSpec spec;
    HookPortState state = HookPortState::kWaiting;
    int polls_until_ready = 0;
  };
  bool down = false;
  int polls_until_ready = 0;                  // applied to newly created ports
  std::map<std::string, Status> fail_create;  // port id -> error
  std::map<std::string, Entry> ports;
  std::vector<std::string> calls;

  Status createPort(const HookPortSpec& spec, bool* created) override {
    calls.push_back("create " + spec.port_id);
    *created = false;
    if (down) return unavailable("connect unix:///run/vfo/vfo.sock: No such file or directory");
    if (auto it = fail_create.find(spec.port_id); it != fail_create.end()) return it->second;
    if (auto it = ports.find(spec.port_id); it != ports.end()) {
      if (it->second.spec.mac != spec.mac) return alreadyExists("port exists with another MAC");
      return okStatus();
    }
    Entry e{spec, spec.incoming_migration ? HookPortState::kIncoming : HookPortState::kWaiting,
            polls_until_ready};
    ports[spec.port_id] = e;
    *created = true;
    return okStatus();
  }
  Status deletePort(const std::string& id) override {
    calls.push_back("delete " + id);
    if (down) return unavailable("vfod down");
    if (!ports.erase(id)) return notFound("port " + id + " does not exist");
    return okStatus();
  }
  StatusOr<HookPortState> portState(const std::string& id) override {
    if (down) return unavailable("vfod down");
    auto it = ports.find(id);
    if (it == ports.end()) return notFound(id);
    if (it->second.polls_until_ready > 0) {
      --it->second.polls_until_ready;
      return HookPortState::kGone;  // not ready yet
    }
    return it->second.state;
  }
  Status setOwner(const std::string& id, const std::string& name,
                  const std::string& uuid) override {
    calls.push_back("owner " + id + " " + name + " " + uuid);
    if (down) return unavailable("vfod down");
    auto it = ports.find(id);
    if (it == ports.end()) return notFound(id);
    it->second.spec.domain_name = name;
    return okStatus();
  }
  Status markDetached(const std::string& id) override {
    calls.push_back("detach " + id);
    if (down) return unavailable("vfod down");
    auto it = ports.find(id);
    if (it == ports.end()) return notFound(id);
    it->second.state = HookPortState::kDetached;
    return okStatus();
  }
};

class HookTest : public ::testing::Test {
 protected:
  HookTest() {
    config.sleep = [this](std::chrono::milliseconds d) { slept += d; };
    config.socket_exists = [](const std::string&) { return true; };
  }
  HookResult run(const std::string& op, const std::string& sub, const std::string& xml) {
    return runHook({"vm3", op, sub, "-"}, xml, vfod, config);
  }
  FakeVfod vfod;
  HookConfig config;
  std::chrono::milliseconds slept{0};
};

TEST_F(HookTest, PrepareCreatesEveryPortAndWaitsUntilReady) {
  vfod.polls_until_ready = 3;
  auto r = run("prepare", "begin", fixture("several_with_foreign.xml"));
  EXPECT_EQ(r.exit_code, 0) << (r.errors.empty() ? "" : r.errors[0]);
  ASSERT_EQ(vfod.ports.size(), 2u);
  const auto& p = vfod.ports.at("vm3-net1");
  EXPECT_EQ(p.spec.socket_path, "/run/vfo/sockets/vm3-net1.sock");
  EXPECT_EQ(p.spec.role, VhostRole::kVfodClient);
  EXPECT_EQ(p.spec.queues, 2u);
  EXPECT_EQ(p.spec.domain_uuid, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(slept, 6 * config.ready_poll);
  EXPECT_TRUE(r.out.empty());
}

TEST_F(HookTest, PrepareIsIdempotent) {
  auto xml = fixture("client_mode.xml");
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  EXPECT_EQ(vfod.ports.size(), 1u);
}

TEST_F(HookTest, PrepareFailsClearlyWhenVfodIsDown) {
  vfod.down = true;
  auto r = run("prepare", "begin", fixture("client_mode.xml"));
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("vfod is not reachable"), std::string::npos) << r.errors[0];
}

TEST_F(HookTest, PrepareFailureUndoesPortsThisRunCreated) {
  vfod.fail_create["vm3-net1"] = resourceExhausted("group g0 member pf0: no free VF");
  auto r = run("prepare", "begin", fixture("several_with_foreign.xml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.errors[0].find("RESOURCE_EXHAUSTED"), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[0].find("port vm3-net1"), std::string::npos) << r.errors[0];
  EXPECT_TRUE(vfod.ports.empty()) << "vm3-net0 must be undone";
}

TEST_F(HookTest, PrepareKeepsPortsThatExistedBefore) {
  auto xml = fixture("several_with_foreign.xml");
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  vfod.ports.erase("vm3-net1");
  vfod.fail_create["vm3-net1"] = resourceExhausted("no free VF");
  EXPECT_EQ(run("prepare", "begin", xml).exit_code, 1);
  EXPECT_EQ(vfod.ports.count("vm3-net0"), 1u) << "a port this run did not create stays";
}

TEST_F(HookTest, PrepareTimesOutWhenSocketNeverReady) {
  vfod.polls_until_ready = 1'000'000;
  auto r = run("prepare", "begin", fixture("client_mode.xml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.errors[0].find("not ready after 3000 ms"), std::string::npos) << r.errors[0];
  EXPECT_TRUE(vfod.ports.empty());
  EXPECT_EQ(slept, config.ready_timeout);
}

TEST_F(HookTest, BadXmlCreatesNothing) {
  auto r = run("prepare", "begin", fixture("malformed.xml"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.errors[0].find("malformed"), std::string::npos);
  EXPECT_TRUE(vfod.calls.empty());
  std::string escape =
      "<domain><name>x</name><devices><interface type='vhostuser'><mac "
      "address='52:54:00:00:00:01'/>"
      "<source type='unix' path='/run/vfo/sockets/../x.sock' "
      "mode='client'/></interface></devices></domain>";
  r = run("prepare", "begin", escape);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(vfod.calls.empty());
}

TEST_F(HookTest, StartedRecordsOwner) {
  auto xml = fixture("client_mode.xml");
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  ASSERT_EQ(run("started", "begin", xml).exit_code, 0);
  EXPECT_EQ(vfod.ports.at("vm1-net0").spec.domain_name, "vm1");
  EXPECT_EQ(vfod.calls.back(), "owner vm1-net0 vm1 6f5c2a0e-3d4b-4c1a-9a57-1d2f0b8c9e01");
}

TEST_F(HookTest, StoppedAndReleaseNeverFail) {
  auto xml = fixture("client_mode.xml");
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  EXPECT_EQ(run("stopped", "end", xml).exit_code, 0);
  EXPECT_EQ(vfod.ports.at("vm1-net0").state, HookPortState::kDetached);
  EXPECT_EQ(run("release", "end", xml).exit_code, 0);
  EXPECT_TRUE(vfod.ports.empty());
  auto again = run("release", "end", xml);  // missing port is success
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.log[0].find("already gone"), std::string::npos);
  vfod.down = true;
  auto down = run("release", "end", xml);
  EXPECT_EQ(down.exit_code, 0);
  EXPECT_NE(down.log[0].find("or `vfoctl port delete vm1-net0`"), std::string::npos);
  EXPECT_EQ(run("stopped", "end", xml).exit_code, 0);
  EXPECT_EQ(run("release", "end", fixture("malformed.xml")).exit_code, 0);
}

TEST_F(HookTest, PrepareAcceptsAPortLeftDetached) {
  // stopped ran, release could not delete (vfod was down): the next start
  // finds the port detached; its socket is still served, so it is ready.
  auto xml = fixture("client_mode.xml");
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  ASSERT_EQ(run("stopped", "end", xml).exit_code, 0);
  ASSERT_EQ(vfod.ports.at("vm1-net0").state, HookPortState::kDetached);
  slept = {};
  auto r = run("prepare", "begin", xml);
  EXPECT_EQ(r.exit_code, 0) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(slept, std::chrono::milliseconds(0)) << "no waiting for a served socket";
}

TEST_F(HookTest, MigrateBeginEchoesXmlAndCreatesIncoming) {
  auto xml = fixture("server_mode_multiqueue.xml");
  auto r = run("migrate", "begin", xml);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, xml) << "a filter must write the XML back byte for byte";
  EXPECT_EQ(vfod.ports.at("vm2-net0").state, HookPortState::kIncoming);
  EXPECT_TRUE(vfod.ports.at("vm2-net0").spec.incoming_migration);
}

TEST_F(HookTest, RestoreBeginEchoesXml) {
  auto xml = fixture("metadata.xml");
  auto r = run("restore", "begin", xml);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, xml);
  EXPECT_EQ(vfod.ports.at("vm5-net0").spec.vlan, 100);
  EXPECT_EQ(vfod.ports.at("vm5-net0").spec.lag_pin, "pf1");
}

TEST_F(HookTest, ReconnectFailsOnlyWhenTheVmCannotWork) {
  auto xml = fixture("client_mode.xml");
  vfod.down = true;
  EXPECT_EQ(run("reconnect", "begin", xml).exit_code, 0) << "vfod down: VM keeps running";
  vfod.down = false;
  EXPECT_EQ(run("reconnect", "begin", xml).exit_code, 0);
  EXPECT_EQ(vfod.ports.size(), 1u);
  // Another port with another MAC owns the socket: the VM's network cannot work.
  vfod.ports.at("vm1-net0").spec.mac = *MacAddress::parse("52:54:00:ff:ff:ff");
  auto r = run("reconnect", "begin", xml);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.errors[0].find("cannot work"), std::string::npos);
}

TEST_F(HookTest, OtherOperationsDoNothing) {
  for (auto [op, sub] : std::vector<std::pair<std::string, std::string>>{
           {"prepare", "end"}, {"migrate", "end"}, {"attach", "begin"}, {"release", "begin"}}) {
    auto r = run(op, sub, "not even xml");
    EXPECT_EQ(r.exit_code, 0) << op << " " << sub;
  }
  EXPECT_TRUE(vfod.calls.empty());
}

TEST_F(HookTest, TooFewArgumentsIsAnError) {
  auto r = runHook({"vm1"}, "", vfod, config);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.errors[0].find("usage"), std::string::npos);
}

}  // namespace
}  // namespace vfo::hooks

namespace vfo::hooks {
namespace {

TEST_F(HookTest, StartedWithVfodDownLogsAndLetsTheStartGoOn) {
  auto xml = fixture("client_mode.xml");
  ASSERT_EQ(run("prepare", "begin", xml).exit_code, 0);
  vfod.down = true;
  auto r = run("started", "begin", xml);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_FALSE(r.log.empty());
  EXPECT_NE(r.log[0].find("owner of port vm1-net0 not recorded"), std::string::npos) << r.log[0];
  vfod.down = false;
  vfod.ports.clear();  // the port vanished: the VM cannot work, the start must fail
  EXPECT_EQ(run("start", "begin", xml).exit_code, 1);
}

}  // namespace
}  // namespace vfo::hooks
