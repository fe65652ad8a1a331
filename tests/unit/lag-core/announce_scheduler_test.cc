// Announce scheduler in virtual time: count and interval, flap restarts,
// cancel, the global rate limit (1000 ports), validation, and the announce
// set built from learned addresses.
#include "vfo/lag/announce_scheduler.h"

#include <gtest/gtest.h>

#include <map>

namespace vfo::lag {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const MacAddress kMac = *MacAddress::parse("52:54:00:12:34:56");
const MacAddress kMac2 = *MacAddress::parse("52:54:00:12:34:57");

Ipv4Address ip4(uint32_t n) {
  return Ipv4Address::fromHostOrder(0xc6120000u + n);  // 198.18.x.y
}
Ipv6Address ip6(uint16_t n) {
  std::array<uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
  b[14] = uint8_t(n >> 8);
  b[15] = uint8_t(n);
  return Ipv6Address(b);
}
MacAddress macFor(uint32_t port) {
  return MacAddress({0x52, 0x54, 0x00, uint8_t(port >> 16), uint8_t(port >> 8), uint8_t(port)});
}

// 1 MAC, 2 IPv4, 1 IPv6: RARP + 2 GARP + 1 NA per burst.
AnnounceSet fourFrames(uint32_t port, VlanId vlan = kNoVlan) {
  const MacAddress mac = macFor(port + 1);
  AnnounceSet s;
  s.macs.push_back({mac, vlan});
  s.ipv4.push_back({mac, vlan, ip4(2 * port + 1)});
  s.ipv4.push_back({mac, vlan, ip4(2 * port + 2)});
  s.ipv6.push_back({mac, vlan, ip6(uint16_t(port + 1))});
  return s;
}

struct Sent {
  MemberId member;
  PortIndex port;
  FrameKind kind;
  std::vector<uint8_t> frame;
  TimePoint at;
};

class AnnounceSchedulerTest : public ::testing::Test {
 protected:
  void make(const AnnounceConfig& config) {
    auto s = AnnounceScheduler::create(
        config,
        [this](MemberId m, PortIndex p, FrameKind k, std::span<const uint8_t> f) {
          sent.push_back({m, p, k, {f.begin(), f.end()}, clock.now()});
          return refuse_every == 0 || sent.size() % refuse_every != 0;
        },
        [this](const AnnounceRecord& r) { done.push_back(r); });
    ASSERT_TRUE(s.isOk()) << s.status().toString();
    sched = std::move(s).value();
  }
  void SetUp() override { make(AnnounceConfig{}); }

  // Runs onTick at every deadline until idle (or `limit`).
  void runUntilIdle(TimePoint limit = kNever) {
    while (sched->nextDeadline() != kNever && sched->nextDeadline() <= limit) {
      clock.set(std::max(clock.now(), sched->nextDeadline()));
      sched->onTick(clock.now());
    }
  }
  size_t countFor(PortIndex port, MemberId member) {
    size_t n = 0;
    for (const Sent& s : sent) n += s.port == port && s.member == member;
    return n;
  }

