// LagGroup in virtual time: active-backup, follow-kernel-bond, balance-flow,
// events, degraded state, introspection.
#include "vfo/lag/lag_group.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vfo/base/log.h"
#include "vfo/testing/log_capture.h"

namespace vfo::lag {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using vfo::testing::LogCapture;

class LagGroupTest : public ::testing::Test {
 protected:
  static constexpr MemberId kPf0 = 0;
  static constexpr MemberId kPf1 = 1;

  LagConfig baseConfig(LagMode mode) {
    LagConfig c;
    c.mode = mode;
    c.members = {{"pf0", 25000, false}, {"pf1", 25000, false}};
    c.updelay = milliseconds(100);
    c.downdelay = milliseconds(200);
    return c;
  }

  void make(const LagConfig& c) {
    auto g = LagGroup::create(c, clock_, [this](const DecisionEvent& e) { events_.push_back(e); });
    ASSERT_TRUE(g.isOk()) << g.status().toString();
    group_ = std::move(*g);
  }

  // Both members up (the first skips updelay, the second waits it out).
  void bothUp() {
    ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
    ASSERT_TRUE(group_->onCarrier(kPf1, true, clock_.now()).isOk());
    advance(milliseconds(100));
  }

  // Moves virtual time, firing every deadline on the way like an event loop.
  void advance(Duration d) {
    const TimePoint end = clock_.now() + d;
    while (group_->nextDeadline() <= end) {
      clock_.set(group_->nextDeadline());
      group_->onTick(clock_.now());
    }
    clock_.set(end);
    group_->onTick(end);
  }

  void addPorts(int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(group_->addPort("vm" + std::to_string(i) + "/net0").isOk());
  }

  std::vector<DecisionEvent> take() {
    auto e = std::move(events_);
    events_.clear();
    return e;
  }

  FakeClock clock_;
  LogCapture log_;
  std::vector<DecisionEvent> events_;
  std::unique_ptr<LagGroup> group_;
};

// ---- active-backup ---------------------------------------------------------

TEST_F(LagGroupTest, ActiveBackupFirstMemberUpTakesOverDegradedPorts) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(3);
  auto added = take();
  ASSERT_EQ(added.size(), 3u);
  EXPECT_EQ(added[0].reason, DecisionReason::kPortAdded);
  EXPECT_EQ(added[0].to, kNoMember);
  EXPECT_TRUE(group_->snapshot().ports[0].degraded);
  // No member enabled: updelay is skipped, pf1 takes over at once.
  const TimePoint seen = clock_.now() - milliseconds(3);
  ASSERT_TRUE(group_->onCarrier(kPf1, true, seen).isOk());
  auto ev = take();
  ASSERT_EQ(ev.size(), 3u);
  for (const auto& e : ev) {
    EXPECT_EQ(e.from, kNoMember);
    EXPECT_EQ(e.to, kPf1);
    EXPECT_EQ(e.reason, DecisionReason::kDegradedRecovery);
    EXPECT_EQ(e.cause_seen_at, seen);
    EXPECT_EQ(e.decided_at, clock_.now());
  }
  EXPECT_EQ(ev[1].port_name, "vm1/net0");
  EXPECT_EQ(group_->activeMember(), kPf1);
  EXPECT_EQ(group_->liveSet().current()->active, kPf1);
}

TEST_F(LagGroupTest, ActiveBackupFailoverAfterDowndelayCarriesCauseTime) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(2);
  bothUp();
  ASSERT_EQ(group_->activeMember(), kPf0);
  take();
  const TimePoint seen = clock_.now();
  clock_.advance(milliseconds(1));
  ASSERT_TRUE(group_->onCarrier(kPf0, false, seen).isOk());
  EXPECT_TRUE(log_.contains("[member pf0] pf0 will be disabled if it stays down for 200 ms"));
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(group_->nextDeadline(), seen + milliseconds(200));
  advance(milliseconds(300));
  auto ev = take();
  ASSERT_EQ(ev.size(), 2u);
  for (const auto& e : ev) {
    EXPECT_EQ(e.from, kPf0);
    EXPECT_EQ(e.to, kPf1);
    EXPECT_EQ(e.reason, DecisionReason::kMemberDown);
    EXPECT_EQ(e.cause_seen_at, seen);
    EXPECT_EQ(e.decided_at, seen + milliseconds(200));
  }
  EXPECT_EQ(group_->stats().failovers.load(), 1u);
  EXPECT_EQ(group_->portMember(0), kPf1);
}

