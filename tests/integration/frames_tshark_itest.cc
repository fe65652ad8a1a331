// Every frame kind the builders make, untagged and 802.1Q-tagged, written
// to a pcap file and dissected by the real tshark; each dissected field is
// checked, and tshark verifies the ICMPv6 checksums itself
// (icmpv6.checksum.status). The pcap file format is written here: global
// header + one record per frame.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "vfo/lag/frame_parser.h"
#include "vfo/lag/frames.h"
#include "vfo/testing/names.h"
#include "vfo/testing/subprocess.h"

namespace vfo::lag {
namespace {

using testing::run;

// Little-endian pcap (magic a1b2c3d4 written in host order on x86-64),
// version 2.4, link type 1 (Ethernet, no FCS).
void writePcap(const std::string& path, const std::vector<std::vector<uint8_t>>& frames) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) {
    const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    out.write(reinterpret_cast<const char*>(b), 4);
  };
  auto u16 = [&](uint16_t v) {
    const uint8_t b[2] = {uint8_t(v), uint8_t(v >> 8)};
    out.write(reinterpret_cast<const char*>(b), 2);
  };
  u32(0xa1b2c3d4);
  u16(2);
  u16(4);
  u32(0);      // thiszone
  u32(0);      // sigfigs
  u32(65535);  // snaplen
  u32(1);      // LINKTYPE_ETHERNET
  uint32_t second = 1700000000;
  for (const auto& f : frames) {
    u32(second++);
    u32(0);
    u32(uint32_t(f.size()));  // captured length
    u32(uint32_t(f.size()));  // original length
    out.write(reinterpret_cast<const char*>(f.data()), std::streamsize(f.size()));
  }
  ASSERT_TRUE(out.good()) << path;
}

const std::vector<std::string> kFields = {
    "frame.len",
    "frame.protocols",
    "eth.dst",
    "eth.src",
    "vlan.id",
    "vlan.priority",
    "arp.opcode",
    "arp.hw.type",
    "arp.proto.type",
    "arp.src.hw_mac",
    "arp.src.proto_ipv4",
    "arp.dst.hw_mac",
    "arp.dst.proto_ipv4",
    "arp.isgratuitous",
    "ipv6.plen",
    "ipv6.hlim",
    "ipv6.src",
    "ipv6.dst",
    "icmpv6.type",
    "icmpv6.code",
    "icmpv6.checksum.status",
    "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s",
    "icmpv6.nd.na.flag.o",
    "icmpv6.nd.na.target_address",
    "icmpv6.nd.ns.target_address",
    "icmpv6.opt.type",
    "icmpv6.opt.linkaddr",
    "_ws.malformed",
    "_ws.expert.severity",
};

using Dissection = std::map<std::string, std::string>;

class FramesTshark : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::makeTempDir("vfo-frames-"); }
  void TearDown() override {
    if (!dir_.empty()) testing::removeTree(dir_);
  }

  // One map field -> value per frame; empty value when tshark has no such
  // field in that frame.
  std::vector<Dissection> dissect(const std::vector<std::vector<uint8_t>>& frames) {
    const std::string pcap = dir_ + "/frames.pcap";
    writePcap(pcap, frames);
    std::vector<std::string> argv = {
        "tshark", "-n",          "-r", pcap,           "-o", "gui.console_open:NEVER",
        "-T",     "fields",      "-E", "separator=/t", "-E", "occurrence=a",
        "-E",     "aggregator=,"};
    for (const auto& f : kFields) {
      argv.push_back("-e");
      argv.push_back(f);
    }
    auto r = run(argv, std::chrono::seconds(60));
    EXPECT_TRUE(r.ok()) << r.describe();
    std::vector<Dissection> out;
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      Dissection d;
      std::istringstream cols(line);
      std::string value;
      for (const auto& f : kFields) {
        std::getline(cols, value, '\t');
        d[f] = value;
      }
      out.push_back(d);
    }
    EXPECT_EQ(out.size(), frames.size()) << r.describe();
    return out;
  }

  std::string dir_;
};

