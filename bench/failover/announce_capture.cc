#include "announce_capture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vfo::bench {

namespace {

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherRarp = 0x8035;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint8_t kIcmpv6 = 58;
constexpr uint8_t kNeighborAdvert = 136;
// <linux/if.h>'s IFF_LOWER_UP (carrier); that header clashes with <net/if.h>.
constexpr unsigned kIffLowerUp = 1u << 16;

uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}

std::chrono::nanoseconds realtimeNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// Closes the fd unless released.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    const int f = fd;
    fd = -1;
    return f;
  }
};

}  // namespace

AnnounceCapture::AnnounceCapture(std::string tor_ns, std::string tor_port,
                                 std::string watched_netdev, std::array<uint8_t, 4> mac_prefix)
    : tor_ns_(std::move(tor_ns)),
      tor_port_(std::move(tor_port)),
      watched_(std::move(watched_netdev)),
      prefix_(mac_prefix) {}

AnnounceCapture::~AnnounceCapture() {
  stop();
}

Status AnnounceCapture::start() {
  if (reader_.joinable()) return failedPrecondition("capture already started");
  watched_index_ = int(if_nametoindex(watched_.c_str()));
  if (watched_index_ == 0) return errnoStatus(errno, "if_nametoindex " + watched_);

  // The packet socket lives in the ToR's namespace: enter it on this thread
  // only for socket() and the name lookup, then come back.
  Fd self{::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)};
  if (self.fd < 0) return errnoStatus(errno, "open /proc/self/ns/net");
  Fd tor{::open(("/var/run/netns/" + tor_ns_).c_str(), O_RDONLY | O_CLOEXEC)};
  if (tor.fd < 0) return errnoStatus(errno, "open netns " + tor_ns_);
  if (::setns(tor.fd, CLONE_NEWNET) != 0) return errnoStatus(errno, "setns " + tor_ns_);
  Fd pkt{::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL))};
  const int pkt_errno = errno;
  const int port_index = int(if_nametoindex(tor_port_.c_str()));
  const int index_errno = errno;
  if (::setns(self.fd, CLONE_NEWNET) != 0) return errnoStatus(errno, "setns back");
  if (pkt.fd < 0) return errnoStatus(pkt_errno, "socket AF_PACKET in " + tor_ns_);
  if (port_index == 0) return errnoStatus(index_errno, "if_nametoindex " + tor_port_);
  const int big = 64 << 20;
  if (::setsockopt(pkt.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    return errnoStatus(errno, "SO_RCVBUFFORCE");
  const int on = 1;
  if (::setsockopt(pkt.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0)
    return errnoStatus(errno, "SO_TIMESTAMPNS");
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ALL);
  ll.sll_ifindex = port_index;
  if (::bind(pkt.fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0)
    return errnoStatus(errno, "bind AF_PACKET to " + tor_port_);

  Fd nl{::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)};
  if (nl.fd < 0) return errnoStatus(errno, "socket NETLINK_ROUTE");
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK;
  if (::bind(nl.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return errnoStatus(errno, "bind NETLINK_ROUTE");
  Fd ev{::eventfd(0, EFD_CLOEXEC)};
  if (ev.fd < 0) return errnoStatus(errno, "eventfd");

  packet_fd_ = pkt.release();
  netlink_fd_ = nl.release();
  stop_fd_ = ev.release();
  reader_ = std::thread([this] { readPackets(); });
  watcher_ = std::thread([this] {
    // Real-time priority: the notification's receipt time must not wait
    // for vfod's pinned threads to yield a core. It wakes once per link
    // message, so it takes next to nothing from vfod.
    sched_param sp{};
    sp.sched_priority = 10;
    (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
    readNetlink();
  });
  return okStatus();
}

void AnnounceCapture::stop() {
  if (reader_.joinable() || watcher_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    if (reader_.joinable()) reader_.join();
    if (watcher_.joinable()) watcher_.join();
  }
  if (packet_fd_ >= 0) {
    tpacket_stats st{};
    socklen_t len = sizeof st;
    if (::getsockopt(packet_fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
      drops_ += st.tp_drops;
  }
  for (int* fd : {&packet_fd_, &netlink_fd_, &stop_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

std::vector<WireFrame> AnnounceCapture::frames() const {
  std::lock_guard lock(mu_);
  return frames_;
}

std::optional<std::chrono::nanoseconds> AnnounceCapture::notifiedAt() const {
  std::lock_guard lock(mu_);
  return notified_;
}

// Both readers leave when stop_fd_ becomes readable (an eventfd stays
// readable once written, so one write stops both).
void AnnounceCapture::readNetlink() {
  std::vector<uint8_t> buf(65536);
  for (;;) {
    pollfd p[2] = {{stop_fd_, POLLIN, 0}, {netlink_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents & POLLIN) {
      const auto at = realtimeNow();
      for (;;) {
        const ssize_t n = ::recv(netlink_fd_, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) break;
        onNetlink(buf.data(), size_t(n), at);
      }
    }
    if (p[0].revents & POLLIN) return;
  }
}

void AnnounceCapture::readPackets() {
  std::vector<uint8_t> buf(65536);
  alignas(cmsghdr) char control[256];
  for (;;) {
    pollfd p[2] = {{stop_fd_, POLLIN, 0}, {packet_fd_, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents & POLLIN) {
      for (;;) {
        iovec iov{buf.data(), buf.size()};
        sockaddr_ll from{};
        msghdr m{};
        m.msg_name = &from;
        m.msg_namelen = sizeof from;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(packet_fd_, &m, MSG_DONTWAIT);
        if (n <= 0) break;
        // Only what arrives from the wire: the ToR floods broadcasts from
        // other ports out of this one too (announces of a failback on pf0).
        if (from.sll_pkttype == PACKET_OUTGOING) continue;
        std::chrono::nanoseconds at{0};
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            at = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
          }
        if (at.count() == 0) at = realtimeNow();
        onPacket(buf.data(), size_t(n), at);
      }
    }
    if (p[0].revents & POLLIN) return;
  }
}

void AnnounceCapture::onNetlink(const uint8_t* data, size_t len, std::chrono::nanoseconds at) {
  int rest = int(len);
  for (auto* h = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(h, rest);
       h = NLMSG_NEXT(h, rest)) {
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
    const auto* ifi = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
    if (ifi->ifi_index != watched_index_ || (ifi->ifi_flags & kIffLowerUp)) continue;
    std::lock_guard lock(mu_);
    if (!notified_) notified_ = at;
  }
}

void AnnounceCapture::onPacket(const uint8_t* f, size_t len, std::chrono::nanoseconds at) {
  if (len < 14 || !std::equal(prefix_.begin(), prefix_.end(), f + 6)) return;
  WireFrame w;
  w.at = at;
  std::memcpy(w.mac.data(), f + 6, 6);
  const uint16_t type = be16(f + 12);
  if (type == kEtherRarp) {
    w.kind = WireKind::kRarp;
  } else if (type == kEtherArp && len >= 42) {
    // Sender IP at 28, target IP at 38: gratuitous when equal.
    if (std::memcmp(f + 28, f + 38, 4) != 0) return;
    w.kind = WireKind::kGarp;
    std::memcpy(w.address.data(), f + 28, 4);
  } else if (type == kEtherIpv6 && len >= 78 && f[20] == kIcmpv6 && f[54] == kNeighborAdvert) {
    w.kind = WireKind::kNa;
    std::memcpy(w.address.data(), f + 62, 16);
  } else {
    return;
  }
  std::lock_guard lock(mu_);
  frames_.push_back(w);
  count_.store(frames_.size());
}

}  // namespace vfo::bench