TEST_F(LagGroupTest, ActiveBackupFlapsShorterThanDowndelayNeverFailOver) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(1);
  bothUp();
  take();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
    advance(milliseconds(150));
    ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
    advance(milliseconds(1));
  }
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(group_->activeMember(), kPf0);
  EXPECT_EQ(group_->snapshot().members[kPf0].member.stats.delays_cancelled, 1000u);
}

TEST_F(LagGroupTest, ActiveBackupBackupFlappingWithinUpdelayNeverEnables) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(1);
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  take();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(group_->onCarrier(kPf1, true, clock_.now()).isOk());
    advance(milliseconds(99));
    ASSERT_TRUE(group_->onCarrier(kPf1, false, clock_.now()).isOk());
    advance(milliseconds(1));
  }
  EXPECT_FALSE(group_->snapshot().members[kPf1].member.enabled);
  EXPECT_EQ(group_->snapshot().members[kPf1].member.stats.enable_transitions, 0u);
  EXPECT_TRUE(take().empty());
}

TEST_F(LagGroupTest, ActiveBackupPrimaryReselectAlways) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  make(c);
  addPorts(2);
  bothUp();
  ASSERT_EQ(group_->activeMember(), kPf0);
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  ASSERT_EQ(group_->activeMember(), kPf1);
  take();
  const TimePoint back = clock_.now();
  ASSERT_TRUE(group_->onCarrier(kPf0, true, back).isOk());
  EXPECT_TRUE(log_.contains("[member pf0] pf0 will be enabled if it stays up for 100 ms"));
  advance(milliseconds(100));
  auto ev = take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kPrimaryReselect);
  EXPECT_EQ(ev[0].from, kPf1);
  EXPECT_EQ(ev[0].to, kPf0);
  EXPECT_EQ(ev[0].cause_seen_at, back);
  EXPECT_EQ(ev[0].decided_at, back + milliseconds(100));
  EXPECT_EQ(group_->stats().failbacks.load(), 1u);
}

TEST_F(LagGroupTest, ActiveBackupPrimaryReselectBetterComparesSpeed) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  c.primary_reselect = PrimaryReselect::kBetter;
  c.members[0].speed_mbps = 10000;  // primary slower than pf1
  make(c);
  addPorts(1);
  bothUp();
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  ASSERT_EQ(group_->activeMember(), kPf1);
  take();
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  advance(seconds(1));
  EXPECT_TRUE(take().empty()) << "a slower primary must not take over";
  EXPECT_EQ(group_->activeMember(), kPf1);
  // Equal speed is not better either.
  ASSERT_TRUE(group_->setMemberSpeed(kPf0, 25000).isOk());
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(seconds(1));
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  advance(seconds(1));
  EXPECT_EQ(group_->activeMember(), kPf1);
  // A faster primary takes over when it comes back.
  ASSERT_TRUE(group_->setMemberSpeed(kPf0, 100000).isOk());
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(seconds(1));
  take();
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  advance(seconds(1));
  auto ev = take();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kPrimaryReselect);
  EXPECT_EQ(group_->activeMember(), kPf0);
  EXPECT_EQ(group_->setMemberSpeed(kPf0, 0).code(), StatusCode::kInvalidArgument);
}

TEST_F(LagGroupTest, ActiveBackupPrimaryReselectFailureWaitsForActiveToFail) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  c.primary_reselect = PrimaryReselect::kFailure;
  make(c);
  addPorts(1);
  bothUp();
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  advance(seconds(1));
  EXPECT_EQ(group_->activeMember(), kPf1);
  take();
  // When pf1 fails, the primary is preferred.
  ASSERT_TRUE(group_->onCarrier(kPf1, false, clock_.now()).isOk());
  advance(milliseconds(200));
  auto ev = take();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kMemberDown);
  EXPECT_EQ(ev[0].to, kPf0);
}

TEST_F(LagGroupTest, ActiveBackupFailbackOffKeepsCurrentMember) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  c.failback = false;
  make(c);
  addPorts(1);
  bothUp();
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  take();
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  advance(seconds(5));
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(group_->activeMember(), kPf1);
}

