// Pure pieces of the API edge: EventBuffer ordering, eviction and tokens,
// and the translation/validation helpers not covered by the contract tests.
#include <gtest/gtest.h>

#include <thread>

#include "vfo/api/convert.h"
#include "vfo/api/event_buffer.h"
#include "vfo/api/port_registry.h"

namespace vfo::api {
namespace {

std::vector<uint64_t> seqs(const std::vector<Event>& ev) {
  std::vector<uint64_t> out;
  for (const auto& e : ev) out.push_back(e.seq);
  return out;
}

TEST(EventBuffer, KeepsTheNewestEventsInOrder) {
  EventBuffer b(4, 0x1234);
  EXPECT_EQ(b.lastSeq(), 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(b.publish(VhostConnectedEvent{"p"}), uint64_t(i + 1));
  auto r = b.readAfter(2, 100);  // 3..6 buffered
  ASSERT_TRUE(r.isOk());
  EXPECT_EQ(seqs(*r), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(seqs(*b.readAfter(4, 1)), (std::vector<uint64_t>{5}));
  EXPECT_TRUE(b.readAfter(6, 10)->empty());
  // The reader that last saw 1 missed event 2.
  EXPECT_EQ(b.readAfter(1, 10).status().code(), StatusCode::kOutOfRange);
}

TEST(EventBuffer, StartPoints) {
  EventBuffer b(4, 0x1234);
  EXPECT_EQ(*b.startAfter("", false), 0u);
  EXPECT_EQ(*b.startAfter("", true), 0u);
  for (int i = 0; i < 6; ++i) b.publish(VhostConnectedEvent{"p"});
  EXPECT_EQ(*b.startAfter("", false), 6u);  // only new events
  EXPECT_EQ(*b.startAfter("", true), 2u);   // oldest buffered is 3
  EXPECT_EQ(*b.startAfter(makeResumeToken(0x1234, 2), false), 2u);
  EXPECT_EQ(*b.startAfter(makeResumeToken(0x1234, 6), false), 6u);
  EXPECT_EQ(b.startAfter(makeResumeToken(0x1234, 1), false).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(b.startAfter(makeResumeToken(0x1235, 3), false).status().code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(b.startAfter(makeResumeToken(0x1234, 7), false).status().code(),
            StatusCode::kInvalidArgument);
  for (const char* bad :
       {"x", "0000000000001234-", "0000000000001234-1x", "1234-1", "000000000000123g-1"})
    EXPECT_EQ(b.startAfter(bad, false).status().code(), StatusCode::kInvalidArgument) << bad;
}

TEST(EventBuffer, RandomEpochsDiffer) {
  EventBuffer a, b;
  EXPECT_NE(a.epoch(), b.epoch());
  EXPECT_NE(a.epoch(), 0u);
}

TEST(EventBuffer, WaitWakesOnPublishAndClose) {
  EventBuffer b(8);
  EXPECT_FALSE(b.waitNewer(0, std::chrono::milliseconds(1)));
  std::thread t([&] { b.publish(MemberEvent{"pf0", LinkState::kUp, LinkState::kDown}); });
  EXPECT_TRUE(b.waitNewer(0, std::chrono::seconds(10)));
  t.join();
  std::thread c([&] { b.close(); });
  EXPECT_FALSE(b.waitNewer(1, std::chrono::seconds(10)));  // woken by close, nothing newer
  c.join();
}

TEST(ResumeToken, RoundTrips) {
  auto t = parseResumeToken(makeResumeToken(0xdeadbeefcafef00d, 18446744073709551615ull));
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(t->epoch, 0xdeadbeefcafef00du);
  EXPECT_EQ(t->seq, 18446744073709551615ull);
}

TEST(Convert, DefaultSocketPath) {
  EXPECT_EQ(defaultSocketPath("/run/vfo/sockets/", "vm1/net0"), "/run/vfo/sockets/vm1-net0.sock");
  EXPECT_TRUE(validateSocketPath("/run/vfo/sockets/a.sock", "/run/vfo/sockets/", "f").isOk());
  EXPECT_FALSE(validateSocketPath("/run/vfo/socketsX/a.sock", "/run/vfo/sockets", "f").isOk());
  EXPECT_FALSE(validateSocketPath("/run/vfo/sockets/", "/run/vfo/sockets", "f").isOk());
}

TEST(Convert, LagSettingsDefaultsAndRanges) {
  auto s = lagSettingsFromProto(v1::LagSettings());
  ASSERT_TRUE(s.isOk());
  EXPECT_EQ(*s, LagSettings{});
  v1::UpdateLagRequest req;
  req.add_update_fields("failback_delay");
  req.mutable_settings()->mutable_failback_delay()->set_seconds(-5);
  auto never = applyLagUpdate(req, LagSettings{});
  ASSERT_TRUE(never.isOk());
  EXPECT_LT(never->failback_delay.count(), 0);
  req.mutable_settings()->mutable_failback_delay()->set_seconds(7200);
  EXPECT_EQ(
      applyLagUpdate(req, LagSettings{}).status().message().rfind("settings.failback_delay: ", 0),
      0u);
  req.mutable_settings()->mutable_failback_delay()->set_seconds(1);
  req.mutable_settings()->mutable_failback_delay()->set_nanos(-1);  // mixed signs
  EXPECT_EQ(applyLagUpdate(req, LagSettings{}).status().code(), StatusCode::kInvalidArgument);
  v1::UpdateLagRequest mode;
  mode.add_update_fields("mode");
  mode.mutable_settings()->set_mode(v1::LagMode(42));
  EXPECT_EQ(applyLagUpdate(mode, LagSettings{}).status().message().rfind("settings.mode: ", 0), 0u);
  v1::UpdateLagRequest rate;
  rate.add_update_fields("announce_rate_limit");
  rate.mutable_settings()->set_announce_rate_limit(2'000'000);
  EXPECT_EQ(applyLagUpdate(rate, LagSettings{}).status().code(), StatusCode::kInvalidArgument);
  v1::UpdateLagRequest fb;
  fb.add_update_fields("failback");
  fb.mutable_settings()->set_failback(false);
  EXPECT_FALSE(applyLagUpdate(fb, LagSettings{})->failback);
}

TEST(Convert, DesiredStateRoundTrip) {
  DesiredState s;
  PortSpec p;
  p.port_id = "vm1/net0";
  p.socket_path = "/run/vfo/sockets/vm1-net0.sock";
  p.role = VhostRole::kClient;
  p.mac = *MacAddress::parse("52:54:00:00:00:01");
  p.allowed_macs = {*MacAddress::parse("52:54:00:00:00:02")};
  p.vlan = 4094;
  p.queues = 16;
  p.disabled_features = 1ull << 63;
  p.announce = AnnounceSettings{10, std::chrono::milliseconds(1000)};
  p.pinned_member = "pf1";
  p.domain_name = "vm1";
  p.domain_uuid = "u";
  p.incoming_migration = true;
  s.ports.push_back(p);
  LagSettings lag;
  lag.mode = LagMode::kBalanceFlow;
  lag.hash_policy = HashPolicy::kEncap3_4;
  lag.primary_reselect = PrimaryReselect::kBetter;
  lag.failback = false;
  lag.updelay = std::chrono::milliseconds(1500);
  s.lag = lag;
  s.learned["vm1/net0"] = {{p.mac, 7, "2001:db8::1", {}}};
  s.forced_active_member = "pf1";
  v1::DesiredState proto;
  toProto(s, &proto);
  auto back = desiredStateFromProto(proto);
  ASSERT_TRUE(back.isOk()) << back.status().toString();
  EXPECT_EQ(*back, s);
}

TEST(PortRegistry, AdmissionRules) {
  PortRegistry r;
  PortSpec a;
  a.port_id = "a";
  a.socket_path = "/s/a.sock";
  a.mac = *MacAddress::parse("52:54:00:00:00:01");
  EXPECT_EQ(*r.admit(a), PortRegistry::Admission::kCreate);
  r.put(a);
  EXPECT_EQ(*r.admit(a), PortRegistry::Admission::kAlreadyPresent);
  PortSpec a2 = a;
  a2.queues = 4;
  EXPECT_NE(r.admit(a2).status().message().find("another queues"), std::string::npos);
  r.markUnrestored("a", "x");
  EXPECT_EQ(*r.admit(a), PortRegistry::Admission::kRetryRestore);
  PortSpec b = a;
  b.port_id = "b";
  b.socket_path = "/s/b.sock";
  EXPECT_EQ(r.admit(b).status().code(), StatusCode::kAlreadyExists);  // same MAC
  r.erase("a");
  EXPECT_EQ(*r.admit(b), PortRegistry::Admission::kCreate);
  EXPECT_TRUE(r.unrestored().empty());
}

}  // namespace
}  // namespace vfo::api
