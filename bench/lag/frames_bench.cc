// Announce frames and address learning costs.
//
//   BM_BuildAnnounceFrames          every announce frame of a 1000-VM failover
//                                   (per port RARP + 2 GARP + 1 NA) written into
//                                   a frame arena, as the datapath would into
//                                   mbufs. Target: <= 1 ms per 1000 ports.
//   BM_AnnounceSchedulerFailover    the same through the scheduler: schedule
//                                   1000 ports, run all 3 bursts in virtual time
//                                   (unlimited rate), frames to a no-op callback.
//   BM_ParseFrame/<kind>            parseAddressFrame() per frame.
//   BM_LearnerObserve/<kind>        AddressLearner::observe() per frame on a
//                                   port holding 64 entries (refresh path).
#include <benchmark/benchmark.h>

#include <vector>

#include "vfo/lag/address_learner.h"
#include "vfo/lag/announce_scheduler.h"
#include "vfo/lag/frame_parser.h"
#include "vfo/lag/frames.h"

namespace vfo::lag {
namespace {

constexpr uint32_t kPorts = 1000;

MacAddress macFor(uint32_t port) {
  return MacAddress({0x52, 0x54, 0x00, uint8_t(port >> 16), uint8_t(port >> 8), uint8_t(port)});
}

AnnounceSet setFor(uint32_t port, VlanId vlan) {
  const MacAddress mac = macFor(port + 1);
  AnnounceSet s;
  s.macs.push_back({mac, vlan});
  s.ipv4.push_back({mac, vlan, Ipv4Address::fromHostOrder(0xc6120000u + 2 * port + 1)});
  s.ipv4.push_back({mac, vlan, Ipv4Address::fromHostOrder(0xc6120000u + 2 * port + 2)});
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[14] = uint8_t(port >> 8);
  v6[15] = uint8_t(port);
  s.ipv6.push_back({mac, vlan, Ipv6Address(v6)});
  return s;
}

void BM_BuildAnnounceFrames(benchmark::State& state) {
  const VlanId vlan = VlanId(state.range(0));
  std::vector<AnnounceSet> sets;
  for (uint32_t p = 0; p < kPorts; ++p) sets.push_back(setFor(p, vlan));
  // One 128-byte slot per frame, like an mbuf data area.
  constexpr size_t kSlot = 128;
  std::vector<uint8_t> arena(kPorts * 4 * kSlot);
  size_t bytes = 0;
  for (auto _ : state) {
    uint8_t* slot = arena.data();
    bytes = 0;
    for (const AnnounceSet& s : sets) {
      bytes += writeRarpAnnounce({slot, kSlot}, s.macs[0].mac, s.macs[0].vlan);
      slot += kSlot;
      for (const AnnounceIpv4& a : s.ipv4) {
        bytes += writeGratuitousArp({slot, kSlot}, GarpForm::kRequest, a.mac, a.ip, a.vlan);
        slot += kSlot;
      }
      bytes += writeUnsolicitedNa({slot, kSlot}, s.ipv6[0].mac, s.ipv6[0].ip, s.ipv6[0].vlan);
      slot += kSlot;
    }
    benchmark::DoNotOptimize(arena.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * kPorts * 4);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
  state.counters["frames_per_iter"] = kPorts * 4;
}
BENCHMARK(BM_BuildAnnounceFrames)->Arg(0)->Arg(100)->Unit(benchmark::kMicrosecond);

void BM_AnnounceSchedulerFailover(benchmark::State& state) {
  std::vector<AnnounceSet> sets;
  for (uint32_t p = 0; p < kPorts; ++p) sets.push_back(setFor(p, 0));
  AnnounceConfig config;
  config.max_frames_per_second = 0;  // unlimited: measure the work, not the limiter's waits
  uint64_t sent = 0, bytes = 0;
  auto sched = AnnounceScheduler::create(config, [&](MemberId, PortIndex, FrameKind,
                                                     std::span<const uint8_t> f) {
                 ++sent;
                 bytes += f.size();
                 return true;
               }).value();
  TimePoint now{std::chrono::seconds(1)};
  for (auto _ : state) {
    for (uint32_t p = 0; p < kPorts; ++p) {
      Status s = sched->schedule(p, 1, sets[p], now, now);
      if (!s.isOk()) state.SkipWithError(s.toString().c_str());
    }
    while (sched->nextDeadline() != kNever) {
      now = std::max(now, sched->nextDeadline());
      sched->onTick(now);
    }
    now += std::chrono::seconds(1);
  }
  state.SetItemsProcessed(int64_t(sent));
  state.counters["frames_per_iter"] = benchmark::Counter(double(sent) / double(state.iterations()));
}
BENCHMARK(BM_AnnounceSchedulerFailover)->Unit(benchmark::kMicrosecond);

// ---- parsing and learning ---------------------------------------------------

const MacAddress kGuest = macFor(1);

std::vector<uint8_t> dhcpAck() {
  // Ethernet / IPv4 / UDP 67->68 / BOOTP with cookie, type ACK, lease, end.
  std::vector<uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0xfe, 0x08, 0};
  std::vector<uint8_t> bootp(236, 0);
  bootp[0] = 2;
  bootp[1] = 1;
  bootp[2] = 6;
  bootp[16] = 198;
  bootp[17] = 18;
  bootp[18] = 0;
  bootp[19] = 5;
  std::copy(kGuest.bytes().begin(), kGuest.bytes().end(), bootp.begin() + 28);
  bootp.insert(bootp.end(), {99, 130, 83, 99, 53, 1, 5, 51, 4, 0, 0, 0x0e, 0x10, 255});
  const size_t udp_len = 8 + bootp.size(), total = 20 + udp_len;
  std::vector<uint8_t> ip = {0x45,
                             0,
                             uint8_t(total >> 8),
                             uint8_t(total),
                             0,
                             0,
                             0x40,
                             0,
                             64,
                             17,
                             0,
                             0,
                             198,
                             18,
                             0,
                             1,
                             255,
                             255,
                             255,
                             255};
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += uint32_t(ip[i]) << 8 | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = uint8_t(~sum >> 8);
  ip[11] = uint8_t(~sum);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), {0, 67, 0, 68, uint8_t(udp_len >> 8), uint8_t(udp_len), 0, 0});
  f.insert(f.end(), bootp.begin(), bootp.end());
  return f;
}

