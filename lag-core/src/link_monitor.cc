#include "vfo/lag/link_monitor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <set>

#include "vfo/base/log.h"

namespace vfo::lag {

namespace {

constexpr Logger kLog("lag");
using netlink::OperState;

bool validIfName(std::string_view n) {
  if (n.empty() || n.size() >= IFNAMSIZ || n == "." || n == "..") return false;
  for (char c : n) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

// ---- sysfs -----------------------------------------------------------------

StatusOr<std::string> RealSysfsLinkReader::read(std::string_view ifname,
                                                std::string_view attribute) {
  std::string path = fmt::format("{}/{}/{}", root_, ifname, attribute);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, fmt::format("read {}", path));
  char buf[256];
  ssize_t n;
  do {
    n = ::read(fd, buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  int e = errno;
  ::close(fd);
  if (n < 0) return errnoStatus(e, fmt::format("read {}", path));
  std::string s(buf, size_t(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// ---- state -----------------------------------------------------------------

bool LinkState::linkUp() const {
  if (!present || !admin_up || !lower_up || !carrier) return false;
  return operstate == OperState::kUp || operstate == OperState::kUnknown;
}

std::string_view linkEventSourceName(LinkEventSource s) {
  switch (s) {
    case LinkEventSource::kNotification:
      return "notification";
    case LinkEventSource::kDump:
      return "dump";
    case LinkEventSource::kPoll:
      return "poll";
  }
  return "?";
}

// ---- monitor ---------------------------------------------------------------

LinkMonitor::LinkMonitor(netlink::NetlinkSocket* socket, SysfsLinkReader* sysfs,
                         LinkMonitorConfig config, EventFn on_event)
    : socket_(socket), sysfs_(sysfs), config_(std::move(config)), on_event_(std::move(on_event)) {
  for (const auto& n : config_.interfaces) watched_[n];
}

Status LinkMonitor::validate(const LinkMonitorConfig& c, bool have_socket, bool have_sysfs) {
  if (c.interfaces.empty()) return invalidArgument("interfaces: at least one name is needed");
  std::set<std::string_view> seen;
  for (const auto& n : c.interfaces) {
    if (!validIfName(n)) {
      return invalidArgument(
          fmt::format("interfaces: '{}' is not an interface name (1..15 chars, no '/', ':', "
                      "spaces)",
                      n));
    }
    if (!seen.insert(n).second) {
      return invalidArgument(fmt::format("interfaces: '{}' is listed twice", n));
    }
  }
  if (c.poll_interval < Duration::zero() ||
      (c.poll_interval > Duration::zero() && c.poll_interval < std::chrono::milliseconds(1))) {
    return invalidArgument(
        fmt::format("poll_interval: {} ns is not 0 (off) or >= 1 ms", c.poll_interval.count()));
  }
  if (c.poll_interval > Duration::zero() && !have_sysfs) {
    return invalidArgument("poll_interval: polling needs a sysfs reader");
  }
  if (!have_socket && c.poll_interval == Duration::zero()) {
    return invalidArgument("poll_interval: without a netlink socket polling must be on");
  }
  return okStatus();
}

Status LinkMonitor::start(TimePoint now) {
  VFO_RETURN_IF_ERROR(validate(config_, socket_ != nullptr, sysfs_ != nullptr));
  if (stream_) return failedPrecondition("link monitor: already started");
  if (socket_) {
    netlink::LinkStream::Handlers h;
    h.on_link = [this](const netlink::LinkMessage& m, netlink::LinkOrigin o, TimePoint t) {
      onLink(m, o, t);
    };
    h.on_dump_start = [this](TimePoint t) { onDumpStart(t); };
    h.on_dump_done = [this](TimePoint t) { onDumpDone(t); };
    stream_ = std::make_unique<netlink::LinkStream>(*socket_, std::move(h));
    VFO_RETURN_IF_ERROR(stream_->start(now));
  }
  if (config_.poll_interval > Duration::zero()) next_poll_ = now;
  return okStatus();
}

int LinkMonitor::fd() const {
  return stream_ ? stream_->fd() : -1;
}

Status LinkMonitor::onReadable(TimePoint now) {
  if (!stream_) return okStatus();
  return stream_->onReadable(now);
}

TimePoint LinkMonitor::nextDeadline() const {
  return next_poll_;
}

netlink::LinkStreamStatsSnapshot LinkMonitor::streamStats() const {
  return stream_ ? stream_->stats() : netlink::LinkStreamStatsSnapshot{};
}

std::optional<LinkState> LinkMonitor::state(std::string_view ifname) const {
  auto it = watched_.find(ifname);
  if (it == watched_.end()) return std::nullopt;
  return it->second.state;
}

void LinkMonitor::update(const std::string& name, Watched& w, const LinkState& next,
                         LinkEventSource src, TimePoint seen_at) {
  if (next == w.state) return;
  LinkEvent ev{name, next, w.state, src, seen_at};
  w.state = next;
  bump(stats_.events);
  // Deliver first: the log line (a write(2)) is not on the latency path.
  if (on_event_) on_event_(ev);
  if (ev.previous.linkUp() != next.linkUp() && log_limit_.allow()) {
    kLog.info(fmt::format("[link {}]", name),
              "link {} (admin {}, carrier {}, operstate {}; {}; {} lines suppressed)",
              next.linkUp() ? "up" : "down", next.admin_up ? "up" : "down",
              next.carrier ? "on" : "off", netlink::operStateName(next.operstate),
              linkEventSourceName(src), log_limit_.takeSuppressed());
  }
}

void LinkMonitor::onLink(const netlink::LinkMessage& m, netlink::LinkOrigin origin,
                         TimePoint seen_at) {
  // Bridge-port messages (AF_BRIDGE) describe the port role, not the link,
  // and an AF_BRIDGE RTM_DELLINK does not mean the device is gone.
  if (m.family != AF_UNSPEC) return;
  const LinkEventSource src = origin == netlink::LinkOrigin::kDump ? LinkEventSource::kDump
                                                                   : LinkEventSource::kNotification;
  std::string name = m.ifname;
  auto known = by_ifindex_.find(m.ifindex);
  if (name.empty() && known != by_ifindex_.end()) name = known->second;
  // A rename moves the ifindex away from the old (watched) name.
  if (known != by_ifindex_.end() && known->second != name) {
    auto old = watched_.find(known->second);
    if (old != watched_.end() && old->second.state.ifindex == m.ifindex) {
      old->second.touched_in_round = true;
      update(old->first, old->second, LinkState{}, src, seen_at);
    }
    by_ifindex_.erase(known);
  }
  auto it = watched_.find(name);
  if (it == watched_.end()) {
    bump(stats_.ignored_links);
    return;
  }
  Watched& w = it->second;
  w.touched_in_round = true;
  LinkState next;
  if (m.isDelete()) {
    by_ifindex_.erase(m.ifindex);
  } else {
    by_ifindex_[m.ifindex] = name;
    next.present = true;
    next.ifindex = m.ifindex;
    next.admin_up = m.adminUp();
    next.lower_up = m.lowerUp();
    next.carrier = m.carrier.value_or(next.lower_up);
    next.operstate = m.operstate.value_or(OperState::kUnknown);
  }
  update(it->first, w, next, src, seen_at);
}

void LinkMonitor::onDumpStart(TimePoint) {
  for (auto& [name, w] : watched_) w.touched_in_round = false;
}

void LinkMonitor::onDumpDone(TimePoint t) {
  bump(stats_.resyncs_completed);
  for (auto& [name, w] : watched_) {
    if (!w.touched_in_round && w.state.present) {
      bump(stats_.vanished_in_resync);
      by_ifindex_.erase(w.state.ifindex);
      update(name, w, LinkState{}, LinkEventSource::kDump, t);
    }
    w.touched_in_round = true;
  }
}

StatusOr<LinkState> LinkMonitor::pollOne(const std::string& name) {
  LinkState s;
  // Missing files mean no such interface; EINVAL from these attributes means
  // the device is being unregistered (sysfs answers -EINVAL once it is no
  // longer alive). Both read as "not present", not as errors.
  std::string ifindex, flags, oper;
  for (auto [attr, out] : {std::pair<const char*, std::string*>{"ifindex", &ifindex},
                           {"flags", &flags},
                           {"operstate", &oper}}) {
    auto r = sysfs_->read(name, attr);
    if (!r.isOk()) {
      StatusCode c = r.status().code();
      if (c == StatusCode::kNotFound || c == StatusCode::kInvalidArgument) return LinkState{};
      return r.status();
    }
    *out = std::move(*r);
  }
  int32_t idx = 0;
  auto r1 = std::from_chars(ifindex.data(), ifindex.data() + ifindex.size(), idx);
  if (r1.ec != std::errc() || r1.ptr != ifindex.data() + ifindex.size() || idx <= 0) {
    return invalidArgument(fmt::format("{}/ifindex: '{}' is not an ifindex", name, ifindex));
  }
  std::string_view fl = flags;
  if (fl.starts_with("0x")) fl.remove_prefix(2);
  uint32_t f = 0;
  auto r2 = std::from_chars(fl.data(), fl.data() + fl.size(), f, 16);
  if (r2.ec != std::errc() || r2.ptr != fl.data() + fl.size() || fl.empty()) {
    return invalidArgument(fmt::format("{}/flags: '{}' is not a hex flag word", name, flags));
  }
  VFO_ASSIGN_OR_RETURN(s.operstate, netlink::parseOperState(oper));
  s.present = true;
  s.ifindex = idx;
  s.admin_up = f & IFF_UP;
  // carrier reads fail with EINVAL while the device is down: no carrier.
  auto carrier = sysfs_->read(name, "carrier");
  if (carrier.isOk()) {
    s.carrier = *carrier == "1";
  } else if (carrier.status().code() == StatusCode::kInvalidArgument) {
    s.carrier = false;
  } else {
    return carrier.status();
  }
  s.lower_up = s.admin_up && s.carrier;
  return s;
}

Status LinkMonitor::onTick(TimePoint now) {
  if (next_poll_ == kNever || now < next_poll_) return okStatus();
  bump(stats_.polls);
  for (auto& [name, w] : watched_) {
    auto s = pollOne(name);
    if (!s.isOk()) {
      if (s.status().code() != StatusCode::kNotFound) {
        bump(stats_.poll_errors);
        kLog.warn(fmt::format("[link {}]", name), "poll failed: {}", s.status().toString());
        continue;
      }
      update(name, w, LinkState{}, LinkEventSource::kPoll, now);
      continue;
    }
    if (s->present) by_ifindex_[s->ifindex] = name;
    update(name, w, *s, LinkEventSource::kPoll, now);
  }
  next_poll_ = now + config_.poll_interval;
  return okStatus();
}

}  // namespace vfo::lag
