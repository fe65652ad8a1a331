// rtnetlink link messages (RTM_NEWLINK / RTM_DELLINK / RTM_GETLINK /
// RTM_SETLINK): decoding what the kernel sends and building requests.
//
// Contract: parseLinkMessage() decodes only the attributes lag-core needs and
// validates them strictly (sizes, NUL-terminated strings, nesting); any
// malformed attribute makes the whole message INVALID_ARGUMENT so that a
// caller never acts on half-trusted data. Spans inside LinkMessage point into
// the datagram the Message came from. Not thread-safe; no socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vfo/base/status.h"
#include "vfo/netlink/netlink_message.h"

namespace vfo::netlink {

// RFC 2863 operational state as IFLA_OPERSTATE and /sys/class/net/*/operstate
// carry it (IF_OPER_* in linux/if.h).
enum class OperState : uint8_t {
  kUnknown = 0,         // driver does not track it (tun, dummy...)
  kNotPresent = 1,      // hardware missing
  kDown = 2,            // administratively or physically down
  kLowerLayerDown = 3,  // a lower device is down (vlan on a downed port, veth with peer down)
  kTesting = 4,         // in a test mode
  kDormant = 5,         // up but waiting for an external event (802.1X)
  kUp = 6,              // ready to pass packets
};
std::string_view operStateName(OperState s);
// Parses the sysfs spelling ("up", "lowerlayerdown", ...).
StatusOr<OperState> parseOperState(std::string_view text);

// IFLA_LINKINFO contents.
struct LinkInfo {
  std::string kind;             // IFLA_INFO_KIND ("veth", "bond"); empty if absent
  ByteSpan data;                // IFLA_INFO_DATA payload (kind-specific attributes)
  bool has_data = false;        // IFLA_INFO_DATA was present
  std::string slave_kind;       // IFLA_INFO_SLAVE_KIND ("bond" for a bond slave); empty if absent
  ByteSpan slave_data;          // IFLA_INFO_SLAVE_DATA payload
  bool has_slave_data = false;  // IFLA_INFO_SLAVE_DATA was present
};

// The decoded parts of an ifinfomsg message.
struct LinkMessage {
  uint16_t msg_type = 0;   // RTM_NEWLINK or RTM_DELLINK
  uint16_t msg_flags = 0;  // nlmsg_flags (NLM_F_MULTI in dumps)
  uint8_t family = 0;      // ifi_family: AF_UNSPEC for links, AF_BRIDGE for bridge-port info
  int32_t ifindex = 0;     // ifi_index
  uint16_t dev_type = 0;   // ifi_type (ARPHRD_*)
  uint32_t flags = 0;      // ifi_flags (IFF_UP, IFF_LOWER_UP, ...)
  uint32_t change = 0;     // ifi_change
  std::string ifname;      // IFLA_IFNAME; empty if absent
  std::optional<OperState> operstate;  // IFLA_OPERSTATE
  std::optional<bool> carrier;         // IFLA_CARRIER (netif_carrier_ok)
  std::optional<uint32_t> master;      // IFLA_MASTER (ifindex of the upper device)
  std::optional<uint32_t> event;       // IFLA_EVENT (IFLA_EVENT_*)
  std::optional<LinkInfo> linkinfo;    // IFLA_LINKINFO
  std::optional<uint32_t>
      link;             // IFLA_LINK (ifindex of the lower device: macvlan, vlan, veth peer)
  Bytes address;        // IFLA_ADDRESS (hardware address, any length); empty if absent
  std::string ifalias;  // IFLA_IFALIAS; empty if absent

  bool adminUp() const;  // IFF_UP
  bool lowerUp() const;  // IFF_LOWER_UP: running and carrier ok
  bool isDelete() const;
};

// Decodes an RTM_NEWLINK / RTM_DELLINK message. INVALID_ARGUMENT for any
// other type or any malformed part (message names the attribute).
StatusOr<LinkMessage> parseLinkMessage(const Message& m);

// RTM_GETLINK dump of every link (NLM_F_REQUEST | NLM_F_DUMP).
Bytes buildGetLinkDump(uint32_t seq = 0);
// RTM_GETLINK of one link by ifindex (> 0) or, when ifindex is 0, by name.
Bytes buildGetLink(int32_t ifindex, std::string_view ifname, uint32_t seq = 0);
// RTM_SETLINK changing only IFF_UP (ifi_change = IFF_UP), with NLM_F_ACK.
Bytes buildSetLinkAdmin(int32_t ifindex, bool up, uint32_t seq = 0);
// RTM_DELLINK of one link by ifindex (> 0), with NLM_F_ACK.
Bytes buildDelLink(int32_t ifindex, uint32_t seq = 0);

}  // namespace vfo::netlink
