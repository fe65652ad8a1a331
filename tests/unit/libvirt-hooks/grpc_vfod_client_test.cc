// GrpcVfodClient against the real vfo.v1 server (ApiServer, StateStore,
// gRPC on a Unix socket in a temp dir) with the API tests' FakeBackend, and
// against a vfod that is down or does not answer.
#include "vfo/hooks/grpc_vfod_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "../proto/fake_backend.h"
#include "vfo/api/server.h"
#include "vfo/testing/names.h"

namespace vfo::hooks {
namespace {

using namespace std::chrono_literals;
using api::testing::FakeBackend;

class GrpcVfodClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = vfo::testing::makeTempDir("vfo-hookc-");
    ASSERT_EQ(mkdir((dir + "/state").c_str(), 0750), 0);
    socket_dir = dir + "/sockets";
    target = "unix://" + dir + "/vfo.sock";
    startServer();
  }
  void TearDown() override {
    if (server) server->stop();
    vfo::testing::removeTree(dir);
  }
  void startServer(api::ApiServerOptions o = {}) {
    events = std::make_unique<api::EventBuffer>(64);
    backend = std::make_unique<FakeBackend>(*events);
    store = std::make_unique<api::StateStore>(dir + "/state");
    o.listen = target;
    o.port_socket_dir = socket_dir;
    server = std::make_unique<api::ApiServer>(*backend, *events, *store, o);
    ASSERT_TRUE(server->start().isOk());
  }
  GrpcVfodClient client(std::chrono::milliseconds call = 2000ms,
                        std::chrono::milliseconds budget = 5000ms) {
    return GrpcVfodClient({target, call, budget});
  }
  HookPortSpec spec(const std::string& id, const std::string& mac) {
    HookPortSpec s;
    s.port_id = id;
    s.socket_path = socket_dir + "/" + id + ".sock";
    s.mac = *MacAddress::parse(mac);
    s.domain_name = "vm1";
    s.domain_uuid = "6f5c2a0e-3d4b-4c1a-9a57-1d2f0b8c9e01";
    return s;
  }
  const api::PortSpec* persisted(const std::string& id) {
    desired = server->desiredState();
    for (const auto& p : desired.ports)
      if (p.port_id == id) return &p;
    return nullptr;
  }

  std::string dir, socket_dir, target;
  std::unique_ptr<api::EventBuffer> events;
  std::unique_ptr<FakeBackend> backend;
  std::unique_ptr<api::StateStore> store;
  std::unique_ptr<api::ApiServer> server;
  api::DesiredState desired;
};

TEST_F(GrpcVfodClientTest, CreatePortSendsTheWholeSpecAndReportsCreatedOnce) {
  auto c = client();
  HookPortSpec s = spec("vm1-net0", "52:54:00:12:34:01");
  s.role = VhostRole::kVfodClient;
  s.queues = 4;
  s.vlan = 100;
  s.lag_pin = "pf1";
  s.allowed_macs = {*MacAddress::parse("52:54:00:12:34:99")};
  bool created = false;
  ASSERT_TRUE(c.createPort(s, &created).isOk());
  EXPECT_TRUE(created);
  const api::PortSpec* p = persisted("vm1-net0");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->socket_path, s.socket_path);
  EXPECT_EQ(p->role, api::VhostRole::kClient);
  EXPECT_EQ(p->queues, 4);
  EXPECT_EQ(p->vlan, 100);
  EXPECT_EQ(p->pinned_member, "pf1");
  EXPECT_EQ(p->allowed_macs, s.allowed_macs);
  EXPECT_EQ(p->domain_name, "vm1");
  EXPECT_FALSE(p->incoming_migration);

  ASSERT_TRUE(c.createPort(s, &created).isOk());
  EXPECT_FALSE(created) << "the port existed: the hook must not undo it on a later failure";
  EXPECT_EQ(backend->calls("createPort"), 1);
}

