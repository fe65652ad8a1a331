// LinkMonitor and RtNetlinkSocket against the real kernel: a veth pair in a
// network namespace of our own, the monitor's socket opened inside it.
// Covers the initial dump, carrier loss / recovery when the peer goes down /
// up, admin down, deletion, a real ENOBUFS overrun with resync, the sysfs
// polling fallback (root namespace veth, unique names) and kernel error
// mapping. Prints event latency figures.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <mutex>

#include "vfo/lag/link_monitor.h"
#include "vfo/netlink/link_message.h"
#include "vfo/netlink/netlink_socket.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"
#include "vfo/testing/wait.h"

namespace vfo::lag {
namespace {

using namespace std::chrono_literals;
using netlink::NetlinkSocketOptions;
using netlink::RtNetlinkSocket;
using testing::run;
using testing::waitFor;

const Clock& kClock = MonotonicClock::instance();

void mustRun(const std::vector<std::string>& argv) {
  auto r = run(argv, 20s);
  ASSERT_TRUE(r.ok()) << r.describe();
}

// Thread-safe event sink with the monotonic time the callback ran.
struct Sink {
  struct Got {
    LinkEvent ev;           // the event
    TimePoint callback_at;  // when the callback ran
  };
  void operator()(const LinkEvent& e) {
    TimePoint t = kClock.now();
    std::lock_guard<std::mutex> l(mu);
    got.push_back({e, t});
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu);
    return got.size();
  }
  std::optional<Got> lastFor(const std::string& name) {
    std::lock_guard<std::mutex> l(mu);
    for (auto it = got.rbegin(); it != got.rend(); ++it) {
      if (it->ev.ifname == name) return *it;
    }
    return std::nullopt;
  }
  bool waitState(const std::string& name, const std::function<bool(const LinkState&)>& pred,
                 size_t after = 0) {
    return waitFor(
        [&] {
          std::lock_guard<std::mutex> l(mu);
          for (size_t i = after; i < got.size(); ++i) {
            if (got[i].ev.ifname == name && pred(got[i].ev.state)) return true;
          }
          return false;
        },
        10s, 1ms);
  }
  std::mutex mu;
  std::vector<Got> got;
};

class NetnsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = testing::uniqueName("vfl");
    a_ = ns_ + "a";
    b_ = ns_ + "b";
    mustRun({"ip", "netns", "add", ns_});
    created_ = true;
    mustRun({"ip", "-n", ns_, "link", "add", a_, "type", "veth", "peer", "name", b_});
    mustRun({"ip", "-n", ns_, "link", "set", a_, "up"});
    mustRun({"ip", "-n", ns_, "link", "set", b_, "up"});
    opts_.netns_path = "/run/netns/" + ns_;
    auto ctl = RtNetlinkSocket::open(opts_);
    ASSERT_TRUE(ctl.isOk()) << ctl.status().toString();
    ctl_ = std::move(*ctl);
  }
  void TearDown() override {
    ctl_.reset();
    if (created_) run({"ip", "netns", "del", ns_}, 20s);
  }

  // ifindex of `name` inside the namespace, through our own RTM_GETLINK.
  int32_t ifindexOf(const std::string& name) {
    int32_t idx = 0;
    Status s = ctl_->transact(
        netlink::buildGetLink(0, name),
        [&](const netlink::Message& m) {
          auto lm = netlink::parseLinkMessage(m);
          if (lm.isOk()) idx = lm->ifindex;
          return lm.status();
        },
        2s);
    EXPECT_TRUE(s.isOk()) << s.toString();
    return idx;
  }
  // Waits until the kernel itself reports `name` up with carrier and
  // operstate UP (veth carrier and operstate settle asynchronously).
  bool waitKernelUp(const std::string& name) {
    return waitFor(
        [&] {
          bool up = false;
          Status s = ctl_->transact(
              netlink::buildGetLink(0, name),
              [&](const netlink::Message& m) {
                auto lm = netlink::parseLinkMessage(m);
                if (lm.isOk()) {
                  up = lm->adminUp() && lm->lowerUp() && lm->carrier.value_or(false) &&
                       lm->operstate == netlink::OperState::kUp;
                }
                return lm.status();
              },
              2s);
          return s.isOk() && up;
        },
        10s, 1ms);
  }
  Status setAdmin(int32_t ifindex, bool up) {
    return ctl_->transact(netlink::buildSetLinkAdmin(ifindex, up), nullptr, 2s);
  }

  std::string ns_, a_, b_;
  bool created_ = false;
  NetlinkSocketOptions opts_;
  std::unique_ptr<RtNetlinkSocket> ctl_;
};

