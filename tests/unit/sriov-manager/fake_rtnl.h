// A small rtnetlink "kernel" for the SR-IOV manager's tests, installed on a
// FakeNetlinkSocket through its request handlers. It keeps a link table
// (plain links, SR-IOV PFs with VF settings, macvlans) and answers
// RTM_GETLINK (one link or a dump, RTEXT_FILTER_VF), RTM_NEWLINK (macvlan
// creation), RTM_SETLINK (address, alias, flags, IFLA_VFINFO_LIST,
// IFLA_AF_SPEC inet6 addr_gen_mode) and RTM_DELLINK the way the kernel does:
//  - do_setlink order: validate (IFLA_AF_SPEC without IPv6 -> EAFNOSUPPORT
//    before anything changes), IFLA_ADDRESS, IFLA_IFALIAS, flags,
//    IFLA_VFINFO_LIST, IFLA_AF_SPEC; the first error returns and what was
//    done stays done;
//  - do_setvfinfo order per IFLA_VF_INFO: MAC, VLAN, VLAN_LIST, SPOOFCHK,
//    LINK_STATE, TRUST; the first driver error returns, earlier settings stay;
//  - replies carry the attributes the code under test reads, VF info in
//    rtnl_fill_vfinfo order (the byte-exact 6.1 layout is checked separately
//    against the golden messages).
// Driver quirks can be scripted: an attribute that fails, one that is
// accepted but not applied, spoof check / trust not reported.
#pragma once

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vfo/netlink/fake_netlink_socket.h"
#include "vfo/sriov/vf_netlink.h"

namespace vfo::sriov::testing {

class FakeRtnl {
 public:
  struct Link {
    int32_t ifindex = 0;                                      // ifi_index
    std::string name;                                         // IFLA_IFNAME
    std::string kind;                                         // IFLA_INFO_KIND ("" for a NIC)
    int32_t lower = 0;                                        // IFLA_LINK for stacked devices
    MacAddress mac;                                           // IFLA_ADDRESS
    uint32_t flags = IFF_UP | IFF_BROADCAST | IFF_MULTICAST;  // ifi_flags
    std::string alias;                                        // IFLA_IFALIAS
    uint32_t macvlan_mode = 0;                                // IFLA_MACVLAN_MODE
    uint8_t addr_gen_mode = 0;                                // IFLA_INET6_ADDR_GEN_MODE
    bool pf = false;                                          // has IFLA_NUM_VF / IFLA_VFINFO_LIST
    bool reports_vf_config = true;                            // ndo_get_vf_config present
    bool reports_spoof = true;    // driver answers the spoof check query
    bool reports_trust = true;    // driver answers the trust query
    std::vector<VfLinkInfo> vfs;  // VF settings (spoof/trust always engaged here)
  };

  explicit FakeRtnl(netlink::FakeNetlinkSocket& sock) {
    sock.setHandler(RTM_GETLINK,
                    [this](const netlink::Message& m, std::vector<netlink::Bytes>* out) {
                      return getLink(m, out);
                    });
    sock.setHandler(RTM_NEWLINK, [this](const netlink::Message& m, std::vector<netlink::Bytes>*) {
      return newLink(m);
    });
    sock.setHandler(RTM_SETLINK, [this](const netlink::Message& m, std::vector<netlink::Bytes>*) {
      return setLink(m);
    });
    sock.setHandler(RTM_DELLINK, [this](const netlink::Message& m, std::vector<netlink::Bytes>*) {
      return delLink(m);
    });
  }

  // ---- scene -------------------------------------------------------------------
  int32_t addLink(const std::string& name, const char* mac, const std::string& kind = "",
                  int32_t lower = 0) {
    Link l;
    l.ifindex = next_ifindex_++;
    l.name = name;
    l.kind = kind;
    l.lower = lower;
    l.mac = *MacAddress::parse(mac);
    if (kind.empty()) l.flags |= IFF_RUNNING | IFF_LOWER_UP;
    links_[l.ifindex] = l;
    return l.ifindex;
  }
  int32_t addPf(const std::string& name, const char* mac, uint32_t vfs) {
    int32_t idx = addLink(name, mac);
    Link& l = links_[idx];
    l.pf = true;
    for (uint32_t i = 0; i < vfs; ++i) {
      VfLinkInfo v;
      v.vf = i;
      v.spoof_check = true;
      v.trust = false;
      l.vfs.push_back(v);
    }
    return idx;
  }
  void setNextIfindex(int32_t i) { next_ifindex_ = i; }
  void disableIpv6() { ipv6_ = false; }

