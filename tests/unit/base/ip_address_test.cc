#include "vfo/base/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace vfo {
namespace {

// libc's parser and formatter serve as an independent reference.
std::array<uint8_t, 16> libcParse6(const char* text) {
  std::array<uint8_t, 16> b{};
  EXPECT_EQ(inet_pton(AF_INET6, text, b.data()), 1) << text;
  return b;
}

std::string libcFormat6(const Ipv6Address& a) {
  char buf[INET6_ADDRSTRLEN];
  EXPECT_NE(inet_ntop(AF_INET6, a.data(), buf, sizeof buf), nullptr);
  return buf;
}

TEST(Ipv4Address, ParsesAndFormats) {
  auto a = Ipv4Address::parse("198.18.0.1");
  ASSERT_TRUE(a.isOk()) << a.status().toString();
  EXPECT_EQ(a->bytes(), (std::array<uint8_t, 4>{198, 18, 0, 1}));
  EXPECT_EQ(a->toHostOrder(), 0xc6120001u);
  EXPECT_EQ(a->toString(), "198.18.0.1");
  EXPECT_EQ(Ipv4Address::fromHostOrder(0xc6120001u), *a);
  EXPECT_EQ(Ipv4Address::parse("0.0.0.0")->toString(), "0.0.0.0");
  EXPECT_EQ(Ipv4Address::parse("255.255.255.255")->toString(), "255.255.255.255");
}

TEST(Ipv4Address, RejectsMalformedWithReason) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "empty string"},
           {"198.18.0", "want 4 dot-separated octets, found 3"},
           {"198.18.0.1.5", "more than 4 octets"},
           {"198.18.0.256", "octet 4 is 256, above 255"},
           {"198.18.00.1", "octet 3 '00' has a leading zero"},
           {"198.018.0.1", "octet 2 '018' has a leading zero"},
           {"198.18..1", "octet 3 is empty"},
           {"198.18.0.1 ", "unexpected ' ' after the last octet"},
           {"1981.18.0.1", "octet 1 has more than 3 digits"},
           {"a.b.c.d", "'a' is not a decimal digit"},
           {"-1.0.0.0", "'-' is not a decimal digit"},
       }) {
    auto a = Ipv4Address::parse(c.text);
    ASSERT_FALSE(a.isOk()) << c.text;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find(c.why), std::string::npos)
        << c.text << " -> " << a.status().message();
    EXPECT_NE(a.status().message().find("is not an IPv4 address"), std::string::npos);
  }
}

TEST(Ipv4Address, Classes) {
  EXPECT_TRUE(Ipv4Address::parse("198.18.0.1")->isUsableUnicast());
  EXPECT_TRUE(Ipv4Address::parse("169.254.1.1")->isLinkLocal());
  EXPECT_TRUE(Ipv4Address::parse("169.254.1.1")->isUsableUnicast());
  for (const char* bad : {"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.255.255.255",
                          "240.0.0.1", "255.255.255.255"})
    EXPECT_FALSE(Ipv4Address::parse(bad)->isUsableUnicast()) << bad;
  EXPECT_TRUE(Ipv4Address::parse("224.0.0.1")->isMulticast());
  EXPECT_TRUE(Ipv4Address::parse("255.255.255.255")->isBroadcast());
  EXPECT_TRUE(Ipv4Address().isZero());
  EXPECT_LT(*Ipv4Address::parse("198.18.0.1"), *Ipv4Address::parse("198.18.0.2"));
  std::unordered_set<Ipv4Address> set{*Ipv4Address::parse("198.18.0.1")};
  EXPECT_EQ(set.count(*Ipv4Address::parse("198.18.0.1")), 1u);
}

