// SR-IOV VF configuration over rtnetlink: the PF's RTM_SETLINK with
// IFLA_VFINFO_LIST to change a VF, and RTM_GETLINK with IFLA_EXT_MASK =
// RTEXT_FILTER_VF to read every VF back.
//
// Wire shapes (linux/if_link.h; kernel 6.1 net/core/rtnetlink.c):
//   RTM_SETLINK  ifinfomsg{ifi_index = PF}
//     IFLA_VFINFO_LIST { IFLA_VF_INFO {
//       IFLA_VF_MAC        struct ifla_vf_mac       {u32 vf; u8 mac[32]}
//       IFLA_VF_VLAN_LIST  { IFLA_VF_VLAN_INFO struct ifla_vf_vlan_info
//                            {u32 vf; u32 vlan; u32 qos; __be16 vlan_proto} (16 bytes) }
//         or the legacy IFLA_VF_VLAN struct ifla_vf_vlan {u32 vf, vlan, qos}
//       IFLA_VF_SPOOFCHK   struct ifla_vf_spoofchk  {u32 vf; u32 setting}
//       IFLA_VF_LINK_STATE struct ifla_vf_link_state {u32 vf; u32 link_state}
//       IFLA_VF_TRUST      struct ifla_vf_trust     {u32 vf; u32 setting} } }
//   The reply to RTM_GETLINK carries IFLA_NUM_VF and, when the driver has
//   ndo_get_vf_config, IFLA_VFINFO_LIST with one IFLA_VF_INFO per VF in the
//   order of rtnl_fill_vfinfo(): MAC, BROADCAST, VLAN, RATE, TX_RATE,
//   SPOOFCHK, LINK_STATE, RSS_QUERY_EN, TRUST, [IB GUIDs], VLAN_LIST, [STATS].
//
// How the kernel applies one IFLA_VF_INFO (do_setvfinfo): it parses the
// nest into a table and calls the driver in a FIXED order, whatever the
// order of the attributes: MAC, VLAN, VLAN_LIST, TX_RATE, RATE, SPOOFCHK,
// LINK_STATE, RSS_QUERY_EN, TRUST. It stops at the first driver error and
// returns it; the settings already applied STAY applied (do_setlink only
// logs "some changes committed already"). Several IFLA_VF_INFO nests are
// applied one after the other with the same rule. So a kernel request is
// not atomic, and VfNetlink::apply() makes it transactional itself: it
// reads the VF first, sends only what differs, and on any error reads the
// VF again and sends back the previous value of every field that moved.
//
// Threads: none of this is thread-safe; a VfNetlink is used by its owner's
// thread only. The socket must not be subscribed to multicast groups
// (transact() refuses that).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/stats.h"
#include "vfo/base/status.h"
#include "vfo/lag/types.h"
#include "vfo/netlink/netlink_message.h"
#include "vfo/netlink/netlink_socket.h"
#include "vfo/sriov/vf_provider.h"

