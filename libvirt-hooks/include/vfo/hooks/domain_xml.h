// What the vfo libvirt hook needs from a domain's XML.
//
// libvirt hands the hook the full domain XML on stdin. parseDomainXml()
// selects every <interface type='vhostuser'> whose socket lies in vfod's
// socket directory and returns, per interface, what vfod needs to create the
// port. Interfaces elsewhere (another vhost-user backend) are listed as
// ignored, not refused.
//
// Per-interface options live in the domain's <metadata>, in the vfo
// namespace (kVfoMetadataNamespace), matched by MAC or by alias:
//
//   <metadata>
//     <vfo:ports xmlns:vfo="urn:vfo:libvirt:1">
//       <vfo:port mac="52:54:00:00:00:01" vlan="100" lag-pin="pf1">
//         <vfo:allowed-mac address="52:54:00:00:00:99"/>
//       </vfo:port>
//     </vfo:ports>
//   </metadata>
//
// Contract: bad input (malformed, empty or oversized XML, a socket path that
// escapes the socket directory, a missing or multicast MAC, two interfaces on
// one socket or one MAC, bad metadata) is an INVALID_ARGUMENT naming the
// interface and the field; the hook then creates nothing. The parser never
// loads external entities or DTDs and never touches the network.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"

namespace vfo::hooks {

inline constexpr std::string_view kVfoMetadataNamespace = "urn:vfo:libvirt:1";

// Who listens on the vhost-user socket.
enum class VhostRole {
  kVfodServer,  // <source mode='client'>: QEMU connects, vfod serves the socket (default)
  kVfodClient,  // <source mode='server'>: QEMU listens, vfod connects (and reconnects)
};
std::string_view vhostRoleName(VhostRole r);

// net_failover pairing seen on the interface (<teaming type=...>).
enum class Teaming {
  kNone,        // no <teaming> element
  kPersistent,  // the virtio side of a virtio + passthrough-VF pair: vfod is the fallback path
};

struct DomainInterface {
  std::string alias;        // <alias name=...>, may be empty
  MacAddress mac;           // <mac address=...>
  std::string socket_path;  // <source path=...>, normalised
  VhostRole role = VhostRole::kVfodServer;
  uint32_t queues = 1;                // <driver queues=N>, 1..16
  Teaming teaming = Teaming::kNone;   // net_failover role
  std::string teaming_partner_alias;  // alias of the transient (hostdev) partner, if found
  // From vfo metadata:
  uint16_t vlan = 0;                     // 0 = untagged
  std::string lag_pin;                   // member name the port is pinned to, empty = none
  std::vector<MacAddress> allowed_macs;  // extra source MACs the guest may use
};

struct DomainInfo {
  std::string name;                         // <name>
  std::string uuid;                         // <uuid>
  std::vector<DomainInterface> interfaces;  // vfod's interfaces, document order
  std::vector<std::string> ignored;         // vhost-user sockets outside the socket dir
};

struct DomainXmlLimits {
  std::string socket_dir = "/run/vfo/sockets";  // vfod's socket directory (absolute)
  size_t max_bytes = 4u << 20;                  // larger input is refused before parsing
  uint32_t max_queues = 16;                     // vfod's queue pair limit
};

StatusOr<DomainInfo> parseDomainXml(std::string_view xml, const DomainXmlLimits& limits = {});

// Lexically normalises an absolute path ("/a/./b//c" -> "/a/b/c"); returns
// INVALID_ARGUMENT for relative paths and for any ".." component.
StatusOr<std::string> normaliseSocketPath(std::string_view path);

}  // namespace vfo::hooks
