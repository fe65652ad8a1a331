// Netlink builder/parser bytes, strict bounds, error mapping, and the fake
// socket's scripted replies and errors.
#include "vfo/netlink/netlink_message.h"

#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>

#include "vfo/netlink/fake_netlink_socket.h"
#include "vfo/netlink/link_message.h"

namespace vfo::netlink {
namespace {

ifinfomsg ifi(int32_t index, uint32_t flags = 0) {
  ifinfomsg i{};
  i.ifi_index = index;
  i.ifi_flags = flags;
  return i;
}

TEST(MessageBuilder, SetLinkAdminBytes) {
  Bytes got = buildSetLinkAdmin(7, false, 0);
  Bytes want = {
      0x20, 0x00, 0x00, 0x00,  // nlmsg_len 32
      0x13, 0x00,              // nlmsg_type RTM_SETLINK (19)
      0x05, 0x00,              // nlmsg_flags NLM_F_REQUEST | NLM_F_ACK
      0x00, 0x00, 0x00, 0x00,  // nlmsg_seq (the socket fills it)
      0x00, 0x00, 0x00, 0x00,  // nlmsg_pid
      0x00, 0x00,              // ifi_family AF_UNSPEC, pad
      0x00, 0x00,              // ifi_type
      0x07, 0x00, 0x00, 0x00,  // ifi_index 7
      0x00, 0x00, 0x00, 0x00,  // ifi_flags: IFF_UP cleared
      0x01, 0x00, 0x00, 0x00,  // ifi_change IFF_UP
  };
  EXPECT_EQ(got, want);
  Bytes up = buildSetLinkAdmin(7, true, 9);
  EXPECT_EQ(up[8], 9);   // seq
  EXPECT_EQ(up[24], 1);  // ifi_flags IFF_UP
}

TEST(MessageBuilder, GetLinkDumpBytes) {
  Bytes want = {
      0x20, 0x00, 0x00, 0x00,  // nlmsg_len 32
      0x12, 0x00,              // RTM_GETLINK (18)
      0x01, 0x03,              // NLM_F_REQUEST | NLM_F_DUMP (0x300)
      0x2a, 0x00, 0x00, 0x00,  // seq 42
      0x00, 0x00, 0x00, 0x00,  // pid
      0,    0,    0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // ifinfomsg, all zero
  };
  EXPECT_EQ(buildGetLinkDump(42), want);
}

TEST(MessageBuilder, NestedAttributesPaddingAndLengths) {
  MessageBuilder b(RTM_NEWLINK, NLM_F_MULTI, 0x01020304, 0x0a0b0c0d);
  b.family(ifi(3));
  b.putString(IFLA_IFNAME, "eth0");
  size_t li = b.beginNested(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "bond");
  size_t data = b.beginNested(IFLA_INFO_DATA);
  b.putU8(IFLA_BOND_MODE, 1);
  b.endNested(data);
  b.endNested(li);
  Bytes want = {
      0x48, 0x00, 0x00, 0x00,                          // nlmsg_len 72
      0x10, 0x00,                                      // RTM_NEWLINK (16)
      0x02, 0x00,                                      // NLM_F_MULTI
      0x04, 0x03, 0x02, 0x01,                          // seq
      0x0d, 0x0c, 0x0b, 0x0a,                          // pid
      0x00, 0x00, 0x00, 0x00,                          // family, pad, type
      0x03, 0x00, 0x00, 0x00,                          // ifindex 3
      0x00, 0x00, 0x00, 0x00,                          // flags
      0x00, 0x00, 0x00, 0x00,                          // change
      0x09, 0x00, 0x03, 0x00,                          // IFLA_IFNAME len 9
      'e',  't',  'h',  '0',  0x00, 0x00, 0x00, 0x00,  // "eth0\0" + 3 pad
      0x1c, 0x00, 0x12, 0x00,                          // IFLA_LINKINFO len 28 (no NLA_F_NESTED)
      0x09, 0x00, 0x01, 0x00,                          // IFLA_INFO_KIND len 9
      'b',  'o',  'n',  'd',  0x00, 0x00, 0x00, 0x00,  // "bond\0" + pad
      0x0c, 0x00, 0x02, 0x00,                          // IFLA_INFO_DATA len 12
      0x05, 0x00, 0x01, 0x00,                          // IFLA_BOND_MODE len 5
      0x01, 0x00, 0x00, 0x00,                          // active-backup + pad
  };
  EXPECT_EQ(b.bytes(), want);
}

// The shape sriov-manager needs: RTM_SETLINK on a PF with
// IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC { vf, mac[32] } } }.
TEST(MessageBuilder, SetLinkVfMacBytes) {
  MessageBuilder b(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
  b.family(ifi(6));
  size_t list = b.beginNested(IFLA_VFINFO_LIST);
  size_t info = b.beginNested(IFLA_VF_INFO);
  ifla_vf_mac mac{};
  mac.vf = 1;
  const uint8_t addr[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x07};
  std::memcpy(mac.mac, addr, sizeof(addr));
  b.put(IFLA_VF_MAC, &mac, sizeof(mac));
  b.endNested(info);
  b.endNested(list);
  Bytes want = {
      0x50, 0x00, 0x00, 0x00,                    // nlmsg_len 80
      0x13, 0x00, 0x05, 0x00,                    // RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK
      0,    0,    0,    0,    0,    0,    0, 0,  // seq, pid
      0,    0,    0,    0,                       // family, pad, type
      0x06, 0x00, 0x00, 0x00,                    // ifindex 6 (the PF)
      0,    0,    0,    0,    0,    0,    0, 0,  // flags, change
      0x30, 0x00, 0x16, 0x00,                    // IFLA_VFINFO_LIST (22) len 48
      0x2c, 0x00, 0x01, 0x00,                    // IFLA_VF_INFO (1) len 44
      0x28, 0x00, 0x01, 0x00,                    // IFLA_VF_MAC (1) len 40
      0x01, 0x00, 0x00, 0x00,                    // vf 1
      0x02, 0x00, 0x00, 0x00, 0x00, 0x07,        // mac
  };
  want.resize(80, 0);  // rest of mac[32]
  EXPECT_EQ(b.bytes(), want);
}

TEST(MessageBuilder, NestedFlagIsOptIn) {
  MessageBuilder b(RTM_NEWLINK, 0);
  size_t n = b.beginNested(IFLA_PROP_LIST, /*with_nested_flag=*/true);
  b.endNested(n);
  Bytes m = b.bytes();
  uint16_t type;
  std::memcpy(&type, m.data() + 18, 2);
  EXPECT_EQ(type, IFLA_PROP_LIST | NLA_F_NESTED);
}

TEST(AttrReader, IteratesAndStripsFlags) {
  MessageBuilder b(0, 0);
  b.putU32(1, 0xdeadbeef);
  size_t n = b.beginNested(2, true);
  b.putU8(1, 7);
  b.endNested(n);
  Bytes m = b.bytes();
  AttrReader r(ByteSpan(m).subspan(kNlmsgHeaderSize));
  Attr a;
  ASSERT_TRUE(r.next(&a));
  EXPECT_EQ(a.type, 1);
  EXPECT_EQ(*a.u32("x"), 0xdeadbeefu);
  ASSERT_TRUE(r.next(&a));
  EXPECT_EQ(a.type, 2);
  EXPECT_EQ(a.flags, NLA_F_NESTED);
  AttrReader inner(a.payload);
  Attr c;
  ASSERT_TRUE(inner.next(&c));
  EXPECT_EQ(*c.u8("y"), 7);
  EXPECT_FALSE(inner.next(&c));
  EXPECT_TRUE(inner.status().isOk());
  EXPECT_FALSE(r.next(&a));
  EXPECT_TRUE(r.status().isOk());
}

TEST(AttrReader, RejectsShortLengthLongLengthAndTrailingBytes) {
  {
    Bytes d = {0x03, 0x00, 0x01, 0x00};  // nla_len 3 < 4
    AttrReader r(d);
    Attr a;
    EXPECT_FALSE(r.next(&a));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("nla_len 3"), std::string::npos);
  }
  {
    Bytes d = {0x09, 0x00, 0x01, 0x00, 1, 2, 3, 4};  // claims 9, only 8
    AttrReader r(d);
    Attr a;
    EXPECT_FALSE(r.next(&a));
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  {
    Bytes d = {0x05, 0x00, 0x01, 0x00, 1, 0, 0, 0, 0xff, 0xff};  // 2 stray bytes
    AttrReader r(d);
    Attr a;
    EXPECT_TRUE(r.next(&a));
    EXPECT_FALSE(r.next(&a));
    EXPECT_NE(r.status().message().find("trailing"), std::string::npos);
  }
  {
    Bytes d = {0x05, 0x00, 0x01, 0x00, 1};  // last attribute without padding: fine
    AttrReader r(d);
    Attr a;
    EXPECT_TRUE(r.next(&a));
    EXPECT_FALSE(r.next(&a));
    EXPECT_TRUE(r.status().isOk());
  }
}

TEST(Attr, TypedAccessorsAreExact) {
  Bytes d = {0x08, 0x00, 0x04, 0x00, 1, 2, 3, 4};
  AttrReader r(d);
  Attr a;
  ASSERT_TRUE(r.next(&a));
  EXPECT_TRUE(a.u32("IFLA_MTU").isOk());
  auto bad = a.u8("IFLA_CARRIER");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(), "IFLA_CARRIER: payload is 4 bytes, want 1");
  auto s = a.str("IFLA_IFNAME");
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.status().message().find("NUL"), std::string::npos);
}

TEST(AttrTable, LastDuplicateWinsAndHighTypesAreSkipped) {
  MessageBuilder b(0, 0);
  b.putU32(IFLA_MTU, 1500);
  b.putU32(IFLA_MTU, 9000);
  b.putU32(999, 1);
  Bytes m = b.bytes();
  auto t = AttrTable::parse(ByteSpan(m).subspan(kNlmsgHeaderSize), IFLA_MAX);
  ASSERT_TRUE(t.isOk());
  EXPECT_EQ(*t->get(IFLA_MTU)->u32("mtu"), 9000u);
  EXPECT_FALSE(t->has(IFLA_CARRIER));
}

TEST(MessageReader, SplitsDatagramAndRejectsBadLengths) {
  Bytes d = buildDone(5, 6);
  Bytes second = buildSetLinkAdmin(1, true, 7);
  d.insert(d.end(), second.begin(), second.end());
  MessageReader r(d);
  Message m;
  ASSERT_TRUE(r.next(&m));
  EXPECT_EQ(m.type, NLMSG_DONE);
  EXPECT_EQ(m.seq, 5u);
  EXPECT_EQ(m.pid, 6u);
  ASSERT_TRUE(r.next(&m));
  EXPECT_EQ(m.type, RTM_SETLINK);
  EXPECT_EQ(m.payload.size(), 16u);
  EXPECT_FALSE(r.next(&m));
  EXPECT_TRUE(r.status().isOk());

  Bytes short_len = buildDone(1, 1);
  short_len[0] = 8;  // nlmsg_len below the header size
  MessageReader r2(short_len);
  EXPECT_FALSE(r2.next(&m));
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidArgument);