namespace vfo::sriov {

// Which attribute carries the port VLAN in a request.
enum class VfVlanAttr : uint8_t {
  kVlanList = 0,  // IFLA_VF_VLAN_LIST / IFLA_VF_VLAN_INFO with vlan_proto 802.1Q (kernel >= 4.9)
  kLegacy = 1,    // IFLA_VF_VLAN (every kernel; the kernel fills in 802.1Q)
};

// 802.1Q TPID, the only vlan_proto vfo sets (host byte order here; it is
// big-endian on the wire).
inline constexpr uint16_t kVlanProto8021Q = 0x8100;

// One VF as the PF's RTM_GETLINK reply reports it.
struct VfLinkInfo {
  uint32_t vf = 0;                              // VF index on the PF
  MacAddress mac;                               // IFLA_VF_MAC (first 6 of 32 bytes)
  lag::VlanId vlan = lag::kNoVlan;              // port VLAN, 0 = none
  uint32_t qos = 0;                             // 802.1p priority of the port VLAN
  uint16_t vlan_proto = kVlanProto8021Q;        // TPID (from IFLA_VF_VLAN_INFO; 802.1Q if absent)
  std::optional<bool> spoof_check;              // IFLA_VF_SPOOFCHK; nullopt: driver reports -1
  std::optional<bool> trust;                    // IFLA_VF_TRUST; nullopt: driver reports -1
  VfLinkState link_state = VfLinkState::kAuto;  // IFLA_VF_LINK_STATE
  friend bool operator==(const VfLinkInfo&, const VfLinkInfo&) = default;
};

// The VF part of a PF's RTM_NEWLINK (reply to RTM_GETLINK).
struct PfVfReport {
  int32_t ifindex = 0;          // the PF's ifindex
  std::string ifname;           // IFLA_IFNAME
  uint32_t num_vfs = 0;         // IFLA_NUM_VF (0 if absent: not a PCI device)
  bool has_vf_list = false;     // IFLA_VFINFO_LIST present (driver has ndo_get_vf_config)
  std::vector<VfLinkInfo> vfs;  // one per IFLA_VF_INFO, in kernel order
  const VfLinkInfo* find(uint32_t vf) const;
};

// A change to one VF: only the engaged fields go into the request.
struct VfChange {
  uint32_t vf = 0;                        // VF index on the PF
  std::optional<MacAddress> mac;          // IFLA_VF_MAC
  std::optional<lag::VlanId> vlan;        // IFLA_VF_VLAN_LIST / IFLA_VF_VLAN (with `qos`)
  uint32_t qos = 0;                       // sent with `vlan`
  std::optional<bool> spoof_check;        // IFLA_VF_SPOOFCHK
  std::optional<VfLinkState> link_state;  // IFLA_VF_LINK_STATE
  std::optional<bool> trust;              // IFLA_VF_TRUST
  bool empty() const { return !mac && !vlan && !spoof_check && !link_state && !trust; }
  std::string describe() const;  // "mac 52:54:.. vlan 100 spoof_check on"
};

// RTM_GETLINK of one PF by name with IFLA_EXT_MASK = ext_mask (default
// RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS: VF stats are not needed and
// would make the reply of a PF with many VFs outgrow a 64 KiB buffer).
netlink::Bytes buildGetPfVfs(std::string_view pf, uint32_t ext_mask);
netlink::Bytes buildGetPfVfs(std::string_view pf);
// RTM_SETLINK on the PF (NLM_F_REQUEST | NLM_F_ACK) with one IFLA_VF_INFO
// holding the change's attributes in the kernel's application order: MAC,
// VLAN, SPOOFCHK, LINK_STATE, TRUST.
netlink::Bytes buildSetVf(int32_t pf_ifindex, const VfChange& change,
                          VfVlanAttr vlan_attr = VfVlanAttr::kVlanList);

// Decodes the PF's RTM_NEWLINK. Strict: a wrong-sized VF struct, a VF index
// that disagrees between the attributes of one IFLA_VF_INFO, a link state
// outside 0..2 or a VLAN above 4095 is INVALID_ARGUMENT naming the
// attribute. IFLA_VF_BROADCAST, RATE, TX_RATE, RSS_QUERY_EN, GUIDs and STATS
// are skipped.
StatusOr<PfVfReport> parsePfVfReport(const netlink::Message& m);

// The change that takes `from` to `to` (fields equal in both are left out;
// a field the driver does not report is always sent).
VfChange diffVf(const VfLinkInfo& from, const VfConfig& to);
// The config a VfLinkInfo stands for (unreported spoof check / trust read
// as the VfConfig defaults).
VfConfig toConfig(const VfLinkInfo& info);

#define VFO_VF_NETLINK_STATS(X)                                        \
  X(reads, "RTM_GETLINK reads of a PF's VFs")                          \
  X(sets, "RTM_SETLINK requests that changed VF settings")             \
  X(unchanged, "apply() calls that found the VF already as wanted")    \
  X(set_errors, "RTM_SETLINK requests the kernel refused")             \
  X(mismatches, "read backs that disagreed with what was just set")    \
  X(restores, "rollbacks of a partly applied change that were needed") \
  X(restore_errors, "rollbacks that failed (VF left half changed)")
VFO_DECLARE_STATS(VfNetlinkStats, VFO_VF_NETLINK_STATS)

struct VfNetlinkOptions {
  Duration timeout = std::chrono::seconds(2);    // per netlink request
  VfVlanAttr vlan_attr = VfVlanAttr::kVlanList;  // how the VLAN is sent
};

// VF reads and transactional VF changes through one netlink socket.
class VfNetlink {
 public:
  explicit VfNetlink(netlink::NetlinkSocket& socket, VfNetlinkOptions options = {})
      : socket_(socket), options_(options) {}

  // The PF's VF report. NOT_FOUND if the PF netdev does not exist (ENODEV);
  // errors name the PF.
  StatusOr<PfVfReport> read(const std::string& pf);

  // Sets VF `vf` of `pf` to `want`:
  //  1. reads the PF; NOT_FOUND if the VF does not exist, FAILED_PRECONDITION
  //     if the driver reports no VF configuration (cannot be verified);
  //  2. sends the difference only (nothing when the VF already matches);
  //  3. reads back and checks every field the driver reports;
  //  4. on an error in 2 or a mismatch in 3, restores the previous value of
  //     every field that moved, then returns the error (kernel error code,
  //     or UNAVAILABLE for a mismatch), naming the PF and VF. A failed
  //     restore is appended to the message and logged.
  // Returns the VF as read back.
  StatusOr<VfLinkInfo> apply(const std::string& pf, uint32_t vf, const VfConfig& want);

  const VfNetlinkOptions& options() const { return options_; }
  VfNetlinkStatsSnapshot stats() const { return stats_.snapshot(); }

 private:
  Status send(int32_t ifindex, const VfChange& change);
  // Best-effort return to `prev` of the fields in `attempted`; returns what
  // went wrong, OK when the VF is back where it was.
  Status restore(const std::string& pf, int32_t ifindex, const VfLinkInfo& prev,
                 const VfChange& attempted);

  netlink::NetlinkSocket& socket_;
  VfNetlinkOptions options_;
  VfNetlinkStats stats_;
};

}  // namespace vfo::sriov
