// LinkMonitor against the scripted fake socket and a fake sysfs, in virtual
// time: initial dump, notifications, precedence, resync after ENOBUFS,
// interrupted dumps, malformed input, polling fallback, the thread runner.
#include "vfo/lag/link_monitor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <mutex>

#include "link_samples.h"
#include "vfo/netlink/fake_netlink_socket.h"
#include "vfo/testing/wait.h"

namespace vfo::lag {
namespace {

using netlink::Bytes;
using netlink::FakeNetlinkSocket;
using netlink::MessageBuilder;
using netlink::OperState;
using namespace std::chrono_literals;

class LinkMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override { clock.set(TimePoint{1000s}); }

  void make(std::vector<std::string> names, Duration poll = Duration::zero(),
            SysfsLinkReader* sysfs = nullptr, bool with_socket = true) {
    LinkMonitorConfig c;
    c.interfaces = std::move(names);
    c.poll_interval = poll;
    mon = std::make_unique<LinkMonitor>(with_socket ? &sock : nullptr, sysfs, c,
                                        [this](const LinkEvent& e) { events.push_back(e); });
  }
  void drain() { ASSERT_TRUE(mon->onReadable(clock.now()).isOk()); }
  std::vector<Bytes> dumpsSent() const {
    std::vector<Bytes> out;
    for (const auto& m : sock.sent()) {
      if (m[4] == RTM_GETLINK) out.push_back(m);
    }
    return out;
  }

  FakeClock clock;
  FakeNetlinkSocket sock{clock};
  std::unique_ptr<LinkMonitor> mon;
  std::vector<LinkEvent> events;
};

TEST_F(LinkMonitorTest, InitialDumpReportsWatchedLinksOnly) {
  sock.setDumpReply(RTM_GETLINK, {msg(up(1, "lo")), msg(up(5, "pf0")), msg(noCarrier(6, "pf1"))});
  make({"pf0", "pf1", "pf2"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  EXPECT_EQ(sock.groups(), std::vector<uint32_t>{RTNLGRP_LINK});
  ASSERT_EQ(dumpsSent().size(), 1u);
  clock.advance(3ms);
  drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].ifname, "pf0");
  EXPECT_EQ(events[0].source, LinkEventSource::kDump);
  EXPECT_TRUE(events[0].state.linkUp());
  EXPECT_FALSE(events[0].previous.present);
  EXPECT_EQ(events[0].state.ifindex, 5);
  EXPECT_EQ(events[0].seen_at, clock.now());
  EXPECT_EQ(events[1].ifname, "pf1");
  EXPECT_TRUE(events[1].state.present);
  EXPECT_TRUE(events[1].state.admin_up);
  EXPECT_FALSE(events[1].state.carrier);
  EXPECT_FALSE(events[1].state.linkUp());
  EXPECT_EQ(events[1].state.operstate, OperState::kLowerLayerDown);
  EXPECT_EQ(mon->stats().ignored_links, 1u);
  EXPECT_FALSE(mon->state("pf2")->present);
  EXPECT_FALSE(mon->state("nope"));
}

TEST_F(LinkMonitorTest, CarrierLossAndRecoveryFromNotifications) {
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0"))});
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  events.clear();
  sock.pushMessages({msg(noCarrier(5, "pf0"))});
  clock.advance(10ms);
  drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].source, LinkEventSource::kNotification);
  EXPECT_FALSE(events[0].state.linkUp());
  EXPECT_TRUE(events[0].previous.linkUp());
  EXPECT_EQ(events[0].seen_at, clock.now());
  sock.pushMessages({msg(up(5, "pf0"))});
  drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].state.linkUp());
}

TEST_F(LinkMonitorTest, OnlyChangesAreReported) {
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0"))});
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  ASSERT_EQ(events.size(), 1u);
  // Same state again (e.g. an MTU change notification) in one datagram.
  sock.pushMessages({msg(up(5, "pf0")), msg(up(5, "pf0"))});
  drain();
  EXPECT_EQ(events.size(), 1u);
  // A flag we do not track (IFF_PROMISC) changes nothing either.
  Link promisc = up(5, "pf0");
  promisc.flags |= IFF_PROMISC;
  sock.pushMessages({msg(promisc)});
  drain();
  EXPECT_EQ(events.size(), 1u);
  EXPECT_EQ(mon->stats().events, 1u);
}

