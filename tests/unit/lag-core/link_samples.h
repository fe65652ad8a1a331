// RTM_NEWLINK / RTM_DELLINK messages as the kernel sends them, for tests
// that play the kernel through FakeNetlinkSocket.
#pragma once

#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <string>

#include "vfo/netlink/netlink_message.h"

namespace vfo::lag {
namespace {

using netlink::Bytes;
using netlink::MessageBuilder;

struct Link {
  uint16_t type = RTM_NEWLINK;  // message type
  int32_t index = 0;            // ifindex
  std::string name;             // IFLA_IFNAME ("" = omitted)
  uint32_t flags = 0;           // ifi_flags
  int carrier = -1;             // IFLA_CARRIER, -1 = omitted
  int oper = -1;                // IFLA_OPERSTATE, -1 = omitted
  uint8_t family = AF_UNSPEC;   // ifi_family
  uint16_t msg_flags = 0;       // nlmsg_flags
};

Bytes msg(const Link& l) {
  MessageBuilder b(l.type, l.msg_flags);
  ifinfomsg i{};
  i.ifi_family = l.family;
  i.ifi_index = l.index;
  i.ifi_flags = l.flags;
  b.family(i);
  if (!l.name.empty()) b.putString(IFLA_IFNAME, l.name);
  if (l.oper >= 0) b.putU8(IFLA_OPERSTATE, uint8_t(l.oper));
  b.putU32(IFLA_MTU, 1500);
  if (l.carrier >= 0) b.putU8(IFLA_CARRIER, uint8_t(l.carrier));
  return b.bytes();
}

constexpr uint32_t kUpFlags = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_LOWER_UP;
constexpr uint32_t kNoCarrierFlags = IFF_UP | IFF_BROADCAST;

Link up(int32_t idx, const std::string& name) {
  return Link{RTM_NEWLINK, idx, name, kUpFlags, 1, IF_OPER_UP};
}
Link noCarrier(int32_t idx, const std::string& name) {
  return Link{RTM_NEWLINK, idx, name, kNoCarrierFlags, 0, IF_OPER_LOWERLAYERDOWN};
}

}  // namespace
}  // namespace vfo::lag
