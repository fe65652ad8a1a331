#include "vfo/vhost/probe_channel.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vfo::vhost {

StatusOr<std::unique_ptr<PacketProbeChannel>> PacketProbeChannel::open(
    const std::vector<std::string>& netdevs) {
  std::unique_ptr<PacketProbeChannel> c(new PacketProbeChannel());
  for (const auto& dev : netdevs) {
    const int ifindex = int(if_nametoindex(dev.c_str()));
    if (ifindex == 0) return notFound("probe socket: netdev " + dev + " does not exist");
    const int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ARP));
    if (fd < 0) return errnoStatus(errno, "probe socket on " + dev);
    c->fds_.push_back(fd);
    c->ifindex_.push_back(ifindex);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ARP);
    sll.sll_ifindex = ifindex;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
      return errnoStatus(errno, "binding the probe socket to " + dev);
  }
  return c;
}

PacketProbeChannel::~PacketProbeChannel() {
  for (int fd : fds_) ::close(fd);
}

int PacketProbeChannel::fd(lag::MemberId member) const {
  return member < fds_.size() ? fds_[member] : -1;
}

bool PacketProbeChannel::send(lag::MemberId member, std::span<const uint8_t> frame) {
  if (member >= fds_.size() || frame.size() < 14) return false;
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex_[member];
  sll.sll_halen = 6;
  std::memcpy(sll.sll_addr, frame.data(), 6);
  return ::sendto(fds_[member], frame.data(), frame.size(), MSG_DONTWAIT,
                  reinterpret_cast<sockaddr*>(&sll), sizeof sll) == ssize_t(frame.size());
}

void PacketProbeChannel::drain(lag::MemberId member,
                               const std::function<void(std::span<const uint8_t>)>& fn) {
  if (member >= fds_.size()) return;
  uint8_t buf[256];
  for (int i = 0; i < 256; ++i) {
    sockaddr_ll from{};
    socklen_t len = sizeof from;
    const ssize_t n = ::recvfrom(fds_[member], buf, sizeof buf, MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return;
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    fn(std::span<const uint8_t>(buf, size_t(n)));
  }
}

}  // namespace vfo::vhost