  Link* link(const std::string& name) {
    for (auto& [i, l] : links_)
      if (l.name == name) return &l;
    return nullptr;
  }
  Link* link(int32_t ifindex) {
    auto it = links_.find(ifindex);
    return it == links_.end() ? nullptr : &it->second;
  }
  VfLinkInfo& vf(const std::string& pf, uint32_t i) { return link(pf)->vfs.at(i); }
  size_t size() const { return links_.size(); }

  // The driver's next set of `vf_attr` (IFLA_VF_MAC, ...) fails with `err`.
  void failVfAttr(uint16_t vf_attr, int err) { vf_fail_[vf_attr] = err; }
  // The driver accepts `vf_attr` and changes nothing (seen only on read back).
  void ignoreVfAttr(uint16_t vf_attr) { vf_ignore_.insert(vf_attr); }
  // The next RTM_SETLINK carrying `attr` (top level) fails with `err`.
  void failSetAttr(uint16_t attr, int err) { set_fail_[attr] = err; }
  // RTM_SETLINK number `n` (0-based, counted from now) fails with `err`
  // before changing anything.
  void failNthSetLink(int n, int err) { nth_fail_[setlinks_ + n] = err; }
  int setLinks() const { return setlinks_; }

  // Requests that changed something, for order checks ("NEWLINK vfo2as0").
  std::vector<std::string> log;

 private:
  static std::optional<netlink::AttrTable> table(const netlink::Message& m, const ifinfomsg** ifi) {
    auto attrs = netlink::attributesAfter(m, sizeof(ifinfomsg));
    if (!attrs.isOk()) return std::nullopt;
    *ifi = reinterpret_cast<const ifinfomsg*>(m.payload.data());
    auto t = netlink::AttrTable::parse(*attrs, IFLA_MAX);
    if (!t.isOk()) return std::nullopt;
    return *t;
  }
  Link* find(const ifinfomsg& ifi, const netlink::AttrTable& t) {
    if (ifi.ifi_index > 0) return link(ifi.ifi_index);
    if (auto* n = t.get(IFLA_IFNAME)) {
      auto s = n->str("IFLA_IFNAME");
      if (s.isOk()) return link(*s);
    }
    return nullptr;
  }

  netlink::Bytes build(const Link& l, uint32_t ext_mask) const {
    netlink::MessageBuilder b(RTM_NEWLINK, 0);
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_type = 1;
    ifi.ifi_index = l.ifindex;
    ifi.ifi_flags = l.flags;
    b.family(ifi);
    b.putString(IFLA_IFNAME, l.name);
    if (!l.alias.empty()) b.putString(IFLA_IFALIAS, l.alias);
    b.put(IFLA_ADDRESS, l.mac.data(), 6);
    if (l.pf && (ext_mask & RTEXT_FILTER_VF)) {
      b.putU32(IFLA_NUM_VF, uint32_t(l.vfs.size()));
      if (l.reports_vf_config) {
        size_t list = b.beginNested(IFLA_VFINFO_LIST);
        for (const auto& v : l.vfs) putVf(b, l, v);
        b.endNested(list);
      }
    }
    if (!l.kind.empty()) {
      size_t li = b.beginNested(IFLA_LINKINFO);
      b.putString(IFLA_INFO_KIND, l.kind);
      if (l.kind == "macvlan") {
        size_t d = b.beginNested(IFLA_INFO_DATA);
        b.putU32(IFLA_MACVLAN_MODE, l.macvlan_mode);
        b.putU16(IFLA_MACVLAN_FLAGS, 0);
        b.endNested(d);
      }
      b.endNested(li);
    }
    if (l.lower) b.putU32(IFLA_LINK, uint32_t(l.lower));
    size_t spec = b.beginNested(IFLA_AF_SPEC);
    size_t in4 = b.beginNested(AF_INET);
    b.endNested(in4);
    if (ipv6_) {
      size_t in6 = b.beginNested(AF_INET6);
      b.putU8(IFLA_INET6_ADDR_GEN_MODE, l.addr_gen_mode);
      b.endNested(in6);
    }
    b.endNested(spec);
    return b.bytes();
  }