TEST_F(LagGroupTest, ActiveBackupOperatorSetActive) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(2);
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  take();
  // pf1 has no carrier: refused with the reason.
  Status s = group_->setActiveMember(kPf1);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "set-active-member: member pf1 is not enabled (admin up, carrier down)");
  EXPECT_EQ(group_->setActiveMember(9).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(group_->onCarrier(kPf1, true, clock_.now()).isOk());
  advance(milliseconds(100));
  ASSERT_TRUE(group_->setActiveMember(kPf1).isOk());
  auto ev = take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kOperatorSetActive);
  EXPECT_EQ(ev[0].from, kPf0);
  EXPECT_EQ(ev[0].to, kPf1);
  EXPECT_EQ(group_->activeMember(), kPf1);
  EXPECT_EQ(group_->liveSet().current()->active, kPf1);
  EXPECT_TRUE(group_->setActiveMember(kPf1).isOk());  // no-op
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(group_->stats().operator_set_active.load(), 1u);
}

TEST_F(LagGroupTest, AllMembersDownDegradesThenFirstBackTakesOver) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(2);
  bothUp();
  take();
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  ASSERT_TRUE(group_->onCarrier(kPf1, false, clock_.now()).isOk());
  advance(milliseconds(200));
  auto ev = take();
  // Both deadlines fall in one tick: every port goes straight to none.
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kAllMembersDown);
  EXPECT_EQ(ev[0].to, kNoMember);
  LagSnapshot snap = group_->snapshot();
  EXPECT_TRUE(snap.ports[0].degraded);
  EXPECT_TRUE(snap.ports[1].degraded);
  EXPECT_EQ(snap.stats.degraded_events, 1u);
  EXPECT_EQ(group_->liveSet().current()->count, 0u);
  EXPECT_TRUE(log_.contains("no live member: 2 ports degraded"));
  EXPECT_NE(snap.toText().find("vm0/net0: degraded (no live member)"), std::string::npos);
  // New ports while degraded are degraded too; nothing crashes.
  ASSERT_TRUE(group_->addPort("late/net0").isOk());
  take();
  // First member back takes over at once (no updelay without an active member).
  ASSERT_TRUE(group_->onCarrier(kPf1, true, clock_.now()).isOk());
  ev = take();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kDegradedRecovery);
  EXPECT_EQ(ev[0].to, kPf1);
  EXPECT_FALSE(group_->snapshot().ports[2].degraded);
}

TEST_F(LagGroupTest, ProbeFailureFailsOverWithCarrierUp) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.members[0].probing = true;
  c.downdelay = Duration::zero();
  make(c);
  addPorts(1);
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  ASSERT_EQ(group_->activeMember(), kNoMember) << "probing member needs a probe verdict";
  ASSERT_TRUE(group_->onProbeVerdict(kPf0, true, clock_.now()).isOk());
  ASSERT_EQ(group_->activeMember(), kPf0);
  ASSERT_TRUE(group_->onCarrier(kPf1, true, clock_.now()).isOk());
  advance(milliseconds(100));
  take();
  ASSERT_TRUE(group_->onProbeVerdict(kPf0, false, clock_.now()).isOk());
  auto ev = take();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kMemberDown);
  EXPECT_EQ(ev[0].to, kPf1);
}

TEST_F(LagGroupTest, AdminDownFailsOverAtOnce) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(1);
  bothUp();
  take();
  ASSERT_TRUE(group_->setAdmin(kPf0, false).isOk());
  auto ev = take();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].to, kPf1);
  EXPECT_EQ(group_->setAdmin(5, false).code(), StatusCode::kInvalidArgument);
}

TEST_F(LagGroupTest, FailoverOf1000PortsLogsASummaryAndRateLimitsPortLines) {
  make(baseConfig(LagMode::kActiveBackup));
  addPorts(1000);
  bothUp();
  take();
  log_.lines.clear();
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  EXPECT_EQ(take().size(), 1000u);
  EXPECT_TRUE(log_.contains("[lag lag0] active member pf0 -> pf1 (member-down), 1000 ports"));
  size_t port_lines = 0;
  for (const auto& l : log_.lines) port_lines += l.find("[port ") != std::string::npos;
  EXPECT_GT(port_lines, 0u);
  EXPECT_LE(port_lines, 50u) << "per-port lines must be rate-limited (burst 50)";
}

// ---- follow-kernel-bond -------------------------------------------------------