class LinkMonitorItest : public NetnsFixture {
 protected:
  void startMonitor(std::vector<std::string> names) {
    auto sock = RtNetlinkSocket::open(opts_);
    ASSERT_TRUE(sock.isOk()) << sock.status().toString();
    sock_ = std::move(*sock);
    LinkMonitorConfig c;
    c.interfaces = std::move(names);
    mon_ = std::make_unique<LinkMonitor>(sock_.get(), nullptr, c, std::ref(sink_));
    ASSERT_TRUE(mon_->start(kClock.now()).isOk());
    thread_ = std::make_unique<MonitorThread>(*mon_, kClock);
    ASSERT_TRUE(thread_->start().isOk());
  }
  void TearDown() override {
    if (thread_) {
      thread_->stop();
      EXPECT_TRUE(thread_->error().isOk()) << thread_->error().toString();
    }
    thread_.reset();
    mon_.reset();
    sock_.reset();
    NetnsFixture::TearDown();
  }

  Sink sink_;
  std::unique_ptr<RtNetlinkSocket> sock_;
  std::unique_ptr<LinkMonitor> mon_;
  std::unique_ptr<MonitorThread> thread_;
};

TEST_F(LinkMonitorItest, InitialDumpReportsCurrentState) {
  // Let the kernel settle first, so that the dump (not a later notification)
  // is what reports the up state.
  ASSERT_TRUE(waitKernelUp(a_));
  startMonitor({a_, "vflmissing0"});
  ASSERT_TRUE(sink_.waitState(a_, [](const LinkState& s) { return s.linkUp(); }));
  auto got = sink_.lastFor(a_);
  EXPECT_EQ(got->ev.source, LinkEventSource::kDump);
  EXPECT_EQ(got->ev.state.ifindex, ifindexOf(a_));
  EXPECT_EQ(got->ev.state.operstate, netlink::OperState::kUp);
  EXPECT_FALSE(sink_.lastFor("vflmissing0"));  // absent and never seen: no event
  EXPECT_FALSE(mon_->state("vflmissing0")->present);
}

TEST_F(LinkMonitorItest, CarrierLossWhenPeerGoesDownAndBack) {
  startMonitor({a_});
  ASSERT_TRUE(sink_.waitState(a_, [](const LinkState& s) { return s.linkUp(); }));
  size_t n = sink_.size();
  mustRun({"ip", "-n", ns_, "link", "set", b_, "down"});
  ASSERT_TRUE(sink_.waitState(
      a_, [](const LinkState& s) { return !s.carrier; }, n));
  auto down = sink_.lastFor(a_);
  EXPECT_EQ(down->ev.source, LinkEventSource::kNotification);
  EXPECT_TRUE(down->ev.state.present);
  EXPECT_TRUE(down->ev.state.admin_up);
  EXPECT_FALSE(down->ev.state.lower_up);
  EXPECT_FALSE(down->ev.state.linkUp());
  EXPECT_NE(down->ev.state.operstate, netlink::OperState::kUp);
  n = sink_.size();
  mustRun({"ip", "-n", ns_, "link", "set", b_, "up"});
  ASSERT_TRUE(sink_.waitState(
      a_, [](const LinkState& s) { return s.linkUp(); }, n));
}

TEST_F(LinkMonitorItest, AdminDownAndDeletion) {
  startMonitor({a_, b_});
  ASSERT_TRUE(sink_.waitState(b_, [](const LinkState& s) { return s.linkUp(); }));
  size_t n = sink_.size();
  mustRun({"ip", "-n", ns_, "link", "set", a_, "down"});
  ASSERT_TRUE(sink_.waitState(
      a_, [](const LinkState& s) { return !s.admin_up; }, n));
  EXPECT_TRUE(sink_.waitState(
      b_, [](const LinkState& s) { return !s.linkUp(); }, n));
  n = sink_.size();
  mustRun({"ip", "-n", ns_, "link", "del", a_});
  ASSERT_TRUE(sink_.waitState(
      a_, [](const LinkState& s) { return !s.present; }, n));
  ASSERT_TRUE(sink_.waitState(
      b_, [](const LinkState& s) { return !s.present; }, n));
}

