#include "vfo/hooks/domain_xml.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace vfo::hooks {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream f(std::string(VFO_SOURCE_DIR) + "/tests/unit/libvirt-hooks/fixtures/" + name);
  EXPECT_TRUE(f.good()) << name;
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// One vhost-user interface with `body` replacing its inner elements.
std::string withInterface(const std::string& body) {
  return "<domain type='qemu'><name>t</name><devices><interface type='vhostuser'>" + body +
         "</interface></devices></domain>";
}

std::string errorOf(std::string_view xml) {
  auto r = parseDomainXml(xml);
  EXPECT_FALSE(r.isOk());
  if (r.isOk()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().toString();
  return r.status().message();
}

TEST(DomainXml, ClientModeMeansVfodServes) {
  auto d = parseDomainXml(fixture("client_mode.xml"));
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  EXPECT_EQ(d->name, "vm1");
  EXPECT_EQ(d->uuid, "6f5c2a0e-3d4b-4c1a-9a57-1d2f0b8c9e01");
  ASSERT_EQ(d->interfaces.size(), 1u);
  const auto& i = d->interfaces[0];
  EXPECT_EQ(i.alias, "ua-net0");
  EXPECT_EQ(i.mac.toString(), "52:54:00:12:34:01");
  EXPECT_EQ(i.socket_path, "/run/vfo/sockets/vm1-net0.sock");
  EXPECT_EQ(i.role, VhostRole::kVfodServer);
  EXPECT_EQ(i.queues, 1u);
  EXPECT_EQ(i.teaming, Teaming::kNone);
  EXPECT_TRUE(d->ignored.empty());
}

TEST(DomainXml, ServerModeMultiqueueAndPathNormalised) {
  auto d = parseDomainXml(fixture("server_mode_multiqueue.xml"));
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  ASSERT_EQ(d->interfaces.size(), 1u);
  EXPECT_EQ(d->interfaces[0].role, VhostRole::kVfodClient);
  EXPECT_EQ(d->interfaces[0].queues, 4u);
  EXPECT_EQ(d->interfaces[0].socket_path, "/run/vfo/sockets/vm2-net0.sock");
}

TEST(DomainXml, SeveralInterfacesForeignOnesIgnored) {
  auto d = parseDomainXml(fixture("several_with_foreign.xml"));
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  ASSERT_EQ(d->interfaces.size(), 2u);
  EXPECT_EQ(d->interfaces[0].alias, "ua-net0");
  EXPECT_EQ(d->interfaces[1].alias, "ua-net1");
  EXPECT_EQ(d->interfaces[1].queues, 2u);
  ASSERT_EQ(d->ignored.size(), 1u);
  EXPECT_NE(d->ignored[0].find("ua-ovs"), std::string::npos);
}

TEST(DomainXml, TeamingPersistentFindsTransientPartner) {
  auto d = parseDomainXml(fixture("teaming.xml"));
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  ASSERT_EQ(d->interfaces.size(), 1u);
  EXPECT_EQ(d->interfaces[0].teaming, Teaming::kPersistent);
  EXPECT_EQ(d->interfaces[0].teaming_partner_alias, "ua-hostdev0");
}

TEST(DomainXml, MetadataOptionsByMacAndAlias) {
  auto d = parseDomainXml(fixture("metadata.xml"));
  ASSERT_TRUE(d.isOk()) << d.status().toString();
  ASSERT_EQ(d->interfaces.size(), 2u);
  EXPECT_EQ(d->interfaces[0].vlan, 100);
  EXPECT_EQ(d->interfaces[0].lag_pin, "pf1");
  ASSERT_EQ(d->interfaces[0].allowed_macs.size(), 2u);
  EXPECT_EQ(d->interfaces[0].allowed_macs[1].toString(), "02:00:00:00:00:01");
  EXPECT_EQ(d->interfaces[1].vlan, 200);
  EXPECT_TRUE(d->interfaces[1].lag_pin.empty());
}

TEST(DomainXml, MalformedXmlNamesTheLine) {
  std::string m = errorOf(fixture("malformed.xml"));
  EXPECT_NE(m.find("malformed at line"), std::string::npos) << m;
}

TEST(DomainXml, EmptyAndOversizedAreRefused) {
  EXPECT_NE(errorOf("").find("empty"), std::string::npos);
  EXPECT_NE(errorOf("  \n ").find("empty"), std::string::npos);
  DomainXmlLimits small;
  small.max_bytes = 1024;
  std::string big = fixture("client_mode.xml") + std::string(2048, ' ');
  auto r = parseDomainXml(big, small);
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("more than the limit of 1024"), std::string::npos);
}

TEST(DomainXml, DoctypeAndEntitiesAreRefused) {
  std::string xxe =
      "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
      "<domain><name>&x;</name></domain>";
  EXPECT_NE(errorOf(xxe).find("DOCTYPE"), std::string::npos);
}

