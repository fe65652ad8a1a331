// balance-vm: rendezvous homes, pins, failback delay, and the minimal
// movement property over random member up/down sequences.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "vfo/base/log.h"
#include "vfo/lag/lag_group.h"

namespace vfo::lag {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class BalanceVmTest : public ::testing::Test {
 protected:
  BalanceVmTest() { setLogLevel(LogLevel::kWarn); }
  ~BalanceVmTest() override { setLogLevel(LogLevel::kInfo); }

  LagConfig config(int members, std::optional<Duration> failback) {
    LagConfig c;
    c.mode = LagMode::kBalanceVm;
    for (int i = 0; i < members; ++i) c.members.push_back({"pf" + std::to_string(i), 0, false});
    c.vm_failback_delay = failback;
    return c;
  }

  std::unique_ptr<LagGroup> make(const LagConfig& c, std::vector<DecisionEvent>* sink) {
    auto g = LagGroup::create(c, clock_, [sink](const DecisionEvent& e) { sink->push_back(e); });
    EXPECT_TRUE(g.isOk()) << g.status().toString();
    return std::move(*g);
  }

  void advance(LagGroup& g, Duration d) {
    const TimePoint end = clock_.now() + d;
    while (g.nextDeadline() <= end) {
      clock_.set(g.nextDeadline());
      g.onTick(clock_.now());
    }
    clock_.set(end);
    g.onTick(end);
  }

  // Placement a group with no history would choose for the given live
  // members: the reference for history independence.
  std::vector<MemberId> freshPlacement(const LagConfig& c, const std::vector<bool>& live,
                                       const std::vector<std::optional<MemberId>>& pins,
                                       int ports) {
    std::vector<DecisionEvent> ignored;
    auto g = make(c, &ignored);
    for (MemberId m = 0; m < live.size(); ++m)
      if (live[m]) {
        EXPECT_TRUE(g->onCarrier(m, true, clock_.now()).isOk());
      }
    std::vector<MemberId> out;
    for (int p = 0; p < ports; ++p) {
      auto idx = g->addPort("vm" + std::to_string(p) + "/net0", pins[p]);
      EXPECT_TRUE(idx.isOk());
      out.push_back(g->portMember(*idx));
    }
    return out;
  }