struct Figures {
  std::vector<double> us;
  void add(Duration d) { us.push_back(double(d.count()) / 1000.0); }
  std::string summary() {
    std::sort(us.begin(), us.end());
    if (us.empty()) return "no samples";
    return fmt::format("n={} min={:.1f} median={:.1f} p90={:.1f} max={:.1f} us", us.size(),
                       us.front(), us[us.size() / 2], us[us.size() * 9 / 10], us.back());
  }
};

TEST_F(LinkMonitorItest, EventLatency) {
  startMonitor({a_});
  ASSERT_TRUE(sink_.waitState(a_, [](const LinkState& s) { return s.linkUp(); }));
  const int32_t peer = ifindexOf(b_);
  ASSERT_GT(peer, 0);
  Figures receipt_to_callback, setlink_to_receipt, setlink_to_callback;
  Figures down_setlink_to_callback, up_setlink_to_callback;
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    for (bool up : {false, true}) {
      size_t n = sink_.size();
      const TimePoint t0 = kClock.now();  // just before our own RTM_SETLINK
      ASSERT_TRUE(setAdmin(peer, up).isOk());
      ASSERT_TRUE(sink_.waitState(
          a_, [&](const LinkState& s) { return s.linkUp() == up; }, n))
          << "round " << i << (up ? " up" : " down");
      auto got = sink_.lastFor(a_);
      receipt_to_callback.add(got->callback_at - got->ev.seen_at);
      setlink_to_receipt.add(got->ev.seen_at - t0);
      setlink_to_callback.add(got->callback_at - t0);
      (up ? up_setlink_to_callback : down_setlink_to_callback).add(got->callback_at - t0);
    }
  }
  std::cout << "[ LATENCY ] netlink receipt -> callback: " << receipt_to_callback.summary()
            << "\n[ LATENCY ] RTM_SETLINK sent -> receipt: " << setlink_to_receipt.summary()
            << "\n[ LATENCY ] RTM_SETLINK sent -> callback: " << setlink_to_callback.summary()
            << "\n[ LATENCY ]   peer down only: " << down_setlink_to_callback.summary()
            << "\n[ LATENCY ]   peer up only:   " << up_setlink_to_callback.summary() << "\n";
  RecordProperty("receipt_to_callback", receipt_to_callback.summary());
  RecordProperty("setlink_to_callback", setlink_to_callback.summary());
}

// A receive buffer far too small for a burst of notifications: the kernel
// drops them (ENOBUFS), the monitor re-dumps and ends in the kernel's state.
TEST_F(NetnsFixture, RealOverrunIsResynced) {
  NetlinkSocketOptions small = opts_;
  small.rcvbuf_bytes = 1;  // the kernel rounds up to its minimum (a few KiB)
  auto sock = RtNetlinkSocket::open(small);
  ASSERT_TRUE(sock.isOk()) << sock.status().toString();
  Sink sink;
  LinkMonitorConfig c;
  c.interfaces = {a_};
  LinkMonitor mon(sock->get(), nullptr, c, std::ref(sink));
  ASSERT_TRUE(mon.start(kClock.now()).isOk());
  ASSERT_TRUE(waitFor(
      [&] {
        EXPECT_TRUE(mon.onReadable(kClock.now()).isOk());
        return mon.state(a_)->linkUp();
      },
      10s, 1ms));
  const int32_t peer = ifindexOf(b_);
  // The burst, with nobody reading: 40 flaps, ending with the peer down.
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(setAdmin(peer, false).isOk());
    if (i < 39) {
      ASSERT_TRUE(setAdmin(peer, true).isOk());
    }
  }
  ASSERT_TRUE(waitFor(
      [&] {
        EXPECT_TRUE(mon.onReadable(kClock.now()).isOk());
        return mon.streamStats().overruns > 0 && mon.stats().resyncs_completed >= 2 &&
               !mon.state(a_)->linkUp();
      },
      10s, 1ms))
      << "overruns " << mon.streamStats().overruns << " resyncs " << mon.stats().resyncs_completed;
  std::cout << "[ OVERRUN ] rcvbuf " << (*sock)->rcvbufBytes()
            << " bytes: " << mon.streamStats().overruns << " overrun(s), "
            << mon.streamStats().dumps << " dumps, " << sink.size() << " events\n";
  EXPECT_FALSE(mon.state(a_)->carrier);
}

