// The group config rules: consent (only declared PFs), one group per PF, one
// provider per group, valid names; every refusal precise and changing nothing.
#include "vfo/sriov/group_registry.h"

#include <gtest/gtest.h>

namespace vfo::sriov {
namespace {

SriovGroupsConfig twoGroups() {
  SriovGroupsConfig c;
  c.pfs = {{"enp59s0f0", "sysfs-sriov"},
           {"enp59s0f1", "sysfs-sriov"},
           {"lab-pf0", "software"},
           {"lab-pf1", "software"}};
  c.groups = {{"g0", {"enp59s0f0", "enp59s0f1"}}, {"sw", {"lab-pf0", "lab-pf1"}}};
  return c;
}

TEST(GroupRegistry, BuildsFromConfig) {
  auto r = GroupRegistry::fromConfig(twoGroups());
  ASSERT_TRUE(r.isOk()) << r.status().toString();
  EXPECT_EQ(r->groups().size(), 2u);
  EXPECT_EQ(r->groupOf("enp59s0f1"), "g0");
  EXPECT_EQ(r->groupOf("lab-pf0"), "sw");
  EXPECT_EQ(r->groupOf("eth9"), std::nullopt);
  EXPECT_EQ(r->providerOf("g0"), "sysfs-sriov");
  EXPECT_EQ(r->providerOf("sw"), "software");
  EXPECT_EQ(r->providerOf("nope"), "");
  EXPECT_EQ(r->group("g0")->members[1], "enp59s0f1");
}

TEST(GroupRegistry, UndeclaredPfNeverJoins) {
  SriovGroupsConfig c = twoGroups();
  c.groups.push_back({"g2", {"enp94s0f0"}});
  auto r = GroupRegistry::fromConfig(c);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "groups[2] (g2): group g2: PF enp94s0f0 is not declared; a PF joins a group only "
            "when the config names it");
}

TEST(GroupRegistry, PfInTwoGroupsIsRefused) {
  auto r = GroupRegistry::fromConfig(twoGroups());
  ASSERT_TRUE(r.isOk());
  ASSERT_TRUE(r->declarePf({"enp94s0f0", "sysfs-sriov"}).isOk());
  Status s = r->addGroup({"g1", {"enp94s0f0", "enp59s0f0"}});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "group g1: PF enp59s0f0 already belongs to group g0");
  EXPECT_EQ(r->group("g1"), nullptr);
  EXPECT_EQ(r->groupOf("enp94s0f0"), std::nullopt);  // nothing changed
  // After g0 is removed the PF is free again.
  ASSERT_TRUE(r->removeGroup("g0").isOk());
  EXPECT_TRUE(r->addGroup({"g1", {"enp94s0f0", "enp59s0f0"}}).isOk());
  EXPECT_EQ(r->removeGroup("g0").code(), StatusCode::kNotFound);
}

TEST(GroupRegistry, OneProviderPerGroup) {
  SriovGroupsConfig c = twoGroups();
  c.groups = {{"mixed", {"enp59s0f0", "lab-pf1"}}};
  auto r = GroupRegistry::fromConfig(c);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find(
                "members must use one provider: enp59s0f0 uses sysfs-sriov but lab-pf1 uses "
                "software"),
            std::string::npos)
      << r.status().message();
}

TEST(GroupRegistry, NamesAndCountsAreValidated) {
  GroupRegistry r;
  EXPECT_EQ(r.declarePf({"", "software"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.declarePf({"a/b", "software"}).code(), StatusCode::kInvalidArgument);
  Status s = r.declarePf({"eth0", "magic"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("provider: 'magic'"), std::string::npos);
  ASSERT_TRUE(r.declarePf({"eth0", "software"}).isOk());
  ASSERT_TRUE(r.declarePf({"eth1", "software"}).isOk());
  EXPECT_EQ(r.addGroup({"", {"eth0"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.addGroup({"bad name", {"eth0"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.addGroup({std::string(33, 'g'), {"eth0"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.addGroup({"g", {}}).code(), StatusCode::kInvalidArgument);
  s = r.addGroup({"g", {"eth0", "eth0"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("PF eth0 is listed twice"), std::string::npos);
  std::vector<std::string> nine(9, "eth0");
  EXPECT_EQ(r.addGroup({"g", nine}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.groups().empty());
}

TEST(GroupRegistry, RepeatsAreIdempotentChangesAreNot) {
  auto r = GroupRegistry::fromConfig(twoGroups());
  ASSERT_TRUE(r.isOk());
  EXPECT_TRUE(r->declarePf({"lab-pf0", "software"}).isOk());
  EXPECT_TRUE(r->addGroup({"sw", {"lab-pf0", "lab-pf1"}}).isOk());
  EXPECT_EQ(r->addGroup({"sw", {"lab-pf1", "lab-pf0"}}).code(), StatusCode::kAlreadyExists);
  Status s = r->declarePf({"lab-pf0", "sysfs-sriov"});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("in group sw"), std::string::npos);
  EXPECT_EQ(r->forgetPf("lab-pf0").code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(r->removeGroup("sw").isOk());
  EXPECT_TRUE(r->forgetPf("lab-pf0").isOk());
  EXPECT_EQ(r->forgetPf("lab-pf0").code(), StatusCode::kNotFound);
  ASSERT_TRUE(r->declarePf({"lab-pf1", "software"}).isOk());
  EXPECT_EQ(r->declarePf({"lab-pf1", "hardware-lag"}).code(), StatusCode::kAlreadyExists);
  // Duplicate declarations inside one config name the entry.
  SriovGroupsConfig c = twoGroups();
  c.pfs.push_back({"lab-pf0", "hardware-lag"});
  auto dup = GroupRegistry::fromConfig(c);
  EXPECT_EQ(dup.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.status().message().rfind("pfs[4] (lab-pf0): ", 0), 0u) << dup.status().message();
}

}  // namespace
}  // namespace vfo::sriov