  Bytes long_len = buildDone(1, 1);
  long_len[0] = 200;
  MessageReader r3(long_len);
  EXPECT_FALSE(r3.next(&m));
  EXPECT_NE(r3.status().message().find("nlmsg_len 200"), std::string::npos);
}

TEST(StatusFromError, AckErrnoAndExtendedAck) {
  Bytes req = buildSetLinkAdmin(3, true, 11);
  MessageReader rr(req);
  Message rq;
  ASSERT_TRUE(rr.next(&rq));

  Bytes ack = buildError(rq, 0);
  MessageReader ra(ack);
  Message a;
  ASSERT_TRUE(ra.next(&a));
  EXPECT_TRUE(statusFromError(a, "netlink RTM_SETLINK").isOk());

  // NLMSG_ERROR -EBUSY, capped, with NLMSGERR_ATTR_MSG as the kernel sends it.
  MessageBuilder b(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 11, 0);
  nlmsgerr e{};
  e.error = -EBUSY;
  std::memcpy(&e.msg, req.data(), sizeof(nlmsghdr));
  b.family(e);
  b.putString(NLMSGERR_ATTR_MSG, "Device is enslaved");
  Bytes err = b.bytes();
  MessageReader re(err);
  Message em;
  ASSERT_TRUE(re.next(&em));
  Status s = statusFromError(em, "netlink RTM_SETLINK");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "netlink RTM_SETLINK: Device or resource busy (kernel: Device is enslaved)");

  Bytes runt = buildDone(1, 1);
  runt.resize(16);
  runt[0] = 16;
  runt[4] = NLMSG_ERROR;
  MessageReader rx(runt);
  Message xm;
  ASSERT_TRUE(rx.next(&xm));
  EXPECT_EQ(statusFromError(xm, "x").code(), StatusCode::kInvalidArgument);
}

