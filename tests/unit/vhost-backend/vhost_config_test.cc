// Config loading: text format -> validated VfodConfig, errors with
// file:line:column and the field name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "vfo/testing/names.h"
#include "vfo/v1/config.pb.h"
#include "vfo/vhost/config.h"
#include "vfo/vhost/virtio_features.h"

namespace vfo::vhost {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kLag = R"(
lag {
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" netdev: "eth1" }
}
)";

StatusOr<VfodConfig> parse(const std::string& text) {
  return parseConfigText(text, "vfod.textproto");
}

// Expects INVALID_ARGUMENT starting with "vfod.textproto:<line>:" and
// containing `field` and `reason`.
void expectError(const std::string& text, int line, const std::string& field,
                 const std::string& reason) {
  auto c = parse(text);
  ASSERT_FALSE(c.isOk()) << text;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  if (line > 0) {
    EXPECT_THAT(c.status().message(), StartsWith("vfod.textproto:" + std::to_string(line) + ":"))
        << c.status().message();
  }
  EXPECT_THAT(c.status().message(), HasSubstr(field)) << c.status().message();
  EXPECT_THAT(c.status().message(), HasSubstr(reason)) << c.status().message();
}

TEST(VhostConfig, DefaultsForAMinimalFile) {
  auto c = parse(kLag);
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->eal.main_lcore, 0u);
  EXPECT_EQ(c->eal.worker_lcores, std::vector<uint32_t>{1});
  EXPECT_EQ(c->eal.file_prefix, "");
  EXPECT_EQ(c->memory.hugepages, HugepagePolicy::kAuto);
  EXPECT_EQ(c->memory.size_mb, 256u);
  EXPECT_EQ(c->memory.mbufs, 16384u);
  EXPECT_EQ(c->sockets.dir, "/run/vfo/sockets");
  EXPECT_EQ(c->sockets.mode, 0660u);
  EXPECT_FALSE(c->sockets.owner.has_value());
  EXPECT_EQ(c->state_dir, "/var/lib/vfo");
  EXPECT_EQ(c->log_level, LogLevel::kInfo);
  EXPECT_EQ(c->datapath.idle_backoff_max, std::chrono::microseconds(100));
  EXPECT_EQ(c->datapath.learner_ring_size, 1024u);
  EXPECT_EQ(c->datapath.stats_interval.count(), 0);
  EXPECT_FALSE(c->datapath.deliver_foreign_unicast);
  EXPECT_EQ(c->lag.name, "lag0");
  ASSERT_EQ(c->lag.members.size(), 2u);
  EXPECT_EQ(c->lag.members[1].netdev, "eth1");
  EXPECT_EQ(c->lag.primary, 0u);
  EXPECT_TRUE(c->ports.empty());
}

