// ProbeMonitor in virtual time: misses, recovery, up_after, foreign replies,
// mixed targets, membership and interval changes, clock jumps.
#include "vfo/lag/probe_monitor.h"

#include <gtest/gtest.h>

namespace vfo::lag {
namespace {

using namespace std::chrono_literals;

struct Probe {
  MemberId member;     // through which member
  std::string target;  // to whom
  ProbeKind kind;      // ARP or NS
  TimePoint at;        // when requested
};
struct Verdict {
  MemberId member;    // which member
  bool alive;         // new verdict
  TimePoint seen_at;  // when decided
};

class ProbeMonitorTest : public ::testing::Test {
 protected:
  ProbeMonitorTest()
      : mon(ProbeMonitor::Callbacks{[this](MemberId m, const ProbeAddress& t, ProbeKind k) {
                                      probes.push_back({m, t.toString(), k, now});
                                    },
                                    [this](MemberId m, bool alive, TimePoint t) {
                                      verdicts.push_back({m, alive, t});
                                    }}) {}

  static ProbeAddress addr(const char* s) { return *ProbeAddress::parse(s); }
  ProbeMemberConfig cfg(MemberId m, std::vector<const char*> targets, Duration interval = 100ms,
                        uint32_t missed = 3, uint32_t up_after = 1) {
    ProbeMemberConfig c;
    c.member = m;
    for (auto* t : targets) c.targets.push_back(addr(t));
    c.interval = interval;
    c.missed_max = missed;
    c.up_after = up_after;
    return c;
  }
  void tickAt(TimePoint t) {
    now = t;
    mon.onTick(now);
  }
  // Runs ticks at every deadline up to `until`.
  void runUntil(TimePoint until) {
    while (mon.nextDeadline() <= until) tickAt(mon.nextDeadline());
    now = until;
  }

  TimePoint t0{std::chrono::seconds(50)};
  TimePoint now = t0;
  std::vector<Probe> probes;
  std::vector<Verdict> verdicts;
  ProbeMonitor mon;
};

TEST_F(ProbeMonitorTest, FailsAfterNMissedIntervalsAtTheDecisiveDeadline) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}), t0).isOk());
  EXPECT_EQ(mon.nextDeadline(), t0);
  EXPECT_EQ(*mon.alive(0), true);
  tickAt(t0);
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].kind, ProbeKind::kArp);
  EXPECT_EQ(probes[0].target, "198.18.0.1");
  EXPECT_EQ(mon.nextDeadline(), t0 + 100ms);
  tickAt(t0 + 100ms);
  tickAt(t0 + 200ms);
  EXPECT_TRUE(verdicts.empty());
  EXPECT_EQ(mon.member(0)->consecutive_missed, 2u);
  // The loop is late by 30 ms: the verdict still carries the deadline.
  tickAt(t0 + 330ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_FALSE(verdicts[0].alive);
  EXPECT_EQ(verdicts[0].seen_at, t0 + 300ms);
  EXPECT_EQ(probes.size(), 4u);               // probing goes on while failed
  EXPECT_EQ(mon.nextDeadline(), t0 + 400ms);  // intervals stay back to back
  EXPECT_EQ(mon.stats().missed_intervals, 3u);
}

TEST_F(ProbeMonitorTest, ReplyInEachIntervalKeepsAliveAndResetsMisses) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}), t0).isOk());
  tickAt(t0);
  for (int i = 1; i <= 20; ++i) {
    // Two intervals missed, then a reply: never three in a row.
    if (i % 3 == 0) {
      EXPECT_TRUE(mon.onReply(0, addr("198.18.0.1"), now + 1ms));
    }
    tickAt(t0 + i * 100ms);
  }
  EXPECT_TRUE(verdicts.empty());
  EXPECT_EQ(mon.stats().replies, 6u);
}

TEST_F(ProbeMonitorTest, RecoversAtTheFirstReplyWithUpAfterOne) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}, 100ms, 2), t0).isOk());
  runUntil(t0 + 200ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_FALSE(verdicts[0].alive);
  TimePoint reply_at = t0 + 250ms;
  EXPECT_TRUE(mon.onReply(0, addr("198.18.0.1"), reply_at));
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_TRUE(verdicts[1].alive);
  EXPECT_EQ(verdicts[1].seen_at, reply_at);
  EXPECT_EQ(mon.member(0)->consecutive_missed, 0u);
  // A second reply in the same interval changes nothing.
  EXPECT_TRUE(mon.onReply(0, addr("198.18.0.1"), reply_at + 1ms));
  EXPECT_EQ(verdicts.size(), 2u);
}