Bytes vethMessage(uint16_t type, int32_t index, const std::string& name, uint32_t flags,
                  uint8_t carrier, uint8_t oper) {
  MessageBuilder b(type, 0);
  b.family(ifi(index, flags));
  b.putString(IFLA_IFNAME, name);
  b.putU8(IFLA_OPERSTATE, oper);
  b.putU32(IFLA_MTU, 1500);
  b.putU8(IFLA_CARRIER, carrier);
  size_t li = b.beginNested(IFLA_LINKINFO);
  b.putString(IFLA_INFO_KIND, "veth");
  b.endNested(li);
  return b.bytes();
}

TEST(LinkMessage, DecodesFields) {
  Bytes m = vethMessage(RTM_NEWLINK, 12, "pf0", IFF_UP | IFF_LOWER_UP, 1, IF_OPER_UP);
  MessageReader r(m);
  Message msg;
  ASSERT_TRUE(r.next(&msg));
  auto lm = parseLinkMessage(msg);
  ASSERT_TRUE(lm.isOk()) << lm.status().toString();
  EXPECT_EQ(lm->ifindex, 12);
  EXPECT_EQ(lm->ifname, "pf0");
  EXPECT_TRUE(lm->adminUp());
  EXPECT_TRUE(lm->lowerUp());
  EXPECT_EQ(lm->carrier, true);
  EXPECT_EQ(lm->operstate, OperState::kUp);
  ASSERT_TRUE(lm->linkinfo);
  EXPECT_EQ(lm->linkinfo->kind, "veth");
  EXPECT_FALSE(lm->linkinfo->has_data);
  EXPECT_FALSE(lm->master);
  EXPECT_FALSE(lm->isDelete());
}