  FakeClock clock;
  std::unique_ptr<AnnounceScheduler> sched;
  std::vector<Sent> sent;
  std::vector<AnnounceRecord> done;
  size_t refuse_every = 0;  // the send callback refuses every Nth frame when set
};

TEST_F(AnnounceSchedulerTest, ThreeBurstsFiftyMillisecondsApartFirstAtOnce) {
  const TimePoint t0 = clock.now();
  const TimePoint cause = t0 - milliseconds(3);
  ASSERT_TRUE(sched->schedule(7, 1, fourFrames(7, 42), t0, cause).isOk());
  EXPECT_TRUE(sent.empty());  // schedule() itself sends nothing
  EXPECT_EQ(sched->nextDeadline(), t0);

  sched->onTick(t0);
  ASSERT_EQ(sent.size(), 4u);
  const std::vector<FrameKind> order = {FrameKind::kRarpAnnounce, FrameKind::kGarpRequest,
                                        FrameKind::kGarpRequest, FrameKind::kUnsolicitedNa};
  const AnnounceSet set = fourFrames(7, 42);
  const std::vector<std::vector<uint8_t>> expected = {
      *buildRarpAnnounce(set.macs[0].mac, 42),
      *buildGratuitousArp(GarpForm::kRequest, set.ipv4[0].mac, set.ipv4[0].ip, 42),
      *buildGratuitousArp(GarpForm::kRequest, set.ipv4[1].mac, set.ipv4[1].ip, 42),
      *buildUnsolicitedNa(set.ipv6[0].mac, set.ipv6[0].ip, 42)};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sent[i].member, 1u);
    EXPECT_EQ(sent[i].port, 7u);
    EXPECT_EQ(sent[i].kind, order[i]);
    EXPECT_EQ(sent[i].frame, expected[i]) << i;
  }
  EXPECT_EQ(sched->nextDeadline(), t0 + milliseconds(50));
  auto rec = sched->record(7);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->outcome, AnnounceOutcome::kPending);
  EXPECT_EQ(rec->bursts_sent, 1u);

  sched->onTick(t0 + milliseconds(49));
  EXPECT_EQ(sent.size(), 4u);
  sched->onTick(t0 + milliseconds(50));
  EXPECT_EQ(sent.size(), 8u);
  EXPECT_EQ(sched->nextDeadline(), t0 + milliseconds(100));
  sched->onTick(t0 + milliseconds(100));
  EXPECT_EQ(sent.size(), 12u);
  EXPECT_EQ(sched->nextDeadline(), kNever);
  sched->onTick(t0 + seconds(5));
  EXPECT_EQ(sent.size(), 12u);

  ASSERT_EQ(done.size(), 1u);
  const AnnounceRecord& r = done[0];
  EXPECT_EQ(r.outcome, AnnounceOutcome::kCompleted);
  EXPECT_EQ(r.port, 7u);
  EXPECT_EQ(r.member, 1u);
  EXPECT_EQ(r.frames_per_burst, 4u);
  EXPECT_EQ(r.bursts_sent, 3u);
  EXPECT_EQ(r.frames_sent, 12u);
  EXPECT_EQ(r.frames_deferred, 0u);
  EXPECT_EQ(r.cause_seen_at, cause);
  EXPECT_EQ(r.scheduled_at, t0);
  EXPECT_EQ(r.first_frame_at, t0);
  EXPECT_EQ(r.first_burst_at, t0) << "the whole first burst left at once";
  EXPECT_EQ(r.last_frame_at, t0 + milliseconds(100));
  EXPECT_EQ(r.ended_at, t0 + milliseconds(100));
  EXPECT_EQ(sched->record(7)->outcome, AnnounceOutcome::kCompleted);
  EXPECT_EQ(sched->pendingCount(), 0u);

  auto s = sched->stats();
  EXPECT_EQ(s.schedules, 1u);
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(s.bursts, 3u);
  EXPECT_EQ(s.frames_rarp, 3u);
  EXPECT_EQ(s.frames_garp, 6u);
  EXPECT_EQ(s.frames_na, 3u);
}

TEST_F(AnnounceSchedulerTest, IntervalCountsFromTheEndOfALateBurst) {
  AnnounceConfig c;
  c.announce_count = 2;
  c.announce_interval = milliseconds(10);
  c.garp_form = GarpForm::kReply;
  make(c);
  const TimePoint t0 = clock.now();
  ASSERT_TRUE(sched->schedule(1, 0, fourFrames(1), t0, t0).isOk());
  sched->onTick(t0 + milliseconds(3));  // the owner ticked late
  EXPECT_EQ(sched->nextDeadline(), t0 + milliseconds(13));
  EXPECT_EQ(sent[1].kind, FrameKind::kGarpReply);
  runUntilIdle();
  EXPECT_EQ(sent.size(), 8u);
  EXPECT_EQ(sent.back().at, t0 + milliseconds(13));
}

TEST_F(AnnounceSchedulerTest, FlapRestartsOnTheNewMemberInsteadOfDoubling) {
  const TimePoint t0 = clock.now();
  ASSERT_TRUE(sched->schedule(5, 0, fourFrames(5), t0, t0).isOk());
  runUntilIdle(t0 + milliseconds(50));  // two bursts on member 0
  EXPECT_EQ(countFor(5, 0), 8u);

  clock.set(t0 + milliseconds(60));
  ASSERT_TRUE(sched->schedule(5, 1, fourFrames(5), clock.now(), clock.now()).isOk());
  EXPECT_EQ(sched->pendingCount(), 1u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, AnnounceOutcome::kRestarted);
  EXPECT_EQ(done[0].member, 0u);
  EXPECT_EQ(done[0].bursts_sent, 2u);
  EXPECT_EQ(done[0].frames_sent, 8u);
  EXPECT_EQ(done[0].ended_at, t0 + milliseconds(60));
  EXPECT_EQ(sched->nextDeadline(), t0 + milliseconds(60));  // first burst at once

  runUntilIdle();
  EXPECT_EQ(countFor(5, 0), 8u);   // nothing more on the old member
  EXPECT_EQ(countFor(5, 1), 12u);  // a full schedule on the new one
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1].outcome, AnnounceOutcome::kCompleted);
  EXPECT_EQ(done[1].member, 1u);
  EXPECT_EQ(sched->stats().restarted, 1u);
}