TEST_F(NetnsFixture, KernelErrorsMapToStatus) {
  // No such ifindex: ENODEV -> NOT_FOUND, with the operation named.
  Status s = setAdmin(999999, false);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.toString();
  EXPECT_NE(s.message().find("RTM_SETLINK"), std::string::npos) << s.toString();
  s = ctl_->transact(netlink::buildGetLink(0, "vflnosuch0"), nullptr, 2s);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.toString();
  // A dump through transact ends at NLMSG_DONE with every link.
  int links = 0;
  ASSERT_TRUE(ctl_->transact(
                      netlink::buildGetLinkDump(),
                      [&](const netlink::Message&) {
                        ++links;
                        return okStatus();
                      },
                      2s)
                  .isOk());
  EXPECT_EQ(links, 3);  // lo, a, b
  // Subscribed sockets refuse transact.
  auto sub = RtNetlinkSocket::open(opts_);
  ASSERT_TRUE(sub.isOk());
  ASSERT_TRUE((*sub)->subscribe(RTNLGRP_LINK).isOk());
  EXPECT_EQ((*sub)->transact(netlink::buildGetLinkDump(), nullptr, 1s).code(),
            StatusCode::kFailedPrecondition);
  // A missing namespace.
  NetlinkSocketOptions bad;
  bad.netns_path = "/run/netns/vflnosuchns";
  EXPECT_EQ(RtNetlinkSocket::open(bad).status().code(), StatusCode::kNotFound);
}

// Polling fallback on the real sysfs. /sys/class/net shows the namespace
// sysfs was mounted in (ours: the root namespace), so this pair lives there
// with unique names and no addresses.
class PollingItest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = testing::uniqueName("vfp") + "a";
    b_ = a_.substr(0, a_.size() - 1) + "b";
    mustRun({"ip", "link", "add", a_, "type", "veth", "peer", "name", b_});
    created_ = true;
    mustRun({"ip", "link", "set", a_, "up"});
    mustRun({"ip", "link", "set", b_, "up"});
  }
  void TearDown() override {
    if (created_) run({"ip", "link", "del", a_}, 20s);
  }
  std::string a_, b_;
  bool created_ = false;
};

TEST_F(PollingItest, PollingSeesCarrierLoss) {
  RealSysfsLinkReader sysfs;
  Sink sink;
  LinkMonitorConfig c;
  c.interfaces = {a_};
  c.poll_interval = 20ms;
  LinkMonitor mon(nullptr, &sysfs, c, std::ref(sink));
  ASSERT_TRUE(mon.start(kClock.now()).isOk());
  MonitorThread t(mon, kClock);
  ASSERT_TRUE(t.start().isOk());
  ASSERT_TRUE(sink.waitState(a_, [](const LinkState& s) { return s.linkUp(); }));
  size_t n = sink.size();
  mustRun({"ip", "link", "set", b_, "down"});
  ASSERT_TRUE(sink.waitState(
      a_, [](const LinkState& s) { return !s.carrier; }, n));
  EXPECT_EQ(sink.lastFor(a_)->ev.source, LinkEventSource::kPoll);
  EXPECT_FALSE(sink.lastFor(a_)->ev.state.linkUp());
  n = sink.size();
  mustRun({"ip", "link", "del", a_});
  created_ = false;
  ASSERT_TRUE(sink.waitState(
      a_, [](const LinkState& s) { return !s.present; }, n));
  t.stop();
  EXPECT_TRUE(t.error().isOk());
  EXPECT_EQ(mon.stats().poll_errors, 0u);
}

}  // namespace
}  // namespace vfo::lag