  FakeClock clock_;
};

TEST_F(BalanceVmTest, PortsSpreadOverMembersByRendezvous) {
  std::vector<DecisionEvent> ev;
  auto g = make(config(2, seconds(1)), &ev);
  ASSERT_TRUE(g->onCarrier(0, true, clock_.now()).isOk());
  ASSERT_TRUE(g->onCarrier(1, true, clock_.now()).isOk());
  int on[2] = {0, 0};
  for (int p = 0; p < 1000; ++p) {
    auto idx = g->addPort("vm" + std::to_string(p) + "/net0");
    ASSERT_TRUE(idx.isOk());
    ++on[g->portMember(*idx)];
  }
  // HRW with a good mix: a fair coin per port. 1000 ports: 500 +- 5 sigma (79).
  EXPECT_GT(on[0], 420);
  EXPECT_GT(on[1], 420);
  EXPECT_EQ(ev.back().reason, DecisionReason::kPortAdded);
}

TEST_F(BalanceVmTest, OnlyTheFailedMembersPortsMoveAndReturnAfterDelay) {
  std::vector<DecisionEvent> ev;
  auto g = make(config(3, seconds(2)), &ev);
  for (MemberId m = 0; m < 3; ++m) ASSERT_TRUE(g->onCarrier(m, true, clock_.now()).isOk());
  for (int p = 0; p < 300; ++p) ASSERT_TRUE(g->addPort("vm" + std::to_string(p)).isOk());
  std::vector<MemberId> before;
  for (PortIndex p = 0; p < 300; ++p) before.push_back(g->portMember(p));
  ev.clear();

  const TimePoint down = clock_.now();
  ASSERT_TRUE(g->onCarrier(1, false, down).isOk());
  std::set<PortIndex> moved;
  for (const auto& e : ev) {
    EXPECT_EQ(e.from, 1u);
    EXPECT_NE(e.to, 1u);
    EXPECT_EQ(e.reason, DecisionReason::kMemberDown);
    EXPECT_EQ(e.cause_seen_at, down);
    moved.insert(e.port);
  }
  for (PortIndex p = 0; p < 300; ++p) EXPECT_EQ(moved.count(p), before[p] == 1 ? 1u : 0u);
  ev.clear();

  advance(*g, seconds(1));
  const TimePoint up = clock_.now();
  ASSERT_TRUE(g->onCarrier(1, true, up).isOk());
  EXPECT_TRUE(ev.empty()) << "ports wait for the failback delay";
  EXPECT_EQ(g->nextDeadline(), up + seconds(2));
  LagSnapshot snap = g->snapshot();
  EXPECT_TRUE(snap.members[1].failback_pending);
  EXPECT_EQ(snap.members[1].failback_remaining, seconds(2));
  EXPECT_NE(snap.toText().find("failback: ports move back in 2 s"), std::string::npos);
  advance(*g, seconds(2) - Duration(1));
  EXPECT_TRUE(ev.empty());
  advance(*g, Duration(1));
  ASSERT_EQ(ev.size(), moved.size());
  for (const auto& e : ev) {
    EXPECT_EQ(e.to, 1u);
    EXPECT_EQ(e.reason, DecisionReason::kMemberUp);
    EXPECT_EQ(e.cause_seen_at, up);
    EXPECT_EQ(e.decided_at, up + seconds(2));
    EXPECT_EQ(moved.count(e.port), 1u);
  }
  for (PortIndex p = 0; p < 300; ++p) EXPECT_EQ(g->portMember(p), before[p]);
}

TEST_F(BalanceVmTest, StayNeverMovesBack) {
  std::vector<DecisionEvent> ev;
  auto g = make(config(2, std::nullopt), &ev);
  ASSERT_TRUE(g->onCarrier(0, true, clock_.now()).isOk());
  ASSERT_TRUE(g->onCarrier(1, true, clock_.now()).isOk());
  for (int p = 0; p < 50; ++p) ASSERT_TRUE(g->addPort("vm" + std::to_string(p)).isOk());
  ASSERT_TRUE(g->onCarrier(0, false, clock_.now()).isOk());
  ASSERT_TRUE(g->onCarrier(0, true, clock_.now()).isOk());
  ev.clear();
  advance(*g, seconds(3600));
  EXPECT_TRUE(ev.empty());
  for (PortIndex p = 0; p < 50; ++p) EXPECT_EQ(g->portMember(p), 1u);
  // The home still shows where the port would go.
  LagSnapshot s = g->snapshot();
  bool some_home_pf0 = false;
  for (const auto& p : s.ports) some_home_pf0 |= p.home == 0;
  EXPECT_TRUE(some_home_pf0);
  EXPECT_NE(s.toText().find("failback delay: stay"), std::string::npos);
}

TEST_F(BalanceVmTest, PinsFallBackAndReturn) {
  std::vector<DecisionEvent> ev;
  auto g = make(config(2, milliseconds(500)), &ev);
  ASSERT_TRUE(g->onCarrier(0, true, clock_.now()).isOk());
  ASSERT_TRUE(g->onCarrier(1, true, clock_.now()).isOk());
  auto p = g->addPort("vm1/net0", MemberId{1});
  ASSERT_TRUE(p.isOk());
  EXPECT_EQ(g->portMember(*p), 1u);
  ASSERT_TRUE(g->onCarrier(1, false, clock_.now()).isOk());
  EXPECT_EQ(g->portMember(*p), 0u);
  ASSERT_TRUE(g->onCarrier(1, true, clock_.now()).isOk());
  EXPECT_EQ(g->portMember(*p), 0u);
  advance(*g, milliseconds(500));
  EXPECT_EQ(g->portMember(*p), 1u);
  ev.clear();
  // Re-pin: immediate move.
  ASSERT_TRUE(g->setPin(*p, MemberId{0}).isOk());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kPinChanged);
  EXPECT_EQ(ev[0].from, 1u);
  EXPECT_EQ(ev[0].to, 0u);
  EXPECT_EQ(g->snapshot().ports[0].pin, std::optional<MemberId>(0));
  EXPECT_NE(g->snapshot().toText().find("vm1/net0: member pf0 (home pf0, pin pf0)"),
            std::string::npos);
  EXPECT_EQ(g->setPin(*p, MemberId{5}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(g->setPin(99, std::nullopt).code(), StatusCode::kNotFound);
}

TEST_F(BalanceVmTest, AllDownDegradesAndFirstBackTakesAll) {
  std::vector<DecisionEvent> ev;
  auto g = make(config(2, seconds(1)), &ev);
  ASSERT_TRUE(g->onCarrier(0, true, clock_.now()).isOk());
  ASSERT_TRUE(g->onCarrier(1, true, clock_.now()).isOk());
  for (int p = 0; p < 20; ++p) ASSERT_TRUE(g->addPort("vm" + std::to_string(p)).isOk());
  ASSERT_TRUE(g->onCarrier(0, false, clock_.now()).isOk());
  ev.clear();
  ASSERT_TRUE(g->onCarrier(1, false, clock_.now()).isOk());
  ASSERT_EQ(ev.size(), 20u);
  for (const auto& e : ev) {
    EXPECT_EQ(e.reason, DecisionReason::kAllMembersDown);
    EXPECT_EQ(e.to, kNoMember);
  }
  for (const auto& p : g->snapshot().ports) EXPECT_TRUE(p.degraded);
  ev.clear();
  ASSERT_TRUE(g->onCarrier(0, true, clock_.now()).isOk());
  ASSERT_EQ(ev.size(), 20u);
  for (const auto& e : ev) {
    EXPECT_EQ(e.reason, DecisionReason::kDegradedRecovery);
    EXPECT_EQ(e.to, 0u);
  }
}

// Property: over random member up/down sequences (seeded), with and without
// a failback delay,
//  (1) a member-down decision moves only ports that were on that member;
//  (2) every failback moves a port onto the returning member, which is its
//      rendezvous home among the live members at that moment;
//  (3) nothing else moves (degraded recovery only from "no member");
//  (4) once failbacks are due, placement equals a fresh group's placement
//      for the same live members (no history dependence).
TEST_F(BalanceVmTest, PropertyMinimalMovementOverRandomSequences) {
  constexpr int kPorts = 200;
  constexpr int kMembers = 4;
  std::map<DecisionReason, int> seen_reasons;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    const bool with_delay = seed % 3 != 0;
    const bool stay = seed % 3 == 0 && seed % 2 == 0;
    std::optional<Duration> delay =
        with_delay ? std::optional<Duration>(milliseconds(300))
                   : (stay ? std::nullopt : std::optional<Duration>(Duration::zero()));
    LagConfig c = config(kMembers, delay);
    std::vector<DecisionEvent> ev;
    auto g = make(c, &ev);
    std::vector<bool> live(kMembers, false);
    std::vector<std::optional<MemberId>> pins(kPorts);
    for (int p = 0; p < kPorts; ++p)
      if (rng() % 10 == 0) pins[p] = MemberId(rng() % kMembers);
    for (MemberId m = 0; m < kMembers; ++m) {
      ASSERT_TRUE(g->onCarrier(m, true, clock_.now()).isOk());
      live[m] = true;
    }
    for (int p = 0; p < kPorts; ++p)
      ASSERT_TRUE(g->addPort("vm" + std::to_string(p) + "/net0", pins[p]).isOk());
    std::vector<MemberId> where(kPorts);
    for (int p = 0; p < kPorts; ++p) where[p] = g->portMember(p);
    ev.clear();

    for (int step = 0; step < 150; ++step) {
      const MemberId m = rng() % kMembers;
      const bool up = !live[m];
      ASSERT_TRUE(g->onCarrier(m, up, clock_.now()).isOk());
      live[m] = up;
      // Random time passes: some failbacks become due, some not.
      const Duration dt = milliseconds(rng() % 600);
      const TimePoint end = clock_.now() + dt;
      for (;;) {
        for (const DecisionEvent& e : ev) {
          ASSERT_EQ(e.from, where[e.port]) << "seed " << seed << " step " << step;
          ++seen_reasons[e.reason];
          switch (e.reason) {
            case DecisionReason::kMemberDown:
            case DecisionReason::kAllMembersDown:
              ASSERT_FALSE(up) << "seed " << seed;
              ASSERT_EQ(e.from, m) << "only the failed member's ports move";
              break;
            case DecisionReason::kMemberUp: {
              ASSERT_NE(e.to, kNoMember);
              ASSERT_TRUE(live[e.to]);
              // The port's fresh placement for the current live set is e.to.
              std::vector<DecisionEvent> scratch;
              LagConfig fc = c;
              auto fresh = make(fc, &scratch);
              for (MemberId x = 0; x < kMembers; ++x)
                if (live[x]) {
                  ASSERT_TRUE(fresh->onCarrier(x, true, clock_.now()).isOk());
                }
              auto idx = fresh->addPort(e.port_name, pins[e.port]);
              ASSERT_TRUE(idx.isOk());
              ASSERT_EQ(fresh->portMember(*idx), e.to) << "failback target must be the HRW home";
              break;
            }
            case DecisionReason::kDegradedRecovery:
              ASSERT_EQ(e.from, kNoMember);
              break;
            default:
              FAIL() << "unexpected reason " << decisionReasonName(e.reason);
          }
          where[e.port] = e.to;
        }
        ev.clear();
        if (g->nextDeadline() > end) break;
        clock_.set(g->nextDeadline());
        g->onTick(clock_.now());
      }
      clock_.set(end);
    }
    // Let every failback become due, then compare with a fresh group.
    advance(*g, seconds(1));
    for (const DecisionEvent& e : ev) where[e.port] = e.to;
    ev.clear();
    if (stay) continue;  // with "stay" placement keeps its history by design
    const std::vector<MemberId> ref = freshPlacement(c, live, pins, kPorts);
    for (int p = 0; p < kPorts; ++p) {
      ASSERT_EQ(g->portMember(p), ref[p]) << "seed " << seed << " port " << p;
      ASSERT_EQ(where[p], ref[p]);
    }
  }
  // The sequences exercised every kind of move.
  EXPECT_GT(seen_reasons[DecisionReason::kMemberDown], 100);
  EXPECT_GT(seen_reasons[DecisionReason::kMemberUp], 100);
  EXPECT_GT(seen_reasons[DecisionReason::kAllMembersDown], 0);
  EXPECT_GT(seen_reasons[DecisionReason::kDegradedRecovery], 0);
  for (const auto& [r, n] : seen_reasons) std::printf("%s: %d\n", decisionReasonName(r).data(), n);
}

}  // namespace
}  // namespace vfo::lag