TEST_F(AnnounceSchedulerTest, ThousandFlapsKeepOneScheduleAndBoundedFrames) {
  const TimePoint t0 = clock.now();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(
        sched->schedule(2, MemberId(i % 2), fourFrames(2), clock.now(), clock.now()).isOk());
    EXPECT_EQ(sched->pendingCount(), 1u);
    if (i % 10 == 0) sched->onTick(clock.now());  // some flaps land between bursts
    clock.advance(milliseconds(1));
  }
  runUntilIdle();
  // 100 first bursts were sent while flapping, then one complete schedule.
  EXPECT_EQ(sent.size(), 100u * 4 + 12);
  EXPECT_EQ(countFor(2, 1), 12u);  // the last flap went to member 1
  auto s = sched->stats();
  EXPECT_EQ(s.schedules, 1000u);
  EXPECT_EQ(s.restarted, 999u);
  EXPECT_EQ(s.completed, 1u);
  EXPECT_EQ(done.size(), 1000u);
  // The last flap at 999 ms was first ticked at 1000 ms; two repeats follow.
  EXPECT_EQ(sent.back().at, t0 + milliseconds(1000 + 100));
}

TEST_F(AnnounceSchedulerTest, CancelStopsAndRecords) {
  const TimePoint t0 = clock.now();
  ASSERT_TRUE(sched->schedule(3, 0, fourFrames(3), t0, t0).isOk());
  sched->onTick(t0);
  EXPECT_TRUE(sched->cancel(3, t0 + milliseconds(10)));
  EXPECT_FALSE(sched->cancel(3, t0 + milliseconds(10)));
  EXPECT_EQ(sched->nextDeadline(), kNever);
  runUntilIdle();
  EXPECT_EQ(sent.size(), 4u);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].outcome, AnnounceOutcome::kCancelled);
  EXPECT_EQ(sched->record(3)->outcome, AnnounceOutcome::kCancelled);
  EXPECT_EQ(sched->stats().cancelled, 1u);
  sched->forgetPort(3, clock.now());
  EXPECT_FALSE(sched->record(3).has_value());
  EXPECT_FALSE(sched->record(12345).has_value());
}

TEST_F(AnnounceSchedulerTest, RateLimitDefersExactly) {
  AnnounceConfig c;
  c.announce_count = 1;
  c.max_frames_per_second = 1000;  // one token per ms
  c.burst_frames = 2;
  make(c);
  const TimePoint t0 = clock.now();
  AnnounceSet two;
  two.macs = {{kMac, 0}, {kMac2, 0}};
  ASSERT_TRUE(sched->schedule(1, 0, two, t0, t0).isOk());
  ASSERT_TRUE(sched->schedule(2, 0, two, t0, t0).isOk());
  sched->onTick(t0);
  ASSERT_EQ(sent.size(), 2u);  // the bucket held two tokens
  EXPECT_EQ(sent[1].port, 1u);
  EXPECT_EQ(sched->nextDeadline(), t0 + milliseconds(1));  // next token
  sched->onTick(t0 + std::chrono::microseconds(999));
  EXPECT_EQ(sent.size(), 2u);
  sched->onTick(t0 + milliseconds(1));
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].port, 2u);
  runUntilIdle();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3].at, t0 + milliseconds(2));
  auto s = sched->stats();
  EXPECT_EQ(s.frames_deferred, 2u);
  // At t0, at t0 + 999 us (0.999 tokens) and at t0 + 1 ms after one frame.
  EXPECT_EQ(s.rate_limited_ticks, 3u);
  EXPECT_EQ(sched->record(1)->frames_deferred, 0u);
  EXPECT_EQ(sched->record(2)->frames_deferred, 2u);
  EXPECT_EQ(sched->record(1)->first_burst_at, t0);
  EXPECT_EQ(sched->record(2)->first_frame_at, t0 + milliseconds(1));
  EXPECT_EQ(sched->record(2)->first_burst_at, t0 + milliseconds(2)) << "its last frame waited";
  // Idle time refills the bucket, but not above its depth.
  clock.advance(seconds(10));
  ASSERT_TRUE(sched->schedule(1, 0, two, clock.now(), clock.now()).isOk());
  ASSERT_TRUE(sched->schedule(2, 0, two, clock.now(), clock.now()).isOk());
  sched->onTick(clock.now());
  EXPECT_EQ(sent.size(), 6u);
  EXPECT_EQ(sched->nextDeadline(), clock.now() + milliseconds(1));
}