TEST(Ipv6Address, ParsesLikeLibc) {
  for (const char* text :
       {"::", "::1", "2001:db8::1", "fe80::5054:ff:fe12:3456", "2001:db8:0:0:1:0:0:1",
        "2001:DB8::A:B", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4:5:6::8",
        "::ffff:198.18.0.1", "::198.18.0.1", "64:ff9b::198.18.0.1", "1:2:3:4:5:6:198.18.0.1",
        "ff02::1:ff12:3456", "2001:0db8:0000:0000:0000:0000:0000:0001",
        "fe80::", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"}) {
    auto a = Ipv6Address::parse(text);
    ASSERT_TRUE(a.isOk()) << text << ": " << a.status().toString();
    EXPECT_EQ(a->bytes(), libcParse6(text)) << text;
  }
}

TEST(Ipv6Address, FormatsLikeRfc5952) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"::", "::"},
           {"::1", "::1"},
           {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
           {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // first of two equal runs
           {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // a single zero is not compressed
           {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},           // the longer run wins
           {"fe80::5054:ff:fe12:3456", "fe80::5054:ff:fe12:3456"},
           {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
           {"::ffff:198.18.0.1", "::ffff:198.18.0.1"},
           {"ff02::1:ff12:3456", "ff02::1:ff12:3456"},
       }) {
    auto a = Ipv6Address::parse(c.in);
    ASSERT_TRUE(a.isOk()) << c.in;
    EXPECT_EQ(a->toString(), c.out) << c.in;
  }
}

TEST(Ipv6Address, FormatMatchesLibcOnRandomAddresses) {
  // Random addresses with many zero words; libc's inet_ntop follows RFC 5952
  // except for the deprecated IPv4-compatible form (::a.b.c.d), skipped here.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  int compared = 0;
  for (int n = 0; n < 5000; ++n) {
    std::array<uint8_t, 16> b{};
    for (int w = 0; w < 8; ++w) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      if (x % 3 == 0) continue;  // a zero word
      b[2 * w] = uint8_t(x >> 8);
      b[2 * w + 1] = uint8_t(x >> 16);
    }
    Ipv6Address a(b);
    bool compat = true;
    for (int i = 0; i < 12; ++i) compat = compat && b[i] == 0;
    if (compat) continue;
    EXPECT_EQ(a.toString(), libcFormat6(a));
    auto back = Ipv6Address::parse(a.toString());
    ASSERT_TRUE(back.isOk()) << a.toString();
    EXPECT_EQ(*back, a);
    ++compared;
  }
  EXPECT_GT(compared, 4000);
}

TEST(Ipv6Address, RejectsMalformedWithReason) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "empty string"},
           {"2001:db8::g", "'g' is not a hex digit"},
           {"1:2:3:4:5:6:7", "7 groups of 16 bits, want 8"},
           {"1:2:3:4:5:6:7:8:9", "9 groups of 16 bits, want 8"},
           {"1::2::3", "'::' may appear only once"},
           {"1:::2", "':::' is not valid"},
           {":1:2:3:4:5:6:7", "empty group"},
           {"1:2:3:4:5:6:7:", "empty group"},
           {"12345::", "group '12345' has more than 4 hex digits"},
           {"1:2:3:4:5:6:7::8", "8 groups besides '::', at most 7 allowed"},
           {"::1.2.3.256", "IPv4 tail '1.2.3.256': octet 4 is 256, above 255"},
           {"1.2.3.4::", "dotted quad '1.2.3.4' is allowed only as the last 32 bits"},
           {"fe80::1%eth0", "zone ids"},
           {"2001:db8::/64", "prefix lengths"},
           {"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa", "longer than any IPv6 address"},
       }) {
    auto a = Ipv6Address::parse(c.text);
    ASSERT_FALSE(a.isOk()) << c.text;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find(c.why), std::string::npos)
        << c.text << " -> " << a.status().message();
    EXPECT_NE(a.status().message().find("is not an IPv6 address"), std::string::npos);
    // libc agrees that these are not addresses.
    std::array<uint8_t, 16> b{};
    EXPECT_NE(inet_pton(AF_INET6, c.text, b.data()), 1) << c.text;
  }
}

TEST(Ipv6Address, ClassesAndDerivedAddresses) {
  auto ll = *Ipv6Address::parse("fe80::5054:ff:fe12:3456");
  EXPECT_TRUE(ll.isLinkLocal());
  EXPECT_TRUE(ll.isUsableUnicast());
  EXPECT_EQ(ll.solicitedNodeMulticast().toString(), "ff02::1:ff12:3456");
  EXPECT_EQ(ll.solicitedNodeMulticast().multicastMac().toString(), "33:33:ff:12:34:56");
  EXPECT_EQ(Ipv6Address::allNodes().toString(), "ff02::1");
  EXPECT_EQ(Ipv6Address::allNodes().multicastMac().toString(), "33:33:00:00:00:01");
  EXPECT_TRUE(Ipv6Address::parse("febf::1")->isLinkLocal());
  EXPECT_FALSE(Ipv6Address::parse("fec0::1")->isLinkLocal());
  for (const char* bad : {"::", "::1", "ff02::1", "::ffff:198.18.0.1"})
    EXPECT_FALSE(Ipv6Address::parse(bad)->isUsableUnicast()) << bad;
  EXPECT_TRUE(Ipv6Address::parse("2001:db8::1")->isUsableUnicast());
  std::unordered_set<Ipv6Address> set{ll};
  EXPECT_EQ(set.count(*Ipv6Address::parse("fe80::5054:ff:fe12:3456")), 1u);
}

}  // namespace
}  // namespace vfo