TEST_F(LinkMonitorTest, PrecedenceOfFlagsCarrierAndOperstate) {
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  auto feed = [&](Link l) {
    sock.pushMessages({msg(l)});
    drain();
    return *mon->state("pf0");
  };
  // IFLA_CARRIER absent: carrier follows IFF_LOWER_UP.
  Link l = up(5, "pf0");
  l.carrier = -1;
  LinkState s = feed(l);
  EXPECT_TRUE(s.carrier);
  EXPECT_TRUE(s.linkUp());
  // Operstate DORMANT overrides a raw carrier.
  l = up(5, "pf0");
  l.oper = IF_OPER_DORMANT;
  s = feed(l);
  EXPECT_TRUE(s.carrier);
  EXPECT_FALSE(s.linkUp());
  // UNKNOWN operstate with lower up: up (drivers without operstate).
  l.oper = IF_OPER_UNKNOWN;
  EXPECT_TRUE(feed(l).linkUp());
  // IFLA_OPERSTATE absent: treated as unknown.
  l.oper = -1;
  EXPECT_TRUE(feed(l).linkUp());
  // IFLA_CARRIER 0 wins over a (stale) IFF_LOWER_UP.
  l = up(5, "pf0");
  l.carrier = 0;
  s = feed(l);
  EXPECT_FALSE(s.carrier);
  EXPECT_FALSE(s.linkUp());
  // Admin down: not up, whatever the carrier says.
  l = up(5, "pf0");
  l.flags &= ~IFF_UP;
  s = feed(l);
  EXPECT_FALSE(s.admin_up);
  EXPECT_FALSE(s.linkUp());
}

TEST_F(LinkMonitorTest, DeleteRenameAndBridgeFamily) {
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0")), msg(up(6, "pf1"))});
  make({"pf0", "pf1"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  events.clear();
  // AF_BRIDGE RTM_DELLINK: the port left a bridge, the device still exists.
  Link br = up(5, "pf0");
  br.type = RTM_DELLINK;
  br.family = AF_BRIDGE;
  sock.pushMessages({msg(br)});
  drain();
  EXPECT_TRUE(events.empty());
  // Real deletion.
  Link del = up(5, "pf0");
  del.type = RTM_DELLINK;
  sock.pushMessages({msg(del)});
  drain();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].state.present);
  EXPECT_FALSE(events[0].state.linkUp());
  // Rename pf1 -> other: pf1 is gone.
  sock.pushMessages({msg(up(6, "other"))});
  drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].ifname, "pf1");
  EXPECT_FALSE(events[1].state.present);
}

TEST_F(LinkMonitorTest, EnobufsResyncReportsOnlyDifferences) {
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0")), msg(up(6, "pf1")), msg(up(7, "pf2"))});
  make({"pf0", "pf1", "pf2"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  ASSERT_EQ(events.size(), 3u);
  events.clear();
  // While notifications were lost: pf0 lost carrier, pf1 was deleted, pf2
  // did not change.
  sock.setDumpReply(RTM_GETLINK, {msg(noCarrier(5, "pf0")), msg(up(7, "pf2"))});
  sock.pushOverrun();
  clock.advance(1s);
  drain();
  EXPECT_EQ(dumpsSent().size(), 2u);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].ifname, "pf0");
  EXPECT_EQ(events[0].source, LinkEventSource::kDump);
  EXPECT_FALSE(events[0].state.linkUp());
  EXPECT_EQ(events[1].ifname, "pf1");
  EXPECT_FALSE(events[1].state.present);
  EXPECT_EQ(mon->stats().vanished_in_resync, 1u);
  EXPECT_EQ(mon->streamStats().overruns, 1u);
  EXPECT_EQ(mon->stats().resyncs_completed, 2u);
}

TEST_F(LinkMonitorTest, OverrunDuringDumpQueuesOneMoreDump) {
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0"))});
  int dumps = 0;
  sock.onSend([&](const netlink::Message& m) {
    if (m.type == RTM_GETLINK && ++dumps == 1) sock.pushOverrun();  // ahead of the dump
  });
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  // The kernel refuses a second dump while one runs: the monitor waited for
  // the first to finish, then asked again.
  EXPECT_EQ(dumpsSent().size(), 2u);
  EXPECT_EQ(dumps, 2);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_FALSE(mon->streamStats().dump_errors);
}