// 1000 VMs fail over at once: 1000 ports x (RARP + 2 GARP + NA) x 3 bursts.
// Nothing is dropped, the wire never sees more than the token bucket
// allows, every port's first burst goes before any repeat, and bursts of a
// port stay at least the interval apart.
TEST_F(AnnounceSchedulerTest, ThousandPortFailoverIsRateLimitedNotDropped) {
  AnnounceConfig c;  // defaults: 3 bursts, 50 ms, 10000 frames/s, bucket 2048
  make(c);
  const TimePoint t0 = clock.now();
  for (PortIndex p = 0; p < 1000; ++p)
    ASSERT_TRUE(sched->schedule(p, 1, fourFrames(p), t0, t0).isOk());
  sched->onTick(t0);
  EXPECT_EQ(sent.size(), 2048u);  // the bucket's depth
  EXPECT_EQ(sched->nextDeadline(), t0 + std::chrono::microseconds(100));
  runUntilIdle();
  ASSERT_EQ(sent.size(), 12000u);

  // Independent token bucket over the send times (doubles, 1e-6 slack).
  double tokens = c.burst_frames;
  TimePoint last = t0;
  for (const Sent& s : sent) {
    tokens = std::min<double>(
        c.burst_frames,
        tokens + std::chrono::duration<double>(s.at - last).count() * c.max_frames_per_second);
    last = s.at;
    tokens -= 1;
    ASSERT_GE(tokens, -1e-6) << "at " << (s.at - t0).count() << " ns";
  }
  // Every frame of every first burst precedes every repeat.
  std::map<PortIndex, int> frames_of;
  size_t first_burst_frames = 0;
  bool repeat_seen = false;
  std::map<PortIndex, std::vector<TimePoint>> burst_start;
  for (const Sent& s : sent) {
    int n = frames_of[s.port]++;
    if (n % 4 == 0) burst_start[s.port].push_back(s.at);
    if (n < 4) {
      EXPECT_FALSE(repeat_seen) << "first burst of port " << s.port << " after a repeat";
      ++first_burst_frames;
    } else {
      repeat_seen = true;
    }
  }
  EXPECT_EQ(first_burst_frames, 4000u);
  for (auto& [port, starts] : burst_start) {
    ASSERT_EQ(starts.size(), 3u) << port;
    EXPECT_EQ(frames_of[port], 12) << port;
  }
  // Bursts of one port are at least the interval apart (end to start).
  std::map<PortIndex, TimePoint> last_frame;
  std::map<PortIndex, int> count;
  for (const Sent& s : sent) {
    int n = count[s.port]++;
    if (n > 0 && n % 4 == 0) {
      EXPECT_GE(s.at - last_frame[s.port], c.announce_interval);
    }
    last_frame[s.port] = s.at;
  }
  // 12000 frames at 10000/s after a 2048-frame burst: about 1.0 s.
  const Duration total = sent.back().at - t0;
  EXPECT_GE(total, milliseconds(990));
  EXPECT_LE(total, milliseconds(1100));
  auto st = sched->stats();
  EXPECT_EQ(st.completed, 1000u);
  EXPECT_EQ(st.frames_rarp + st.frames_garp + st.frames_na, 12000u);
  EXPECT_GE(st.frames_deferred, 1952u);  // at least the first bursts beyond the bucket
  uint64_t deferred = 0;
  for (PortIndex p = 0; p < 1000; ++p) deferred += sched->record(p)->frames_deferred;
  EXPECT_EQ(deferred, st.frames_deferred);
}