TEST_F(ProbeMonitorTest, UpAfterKNeedsKConsecutiveGoodIntervals) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}, 100ms, 1, 3), t0).isOk());
  runUntil(t0 + 100ms);
  ASSERT_EQ(verdicts.size(), 1u);  // N = 1: one missed interval fails
  // Good, good, missed, good, good, good(reply) -> alive at that reply.
  auto reply = [&](Duration at) { EXPECT_TRUE(mon.onReply(0, addr("198.18.0.1"), t0 + at)); };
  reply(110ms);
  runUntil(t0 + 200ms);
  reply(210ms);
  runUntil(t0 + 300ms);
  runUntil(t0 + 400ms);  // missed: the good streak restarts
  reply(410ms);
  runUntil(t0 + 500ms);
  reply(510ms);
  runUntil(t0 + 600ms);
  EXPECT_EQ(verdicts.size(), 1u);
  reply(620ms);
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_TRUE(verdicts[1].alive);
  EXPECT_EQ(verdicts[1].seen_at, t0 + 620ms);
}

TEST_F(ProbeMonitorTest, ForeignAndUnknownMemberRepliesAreIgnoredAndCounted) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}, 100ms, 2), t0).isOk());
  tickAt(t0);
  EXPECT_FALSE(mon.onReply(0, addr("198.18.0.99"), t0 + 10ms));
  EXPECT_FALSE(mon.onReply(0, addr("2001:db8::1"), t0 + 10ms));
  EXPECT_FALSE(mon.onReply(7, addr("198.18.0.1"), t0 + 10ms));
  runUntil(t0 + 200ms);
  ASSERT_EQ(verdicts.size(), 1u);  // foreign replies did not keep it alive
  EXPECT_FALSE(verdicts[0].alive);
  auto st = mon.stats();
  EXPECT_EQ(st.foreign_replies, 2u);
  EXPECT_EQ(st.unknown_member_replies, 1u);
  EXPECT_EQ(st.replies, 0u);
}

TEST_F(ProbeMonitorTest, MixedTargetsSendArpAndNsAndAnyReplyCounts) {
  ASSERT_TRUE(
      mon.addMember(cfg(1, {"198.18.0.1", "2001:db8::1", "198.18.0.2"}, 100ms, 2), t0).isOk());
  tickAt(t0);
  ASSERT_EQ(probes.size(), 3u);
  EXPECT_EQ(probes[0].kind, ProbeKind::kArp);
  EXPECT_EQ(probes[1].kind, ProbeKind::kNs);
  EXPECT_EQ(probes[1].target, "2001:db8::1");
  EXPECT_EQ(probes[2].kind, ProbeKind::kArp);
  EXPECT_EQ(probes[0].member, 1u);
  for (int i = 1; i <= 10; ++i) {
    EXPECT_TRUE(mon.onReply(1, addr("2001:db8::1"), now + 5ms));
    tickAt(t0 + i * 100ms);
  }
  EXPECT_TRUE(verdicts.empty());
  EXPECT_EQ(mon.stats().probes_sent, 33u);
}

TEST_F(ProbeMonitorTest, MembersAreIndependentAndCanBeAddedAndRemoved) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}, 100ms, 2), t0).isOk());
  ASSERT_TRUE(mon.addMember(cfg(1, {"198.18.1.1"}, 30ms, 2), t0 + 5ms).isOk());
  EXPECT_EQ(mon.addMember(cfg(1, {"198.18.1.1"}), t0).code(), StatusCode::kAlreadyExists);
  for (TimePoint t = t0; t <= t0 + 200ms; t += 1ms) {
    if (mon.nextDeadline() <= t) tickAt(t);
    if ((t - t0) % 10ms == Duration::zero()) mon.onReply(0, addr("198.18.0.1"), t);
  }
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].member, 1u);
  EXPECT_EQ(verdicts[0].seen_at, t0 + 5ms + 60ms);
  ASSERT_TRUE(mon.removeMember(1).isOk());
  EXPECT_EQ(mon.removeMember(1).code(), StatusCode::kNotFound);
  EXPECT_FALSE(mon.alive(1));
  size_t before = probes.size();
  tickAt(mon.nextDeadline());
  EXPECT_EQ(probes.size(), before + 1);  // only member 0 is probed
  EXPECT_EQ(probes.back().member, 0u);
  ASSERT_TRUE(mon.removeMember(0).isOk());
  EXPECT_EQ(mon.nextDeadline(), kNever);
}