  static void putVf(netlink::MessageBuilder& b, const Link& l, const VfLinkInfo& v) {
    size_t info = b.beginNested(IFLA_VF_INFO);
    ifla_vf_mac mac{};
    mac.vf = v.vf;
    std::memcpy(mac.mac, v.mac.data(), 6);
    b.put(IFLA_VF_MAC, &mac, sizeof(mac));
    ifla_vf_broadcast bc{};
    std::memset(bc.broadcast, 0xff, 6);
    b.put(IFLA_VF_BROADCAST, &bc, sizeof(bc));
    ifla_vf_vlan vlan{v.vf, v.vlan, v.qos};
    b.put(IFLA_VF_VLAN, &vlan, sizeof(vlan));
    ifla_vf_rate rate{v.vf, 0, 0};
    b.put(IFLA_VF_RATE, &rate, sizeof(rate));
    ifla_vf_tx_rate tx{v.vf, 0};
    b.put(IFLA_VF_TX_RATE, &tx, sizeof(tx));
    ifla_vf_spoofchk sc{v.vf, l.reports_spoof ? uint32_t(v.spoof_check.value_or(false)) : ~0u};
    b.put(IFLA_VF_SPOOFCHK, &sc, sizeof(sc));
    ifla_vf_link_state ls{v.vf, uint32_t(v.link_state)};
    b.put(IFLA_VF_LINK_STATE, &ls, sizeof(ls));
    ifla_vf_rss_query_en rss{v.vf, ~0u};
    b.put(IFLA_VF_RSS_QUERY_EN, &rss, sizeof(rss));
    ifla_vf_trust tr{v.vf, l.reports_trust ? uint32_t(v.trust.value_or(false)) : ~0u};
    b.put(IFLA_VF_TRUST, &tr, sizeof(tr));
    size_t vl = b.beginNested(IFLA_VF_VLAN_LIST);
    ifla_vf_vlan_info vi{};
    vi.vf = v.vf;
    vi.vlan = v.vlan;
    vi.qos = v.qos;
    vi.vlan_proto = htons(v.vlan_proto);
    b.put(IFLA_VF_VLAN_INFO, &vi, sizeof(vi));
    b.endNested(vl);
    b.endNested(info);
  }

  int getLink(const netlink::Message& m, std::vector<netlink::Bytes>* out) {
    const ifinfomsg* ifi = nullptr;
    auto t = table(m, &ifi);
    if (!t) return EINVAL;
    uint32_t mask = 0;
    if (auto* a = t->get(IFLA_EXT_MASK)) mask = a->u32("IFLA_EXT_MASK").value();
    if ((m.flags & NLM_F_DUMP) == NLM_F_DUMP) {
      for (const auto& [i, l] : links_) out->push_back(build(l, mask));
      return 0;
    }
    Link* l = find(*ifi, *t);
    if (!l) return ENODEV;
    out->push_back(build(*l, mask));
    return 0;
  }

  int newLink(const netlink::Message& m) {
    const ifinfomsg* ifi = nullptr;
    auto t = table(m, &ifi);
    if (!t) return EINVAL;
    std::string name = t->get(IFLA_IFNAME)->str("IFLA_IFNAME").value();
    if (link(name)) return (m.flags & NLM_F_EXCL) ? EEXIST : EOPNOTSUPP;
    if (!(m.flags & NLM_F_CREATE)) return ENODEV;
    auto li = netlink::AttrTable::parse(t->get(IFLA_LINKINFO)->payload, IFLA_INFO_MAX).value();
    std::string kind = li.get(IFLA_INFO_KIND)->str("kind").value();
    if (kind != "macvlan") return EOPNOTSUPP;
    if (!t->get(IFLA_LINK)) return EINVAL;
    int32_t lower = int32_t(t->get(IFLA_LINK)->u32("IFLA_LINK").value());
    if (!link(lower)) return ENODEV;
    Link l;
    l.ifindex = next_ifindex_++;
    l.name = name;
    l.kind = kind;
    l.lower = lower;
    l.flags = IFF_BROADCAST | IFF_MULTICAST;
    l.flags = (l.flags & ~ifi->ifi_change) | (ifi->ifi_flags & ifi->ifi_change);
    if (auto* a = t->get(IFLA_ADDRESS)) l.mac = MacAddress::fromBytes(a->payload.data());
    if (auto* d = li.get(IFLA_INFO_DATA)) {
      auto dt = netlink::AttrTable::parse(d->payload, IFLA_MACVLAN_MAX).value();
      if (auto* mode = dt.get(IFLA_MACVLAN_MODE)) l.macvlan_mode = mode->u32("mode").value();
    }
    links_[l.ifindex] = l;
    log.push_back("NEWLINK " + name);
    return 0;
  }