TEST_F(AnnounceSchedulerTest, UnlimitedRateSendsEverythingDueAtOnce) {
  AnnounceConfig c;
  c.max_frames_per_second = 0;
  make(c);
  const TimePoint t0 = clock.now();
  for (PortIndex p = 0; p < 1000; ++p)
    ASSERT_TRUE(sched->schedule(p, 0, fourFrames(p), t0, t0).isOk());
  sched->onTick(t0);
  EXPECT_EQ(sent.size(), 4000u);
  EXPECT_EQ(sched->nextDeadline(), t0 + milliseconds(50));
  EXPECT_EQ(sched->stats().frames_deferred, 0u);
}

TEST_F(AnnounceSchedulerTest, SendFailuresAreCountedNotRetried) {
  refuse_every = 2;
  const TimePoint t0 = clock.now();
  ASSERT_TRUE(sched->schedule(1, 0, fourFrames(1), t0, t0).isOk());
  runUntilIdle();
  EXPECT_EQ(sent.size(), 12u);
  EXPECT_EQ(sched->stats().send_failures, 6u);
  EXPECT_EQ(sched->record(1)->send_failures, 6u);
}

TEST_F(AnnounceSchedulerTest, ScheduleRejectsBadInputAndChangesNothing) {
  const TimePoint t0 = clock.now();
  ASSERT_TRUE(sched->schedule(1, 0, fourFrames(1), t0, t0).isOk());
  struct Case {
    PortIndex port;
    MemberId member;
    AnnounceSet set;
    const char* message;
  };
  std::vector<Case> cases;
  cases.push_back({kNoPort, 0, fourFrames(1), "port: kNoPort"});
  cases.push_back({1, kNoMember, fourFrames(1), "member: kNoMember"});
  cases.push_back({1, 0, AnnounceSet{}, "set: nothing to announce"});
  {
    auto s = fourFrames(1);
    s.macs[0].mac = *MacAddress::parse("01:00:5e:00:00:01");
    cases.push_back({1, 0, s, "macs[0].mac: 01:00:5e:00:00:01 is a multicast address"});
    s = fourFrames(1);
    s.ipv4[1].vlan = 4095;
    cases.push_back({1, 0, s, "ipv4[1].vlan: 4095 is out of range"});
    s = fourFrames(1);
    s.ipv4[1].ip = *Ipv4Address::parse("224.0.0.1");
    cases.push_back({1, 0, s, "ipv4[1].ip: 224.0.0.1 is not a unicast address a host can own"});
    s = fourFrames(1);
    s.ipv6[0].ip = Ipv6Address::allNodes();
    cases.push_back({1, 0, s, "ipv6[0].ip: ff02::1"});
    s = fourFrames(1);
    s.ipv6[0].mac = MacAddress();
    cases.push_back({1, 0, s, "ipv6[0].mac: 00:00:00:00:00:00"});
    s = AnnounceSet{};
    s.macs.assign(4097, AnnounceMac{kMac, 0});
    cases.push_back({1, 0, s, "set: 4097 frames per burst, at most 4096"});
  }
  for (const Case& c : cases) {
    Status st = sched->schedule(c.port, c.member, c.set, t0, t0);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(st.message().find(c.message), std::string::npos) << st.message();
  }
  // The pending schedule of port 1 is untouched.
  EXPECT_TRUE(done.empty());
  EXPECT_EQ(sched->stats().schedules, 1u);
  EXPECT_EQ(sched->record(1)->member, 0u);
}

TEST_F(AnnounceSchedulerTest, ConfigValidation) {
  auto bad = [](auto mutate, const char* message) {
    AnnounceConfig c;
    mutate(c);
    auto s = AnnounceScheduler::create(
        c, [](MemberId, PortIndex, FrameKind, std::span<const uint8_t>) { return true; });
    ASSERT_FALSE(s.isOk()) << message;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(message), std::string::npos) << s.status().message();
  };
  bad([](AnnounceConfig& c) { c.announce_count = 0; }, "announce_count: 0 is out of range 1..100");
  bad([](AnnounceConfig& c) { c.announce_interval = std::chrono::microseconds(999); },
      "announce_interval: 999 us is out of range");
  bad([](AnnounceConfig& c) { c.max_frames_per_second = 20'000'000; },
      "max_frames_per_second: 20000000 is out of range");
  bad([](AnnounceConfig& c) { c.burst_frames = 0; }, "burst_frames: 0 is out of range");
  auto no_send = AnnounceScheduler::create(AnnounceConfig{}, nullptr);
  ASSERT_FALSE(no_send.isOk());
  EXPECT_NE(no_send.status().message().find("send:"), std::string::npos);
}