TEST_F(GrpcVfodClientTest, AnotherPortUnderTheSameIdIsAlreadyExistsNamingTheField) {
  auto c = client();
  bool created = false;
  ASSERT_TRUE(c.createPort(spec("vm1-net0", "52:54:00:12:34:01"), &created).isOk());
  HookPortSpec other = spec("vm1-net0", "52:54:00:12:34:01");
  other.vlan = 7;
  Status s = c.createPort(other, &created);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("another vlan"), std::string::npos) << s.message();
  EXPECT_FALSE(created);
  // Another port already uses the MAC: vfod's own check, passed through.
  s = c.createPort(spec("vm1-net1", "52:54:00:12:34:01"), &created);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("spec.mac"), std::string::npos) << s.message();
  EXPECT_EQ(backend->portCount(), 1u);
}

TEST_F(GrpcVfodClientTest, OwnerAndIncomingFlagAreNotIdentity) {
  // migrate begin creates the port incoming; prepare begin then finds it.
  auto c = client();
  HookPortSpec incoming = spec("vm2-net0", "52:54:00:12:34:02");
  incoming.incoming_migration = true;
  bool created = false;
  ASSERT_TRUE(c.createPort(incoming, &created).isOk());
  EXPECT_TRUE(created);
  auto st = c.portState("vm2-net0");
  ASSERT_TRUE(st.isOk());
  EXPECT_EQ(*st, HookPortState::kIncoming);
  HookPortSpec prepare = spec("vm2-net0", "52:54:00:12:34:02");
  prepare.domain_name = "vm2-renamed";
  ASSERT_TRUE(c.createPort(prepare, &created).isOk());
  EXPECT_FALSE(created);
  EXPECT_EQ(backend->calls("createPort"), 1);
}

TEST_F(GrpcVfodClientTest, StateOwnerDetachDelete) {
  auto c = client();
  bool created = false;
  ASSERT_TRUE(c.createPort(spec("vm1-net0", "52:54:00:12:34:01"), &created).isOk());
  EXPECT_EQ(*c.portState("vm1-net0"), HookPortState::kWaiting);
  ASSERT_TRUE(backend->connectGuest("vm1-net0").isOk());
  EXPECT_EQ(*c.portState("vm1-net0"), HookPortState::kActive);

  ASSERT_TRUE(c.setOwner("vm1-net0", "vm1b", "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0").isOk());
  EXPECT_EQ(persisted("vm1-net0")->domain_name, "vm1b");
  EXPECT_EQ(persisted("vm1-net0")->domain_uuid, "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0");

  ASSERT_TRUE(c.markDetached("vm1-net0").isOk());
  EXPECT_EQ(*c.portState("vm1-net0"), HookPortState::kDetached);
  ASSERT_TRUE(c.markDetached("vm1-net0").isOk()) << "idempotent";
  EXPECT_EQ(c.markDetached("vm9-net0").code(), StatusCode::kNotFound);
  EXPECT_EQ(c.setOwner("vm9-net0", "x", "y").code(), StatusCode::kNotFound);
  EXPECT_EQ(c.portState("vm9-net0").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(c.deletePort("vm1-net0").isOk());
  EXPECT_EQ(c.deletePort("vm1-net0").code(), StatusCode::kNotFound);
  EXPECT_EQ(backend->portCount(), 0u);
}

TEST_F(GrpcVfodClientTest, ServerErrorsKeepTheirCode) {
  auto c = client();
  bool created = false;
  backend->failNext("createPort", resourceExhausted("group g0 member pf0: no free VF"));
  Status s = c.createPort(spec("vm1-net0", "52:54:00:12:34:01"), &created);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("no free VF"), std::string::npos) << s.message();
  EXPECT_FALSE(created);
  // A socket outside vfod's socket directory: vfod's validation, field named.
  HookPortSpec out = spec("vm1-net0", "52:54:00:12:34:01");
  out.socket_path = dir + "/elsewhere.sock";
  s = c.createPort(out, &created);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("spec.socket_path: ", 0), 0u) << s.message();
}