TEST(LinkMessage, RejectsMalformedAttributesWithTheirName) {
  MessageBuilder b(RTM_NEWLINK, 0);
  b.family(ifi(4));
  b.putU32(IFLA_OPERSTATE, 6);  // u8 attribute sent as 4 bytes
  Bytes m = b.bytes();
  MessageReader r(m);
  Message msg;
  ASSERT_TRUE(r.next(&msg));
  auto lm = parseLinkMessage(msg);
  ASSERT_FALSE(lm.isOk());
  EXPECT_NE(lm.status().message().find("IFLA_OPERSTATE"), std::string::npos);
  EXPECT_NE(lm.status().message().find("ifindex 4"), std::string::npos);

  MessageBuilder b2(RTM_NEWLINK, 0);
  b2.family(ifi(0));
  Bytes m2 = b2.bytes();
  MessageReader r2(m2);
  ASSERT_TRUE(r2.next(&msg));
  EXPECT_FALSE(parseLinkMessage(msg).isOk());

  MessageBuilder b3(RTM_NEWLINK, 0);
  b3.family(ifi(5));
  b3.putU8(IFLA_OPERSTATE, 9);  // no such IF_OPER_*
  Bytes m3 = b3.bytes();
  MessageReader r3(m3);
  ASSERT_TRUE(r3.next(&msg));
  EXPECT_FALSE(parseLinkMessage(msg).isOk());

  Bytes runt = buildDone(1, 1);  // 20 bytes: too short for ifinfomsg
  runt[4] = RTM_NEWLINK;
  MessageReader r4(runt);
  ASSERT_TRUE(r4.next(&msg));
  EXPECT_FALSE(parseLinkMessage(msg).isOk());

  Bytes done = buildDone(1, 1);
  MessageReader r5(done);
  ASSERT_TRUE(r5.next(&msg));
  EXPECT_FALSE(parseLinkMessage(msg).isOk());
}

