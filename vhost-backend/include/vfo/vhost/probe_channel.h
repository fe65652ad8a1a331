// ProbeChannel: where vfod's path probes (ARP requests from a member's probe
// MAC/IP) leave and their replies come back, one endpoint per LAG member.
// The real one is a packet socket bound to the member's netdev: probes do
// not go through the datapath, so they test exactly the member's wire.
//
// Contract: control thread only. send() never blocks (a full socket buffer
// is a failed send, counted by the caller as a missed probe). drain() hands
// every frame received since the last call that was not sent by this host,
// then returns; frames are valid only during the callback.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/lag/types.h"

namespace vfo::vhost {

class ProbeChannel {
 public:
  virtual ~ProbeChannel() = default;
  // Descriptor to poll for POLLIN per member (index = MemberId); -1 = none.
  virtual int fd(lag::MemberId member) const = 0;
  // Sends one frame through `member`'s netdev. false when it was not sent.
  virtual bool send(lag::MemberId member, std::span<const uint8_t> frame) = 0;
  // Calls `fn` for each frame received on `member`'s netdev.
  virtual void drain(lag::MemberId member,
                     const std::function<void(std::span<const uint8_t>)>& fn) = 0;
};

// AF_PACKET (SOCK_RAW, ETH_P_ARP, non-blocking) sockets bound to the
// netdevs, index = MemberId. Errors: errnoStatus of socket()/bind(),
// NOT_FOUND for a missing netdev.
class PacketProbeChannel final : public ProbeChannel {
 public:
  static StatusOr<std::unique_ptr<PacketProbeChannel>> open(
      const std::vector<std::string>& netdevs);
  ~PacketProbeChannel() override;
  int fd(lag::MemberId member) const override;
  bool send(lag::MemberId member, std::span<const uint8_t> frame) override;
  void drain(lag::MemberId member,
             const std::function<void(std::span<const uint8_t>)>& fn) override;

 private:
  PacketProbeChannel() = default;
  std::vector<int> fds_;      // by MemberId
  std::vector<int> ifindex_;  // by MemberId
};

}  // namespace vfo::vhost
