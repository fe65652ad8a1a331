// lag-core decision benchmarks:
//  - balance-flow member selection per packet for every hash policy
//    (target <= 5 ns), against a baseline of `precomputed u32 % n`;
//  - failover decision for 1000 ports in active-backup and balance-vm
//    (target <= 50 us): from onCarrier(down) + onTick past downdelay until
//    every DecisionEvent was delivered.
// Build in Release (-DCMAKE_BUILD_TYPE=Release) before reading the figures.
// Logging is set to WARN so the figures exclude stderr writes (the decision
// path logs one INFO summary line per failover plus rate-limited per-port lines).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/log.h"
#include "vfo/lag/flow_hash.h"
#include "vfo/lag/lag_group.h"
#include "vfo/lag/live_set.h"

namespace vfo::lag {
namespace {

using std::chrono::milliseconds;

// 256 frames: IPv4 TCP/UDP, IPv6 TCP, VLAN-tagged IPv4, random addresses and ports.
std::vector<std::vector<uint8_t>> makeFrames() {
  std::mt19937 rng(1);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 256; ++i) {
    const int kind = i % 4;  // 0 IPv4 TCP, 1 IPv4 UDP, 2 IPv6 TCP, 3 VLAN IPv4 TCP
    const size_t l3 = kind == 3 ? 18 : 14;
    const size_t l4 = l3 + (kind == 2 ? 40 : 20);
    std::vector<uint8_t> f(l4 + 20, 0);
    for (int b = 0; b < 12; ++b) f[b] = uint8_t(rng());
    f[0] &= 0xfe;
    f[6] &= 0xfe;
    if (kind == 3) {
      f[12] = 0x81;
      f[15] = 100;
    }
    if (kind == 2) {
      f[l3 - 2] = 0x86;
      f[l3 - 1] = 0xdd;
      f[l3] = 0x60;
      f[l3 + 6] = 6;
      for (int b = 8; b < 40; ++b) f[l3 + b] = uint8_t(rng());
    } else {
      f[l3 - 2] = 0x08;
      f[l3] = 0x45;
      f[l3 + 9] = kind == 1 ? 17 : 6;
      for (int b = 12; b < 20; ++b) f[l3 + b] = uint8_t(rng());
    }
    for (int b = 0; b < 4; ++b) f[l4 + b] = uint8_t(rng());
    frames.push_back(std::move(f));
  }
  return frames;
}

void BM_BaselineHashModulo(benchmark::State& state) {
  std::vector<uint32_t> hashes(256);
  std::mt19937 rng(2);
  for (auto& h : hashes) h = rng();
  uint32_t n = 2;
  benchmark::DoNotOptimize(n);
  size_t i = 0;
  for (auto _ : state) {
    uint32_t m = hashes[i++ & 255] % n;
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BaselineHashModulo);

void BM_SelectFlow(benchmark::State& state) {
  const auto policy = HashPolicy(state.range(0));
  const auto frames = makeFrames();
  QsbrDomain domain;
  LiveSetPublisher pub(&domain);
  LiveSet s;
  s.policy = policy;
  const MemberId live[] = {0, 1};
  s.setMembers(live, 2);
  pub.publish(s);
  const uint32_t reader = *domain.registerReader();
  size_t i = 0;
  for (auto _ : state) {
    const auto& f = frames[i++ & 255];
    MemberId m = pub.current()->selectFlow(f.data(), f.size());
    benchmark::DoNotOptimize(m);
  }
  domain.quiescent(reader);
  domain.unregisterReader(reader);
  state.SetLabel(std::string(hashPolicyName(policy)));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SelectFlow)->DenseRange(0, 4);

// A group with 1000 ports, both members enabled. Each iteration fails the
// member carrying traffic and times onCarrier(down) + onTick(past downdelay)
// until all events are delivered; restoring the member is not timed.
void failoverBench(benchmark::State& state, LagMode mode) {
  setLogLevel(LogLevel::kWarn);
  FakeClock clock;
  LagConfig c;
  c.mode = mode;
  c.members = {{"pf0", 25000, false}, {"pf1", 25000, false}};
  c.downdelay = milliseconds(200);
  c.vm_failback_delay = Duration::zero();
  size_t events = 0;
  auto created = LagGroup::create(c, clock, [&](const DecisionEvent&) { ++events; });
  std::unique_ptr<LagGroup> g = std::move(*created);
  (void)g->onCarrier(0, true, clock.now());
  (void)g->onCarrier(1, true, clock.now());
  for (int p = 0; p < 1000; ++p) (void)g->addPort("vm" + std::to_string(p) + "/net0");
  size_t moved_total = 0;
  MemberId victim = 0;
  for (auto _ : state) {
    events = 0;
    const auto t0 = std::chrono::steady_clock::now();
    (void)g->onCarrier(victim, false, clock.now());
    clock.advance(milliseconds(200));
    g->onTick(clock.now());
    const auto t1 = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
    moved_total += events;
    // Restore (untimed): the member comes back; in balance-vm its ports move back.
    (void)g->onCarrier(victim, true, clock.now());
    clock.advance(milliseconds(1));
    g->onTick(clock.now());
    if (mode == LagMode::kActiveBackup) victim = g->activeMember();
  }
  state.counters["events_per_failover"] =
      benchmark::Counter(double(moved_total) / double(state.iterations()));
  setLogLevel(LogLevel::kInfo);
}

// Baseline for the failover figures: only building and delivering 1000
// DecisionEvents (port name copy + std::function call), no decision logic.
void BM_BaselineDeliver1000Events(benchmark::State& state) {
  std::vector<std::string> names;
  for (int p = 0; p < 1000; ++p) names.push_back("vm" + std::to_string(p) + "/net0");
  size_t events = 0;
  std::function<void(const DecisionEvent&)> sink = [&](const DecisionEvent&) { ++events; };
  for (auto _ : state) {
    for (PortIndex p = 0; p < 1000; ++p) {
      DecisionEvent e;
      e.port = p;
      e.port_name = names[p];
      e.from = 0;
      e.to = 1;
      e.reason = DecisionReason::kMemberDown;
      sink(e);
    }
    benchmark::DoNotOptimize(events);
  }
}
BENCHMARK(BM_BaselineDeliver1000Events)->Unit(benchmark::kMicrosecond);

void BM_FailoverActiveBackup1000Ports(benchmark::State& state) {
  failoverBench(state, LagMode::kActiveBackup);
}
BENCHMARK(BM_FailoverActiveBackup1000Ports)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_FailoverBalanceVm1000Ports(benchmark::State& state) {
  failoverBench(state, LagMode::kBalanceVm);
}
BENCHMARK(BM_FailoverBalanceVm1000Ports)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vfo::lag
