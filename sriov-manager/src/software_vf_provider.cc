#include "vfo/sriov/software_vf_provider.h"

#include <fmt/format.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <charconv>
#include <climits>
#include <cstdlib>
#include <map>

#include "vfo/base/log.h"
#include "vfo/sriov/sriov_sysfs.h"
#include "vfo/sriov/sysfs_sriov_provider.h"

namespace vfo::sriov {

namespace {

using netlink::Bytes;
using netlink::MessageBuilder;

const Logger kLog("sriov");
constexpr std::string_view kAliasTag = "vfo-swvf";
constexpr std::string_view kParkedAlias = "vfo-swvf parked";

std::string onOff(bool b) {
  return b ? "on" : "off";
}

StatusOr<bool> parseOnOff(std::string_view v, std::string_view key) {
  if (v == "on") return true;
  if (v == "off") return false;
  return invalidArgument(fmt::format("software VF record: {}={} is not on or off", key, v));
}

}  // namespace

std::string softwareVfName(int32_t member_ifindex, uint32_t slot) {
  return fmt::format("vfo{:x}s{:x}", uint32_t(member_ifindex), slot);
}

std::optional<std::pair<int32_t, uint32_t>> parseSoftwareVfName(std::string_view name) {
  if (name.size() < 6 || name.size() > 15 || name.substr(0, 3) != "vfo") return std::nullopt;
  const size_t s = name.find('s', 3);
  if (s == std::string_view::npos || s == 3 || s + 1 >= name.size()) return std::nullopt;
  uint64_t ifindex = 0;
  uint32_t slot = 0;
  const char* b = name.data();
  auto r1 = std::from_chars(b + 3, b + s, ifindex, 16);
  if (r1.ec != std::errc() || r1.ptr != b + s) return std::nullopt;
  auto r2 = std::from_chars(b + s + 1, b + name.size(), slot, 16);
  if (r2.ec != std::errc() || r2.ptr != b + name.size()) return std::nullopt;
  if (ifindex == 0 || ifindex > uint64_t(INT32_MAX) || slot >= kMaxSoftwareVfSlots)
    return std::nullopt;
  // Only the canonical spelling (lower-case, no leading zeros) is ours.
  if (softwareVfName(int32_t(ifindex), slot) != name) return std::nullopt;
  return std::make_pair(int32_t(ifindex), slot);
}

std::string softwareVfDevargs(SoftwareVfPmd pmd, std::string_view ifname) {
  const char* drv = pmd == SoftwareVfPmd::kAfXdp ? "net_af_xdp" : "net_af_packet";
  return fmt::format("{}_{},iface={}", drv, ifname, ifname);
}

std::string encodeSoftwareVfAlias(const VfConfig& c) {
  return fmt::format("{} vlan={} spoof_check={} trust={} link_state={}", kAliasTag, c.vlan,
                     onOff(c.spoof_check), onOff(c.trust), vfLinkStateName(c.link_state));
}

Status decodeSoftwareVfAlias(std::string_view alias, VfConfig* out) {
  VfConfig c = *out;
  size_t pos = 0;
  bool first = true;
  while (pos <= alias.size()) {
    size_t end = alias.find(' ', pos);
    if (end == std::string_view::npos) end = alias.size();
    std::string_view tok = alias.substr(pos, end - pos);
    pos = end + 1;
    if (tok.empty()) {
      if (end == alias.size()) break;
      continue;
    }
    if (first) {
      if (tok != kAliasTag)
        return invalidArgument(
            fmt::format("software VF record '{}' does not start with {}", alias, kAliasTag));
      first = false;
      continue;
    }
    const size_t eq = tok.find('=');
    if (eq == std::string_view::npos)
      return invalidArgument(fmt::format("software VF record: '{}' is not key=value", tok));
    std::string_view key = tok.substr(0, eq), v = tok.substr(eq + 1);
    if (key == "vlan") {
      unsigned vlan = 0;
      auto r = std::from_chars(v.data(), v.data() + v.size(), vlan);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size() || vlan > 4094)
        return invalidArgument(fmt::format("software VF record: vlan={} is not 0..4094", v));
      c.vlan = lag::VlanId(vlan);
    } else if (key == "spoof_check") {
      VFO_ASSIGN_OR_RETURN(c.spoof_check, parseOnOff(v, key));
    } else if (key == "trust") {
      VFO_ASSIGN_OR_RETURN(c.trust, parseOnOff(v, key));
    } else if (key == "link_state") {
      if (v == "auto")
        c.link_state = VfLinkState::kAuto;
      else if (v == "enable")
        c.link_state = VfLinkState::kEnable;
      else if (v == "disable")
        c.link_state = VfLinkState::kDisable;
      else
        return invalidArgument(
            fmt::format("software VF record: link_state={} is not auto, enable or disable", v));
    } else {
      return invalidArgument(fmt::format("software VF record: unknown key '{}'", key));
    }
  }
  if (first) return invalidArgument("software VF record is empty");
  *out = c;
  return okStatus();
}

