// Contract tests of the vfo.v1 service: a real gRPC server on a Unix socket
// in a temp directory, a FakeBackend behind it, and a real client. Every
// method, every error code, idempotency, persistence before the reply, "a
// failed call changes nothing", resumable events, restore after restart and
// permission denial for another uid (vfoctl run as nobody).
#include <fcntl.h>
#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <tuple>

#include "fake_backend.h"
#include "vfo/api/convert.h"
#include "vfo/api/server.h"
#include "vfo/base/atomic_file.h"
#include "vfo/testing/names.h"
#include "vfo/testing/wait.h"
#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::api {
namespace {

using grpc::StatusCode;
using testing::FakeBackend;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

class ApiContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = vfo::testing::makeTempDir("vfo-api-");
    ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
    state_dir = dir + "/state";
    ASSERT_EQ(mkdir(state_dir.c_str(), 0750), 0);
    socket_dir = dir + "/sockets";
    startServer();
  }
  void TearDown() override {
    stopServer();
    vfo::testing::removeTree(dir);
  }

  void startServer(ApiServerOptions extra = {}, const DesiredState* restore = nullptr) {
    events = std::make_unique<EventBuffer>(16);
    backend = std::make_unique<FakeBackend>(*events);
    store = std::make_unique<StateStore>(state_dir);
    ApiServerOptions o = std::move(extra);
    o.listen = "unix://" + dir + "/vfo.sock";
    o.port_socket_dir = socket_dir;
    server = std::make_unique<ApiServer>(*backend, *events, *store, o);
    if (restore) restore_failures = server->restore(*restore);
    ASSERT_TRUE(server->start().isOk());
    stub = v1::Vfo::NewStub(grpc::CreateChannel(o.listen, grpc::InsecureChannelCredentials()));
  }
  void stopServer() {
    stub.reset();
    if (server) server->stop();
    server.reset();
  }

  static void deadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  v1::PortSpec spec(const std::string& id, const std::string& mac) {
    v1::PortSpec s;
    s.set_port_id(id);
    s.set_mac(mac);
    return s;
  }
  grpc::Status create(const v1::PortSpec& s, v1::Port* out = nullptr) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::CreatePortRequest req;
    *req.mutable_spec() = s;
    v1::Port resp;
    auto st = stub->CreatePort(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  grpc::Status del(const std::string& id) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::DeletePortRequest req;
    req.set_port_id(id);
    v1::DeletePortResponse resp;
    return stub->DeletePort(&ctx, req, &resp);
  }
  grpc::Status get(const std::string& id, v1::Port* out = nullptr) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::GetPortRequest req;
    req.set_port_id(id);
    v1::Port resp;
    auto st = stub->GetPort(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  v1::ListPortsResponse list() {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::ListPortsResponse resp;
    EXPECT_TRUE(stub->ListPorts(&ctx, v1::ListPortsRequest(), &resp).ok());
    return resp;
  }
  grpc::Status update(const std::string& id, std::vector<std::string> fields, const v1::PortSpec& s,
                      v1::Port* out = nullptr) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::UpdatePortRequest req;
    req.set_port_id(id);
    for (auto& f : fields) req.add_update_fields(f);
    *req.mutable_spec() = s;
    v1::Port resp;
    auto st = stub->UpdatePort(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  grpc::Status detach(const std::string& id, v1::Port* out = nullptr) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::DetachPortRequest req;
    req.set_port_id(id);
    v1::Port resp;
    auto st = stub->DetachPort(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  grpc::Status updateLag(std::vector<std::string> fields, const v1::LagSettings& s,
                         v1::Lag* out = nullptr) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::UpdateLagRequest req;
    for (auto& f : fields) req.add_update_fields(f);
    *req.mutable_settings() = s;
    v1::Lag resp;
    auto st = stub->UpdateLag(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  grpc::Status setActive(const std::string& m, v1::Lag* out = nullptr) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::SetActiveMemberRequest req;
    req.set_member(m);
    v1::Lag resp;
    auto st = stub->SetActiveMember(&ctx, req, &resp);
    if (out) *out = resp;
    return st;
  }
  // Events of a no_follow watch; `status` gets the stream's end.
  std::vector<v1::Event> watch(const std::string& token, bool from_oldest, grpc::Status* status) {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::WatchEventsRequest req;
    req.set_resume_token(token);
    req.set_from_oldest(from_oldest);
    req.set_no_follow(true);
    auto reader = stub->WatchEvents(&ctx, req);
    std::vector<v1::Event> out;
    v1::Event e;
    while (reader->Read(&e)) out.push_back(e);
    *status = reader->Finish();
    return out;
  }
  // The persisted desired state (empty when there is no file).
  DesiredState persisted() {
    auto bytes = readWholeFile(store->path());
    if (!bytes) return {};
    auto s = StateStore::decode(*bytes);
    EXPECT_TRUE(s.isOk()) << s.status().toString();
    return s ? *s : DesiredState{};
  }
  std::string fileBytes() {
    auto b = readWholeFile(store->path());
    return b ? *b : std::string("<none>");
  }

  std::string dir, state_dir, socket_dir;
  std::unique_ptr<EventBuffer> events;
  std::unique_ptr<FakeBackend> backend;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ApiServer> server;
  std::unique_ptr<v1::Vfo::Stub> stub;
  std::vector<std::string> restore_failures;
};

// ---------------------------------------------------------------- CreatePort

TEST_F(ApiContractTest, CreatePortFillsDefaultsAndPersistsBeforeReturning) {
  v1::Port port;
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56"), &port).ok());
  EXPECT_EQ(port.spec().socket_path(), socket_dir + "/vm1-net0.sock");
  EXPECT_EQ(port.spec().queues(), 1u);
  EXPECT_EQ(port.spec().role(), v1::VHOST_ROLE_SERVER);
  EXPECT_EQ(port.state(), v1::PORT_STATE_WAITING);
  EXPECT_EQ(port.active_member(), "pf0");
  ASSERT_EQ(port.vfs_size(), 2);
  // On disk by the time the reply arrived.
  DesiredState s = persisted();
  ASSERT_EQ(s.ports.size(), 1u);
  EXPECT_EQ(s.ports[0].port_id, "vm1/net0");
  EXPECT_EQ(s.ports[0].mac.toString(), "52:54:00:12:34:56");
  EXPECT_EQ(s.ports[0].socket_path, socket_dir + "/vm1-net0.sock");
}

TEST_F(ApiContractTest, CreatePortTwiceIsIdempotent) {
  v1::PortSpec s = spec("vm1/net0", "52:54:00:12:34:56");
  s.set_vlan(100);
  s.set_queues(2);
  ASSERT_TRUE(create(s).ok());
  const std::string before = fileBytes();
  v1::Port again;
  ASSERT_TRUE(create(s, &again).ok());
  EXPECT_EQ(again.spec().vlan(), 100u);
  EXPECT_EQ(backend->calls("createPort"), 1);  // nothing was redone
  EXPECT_EQ(fileBytes(), before);
  // Spelling the defaults out is the same request.
  s.set_socket_path(socket_dir + "/vm1-net0.sock");
  s.set_role(v1::VHOST_ROLE_SERVER);
  EXPECT_TRUE(create(s).ok());
  EXPECT_EQ(backend->calls("createPort"), 1);
}

TEST_F(ApiContractTest, CreatePortConflictsAreAlreadyExists) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  const std::string before = fileBytes();
  v1::PortSpec other = spec("vm1/net0", "52:54:00:12:34:56");
  other.set_vlan(7);
  auto st = create(other);
  EXPECT_EQ(st.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(st.error_message().find("vlan"), std::string::npos) << st.error_message();

  st = create(spec("vm2/net0", "52:54:00:12:34:56"));  // same MAC, other port
  EXPECT_EQ(st.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(st.error_message().find("spec.mac"), std::string::npos) << st.error_message();

  v1::PortSpec same_sock = spec("vm3/net0", "52:54:00:00:00:03");
  same_sock.set_socket_path(socket_dir + "/vm1-net0.sock");
  st = create(same_sock);
  EXPECT_EQ(st.error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_NE(st.error_message().find("spec.socket_path"), std::string::npos) << st.error_message();

  EXPECT_EQ(backend->calls("createPort"), 1);
  EXPECT_EQ(fileBytes(), before);
}

struct BadSpec {
  const char* what;                         // test label
  std::function<void(v1::PortSpec&)> edit;  // how the valid spec is broken
  const char* field;                        // the field the message must name
};

TEST_F(ApiContractTest, InvalidSpecsNameTheFieldAndChangeNothing) {
  const std::string long_path = socket_dir + "/" + std::string(120, 'x') + ".sock";
  const std::vector<BadSpec> cases = {
      {"multicast mac", [](auto& s) { s.set_mac("01:00:5e:00:00:01"); }, "spec.mac: "},
      {"broadcast mac", [](auto& s) { s.set_mac("ff:ff:ff:ff:ff:ff"); }, "spec.mac: "},
      {"malformed mac", [](auto& s) { s.set_mac("52:54:00:zz:00:01"); }, "spec.mac: "},
      {"missing mac", [](auto& s) { s.clear_mac(); }, "spec.mac: "},
      {"vlan 4095", [](auto& s) { s.set_vlan(4095); }, "spec.vlan: "},
      {"queues 17", [](auto& s) { s.set_queues(17); }, "spec.queues: "},
      {"socket outside dir", [](auto& s) { s.set_socket_path("/tmp/x.sock"); },
       "spec.socket_path: "},
      {"socket with ..", [this](auto& s) { s.set_socket_path(socket_dir + "/../x.sock"); },
       "spec.socket_path: "},
      {"socket in subdir", [this](auto& s) { s.set_socket_path(socket_dir + "/a/x.sock"); },
       "spec.socket_path: "},
      {"relative socket", [](auto& s) { s.set_socket_path("x.sock"); }, "spec.socket_path: "},
      {"socket too long", [&](auto& s) { s.set_socket_path(long_path); }, "spec.socket_path: "},
      {"empty port id", [](auto& s) { s.clear_port_id(); }, "spec.port_id: "},
      {"port id charset", [](auto& s) { s.set_port_id("vm 1"); }, "spec.port_id: "},
      {"port id too long", [](auto& s) { s.set_port_id(std::string(65, 'a')); }, "spec.port_id: "},
      {"port id leading /", [](auto& s) { s.set_port_id("/vm1"); }, "spec.port_id: "},
      {"port id ..", [](auto& s) { s.set_port_id("vm1/../x"); }, "spec.port_id: "},
      {"allowed mac multicast", [](auto& s) { s.add_allowed_macs("33:33:00:00:00:01"); },
       "spec.allowed_macs[0]: "},
      {"allowed mac = guest", [](auto& s) { s.add_allowed_macs("52:54:00:12:34:56"); },
       "spec.allowed_macs[0]: "},
      {"too many allowed",
       [](auto& s) {
         for (int i = 0; i < 8; ++i) s.add_allowed_macs(fmt::format("52:54:00:00:01:{:02x}", i));
       },
       "spec.allowed_macs: "},
      {"unknown role", [](auto& s) { s.set_role(v1::VhostRole(9)); }, "spec.role: "},
      {"announce count", [](auto& s) { s.mutable_announce()->set_count(11); },
       "spec.announce.count: "},
      {"announce interval",
       [](auto& s) { s.mutable_announce()->mutable_interval()->set_seconds(2); },
       "spec.announce.interval: "},
      {"pin charset", [](auto& s) { s.set_pinned_member("pf 0"); }, "spec.pinned_member: "},
  };
  for (const auto& c : cases) {
    v1::PortSpec s = spec("vm1/net0", "52:54:00:12:34:56");
    c.edit(s);
    auto st = create(s);
    EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_EQ(st.error_message().rfind(c.field, 0), 0u) << c.what << ": " << st.error_message();
  }
  grpc::ClientContext ctx;
  deadline(ctx);
  v1::Port p;
  EXPECT_EQ(stub->CreatePort(&ctx, v1::CreatePortRequest(), &p).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(backend->calls("createPort"), 0);
  EXPECT_EQ(fileBytes(), "<none>");
}

TEST_F(ApiContractTest, BackendErrorsPassThroughAndChangeNothing) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  const std::string before = fileBytes();
  backend->failNext("createPort", resourceExhausted("no free VF on pf1"));
  auto st = create(spec("vm2/net0", "52:54:00:00:00:02"));
  EXPECT_EQ(st.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(st.error_message(), "no free VF on pf1");
  EXPECT_EQ(fileBytes(), before);
  EXPECT_EQ(list().ports_size(), 1);
  // The same request succeeds once the backend can serve it.
  EXPECT_TRUE(create(spec("vm2/net0", "52:54:00:00:00:02")).ok());

  backend->failNext("createPort", unavailable("uplink pf0 is gone"));
  EXPECT_EQ(create(spec("vm3/net0", "52:54:00:00:00:03")).error_code(), StatusCode::UNAVAILABLE);
  backend->failNext("createPort", failedPrecondition("socket in use"));
  EXPECT_EQ(create(spec("vm3/net0", "52:54:00:00:00:03")).error_code(),
            StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(persisted().ports.size(), 2u);

  const std::string two = fileBytes();
  backend->failNext("deletePort", unavailable("DPDK busy"));
  EXPECT_EQ(del("vm2/net0").error_code(), StatusCode::UNAVAILABLE);
  EXPECT_EQ(fileBytes(), two);
  EXPECT_TRUE(get("vm2/net0").ok());
}

// What the backend's checks refuse is refused before the state file is
// written at all (not written and then written back): a crash cannot leave
// a refused request in the file.
TEST_F(ApiContractTest, ABackendCheckRefusesBeforeAnythingIsWritten) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  // Every write renames a new file into place: a new inode and a new
  // modification time (inode numbers alone are reused once freed).
  auto inode = [&] {
    struct stat st {};
    EXPECT_EQ(::stat((state_dir + "/api-state.pb").c_str(), &st), 0);
    return std::tuple(st.st_ino, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  };
  const auto before = inode();
  backend->failNext("checkPort", invalidArgument("spec.pinned_member: 'pf7' is not a LAG member"));
  auto st = create(spec("vm2/net0", "52:54:00:00:00:02"));
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "spec.pinned_member: 'pf7' is not a LAG member");
  EXPECT_EQ(backend->calls("createPort"), 1) << "only vm1's";
  backend->failNext("checkPort", invalidArgument("spec.pinned_member: 'pf7' is not a LAG member"));
  v1::PortSpec vlan;
  vlan.set_vlan(7);
  EXPECT_EQ(update("vm1/net0", {"vlan"}, vlan).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(backend->calls("updatePort"), 0);
  backend->failNext("checkLag", failedPrecondition("mode: cannot change while ports run"));
  v1::LagSettings lag;
  lag.mutable_updelay()->set_nanos(100'000'000);
  EXPECT_EQ(updateLag({"updelay"}, lag).error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(backend->calls("updateLag"), 0);
  backend->failNext("checkActiveMember", notFound("member: 'pf9' is not a LAG member"));
  EXPECT_EQ(setActive("pf9").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(backend->calls("setActiveMember"), 0);
  EXPECT_TRUE(inode() == before) << "the state file was written";
  EXPECT_EQ(persisted().ports.size(), 1u);
  // Once the checks pass, the same calls go through.
  EXPECT_TRUE(create(spec("vm2/net0", "52:54:00:00:00:02")).ok());
  EXPECT_TRUE(update("vm1/net0", {"vlan"}, vlan).ok());
  EXPECT_TRUE(updateLag({"updelay"}, lag).ok());
  EXPECT_TRUE(setActive("pf1").ok());
  EXPECT_FALSE(inode() == before);
}

TEST_F(ApiContractTest, UnwritableStateDirIsUnavailableAndTheBackendIsNotCalled) {
  vfo::testing::removeTree(state_dir);
  auto st = create(spec("vm1/net0", "52:54:00:12:34:56"));
  EXPECT_EQ(st.error_code(), StatusCode::UNAVAILABLE);
  EXPECT_NE(st.error_message().find("cannot persist"), std::string::npos) << st.error_message();
  EXPECT_EQ(backend->calls("createPort"), 0);
  ASSERT_EQ(mkdir(state_dir.c_str(), 0750), 0);
  EXPECT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
}

// ------------------------------------------------------- Delete/Get/List

TEST_F(ApiContractTest, DeleteGetList) {
  ASSERT_TRUE(create(spec("vm2/net0", "52:54:00:00:00:02")).ok());
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:00:00:01")).ok());
  auto l = list();
  ASSERT_EQ(l.ports_size(), 2);
  EXPECT_EQ(l.ports(0).spec().port_id(), "vm1/net0");  // sorted although the backend is not
  EXPECT_EQ(l.ports(1).spec().port_id(), "vm2/net0");
  v1::Port p;
  ASSERT_TRUE(get("vm2/net0", &p).ok());
  EXPECT_EQ(p.spec().mac(), "52:54:00:00:00:02");

  ASSERT_TRUE(del("vm2/net0").ok());
  EXPECT_EQ(del("vm2/net0").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(get("vm2/net0").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(get("bad id").error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(del("").error_code(), StatusCode::INVALID_ARGUMENT);
  ASSERT_EQ(persisted().ports.size(), 1u);
  EXPECT_EQ(persisted().ports[0].port_id, "vm1/net0");
  // The MAC and socket of a deleted port are free again.
  EXPECT_TRUE(create(spec("vm3/net0", "52:54:00:00:00:02")).ok());
}

TEST_F(ApiContractTest, ConfigFilePortsAreVisibleButNotChangedThroughTheApi) {
  PortSpec cfg;
  cfg.port_id = "cfg/net0";
  cfg.socket_path = socket_dir + "/cfg-net0.sock";
  cfg.mac = *MacAddress::parse("52:54:00:00:0c:01");
  ASSERT_TRUE(backend->createPort(cfg).isOk());  // as vfod does from its config
  EXPECT_TRUE(get("cfg/net0").ok());
  EXPECT_EQ(list().ports_size(), 1);
  auto st = del("cfg/net0");
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("config file"), std::string::npos) << st.error_message();
  v1::PortSpec s;
  s.set_vlan(3);
  EXPECT_EQ(update("cfg/net0", {"vlan"}, s).error_code(), StatusCode::FAILED_PRECONDITION);
  // Creating it through the API: the backend refuses, nothing is persisted.
  EXPECT_EQ(create(spec("cfg/net0", "52:54:00:00:0c:01")).error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(fileBytes(), StateStore::encode(DesiredState{}));
}

// ---------------------------------------------------------------- UpdatePort

TEST_F(ApiContractTest, UpdatePortChangesOnlyTheNamedFields) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  v1::PortSpec s;
  s.set_vlan(200);
  s.set_queues(9);  // not named: ignored
  s.add_allowed_macs("52:54:00:00:00:99");
  v1::Port p;
  ASSERT_TRUE(update("vm1/net0", {"vlan", "allowed_macs"}, s, &p).ok());
  EXPECT_EQ(p.spec().vlan(), 200u);
  EXPECT_EQ(p.spec().queues(), 1u);
  EXPECT_TRUE(backend->last_mask.vlan);
  EXPECT_TRUE(backend->last_mask.allowed_macs);
  EXPECT_FALSE(backend->last_mask.pinned_member);
  EXPECT_EQ(persisted().ports[0].vlan, 200);
  ASSERT_EQ(persisted().ports[0].allowed_macs.size(), 1u);

  // The hook records the owner.
  s.set_domain_name("vm1");
  s.set_domain_uuid("0e1f");
  ASSERT_TRUE(update("vm1/net0", {"domain_name", "domain_uuid"}, s, &p).ok());
  EXPECT_TRUE(backend->last_mask.owner);
  EXPECT_EQ(persisted().ports[0].domain_name, "vm1");

  const std::string before = fileBytes();
  auto st = update("vm1/net0", {"queues"}, s);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("update_fields[0]: ", 0), 0u) << st.error_message();
  EXPECT_EQ(update("vm1/net0", {}, s).error_code(), StatusCode::INVALID_ARGUMENT);
  s.set_vlan(5000);
  st = update("vm1/net0", {"vlan"}, s);
  EXPECT_EQ(st.error_message().rfind("spec.vlan: ", 0), 0u) << st.error_message();
  EXPECT_EQ(update("nope", {"vlan"}, s).error_code(), StatusCode::NOT_FOUND);
  s.set_pinned_member("pf7");
  st = update("vm1/net0", {"pinned_member"}, s);  // the backend knows the members
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("spec.pinned_member: ", 0), 0u) << st.error_message();
  EXPECT_EQ(fileBytes(), before);
  EXPECT_EQ(persisted().ports[0].pinned_member, "");
}

// ---------------------------------------------------------------- DetachPort

TEST_F(ApiContractTest, DetachPortKeepsThePortUntilAGuestConnectsAgain) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  ASSERT_TRUE(backend->connectGuest("vm1/net0").isOk());
  const std::string file_before = fileBytes();
  v1::Port p;
  ASSERT_TRUE(detach("vm1/net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_DETACHED);
  EXPECT_FALSE(p.vhost_connected());
  ASSERT_TRUE(get("vm1/net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_DETACHED);
  EXPECT_EQ(list().ports(0).state(), v1::PORT_STATE_DETACHED);
  // Idempotent: again is OK and stays detached.
  ASSERT_TRUE(detach("vm1/net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_DETACHED);
  EXPECT_EQ(backend->calls("detachPort"), 2);
  // Runtime state only: the desired state on disk is untouched.
  EXPECT_EQ(fileBytes(), file_before);
  // The port is still there for the next guest; a connect makes it active.
  ASSERT_TRUE(backend->connectGuest("vm1/net0").isOk());
  ASSERT_TRUE(get("vm1/net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_ACTIVE);
  // A CreatePort with the same spec while detached is still idempotent.
  ASSERT_TRUE(detach("vm1/net0").ok());
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56"), &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_DETACHED);
  EXPECT_EQ(backend->calls("createPort"), 1);
  // The state change is an event.
  grpc::Status ws;
  auto evs = watch("", /*from_oldest=*/true, &ws);
  ASSERT_TRUE(ws.ok()) << ws.error_message();
  int detached_events = 0;
  for (const auto& e : evs)
    if (e.has_port_state() && e.port_state().to() == v1::PORT_STATE_DETACHED) ++detached_events;
  EXPECT_EQ(detached_events, 2) << "one per actual change, none for the idempotent repeat";
}

TEST_F(ApiContractTest, DetachPortErrors) {
  EXPECT_EQ(detach("vm9/net0").error_code(), StatusCode::NOT_FOUND);
  auto st = detach("bad id");
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("port_id: ", 0), 0u) << st.error_message();
  EXPECT_EQ(backend->calls("detachPort"), 0);
  // A backend failure passes through with its code.
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  backend->failNext("detachPort", unavailable("vhost: control thread busy"));
  EXPECT_EQ(detach("vm1/net0").error_code(), StatusCode::UNAVAILABLE);
  v1::Port p;
  ASSERT_TRUE(get("vm1/net0", &p).ok());
  EXPECT_EQ(p.state(), v1::PORT_STATE_WAITING);
  // Ports from vfod's config file are not the API's to detach.
  PortSpec cfg;
  cfg.port_id = "cfg/net0";
  cfg.socket_path = socket_dir + "/cfg-net0.sock";
  cfg.mac = *MacAddress::parse("52:54:00:00:0c:01");
  ASSERT_TRUE(backend->createPort(cfg).isOk());
  EXPECT_EQ(detach("cfg/net0").error_code(), StatusCode::FAILED_PRECONDITION);
  // Without permission: denied before the backend is asked (see the uid tests).
}

// ----------------------------------------------------------------------- LAG

TEST_F(ApiContractTest, LagShowUpdateAndOperatorFailover) {
  grpc::ClientContext ctx;
  deadline(ctx);
  v1::Lag lag;
  ASSERT_TRUE(stub->GetLag(&ctx, v1::GetLagRequest(), &lag).ok());
  ASSERT_EQ(lag.members_size(), 2);
  EXPECT_EQ(lag.active_member(), "pf0");

  v1::LagSettings s;
  s.mutable_updelay()->set_nanos(200'000'000);
  s.set_mode(v1::LAG_MODE_BALANCE_VM);  // not named: ignored
  ASSERT_TRUE(updateLag({"updelay"}, s, &lag).ok());
  EXPECT_EQ(lag.settings().updelay().nanos(), 200'000'000);
  EXPECT_EQ(lag.settings().mode(), v1::LAG_MODE_ACTIVE_BACKUP);
  ASSERT_TRUE(persisted().lag.has_value());
  EXPECT_EQ(persisted().lag->updelay, std::chrono::milliseconds(200));

  const std::string before = fileBytes();
  s.mutable_downdelay()->set_seconds(-1);
  auto st = updateLag({"downdelay"}, s);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("settings.downdelay: ", 0), 0u) << st.error_message();
  EXPECT_EQ(updateLag({"speed"}, s).error_code(), StatusCode::INVALID_ARGUMENT);
  s.set_primary("pf9");
  st = updateLag({"primary"}, s);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("settings.primary: ", 0), 0u) << st.error_message();
  EXPECT_EQ(fileBytes(), before);

  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:12:34:56")).ok());
  ASSERT_TRUE(setActive("pf1", &lag).ok());
  EXPECT_EQ(lag.active_member(), "pf1");
  EXPECT_EQ(persisted().forced_active_member, "pf1");
  EXPECT_EQ(setActive("pf9").error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(setActive("").error_code(), StatusCode::INVALID_ARGUMENT);
  backend->lag().members[0].link = LinkState::kDown;
  st = setActive("pf0");
  EXPECT_EQ(st.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(persisted().forced_active_member, "pf1");
}

// ------------------------------------------------- stats, version, health

TEST_F(ApiContractTest, StatsVersionHealth) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:00:00:01")).ok());
  ASSERT_TRUE(create(spec("vm2/net0", "52:54:00:00:00:02")).ok());
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::Stats stats;
    ASSERT_TRUE(stub->GetStats(&ctx, v1::GetStatsRequest(), &stats).ok());
    ASSERT_EQ(stats.ports_size(), 2);
    EXPECT_EQ(stats.ports(0).port().counters().at("guest_tx_packets"), 10u);
    EXPECT_EQ(stats.ports(0).queues().at(0).counters().at("guest_tx_packets"), 10u);
  }
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::GetStatsRequest req;
    req.set_port_id("vm9/net0");
    v1::Stats stats;
    EXPECT_EQ(stub->GetStats(&ctx, req, &stats).error_code(), StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::Version v;
    ASSERT_TRUE(stub->GetVersion(&ctx, v1::GetVersionRequest(), &v).ok());
    EXPECT_EQ(v.api(), "vfo.v1");
    EXPECT_EQ(v.version(), "0.1.0");
  }
  {
    backend->health_info = {false, {"no LAG member is up"}};
    grpc::ClientContext ctx;
    deadline(ctx);
    v1::HealthResponse h;
    ASSERT_TRUE(stub->Health(&ctx, v1::HealthRequest(), &h).ok());
    EXPECT_FALSE(h.serving());
    ASSERT_EQ(h.problems_size(), 1);
  }
}

// -------------------------------------------------------------------- events

TEST_F(ApiContractTest, WatchEventsResumesAfterItsToken) {
  for (int i = 1; i <= 3; ++i)
    ASSERT_TRUE(
        create(spec(fmt::format("vm{}/net0", i), fmt::format("52:54:00:00:00:0{}", i))).ok());
  grpc::Status st;
  auto all = watch("", /*from_oldest=*/true, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].port_state().port_id(), "vm1/net0");
  EXPECT_EQ(all[0].port_state().to(), v1::PORT_STATE_WAITING);

  auto rest = watch(all[0].resume_token(), false, &st);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].resume_token(), all[1].resume_token());
  EXPECT_TRUE(watch(all[2].resume_token(), false, &st).empty());
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(watch("", false, &st).empty());  // only new ones

  // Following: an event published after the stream started arrives.
  grpc::ClientContext ctx;
  deadline(ctx);
  v1::WatchEventsRequest req;
  req.set_resume_token(all[2].resume_token());
  auto reader = stub->WatchEvents(&ctx, req);
  std::thread later([&] { EXPECT_TRUE(setActive("pf1").ok()); });
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  later.join();
  EXPECT_EQ(e.failover().reason(), "operator");
  EXPECT_EQ(e.failover().to_member(), "pf1");
  ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
}

TEST_F(ApiContractTest, WatchEventsTokenErrors) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:00:00:01")).ok());
  grpc::Status st;
  auto first = watch("", true, &st);
  ASSERT_EQ(first.size(), 1u);
  const std::string old_token = first[0].resume_token();
  for (int i = 0; i < 20; ++i)
    events->publish(MigrationEvent{"vm1/net0", "incoming"});  // buffer holds 16
  watch(old_token, false, &st);
  EXPECT_EQ(st.error_code(), StatusCode::OUT_OF_RANGE);
  EXPECT_NE(st.error_message().find("older than the buffer"), std::string::npos)
      << st.error_message();
  watch(makeResumeToken(events->epoch() ^ 1, 1), false, &st);
  EXPECT_EQ(st.error_code(), StatusCode::OUT_OF_RANGE);
  EXPECT_NE(st.error_message().find("earlier vfod run"), std::string::npos) << st.error_message();
  watch("garbage", false, &st);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("resume_token: ", 0), 0u);
  watch(makeResumeToken(events->epoch(), 999), false, &st);
  EXPECT_EQ(st.error_code(), StatusCode::INVALID_ARGUMENT);
  // From the oldest still buffered: 16 events.
  EXPECT_EQ(watch("", true, &st).size(), 16u);
}

TEST_F(ApiContractTest, StopEndsOpenWatchStreams) {
  events->publish(MigrationEvent{"vm1/net0", "incoming"});
  grpc::ClientContext ctx;
  v1::WatchEventsRequest req;
  req.set_from_oldest(true);  // following
  auto reader = stub->WatchEvents(&ctx, req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));  // the stream is open on the server
  const auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&] { server->stop(); });
  while (reader->Read(&e)) {
  }
  const auto code = reader->Finish().error_code();
  stopper.join();
  EXPECT_EQ(code, StatusCode::UNAVAILABLE);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(ApiContractTest, ConcurrentIdenticalCreatesCreateOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (create(spec("vm1/net0", "52:54:00:12:34:56")).ok()) ok++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(backend->calls("createPort"), 1);
  EXPECT_EQ(persisted().ports.size(), 1u);
}

// ------------------------------------------------------------------- restore

TEST_F(ApiContractTest, RestartRestoresThePersistedState) {
  v1::PortSpec s1 = spec("vm1/net0", "52:54:00:00:00:01");
  s1.set_vlan(10);
  ASSERT_TRUE(create(s1).ok());
  ASSERT_TRUE(create(spec("vm2/net0", "52:54:00:00:00:02")).ok());
  v1::LagSettings ls;
  ls.mutable_downdelay()->set_nanos(50'000'000);
  ASSERT_TRUE(updateLag({"downdelay"}, ls).ok());
  ASSERT_TRUE(setActive("pf1").ok());
  LearnedAddress a{*MacAddress::parse("52:54:00:00:00:01"), 10, "198.18.0.5", {}};
  ASSERT_TRUE(server->recordLearned("vm1/net0", {a}).isOk());
  EXPECT_EQ(server->recordLearned("vm9/net0", {a}).code(), vfo::StatusCode::kNotFound);
  const DesiredState want = server->desiredState();
  stopServer();

  StateStore reread(state_dir);
  auto loaded = reread.load();
  ASSERT_TRUE(loaded.isOk());
  EXPECT_TRUE(loaded->problem.empty());
  EXPECT_EQ(loaded->state, want);
  startServer({}, &loaded->state);
  EXPECT_TRUE(restore_failures.empty());
  auto l = list();
  ASSERT_EQ(l.ports_size(), 2);
  EXPECT_EQ(l.ports(0).spec().vlan(), 10u);
  EXPECT_EQ(backend->restored_learned.at("vm1/net0"), std::vector<LearnedAddress>{a});
  grpc::ClientContext ctx;
  deadline(ctx);
  v1::Lag lag;
  ASSERT_TRUE(stub->GetLag(&ctx, v1::GetLagRequest(), &lag).ok());
  EXPECT_EQ(lag.active_member(), "pf1");
  EXPECT_EQ(lag.settings().downdelay().nanos(), 50'000'000);
  // The same CreatePort after the restart is still idempotent.
  EXPECT_TRUE(create(s1).ok());
}

TEST_F(ApiContractTest, APortThatFailsToRestoreIsKeptReportedAndRetried) {
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:00:00:01")).ok());
  const DesiredState want = server->desiredState();
  stopServer();
  // Restore into a backend whose first createPort fails.
  events = std::make_unique<EventBuffer>(16);
  backend = std::make_unique<FakeBackend>(*events);
  backend->failNext("createPort", resourceExhausted("no free VF"));
  ApiServerOptions o;
  o.listen = "unix://" + dir + "/vfo.sock";
  o.port_socket_dir = socket_dir;
  server = std::make_unique<ApiServer>(*backend, *events, *store, o);
  auto failures = server->restore(want, "");
  ASSERT_EQ(failures.size(), 1u);
  ASSERT_TRUE(server->start().isOk());
  stub = v1::Vfo::NewStub(grpc::CreateChannel(o.listen, grpc::InsecureChannelCredentials()));

  EXPECT_EQ(get("vm1/net0").error_code(), StatusCode::FAILED_PRECONDITION);
  grpc::ClientContext ctx;
  deadline(ctx);
  v1::HealthResponse h;
  ASSERT_TRUE(stub->Health(&ctx, v1::HealthRequest(), &h).ok());
  ASSERT_GE(h.problems_size(), 1);
  EXPECT_NE(h.problems(0).find("vm1/net0"), std::string::npos);
  EXPECT_EQ(persisted().ports.size(), 1u);                          // not lost
  ASSERT_TRUE(create(spec("vm1/net0", "52:54:00:00:00:01")).ok());  // retried
  EXPECT_TRUE(get("vm1/net0").ok());
}

// ------------------------------------------------------------ access control

TEST_F(ApiContractTest, SocketHasTheConfiguredModeAndGroup) {
  stopServer();
  ApiServerOptions o;
  o.socket_group = kNogroup;
  o.socket_mode = 0660;
  startServer(o);
  struct stat st;
  ASSERT_EQ(stat((dir + "/vfo.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(st.st_gid, kNogroup);
  // A second server on the same socket is refused while the first listens.
  EventBuffer ev2;
  FakeBackend b2(ev2);
  ApiServerOptions o2;
  o2.listen = "unix://" + dir + "/vfo.sock";
  ApiServer second(b2, ev2, *store, o2);
  Status s = second.start();
  EXPECT_EQ(s.code(), vfo::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("in use"), std::string::npos) << s.message();
  EXPECT_TRUE(get("nope").error_code() == StatusCode::NOT_FOUND);  // the first still serves
}

// Runs `vfoctl --socket ... <args>` as uid/gid (no supplementary groups);
// returns the exit code and captures stderr.
int runVfoctlAs(uid_t uid, gid_t gid, const std::string& socket, std::vector<std::string> args,
                std::string* err_out) {
  const std::string vfoctl = vfo::testing::binaryDir() + "/proto/vfoctl";
  // Opened while still root: the build tree may lie below a directory other
  // users cannot enter (a mode 0700 checkout); fexecve() then checks only the
  // binary's own mode.
  const int exe = open(vfoctl.c_str(), O_RDONLY | O_CLOEXEC);
  if (exe < 0) return -1;
  int errpipe[2];
  if (pipe(errpipe) != 0) {
    close(exe);
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(errpipe[1], 2);
    close(errpipe[0]);
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0)
      _exit(100);
    std::vector<std::string> all = {vfoctl, "--socket", socket, "--timeout", "5"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    fexecve(exe, argv.data(), environ);
    _exit(101);
  }
  close(exe);
  close(errpipe[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = read(errpipe[0], buf, sizeof(buf))) > 0) err.append(buf, size_t(n));
  close(errpipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (err_out) *err_out = err;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

TEST_F(ApiContractTest, AnotherUidIsPermissionDenied) {
  stopServer();
  ApiServerOptions o;
  o.socket_group = kNogroup;    // nobody may connect (group bit) ...
  o.access.allowed_uids = {0};  // ... but is not allowed to call
  startServer(o);
  const std::string target = "unix://" + dir + "/vfo.sock";
  std::string err;
  EXPECT_EQ(runVfoctlAs(kNobody, kNogroup, target, {"port", "list"}, &err), 5) << err;
  EXPECT_NE(err.find("PERMISSION_DENIED"), std::string::npos) << err;
  EXPECT_NE(err.find("uid 65534"), std::string::npos) << err;
  EXPECT_EQ(runVfoctlAs(kNobody, kNogroup, target,
                        {"port", "create", "vm1/net0", "--mac", "52:54:00:12:34:56"}, &err),
            5)
      << err;
  EXPECT_EQ(backend->calls("createPort"), 0);
  EXPECT_EQ(fileBytes(), "<none>");
  // Root (allowed uid) is served on the same socket.
  EXPECT_EQ(runVfoctlAs(0, 0, target, {"port", "list"}, &err), 0) << err;
}

TEST_F(ApiContractTest, AnAllowedGroupIsServed) {
  stopServer();
  ApiServerOptions o;
  o.socket_group = kNogroup;
  o.access.allowed_gids = {kNogroup};
  startServer(o);
  const std::string target = "unix://" + dir + "/vfo.sock";
  std::string err;
  EXPECT_EQ(runVfoctlAs(kNobody, kNogroup, target,
                        {"port", "create", "vm1/net0", "--mac", "52:54:00:12:34:56"}, &err),
            0)
      << err;
  EXPECT_EQ(backend->calls("createPort"), 1);
}

TEST_F(ApiContractTest, TheSocketModeKeepsOthersOut) {
  stopServer();
  ApiServerOptions o;
  o.socket_mode = 0660;  // group root: nobody/nogroup has no write permission
  o.access.allowed_uids = {0, kNobody};
  startServer(o);
  std::string err;
  EXPECT_EQ(runVfoctlAs(kNobody, kNogroup, "unix://" + dir + "/vfo.sock", {"health"}, &err), 6)
      << err;
  EXPECT_NE(err.find("UNAVAILABLE"), std::string::npos) << err;
}

}  // namespace
}  // namespace vfo::api