  // One IFLA_VF_INFO, do_setvfinfo order; returns 0 or an errno.
  int setVf(Link& pf, const netlink::AttrTable& t) {
    auto vfOf = [&](const netlink::Attr* a) -> VfLinkInfo* {
      uint32_t idx;
      std::memcpy(&idx, a->payload.data(), 4);
      return idx < pf.vfs.size() ? &pf.vfs[idx] : nullptr;
    };
    auto driver = [&](uint16_t attr) -> int {
      auto it = vf_fail_.find(attr);
      if (it == vf_fail_.end()) return 0;
      int e = it->second;
      vf_fail_.erase(it);
      return e;
    };
    auto apply = [&](uint16_t attr) { return !vf_ignore_.count(attr); };
    if (auto* a = t.get(IFLA_VF_MAC)) {
      VfLinkInfo* v = vfOf(a);
      if (!v) return EINVAL;
      if (int e = driver(IFLA_VF_MAC)) return e;
      if (apply(IFLA_VF_MAC)) v->mac = MacAddress::fromBytes(a->payload.data() + 4);
      log.push_back(fmt::format("VF {} mac {}", v->vf, v->mac.toString()));
    }
    if (auto* a = t.get(IFLA_VF_VLAN)) {
      ifla_vf_vlan vv;
      std::memcpy(&vv, a->payload.data(), sizeof(vv));
      if (vv.vf >= pf.vfs.size()) return EINVAL;
      if (int e = driver(IFLA_VF_VLAN)) return e;
      if (apply(IFLA_VF_VLAN)) {
        pf.vfs[vv.vf].vlan = lag::VlanId(vv.vlan);
        pf.vfs[vv.vf].qos = vv.qos;
      }
      log.push_back(fmt::format("VF {} vlan {} (legacy)", vv.vf, vv.vlan));
    }
    if (auto* list = t.get(IFLA_VF_VLAN_LIST)) {
      netlink::AttrReader r(list->payload);
      netlink::Attr a;
      if (!r.next(&a) || a.type != IFLA_VF_VLAN_INFO || a.payload.size() < 16) return EINVAL;
      ifla_vf_vlan_info vi;
      std::memcpy(&vi, a.payload.data(), sizeof(vi));
      if (vi.vf >= pf.vfs.size()) return EINVAL;
      if (ntohs(vi.vlan_proto) != kVlanProto8021Q) return EPROTONOSUPPORT;
      if (int e = driver(IFLA_VF_VLAN_LIST)) return e;
      if (apply(IFLA_VF_VLAN_LIST)) {
        pf.vfs[vi.vf].vlan = lag::VlanId(vi.vlan);
        pf.vfs[vi.vf].qos = vi.qos;
      }
      log.push_back(fmt::format("VF {} vlan {}", vi.vf, vi.vlan));
    }
    if (auto* a = t.get(IFLA_VF_SPOOFCHK)) {
      VfLinkInfo* v = vfOf(a);
      if (!v) return EINVAL;
      if (!pf.reports_spoof) return EOPNOTSUPP;
      if (int e = driver(IFLA_VF_SPOOFCHK)) return e;
      uint32_t s;
      std::memcpy(&s, a->payload.data() + 4, 4);
      if (apply(IFLA_VF_SPOOFCHK)) v->spoof_check = s != 0;
      log.push_back(fmt::format("VF {} spoofchk {}", v->vf, s));
    }
    if (auto* a = t.get(IFLA_VF_LINK_STATE)) {
      VfLinkInfo* v = vfOf(a);
      if (!v) return EINVAL;
      if (int e = driver(IFLA_VF_LINK_STATE)) return e;
      uint32_t s;
      std::memcpy(&s, a->payload.data() + 4, 4);
      if (apply(IFLA_VF_LINK_STATE)) v->link_state = VfLinkState(s);
      log.push_back(fmt::format("VF {} link_state {}", v->vf, s));
    }
    if (auto* a = t.get(IFLA_VF_TRUST)) {
      VfLinkInfo* v = vfOf(a);
      if (!v) return EINVAL;
      if (!pf.reports_trust) return EOPNOTSUPP;
      if (int e = driver(IFLA_VF_TRUST)) return e;
      uint32_t s;
      std::memcpy(&s, a->payload.data() + 4, 4);
      if (apply(IFLA_VF_TRUST)) v->trust = s != 0;
      log.push_back(fmt::format("VF {} trust {}", v->vf, s));
    }
    return 0;
  }