Bytes buildNewMacvlan(int32_t member_ifindex, std::string_view name, const MacAddress& mac,
                      uint32_t mode) {
  MessageBuilder b(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_flags = IFF_NOARP;  // created down; the host never answers ARP on it
  ifi.ifi_change = IFF_NOARP;
  b.family(ifi);
  b.putString(IFLA_IFNAME, name);
  b.putU32(IFLA_LINK, uint32_t(member_ifindex));
  b.put(IFLA_ADDRESS, mac.data(), 6);
  size_t li = b.beginNested(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "macvlan");
  size_t data = b.beginNested(IFLA_INFO_DATA);
  b.putU32(IFLA_MACVLAN_MODE, mode);
  b.endNested(data);
  b.endNested(li);
  return b.bytes();
}

Bytes buildSetSoftwareVf(int32_t ifindex, const std::optional<MacAddress>& mac,
                         std::string_view alias, bool addr_gen_none) {
  MessageBuilder b(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  b.family(ifi);
  if (mac) b.put(IFLA_ADDRESS, mac->data(), 6);
  b.put(IFLA_IFALIAS, alias.data(), alias.size());
  if (addr_gen_none) {
    size_t spec = b.beginNested(IFLA_AF_SPEC);
    size_t inet6 = b.beginNested(AF_INET6);
    b.putU8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
    b.endNested(inet6);
    b.endNested(spec);
  }
  return b.bytes();
}

StatusOr<std::optional<MacvlanLink>> macvlanOf(const netlink::LinkMessage& lm) {
  if (!lm.linkinfo || lm.linkinfo->kind != "macvlan") return std::optional<MacvlanLink>();
  MacvlanLink m;
  m.ifindex = lm.ifindex;
  m.ifname = lm.ifname;
  m.lower = lm.link ? int32_t(*lm.link) : 0;
  if (lm.address.size() != 6)
    return invalidArgument(
        fmt::format("macvlan {}: IFLA_ADDRESS is {} bytes, want 6", lm.ifname, lm.address.size()));
  m.mac = MacAddress::fromBytes(lm.address.data());
  m.admin_up = lm.flags & IFF_UP;
  m.noarp = lm.flags & IFF_NOARP;
  m.alias = lm.ifalias;
  if (lm.linkinfo->has_data) {
    auto t = netlink::AttrTable::parse(lm.linkinfo->data, IFLA_MACVLAN_MAX);
    if (!t.isOk())
      return t.status().withContext(fmt::format("macvlan {} IFLA_INFO_DATA", m.ifname));
    if (const netlink::Attr* a = t->get(IFLA_MACVLAN_MODE)) {
      auto mode = a->u32("IFLA_MACVLAN_MODE");
      if (!mode.isOk()) return mode.status().withContext(fmt::format("macvlan {}", m.ifname));
      m.mode = *mode;
    }
  }
  return std::optional<MacvlanLink>(std::move(m));
}

// ---- provider ----------------------------------------------------------------

Status SoftwareVfProvider::validate(const SoftwareVfOptions& o) {
  if (o.capacity == 0 || o.capacity > kMaxSoftwareVfSlots)
    return invalidArgument(
        fmt::format("capacity: {} is outside 1..{}", o.capacity, kMaxSoftwareVfSlots));
  if (o.timeout <= Duration::zero()) return invalidArgument("timeout: must be positive");
  return okStatus();
}

SoftwareVfProvider::SoftwareVfProvider(netlink::NetlinkSocket& socket, SoftwareVfOptions options)
    : socket_(socket), options_(options) {
  Status s = validate(options_);
  if (!s.isOk()) {
    kLog.error("[software-vf]", "invalid options: {}", s.toString());
    std::abort();
  }
}

StatusOr<SoftwareVfProvider::LinkView> SoftwareVfProvider::view(const netlink::Message& m) {
  VFO_ASSIGN_OR_RETURN(netlink::LinkMessage lm, netlink::parseLinkMessage(m));
  LinkView v;
  v.ifindex = lm.ifindex;
  v.ifname = lm.ifname;
  if (lm.address.size() == 6) v.mac = MacAddress::fromBytes(lm.address.data());
  VFO_ASSIGN_OR_RETURN(v.macvlan, macvlanOf(lm));
  VFO_ASSIGN_OR_RETURN(netlink::ByteSpan attrs, netlink::attributesAfter(m, sizeof(ifinfomsg)));
  VFO_ASSIGN_OR_RETURN(netlink::AttrTable t, netlink::AttrTable::parse(attrs, IFLA_MAX));
  if (const netlink::Attr* spec = t.get(IFLA_AF_SPEC)) {
    netlink::AttrReader r(spec->payload);
    netlink::Attr a;
    while (r.next(&a))
      if (a.type == AF_INET6) v.has_inet6 = true;
  }
  return v;
}

Status SoftwareVfProvider::request(Bytes msg) {
  return socket_.transact(std::move(msg), nullptr, options_.timeout);
}

StatusOr<SoftwareVfProvider::LinkView> SoftwareVfProvider::getLink(const std::string& name) {
  VFO_RETURN_IF_ERROR(validateNetdevName(name));
  std::optional<LinkView> found;
  Status s = socket_.transact(
      netlink::buildGetLink(0, name),
      [&](const netlink::Message& m) -> Status {
        if (m.type != RTM_NEWLINK) return okStatus();
        VFO_ASSIGN_OR_RETURN(found, view(m));
        return okStatus();
      },
      options_.timeout);
  if (!s.isOk()) {
    if (s.code() == StatusCode::kNotFound)
      return notFound(fmt::format("link {} does not exist", name));
    return s.withContext(fmt::format("link {}", name));
  }
  if (!found) return unavailable(fmt::format("link {}: RTM_GETLINK answered without a link", name));
  return std::move(*found);
}

StatusOr<std::vector<SoftwareVfProvider::LinkView>> SoftwareVfProvider::dumpLinks() {
  std::vector<LinkView> links;
  Status s = socket_.transact(
      netlink::buildGetLinkDump(),
      [&](const netlink::Message& m) -> Status {
        if (m.type != RTM_NEWLINK) return okStatus();
        auto v = view(m);
        if (!v.isOk()) {
          // One odd link must not hide the others; it cannot be ours.
          kLog.warn("[software-vf]", "link dump: skipping a malformed link: {}",
                    v.status().toString());
          return okStatus();
        }
        links.push_back(std::move(*v));
        return okStatus();
      },
      options_.timeout);
  if (!s.isOk()) return s.withContext("link dump");
  return links;
}

VfState SoftwareVfProvider::stateOf(const std::string& member, uint32_t slot,
                                    const MacvlanLink& m) const {
  VfState s;
  s.ref = {member, slot};
  s.netdev = m.ifname;
  s.devargs = softwareVfDevargs(options_.pmd, m.ifname);
  if (m.alias == kParkedAlias) {  // parked: free (MAC zero), netdev and MAC kept
    s.parked_mac = m.mac;
    return s;
  }
  s.config.mac = m.mac;
  s.netdev_down = !m.admin_up;
  Status d = decodeSoftwareVfAlias(m.alias, &s.config);
  if (!d.isOk())
    kLog.warn(fmt::format("[vf {}]", s.ref.toString()),
              "{}: unreadable settings record '{}' ({}); reporting defaults", m.ifname, m.alias,
              d.message());
  return s;
}

StatusOr<std::vector<VfState>> SoftwareVfProvider::list(const std::string& member) {
  auto m = getLink(member);
  if (!m.isOk()) return m.status().withContext(fmt::format("member {}", member));
  VFO_ASSIGN_OR_RETURN(std::vector<LinkView> links, dumpLinks());
  std::map<std::string, const LinkView*> by_name;
  for (const auto& l : links) by_name[l.ifname] = &l;
  auto ours = [&](const LinkView& l) { return l.macvlan && l.macvlan->lower == m->ifindex; };

  std::vector<VfState> out;
  for (uint32_t slot = 0; slot < options_.capacity; ++slot) {
    const std::string name = softwareVfName(m->ifindex, slot);
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      VfState free;
      free.ref = {member, slot};
      out.push_back(std::move(free));
    } else if (ours(*it->second)) {
      out.push_back(stateOf(member, slot, *it->second->macvlan));
    } else {
      kLog.warn(fmt::format("[member {}]", member),
                "slot {} unusable: link {} exists and is not a macvlan on {}", slot, name, member);
    }
  }
  // Slots above the capacity that still have a macvlan (capacity lowered).
  for (const auto& l : links) {
    auto parsed = parseSoftwareVfName(l.ifname);
    if (parsed && parsed->first == m->ifindex && parsed->second >= options_.capacity && ours(l))
      out.push_back(stateOf(member, parsed->second, *l.macvlan));
  }
  return out;
}

Status SoftwareVfProvider::silenceIpv6(const LinkView& link, const std::string& alias) {
  VFO_RETURN_IF_ERROR(request(buildSetSoftwareVf(link.ifindex, std::nullopt, alias, link.has_inet6))
                          .withContext("set settings record and IPv6 addr_gen_mode none"));
  if (options_.proc_sys && link.has_inet6) {
    Status s = options_.proc_sys->write("net/ipv6/conf/" + link.ifname + "/disable_ipv6", "1");
    if (!s.isOk() && s.code() != StatusCode::kNotFound) return s.withContext("disable_ipv6");
  }
  return okStatus();
}

StatusOr<VfState> SoftwareVfProvider::finish(const VfRef& vf, const std::string& name,
                                             const VfConfig& config) {
  VFO_ASSIGN_OR_RETURN(LinkView before, getLink(name));
  VFO_RETURN_IF_ERROR(
      request(netlink::buildSetLinkAdmin(before.ifindex, true)).withContext("set up"));
  VFO_ASSIGN_OR_RETURN(LinkView now, getLink(name));
  const std::string alias = encodeSoftwareVfAlias(config);
  if (!now.macvlan || now.macvlan->mac != config.mac || now.macvlan->alias != alias ||
      !now.macvlan->admin_up)
    return unavailable(fmt::format(
        "read back: {} is {} (want macvlan, mac {}, record '{}', up)", name,
        now.macvlan ? fmt::format("mac {} record '{}' {}", now.macvlan->mac.toString(),
                                  now.macvlan->alias, now.macvlan->admin_up ? "up" : "down")
                    : std::string("not a macvlan"),
        config.mac.toString(), alias));
  return stateOf(vf.pf, vf.index, *now.macvlan);
}

StatusOr<VfState> SoftwareVfProvider::create(const VfRef& vf, int32_t member_ifindex,
                                             const std::string& name, const VfConfig& config) {
  const std::string who = fmt::format("software VF {} ({})", vf.toString(), name);
  Status made = request(buildNewMacvlan(member_ifindex, name, config.mac, MACVLAN_MODE_BRIDGE));
  if (!made.isOk()) {
    if (made.code() == StatusCode::kAlreadyExists)
      return alreadyExists(
          fmt::format("{}: the kernel answered EEXIST: a link named {} appeared meanwhile ({})",
                      who, name, made.message()));
    return made.withContext(who + ": create macvlan");
  }
  // From here on the macvlan is ours: delete it again on any error.
  auto rollback = [&](const Status& cause) -> Status {
    Status out = cause.withContext(who);
    bump(stats_.rollbacks);
    auto l = getLink(name);
    if (l.isOk() && l->macvlan && l->macvlan->lower == member_ifindex) {
      Status d = request(netlink::buildDelLink(l->ifindex));
      if (!d.isOk()) {
        bump(stats_.rollback_errors);
        kLog.error(fmt::format("[vf {}]", vf.toString()), "rollback: deleting {} failed: {}", name,
                   d.toString());
        return Status(out.code(),
                      out.message() + "; deleting the half-made macvlan failed: " + d.toString());
      }
    }
    return out;
  };
  auto link = getLink(name);
  if (!link.isOk()) return rollback(link.status());
  Status quiet = silenceIpv6(*link, encodeSoftwareVfAlias(config));
  if (!quiet.isOk()) return rollback(quiet);
  auto done = finish(vf, name, config);
  if (!done.isOk()) return rollback(done.status());
  bump(stats_.created);
  kLog.info(fmt::format("[vf {}]", vf.toString()), "created {} mac {} ({})", name,
            config.mac.toString(), encodeSoftwareVfAlias(config));
  return done;
}

StatusOr<VfState> SoftwareVfProvider::update(const VfRef& vf, const MacvlanLink& cur,
                                             const VfConfig& config) {
  const std::string who = fmt::format("software VF {} ({})", vf.toString(), cur.ifname);
  const std::string alias = encodeSoftwareVfAlias(config);
  const bool mac_moves = cur.mac != config.mac;
  if (!mac_moves && cur.alias == alias && cur.admin_up) return stateOf(vf.pf, vf.index, cur);
  auto restore = [&](const Status& cause) -> Status {
    Status out = cause.withContext(who);
    bump(stats_.rollbacks);
    Status r = request(buildSetSoftwareVf(cur.ifindex, cur.mac, cur.alias, false));
    if (!r.isOk()) {
      bump(stats_.rollback_errors);
      kLog.error(fmt::format("[vf {}]", vf.toString()), "restoring mac {} failed: {}",
                 cur.mac.toString(), r.toString());
      return Status(out.code(), out.message() + "; restoring the previous mac and record failed: " +
                                    r.toString());
    }
    return out;
  };
  Status set = request(buildSetSoftwareVf(
      cur.ifindex, mac_moves ? std::optional<MacAddress>(config.mac) : std::nullopt, alias, false));
  if (!set.isOk()) return restore(set.withContext("update mac and record"));
  auto done = finish(vf, cur.ifname, config);
  if (!done.isOk()) return restore(done.status());
  bump(stats_.updated);
  return done;
}

StatusOr<VfState> SoftwareVfProvider::configure(const VfRef& vf, const VfConfig& config) {
  VFO_RETURN_IF_ERROR(validateVfConfig(config));
  if (vf.index >= options_.capacity)
    return outOfRange(fmt::format("software VF {}: slot {} is outside the capacity {}",
                                  vf.toString(), vf.index, options_.capacity));
  auto member = getLink(vf.pf);
  if (!member.isOk()) return member.status().withContext(fmt::format("member {}", vf.pf));
  const std::string name = softwareVfName(member->ifindex, vf.index);
  VFO_ASSIGN_OR_RETURN(std::vector<LinkView> links, dumpLinks());
  const LinkView* existing = nullptr;
  for (const auto& l : links) {
    if (l.ifname == name) existing = &l;
    if (l.ifname != name && l.macvlan && l.macvlan->lower == member->ifindex &&
        l.macvlan->mac == config.mac) {
      if (l.macvlan->alias != kParkedAlias || !options_.park_on_reset)
        return alreadyExists(fmt::format("software VF {}: mac {} is already used by {} on {}",
                                         vf.toString(), config.mac.toString(), l.ifname, vf.pf));
      // A parked slot holds the MAC: move it to its parking MAC first.
      auto parked_slot = parseSoftwareVfName(l.ifname);
      Status moved = request(buildSetSoftwareVf(
          l.ifindex, softwareVfParkingMac(member->ifindex, parked_slot ? parked_slot->second : 0),
          kParkedAlias, false));
      if (!moved.isOk())
        return moved.withContext(fmt::format("software VF {}: free mac {} held by parked {}",
                                             vf.toString(), config.mac.toString(), l.ifname));
    }
  }
  if (member->mac && *member->mac == config.mac)
    return alreadyExists(fmt::format("software VF {}: mac {} is the member's own address",
                                     vf.toString(), config.mac.toString()));
  if (!existing) return create(vf, member->ifindex, name, config);
  if (!existing->macvlan || existing->macvlan->lower != member->ifindex) {
    bump(stats_.clashes);
    return alreadyExists(fmt::format(
        "software VF {}: link {} exists and is not a software VF of {} (name clash); left alone",
        vf.toString(), name, vf.pf));
  }
  return update(vf, *existing->macvlan, config);
}

Status SoftwareVfProvider::reset(const VfRef& vf) {
  if (vf.index >= kMaxSoftwareVfSlots)
    return outOfRange(fmt::format("software VF {}: slot {} is outside 0..{}", vf.toString(),
                                  vf.index, kMaxSoftwareVfSlots - 1));
  auto member = getLink(vf.pf);
  if (!member.isOk()) {
    // A member that is gone took its macvlans with it: nothing left to clean.
    if (member.status().code() == StatusCode::kNotFound) return okStatus();
    return member.status().withContext(fmt::format("member {}", vf.pf));
  }
  const std::string name = softwareVfName(member->ifindex, vf.index);
  auto link = getLink(name);
  if (!link.isOk())
    return link.status().code() == StatusCode::kNotFound ? okStatus() : link.status();
  if (!link->macvlan || link->macvlan->lower != member->ifindex)
    return failedPrecondition(
        fmt::format("software VF {}: link {} is not a software VF of {}; left alone", vf.toString(),
                    name, vf.pf));
  if (options_.park_on_reset) {
    if (link->macvlan->alias == kParkedAlias) return okStatus();
    // Down, with its MAC: a VM that comes back (restart) wants the same MAC
    // again, and a macvlan that is down takes a new MAC without the RCU
    // grace period an up one waits for (its hash entry is gone). Going down
    // pays that grace period once, here, so the next port's creation does
    // not.
    Status p = request(netlink::buildSetLinkAdmin(link->ifindex, false));
    if (p.isOk()) p = request(buildSetSoftwareVf(link->ifindex, std::nullopt, kParkedAlias, false));
    if (!p.isOk())
      return p.withContext(fmt::format("software VF {}: park {}", vf.toString(), name));
    bump(stats_.parked);
    kLog.info(fmt::format("[vf {}]", vf.toString()), "parked {}", name);
    return okStatus();
  }
  Status d = request(netlink::buildDelLink(link->ifindex));
  if (!d.isOk() && d.code() != StatusCode::kNotFound)
    return d.withContext(fmt::format("software VF {}: delete {}", vf.toString(), name));
  bump(stats_.deleted);
  kLog.info(fmt::format("[vf {}]", vf.toString()), "deleted {}", name);
  return okStatus();
}

StatusOr<int> SoftwareVfProvider::purgeParked(const std::string& member) {
  auto m = getLink(member);
  if (!m.isOk()) return m.status().code() == StatusCode::kNotFound ? StatusOr<int>(0) : m.status();
  VFO_ASSIGN_OR_RETURN(std::vector<LinkView> links, dumpLinks());
  int deleted = 0;
  for (const auto& l : links) {
    if (!l.macvlan || l.macvlan->lower != m->ifindex || l.macvlan->alias != kParkedAlias ||
        !parseSoftwareVfName(l.ifname))
      continue;
    Status d = request(netlink::buildDelLink(l.ifindex));
    if (!d.isOk() && d.code() != StatusCode::kNotFound)
      return d.withContext(fmt::format("member {}: delete parked {}", member, l.ifname));
    bump(stats_.deleted);
    ++deleted;
  }
  if (deleted)
    kLog.info(fmt::format("[member {}]", member), "{} parked software VFs deleted", deleted);
  return deleted;
}

MacAddress softwareVfParkingMac(int32_t member_ifindex, uint32_t slot) {
  return MacAddress(std::array<uint8_t, 6>{0x02, 0x76, uint8_t(uint32_t(member_ifindex) >> 8),
                                           uint8_t(member_ifindex), uint8_t(slot >> 8),
                                           uint8_t(slot)});
}

}  // namespace vfo::sriov
