// virtio-net / vhost-user feature bit numbers, as C++ constants.
//
// Why here: in C++ DPDK's rte_vhost.h does not include the Linux uapi
// headers (they are not C++-clean), so VHOST_F_LOG_ALL and the
// VIRTIO_NET_F_* bits are undefined. The values below are the uapi ones
// (linux/virtio_net.h, linux/virtio_config.h, linux/vhost_types.h); the
// private header that includes rte_vhost.h defines the macros from them.
#pragma once

#include <cstdint>
#include <string>

namespace vfo::vhost {

inline constexpr int kVirtioNetFCsum = 0;               // host handles partial csum (guest TX)
inline constexpr int kVirtioNetFGuestCsum = 1;          // guest handles partial csum (guest RX)
inline constexpr int kVirtioNetFCtrlGuestOffloads = 2;  // dynamic offload configuration
inline constexpr int kVirtioNetFMtu = 3;                // initial MTU advice
inline constexpr int kVirtioNetFMac = 5;                // device has a MAC
inline constexpr int kVirtioNetFGso = 6;                // legacy: any GSO type
inline constexpr int kVirtioNetFGuestTso4 = 7;          // guest accepts TSOv4
inline constexpr int kVirtioNetFGuestTso6 = 8;          // guest accepts TSOv6
inline constexpr int kVirtioNetFGuestEcn = 9;           // guest accepts TSO with ECN
inline constexpr int kVirtioNetFGuestUfo = 10;          // guest accepts UFO
inline constexpr int kVirtioNetFHostTso4 = 11;          // host handles TSOv4 (guest TX)
inline constexpr int kVirtioNetFHostTso6 = 12;          // host handles TSOv6 (guest TX)
inline constexpr int kVirtioNetFHostEcn = 13;           // host handles TSO with ECN
inline constexpr int kVirtioNetFHostUfo = 14;           // host handles UFO
inline constexpr int kVirtioNetFMrgRxbuf = 15;          // mergeable receive buffers
inline constexpr int kVirtioNetFStatus = 16;            // config status field
inline constexpr int kVirtioNetFCtrlVq = 17;            // control virtqueue
inline constexpr int kVirtioNetFCtrlRx = 18;            // RX mode control
inline constexpr int kVirtioNetFCtrlVlan = 19;          // VLAN filtering control
inline constexpr int kVirtioNetFGuestAnnounce = 21;     // guest sends its own announce
inline constexpr int kVirtioNetFMq = 22;                // multiqueue
inline constexpr int kVirtioFNotifyOnEmpty = 24;        // legacy notify on empty
inline constexpr int kVhostFLogAll = 26;                // dirty page logging (live migration)
inline constexpr int kVirtioFAnyLayout = 27;            // any descriptor layout
inline constexpr int kVirtioRingFIndirectDesc = 28;     // indirect descriptors
inline constexpr int kVirtioRingFEventIdx = 29;         // event index suppression
inline constexpr int kVhostUserFProtocolFeatures = 30;  // vhost-user protocol features
inline constexpr int kVirtioFVersion1 = 32;             // virtio 1.0
inline constexpr int kVirtioFIommuPlatform = 33;        // IOMMU / access platform
inline constexpr int kVirtioFRingPacked = 34;           // packed virtqueues
inline constexpr int kVirtioFInOrder = 35;              // in-order completion

constexpr uint64_t featureBit(int bit) {
  return 1ULL << bit;
}

// Features that make the guest hand vfod partially checksummed or
// segmentation-offloaded frames (guest TX): offered only when every uplink
// of the port can finish the job in hardware.
inline constexpr uint64_t kHostChecksumFeatures = featureBit(kVirtioNetFCsum);
inline constexpr uint64_t kHostSegmentationFeatures =
    featureBit(kVirtioNetFHostTso4) | featureBit(kVirtioNetFHostTso6) |
    featureBit(kVirtioNetFHostEcn) | featureBit(kVirtioNetFHostUfo) | featureBit(kVirtioNetFGso);
// Features that let vfod hand the guest partially checksummed or
// coalesced frames (guest RX). vfod never produces those (no LRO on the
// uplinks), so they are always withdrawn: the guest then never expects them.
inline constexpr uint64_t kGuestOffloadFeatures =
    featureBit(kVirtioNetFGuestCsum) | featureBit(kVirtioNetFGuestTso4) |
    featureBit(kVirtioNetFGuestTso6) | featureBit(kVirtioNetFGuestEcn) |
    featureBit(kVirtioNetFGuestUfo) | featureBit(kVirtioNetFCtrlGuestOffloads);

// "MRG_RXBUF|MQ|..." for logs; unknown bits as "bit45".
std::string describeFeatures(uint64_t features);

}  // namespace vfo::vhost
