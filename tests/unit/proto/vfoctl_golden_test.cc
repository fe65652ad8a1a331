// vfoctl output: human tables and protobuf JSON compared with goldens under
// tests/unit/proto/golden/ (regenerate with VFO_UPDATE_GOLDEN=1 and review
// the diff), exit codes, and the whole CLI against an in-process server.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "fake_backend.h"
#include "vfo/api/server.h"
#include "vfo/api/vfoctl.h"
#include "vfo/base/atomic_file.h"
#include "vfo/testing/names.h"

namespace vfo::api::cli {
namespace {

void expectGolden(const std::string& name, const std::string& got) {
  const std::string path = vfo::testing::sourceDir() + "/tests/unit/proto/golden/" + name;
  if (getenv("VFO_UPDATE_GOLDEN")) {
    std::ofstream(path) << got;
    return;
  }
  auto want = readWholeFile(path);
  ASSERT_TRUE(want.isOk()) << path << " missing; run with VFO_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, *want) << "golden " << name << " differs";
}

google::protobuf::Timestamp ts(int64_t s, int32_t n) {
  google::protobuf::Timestamp t;
  t.set_seconds(s);
  t.set_nanos(n);
  return t;
}

v1::ListPortsResponse samplePorts() {
  v1::ListPortsResponse r;
  auto* p = r.add_ports();
  auto* s = p->mutable_spec();
  s->set_port_id("vm1/net0");
  s->set_socket_path("/run/vfo/sockets/vm1-net0.sock");
  s->set_mac("52:54:00:12:34:56");
  s->add_allowed_macs("52:54:00:12:34:57");
  s->set_vlan(100);
  s->set_queues(2);
  s->set_pinned_member("pf1");
  s->set_domain_name("vm1");
  s->set_domain_uuid("6f1c2a4e-0000-4000-8000-000000000001");
  s->mutable_announce()->set_count(5);
  s->mutable_announce()->mutable_interval()->set_nanos(20'000'000);
  p->set_state(v1::PORT_STATE_ACTIVE);
  p->set_vhost_connected(true);
  p->set_active_member("pf0");
  p->set_worker_lcore(1);
  auto* vf = p->add_vfs();
  vf->set_member("pf0");
  vf->set_vf("pf0/vf3");
  vf->set_devargs("0000:03:02.3");
  vf->set_active(true);
  vf = p->add_vfs();
  vf->set_member("pf1");
  vf->set_vf("pf1/vf3");
  vf->set_devargs("0000:03:0a.3");
  auto* l = p->add_learned();
  l->set_mac("52:54:00:12:34:56");
  l->set_vlan(100);
  l->set_ip("198.18.0.10");
  l->mutable_age()->set_seconds(12);
  auto* q = r.add_ports();
  q->mutable_spec()->set_port_id("vm2/net0");
  q->mutable_spec()->set_socket_path("/run/vfo/sockets/vm2-net0.sock");
  q->mutable_spec()->set_mac("52:54:00:00:00:02");
  q->mutable_spec()->set_queues(1);
  q->set_state(v1::PORT_STATE_WAITING);
  return r;
}

v1::Lag sampleLag() {
  v1::Lag lag;
  auto* s = lag.mutable_settings();
  s->set_mode(v1::LAG_MODE_ACTIVE_BACKUP);
  s->set_primary("pf0");
  s->set_primary_reselect(v1::PRIMARY_RESELECT_FAILURE);
  s->set_failback(false);
  s->mutable_updelay()->set_nanos(200'000'000);
  s->mutable_failback_delay()->set_seconds(-1);
  s->set_hash_policy(v1::HASH_POLICY_LAYER2);
  s->mutable_announce()->set_count(3);
  s->mutable_announce()->mutable_interval()->set_nanos(50'000'000);
  s->set_announce_rate_limit(10000);
  auto* m = lag.add_members();
  m->set_name("pf0");
  m->set_admin_up(true);
  m->set_link(v1::LINK_STATE_GOING_DOWN);
  m->set_probe_alive(true);
  m->mutable_pending()->set_nanos(150'000'000);
  m->set_active_ports(2);
  m = lag.add_members();
  m->set_name("pf1");
  m->set_admin_up(true);
  m->set_link(v1::LINK_STATE_UP);
  m->set_probe_alive(true);
  lag.set_active_member("pf0");
  (*lag.mutable_counters())["failovers"] = 4;
  (*lag.mutable_counters())["announce_frames"] = 24;
  return lag;
}

v1::Stats sampleStats() {
  v1::Stats s;
  auto* p = s.add_ports();
  p->set_port_id("vm1/net0");
  (*p->mutable_port()->mutable_counters())["guest_tx_packets"] = 1200;
  (*p->mutable_port()->mutable_counters())["drop_spoofed_source"] = 3;
  (*(*p->mutable_queues())[1].mutable_counters())["guest_tx_packets"] = 200;
  (*(*p->mutable_queues())[0].mutable_counters())["guest_tx_packets"] = 1000;
  (*(*p->mutable_members())["pf1"].mutable_counters())["drop_standby_rx"] = 9;
  (*(*p->mutable_members())["pf0"].mutable_counters())["tx_packets"] = 1200;
  (*s.mutable_lag()->mutable_counters())["failovers"] = 1;
  return s;
}

std::vector<v1::Event> sampleEvents() {
  std::vector<v1::Event> out(4);
  out[0].set_resume_token("00000000000000ab-1");
  *out[0].mutable_time() = ts(1'790'000'000, 0);
  out[0].set_vhost_connected("vm1/net0");
  out[1].set_resume_token("00000000000000ab-2");
  *out[1].mutable_time() = ts(1'790'000'001, 500'000'000);
  auto* f = out[1].mutable_failover();
  f->set_port_id("vm1/net0");
  f->set_from_member("pf0");
  f->set_to_member("pf1");
  f->set_reason("member-down");
  *f->mutable_cause_seen_at() = ts(1'790'000'001, 499'000'000);
  *f->mutable_switched_at() = ts(1'790'000'001, 499'250'000);
  f->set_frames_announced(3);
  out[2].set_resume_token("00000000000000ab-3");
  *out[2].mutable_time() = ts(1'790'000'002, 0);
  out[2].mutable_member()->set_member("pf0");
  out[2].mutable_member()->set_from(v1::LINK_STATE_UP);
  out[2].mutable_member()->set_to(v1::LINK_STATE_DOWN);
  out[3].set_resume_token("00000000000000ab-4");
  *out[3].mutable_time() = ts(1'790'000'003, 0);
  out[3].mutable_port_state()->set_port_id("vm2/net0");
  out[3].mutable_port_state()->set_from(v1::PORT_STATE_ACTIVE);
  out[3].mutable_port_state()->set_to(v1::PORT_STATE_MIGRATING_OUT);
  return out;
}

TEST(VfoctlGolden, HumanTables) {
  const auto ports = samplePorts();
  expectGolden("port_list.txt", formatPortTable(ports));
  expectGolden("port_show.txt", formatPort(ports.ports(0)));
  expectGolden("lag_show.txt", formatLag(sampleLag()));
  expectGolden("stats.txt", formatStats(sampleStats()));
  std::string ev;
  for (const auto& e : sampleEvents()) ev += formatEvent(e);
  expectGolden("events.txt", ev);
  v1::HealthResponse h;
  h.set_serving(false);
  h.add_problems("no LAG member is up");
  expectGolden("health.txt", formatHealth(h));
  v1::Version v;
  v.set_version("0.1.0");
  v.set_api("vfo.v1");
  v.set_dpdk_version("DPDK 22.11.4");
  expectGolden("version.txt", formatVersion(v));
}

TEST(VfoctlGolden, Json) {
  expectGolden("port_list.json", toJson(samplePorts()));
  expectGolden("lag_show.json", toJson(sampleLag()));
  std::string ev;
  for (const auto& e : sampleEvents()) ev += toJson(e, /*one_line=*/true);
  expectGolden("events.jsonl", ev);
}

TEST(VfoctlExitCodes, FollowTheGrpcCode) {
  EXPECT_EQ(exitCodeForGrpc(0), 0);
  EXPECT_EQ(exitCodeForGrpc(3), 2);   // INVALID_ARGUMENT
  EXPECT_EQ(exitCodeForGrpc(5), 3);   // NOT_FOUND
  EXPECT_EQ(exitCodeForGrpc(6), 4);   // ALREADY_EXISTS
  EXPECT_EQ(exitCodeForGrpc(7), 5);   // PERMISSION_DENIED
  EXPECT_EQ(exitCodeForGrpc(14), 6);  // UNAVAILABLE
  EXPECT_EQ(exitCodeForGrpc(4), 6);   // DEADLINE_EXCEEDED
  EXPECT_EQ(exitCodeForGrpc(9), 7);   // FAILED_PRECONDITION
  EXPECT_EQ(exitCodeForGrpc(8), 7);   // RESOURCE_EXHAUSTED
  EXPECT_EQ(exitCodeForGrpc(13), 1);  // INTERNAL
  EXPECT_EQ(exitCodeForGrpc(11), 1);  // OUT_OF_RANGE
}

int run(std::vector<std::string> args, std::string* out, std::string* err) {
  std::vector<const char*> argv = {"vfoctl"};
  for (auto& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  int rc = runVfoctl(int(argv.size()), argv.data(), o, e);
  *out = o.str();
  *err = e.str();
  return rc;
}

TEST(VfoctlCli, UsageErrorsExit2) {
  std::string out, err;
  EXPECT_EQ(run({}, &out, &err), 2);
  EXPECT_EQ(run({"port", "create", "vm1/net0"}, &out, &err), 2);  // --mac missing
  EXPECT_NE(err.find("--mac"), std::string::npos) << err;
  EXPECT_EQ(run({"port", "frobnicate"}, &out, &err), 2);
  EXPECT_EQ(run({"lag", "set"}, &out, &err), 2);
  EXPECT_NE(err.find("at least one setting"), std::string::npos) << err;
  EXPECT_EQ(run({"lag", "set", "--mode", "round-robin"}, &out, &err), 2);
  EXPECT_EQ(run({"--help"}, &out, &err), 0);
  EXPECT_NE(out.find("port"), std::string::npos);
}

TEST(VfoctlCli, UnreachableDaemonExit6WithAHint) {
  std::string out, err;
  EXPECT_EQ(run({"--socket", "unix:///nonexistent/vfo.sock", "--timeout", "2", "port", "list"},
                &out, &err),
            6);
  EXPECT_NE(err.find("UNAVAILABLE"), std::string::npos) << err;
  EXPECT_NE(err.find("--socket"), std::string::npos) << err;
}

// The whole CLI against a real in-process server with a fake backend.
class VfoctlE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = vfo::testing::makeTempDir("vfo-ctl-");
    ASSERT_EQ(mkdir((dir + "/state").c_str(), 0750), 0);
    store = std::make_unique<StateStore>(dir + "/state");
    ApiServerOptions o;
    o.listen = "unix://" + dir + "/vfo.sock";
    o.port_socket_dir = "/run/vfo/sockets";
    server = std::make_unique<ApiServer>(backend, events, *store, o);
    ASSERT_TRUE(server->start().isOk());
    socket = o.listen;
  }
  void TearDown() override {
    server->stop();
    vfo::testing::removeTree(dir);
  }
  int ctl(std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(), {"--socket", socket});
    return run(args, out, err);
  }
  std::string dir, socket;
  EventBuffer events{64, 0xab};
  testing::FakeBackend backend{events};
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ApiServer> server;
};

TEST_F(VfoctlE2E, CommandsOutputsAndExitCodes) {
  std::string out, err;
  ASSERT_EQ(ctl({"port", "create", "vm1/net0", "--mac", "52:54:00:12:34:56", "--vlan", "100",
                 "--queues", "2"},
                &out, &err),
            0)
      << err;
  ASSERT_EQ(ctl({"port", "create", "vm2/net0", "--mac", "52:54:00:00:00:02"}, &out, &err), 0)
      << err;
  // Idempotent again, conflicting settings exit 4.
  EXPECT_EQ(ctl({"port", "create", "vm2/net0", "--mac", "52:54:00:00:00:02"}, &out, &err), 0);
  EXPECT_EQ(
      ctl({"port", "create", "vm2/net0", "--mac", "52:54:00:00:00:02", "--vlan", "5"}, &out, &err),
      4);
  EXPECT_NE(err.find("ALREADY_EXISTS"), std::string::npos) << err;
  // Bad values: exit 2 and the option to fix.
  EXPECT_EQ(ctl({"port", "create", "vm3/net0", "--mac", "01:00:5e:00:00:01"}, &out, &err), 2);
  EXPECT_NE(err.find("(fix --mac)"), std::string::npos) << err;
  EXPECT_EQ(ctl({"port", "create", "vm3/net0", "--mac", "52:54:00:00:00:03", "--queues", "17"},
                &out, &err),
            2);
  EXPECT_NE(err.find("(fix --queues)"), std::string::npos) << err;

  ASSERT_EQ(ctl({"port", "list"}, &out, &err), 0) << err;
  expectGolden("e2e_port_list.txt", out);
  ASSERT_EQ(ctl({"--json", "port", "show", "vm1/net0"}, &out, &err), 0) << err;
  expectGolden("e2e_port_show.json", out);
  EXPECT_EQ(ctl({"port", "show", "vm9/net0"}, &out, &err), 3);
  EXPECT_EQ(ctl({"port", "delete", "vm9/net0"}, &out, &err), 3);

  ASSERT_EQ(ctl({"lag", "set", "--updelay-ms", "200", "--announce-count", "5"}, &out, &err), 0)
      << err;
  ASSERT_EQ(ctl({"lag", "failover", "pf1"}, &out, &err), 0) << err;
  expectGolden("e2e_lag_failover.txt", out);
  EXPECT_EQ(ctl({"lag", "failover", "pf7"}, &out, &err), 3);
  backend.lag().members[0].link = LinkState::kDown;
  EXPECT_EQ(ctl({"lag", "failover", "pf0"}, &out, &err), 7);

  ASSERT_EQ(ctl({"stats", "--port", "vm1/net0"}, &out, &err), 0) << err;
  expectGolden("e2e_stats.txt", out);
  ASSERT_EQ(ctl({"port", "delete", "vm2/net0"}, &out, &err), 0) << err;
  EXPECT_EQ(out, "deleted vm2/net0\n");

  // events: every buffered one (times vary: compare what follows the time).
  ASSERT_EQ(ctl({"events"}, &out, &err), 0) << err;
  std::string stripped;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    stripped += line.substr(line.find(' ') + 1) + "\n";
  expectGolden("e2e_events.txt", stripped);
  ASSERT_EQ(ctl({"events", "--since", "00000000000000ab-3"}, &out, &err), 0) << err;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
  EXPECT_EQ(ctl({"events", "--since", "00000000000000ac-1"}, &out, &err), 1);  // OUT_OF_RANGE
  EXPECT_NE(err.find("OUT_OF_RANGE"), std::string::npos) << err;

  backend.health_info = {false, {"no LAG member is up"}};
  EXPECT_EQ(ctl({"health"}, &out, &err), 8);
  EXPECT_EQ(out, "NOT serving\n  problem: no LAG member is up\n");
  ASSERT_EQ(ctl({"version"}, &out, &err), 0);
  EXPECT_EQ(out, "vfod 0.1.0 (api vfo.v1, dpdk 22.11.4)\n");

  // port detach: the port stays, its state says detached; unknown exits 3.
  ASSERT_EQ(ctl({"--json", "port", "detach", "vm1/net0"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"state\": \"PORT_STATE_DETACHED\""), std::string::npos) << out;
  ASSERT_EQ(ctl({"port", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("vm1/net0  detached"), std::string::npos) << out;
  EXPECT_EQ(ctl({"port", "detach", "vm9/net0"}, &out, &err), 3);
}

}  // namespace
}  // namespace vfo::api::cli
