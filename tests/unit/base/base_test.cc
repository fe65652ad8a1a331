#include <gtest/gtest.h>

#include "vfo/base/clock.h"
#include "vfo/base/log.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"

namespace vfo {
namespace {

TEST(MacAddress, ParsesAndFormats) {
  auto m = MacAddress::parse("52:54:00:AB:cd:0F");
  ASSERT_TRUE(m.isOk()) << m.status().toString();
  EXPECT_EQ(m->toString(), "52:54:00:ab:cd:0f");
  EXPECT_FALSE(m->isMulticast());
  EXPECT_TRUE(MacAddress::parse("52-54-00-ab-cd-0f").isOk());
}

TEST(MacAddress, RejectsMalformedWithReason) {
  for (const char* bad : {"", "52:54:00:ab:cd", "52:54:00:ab:cd:0g", "52:54-00:ab:cd:0f",
                          "5254.00ab.cd0f", "52:54:00:ab:cd:0f:"}) {
    auto m = MacAddress::parse(bad);
    ASSERT_FALSE(m.isOk()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("is not a MAC address"), std::string::npos);
  }
}

TEST(MacAddress, UnicastRulesForGuests) {
  auto mc = MacAddress::parseUnicast("01:00:5e:00:00:01");
  ASSERT_FALSE(mc.isOk());
  EXPECT_NE(mc.status().message().find("multicast"), std::string::npos);
  EXPECT_FALSE(MacAddress::parseUnicast("ff:ff:ff:ff:ff:ff").isOk());
  EXPECT_FALSE(MacAddress::parseUnicast("00:00:00:00:00:00").isOk());
  EXPECT_TRUE(MacAddress::parseUnicast("02:00:00:00:00:01").isOk());
}

TEST(Status, CodesAndContext) {
  Status s = invalidArgument("vlan: 4095 is out of range 1..4094");
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.toString(), "INVALID_ARGUMENT: vlan: 4095 is out of range 1..4094");
  EXPECT_EQ(s.withContext("port vm1").message(), "port vm1: vlan: 4095 is out of range 1..4094");
  EXPECT_EQ(errnoStatus(EBUSY, "set numvfs").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(errnoStatus(ENOENT, "open").code(), StatusCode::kNotFound);
}

StatusOr<int> half(int v) {
  if (v % 2) return invalidArgument("odd");
  return v / 2;
}
Status useHalf(int v, int* out) {
  VFO_ASSIGN_OR_RETURN(*out, half(v));
  return okStatus();
}

TEST(Status, AssignOrReturn) {
  int out = 0;
  EXPECT_TRUE(useHalf(8, &out).isOk());
  EXPECT_EQ(out, 4);
  EXPECT_EQ(useHalf(3, &out).code(), StatusCode::kInvalidArgument);
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock c;
  auto t0 = c.now();
  EXPECT_EQ(c.now(), t0);
  c.advance(std::chrono::milliseconds(5));
  EXPECT_EQ(c.now() - t0, std::chrono::milliseconds(5));
}

TEST(LogRateLimiter, BurstThenRate) {
  FakeClock c;
  LogRateLimiter rl(c, 10, 3);  // 10 lines/s, burst 3
  EXPECT_TRUE(rl.allow());
  EXPECT_TRUE(rl.allow());
  EXPECT_TRUE(rl.allow());
  EXPECT_FALSE(rl.allow());
  EXPECT_EQ(rl.takeSuppressed(), 1u);
  c.advance(std::chrono::milliseconds(100));
  EXPECT_TRUE(rl.allow());
  EXPECT_FALSE(rl.allow());
}

TEST(Logger, LineCarriesComponentAndEntity) {
  std::string captured;
  setLogSink([&](LogLevel, std::string_view line) { captured = line; });
  Logger log("lag");
  log.info("[member pf1]", "will be disabled if it stays down for {} ms", 200);
  setLogSink(nullptr);
  EXPECT_NE(captured.find("INFO  lag [member pf1] will be disabled if it stays down for 200 ms"),
            std::string::npos)
      << captured;
}

#define TEST_STATS(X)       \
  X(rx_packets, "received") \
  X(drop_spoofed, "spoofed")
VFO_DECLARE_STATS(TestStats, TEST_STATS)

TEST(Stats, DeclaredOnce) {
  TestStats s;
  bump(s.rx_packets, 3);
  bump(s.drop_spoofed);
  auto snap = s.snapshot();
  EXPECT_EQ(snap.rx_packets, 3u);
  static_assert(TestStats::kCount == 2);
  EXPECT_EQ(TestStats::kInfo[1].name, "drop_spoofed");
  std::vector<std::string> names;
  snap.forEach([&](const StatInfo& i, uint64_t v) {
    names.push_back(std::string(i.name) + "=" + std::to_string(v));
  });
  EXPECT_EQ(names, (std::vector<std::string>{"rx_packets=3", "drop_spoofed=1"}));
}

}  // namespace
}  // namespace vfo