TEST_F(ProbeMonitorTest, IntervalAndTargetChanges) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}, 1s, 2), t0).isOk());
  tickAt(t0);
  EXPECT_EQ(mon.nextDeadline(), t0 + 1s);
  ASSERT_TRUE(mon.setInterval(0, 100ms).isOk());
  EXPECT_EQ(mon.nextDeadline(), t0 + 100ms);  // from the current interval's start
  runUntil(t0 + 200ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].seen_at, t0 + 200ms);
  EXPECT_EQ(mon.setInterval(0, 0ms).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(mon.setInterval(3, 10ms).code(), StatusCode::kNotFound);
  ASSERT_TRUE(mon.setTargets(0, {addr("198.18.0.7")}).isOk());
  EXPECT_FALSE(mon.onReply(0, addr("198.18.0.1"), now));  // old target no longer valid
  EXPECT_TRUE(mon.onReply(0, addr("198.18.0.7"), now));
  EXPECT_TRUE(*mon.alive(0));
  EXPECT_EQ(mon.setTargets(0, {}).code(), StatusCode::kInvalidArgument);
}

TEST_F(ProbeMonitorTest, ClockJumpsDoNotInventMissedIntervals) {
  ASSERT_TRUE(mon.addMember(cfg(0, {"198.18.0.1"}, 100ms, 3), t0).isOk());
  tickAt(t0);
  // The loop stalls for 10 s: only the interval whose probe went out counts.
  tickAt(t0 + 10s);
  EXPECT_TRUE(verdicts.empty());
  EXPECT_EQ(mon.member(0)->consecutive_missed, 1u);
  EXPECT_EQ(mon.stats().skipped_intervals, 1u);
  EXPECT_EQ(mon.nextDeadline(), t0 + 10s + 100ms);  // restarted at `now`
  EXPECT_EQ(probes.size(), 2u);
  // Backwards: nothing happens before the deadline.
  tickAt(t0 + 5s);
  EXPECT_EQ(probes.size(), 2u);
  runUntil(t0 + 10s + 200ms);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].seen_at, t0 + 10s + 200ms);
}

TEST(ProbeAddressTest, ParsesAndRejects) {
  EXPECT_EQ(ProbeAddress::parse("198.18.0.1")->toString(), "198.18.0.1");
  EXPECT_TRUE(ProbeAddress::parse("2001:db8::5")->isV6());
  for (const char* bad :
       {"", "198.18.0", "0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1", "pf0"}) {
    auto a = ProbeAddress::parse(bad);
    EXPECT_FALSE(a.isOk()) << bad;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find("target"), std::string::npos);
  }
}

TEST(ProbeMonitorConfigTest, ValidationNamesTheField) {
  ProbeMonitor mon({});
  auto check = [&](ProbeMemberConfig c, std::string_view field) {
    Status s = mon.addMember(c, TimePoint{});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(s.message().find(field), std::string::npos) << s.message();
  };
  ProbeMemberConfig ok;
  ok.member = 0;
  ok.targets = {*ProbeAddress::parse("198.18.0.1")};
  ProbeMemberConfig c = ok;
  c.member = kNoMember;
  check(c, "member");
  c = ok;
  c.targets.clear();
  check(c, "targets");
  c = ok;
  c.targets.push_back(c.targets[0]);
  check(c, "listed twice");
  c = ok;
  c.targets.assign(17, c.targets[0]);
  check(c, "targets");
  c = ok;
  c.interval = 2h;
  check(c, "interval");
  c = ok;
  c.missed_max = 0;
  check(c, "missed_max");
  c = ok;
  c.up_after = 256;
  check(c, "up_after");
  EXPECT_TRUE(mon.addMember(ok, TimePoint{}).isOk());
}

}  // namespace
}  // namespace vfo::lag