TEST_F(GrpcVfodClientTest, ACallerVfodDoesNotAllowIsPermissionDenied) {
  server->stop();
  api::ApiServerOptions o;
  o.access.allowed_uids = {12345};  // not us (root)
  startServer(o);
  auto c = client();
  bool created = false;
  Status s = c.createPort(spec("vm1-net0", "52:54:00:12:34:01"), &created);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.toString();
  EXPECT_EQ(backend->calls("createPort"), 0);
}

TEST_F(GrpcVfodClientTest, VfodDownIsUnavailableAtOnceAndNamesTheSocket) {
  server->stop();
  auto c = client();
  const auto t0 = std::chrono::steady_clock::now();
  bool created = false;
  Status s = c.createPort(spec("vm1-net0", "52:54:00:12:34:01"), &created);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.toString();
  EXPECT_NE(s.message().find(target), std::string::npos) << s.message();
  EXPECT_EQ(c.deletePort("vm1-net0").code(), StatusCode::kUnavailable);
  EXPECT_EQ(c.markDetached("vm1-net0").code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms) << "no waiting for a dead vfod";
}

TEST_F(GrpcVfodClientTest, ASilentVfodHitsTheCallDeadlineAndTheBudgetBoundsTheRun) {
  server->stop();
  // Something listens on the socket but never speaks gRPC (a hung vfod).
  const std::string path = dir + "/vfo.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(fd, 16), 0);

  auto c = client(/*call=*/300ms, /*budget=*/700ms);
  const auto t0 = std::chrono::steady_clock::now();
  auto st = c.portState("vm1-net0");
  const auto first = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(st.status().code(), StatusCode::kDeadlineExceeded) << st.status().toString();
  EXPECT_GE(first, 250ms);
  EXPECT_LT(first, 1000ms);
  // Ten more calls: together they cannot outlast the budget.
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(c.deletePort("vm1-net0").code(), StatusCode::kDeadlineExceeded);
  const auto all = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(all, 1200ms);
  Status spent = c.markDetached("vm1-net0");
  EXPECT_NE(spent.message().find("budget of 700 ms"), std::string::npos) << spent.message();
  ::close(fd);
}

// runHook with the real client: the whole life cycle of a two-port domain.
std::string fixture(const std::string& name, const std::string& socket_dir) {
  std::ifstream f(vfo::testing::sourceDir() + "/tests/unit/libvirt-hooks/fixtures/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string xml = ss.str();
  for (size_t at; (at = xml.find("/run/vfo/sockets")) != std::string::npos;)
    xml.replace(at, std::strlen("/run/vfo/sockets"), socket_dir);
  return xml;
}

TEST_F(GrpcVfodClientTest, HookLifeCycleThroughTheApi) {
  auto c = client();
  HookConfig config;
  config.xml.socket_dir = socket_dir;
  config.sleep = [](std::chrono::milliseconds) {};
  config.socket_exists = [](const std::string&) { return true; };
  const std::string xml = fixture("several_with_foreign.xml", socket_dir);
  auto run = [&](const char* op, const char* sub) {
    return runHook({"vm3", op, sub, "-"}, xml, c, config);
  };
  auto r = run("prepare", "begin");
  ASSERT_EQ(r.exit_code, 0) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(backend->portCount(), 2u) << "the foreign (OVS) interface is not vfod's";
  ASSERT_NE(persisted("vm3-net1"), nullptr);
  EXPECT_EQ(persisted("vm3-net1")->role, api::VhostRole::kClient);
  ASSERT_EQ(run("started", "begin").exit_code, 0);
  EXPECT_EQ(persisted("vm3-net0")->domain_uuid, "11111111-2222-3333-4444-555555555555");
  ASSERT_EQ(run("stopped", "end").exit_code, 0);
  EXPECT_EQ(*c.portState("vm3-net0"), HookPortState::kDetached);
  EXPECT_EQ(*c.portState("vm3-net1"), HookPortState::kDetached);
  ASSERT_EQ(run("release", "end").exit_code, 0);
  EXPECT_EQ(backend->portCount(), 0u);
  EXPECT_TRUE(server->desiredState().ports.empty());
}

}  // namespace
}  // namespace vfo::hooks
