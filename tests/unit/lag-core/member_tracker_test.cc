// MemberTracker hysteresis in virtual time.
#include "vfo/lag/member_tracker.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "vfo/base/log.h"
#include "vfo/testing/log_capture.h"

namespace vfo::lag {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

using vfo::testing::LogCapture;

class MemberTrackerTest : public ::testing::Test {
 protected:
  MemberTrackerTest()
      : tracker_({{"pf0", 0, false}, {"pf1", 0, true}}, milliseconds(100), milliseconds(200)) {}
  TimePoint t0_{std::chrono::seconds(100)};
  MemberTracker tracker_;
  std::vector<MemberTransition> out_;
  LogCapture log_;
};

TEST_F(MemberTrackerTest, UpdelayLogsPendingEnableAndFiresAtDeadline) {
  ASSERT_TRUE(tracker_.onCarrier(0, true, t0_, t0_ + microseconds(5), false, &out_).isOk());
  EXPECT_TRUE(out_.empty());
  EXPECT_TRUE(log_.contains("[member pf0] pf0 will be enabled if it stays up for 100 ms"));
  EXPECT_EQ(tracker_.nextDeadline(), t0_ + milliseconds(100));
  EXPECT_EQ(tracker_.view(0).pending, PendingAction::kEnable);
  tracker_.onTick(t0_ + milliseconds(100) - Duration(1), &out_);
  EXPECT_TRUE(out_.empty());
  tracker_.onTick(t0_ + milliseconds(100), &out_);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].member, 0u);
  EXPECT_TRUE(out_[0].enabled);
  EXPECT_EQ(out_[0].cause, MemberCause::kCarrier);
  EXPECT_EQ(out_[0].cause_seen_at, t0_);
  EXPECT_EQ(out_[0].decided_at, t0_ + milliseconds(100));
  EXPECT_EQ(tracker_.nextDeadline(), kNever);
  EXPECT_EQ(tracker_.view(0).pending, PendingAction::kNone);
}

TEST_F(MemberTrackerTest, DowndelayLogsPendingDisableAndCancelOnReturn) {
  ASSERT_TRUE(tracker_.onCarrier(0, true, t0_, t0_, true, &out_).isOk());  // skip updelay
  ASSERT_EQ(out_.size(), 1u);
  out_.clear();
  const TimePoint down = t0_ + std::chrono::seconds(1);
  ASSERT_TRUE(tracker_.onCarrier(0, false, down, down, false, &out_).isOk());
  EXPECT_TRUE(log_.contains("[member pf0] pf0 will be disabled if it stays down for 200 ms"));
  EXPECT_EQ(tracker_.nextDeadline(), down + milliseconds(200));
  ASSERT_TRUE(
      tracker_.onCarrier(0, true, down + milliseconds(50), down + milliseconds(50), false, &out_)
          .isOk());
  EXPECT_TRUE(out_.empty());
  EXPECT_TRUE(
      log_.contains("pf0 went up again (carrier); it stays enabled, pending disable "
                    "cancelled"));
  EXPECT_EQ(tracker_.nextDeadline(), kNever);
  EXPECT_EQ(tracker_.view(0).stats.delays_cancelled, 1u);
  tracker_.onTick(down + std::chrono::seconds(10), &out_);
  EXPECT_TRUE(out_.empty());
  EXPECT_TRUE(tracker_.enabled(0));
}

TEST_F(MemberTrackerTest, ThousandFlapsWithinUpdelayNeverEnable) {
  TimePoint t = t0_;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(tracker_.onCarrier(0, true, t, t, false, &out_).isOk());
    t += milliseconds(60);  // less than the 100 ms updelay
    tracker_.onTick(t, &out_);
    ASSERT_TRUE(tracker_.onCarrier(0, false, t, t, false, &out_).isOk());
    t += milliseconds(1);
    tracker_.onTick(t, &out_);
  }
  EXPECT_TRUE(out_.empty());
  EXPECT_FALSE(tracker_.enabled(0));
  EXPECT_EQ(tracker_.view(0).stats.delays_cancelled, 1000u);
  EXPECT_EQ(tracker_.view(0).stats.carrier_changes, 2000u);
  // Then it stays up: exactly one enable, updelay after the last up.
  ASSERT_TRUE(tracker_.onCarrier(0, true, t, t, false, &out_).isOk());
  tracker_.onTick(t + std::chrono::seconds(5), &out_);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].cause_seen_at, t);
}