TEST(VhostConfig, FullFile) {
  auto c = parse(R"(
eal { main_lcore: 1 worker_lcores: [0, 2] file_prefix: "vfod-a" }
memory { hugepages: HUGEPAGES_NEVER size_mb: 512 mbufs: 4096 }
sockets { dir: "/run/x/" owner: "0" group: "0" mode: 0600 }
state_dir: "/var/lib/x"
log_level: LOG_LEVEL_DEBUG
datapath {
  idle_backoff_max { nanos: 50000 }
  learner_ring_size: 256
  stats_interval { seconds: 5 }
  deliver_foreign_unicast: true
}
lag {
  name: "bond0"
  members { name: "pf0" netdev: "eth0" }
  members { name: "pf1" }
  primary: "pf1"
}
ports {
  id: "vm1/net0"
  role: SOCKET_ROLE_CLIENT
  mac: "52:54:00:00:00:01"
  allowed_macs: "52:54:00:00:00:02"
  vlan: 100
  queue_pairs: 4
  disabled_features: 32768
  uplinks { member: "pf1" devargs: "0000:03:00.2" }
}
ports {
  id: "vm2"
  socket_path: "/run/x/sub/vm2.sock"
  mac: "52:54:00:00:00:03"
  uplinks { member: "pf1" devargs: "net_af_packet_vm2,iface=vf2" }
}
)");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->eal.main_lcore, 1u);
  EXPECT_EQ(c->eal.worker_lcores, (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(c->eal.file_prefix, "vfod-a");
  EXPECT_EQ(c->memory.hugepages, HugepagePolicy::kNever);
  EXPECT_EQ(c->memory.size_mb, 512u);
  EXPECT_EQ(c->memory.mbufs, 4096u);
  EXPECT_EQ(c->sockets.dir, "/run/x");
  EXPECT_EQ(c->sockets.owner, uid_t(0));
  EXPECT_EQ(c->sockets.group, gid_t(0));
  EXPECT_EQ(c->sockets.mode, 0600u);
  EXPECT_EQ(c->state_dir, "/var/lib/x");
  EXPECT_EQ(c->log_level, LogLevel::kDebug);
  EXPECT_EQ(c->datapath.idle_backoff_max, std::chrono::microseconds(50));
  EXPECT_EQ(c->datapath.learner_ring_size, 256u);
  EXPECT_EQ(c->datapath.stats_interval, std::chrono::seconds(5));
  EXPECT_TRUE(c->datapath.deliver_foreign_unicast);
  EXPECT_EQ(c->lag.name, "bond0");
  EXPECT_EQ(c->lag.primary, 1u);
  ASSERT_EQ(c->ports.size(), 2u);
  const PortSettings& p = c->ports[0];
  EXPECT_EQ(p.id, "vm1/net0");
  EXPECT_EQ(p.socket_path, "/run/x/vm1-net0.sock");
  EXPECT_EQ(p.role, SocketRole::kClient);
  EXPECT_EQ(p.mac.toString(), "52:54:00:00:00:01");
  ASSERT_EQ(p.allowed_macs.size(), 2u);
  EXPECT_EQ(p.allowed_macs[0], p.mac);
  EXPECT_EQ(p.allowed_macs[1].toString(), "52:54:00:00:00:02");
  EXPECT_EQ(p.vlan, 100);
  EXPECT_EQ(p.queue_pairs, 4);
  EXPECT_EQ(p.disabled_features, featureBit(kVirtioNetFMrgRxbuf));
  EXPECT_EQ(p.uplink_devargs, (std::vector<std::string>{"", "0000:03:00.2"}));
  EXPECT_EQ(c->ports[1].socket_path, "/run/x/sub/vm2.sock");
  EXPECT_EQ(c->ports[1].role, SocketRole::kServer);
  EXPECT_EQ(c->ports[1].queue_pairs, 1);
}

TEST(VhostConfig, SyntaxErrorsAndUnknownFieldsNameTheLine) {
  expectError(std::string(kLag) + "\nbogus_field: 3\n", 7, "bogus_field", "no field named");
  expectError(std::string(kLag) + "ports { id: \"a\" mac: \"52:54:00:00:00:01\" colour: 1 }\n", 6,
              "colour", "no field named");
  expectError(std::string(kLag) + "ports { id: \"a\" mac: \n", 0, "vfod.textproto:", "");
  // protoc places value errors at the token after the value.
  expectError(std::string(kLag) + "log_level: LOUD\n", 0, "log_level", "LOUD");
  expectError(std::string(kLag) + "ports { queue_pairs: -1 }\n", 6, "Expected integer", "");
}

TEST(VhostConfig, BadValuesNameFieldLineAndReason) {
  const std::string lag = kLag;  // lines 1-5
  expectError(lag + "ports {\n  id: \"vm1\"\n  mac: \"52:54:00:00:00:01\"\n  vlan: 4095\n}\n", 9,
              "ports[0].vlan", "4095 is out of range 1..4094");
  expectError(lag + "ports {\n  id: \"vm1\"\n  mac: \"01:00:5e:00:00:01\"\n}\n", 8, "ports[0].mac",
              "multicast");
  expectError(lag + "ports {\n  id: \"vm1\"\n  mac: \"52:54:00:00:00:0g\"\n}\n", 8, "ports[0].mac",
              "not a MAC address");
  expectError(lag + "ports {\n  id: \"vm1\"\n}\n", 6, "ports[0].mac", "is required");
  expectError(lag + "ports { id: \"vm1\" mac: \"52:54:00:00:00:01\" queue_pairs: 17 }\n", 6,
              "ports[0].queue_pairs", "17 is out of range 1..16");
  expectError(lag + "ports { id: \"vm1\" mac: \"52:54:00:00:00:01\" }\n" +
                  "ports { id: \"vm1\" mac: \"52:54:00:00:00:02\" }\n",
              7, "ports[1].id", "used by an earlier port");
  expectError(lag + "ports { id: \"../x\" mac: \"52:54:00:00:00:01\" }\n", 6, "ports[0].id",
              "must not start");
  expectError(lag + "ports { id: \"a b\" mac: \"52:54:00:00:00:01\" }\n", 6, "ports[0].id",
              "[A-Za-z0-9._:/-]");
  expectError(lag +
                  "ports {\n id: \"a\"\n mac: \"52:54:00:00:00:01\"\n socket_path: "
                  "\"/tmp/a.sock\"\n}\n",
              9, "ports[0].socket_path", "outside the socket directory /run/vfo/sockets");
  expectError(lag +
                  "ports { id: \"a\" mac: \"52:54:00:00:00:01\" socket_path: "
                  "\"/run/vfo/sockets/../../etc/a.sock\" }\n",
              6, "ports[0].socket_path", "contains '..'");
  expectError(lag +
                  "ports { id: \"a\" mac: \"52:54:00:00:00:01\" socket_path: "
                  "\"/run/vfo/socketsX/a.sock\" }\n",
              6, "ports[0].socket_path", "outside the socket directory");
  expectError(lag +
                  "ports { id: \"a\" mac: \"52:54:00:00:00:01\" socket_path: \"/run/vfo/sockets/" +
                  std::string(100, 'x') + "\" }\n",
              6, "ports[0].socket_path", "at most 107 bytes");
  expectError(
      lag + "ports { id: \"a\" mac: \"52:54:00:00:00:01\" disabled_features: 4294967296 }\n", 6,
      "ports[0].disabled_features", "masks bits vfod needs");
  expectError(lag +
                  "ports { id: \"a\" mac: \"52:54:00:00:00:01\" allowed_macs: "
                  "\"52:54:00:00:00:01\" }\n",
              6, "ports[0].allowed_macs[0]", "listed twice");
  expectError(lag +
                  "ports {\n id: \"a\"\n mac: \"52:54:00:00:00:01\"\n uplinks { member: \"pf7\" "
                  "devargs: \"x\" }\n}\n",
              9, "ports[0].uplinks[0].member", "'pf7' is not a member");
  expectError(lag +
                  "ports { id: \"a\" mac: \"52:54:00:00:00:01\" uplinks { member: \"pf0\" devargs: "
                  "\"net_af_packet_a,iface=x\" } }\n" +
                  "ports { id: \"b\" mac: \"52:54:00:00:00:02\" uplinks { member: \"pf0\" devargs: "
                  "\"net_af_packet_a,iface=y\" } }\n",
              7, "ports[1].uplinks[0].devargs", "used by an earlier uplink");
}

TEST(VhostConfig, DaemonLevelErrors) {
  expectError("eal { worker_lcores: 0 }\n" + std::string(kLag), 1, "eal.worker_lcores[0]",
              "is the main lcore");
  expectError("eal { worker_lcores: [1, 1] }\n" + std::string(kLag), 1, "eal.worker_lcores[1]",
              "listed twice");
  expectError("eal { file_prefix: \"a/b\" }\n" + std::string(kLag), 1, "eal.file_prefix",
              "[A-Za-z0-9_-]");
  expectError("memory { size_mb: 16 }\n" + std::string(kLag), 1, "memory.size_mb",
              "16 is out of range 64..65536 MiB");
  expectError("sockets { dir: \"relative\" }\n" + std::string(kLag), 1, "sockets.dir",
              "absolute path");
  expectError("sockets { mode: 01777 }\n" + std::string(kLag), 1, "sockets.mode", "outside 0777");
  expectError("sockets { owner: \"no-such-user-vfo\" }\n" + std::string(kLag), 1, "sockets.owner",
              "no user named 'no-such-user-vfo'");
  expectError("datapath { idle_backoff_max { seconds: 1 } }\n" + std::string(kLag), 1,
              "datapath.idle_backoff_max", "1 s is longer than the maximum 10 ms");
  expectError("datapath { learner_ring_size: 1000 }\n" + std::string(kLag), 1,
              "datapath.learner_ring_size", "not a power of two");
  expectError("datapath { stats_interval { nanos: 1000 } }\n" + std::string(kLag), 1,
              "datapath.stats_interval", "shorter than 100 ms");
  expectError("log_level: LOG_LEVEL_INFO\n", 0, "lag.members", "at least one member");
  expectError("lag {\n members { name: \"pf0\" }\n members { name: \"pf0\" }\n}\n", 3,
              "lag.members[1].name", "listed twice");
  expectError("lag {\n members { name: \"pf0\" netdev: \"a/b\" }\n}\n", 2, "lag.members[0].netdev",
              "not a netdev name");
  expectError("lag {\n members { name: \"pf0\" }\n primary: \"pf9\"\n}\n", 3, "lag.primary",
              "'pf9' is not a member");
  expectError(
      "lag {\n members { name: \"pf0\" }\n}\nports { id: \"a\" mac: \"52:54:00:00:00:01\" }\n", 4,
      "ports[0].uplinks", "member 'pf0' has no netdev");
}

TEST(VhostConfig, ZeroIdleBackoffDisablesSleeping) {
  auto c = parse("datapath { idle_backoff_max { } }\n" + std::string(kLag));
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->datapath.idle_backoff_max.count(), 0);
}

TEST(VhostConfig, LoadsFilesAndReportsMissingOnes) {
  const std::string dir = testing::makeTempDir("vfocfg");
  const std::string path = dir + "/vfod.textproto";
  {
    std::ofstream f(path);
    f << kLag << "ports {\n  id: \"vm1\"\n  mac: \"52:54:00:00:00:01\"\n  vlan: 9999\n}\n";
  }
  auto c = loadConfigFile(path);
  ASSERT_FALSE(c.isOk());
  EXPECT_THAT(c.status().message(), StartsWith(path + ":9:"));
  auto missing = loadConfigFile(dir + "/nope.textproto");
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope.textproto"));
  testing::removeTree(dir);
}

TEST(VhostConfig, PortFromProtoForTheApiEdge) {
  SocketSettings sockets;
  LagSettings lag;
  lag.members = {{"pf0", "eth0"}, {"pf1", "eth1"}};
  v1::PortConfig p;
  p.set_id("vm9");
  p.set_mac("52:54:00:00:00:09");
  p.set_vlan(7);
  auto s = portFromProto(p, sockets, lag, "request.port");
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  EXPECT_EQ(s->socket_path, "/run/vfo/sockets/vm9.sock");
  EXPECT_EQ(s->uplink_devargs.size(), 2u);
  p.set_vlan(5000);
  auto bad = portFromProto(p, sockets, lag, "request.port");
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(),
            "request.port.vlan: 5000 is out of range 1..4094 (0 = untagged)");
}

