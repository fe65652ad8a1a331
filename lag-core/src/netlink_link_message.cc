#include <fmt/format.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "vfo/netlink/link_message.h"

namespace vfo::netlink {

static_assert(sizeof(ifinfomsg) == 16);

std::string_view operStateName(OperState s) {
  switch (s) {
    case OperState::kUnknown:
      return "unknown";
    case OperState::kNotPresent:
      return "notpresent";
    case OperState::kDown:
      return "down";
    case OperState::kLowerLayerDown:
      return "lowerlayerdown";
    case OperState::kTesting:
      return "testing";
    case OperState::kDormant:
      return "dormant";
    case OperState::kUp:
      return "up";
  }
  return "unknown";
}

StatusOr<OperState> parseOperState(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  for (uint8_t v = 0; v <= 6; ++v) {
    if (operStateName(OperState(v)) == text) return OperState(v);
  }
  return invalidArgument(fmt::format("operstate: '{}' is not an RFC 2863 state", text));
}

bool LinkMessage::adminUp() const {
  return flags & IFF_UP;
}
bool LinkMessage::lowerUp() const {
  return flags & IFF_LOWER_UP;
}
bool LinkMessage::isDelete() const {
  return msg_type == RTM_DELLINK;
}

namespace {

StatusOr<LinkInfo> parseLinkInfo(const Attr& a) {
  VFO_ASSIGN_OR_RETURN(AttrTable t, AttrTable::parse(a.payload, IFLA_INFO_MAX));
  LinkInfo li;
  if (auto* k = t.get(IFLA_INFO_KIND)) {
    VFO_ASSIGN_OR_RETURN(li.kind, k->str("IFLA_INFO_KIND"));
  }
  if (auto* d = t.get(IFLA_INFO_DATA)) {
    li.data = d->payload;
    li.has_data = true;
  }
  if (auto* k = t.get(IFLA_INFO_SLAVE_KIND)) {
    VFO_ASSIGN_OR_RETURN(li.slave_kind, k->str("IFLA_INFO_SLAVE_KIND"));
  }
  if (auto* d = t.get(IFLA_INFO_SLAVE_DATA)) {
    li.slave_data = d->payload;
    li.has_slave_data = true;
  }
  return li;
}

}  // namespace

StatusOr<LinkMessage> parseLinkMessage(const Message& m) {
  if (m.type != RTM_NEWLINK && m.type != RTM_DELLINK) {
    return invalidArgument(fmt::format("{} is not a link message (want RTM_NEWLINK or RTM_DELLINK)",
                                       messageTypeName(m.type)));
  }
  VFO_ASSIGN_OR_RETURN(ByteSpan attrs, attributesAfter(m, sizeof(ifinfomsg)));
  ifinfomsg ifi;
  std::memcpy(&ifi, m.payload.data(), sizeof(ifi));
  LinkMessage lm;
  lm.msg_type = m.type;
  lm.msg_flags = m.flags;
  lm.family = ifi.ifi_family;
  lm.ifindex = ifi.ifi_index;
  lm.dev_type = ifi.ifi_type;
  lm.flags = ifi.ifi_flags;
  lm.change = ifi.ifi_change;
  if (lm.ifindex <= 0) {
    return invalidArgument(fmt::format("{}: ifi_index {} is not a valid ifindex",
                                       messageTypeName(m.type), lm.ifindex));
  }
  auto ctx = [&](const Status& s) {
    return s.withContext(fmt::format("{} ifindex {}", messageTypeName(m.type), lm.ifindex));
  };
  auto table = AttrTable::parse(attrs, IFLA_MAX);
  if (!table.isOk()) return ctx(table.status());
  const AttrTable& t = *table;
  if (auto* a = t.get(IFLA_IFNAME)) {
    auto s = a->str("IFLA_IFNAME");
    if (!s.isOk()) return ctx(s.status());
    if (s->empty() || s->size() >= IFNAMSIZ) {
      return ctx(invalidArgument(fmt::format("IFLA_IFNAME: '{}' is not 1..15 characters", *s)));
    }
    lm.ifname = std::move(*s);
  }
  if (auto* a = t.get(IFLA_OPERSTATE)) {
    auto v = a->u8("IFLA_OPERSTATE");
    if (!v.isOk()) return ctx(v.status());
    if (*v > uint8_t(OperState::kUp)) {
      return ctx(invalidArgument(fmt::format("IFLA_OPERSTATE: {} is not an IF_OPER_* value", *v)));
    }
    lm.operstate = OperState(*v);
  }
  if (auto* a = t.get(IFLA_CARRIER)) {
    auto v = a->u8("IFLA_CARRIER");
    if (!v.isOk()) return ctx(v.status());
    lm.carrier = *v != 0;
  }
  if (auto* a = t.get(IFLA_MASTER)) {
    auto v = a->u32("IFLA_MASTER");
    if (!v.isOk()) return ctx(v.status());
    lm.master = *v;
  }
  if (auto* a = t.get(IFLA_EVENT)) {
    auto v = a->u32("IFLA_EVENT");
    if (!v.isOk()) return ctx(v.status());
    lm.event = *v;
  }
  if (auto* a = t.get(IFLA_LINK)) {
    auto v = a->u32("IFLA_LINK");
    if (!v.isOk()) return ctx(v.status());
    lm.link = *v;
  }
  if (auto* a = t.get(IFLA_ADDRESS)) {
    lm.address.assign(a->payload.begin(), a->payload.end());
  }
  if (auto* a = t.get(IFLA_IFALIAS)) {
    auto s = a->str("IFLA_IFALIAS");
    if (!s.isOk()) return ctx(s.status());
    lm.ifalias = std::move(*s);
  }
  if (auto* a = t.get(IFLA_LINKINFO)) {
    auto li = parseLinkInfo(*a);
    if (!li.isOk()) return ctx(li.status().withContext("IFLA_LINKINFO"));
    lm.linkinfo = std::move(*li);
  }
  return lm;
}

Bytes buildGetLinkDump(uint32_t seq) {
  MessageBuilder b(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  b.family(ifi);
  return b.bytes();
}

Bytes buildGetLink(int32_t ifindex, std::string_view ifname, uint32_t seq) {
  MessageBuilder b(RTM_GETLINK, NLM_F_REQUEST, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  b.family(ifi);
  if (ifindex == 0) b.putString(IFLA_IFNAME, ifname);
  return b.bytes();
}

Bytes buildSetLinkAdmin(int32_t ifindex, bool up, uint32_t seq) {
  MessageBuilder b(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  ifi.ifi_flags = up ? IFF_UP : 0;
  ifi.ifi_change = IFF_UP;
  b.family(ifi);
  return b.bytes();
}

Bytes buildDelLink(int32_t ifindex, uint32_t seq) {
  MessageBuilder b(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq);
  ifinfomsg ifi{};
  ifi.ifi_family = AF_UNSPEC;
  ifi.ifi_index = ifindex;
  b.family(ifi);
  return b.bytes();
}

}  // namespace vfo::netlink
