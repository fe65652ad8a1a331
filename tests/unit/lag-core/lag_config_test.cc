// LagConfig validation: every error names the field and changes nothing.
#include "vfo/lag/lag_config.h"

#include <gtest/gtest.h>

namespace vfo::lag {
namespace {

using std::chrono::milliseconds;

LagConfig twoMembers() {
  LagConfig c;
  c.members = {{"pf0", 25000, false}, {"pf1", 10000, false}};
  return c;
}

void expectInvalid(const LagConfig& c, const std::string& message) {
  const Status s = c.validate();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.toString();
  EXPECT_EQ(s.message(), message);
}

TEST(LagConfig, DefaultsAreValid) {
  LagConfig c = twoMembers();
  EXPECT_TRUE(c.validate().isOk()) << c.validate().toString();
  EXPECT_EQ(c.mode, LagMode::kActiveBackup);
  EXPECT_EQ(c.primary_reselect, PrimaryReselect::kAlways);
  EXPECT_EQ(c.hash_policy, HashPolicy::kLayer2);
  EXPECT_TRUE(c.failback);
  EXPECT_EQ(c.updelay, Duration::zero());
  ASSERT_TRUE(c.vm_failback_delay.has_value());
}

TEST(LagConfig, MemberErrorsNameTheField) {
  LagConfig c;
  expectInvalid(c, "members: at least one member is required");
  c = twoMembers();
  c.members[1].name = "pf0";
  expectInvalid(c, "members[1].name: 'pf0' is already used by another member");
  c = twoMembers();
  c.members[0].name = "";
  expectInvalid(c, "members[0].name: is empty");
  c = twoMembers();
  c.members[1].name = "a-very-long-netdev-name";
  expectInvalid(c,
                "members[1].name: 'a-very-long-netdev-name' is 23 characters, longer than the "
                "maximum of 15");
  c = twoMembers();
  c.members[0].name = "pf 0";
  expectInvalid(c, "members[0].name: 'pf 0' contains a '/', ':', NUL or whitespace character");
  c = twoMembers();
  for (int i = 2; i < 9; ++i) c.members.push_back({"pf" + std::to_string(i), 0, false});
  expectInvalid(c, "members: 9 members configured, the maximum is 8");
}

TEST(LagConfig, PrimaryErrors) {
  LagConfig c = twoMembers();
  c.primary = "pf7";
  expectInvalid(c, "primary: 'pf7' is not one of the members");
  c.primary = "pf0";
  EXPECT_TRUE(c.validate().isOk());
  c.mode = LagMode::kBalanceVm;
  expectInvalid(c, "primary: only valid in mode active-backup, not balance-vm");
  c = twoMembers();
  c.primary = "pf0";
  c.primary_reselect = PrimaryReselect::kBetter;
  c.members[1].speed_mbps = 0;
  expectInvalid(c, "members[1].speed_mbps: must be set (> 0) when primary_reselect is better");
}

TEST(LagConfig, DelayErrors) {
  LagConfig c = twoMembers();
  c.updelay = milliseconds(-1);
  expectInvalid(c, "updelay: -1000000 ns is negative");
  c = twoMembers();
  c.downdelay = std::chrono::hours(2);
  expectInvalid(c, "downdelay: 7200 s is longer than the maximum of 3600 s");
  c = twoMembers();
  c.vm_failback_delay = milliseconds(-5);
  expectInvalid(c, "vm_failback_delay: -5000000 ns is negative");
  c.vm_failback_delay = std::nullopt;  // "stay"
  EXPECT_TRUE(c.validate().isOk());
  c.name = "";
  expectInvalid(c, "name: is empty");
}

TEST(LagConfig, ParseNames) {
  EXPECT_EQ(*parseLagMode("balance-vm"), LagMode::kBalanceVm);
  EXPECT_EQ(*parseLagMode("follow-kernel-bond"), LagMode::kFollowKernelBond);
  EXPECT_EQ(parseLagMode("802.3ad").status().message(),
            "mode: '802.3ad' is not one of active-backup, balance-vm, balance-flow, "
            "follow-kernel-bond");
  EXPECT_EQ(*parsePrimaryReselect("better"), PrimaryReselect::kBetter);
  EXPECT_EQ(parsePrimaryReselect("sometimes").status().code(), StatusCode::kInvalidArgument);
  for (HashPolicy p : {HashPolicy::kLayer2, HashPolicy::kLayer23, HashPolicy::kLayer34,
                       HashPolicy::kEncap23, HashPolicy::kEncap34})
    EXPECT_EQ(*parseHashPolicy(hashPolicyName(p)), p);
  EXPECT_EQ(parseHashPolicy("layer4").status().message(),
            "hash_policy: 'layer4' is not one of layer2, layer2+3, layer3+4, encap2+3, encap3+4");
}

TEST(LagConfig, FormatDuration) {
  EXPECT_EQ(formatDuration(milliseconds(200)), "200 ms");
  EXPECT_EQ(formatDuration(Duration::zero()), "0 ms");
  EXPECT_EQ(formatDuration(std::chrono::microseconds(1500)), "1.5 ms");
  EXPECT_EQ(formatDuration(std::chrono::seconds(2)), "2 s");
}

}  // namespace
}  // namespace vfo::lag