TEST(VhostConfig, Helpers) {
  EXPECT_TRUE(isPciDevargs("0000:03:00.1"));
  EXPECT_TRUE(isPciDevargs("03:00.1,foo=bar"));
  EXPECT_FALSE(isPciDevargs("net_af_packet0,iface=eth0"));
  EXPECT_FALSE(isPciDevargs("0000:03:00.8"));
  SocketSettings s;
  EXPECT_EQ(defaultSocketPath(s, "vm1/net0"), "/run/vfo/sockets/vm1-net0.sock");
  EXPECT_TRUE(validatePortId("vm-1.a:b/c").isOk());
  EXPECT_FALSE(validatePortId("").isOk());
  EXPECT_FALSE(validatePortId("a/../b").isOk());
  EXPECT_FALSE(validatePortId(std::string(65, 'a')).isOk());
}

}  // namespace
}  // namespace vfo::vhost

namespace vfo::vhost {
namespace {

TEST(VhostConfig, ApiMetricsAndLibvirtSections) {
  auto d = parse(kLag);
  ASSERT_TRUE(d.isOk());
  EXPECT_TRUE(d->api.enabled);
  EXPECT_EQ(d->api.listen, "unix:///run/vfo/vfo.sock");
  EXPECT_EQ(d->api.socket_mode, 0660u);
  EXPECT_EQ(d->api.allowed_uids, std::vector<uid_t>{0});
  EXPECT_EQ(d->api.event_buffer, 4096u);
  EXPECT_TRUE(d->metrics_listen.empty());
  EXPECT_TRUE(d->libvirt.enabled);
  EXPECT_EQ(d->libvirt.uri, "qemu:///system");
  EXPECT_EQ(d->libvirt.grace, std::chrono::seconds(30));

  auto c = parse(std::string(kLag) +
                 "api { listen: \"unix:///tmp/x/api.sock\" socket_mode: 0600 group: \"0\" "
                 "allowed_uids: [0, 64055] allowed_groups: \"0\" event_buffer: 64 }\n"
                 "metrics { listen: \"127.0.0.1:9464\" }\n"
                 "libvirt { uri: \"none\" grace { seconds: 5 } }\n");
  ASSERT_TRUE(c.isOk()) << c.status().toString();
  EXPECT_EQ(c->api.listen, "unix:///tmp/x/api.sock");
  EXPECT_EQ(c->api.socket_mode, 0600u);
  EXPECT_EQ(c->api.group, gid_t(0));
  EXPECT_EQ(c->api.allowed_uids, (std::vector<uid_t>{0, 64055}));
  EXPECT_EQ(c->api.allowed_gids, std::vector<gid_t>{0});
  EXPECT_EQ(c->api.event_buffer, 64u);
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9464");
  EXPECT_FALSE(c->libvirt.enabled);
  EXPECT_EQ(c->libvirt.grace, std::chrono::seconds(5));

  auto off = parse(std::string(kLag) + "api { listen: \"none\" }\n");
  ASSERT_TRUE(off.isOk());
  EXPECT_FALSE(off->api.enabled);
}

TEST(VhostConfig, ApiErrorsNameTheField) {
  const std::string base(kLag);
  expectError(base + "api { listen: \"tcp://1.2.3.4:5\" }\n", 0, "api.listen", "none");
  expectError(base + "api { listen: \"unix://relative/x.sock\" }\n", 0, "api.listen", "");
  expectError(base + "api { socket_mode: 01777 }\n", 0, "api.socket_mode", "outside 0777");
  expectError(base + "api { group: \"no-such-group-vfo\" }\n", 0, "api.group", "no group");
  expectError(base + "api { allowed_groups: \"no-such-group-vfo\" }\n", 0, "api.allowed_groups[0]",
              "no group");
  expectError(base + "api { event_buffer: 3 }\n", 0, "api.event_buffer", "out of range");
  expectError(base + "metrics { listen: \"0.0.0.0:9464\" }\n", 0, "metrics.listen", "");
  expectError(base + "libvirt { grace { seconds: 7200 } }\n", 0, "libvirt.grace", "out of range");
}

}  // namespace
}  // namespace vfo::vhost