TEST_F(LagGroupTest, FollowKernelBondMirrorsTheBond) {
  make(baseConfig(LagMode::kFollowKernelBond));
  addPorts(2);
  bothUp();
  EXPECT_EQ(group_->activeMember(), kNoMember) << "no own policy in follow mode";
  take();
  const TimePoint seen = clock_.now() - milliseconds(2);
  ASSERT_TRUE(group_->onBondActiveMember(kPf1, seen).isOk());
  auto ev = take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kBondFollow);
  EXPECT_EQ(ev[0].to, kPf1);
  EXPECT_EQ(ev[0].cause_seen_at, seen);
  // Our own carrier view does not override the kernel's choice.
  ASSERT_TRUE(group_->onCarrier(kPf1, false, clock_.now()).isOk());
  advance(seconds(1));
  EXPECT_TRUE(take().empty());
  ASSERT_TRUE(group_->onBondActiveMember(kNoMember, clock_.now()).isOk());
  ev = take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kAllMembersDown);
  EXPECT_TRUE(group_->snapshot().ports[0].degraded);
  EXPECT_EQ(group_->setActiveMember(kPf0).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(group_->onBondActiveMember(7, clock_.now()).code(), StatusCode::kInvalidArgument);
}

TEST_F(LagGroupTest, BondFollowRejectedInOtherModes) {
  make(baseConfig(LagMode::kActiveBackup));
  const Status s = group_->onBondActiveMember(kPf0, clock_.now());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "bond active member: only valid in mode follow-kernel-bond, lag0 is in mode "
            "active-backup");
}

// ---- balance-flow ----------------------------------------------------------------

TEST_F(LagGroupTest, BalanceFlowPublishesLiveSetAndGroupEvents) {
  LagConfig c = baseConfig(LagMode::kBalanceFlow);
  c.hash_policy = HashPolicy::kLayer34;
  make(c);
  addPorts(2);
  take();
  bothUp();
  const LiveSet* s = group_->liveSet().current();
  ASSERT_EQ(s->count, 2u);
  EXPECT_EQ(s->members[0], kPf0);
  EXPECT_EQ(s->members[1], kPf1);
  EXPECT_EQ(s->policy, HashPolicy::kLayer34);
  auto ev = take();
  // pf0 joined (ports recover from degraded), pf1 joined.
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kLiveSetChanged);
  EXPECT_EQ(ev[0].port, kNoPort);
  EXPECT_EQ(ev[0].to, kPf0);
  EXPECT_EQ(ev[1].reason, DecisionReason::kDegradedRecovery);
  EXPECT_EQ(ev[3].to, kPf1);
  // pf0 leaves: frames now all select pf1.
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  ev = take();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].from, kPf0);
  EXPECT_EQ(ev[0].to, kNoMember);
  const uint8_t frame[64] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
  EXPECT_EQ(group_->liveSet().current()->selectFlow(frame, sizeof frame), kPf1);
  ASSERT_TRUE(group_->onCarrier(kPf1, false, clock_.now()).isOk());
  advance(milliseconds(200));
  ev = take();
  ASSERT_EQ(ev.size(), 3u);  // live-set change + 2 ports degraded
  EXPECT_EQ(ev[1].reason, DecisionReason::kAllMembersDown);
  EXPECT_EQ(group_->liveSet().current()->selectFlow(frame, sizeof frame), kNoMember);
  EXPECT_TRUE(group_->snapshot().ports[1].degraded);
  EXPECT_EQ(group_->portMember(0), kNoMember);
}

// ---- ports & introspection -----------------------------------------------------

