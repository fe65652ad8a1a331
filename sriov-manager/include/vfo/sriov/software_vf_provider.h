// The software-VF provider (kind "software"): for hosts without SR-IOV (and
// the lab), a VF is a macvlan on the member netdev carrying the guest MAC,
// opened by vfod with DPDK's net_af_packet (or net_af_xdp).
//
// One macvlan per (member, slot):
//  - Slots: `capacity` per member (default 64, 1..4096). Slot i of the member
//    with ifindex X is the macvlan named "vfo<X in hex>s<i in hex>", e.g.
//    "vfo2as0" for ifindex 42 slot 0: at most 3 + 8 + 1 + 3 = 15 characters,
//    so it always fits IFNAMSIZ. The name is derived, never stored, so after
//    a restart the slots are found again by listing links: a macvlan with
//    that name whose IFLA_LINK is the member is slot i. A member re-created
//    under a new ifindex has lost its macvlans anyway (they die with their
//    lower device).
//  - Mode bridge (MACVLAN_MODE_BRIDGE): software VFs of several VMs on one
//    member reach each other inside the host, as VFs on one PF do through
//    the NIC's embedded switch. (private would cut them off; vepa needs the
//    ToR to hairpin; passthru allows one macvlan per member.) Because both
//    members carry a macvlan with the guest MAC, a frame from a local VM to
//    this guest lands on the macvlan of the member the SENDER uses, which may
//    be the guest's standby: vfod must receive on both VFs of a pair and
//    transmit on the active one (the same holds for hardware VFs).
//  - The macvlan is created down with IFF_NOARP (the host must never answer
//    ARP from the guest's MAC), then gets IPv6 address generation turned off
//    (IFLA_AF_SPEC / AF_INET6 / IFLA_INET6_ADDR_GEN_MODE = none: no
//    link-local address, so no DAD, router solicitation or MLD from the guest
//    MAC) and, when a /proc/sys seam is given, net.ipv6.conf.<if>.disable_ipv6
//    = 1; only then is it set up. Kernels without IPv6 (EAFNOSUPPORT) skip
//    both.
//  - devargs for vfod: "net_af_packet_<name>,iface=<name>" (or net_af_xdp_):
//    a DPDK vdev name must be unique per process; the macvlan name is unique
//    per (member, slot) and so per (port, member).
//  - VLAN: the macvlan stays untagged: macvlan demultiplexes on the
//    destination MAC, so tagged frames for the guest MAC reach it with their
//    tag (in the packet socket's auxdata, re-inserted by net_af_packet) and
//    vfod inserts / strips the port VLAN itself.
//  - Spoof check, trust and link state cannot be enforced by a macvlan: they
//    are recorded (with the VLAN) in the macvlan's IFLA_IFALIAS,
//    "vfo-swvf vlan=100 spoof_check=on trust=off link_state=auto", so list()
//    and adoption see them after a restart; vfod's datapath enforces the
//    source MAC check and the link state.
//
// Contract: configure() creates or updates slot i transactionally (a macvlan
// it created is deleted again on any later error; an update restores the
// previous MAC and record). reset() deletes the macvlan; a slot without one,
// or a member that no longer exists (its macvlans died with it), is clean.
// Errors: NOT_FOUND for a missing member (configure/list), ALREADY_EXISTS
// when the slot's name belongs to a link that is not this member's software
// VF, when the kernel answers EEXIST, or when the MAC is already used on the
// member; OUT_OF_RANGE for a slot >= capacity; INVALID_ARGUMENT for a bad
// config. Not thread-safe: one owner; the socket must be unsubscribed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/stats.h"
#include "vfo/netlink/link_message.h"
#include "vfo/netlink/netlink_socket.h"
#include "vfo/sriov/sysfs_io.h"
#include "vfo/sriov/vf_provider.h"

