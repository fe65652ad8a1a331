#include "vfo/sriov/vf_netlink.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "vfo/base/log.h"
#include "vfo/netlink/link_message.h"

namespace vfo::sriov {

// The uapi structs as the kernel lays them out (x86-64 and every other
// Linux ABI: no member needs more than 4-byte alignment).
static_assert(sizeof(ifla_vf_mac) == 36);
static_assert(sizeof(ifla_vf_vlan) == 12);
static_assert(sizeof(ifla_vf_vlan_info) == 16);  // 14 bytes of fields + 2 of tail padding
static_assert(sizeof(ifla_vf_spoofchk) == 8);
static_assert(sizeof(ifla_vf_link_state) == 8);
static_assert(sizeof(ifla_vf_trust) == 8);
static_assert(uint8_t(VfLinkState::kAuto) == IFLA_VF_LINK_STATE_AUTO &&
              uint8_t(VfLinkState::kEnable) == IFLA_VF_LINK_STATE_ENABLE &&
              uint8_t(VfLinkState::kDisable) == IFLA_VF_LINK_STATE_DISABLE);

namespace {

using netlink::Attr;
using netlink::AttrReader;
using netlink::AttrTable;
using netlink::Bytes;
using netlink::MessageBuilder;

const Logger kLog("sriov");

// A driver that does not implement a query leaves the preset -1.
constexpr uint32_t kNotReported = 0xffffffffu;

template <typename T>
StatusOr<T> exact(const Attr& a, std::string_view what) {
  if (a.payload.size() != sizeof(T))
    return invalidArgument(
        fmt::format("{}: payload is {} bytes, want {}", what, a.payload.size(), sizeof(T)));
  T v;
  std::memcpy(&v, a.payload.data(), sizeof(T));
  return v;
}

StatusOr<std::optional<bool>> optionalBool(uint32_t setting, std::string_view what) {
  if (setting == kNotReported) return std::optional<bool>();
  if (setting > 1)
    return invalidArgument(fmt::format("{}: setting {} is not 0, 1 or -1", what, setting));
  return std::optional<bool>(setting == 1);
}

std::string onOff(bool b) {
  return b ? "on" : "off";
}

// Decodes one IFLA_VF_INFO nest.
StatusOr<VfLinkInfo> parseVfInfo(const Attr& nest) {
  VFO_ASSIGN_OR_RETURN(AttrTable t, AttrTable::parse(nest.payload, IFLA_VF_MAX));
  VfLinkInfo vf;
  const Attr* mac_attr = t.get(IFLA_VF_MAC);
  if (!mac_attr) return invalidArgument("IFLA_VF_INFO: no IFLA_VF_MAC");
  VFO_ASSIGN_OR_RETURN(ifla_vf_mac mac, exact<ifla_vf_mac>(*mac_attr, "IFLA_VF_MAC"));
  vf.vf = mac.vf;
  vf.mac = MacAddress::fromBytes(mac.mac);
  auto sameVf = [&](uint32_t other, std::string_view what) -> Status {
    if (other != vf.vf)
      return invalidArgument(
          fmt::format("{}: vf {} disagrees with IFLA_VF_MAC's vf {}", what, other, vf.vf));
    return okStatus();
  };
  bool have_vlan = false;
  if (const Attr* list = t.get(IFLA_VF_VLAN_LIST)) {
    AttrReader r(list->payload);
    Attr a;
    while (r.next(&a)) {
      if (a.type != IFLA_VF_VLAN_INFO)
        return invalidArgument(
            fmt::format("IFLA_VF_VLAN_LIST: attribute type {} is not IFLA_VF_VLAN_INFO", a.type));
      if (have_vlan) continue;  // the kernel reports one (MAX_VLAN_LIST_LEN); keep the first
      VFO_ASSIGN_OR_RETURN(ifla_vf_vlan_info info,
                           exact<ifla_vf_vlan_info>(a, "IFLA_VF_VLAN_INFO"));
      VFO_RETURN_IF_ERROR(sameVf(info.vf, "IFLA_VF_VLAN_INFO"));
      if (info.vlan > 4095)
        return invalidArgument(fmt::format("IFLA_VF_VLAN_INFO: vlan {} above 4095", info.vlan));
      vf.vlan = lag::VlanId(info.vlan);
      vf.qos = info.qos;
      vf.vlan_proto = ntohs(info.vlan_proto);
      have_vlan = true;
    }
    if (!r.status().isOk()) return r.status().withContext("IFLA_VF_VLAN_LIST");
  }
  if (const Attr* a = t.get(IFLA_VF_VLAN); a && !have_vlan) {
    VFO_ASSIGN_OR_RETURN(ifla_vf_vlan v, exact<ifla_vf_vlan>(*a, "IFLA_VF_VLAN"));
    VFO_RETURN_IF_ERROR(sameVf(v.vf, "IFLA_VF_VLAN"));
    if (v.vlan > 4095)
      return invalidArgument(fmt::format("IFLA_VF_VLAN: vlan {} above 4095", v.vlan));
    vf.vlan = lag::VlanId(v.vlan);
    vf.qos = v.qos;
  }
  if (const Attr* a = t.get(IFLA_VF_SPOOFCHK)) {
    VFO_ASSIGN_OR_RETURN(ifla_vf_spoofchk s, exact<ifla_vf_spoofchk>(*a, "IFLA_VF_SPOOFCHK"));
    VFO_RETURN_IF_ERROR(sameVf(s.vf, "IFLA_VF_SPOOFCHK"));
    VFO_ASSIGN_OR_RETURN(vf.spoof_check, optionalBool(s.setting, "IFLA_VF_SPOOFCHK"));
  }
  if (const Attr* a = t.get(IFLA_VF_LINK_STATE)) {
    VFO_ASSIGN_OR_RETURN(ifla_vf_link_state l, exact<ifla_vf_link_state>(*a, "IFLA_VF_LINK_STATE"));
    VFO_RETURN_IF_ERROR(sameVf(l.vf, "IFLA_VF_LINK_STATE"));
    if (l.link_state > IFLA_VF_LINK_STATE_DISABLE)
      return invalidArgument(
          fmt::format("IFLA_VF_LINK_STATE: {} is not auto, enable or disable", l.link_state));
    vf.link_state = VfLinkState(l.link_state);
  }
  if (const Attr* a = t.get(IFLA_VF_TRUST)) {
    VFO_ASSIGN_OR_RETURN(ifla_vf_trust tr, exact<ifla_vf_trust>(*a, "IFLA_VF_TRUST"));
    VFO_RETURN_IF_ERROR(sameVf(tr.vf, "IFLA_VF_TRUST"));
    VFO_ASSIGN_OR_RETURN(vf.trust, optionalBool(tr.setting, "IFLA_VF_TRUST"));
  }
  return vf;
}

// Fields of `c` that differ between `a` and `b` (as far as both report them).
VfChange movedFields(const VfChange& c, const VfLinkInfo& prev, const VfLinkInfo& now) {
  VfChange out;
  out.vf = c.vf;
  if (c.mac && now.mac != prev.mac) out.mac = prev.mac;
  if (c.vlan && (now.vlan != prev.vlan || now.qos != prev.qos)) {
    out.vlan = prev.vlan;
    out.qos = prev.qos;
  }
  if (c.spoof_check && prev.spoof_check && now.spoof_check != prev.spoof_check)
    out.spoof_check = prev.spoof_check;
  if (c.link_state && now.link_state != prev.link_state) out.link_state = prev.link_state;
  if (c.trust && prev.trust && now.trust != prev.trust) out.trust = prev.trust;
  return out;
}

// Every field of `c`, set back to `prev` (used when the VF cannot be re-read).
VfChange allFields(const VfChange& c, const VfLinkInfo& prev) {
  VfChange out;
  out.vf = c.vf;
  if (c.mac) out.mac = prev.mac;
  if (c.vlan) {
    out.vlan = prev.vlan;
    out.qos = prev.qos;
  }
  if (c.spoof_check && prev.spoof_check) out.spoof_check = prev.spoof_check;
  if (c.link_state) out.link_state = prev.link_state;
  if (c.trust && prev.trust) out.trust = prev.trust;
  return out;
}

}  // namespace

const VfLinkInfo* PfVfReport::find(uint32_t vf) const {
  for (const auto& v : vfs)
    if (v.vf == vf) return &v;
  return nullptr;
}

std::string VfChange::describe() const {
  std::string s;
  auto add = [&](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
  if (mac) add("mac " + mac->toString());
  if (vlan) add(qos ? fmt::format("vlan {} qos {}", *vlan, qos) : fmt::format("vlan {}", *vlan));
  if (spoof_check) add("spoof_check " + onOff(*spoof_check));
  if (link_state) add(fmt::format("link_state {}", vfLinkStateName(*link_state)));
  if (trust) add("trust " + onOff(*trust));
  return s.empty() ? "nothing" : s;
}

Bytes buildGetPfVfs(std::string_view pf, uint32_t ext_mask) {
  MessageBuilder b(RTM_GETLINK, NLM_F_REQUEST);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.family(ifi);
  b.putString(IFLA_IFNAME, pf);
  b.putU32(IFLA_EXT_MASK, ext_mask);
  return b.bytes();
}

Bytes buildGetPfVfs(std::string_view pf) {
  return buildGetPfVfs(pf, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
}

Bytes buildSetVf(int32_t pf_ifindex, const VfChange& c, VfVlanAttr vlan_attr) {
  MessageBuilder b(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = pf_ifindex;
  b.family(ifi);
  size_t list = b.beginNested(IFLA_VFINFO_LIST);
  size_t info = b.beginNested(IFLA_VF_INFO);
  if (c.mac) {
    ifla_vf_mac m{};
    m.vf = c.vf;
    std::memcpy(m.mac, c.mac->data(), 6);
    b.put(IFLA_VF_MAC, &m, sizeof(m));
  }
  if (c.vlan) {
    if (vlan_attr == VfVlanAttr::kVlanList) {
      size_t vl = b.beginNested(IFLA_VF_VLAN_LIST);
      ifla_vf_vlan_info v{};
      v.vf = c.vf;
      v.vlan = *c.vlan;
      v.qos = c.qos;
      v.vlan_proto = htons(kVlanProto8021Q);
      b.put(IFLA_VF_VLAN_INFO, &v, sizeof(v));
      b.endNested(vl);
    } else {
      ifla_vf_vlan v{};
      v.vf = c.vf;
      v.vlan = *c.vlan;
      v.qos = c.qos;
      b.put(IFLA_VF_VLAN, &v, sizeof(v));
    }
  }
  if (c.spoof_check) {
    ifla_vf_spoofchk s{};
    s.vf = c.vf;
    s.setting = *c.spoof_check ? 1 : 0;
    b.put(IFLA_VF_SPOOFCHK, &s, sizeof(s));
  }
  if (c.link_state) {
    ifla_vf_link_state l{};
    l.vf = c.vf;
    l.link_state = uint32_t(*c.link_state);
    b.put(IFLA_VF_LINK_STATE, &l, sizeof(l));
  }
  if (c.trust) {
    ifla_vf_trust t{};
    t.vf = c.vf;
    t.setting = *c.trust ? 1 : 0;
    b.put(IFLA_VF_TRUST, &t, sizeof(t));
  }
  b.endNested(info);
  b.endNested(list);
  return b.bytes();
}

StatusOr<PfVfReport> parsePfVfReport(const netlink::Message& m) {
  if (m.type != RTM_NEWLINK)
    return invalidArgument(
        fmt::format("{} is not the RTM_NEWLINK reply of a PF", netlink::messageTypeName(m.type)));
  VFO_ASSIGN_OR_RETURN(netlink::LinkMessage lm, netlink::parseLinkMessage(m));
  PfVfReport r;
  r.ifindex = lm.ifindex;
  r.ifname = lm.ifname;
  auto ctx = [&](const Status& s) { return s.withContext(fmt::format("PF {}", r.ifname)); };
  VFO_ASSIGN_OR_RETURN(netlink::ByteSpan attrs, netlink::attributesAfter(m, sizeof(ifinfomsg)));
  VFO_ASSIGN_OR_RETURN(AttrTable t, AttrTable::parse(attrs, IFLA_MAX));
  if (const Attr* a = t.get(IFLA_NUM_VF)) {
    auto n = a->u32("IFLA_NUM_VF");
    if (!n.isOk()) return ctx(n.status());
    r.num_vfs = *n;
  }
  if (const Attr* list = t.get(IFLA_VFINFO_LIST)) {
    r.has_vf_list = true;
    AttrReader rd(list->payload);
    Attr a;
    while (rd.next(&a)) {
      if (a.type != IFLA_VF_INFO)
        return ctx(invalidArgument(
            fmt::format("IFLA_VFINFO_LIST: attribute type {} is not IFLA_VF_INFO", a.type)));
      auto vf = parseVfInfo(a);
      if (!vf.isOk())
        return ctx(vf.status().withContext(fmt::format("IFLA_VF_INFO #{}", r.vfs.size())));
      r.vfs.push_back(*vf);
    }
    if (!rd.status().isOk()) return ctx(rd.status().withContext("IFLA_VFINFO_LIST"));
  }
  return r;
}

VfConfig toConfig(const VfLinkInfo& info) {
  VfConfig c;
  c.mac = info.mac;
  c.vlan = info.vlan;
  c.spoof_check = info.spoof_check.value_or(VfConfig{}.spoof_check);
  c.trust = info.trust.value_or(VfConfig{}.trust);
  c.link_state = info.link_state;
  return c;
}

VfChange diffVf(const VfLinkInfo& from, const VfConfig& to) {
  VfChange c;
  c.vf = from.vf;
  if (from.mac != to.mac) c.mac = to.mac;
  if (from.vlan != to.vlan || from.qos != 0 || from.vlan_proto != kVlanProto8021Q) c.vlan = to.vlan;
  // Spoof check is a safety setting: when the driver does not report it we
  // still ask for it, so that a driver without it fails loudly.
  if (!from.spoof_check || *from.spoof_check != to.spoof_check) c.spoof_check = to.spoof_check;
  if (from.link_state != to.link_state) c.link_state = to.link_state;
  // A driver that does not report trust never trusts a VF: only turning it
  // on needs the request.
  if (from.trust ? *from.trust != to.trust : to.trust) c.trust = to.trust;
  return c;
}

StatusOr<PfVfReport> VfNetlink::read(const std::string& pf) {
  bump(stats_.reads);
  std::optional<PfVfReport> report;
  Status parse_error;
  Status s = socket_.transact(
      buildGetPfVfs(pf),
      [&](const netlink::Message& m) -> Status {
        if (m.type != RTM_NEWLINK) return okStatus();
        auto r = parsePfVfReport(m);
        if (!r.isOk()) return r.status();
        report = std::move(*r);
        return okStatus();
      },
      options_.timeout);
  if (!s.isOk()) {
    if (s.code() == StatusCode::kNotFound)
      return notFound(fmt::format("PF {} does not exist ({})", pf, s.message()));
    return s.withContext(fmt::format("PF {}: read VFs", pf));
  }
  if (!report) return unavailable(fmt::format("PF {}: RTM_GETLINK answered without a link", pf));
  return std::move(*report);
}

Status VfNetlink::send(int32_t ifindex, const VfChange& change) {
  Status s =
      socket_.transact(buildSetVf(ifindex, change, options_.vlan_attr), nullptr, options_.timeout);
  bump(s.isOk() ? stats_.sets : stats_.set_errors);
  return s;
}

Status VfNetlink::restore(const std::string& pf, int32_t ifindex, const VfLinkInfo& prev,
                          const VfChange& attempted) {
  VfChange back;
  auto now = read(pf);
  const VfLinkInfo* cur = now.isOk() ? now->find(prev.vf) : nullptr;
  back = cur ? movedFields(attempted, prev, *cur) : allFields(attempted, prev);
  if (back.empty()) return okStatus();
  bump(stats_.restores);
  Status s = send(ifindex, back);
  if (!s.isOk()) bump(stats_.restore_errors);
  if (!s.isOk())
    kLog.error(fmt::format("[pf {} vf {}]", pf, prev.vf), "restoring {} failed: {}",
               back.describe(), s.toString());
  return s;
}

StatusOr<VfLinkInfo> VfNetlink::apply(const std::string& pf, uint32_t vf, const VfConfig& want) {
  const std::string who = fmt::format("PF {} VF {}", pf, vf);
  VFO_ASSIGN_OR_RETURN(PfVfReport before, read(pf));
  if (!before.has_vf_list)
    return failedPrecondition(fmt::format(
        "{}: the driver reports no VF configuration (no IFLA_VFINFO_LIST; IFLA_NUM_VF {})", who,
        before.num_vfs));
  const VfLinkInfo* prev_ptr = before.find(vf);
  if (!prev_ptr)
    return notFound(fmt::format("{} does not exist (the PF has {} VFs)", who, before.vfs.size()));
  const VfLinkInfo prev = *prev_ptr;
  const VfChange change = diffVf(prev, want);
  if (change.empty()) {
    bump(stats_.unchanged);
    return prev;
  }

  auto fail = [&](const Status& cause) -> Status {
    Status r = restore(pf, before.ifindex, prev, change);
    Status out = cause.withContext(fmt::format("{}: set {}", who, change.describe()));
    if (!r.isOk())
      return Status(out.code(), out.message() + "; restoring the previous settings failed too: " +
                                    r.toString());
    return out;
  };

  Status sent = send(before.ifindex, change);
  if (!sent.isOk()) return fail(sent);

  auto after = read(pf);
  if (!after.isOk()) return fail(after.status().withContext("read back"));
  const VfLinkInfo* now = after->find(vf);
  if (!now) return fail(unavailable("read back: the VF is gone"));
  std::string mismatch;
  auto differs = [&](bool bad, std::string what) {
    if (bad) mismatch += (mismatch.empty() ? "" : ", ") + what;
  };
  differs(now->mac != want.mac, "mac " + now->mac.toString());
  differs(now->vlan != want.vlan || now->qos != 0,
          fmt::format("vlan {} qos {}", now->vlan, now->qos));
  differs(now->spoof_check && *now->spoof_check != want.spoof_check,
          "spoof_check " + onOff(now->spoof_check.value_or(false)));
  differs(now->trust && *now->trust != want.trust, "trust " + onOff(now->trust.value_or(false)));
  differs(now->link_state != want.link_state,
          fmt::format("link_state {}", vfLinkStateName(now->link_state)));
  if (!mismatch.empty()) bump(stats_.mismatches);
  if (!mismatch.empty())
    return fail(
        unavailable(fmt::format("the driver accepted the request but reports {}", mismatch)));
  return *now;
}

}  // namespace vfo::sriov