TEST(MakeAnnounceSet, AllowedMacsPlusLearnedAddressesOnTheirVlans) {
  const MacAddress allowed[] = {kMac, kMac2};
  auto learned = [](const MacAddress& mac, VlanId vlan, const char* ip) {
    LearnedAddress e;
    e.binding.mac = mac;
    e.binding.vlan = vlan;
    if (auto v4 = Ipv4Address::parse(ip); v4.isOk()) {
      e.binding.family = IpFamily::kIpv4;
      e.binding.ipv4 = *v4;
    } else {
      e.binding.family = IpFamily::kIpv6;
      e.binding.ipv6 = *Ipv6Address::parse(ip);
    }
    return e;
  };
  const LearnedAddress entries[] = {
      learned(kMac, kNoVlan, "198.18.0.5"),    // untagged guest: the port's VLAN
      learned(kMac, 30, "198.18.1.5"),         // guest-tagged VLAN 30
      learned(kMac2, kNoVlan, "2001:db8::5"),  //
      learned(kMac, 30, "fe80::1"),
  };
  AnnounceSet s = makeAnnounceSet(allowed, 10, entries);
  ASSERT_EQ(s.macs.size(), 3u);  // kMac@10, kMac2@10, kMac@30
  EXPECT_EQ(s.macs[0].mac, kMac);
  EXPECT_EQ(s.macs[0].vlan, 10);
  EXPECT_EQ(s.macs[1].mac, kMac2);
  EXPECT_EQ(s.macs[1].vlan, 10);
  EXPECT_EQ(s.macs[2].mac, kMac);
  EXPECT_EQ(s.macs[2].vlan, 30);
  ASSERT_EQ(s.ipv4.size(), 2u);
  EXPECT_EQ(s.ipv4[0].vlan, 10);
  EXPECT_EQ(s.ipv4[1].vlan, 30);
  ASSERT_EQ(s.ipv6.size(), 2u);
  EXPECT_EQ(s.ipv6[0].mac, kMac2);
  EXPECT_EQ(s.ipv6[0].vlan, 10);
  EXPECT_EQ(s.ipv6[1].ip.toString(), "fe80::1");
  EXPECT_EQ(s.framesPerBurst(), 7u);
  // No learned addresses: one RARP per allowed MAC.
  EXPECT_EQ(makeAnnounceSet(allowed, kNoVlan, {}).framesPerBurst(), 2u);
}

}  // namespace
}  // namespace vfo::lag

namespace vfo::lag {
namespace {

TEST_F(AnnounceSchedulerTest, PortTimingOverridesTheConfiguredBursts) {
  const TimePoint t0 = clock.now();
  ASSERT_TRUE(
      sched->schedule(1, 0, fourFrames(1), t0, t0, AnnounceTiming{5, milliseconds(10)}).isOk());
  ASSERT_TRUE(sched->schedule(2, 0, fourFrames(2), t0, t0).isOk());
  runUntilIdle();
  EXPECT_EQ(countFor(1, 0), 20u);  // 5 bursts of 4
  EXPECT_EQ(countFor(2, 0), 12u);  // the default 3 bursts
  TimePoint last1 = t0;
  for (const Sent& s : sent)
    if (s.port == 1) last1 = std::max(last1, s.at);
  EXPECT_EQ(last1 - t0, milliseconds(40));  // 4 gaps of 10 ms
  EXPECT_EQ(
      sched->schedule(3, 0, fourFrames(3), t0, t0, AnnounceTiming{0, milliseconds(10)}).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(sched->pendingCount(), 0u);
}

TEST_F(AnnounceSchedulerTest, SetConfigAppliesToNewSchedulesAndRefusesBadValues) {
  AnnounceConfig c;
  c.announce_count = 1;
  ASSERT_TRUE(sched->setConfig(c).isOk());
  ASSERT_TRUE(sched->schedule(1, 0, fourFrames(1), clock.now(), clock.now()).isOk());
  runUntilIdle();
  EXPECT_EQ(countFor(1, 0), 4u);
  AnnounceConfig bad;
  bad.announce_interval = Duration(0);
  EXPECT_EQ(sched->setConfig(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(sched->config().announce_count, 1u);
}

}  // namespace
}  // namespace vfo::lag