TEST_F(LinkMonitorTest, InterruptedDumpIsRepeated) {
  Link intr = up(5, "pf0");
  intr.msg_flags = NLM_F_DUMP_INTR;
  int dumps = 0;
  sock.onSend([&](const netlink::Message& m) {
    if (m.type != RTM_GETLINK) return;
    ++dumps;
    sock.setDumpReply(RTM_GETLINK, {dumps == 1 ? msg(intr) : msg(noCarrier(5, "pf0"))});
  });
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  EXPECT_EQ(dumps, 2);
  EXPECT_EQ(mon->streamStats().dumps_interrupted, 1u);
  ASSERT_FALSE(events.empty());
  EXPECT_FALSE(events.back().state.linkUp());
  EXPECT_EQ(mon->stats().resyncs_completed, 1u);
}

TEST_F(LinkMonitorTest, MalformedInputIsCountedAndIgnored) {
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  MessageBuilder b(RTM_NEWLINK, 0);
  ifinfomsg i{};
  i.ifi_index = 5;
  i.ifi_flags = kUpFlags;
  b.family(i);
  b.putString(IFLA_IFNAME, "pf0");
  b.putU32(IFLA_CARRIER, 1);  // wrong size
  sock.pushMessages({b.bytes(), msg(noCarrier(5, "pf0"))});
  Bytes garbage = {0xff, 0xff, 0xff};
  sock.pushDatagram(garbage);
  drain();
  EXPECT_EQ(mon->streamStats().malformed, 2u);
  ASSERT_EQ(events.size(), 1u);  // only the valid message
  EXPECT_FALSE(events[0].state.linkUp());
}

TEST_F(LinkMonitorTest, DumpRefusedByKernelIsReturned) {
  sock.failNext(RTM_GETLINK, EPERM);
  make({"pf0"});
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  Status s = mon->onReadable(clock.now());
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("RTM_GETLINK dump"), std::string::npos);
}

TEST_F(LinkMonitorTest, DumpEndingWithAnErrorIsReturned) {
  make({"pf0"});
  sock.onSend([&](const netlink::Message& m) {
    // The kernel aborted the dump: NLMSG_DONE carrying -EINTR.
    if (m.type == RTM_GETLINK) sock.pushMessages({netlink::buildDone(m.seq, m.pid, -EINTR)});
  });
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  Status s = mon->onReadable(clock.now());
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(mon->streamStats().dump_errors, 1u);
  EXPECT_EQ(mon->stats().resyncs_completed, 0u);
}

TEST_F(LinkMonitorTest, SendFailureAtStartIsReturned) {
  sock.failSends(ENOBUFS);
  make({"pf0"});
  EXPECT_EQ(mon->start(clock.now()).code(), StatusCode::kResourceExhausted);
}

class FakeSysfs : public SysfsLinkReader {
 public:
  StatusOr<std::string> read(std::string_view ifname, std::string_view attr) override {
    std::lock_guard<std::mutex> l(mu);
    ++reads;
    auto it = files.find(std::string(ifname) + "/" + std::string(attr));
    if (it == files.end()) return errnoStatus(ENOENT, "read");
    if (it->second == "EINVAL") return errnoStatus(EINVAL, "read");
    return it->second;
  }
  void set(const std::string& ifname, uint32_t flags, const std::string& carrier,
           const std::string& oper, int ifindex = 9) {
    std::lock_guard<std::mutex> l(mu);
    files[ifname + "/ifindex"] = std::to_string(ifindex);
    files[ifname + "/flags"] = fmt::format("0x{:x}", flags);
    files[ifname + "/carrier"] = carrier;
    files[ifname + "/operstate"] = oper;
  }
  void remove(const std::string& ifname) {
    std::lock_guard<std::mutex> l(mu);
    for (auto it = files.begin(); it != files.end();) {
      it = it->first.starts_with(ifname + "/") ? files.erase(it) : std::next(it);
    }
  }
  std::mutex mu;
  std::map<std::string, std::string> files;
  int reads = 0;
};

