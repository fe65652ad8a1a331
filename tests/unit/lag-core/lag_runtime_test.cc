// LagRuntime: lag-core assembled, driven in virtual time with the kernel
// played through FakeNetlinkSocket. A carrier loss on pf0 must switch the
// port's datapath to pf1 and then announce the port's MAC and learned
// addresses on pf1, and the failover record must carry the times and the
// frame count.
#include "vfo/lag/lag_runtime.h"

#include <gtest/gtest.h>

#include "link_samples.h"
#include "vfo/base/ip_address.h"
#include "vfo/lag/frames.h"
#include "vfo/netlink/fake_netlink_socket.h"

namespace vfo::lag {
namespace {

using namespace std::chrono_literals;

MacAddress mac(const char* s) {
  return *MacAddress::parse(s);
}

struct Sent {
  MemberId member;
  PortIndex port;
  FrameKind kind;
};

class LagRuntimeTest : public ::testing::Test {
 protected:
  void make(LagMode mode, Duration downdelay = 0ms) {
    LagRuntimeConfig c;
    c.lag.name = "g0";
    c.lag.mode = mode;
    c.lag.members = {MemberConfig{"pf0"}, MemberConfig{"pf1"}};
    c.lag.downdelay = downdelay;
    c.member_netdevs = {"lab-pf0", "lab-pf1"};
    sock.setDumpReply(RTM_GETLINK, {msg(up(10, "lab-pf0")), msg(up(11, "lab-pf1"))});
    LagRuntime::Callbacks cb;
    cb.switch_port = [this](PortIndex p, MemberId to) {
      switches.push_back({p, to});
      clock.advance(3us);  // the datapath swap takes time; switched_at must show it
    };
    cb.send_frame = [this](MemberId m, PortIndex p, FrameKind k, std::span<const uint8_t>) {
      sent.push_back({m, p, k});
      return true;
    };
    cb.on_failover = [this](const FailoverRecord& r) { failovers.push_back(r); };
    auto r = LagRuntime::create(c, clock, &sock, nullptr, cb);
    ASSERT_TRUE(r.isOk()) << r.status().toString();
    rt = std::move(*r);
    ASSERT_TRUE(rt->start().isOk());
    ASSERT_TRUE(rt->onReadable(clock.now()).isOk());  // the initial dump
  }
  PortIndex addPort(const char* name, const char* m, VlanId vlan = 0) {
    auto p = rt->addPort({name, {mac(m)}, vlan, std::nullopt, std::nullopt});
    EXPECT_TRUE(p.isOk()) << p.status().toString();
    return *p;
  }
  void guestSends(PortIndex p, std::vector<uint8_t> frame) {
    auto o = rt->observe(p, FrameDirection::kFromGuest, frame);
    (void)o;
  }
  void kernelSays(const Link& l) {
    sock.pushMessages({msg(l)});
    ASSERT_TRUE(rt->onReadable(clock.now()).isOk());
  }
  // Runs every timer due up to `until`, in order.
  void runUntil(TimePoint until) {
    for (TimePoint d = rt->nextDeadline(); d <= until; d = rt->nextDeadline()) {
      clock.set(std::max(clock.now(), d));
      ASSERT_TRUE(rt->onTick(clock.now()).isOk());
    }
    clock.set(until);
  }
  size_t countKind(FrameKind k, MemberId m) const {
    size_t n = 0;
    for (auto& s : sent) n += s.kind == k && s.member == m;
    return n;
  }

