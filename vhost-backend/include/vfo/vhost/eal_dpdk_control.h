// DpdkControl on the real DPDK: rte_dev_probe/rte_dev_remove, ethdev
// configure/start/stop/close and the librte_vhost driver calls.
//
// Contract: needs an initialised EAL. The vhost callbacks of every socket
// it registers go to one VhostEventHandler (librte_vhost's callbacks carry
// no context pointer, so the handler is process-wide): set it before the
// first registerVhostSocket() and keep it alive until every socket is
// unregistered. Never registers with RTE_VHOST_USER_ASYNC_COPY (it turns
// off dirty-page logging and QEMU then refuses to migrate).
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>

#include "vfo/base/log.h"
#include "vfo/vhost/dpdk_control.h"

struct rte_mempool;

namespace vfo::vhost {

class EalDpdkControl final : public DpdkControl {
 public:
  // `rx_pool` feeds every uplink RX queue.
  explicit EalDpdkControl(rte_mempool* rx_pool);
  ~EalDpdkControl() override;

  // Process-wide; nullptr detaches (events are then ignored, devices refused).
  static void setEventHandler(VhostEventHandler* handler);

  // Uplinks whose device name `parkable` accepts are not removed by
  // closeUplink() but kept started ("parked"); the next openUplink() of the
  // same devargs and queue count takes the parked one back after draining
  // what its RX queues collected meanwhile. vfod parks the af_packet uplinks
  // of parked software VFs (same netdev, kept by the provider), because
  // opening one costs the kernel several RCU grace periods (tens of ms).
  // Parked ethdevs count toward RTE_MAX_ETHPORTS.
  void setParkable(std::function<bool(const std::string& device_name)> parkable) {
    parkable_ = std::move(parkable);
  }
  // Removes every parked uplink (clean stop). Returns how many.
  size_t closeParked();
  size_t parkedCount() const { return parked_.size(); }

  StatusOr<UplinkInfo> openUplink(const UplinkRequest& request) override;
  Status closeUplink(const UplinkInfo& uplink) override;
  Status registerVhostSocket(const VhostSocketRequest& request) override;
  Status unregisterVhostSocket(const std::string& path) override;
  Status removeStaleSocket(const std::string& path) override;
  Status setSocketPermissions(const std::string& path, std::optional<uid_t> owner,
                              std::optional<gid_t> group, uint32_t mode) override;

 private:
  rte_mempool* rx_pool_;
  Logger log_{"dpdk"};
  std::set<uint16_t> open_ports_;  // ethdevs opened through this object
  struct Parked {
    UplinkInfo info;           // as it was opened
    uint16_t queue_pairs = 0;  // as configured
  };
  std::map<std::string, Parked> parked_;  // device name -> kept started
  std::map<uint16_t, uint16_t> queues_;   // open ethdev -> queue pairs
  std::function<bool(const std::string&)> parkable_;
  Status removeUplink(const UplinkInfo& uplink);
};

}  // namespace vfo::vhost
