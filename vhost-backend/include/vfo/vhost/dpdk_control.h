// DPDK control operations vfod performs, behind a narrow interface so the
// port logic runs against a fake in unit tests (STYLE habit 5).
//
// Threads: every method is called from the control thread. Implementations
// may call back into the VhostEventHandler synchronously from
// unregisterVhostSocket() (DPDK destroys a running device on the caller's
// thread); the caller must not hold locks the handler takes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vfo/base/mac_address.h"
#include "vfo/base/status.h"
#include "vfo/vhost/config.h"

namespace vfo::vhost {

// A request to open one uplink.
struct UplinkRequest {
  std::string devargs;             // rte_dev_probe() argument
  uint16_t queue_pairs = 1;        // RX and TX queues to configure
  uint16_t rx_descriptors = 1024;  // per RX queue
  uint16_t tx_descriptors = 1024;  // per TX queue
  bool promiscuous = false;        // receive frames for every MAC (shared uplinks)
};

// An opened, started uplink and what it can do.
struct UplinkInfo {
  uint16_t eth_port = 0;        // ethdev port id
  std::string device_name;      // DPDK device name (for rte_dev_remove)
  MacAddress mac;               // the device's MAC
  bool tx_vlan_insert = false;  // RTE_ETH_TX_OFFLOAD_VLAN_INSERT enabled
  bool tx_checksum = false;     // IPv4/TCP/UDP checksum offloads enabled
  bool tx_tso = false;          // TCP segmentation offload enabled
  bool tx_multi_segs = false;   // chained mbufs accepted
  bool tx_prepare = false;      // frames with offload requests need rte_eth_tx_prepare()
};

// A vhost-user socket to register.
struct VhostSocketRequest {
  std::string path;                       // socket path
  SocketRole role = SocketRole::kServer;  // who listens
  uint64_t disabled_features = 0;         // virtio feature bits withdrawn from the defaults
  bool linear_buffers = false;            // ask for single-segment mbufs (uplink lacks MULTI_SEGS)
};

// What a running vhost device looks like (given to new_device handlers).
struct VhostDeviceInfo {
  int vid = -1;           // vhost device id
  std::string path;       // socket path (rte_vhost_get_ifname)
  uint64_t features = 0;  // negotiated virtio features
  uint16_t vrings = 0;    // vrings the guest set up (2 per queue pair)
};

// The vhost callbacks, translated (socket path resolved, C types gone).
// Called on the vhost-events thread (or on the control thread from inside
// unregisterVhostSocket()); must not block except destroy-device's wait for
// the workers to quiesce.
class VhostEventHandler {
 public:
  virtual ~VhostEventHandler() = default;
  // A connection arrived on the socket (before any vring is set up).
  virtual void onNewConnection(int vid, const std::string& path) = 0;
  // The connection closed.
  virtual void onDestroyConnection(int vid, const std::string& path) = 0;
  // The guest driver is ready. Return false to refuse the device.
  virtual bool onNewDevice(const VhostDeviceInfo& info) = 0;
  // The device stops; must return only when no worker uses `vid` any more.
  virtual void onDestroyDevice(int vid, const std::string& path) = 0;
  // A vring became usable (enable) or stopped being usable.
  virtual void onVringStateChanged(int vid, const std::string& path, uint16_t vring,
                                   bool enable) = 0;
  // Negotiated features changed (VHOST_F_LOG_ALL at migration start/end).
  virtual void onFeaturesChanged(int vid, const std::string& path, uint64_t features) = 0;
};

class DpdkControl {
 public:
  virtual ~DpdkControl() = default;

  // rte_dev_probe(devargs), configure queue_pairs RX/TX queues, start.
  // On failure nothing stays open. ALREADY_EXISTS if the device is in use
  // by vfod already; INVALID_ARGUMENT if it cannot give queue_pairs queues.
  virtual StatusOr<UplinkInfo> openUplink(const UplinkRequest& request) = 0;

  // Stop, close and rte_dev_remove() the uplink.
  virtual Status closeUplink(const UplinkInfo& uplink) = 0;

  // rte_vhost_driver_register + features + callbacks + start. In server
  // mode the socket exists when this returns. Events for this socket go to
  // the handler given at construction.
  virtual Status registerVhostSocket(const VhostSocketRequest& request) = 0;

  // rte_vhost_driver_unregister. Destroys a running device first (the
  // handler's onDestroyDevice runs on the caller's thread).
  virtual Status unregisterVhostSocket(const std::string& path) = 0;

  // Removes a stale server socket left by a previous run. FAILED_PRECONDITION
  // if `path` exists and is not a socket; OK if it does not exist.
  virtual Status removeStaleSocket(const std::string& path) = 0;

  // chown/chmod of a server socket.
  virtual Status setSocketPermissions(const std::string& path, std::optional<uid_t> owner,
                                      std::optional<gid_t> group, uint32_t mode) = 0;
};

}  // namespace vfo::vhost