TEST_F(MemberTrackerTest, FlapsBeyondHysteresisProduceBoundedSpacedTransitions) {
  // Random flaps with intervals up to 400 ms: every transition is decided at
  // least its delay after its cause, and causes never precede the previous
  // transition, so transitions are >= min(updelay, downdelay) apart.
  std::mt19937 rng(42);
  TimePoint t = t0_;
  bool up = false;
  for (int i = 0; i < 1000; ++i) {
    up = !up;
    ASSERT_TRUE(tracker_.onCarrier(0, up, t, t, false, &out_).isOk());
    const TimePoint next = t + milliseconds(rng() % 400);
    while (tracker_.nextDeadline() <= next) tracker_.onTick(tracker_.nextDeadline(), &out_);
    t = next;
  }
  ASSERT_FALSE(out_.empty());
  const Duration span = t - t0_;
  EXPECT_LE(out_.size(), size_t(span / milliseconds(100)) + 1);
  for (size_t i = 0; i < out_.size(); ++i) {
    const Duration delay = out_[i].enabled ? milliseconds(100) : milliseconds(200);
    EXPECT_GE(out_[i].decided_at - out_[i].cause_seen_at, delay);
    if (i > 0) {
      EXPECT_NE(out_[i].enabled, out_[i - 1].enabled);
      EXPECT_GE(out_[i].cause_seen_at, out_[i - 1].decided_at);
      EXPECT_GE(out_[i].decided_at - out_[i - 1].decided_at, milliseconds(100));
    }
  }
}

TEST_F(MemberTrackerTest, ProbingMemberNeedsProbeAndCarrier) {
  ASSERT_TRUE(tracker_.onCarrier(1, true, t0_, t0_, true, &out_).isOk());
  EXPECT_TRUE(out_.empty()) << "carrier alone must not enable a probing member";
  EXPECT_FALSE(tracker_.healthy(1));
  ASSERT_TRUE(tracker_.onProbeVerdict(1, true, t0_, t0_, true, &out_).isOk());
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].cause, MemberCause::kProbe);
  out_.clear();
  const TimePoint dead = t0_ + std::chrono::seconds(1);
  ASSERT_TRUE(tracker_.onProbeVerdict(1, false, dead, dead, false, &out_).isOk());
  EXPECT_TRUE(log_.contains("pf1 will be disabled if it stays down for 200 ms"));
  tracker_.onTick(dead + milliseconds(200), &out_);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_FALSE(out_[0].enabled);
  EXPECT_EQ(out_[0].cause, MemberCause::kProbe);
  EXPECT_EQ(tracker_.view(1).stats.probe_failures, 1u);
}

TEST_F(MemberTrackerTest, AdminDownIsImmediateAdminUpWaitsUpdelay) {
  ASSERT_TRUE(tracker_.onCarrier(0, true, t0_, t0_, true, &out_).isOk());
  out_.clear();
  ASSERT_TRUE(tracker_.setAdmin(0, false, t0_ + milliseconds(1), false, &out_).isOk());
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_FALSE(out_[0].enabled);
  EXPECT_EQ(out_[0].cause, MemberCause::kAdmin);
  out_.clear();
  // Carrier events while admin down do not enable.
  ASSERT_TRUE(tracker_.onCarrier(0, false, t0_, t0_ + milliseconds(2), false, &out_).isOk());
  ASSERT_TRUE(tracker_.onCarrier(0, true, t0_, t0_ + milliseconds(3), false, &out_).isOk());
  tracker_.onTick(t0_ + std::chrono::seconds(1), &out_);
  EXPECT_TRUE(out_.empty());
  const TimePoint up = t0_ + std::chrono::seconds(2);
  ASSERT_TRUE(tracker_.setAdmin(0, true, up, false, &out_).isOk());
  EXPECT_TRUE(out_.empty());
  tracker_.onTick(up + milliseconds(100), &out_);
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_TRUE(out_[0].enabled);
}

TEST_F(MemberTrackerTest, LateEventWhoseDeadlinePassedFiresInTheSameCall) {
  ASSERT_TRUE(tracker_.onCarrier(0, true, t0_, t0_, true, &out_).isOk());
  out_.clear();
  // Carrier loss seen 300 ms before it is processed (> 200 ms downdelay).
  ASSERT_TRUE(
      tracker_.onCarrier(0, false, t0_ + milliseconds(10), t0_ + milliseconds(310), false, &out_)
          .isOk());
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].cause_seen_at, t0_ + milliseconds(10));
  EXPECT_EQ(out_[0].decided_at, t0_ + milliseconds(310));
}

TEST_F(MemberTrackerTest, RepeatedStateIsIgnoredAndUnknownMemberRejected) {
  ASSERT_TRUE(tracker_.onCarrier(0, false, t0_, t0_, false, &out_).isOk());
  EXPECT_EQ(tracker_.view(0).stats.carrier_changes, 0u);
  const Status s = tracker_.onCarrier(7, true, t0_, t0_, false, &out_);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "member: id 7 is not a member of this group");
  EXPECT_EQ(tracker_.find("pf1"), 1u);
  EXPECT_EQ(tracker_.find("pf9"), kNoMember);
}

}  // namespace
}  // namespace vfo::lag