std::vector<uint8_t> frameOfKind(int kind) {
  switch (kind) {
    case 0:
      return *buildGratuitousArp(GarpForm::kRequest, kGuest, Ipv4Address::fromHostOrder(0xc6120005),
                                 0);
    case 1:
      return *buildUnsolicitedNa(kGuest, *Ipv6Address::parse("2001:db8::5"), 0);
    case 2:
      return dhcpAck();
    default: {
      // A TCP segment: the common case the parser must dismiss quickly.
      auto f = dhcpAck();
      f[14 + 9] = 6;
      return f;
    }
  }
}
const char* kKindNames[] = {"garp", "na", "dhcp_ack", "tcp_not_relevant"};

void BM_ParseFrame(benchmark::State& state) {
  const auto frame = frameOfKind(int(state.range(0)));
  state.SetLabel(kKindNames[state.range(0)]);
  for (auto _ : state) {
    ParsedFrame r = parseAddressFrame(frame);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_ParseFrame)->DenseRange(0, 3);

void BM_LearnerObserve(benchmark::State& state) {
  const auto frame = frameOfKind(int(state.range(0)));
  state.SetLabel(kKindNames[state.range(0)]);
  auto learner = AddressLearner::create(AddressLearnerConfig{}).value();
  const MacAddress macs[] = {kGuest};
  (void)learner->addPort(0, macs);
  TimePoint now{std::chrono::seconds(1)};
  // Fill the port to its cap (64) with other addresses, so lookups scan.
  for (uint32_t i = 0; i < 63; ++i)
    learner->observe(0, FrameDirection::kFromGuest,
                     *buildGratuitousArp(GarpForm::kRequest, kGuest,
                                         Ipv4Address::fromHostOrder(0xc6130000u + i), 0),
                     now);
  for (auto _ : state) {
    now += std::chrono::microseconds(1);
    LearnOutcome o = learner->observe(0, FrameDirection::kFromGuest, frame, now);
    benchmark::DoNotOptimize(o);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_LearnerObserve)->DenseRange(0, 3);

}  // namespace
}  // namespace vfo::lag