  int setLink(const netlink::Message& m) {
    const ifinfomsg* ifi = nullptr;
    auto t = table(m, &ifi);
    if (!t) return EINVAL;
    Link* l = find(*ifi, *t);
    if (!l) return ENODEV;
    if (auto n = nth_fail_.find(setlinks_++); n != nth_fail_.end()) return n->second;
    for (auto it = set_fail_.begin(); it != set_fail_.end(); ++it) {
      if (t->get(it->first)) {
        int e = it->second;
        set_fail_.erase(it);
        return e;
      }
    }
    if (t->get(IFLA_AF_SPEC) && !ipv6_) return EAFNOSUPPORT;  // validate_linkmsg
    if (auto* a = t->get(IFLA_ADDRESS)) {
      MacAddress mac = MacAddress::fromBytes(a->payload.data());
      if (l->kind == "macvlan")
        for (auto& [i, o] : links_)
          if (&o != l && (o.ifindex == l->lower || (o.lower == l->lower && o.kind == "macvlan")) &&
              o.mac == mac)
            return EADDRINUSE;
      l->mac = mac;
      log.push_back("SETLINK " + l->name + " address " + mac.toString());
    }
    if (auto* a = t->get(IFLA_IFALIAS)) {
      l->alias.assign(reinterpret_cast<const char*>(a->payload.data()), a->payload.size());
      log.push_back("SETLINK " + l->name + " alias");
    }
    if (ifi->ifi_change || ifi->ifi_flags) {
      uint32_t change = ifi->ifi_change ? ifi->ifi_change : ~0u;
      l->flags = (l->flags & ~change) | (ifi->ifi_flags & change);
      if (l->flags & IFF_UP) l->flags |= IFF_RUNNING | IFF_LOWER_UP;
      log.push_back("SETLINK " + l->name + ((l->flags & IFF_UP) ? " up" : " down"));
    }
    if (auto* list = t->get(IFLA_VFINFO_LIST)) {
      if (!l->pf) return EOPNOTSUPP;
      netlink::AttrReader r(list->payload);
      netlink::Attr a;
      while (r.next(&a)) {
        if (a.type != IFLA_VF_INFO) return EINVAL;
        auto vt = netlink::AttrTable::parse(a.payload, IFLA_VF_MAX);
        if (!vt.isOk()) return EINVAL;
        if (int e = setVf(*l, *vt)) return e;
      }
    }
    if (auto* spec = t->get(IFLA_AF_SPEC)) {
      netlink::AttrReader r(spec->payload);
      netlink::Attr a;
      while (r.next(&a)) {
        if (a.type != AF_INET6) continue;
        auto it = netlink::AttrTable::parse(a.payload, IFLA_INET6_MAX).value();
        if (auto* g = it.get(IFLA_INET6_ADDR_GEN_MODE)) {
          l->addr_gen_mode = g->u8("mode").value();
          log.push_back(fmt::format("SETLINK {} addr_gen_mode {}", l->name, l->addr_gen_mode));
        }
      }
    }
    return 0;
  }

  int delLink(const netlink::Message& m) {
    const ifinfomsg* ifi = nullptr;
    auto t = table(m, &ifi);
    if (!t) return EINVAL;
    Link* l = find(*ifi, *t);
    if (!l) return ENODEV;
    const int32_t gone = l->ifindex;
    log.push_back("DELLINK " + l->name);
    links_.erase(gone);
    for (auto it = links_.begin(); it != links_.end();)
      it = it->second.lower == gone ? links_.erase(it) : std::next(it);
    return 0;
  }

  std::map<int32_t, Link> links_;
  int32_t next_ifindex_ = 2;
  bool ipv6_ = true;
  std::map<uint16_t, int> vf_fail_;
  std::set<uint16_t> vf_ignore_;
  std::map<uint16_t, int> set_fail_;
  std::map<int, int> nth_fail_;
  int setlinks_ = 0;
};

}  // namespace vfo::sriov::testing
