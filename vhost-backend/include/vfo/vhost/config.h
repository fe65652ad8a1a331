// vfod's configuration as plain structs with named defaults, and the edge
// that turns a text-format vfo.v1.DaemonConfig into them.
//
// Contract: loadConfigFile()/parseConfigText() either return a fully
// validated VfodConfig or an INVALID_ARGUMENT (NOT_FOUND for a missing file)
// whose message starts with "FILE:LINE:COLUMN: " when the problem has a
// place in the file, then names the field ("ports[1].vlan: ...") and says
// what to fix. Nothing outside this file sees proto messages.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/base/ip_address.h"
#include "vfo/base/log.h"
#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"
#include "vfo/lag/lag_config.h"
#include "vfo/lag/types.h"

namespace vfo::v1 {
class DaemonConfig;
class PortConfig;
}  // namespace vfo::v1

namespace vfo::vhost {

using namespace std::chrono_literals;

inline constexpr std::string_view kDefaultConfigPath = "/etc/vfo/vfod.textproto";
inline constexpr std::string_view kDefaultSocketDir = "/run/vfo/sockets";
inline constexpr std::string_view kDefaultStateDir = "/var/lib/vfo";
inline constexpr std::string_view kDefaultLagName = "lag0";
inline constexpr uint32_t kDefaultSocketMode = 0660;
inline constexpr uint32_t kDefaultMemoryMb = 256;
inline constexpr uint32_t kMinMemoryMb = 64;
inline constexpr uint32_t kMaxMemoryMb = 65536;
inline constexpr uint32_t kDefaultMbufs = 16384;
inline constexpr uint32_t kMinMbufs = 1024;
inline constexpr uint32_t kMaxMbufs = 1u << 20;
inline constexpr Duration kDefaultIdleBackoffMax = 100us;
inline constexpr Duration kMaxIdleBackoff = 10ms;
inline constexpr uint32_t kDefaultLearnerRingSize = 1024;
inline constexpr uint32_t kMaxWorkers = 64;
// Limits shared with the datapath (fixed-size arrays there).
inline constexpr uint32_t kMaxMembers = 8;
inline constexpr uint16_t kMaxQueuePairs = 16;
inline constexpr uint32_t kMaxMacsPerPort = 8;  // the guest MAC + 7 more

// Whether DPDK uses hugepages.
enum class HugepagePolicy : uint8_t {
  kAuto,      // hugepages when a hugetlbfs is mounted, else --no-huge
  kNever,     // always --no-huge
  kRequired,  // refuse to start without a mounted hugetlbfs
};

// Who listens on a port's vhost-user socket.
enum class SocketRole : uint8_t {
  kServer,  // vfod listens; QEMU connects (libvirt mode='client')
  kClient,  // QEMU listens; vfod connects and reconnects
};

std::string_view socketRoleName(SocketRole role);

struct EalSettings {
  uint32_t main_lcore = 0;                    // lcore of the control thread
  std::vector<uint32_t> worker_lcores = {1};  // one relay worker per lcore
  std::string file_prefix;                    // EAL --file-prefix; empty: "vfod-<pid>"
};

struct MemorySettings {
  HugepagePolicy hugepages = HugepagePolicy::kAuto;  // see HugepagePolicy
  uint32_t size_mb = kDefaultMemoryMb;               // EAL -m, MiB
  uint32_t mbufs = kDefaultMbufs;                    // packet buffers in the shared pool
};

struct SocketSettings {
  std::string dir{kDefaultSocketDir};  // every socket lives inside it
  std::optional<uid_t> owner;          // chown target of server sockets; none = unchanged
  std::optional<gid_t> group;          // chgrp target of server sockets; none = unchanged
  uint32_t mode = kDefaultSocketMode;  // chmod bits of server sockets
};

struct DatapathSettings {
  Duration idle_backoff_max = kDefaultIdleBackoffMax;    // 0 = never sleep
  uint32_t learner_ring_size = kDefaultLearnerRingSize;  // slots per worker, power of two
  Duration stats_interval{0};                            // 0 = stats only on SIGUSR1
  bool deliver_foreign_unicast = false;                  // pass unicast not addressed to the guest
};

struct MemberSettings {
  std::string name;    // unique in the LAG, used in logs and stats
  std::string netdev;  // the PF netdev: watched carrier, default uplink / VF parent; empty = none
  std::vector<std::string> pinned_ports{};  // balance-vm: port ids pinned to this member
  Ipv4Address probe_ip{};                   // lag.probe: sender IP of this member's probes
  MacAddress probe_mac{};                   // lag.probe: sender MAC of this member's probes
};

// ARP probing of every member's path (LagSettings::probe).
struct ProbeSettings {
  Ipv4Address target;                                  // asked for by every member's probes
  Duration interval = std::chrono::milliseconds(100);  // probe interval
  uint32_t missed_max = 2;  // intervals without a reply before the member fails
};

// LAG decision modes vfod supports (lag-core's LagMode subset).
enum class LagModeSetting : uint8_t {
  kActiveBackup,  // one active member for every port
  kBalanceVm,     // per-port home member (HRW hash or pin)
  kBalanceFlow,   // per-flow hash over the live members
};

// Where the ports' backing VFs come from.
enum class VfProviderSetting : uint8_t {
  kNetdev,    // none made: ports open the member netdev or their own devargs
  kSoftware,  // sriov-manager software VFs: a macvlan per port and member
  kShared,    // one shared uplink per member, demultiplexed by destination MAC
  kSriov,     // sriov-manager sysfs provider: a real VF per port and member
};

inline constexpr Duration kDefaultVmFailbackDelay = std::chrono::seconds(1);
inline constexpr uint32_t kDefaultSoftwareVfCapacity = 64;

struct LagSettings {
  std::string name{kDefaultLagName};                    // used in logs
  std::vector<MemberSettings> members;                  // index = MemberId
  lag::MemberId primary = 0;                            // active member at start / failback target
  LagModeSetting mode = LagModeSetting::kActiveBackup;  // placement mode
  bool failback = true;                                 // active-backup: return to the primary
  Duration updelay{0};                                  // carrier up -> member used
  Duration downdelay{0};                                // carrier down -> member left
  std::optional<Duration> vm_failback_delay = kDefaultVmFailbackDelay;  // nullopt = stay
  VfProviderSetting vf_provider = VfProviderSetting::kNetdev;           // backing VFs
  uint32_t software_vf_capacity = kDefaultSoftwareVfCapacity;           // macvlan slots per member
  bool sriov_bind_vfio = true;            // kSriov: bind VFs to vfio-pci before opening them
  std::string sriov_sysfs_root = "/sys";  // kSriov: where sysfs is mounted
  std::optional<ProbeSettings> probe;     // path probing; nullopt = carrier alone decides
  lag::HashPolicy hash_policy = lag::HashPolicy::kLayer2;  // balance-flow hash
};

struct PortSettings {
  std::string id;                         // unique port id
  std::string socket_path;                // absolute, inside SocketSettings::dir
  SocketRole role = SocketRole::kServer;  // who listens
  MacAddress mac;                         // the guest's MAC
  std::vector<MacAddress> allowed_macs;   // every allowed source MAC; [0] == mac
  lag::VlanId vlan = lag::kNoVlan;        // 0 = transparent (no tagging)
  uint16_t queue_pairs = 1;               // 1..kMaxQueuePairs
  uint64_t disabled_features = 0;         // virtio feature bits never offered
  // Per member (index = MemberId): DPDK devargs of this port's uplink. An
  // empty entry is derived from the member's netdev when the port opens.
  std::vector<std::string> uplink_devargs;

