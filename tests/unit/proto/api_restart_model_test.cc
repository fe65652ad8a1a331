// Model-based restart test of the API's persisted desired state. A child
// process (this binary re-executed with --serve) is a fake vfod: StateStore
// load, ApiServer::restore into a fresh FakeBackend, serve. The test applies
// random CreatePort/DeletePort/UpdatePort/UpdateLag calls, keeps a model of
// the desired state, and SIGKILLs the child at random moments, sometimes
// while a call is in flight. After every restart the restored ports and LAG
// settings must equal the model; a call that returned OK before the kill
// must be in it (persisted before the reply), and a call cut off by the kill
// may or may not be.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <random>
#include <thread>

#include "fake_backend.h"
#include "vfo/api/server.h"
#include "vfo/base/log.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"
#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::api {
namespace {

std::string g_self;  // this executable

// The fake vfod: never returns.
int serve(const std::string& dir) {
  EventBuffer events(256);
  testing::FakeBackend backend(events);
  StateStore store(dir + "/state");
  auto loaded = store.load();
  if (!loaded) {
    fprintf(stderr, "load: %s\n", loaded.status().toString().c_str());
    return 1;
  }
  ApiServerOptions o;
  o.listen = "unix://" + dir + "/vfo.sock";
  o.port_socket_dir = dir + "/sockets";
  ApiServer server(backend, events, store, o);
  auto failures = server.restore(loaded->state, loaded->problem);
  if (!failures.empty() || !loaded->problem.empty()) return 2;
  if (!server.start().isOk()) return 3;
  fprintf(stderr, "ready\n");
  fflush(stderr);
  for (;;) pause();
}

// The desired state as the model sees it.
struct Model {
  std::map<std::string, uint32_t> ports;  // port id -> vlan
  int64_t updelay_ms = 0;                 // LAG updelay
  friend bool operator==(const Model&, const Model&) = default;
};

std::string describe(const Model& m) {
  std::string s = "updelay=" + std::to_string(m.updelay_ms) + " ports:";
  for (const auto& [id, vlan] : m.ports) s += " " + id + "@" + std::to_string(vlan);
  return s;
}

class RestartModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = vfo::testing::makeTempDir("vfo-model-");
    ASSERT_EQ(mkdir((dir + "/state").c_str(), 0750), 0);
  }
  void TearDown() override {
    stub.reset();
    daemon.reset();
    vfo::testing::removeTree(dir);
  }

  void startDaemon() {
    const std::string log = dir + "/daemon-" + std::to_string(starts++) + ".log";
    daemon = std::make_unique<vfo::testing::Process>(
        std::vector<std::string>{g_self, "--serve", dir}, log);
    // Connect only once it listens: a channel that failed to connect backs
    // off for a second or more before it tries again.
    ASSERT_TRUE(
        vfo::testing::waitFor([&] { return daemon->log().find("ready") != std::string::npos; },
                              std::chrono::seconds(10), std::chrono::milliseconds(2)))
        << daemon->log();
    stub = v1::Vfo::NewStub(
        grpc::CreateChannel("unix://" + dir + "/vfo.sock", grpc::InsecureChannelCredentials()));
  }

  // What the restarted daemon holds.
  Model observe() {
    Model m;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListPortsResponse ports;
    EXPECT_TRUE(stub->ListPorts(&ctx, v1::ListPortsRequest(), &ports).ok());
    for (const auto& p : ports.ports()) m.ports[p.spec().port_id()] = p.spec().vlan();
    grpc::ClientContext lctx;
    lctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::Lag lag;
    EXPECT_TRUE(stub->GetLag(&lctx, v1::GetLagRequest(), &lag).ok());
    m.updelay_ms =
        lag.settings().updelay().seconds() * 1000 + lag.settings().updelay().nanos() / 1000000;
    return m;
  }

  // One random call; returns its status and the model it leads to if it
  // took effect.
  grpc::Status randomCall(std::mt19937& rng, const Model& before, Model* after) {
    *after = before;
    const int i = int(rng() % 6);
    const std::string id = "vm" + std::to_string(i) + "/net0";
    const uint32_t vlan = (rng() % 2) ? 10 : 0;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    switch (rng() % 4) {
      case 0: {
        v1::CreatePortRequest req;
        req.mutable_spec()->set_port_id(id);
        req.mutable_spec()->set_mac("52:54:00:00:00:0" + std::to_string(i + 1));
        req.mutable_spec()->set_vlan(vlan);
        v1::Port resp;
        if (!before.ports.contains(id)) after->ports[id] = vlan;
        return stub->CreatePort(&ctx, req, &resp);
      }
      case 1: {
        v1::DeletePortRequest req;
        req.set_port_id(id);
        v1::DeletePortResponse resp;
        after->ports.erase(id);
        return stub->DeletePort(&ctx, req, &resp);
      }
      case 2: {
        v1::UpdatePortRequest req;
        req.set_port_id(id);
        req.add_update_fields("vlan");
        req.mutable_spec()->set_vlan(vlan);
        v1::Port resp;
        if (before.ports.contains(id)) after->ports[id] = vlan;
        return stub->UpdatePort(&ctx, req, &resp);
      }
      default: {
        v1::UpdateLagRequest req;
        req.add_update_fields("updelay");
        const int ms = int(rng() % 5) * 100;
        req.mutable_settings()->mutable_updelay()->set_nanos(ms * 1'000'000);
        v1::Lag resp;
        after->updelay_ms = ms;
        return stub->UpdateLag(&ctx, req, &resp);
      }
    }
  }

  std::string dir;
  int starts = 0;  // daemon starts so far (one log file each)
  std::unique_ptr<vfo::testing::Process> daemon;
  std::unique_ptr<v1::Vfo::Stub> stub;
};

