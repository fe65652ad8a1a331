// Ops API latency: CreatePort + DeletePort round trips through a real gRPC
// server on a Unix socket with the unit tests' FakeBackend, so each call pays
// access control, validation, the registry and one fsync'ed desired-state
// write (temp file, fsync, rename, fsync dir), but no DPDK or VF work.
//  - with an empty vfod and with 512 ports already present (bigger state file);
//  - baseline: writeFileAtomically of a state file of the same size alone.
// Reported: p50/p99 per call in microseconds (target of the issue, with the
// real software-VF backend: p99 <= 5 ms). The state dir is $TMPDIR or /tmp.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "fake_backend.h"
#include "vfo/api/server.h"
#include "vfo/base/atomic_file.h"
#include "vfo/base/log.h"
#include "vfo/testing/names.h"
#include "vfo/v1/vfo.grpc.pb.h"

namespace vfo::api {
namespace {

using Clock = std::chrono::steady_clock;

struct Rig {
  Rig() {
    setLogLevel(LogLevel::kWarn);
    dir = vfo::testing::makeTempDir("vfo-bench-api-");
    mkdir((dir + "/state").c_str(), 0750);
    store = std::make_unique<StateStore>(dir + "/state");
    ApiServerOptions o;
    o.listen = "unix://" + dir + "/vfo.sock";
    o.port_socket_dir = "/run/vfo/sockets";
    server = std::make_unique<ApiServer>(backend, events, *store, o);
    if (!server->start().isOk()) abort();
    stub = v1::Vfo::NewStub(grpc::CreateChannel(o.listen, grpc::InsecureChannelCredentials()));
  }
  ~Rig() {
    stub.reset();
    server->stop();
    vfo::testing::removeTree(dir);
  }
  bool create(int i) {
    grpc::ClientContext ctx;
    v1::CreatePortRequest req;
    req.mutable_spec()->set_port_id(fmt::format("vm{}/net0", i));
    req.mutable_spec()->set_mac(
        fmt::format("52:54:00:00:{:02x}:{:02x}", (i >> 8) & 0xff, i & 0xff));
    req.mutable_spec()->set_queues(2);
    v1::Port resp;
    return stub->CreatePort(&ctx, req, &resp).ok();
  }
  bool del(int i) {
    grpc::ClientContext ctx;
    v1::DeletePortRequest req;
    req.set_port_id(fmt::format("vm{}/net0", i));
    v1::DeletePortResponse resp;
    return stub->DeletePort(&ctx, req, &resp).ok();
  }
  std::string dir;
  EventBuffer events{1 << 16};
  testing::FakeBackend backend{events};
  std::unique_ptr<StateStore> store;
  std::unique_ptr<ApiServer> server;
  std::unique_ptr<v1::Vfo::Stub> stub;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

void report(benchmark::State& state, const std::vector<double>& c, const std::vector<double>& d) {
  state.counters["create_p50_us"] = percentile(c, 0.50);
  state.counters["create_p99_us"] = percentile(c, 0.99);
  state.counters["delete_p50_us"] = percentile(d, 0.50);
  state.counters["delete_p99_us"] = percentile(d, 0.99);
}

void BM_CreateDeletePort(benchmark::State& state) {
  Rig rig;
  const int existing = int(state.range(0));
  for (int i = 0; i < existing; ++i)
    if (!rig.create(100000 + i)) state.SkipWithError("prefill failed");
  std::vector<double> c, d;
  int i = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    if (!rig.create(i)) state.SkipWithError("create failed");
    auto t1 = Clock::now();
    if (!rig.del(i)) state.SkipWithError("delete failed");
    auto t2 = Clock::now();
    c.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    d.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
    ++i;
  }
  report(state, c, d);
  state.counters["state_file_bytes"] = double(readWholeFile(rig.store->path())->size());
}
BENCHMARK(BM_CreateDeletePort)->Arg(0)->Arg(512)->Iterations(300)->Unit(benchmark::kMicrosecond);

// Baseline: the atomic write alone, for a file as big as with N ports.
void BM_AtomicWriteBaseline(benchmark::State& state) {
  const std::string dir = vfo::testing::makeTempDir("vfo-bench-aw-");
  DesiredState s;
  for (int i = 0; i < state.range(0); ++i) {
    PortSpec p;
    p.port_id = fmt::format("vm{}/net0", i);
    p.socket_path = fmt::format("/run/vfo/sockets/vm{}-net0.sock", i);
    p.mac = MacAddress({0x52, 0x54, 0, 0, uint8_t(i >> 8), uint8_t(i)});
    p.queues = 2;
    s.ports.push_back(p);
  }
  const std::string bytes = StateStore::encode(s);
  std::vector<double> w;
  for (auto _ : state) {
    auto t0 = Clock::now();
    if (!writeFileAtomically(dir + "/f", bytes).isOk()) state.SkipWithError("write failed");
    w.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  state.counters["write_p50_us"] = percentile(w, 0.5);
  state.counters["write_p99_us"] = percentile(w, 0.99);
  state.counters["bytes"] = double(bytes.size());
  vfo::testing::removeTree(dir);
}
BENCHMARK(BM_AtomicWriteBaseline)->Arg(0)->Arg(512)->Iterations(300)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vfo::api