  friend bool operator==(const PortSettings&, const PortSettings&) = default;
};

inline constexpr std::string_view kDefaultApiListen = "unix:///run/vfo/vfo.sock";
inline constexpr uint32_t kDefaultEventBuffer = 4096;
inline constexpr std::string_view kDefaultLibvirtUri = "qemu:///system";
inline constexpr Duration kDefaultLibvirtGrace = std::chrono::seconds(30);

// The ops API (ApiConfig).
struct ApiSettings {
  bool enabled = true;                          // listen: "none" turns it off
  std::string listen{kDefaultApiListen};        // unix:// target
  uint32_t socket_mode = 0660;                  // chmod bits of the API socket
  std::optional<gid_t> group;                   // chgrp target; none = vfod's group
  std::vector<uid_t> allowed_uids = {0};        // callers allowed by uid
  std::vector<gid_t> allowed_gids;              // callers allowed by group
  uint32_t event_buffer = kDefaultEventBuffer;  // events kept for resumption
};

// Reconciliation with libvirt (LibvirtConfig).
struct LibvirtSettings {
  bool enabled = true;                    // uri: "none" turns it off
  std::string uri{kDefaultLibvirtUri};    // read-only connection
  Duration grace = kDefaultLibvirtGrace;  // keep ports of a vanished domain this long
};

struct VfodConfig {
  EalSettings eal;                          // DPDK EAL
  MemorySettings memory;                    // DPDK memory
  SocketSettings sockets;                   // vhost-user sockets
  std::string state_dir{kDefaultStateDir};  // state and stats snapshots
  LogLevel log_level = LogLevel::kInfo;     // vfod's own log level
  DatapathSettings datapath;                // relay tuning
  LagSettings lag;                          // the LAG
  std::vector<PortSettings> ports;          // ports created at start
  ApiSettings api;                          // ops API
  std::string metrics_listen;               // Prometheus endpoint; empty = off
  LibvirtSettings libvirt;                  // libvirt reconciliation
};

// Feature bits a port may not mask: vfod relies on them (VERSION_1, dirty
// logging for live migration, vhost-user protocol features).
uint64_t unmaskableFeatures();

// Reads and validates a text-format DaemonConfig file.
StatusOr<VfodConfig> loadConfigFile(const std::string& path);

// Same from a string; `file_name` is used in error messages only.
StatusOr<VfodConfig> parseConfigText(std::string_view text, std::string_view file_name);

// Validates a port given the daemon's socket and LAG settings (the ops API
// uses this for CreatePort). `field` prefixes error messages ("ports[2]").
StatusOr<PortSettings> portFromProto(const v1::PortConfig& port, const SocketSettings& sockets,
                                     const LagSettings& lag, std::string_view field = "port");

// Checks a port id: 1..64 characters of [A-Za-z0-9._:/-], not starting
// with '/' or '.'.
Status validatePortId(std::string_view id);

// The default socket path of a port: <dir>/<id with '/' -> '-'>.sock.
std::string defaultSocketPath(const SocketSettings& sockets, std::string_view port_id);

// Whether a devargs string names a PCI device ("0000:03:00.1" or "03:00.1",
// optionally followed by ",key=value").
bool isPciDevargs(std::string_view devargs);

}  // namespace vfo::vhost