const MacAddress kMac = *MacAddress::parse("52:54:00:12:34:56");
const Ipv4Address kIp = *Ipv4Address::parse("198.18.0.5");
const Ipv4Address kTargetIp = *Ipv4Address::parse("198.18.0.1");
const Ipv6Address kIp6 = *Ipv6Address::parse("2001:db8::5");
const Ipv6Address kLinkLocal = *Ipv6Address::parse("fe80::5054:ff:fe12:3456");
const Ipv6Address kTarget6 = *Ipv6Address::parse("2001:db8::1");

TEST_F(FramesTshark, TsharkIsInstalled) {
  auto r = run({"tshark", "--version"});
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.out.find("TShark"), std::string::npos);
}

TEST_F(FramesTshark, EveryKindTaggedAndUntaggedDissectsAsIntended) {
  struct Expect {
    std::string name;
    std::vector<uint8_t> frame;
    Dissection fields;  // fields that must have exactly these values
  };
  std::vector<Expect> cases;
  for (VlanId vlan : {kNoVlan, VlanId(100)}) {
    const std::string tag = vlan ? " vlan 100" : "";
    const std::string vid = vlan ? "100" : "";
    const std::string prio = vlan ? "0" : "";
    const std::string eth = vlan ? "eth:ethertype:vlan:ethertype:" : "eth:ethertype:";
    const std::string len60 = vlan ? "64" : "60";
    const std::string len86 = vlan ? "90" : "86";
    cases.push_back({"rarp" + tag,
                     *buildRarpAnnounce(kMac, vlan),
                     {{"frame.len", len60},
                      {"frame.protocols", eth + "arp"},
                      {"eth.dst", "ff:ff:ff:ff:ff:ff"},
                      {"eth.src", "52:54:00:12:34:56"},
                      {"vlan.id", vid},
                      {"vlan.priority", prio},
                      {"arp.opcode", "3"},  // reverse request
                      {"arp.hw.type", "1"},
                      {"arp.proto.type", "0x0800"},
                      {"arp.src.hw_mac", "52:54:00:12:34:56"},
                      {"arp.src.proto_ipv4", "0.0.0.0"},
                      {"arp.dst.hw_mac", "52:54:00:12:34:56"},
                      {"arp.dst.proto_ipv4", "0.0.0.0"}}});
    for (GarpForm form : {GarpForm::kRequest, GarpForm::kReply}) {
      const bool reply = form == GarpForm::kReply;
      cases.push_back({std::string(reply ? "garp reply" : "garp request") + tag,
                       *buildGratuitousArp(form, kMac, kIp, vlan),
                       {{"frame.len", len60},
                        {"frame.protocols", eth + "arp"},
                        {"eth.dst", "ff:ff:ff:ff:ff:ff"},
                        {"eth.src", "52:54:00:12:34:56"},
                        {"vlan.id", vid},
                        {"vlan.priority", prio},
                        {"arp.opcode", reply ? "2" : "1"},
                        {"arp.src.hw_mac", "52:54:00:12:34:56"},
                        {"arp.src.proto_ipv4", "198.18.0.5"},
                        {"arp.dst.hw_mac", reply ? "52:54:00:12:34:56" : "00:00:00:00:00:00"},
                        {"arp.dst.proto_ipv4", "198.18.0.5"},
                        {"arp.isgratuitous", "1"}}});
    }
    cases.push_back({"arp request" + tag,
                     *buildArpRequest(kMac, kIp, kTargetIp, vlan),
                     {{"frame.len", len60},
                      {"vlan.id", vid},
                      {"arp.opcode", "1"},
                      {"arp.src.hw_mac", "52:54:00:12:34:56"},
                      {"arp.src.proto_ipv4", "198.18.0.5"},
                      {"arp.dst.hw_mac", "00:00:00:00:00:00"},
                      {"arp.dst.proto_ipv4", "198.18.0.1"},
                      {"arp.isgratuitous", ""}}});
    for (const Ipv6Address& target : {kIp6, kLinkLocal}) {
      cases.push_back({"na " + target.toString() + tag,
                       *buildUnsolicitedNa(kMac, target, vlan),
                       {{"frame.len", len86},
                        {"frame.protocols", eth + "ipv6:icmpv6"},
                        {"eth.dst", "33:33:00:00:00:01"},
                        {"eth.src", "52:54:00:12:34:56"},
                        {"vlan.id", vid},
                        {"vlan.priority", prio},
                        {"ipv6.plen", "32"},
                        {"ipv6.hlim", "255"},
                        {"ipv6.src", target.toString()},
                        {"ipv6.dst", "ff02::1"},
                        {"icmpv6.type", "136"},
                        {"icmpv6.code", "0"},
                        {"icmpv6.checksum.status", "1"},  // Good
                        {"icmpv6.nd.na.flag.r", "0"},
                        {"icmpv6.nd.na.flag.s", "0"},
                        {"icmpv6.nd.na.flag.o", "1"},
                        {"icmpv6.nd.na.target_address", target.toString()},
                        {"icmpv6.opt.type", "2"},  // target link-layer address
                        {"icmpv6.opt.linkaddr", "52:54:00:12:34:56"}}});
    }
    cases.push_back({"ns" + tag,
                     *buildNeighborSolicitation(kMac, kIp6, kTarget6, vlan),
                     {{"frame.len", len86},
                      {"frame.protocols", eth + "ipv6:icmpv6"},
                      {"eth.dst", "33:33:ff:00:00:01"},
                      {"vlan.id", vid},
                      {"ipv6.hlim", "255"},
                      {"ipv6.src", "2001:db8::5"},
                      {"ipv6.dst", "ff02::1:ff00:1"},
                      {"icmpv6.type", "135"},
                      {"icmpv6.checksum.status", "1"},
                      {"icmpv6.nd.ns.target_address", "2001:db8::1"},
                      {"icmpv6.opt.type", "1"},  // source link-layer address
                      {"icmpv6.opt.linkaddr", "52:54:00:12:34:56"}}});
    cases.push_back({"ns from ::" + tag,
                     *buildNeighborSolicitation(kMac, Ipv6Address(), kTarget6, vlan),
                     {{"frame.len", vlan ? "82" : "78"},
                      {"ipv6.plen", "24"},
                      {"ipv6.src", "::"},
                      {"ipv6.dst", "ff02::1:ff00:1"},
                      {"icmpv6.type", "135"},
                      {"icmpv6.checksum.status", "1"},
                      {"icmpv6.nd.ns.target_address", "2001:db8::1"},
                      {"icmpv6.opt.type", ""}}});
  }

  std::vector<std::vector<uint8_t>> frames;
  for (const auto& c : cases) frames.push_back(c.frame);
  const auto dissected = dissect(frames);
  ASSERT_EQ(dissected.size(), cases.size());
  size_t checked = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const Dissection& d = dissected[i];
    EXPECT_EQ(d.at("_ws.malformed"), "");
    // No expert info above "chat" (tshark severities: chat 0x200000,
    // note 0x400000, warn 0x600000, error 0x800000).
    for (const char* bad : {"0x00600000", "0x00800000", "6291456", "8388608"})
      EXPECT_EQ(d.at("_ws.expert.severity").find(bad), std::string::npos)
          << d.at("_ws.expert.severity");
    for (const auto& [field, value] : cases[i].fields) {
      EXPECT_EQ(d.at(field), value) << field;
      ++checked;
    }
  }
  EXPECT_GT(checked, 150u);
}

// The checksum check is real: tshark flags a frame whose checksum is off.
TEST_F(FramesTshark, TsharkFlagsABrokenChecksum) {
  auto na = *buildUnsolicitedNa(kMac, kIp6, kNoVlan);
  na[14 + 40 + 3] ^= 0x01;
  const auto d = dissect({na});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].at("icmpv6.type"), "136");
  EXPECT_EQ(d[0].at("icmpv6.checksum.status"), "0");  // Bad
  // And our own parser rejects it too.
  EXPECT_EQ(parseAddressFrame(na).defect, FrameDefect::nd_bad_checksum);
}

}  // namespace
}  // namespace vfo::lag