namespace vfo::sriov {

// The DPDK PMD vfod opens a software VF with.
enum class SoftwareVfPmd : uint8_t {
  kAfPacket = 0,  // net_af_packet (works on any netdev)
  kAfXdp = 1,     // net_af_xdp
};

inline constexpr uint32_t kMaxSoftwareVfSlots = 4096;  // slot index fits 3 hex digits

struct SoftwareVfOptions {
  uint32_t capacity = 64;                        // slots per member, 1..kMaxSoftwareVfSlots
  SoftwareVfPmd pmd = SoftwareVfPmd::kAfPacket;  // how vfod opens the macvlan
  Duration timeout = std::chrono::seconds(2);    // per netlink request
  // /proc/sys (DirectorySysfsIo("/proc/sys")) to write
  // net/ipv6/conf/<if>/disable_ipv6; null: only addr_gen_mode none is set.
  SysfsIo* proc_sys = nullptr;
  // reset() parks the macvlan instead of deleting it: it goes down, the
  // record becomes "vfo-swvf parked" and the MAC stays. A parked slot lists as free (MAC
  // zero, parked_mac set) but keeps its netdev, so an uplink opened on it can
  // stay open (vfod keeps the af_packet socket: opening one costs several RCU
  // grace periods) and the next configure() for the same MAC changes only the
  // record. A configure() elsewhere that needs a MAC a parked slot holds moves
  // that slot to its parking MAC first. purgeParked() deletes them.
  bool park_on_reset = false;
};

// The parking MAC of a slot: 02:76:<member ifindex, 2 bytes>:<slot, 2 bytes>.
MacAddress softwareVfParkingMac(int32_t member_ifindex, uint32_t slot);

// "vfo" + hex ifindex + "s" + hex slot. member_ifindex > 0, slot < 4096.
std::string softwareVfName(int32_t member_ifindex, uint32_t slot);
// The (member ifindex, slot) a name of that form stands for; nullopt for
// any other name (including non-canonical spellings such as leading zeros).
std::optional<std::pair<int32_t, uint32_t>> parseSoftwareVfName(std::string_view name);
std::string softwareVfDevargs(SoftwareVfPmd pmd, std::string_view ifname);

// The IFLA_IFALIAS record of a software VF's settings (not the MAC, which
// is the link's own address).
std::string encodeSoftwareVfAlias(const VfConfig& config);
// Reads vlan / spoof_check / trust / link_state from a record into *config;
// INVALID_ARGUMENT (nothing changed) for anything else.
Status decodeSoftwareVfAlias(std::string_view alias, VfConfig* config);

// Requests (bytes as values; the socket sets nlmsg_seq).
// RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL:
// ifinfomsg{ifi_flags = ifi_change = IFF_NOARP} IFLA_IFNAME, IFLA_LINK,
// IFLA_ADDRESS, IFLA_LINKINFO{IFLA_INFO_KIND "macvlan", IFLA_INFO_DATA
// {IFLA_MACVLAN_MODE}}.
netlink::Bytes buildNewMacvlan(int32_t member_ifindex, std::string_view name, const MacAddress& mac,
                               uint32_t mode);
// RTM_SETLINK of the macvlan, NLM_F_ACK: IFLA_ADDRESS if `mac`, IFLA_IFALIAS
// (without NUL, as iproute2 sends it), and with `addr_gen_none`
// IFLA_AF_SPEC{AF_INET6{IFLA_INET6_ADDR_GEN_MODE = IN6_ADDR_GEN_MODE_NONE}}.
netlink::Bytes buildSetSoftwareVf(int32_t ifindex, const std::optional<MacAddress>& mac,
                                  std::string_view alias, bool addr_gen_none);

// A macvlan as an RTM_NEWLINK shows it.
struct MacvlanLink {
  int32_t ifindex = 0;    // the macvlan
  std::string ifname;     // its name
  int32_t lower = 0;      // IFLA_LINK: the member's ifindex
  MacAddress mac;         // IFLA_ADDRESS
  uint32_t mode = 0;      // IFLA_MACVLAN_MODE (MACVLAN_MODE_*)
  bool admin_up = false;  // IFF_UP
  bool noarp = false;     // IFF_NOARP
  std::string alias;      // IFLA_IFALIAS
};
// nullopt if the link is not a macvlan; INVALID_ARGUMENT if it is one with
// a malformed IFLA_ADDRESS / IFLA_INFO_DATA.
StatusOr<std::optional<MacvlanLink>> macvlanOf(const netlink::LinkMessage& link);

#define VFO_SOFTWARE_VF_STATS(X)                                   \
  X(created, "macvlans created")                                   \
  X(updated, "macvlans updated in place (MAC or settings record)") \
  X(deleted, "macvlans deleted by reset")                          \
  X(parked, "macvlans parked by reset (kept for reuse)")           \
  X(rollbacks, "half-made or half-updated macvlans undone")        \
  X(rollback_errors, "undo steps that failed")                     \
  X(clashes, "slots refused: a foreign link holds the slot's name")
VFO_DECLARE_STATS(SoftwareVfStats, VFO_SOFTWARE_VF_STATS)

class SoftwareVfProvider : public VfProvider {
 public:
  // INVALID_ARGUMENT naming the field.
  static Status validate(const SoftwareVfOptions& options);
  // The socket must outlive the provider. Options must be valid.
  SoftwareVfProvider(netlink::NetlinkSocket& socket, SoftwareVfOptions options);