TEST(DomainXml, PathEscapesAreErrors) {
  std::string m =
      errorOf(withInterface("<mac address='52:54:00:00:00:01'/><source type='unix' "
                            "path='/run/vfo/sockets/../../../etc/shadow' mode='client'/>"));
  EXPECT_NE(m.find("contains '..'"), std::string::npos) << m;
  m =
      errorOf(withInterface("<mac address='52:54:00:00:00:01'/><source type='unix' "
                            "path='/run/vfo/sockets/sub/dir.sock' mode='client'/>"));
  EXPECT_NE(m.find("plain file name"), std::string::npos) << m;
  m =
      errorOf(withInterface("<mac address='52:54:00:00:00:01'/><source type='unix' "
                            "path='relative.sock' mode='client'/>"));
  EXPECT_NE(m.find("not absolute"), std::string::npos) << m;
}

TEST(DomainXml, MissingOrBadFieldsNameTheInterface) {
  std::string src = "<source type='unix' path='/run/vfo/sockets/a.sock' mode='client'/>";
  EXPECT_NE(errorOf(withInterface(src + "<alias name='ua-x'/>"))
                .find("interface ua-x: <mac address> is missing"),
            std::string::npos);
  EXPECT_NE(errorOf(withInterface(src + "<mac address='01:00:5e:00:00:01'/>")).find("multicast"),
            std::string::npos);
  EXPECT_NE(errorOf(withInterface(src + "<mac address='52:54:00:00:00:01'/><driver queues='17'/>"))
                .find("queues: '17' is not a number in 1..16"),
            std::string::npos);
  EXPECT_NE(errorOf(withInterface("<mac address='52:54:00:00:00:01'/><source type='unix' "
                                  "path='/run/vfo/sockets/a.sock' mode='sideways'/>"))
                .find("must be 'client' or 'server'"),
            std::string::npos);
  EXPECT_NE(
      errorOf(withInterface("<mac address='52:54:00:00:00:01'/>")).find("<source> is missing"),
      std::string::npos);
}

TEST(DomainXml, DuplicatesAreErrors) {
  std::string two_same_socket =
      "<domain><name>t</name><devices>"
      "<interface type='vhostuser'><mac address='52:54:00:00:00:01'/>"
      "<source type='unix' path='/run/vfo/sockets/a.sock' mode='client'/></interface>"
      "<interface type='vhostuser'><mac address='52:54:00:00:00:02'/>"
      "<source type='unix' path='/run/vfo/sockets/a.sock' mode='client'/></interface>"
      "</devices></domain>";
  EXPECT_NE(errorOf(two_same_socket).find("used by two interfaces"), std::string::npos);
  std::string two_same_mac =
      "<domain><name>t</name><devices>"
      "<interface type='vhostuser'><mac address='52:54:00:00:00:01'/>"
      "<source type='unix' path='/run/vfo/sockets/a.sock' mode='client'/></interface>"
      "<interface type='vhostuser'><mac address='52:54:00:00:00:01'/>"
      "<source type='unix' path='/run/vfo/sockets/b.sock' mode='client'/></interface>"
      "</devices></domain>";
  EXPECT_NE(errorOf(two_same_mac).find("mac 52:54:00:00:00:01 is used by two"), std::string::npos);
}

TEST(DomainXml, BadMetadataIsAnError) {
  std::string base =
      "<interface type='vhostuser'><mac address='52:54:00:00:00:01'/>"
      "<source type='unix' path='/run/vfo/sockets/a.sock' mode='client'/></interface>";
  auto doc = [&](const std::string& meta) {
    return "<domain><name>t</name><metadata><vfo:ports xmlns:vfo='urn:vfo:libvirt:1'>" + meta +
           "</vfo:ports></metadata><devices>" + base + "</devices></domain>";
  };
  EXPECT_NE(errorOf(doc("<vfo:port mac='52:54:00:00:00:01' vlan='4095'/>")).find("vlan"),
            std::string::npos);
  EXPECT_NE(errorOf(doc("<vfo:port vlan='5'/>")).find("needs a mac or an alias"),
            std::string::npos);
  EXPECT_NE(errorOf(doc("<vfo:port mac='52:54:00:00:00:01'><vfo:allowed-mac "
                        "address='ff:ff:ff:ff:ff:ff'/></vfo:port>"))
                .find("multicast"),
            std::string::npos);
  EXPECT_NE(errorOf(doc("<vfo:bogus/>")).find("unknown element <bogus>"), std::string::npos);
}

TEST(DomainXml, NotADomain) {
  EXPECT_NE(errorOf("<network><name>x</name></network>").find("not <domain>"), std::string::npos);
  EXPECT_NE(errorOf("<domain><devices/></domain>").find("<name> is missing"), std::string::npos);
}

TEST(SocketPath, Normalises) {
  EXPECT_EQ(*normaliseSocketPath("/run//vfo/./sockets/"), "/run/vfo/sockets");
  EXPECT_FALSE(normaliseSocketPath("/run/../etc").isOk());
  EXPECT_FALSE(normaliseSocketPath("run/vfo").isOk());
}

}  // namespace
}  // namespace vfo::hooks