TEST_F(LagGroupTest, PortErrors) {
  make(baseConfig(LagMode::kActiveBackup));
  ASSERT_TRUE(group_->addPort("vm1/net0").isOk());
  auto dup = group_->addPort("vm1/net0");
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message(), "port name: 'vm1/net0' already exists in lag0");
  EXPECT_EQ(group_->addPort("").status().message(), "port name: is empty");
  EXPECT_EQ(group_->addPort("vm2", kPf0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(group_->setPin(0, kPf0).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(group_->removePort(42).code(), StatusCode::kNotFound);
  auto idx = group_->findPort("vm1/net0");
  ASSERT_TRUE(idx.isOk());
  ASSERT_TRUE(group_->removePort(*idx).isOk());
  EXPECT_EQ(group_->findPort("vm1/net0").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(group_->portCount(), 0u);
  // The freed index is reused.
  auto again = group_->addPort("vm3/net0");
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, *idx);
  EXPECT_EQ(group_->memberByName("pf1").value(), kPf1);
  EXPECT_EQ(group_->memberByName("eth9").status().message(),
            "member: 'eth9' is not a member of lag0");
}

TEST_F(LagGroupTest, CreateRejectsInvalidConfig) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf9";
  auto g = LagGroup::create(c, clock_, nullptr);
  ASSERT_FALSE(g.isOk());
  EXPECT_EQ(g.status().message(), "primary: 'pf9' is not one of the members");
}

TEST_F(LagGroupTest, SnapshotShowsPendingDelaysAndCounters) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  make(c);
  addPorts(1);
  bothUp();
  ASSERT_TRUE(group_->onCarrier(kPf1, false, clock_.now()).isOk());
  clock_.advance(milliseconds(50));
  LagSnapshot s = group_->snapshot();
  EXPECT_EQ(s.mode, LagMode::kActiveBackup);
  EXPECT_EQ(s.active, kPf0);
  EXPECT_TRUE(s.members[kPf0].active);
  EXPECT_EQ(s.members[kPf1].member.pending, PendingAction::kDisable);
  EXPECT_EQ(s.members[kPf1].pending_remaining, milliseconds(150));
  EXPECT_EQ(s.members[kPf0].ports, 1u);
  EXPECT_EQ(s.ports[0].current, kPf0);
  EXPECT_EQ(s.live.size(), 2u);
  const std::string text = s.toText();
  for (const char* want :
       {"---- lag0 ----", "mode: active-backup",
        "primary: pf0 (primary_reselect always, failback on)", "updelay: 100 ms",
        "downdelay: 200 ms", "active member: pf0", "live members: pf0 pf1",
        "member pf0: enabled (active)",
        "admin: up  carrier: up  probe: not used  speed: 25000 Mb/s", "member pf1: enabled",
        "pending: disable in 150 ms", "carrier_changes=2", "enable_transitions=1",
        "vm0/net0: member pf0", "counters: failovers=0"}) {
    EXPECT_NE(text.find(want), std::string::npos) << "missing '" << want << "' in\n" << text;
  }
}

}  // namespace
}  // namespace vfo::lag

// ---- updateSettings (operator UpdateLag) -------------------------------------

namespace vfo::lag {
namespace {

TEST_F(LagGroupTest, UpdateSettingsNewPrimaryTakesOverAtOnce) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  make(c);
  addPorts(2);
  bothUp();
  ASSERT_EQ(group_->activeMember(), kPf0);
  take();
  LagConfig next = c;
  next.primary = "pf1";
  next.updelay = milliseconds(300);
  ASSERT_TRUE(group_->updateSettings(next).isOk());
  EXPECT_EQ(group_->activeMember(), kPf1);
  auto ev = take();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, DecisionReason::kPrimaryReselect);
  EXPECT_EQ(group_->snapshot().updelay, milliseconds(300));
  // The new updelay is used by the next decision.
  ASSERT_TRUE(group_->onCarrier(kPf0, false, clock_.now()).isOk());
  advance(milliseconds(200));
  ASSERT_TRUE(group_->onCarrier(kPf0, true, clock_.now()).isOk());
  EXPECT_TRUE(log_.contains("pf0 will be enabled if it stays up for 300 ms"));
}

TEST_F(LagGroupTest, UpdateSettingsKeepsOperatorChoiceWhenOnlyDelaysChange) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  c.primary = "pf0";
  make(c);
  addPorts(1);
  bothUp();
  ASSERT_TRUE(group_->setActiveMember(kPf1).isOk());
  LagConfig next = c;
  next.downdelay = milliseconds(50);
  ASSERT_TRUE(group_->updateSettings(next).isOk());
  EXPECT_EQ(group_->activeMember(), kPf1);
}

TEST_F(LagGroupTest, UpdateSettingsRefusesModeMembersAndHashChangesAndChangesNothing) {
  LagConfig c = baseConfig(LagMode::kActiveBackup);
  make(c);
  LagConfig mode = c;
  mode.mode = LagMode::kBalanceVm;
  Status s = group_->updateSettings(mode);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("mode:"), std::string::npos) << s.toString();
  LagConfig members = c;
  members.members[1].name = "pf9";
  EXPECT_EQ(group_->updateSettings(members).code(), StatusCode::kFailedPrecondition);
  LagConfig hash = c;
  hash.hash_policy = HashPolicy::kLayer34;
  EXPECT_EQ(group_->updateSettings(hash).code(), StatusCode::kFailedPrecondition);
  LagConfig bad = c;
  bad.primary = "nope";
  EXPECT_EQ(group_->updateSettings(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(group_->snapshot().updelay, milliseconds(100));
  EXPECT_EQ(group_->config().mode, LagMode::kActiveBackup);
}

}  // namespace
}  // namespace vfo::lag