TEST_F(RestartModelTest, RandomCallsAndKillsMatchTheModel) {
  std::mt19937 rng(20261121);
  Model model;
  startDaemon();
  int in_flight_kills = 0, applied_in_flight = 0;
  for (int round = 0; round < 20; ++round) {
    const int calls = 3 + int(rng() % 8);
    for (int c = 0; c < calls; ++c) {
      Model next;
      grpc::Status st = randomCall(rng, model, &next);
      if (st.ok()) model = next;
      // Errors must be the expected, state-preserving ones.
      ASSERT_TRUE(st.ok() || st.error_code() == grpc::StatusCode::NOT_FOUND ||
                  st.error_code() == grpc::StatusCode::ALREADY_EXISTS)
          << st.error_message();
    }
    Model maybe = model;  // the model if the cut-off call took effect
    if (rng() % 2) {
      // Kill while a call is in flight.
      Model next;
      grpc::Status st;
      const auto kill_after = useconds_t(rng() % 3000);  // drawn before the thread uses rng
      std::thread t([&] { st = randomCall(rng, model, &next); });
      usleep(kill_after);  // a random moment, not a wait for a condition
      daemon->kill();
      t.join();
      ++in_flight_kills;
      if (st.ok())
        model = next, maybe = next;  // answered OK before the kill: must be persisted
      else
        maybe = next;
    } else {
      daemon->kill();
    }
    stub.reset();
    startDaemon();
    const Model got = observe();
    ASSERT_TRUE(got == model || got == maybe)
        << "round " << round << "\n got   " << describe(got) << "\n model " << describe(model)
        << "\n or    " << describe(maybe);
    if (!(got == model)) ++applied_in_flight;
    model = got;
  }
  daemon->kill();
  RecordProperty("in_flight_kills", in_flight_kills);
  RecordProperty("cut_off_calls_applied", applied_in_flight);
}

}  // namespace
}  // namespace vfo::api

int main(int argc, char** argv) {
  vfo::api::g_self = "/proc/self/exe";
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) vfo::api::g_self.assign(buf, size_t(n));
  if (argc == 3 && std::string(argv[1]) == "--serve") {
    vfo::setLogLevel(vfo::LogLevel::kWarn);
    return vfo::api::serve(argv[2]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