  FakeClock clock{TimePoint{1000s}};
  netlink::FakeNetlinkSocket sock{clock};
  std::unique_ptr<LagRuntime> rt;
  std::vector<std::pair<PortIndex, MemberId>> switches;
  std::vector<Sent> sent;
  std::vector<FailoverRecord> failovers;
};

TEST_F(LagRuntimeTest, CarrierLossSwitchesThenAnnouncesLearnedAddresses) {
  make(LagMode::kActiveBackup);
  PortIndex p = addPort("vm1/net0", "52:54:00:00:00:01", 100);
  ASSERT_EQ(rt->group().portMember(p), 0u);
  const MacAddress m = mac("52:54:00:00:00:01");
  guestSends(p,
             *buildGratuitousArp(GarpForm::kRequest, m, *Ipv4Address::parse("198.18.0.10"), 100));
  guestSends(p,
             *buildGratuitousArp(GarpForm::kRequest, m, *Ipv4Address::parse("198.18.0.11"), 100));
  guestSends(p, *buildUnsolicitedNa(m, *Ipv6Address::parse("2001:db8::10"), 100));
  ASSERT_EQ(rt->learner().addresses(p).size(), 3u);
  switches.clear();

  const TimePoint cut = clock.now();
  kernelSays(noCarrier(10, "lab-pf0"));
  ASSERT_EQ(switches.size(), 1u);
  EXPECT_EQ(switches[0], (std::pair<PortIndex, MemberId>{p, 1}));
  // The first burst left at once, on pf1, after the switch.
  EXPECT_EQ(countKind(FrameKind::kRarpAnnounce, 1), 1u);
  EXPECT_EQ(countKind(FrameKind::kGarpRequest, 1), 2u);
  EXPECT_EQ(countKind(FrameKind::kUnsolicitedNa, 1), 1u);
  EXPECT_EQ(countKind(FrameKind::kRarpAnnounce, 0), 0u) << "nothing may go out on the dead member";

  runUntil(clock.now() + 1s);
  EXPECT_EQ(sent.size(), 12u) << "3 bursts of RARP + 2 GARP + 1 NA";
  ASSERT_EQ(failovers.size(), 1u);
  const FailoverRecord& f = failovers[0];
  EXPECT_EQ(f.port_name, "vm1/net0");
  EXPECT_EQ(f.from, 0u);
  EXPECT_EQ(f.to, 1u);
  EXPECT_EQ(f.reason, DecisionReason::kMemberDown);
  EXPECT_EQ(f.cause_seen_at, cut);
  EXPECT_EQ(f.switched_at - f.decided_at, 3us);
  EXPECT_GE(f.first_frame_at, f.switched_at);
  EXPECT_EQ(f.first_burst_at, f.first_frame_at) << "the 4 frames of the first burst at once";
  EXPECT_EQ(f.last_frame_at - f.first_frame_at, 100ms) << "bursts 50 ms apart";
  EXPECT_EQ(f.frames_announced, 12u);
  EXPECT_FALSE(f.superseded);
}

TEST_F(LagRuntimeTest, DowndelayHoldsTheMoveAndABriefFlapMovesNothing) {
  make(LagMode::kActiveBackup, 200ms);
  PortIndex p = addPort("vm1/net0", "52:54:00:00:00:01");
  switches.clear();
  kernelSays(noCarrier(10, "lab-pf0"));
  runUntil(clock.now() + 150ms);
  kernelSays(up(10, "lab-pf0"));
  runUntil(clock.now() + 1s);
  EXPECT_TRUE(switches.empty());
  EXPECT_TRUE(sent.empty());

  const TimePoint cut = clock.now();
  kernelSays(noCarrier(10, "lab-pf0"));
  runUntil(cut + 199ms);
  EXPECT_TRUE(switches.empty());
  runUntil(cut + 201ms);
  ASSERT_EQ(switches.size(), 1u);
  EXPECT_EQ(rt->group().portMember(p), 1u);
  runUntil(clock.now() + 1s);
  ASSERT_EQ(failovers.size(), 1u);
  EXPECT_EQ(failovers[0].cause_seen_at, cut);
  EXPECT_EQ(failovers[0].decided_at - cut, 200ms);
  EXPECT_EQ(failovers[0].frames_announced, 3u) << "RARP only: nothing learned";
}

TEST_F(LagRuntimeTest, FlapDuringAnnounceRestartsOnTheNewMember) {
  make(LagMode::kActiveBackup);
  addPort("vm1/net0", "52:54:00:00:00:01");
  kernelSays(noCarrier(10, "lab-pf0"));  // -> pf1, first burst
  runUntil(clock.now() + 20ms);
  kernelSays(up(10, "lab-pf0"));         // primary-less failback: stays or returns per policy
  kernelSays(noCarrier(11, "lab-pf1"));  // pf1 dies mid-announce -> pf0
  runUntil(clock.now() + 1s);
  ASSERT_GE(failovers.size(), 2u);
  EXPECT_TRUE(failovers.front().superseded);
  EXPECT_EQ(failovers.back().to, 0u);
  EXPECT_FALSE(failovers.back().superseded);
  EXPECT_EQ(failovers.back().frames_announced, 3u);
  EXPECT_EQ(countKind(FrameKind::kRarpAnnounce, 0), 3u) << "a full announce on the final member";
}

TEST_F(LagRuntimeTest, AllMembersDownDegradesAndRecovers) {
  make(LagMode::kActiveBackup);
  PortIndex p = addPort("vm1/net0", "52:54:00:00:00:01");
  kernelSays(noCarrier(10, "lab-pf0"));
  kernelSays(noCarrier(11, "lab-pf1"));
  ASSERT_FALSE(switches.empty());
  EXPECT_EQ(switches.back(), (std::pair<PortIndex, MemberId>{p, kNoMember}));
  runUntil(clock.now() + 1s);
  EXPECT_EQ(failovers.back().to, kNoMember);
  sent.clear();
  kernelSays(up(11, "lab-pf1"));
  EXPECT_EQ(switches.back(), (std::pair<PortIndex, MemberId>{p, 1}));
  runUntil(clock.now() + 1s);
  EXPECT_EQ(failovers.back().reason, DecisionReason::kDegradedRecovery);
  EXPECT_EQ(countKind(FrameKind::kRarpAnnounce, 1), 3u);
}

TEST_F(LagRuntimeTest, BalanceVmMovesOnlyTheDeadMembersPorts) {
  make(LagMode::kBalanceVm);
  std::vector<PortIndex> ports;
  for (int i = 0; i < 20; ++i)
    ports.push_back(addPort(fmt::format("vm{}/net0", i).c_str(),
                            fmt::format("52:54:00:00:01:{:02x}", i).c_str()));
  std::vector<MemberId> before;
  for (auto p : ports) before.push_back(rt->group().portMember(p));
  switches.clear();
  kernelSays(noCarrier(11, "lab-pf1"));
  size_t on_pf1 = std::count(before.begin(), before.end(), 1u);
  ASSERT_GT(on_pf1, 0u);
  ASSERT_LT(on_pf1, ports.size());
  EXPECT_EQ(switches.size(), on_pf1);
  for (auto& [p, to] : switches) {
    EXPECT_EQ(before[p], 1u);
    EXPECT_EQ(to, 0u);
  }
}

TEST_F(LagRuntimeTest, BadConfigAndPortsAreRefused) {
  LagRuntimeConfig c;
  c.lag.members = {MemberConfig{"pf0"}, MemberConfig{"pf1"}};
  c.member_netdevs = {"a"};
  LagRuntime::Callbacks cb;
  cb.switch_port = [](PortIndex, MemberId) {};
  cb.send_frame = [](MemberId, PortIndex, FrameKind, std::span<const uint8_t>) { return true; };
  auto r = LagRuntime::create(c, clock, &sock, nullptr, cb);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("member_netdevs"), std::string::npos);
  c.member_netdevs = {"a", "a"};
  EXPECT_EQ(LagRuntime::create(c, clock, &sock, nullptr, cb).status().code(),
            StatusCode::kInvalidArgument);
  make(LagMode::kActiveBackup);
  EXPECT_EQ(rt->addPort({"vm9", {}, 0, std::nullopt, std::nullopt}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(rt->addPort({"vm9", {mac("52:54:00:00:00:09")}, 4095, std::nullopt, std::nullopt})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(rt->removePort(77).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace vfo::lag

namespace vfo::lag {
namespace {

TEST_F(LagRuntimeTest, UpdatePortChangesWhatTheNextFailoverAnnounces) {
  make(LagMode::kActiveBackup);
  PortIndex p = addPort("vm1/net0", "52:54:00:00:00:01");
  const MacAddress extra = mac("52:54:00:00:00:02");
  RuntimePortSpec next{
      "vm1/net0", {mac("52:54:00:00:00:01"), extra}, 200, std::nullopt, AnnounceTiming{1, 10ms}};
  ASSERT_TRUE(rt->updatePort(p, next).isOk());
  EXPECT_EQ(rt->port(p)->vlan, 200);
  kernelSays(noCarrier(10, "lab-pf0"));
  runUntil(clock.now() + 1s);
  EXPECT_EQ(countKind(FrameKind::kRarpAnnounce, 1), 2u) << "one burst, RARP for both MACs";

  // Bad updates change nothing.
  RuntimePortSpec renamed = next;
  renamed.name = "other";
  EXPECT_EQ(rt->updatePort(p, renamed).code(), StatusCode::kInvalidArgument);
  RuntimePortSpec pinned = next;
  pinned.pin = 0;  // pins are a balance-vm feature
  EXPECT_EQ(rt->updatePort(p, pinned).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(rt->port(p)->allowed_macs.size(), 2u);
  EXPECT_EQ(rt->updatePort(99, next).code(), StatusCode::kNotFound);
}

TEST_F(LagRuntimeTest, UpdateSettingsChangesAnnounceCountAndRefusesModeChange) {
  make(LagMode::kActiveBackup);
  addPort("vm1/net0", "52:54:00:00:00:01");
  LagConfig lag = rt->group().config();
  AnnounceConfig announce = rt->announceConfig();
  announce.announce_count = 2;
  ASSERT_TRUE(rt->updateSettings(lag, announce).isOk());
  kernelSays(noCarrier(10, "lab-pf0"));
  runUntil(clock.now() + 1s);
  EXPECT_EQ(countKind(FrameKind::kRarpAnnounce, 1), 2u);
  LagConfig other = lag;
  other.mode = LagMode::kBalanceVm;
  announce.announce_count = 7;
  EXPECT_EQ(rt->updateSettings(other, announce).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(rt->announceConfig().announce_count, 2u) << "nothing changed";
}

}  // namespace
}  // namespace vfo::lag