TEST_F(LinkMonitorTest, PollingFallbackOnly) {
  FakeSysfs fs;
  fs.set("pf0", 0x1003, "1", "up");
  make({"pf0"}, 100ms, &fs, /*with_socket=*/false);
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  EXPECT_EQ(mon->fd(), -1);
  EXPECT_EQ(mon->nextDeadline(), clock.now());
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].source, LinkEventSource::kPoll);
  EXPECT_TRUE(events[0].state.linkUp());
  EXPECT_EQ(events[0].state.ifindex, 9);
  EXPECT_EQ(mon->nextDeadline(), clock.now() + 100ms);
  // Carrier lost: noticed at the next poll, not before.
  fs.set("pf0", 0x1003, "0", "lowerlayerdown");
  clock.advance(50ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  EXPECT_EQ(events.size(), 1u);
  clock.advance(50ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_FALSE(events[1].state.linkUp());
  EXPECT_EQ(events[1].seen_at, clock.now());
  // Admin down: the carrier file answers EINVAL.
  fs.set("pf0", 0x1002, "EINVAL", "down");
  clock.advance(100ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_FALSE(events[2].state.admin_up);
  EXPECT_FALSE(events[2].state.carrier);
  // Gone.
  fs.remove("pf0");
  clock.advance(100ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  ASSERT_EQ(events.size(), 4u);
  EXPECT_FALSE(events[3].state.present);
  // Garbage in a file is an error for that interface, counted, no event.
  fs.set("pf0", 0x1003, "1", "sideways");
  clock.advance(100ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  EXPECT_EQ(events.size(), 4u);
  EXPECT_EQ(mon->stats().poll_errors, 1u);
  // Back, then being unregistered: sysfs answers EINVAL for ifindex. That
  // reads as "not present", not as an error.
  fs.set("pf0", 0x1003, "1", "up");
  clock.advance(100ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  ASSERT_EQ(events.size(), 5u);
  {
    std::lock_guard<std::mutex> l(fs.mu);
    fs.files["pf0/ifindex"] = "EINVAL";
  }
  clock.advance(100ms);
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  ASSERT_EQ(events.size(), 6u);
  EXPECT_FALSE(events[5].state.present);
  EXPECT_EQ(mon->stats().poll_errors, 1u);
}

TEST_F(LinkMonitorTest, PollingAndNetlinkAgreeWithoutDuplicates) {
  FakeSysfs fs;
  fs.set("pf0", 0x1003, "1", "up", 5);
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0"))});
  make({"pf0"}, 100ms, &fs);
  ASSERT_TRUE(mon->start(clock.now()).isOk());
  drain();
  ASSERT_TRUE(mon->onTick(clock.now()).isOk());
  EXPECT_EQ(events.size(), 1u);  // the poll saw what the dump already said
}

TEST(LinkMonitorConfig, ValidationNamesTheField) {
  auto check = [](LinkMonitorConfig c, bool sock, bool fs, std::string_view want) {
    Status s = LinkMonitor::validate(c, sock, fs);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << want;
    EXPECT_NE(s.message().find(want), std::string::npos) << s.message();
  };
  check({}, true, false, "interfaces");
  check({{"averyveryverylongname"}}, true, false, "interfaces");
  check({{"a/b"}}, true, false, "interfaces");
  check({{"pf0", "pf0"}}, true, false, "listed twice");
  check({{"pf0"}, 500us}, true, true, "poll_interval");
  check({{"pf0"}, 100ms}, true, false, "sysfs");
  check({{"pf0"}}, false, true, "polling must be on");
  EXPECT_TRUE(LinkMonitor::validate({{"pf0"}, 100ms}, false, true).isOk());
}

TEST(MonitorThreadTest, DeliversNotificationsFromAnotherThread) {
  const Clock& clock = MonotonicClock::instance();
  FakeNetlinkSocket sock(clock);
  sock.setDumpReply(RTM_GETLINK, {msg(up(5, "pf0"))});
  std::mutex mu;
  std::vector<LinkEvent> events;
  LinkMonitorConfig c;
  c.interfaces = {"pf0"};
  LinkMonitor mon(&sock, nullptr, c, [&](const LinkEvent& e) {
    std::lock_guard<std::mutex> l(mu);
    events.push_back(e);
  });
  ASSERT_TRUE(mon.start(clock.now()).isOk());
  MonitorThread t(mon, clock);
  ASSERT_TRUE(t.start().isOk());
  auto count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return events.size();
  };
  ASSERT_TRUE(testing::waitFor([&] { return count() == 1; }, 5000ms));
  sock.pushMessages({msg(noCarrier(5, "pf0"))});
  ASSERT_TRUE(testing::waitFor([&] { return count() == 2; }, 5000ms));
  t.stop();
  EXPECT_TRUE(t.error().isOk());
  std::lock_guard<std::mutex> l(mu);
  EXPECT_FALSE(events[1].state.linkUp());
}

}  // namespace
}  // namespace vfo::lag