  std::string_view kind() const override { return "software"; }
  // The macvlans carry names only vfod gives: every one is vfod's.
  bool ownsEveryVf() const override { return true; }
  // Slots 0..capacity-1 in order (a slot without macvlan is free: zero MAC,
  // no netdev), then any slot >= capacity that still has a macvlan (left by
  // a larger capacity, so it is adopted or reported, never leaked). A slot
  // whose name a foreign link holds is left out (unusable) and logged.
  StatusOr<std::vector<VfState>> list(const std::string& member) override;
  StatusOr<VfState> configure(const VfRef& vf, const VfConfig& config) override;
  Status reset(const VfRef& vf) override;
  // Deletes every parked macvlan of `member` (vfod's clean stop). Returns
  // how many were deleted; NOT_FOUND members have none.
  StatusOr<int> purgeParked(const std::string& member);

  const SoftwareVfOptions& options() const { return options_; }
  SoftwareVfStatsSnapshot stats() const { return stats_.snapshot(); }

 private:
  // What the provider needs from one RTM_NEWLINK, copied out of the
  // datagram (LinkMessage spans do not outlive the reply callback).
  struct LinkView {
    int32_t ifindex = 0;                 // the link
    std::string ifname;                  // its name
    std::optional<MacAddress> mac;       // IFLA_ADDRESS when it is 6 bytes
    std::optional<MacvlanLink> macvlan;  // set when it is a macvlan
    bool has_inet6 = false;              // IFLA_AF_SPEC has AF_INET6: IPv6 runs on it
  };
  static StatusOr<LinkView> view(const netlink::Message& m);
  // RTM_GETLINK by name; NOT_FOUND when absent.
  StatusOr<LinkView> getLink(const std::string& name);
  // Every link (RTM_GETLINK dump).
  StatusOr<std::vector<LinkView>> dumpLinks();
  Status request(netlink::Bytes msg);
  VfState stateOf(const std::string& member, uint32_t slot, const MacvlanLink& m) const;
  StatusOr<VfState> create(const VfRef& vf, int32_t member_ifindex, const std::string& name,
                           const VfConfig& config);
  StatusOr<VfState> update(const VfRef& vf, const MacvlanLink& current, const VfConfig& config);
  // Sets the macvlan up and reads it back, checking MAC and record.
  StatusOr<VfState> finish(const VfRef& vf, const std::string& name, const VfConfig& config);
  // IPv6 off on a down macvlan (addr_gen_mode none + optional sysctl).
  Status silenceIpv6(const LinkView& link, const std::string& alias);

  netlink::NetlinkSocket& socket_;
  SoftwareVfOptions options_;
  SoftwareVfStats stats_;
};

}  // namespace vfo::sriov