TEST(OperState, ParsesSysfsSpelling) {
  EXPECT_EQ(*parseOperState("lowerlayerdown\n"), OperState::kLowerLayerDown);
  EXPECT_EQ(*parseOperState("up"), OperState::kUp);
  EXPECT_FALSE(parseOperState("sideways").isOk());
}

TEST(FakeNetlinkSocket, ScriptedErrorThenAck) {
  FakeClock clock;
  FakeNetlinkSocket sock(clock);
  sock.failNext(RTM_SETLINK, EBUSY);
  Status s = sock.transact(buildSetLinkAdmin(3, false), nullptr, std::chrono::seconds(1));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "netlink RTM_SETLINK: Device or resource busy");
  EXPECT_TRUE(sock.transact(buildSetLinkAdmin(3, false), nullptr, std::chrono::seconds(1)).isOk());
  auto sent = sock.sent();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0][6] & NLM_F_ACK, NLM_F_ACK);
  EXPECT_NE(sent[0][8], sent[1][8]);  // distinct sequence numbers
}

TEST(FakeNetlinkSocket, RepliesCarrySeqAndPortAndDumpsEndWithDone) {
  FakeClock clock;
  FakeNetlinkSocket sock(clock);
  sock.setReply(RTM_GETLINK, {vethMessage(RTM_NEWLINK, 2, "a", 0, 0, IF_OPER_DOWN)});
  int replies = 0;
  EXPECT_TRUE(sock.transact(
                      buildGetLink(2, "", 0),
                      [&](const Message& m) {
                        ++replies;
                        EXPECT_EQ(m.pid, FakeNetlinkSocket::kPortId);
                        return okStatus();
                      },
                      std::chrono::seconds(1))
                  .isOk());
  EXPECT_EQ(replies, 1);

  sock.setDumpReply(RTM_GETLINK,
                    {vethMessage(RTM_NEWLINK, 2, "a", 0, 0, IF_OPER_DOWN),
                     vethMessage(RTM_NEWLINK, 3, "b", 0, 0, IF_OPER_DOWN)},
                    2);
  auto seq = sock.send(buildGetLinkDump());
  ASSERT_TRUE(seq.isOk());
  auto r = sock.receive();
  ASSERT_TRUE(r.isOk());
  ASSERT_EQ(r->kind, ReceiveKind::kDatagram);
  MessageReader mr(r->bytes);
  Message m;
  int n = 0;
  while (mr.next(&m)) {
    EXPECT_EQ(m.seq, *seq);
    EXPECT_TRUE(m.flags & NLM_F_MULTI);
    ++n;
  }
  EXPECT_EQ(n, 2);
  r = sock.receive();
  ASSERT_EQ(r->kind, ReceiveKind::kDatagram);
  MessageReader md(r->bytes);
  ASSERT_TRUE(md.next(&m));
  EXPECT_EQ(m.type, NLMSG_DONE);
  EXPECT_EQ(sock.receive()->kind, ReceiveKind::kWouldBlock);
}

TEST(FakeNetlinkSocket, OverrunIsDistinctAndTransactRefusedWhenSubscribed) {
  FakeClock clock;
  FakeNetlinkSocket sock(clock);
  sock.pushOverrun();
  EXPECT_EQ(sock.receive()->kind, ReceiveKind::kOverrun);
  ASSERT_TRUE(sock.subscribe(RTNLGRP_LINK).isOk());
  EXPECT_EQ(sock.transact(buildGetLinkDump(), nullptr, std::chrono::seconds(1)).code(),
            StatusCode::kFailedPrecondition);
  sock.failSends(EPERM);
  EXPECT_EQ(sock.send(buildGetLinkDump()).status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace vfo::netlink
