#include "vfo/vhost/virtio_features.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace vfo::vhost {

std::string describeFeatures(uint64_t features) {
  static constexpr std::array<std::pair<int, const char*>, 31> kNames{{
      {kVirtioNetFCsum, "CSUM"},
      {kVirtioNetFGuestCsum, "GUEST_CSUM"},
      {kVirtioNetFCtrlGuestOffloads, "CTRL_GUEST_OFFLOADS"},
      {kVirtioNetFMtu, "MTU"},
      {kVirtioNetFMac, "MAC"},
      {kVirtioNetFGso, "GSO"},
      {kVirtioNetFGuestTso4, "GUEST_TSO4"},
      {kVirtioNetFGuestTso6, "GUEST_TSO6"},
      {kVirtioNetFGuestEcn, "GUEST_ECN"},
      {kVirtioNetFGuestUfo, "GUEST_UFO"},
      {kVirtioNetFHostTso4, "HOST_TSO4"},
      {kVirtioNetFHostTso6, "HOST_TSO6"},
      {kVirtioNetFHostEcn, "HOST_ECN"},
      {kVirtioNetFHostUfo, "HOST_UFO"},
      {kVirtioNetFMrgRxbuf, "MRG_RXBUF"},
      {kVirtioNetFStatus, "STATUS"},
      {kVirtioNetFCtrlVq, "CTRL_VQ"},
      {kVirtioNetFCtrlRx, "CTRL_RX"},
      {kVirtioNetFCtrlVlan, "CTRL_VLAN"},
      {kVirtioNetFGuestAnnounce, "GUEST_ANNOUNCE"},
      {kVirtioNetFMq, "MQ"},
      {kVirtioFNotifyOnEmpty, "NOTIFY_ON_EMPTY"},
      {kVhostFLogAll, "LOG_ALL"},
      {kVirtioFAnyLayout, "ANY_LAYOUT"},
      {kVirtioRingFIndirectDesc, "INDIRECT_DESC"},
      {kVirtioRingFEventIdx, "EVENT_IDX"},
      {kVhostUserFProtocolFeatures, "PROTOCOL_FEATURES"},
      {kVirtioFVersion1, "VERSION_1"},
      {kVirtioFIommuPlatform, "IOMMU_PLATFORM"},
      {kVirtioFRingPacked, "RING_PACKED"},
      {kVirtioFInOrder, "IN_ORDER"},
  }};
  std::string out;
  for (int bit = 0; bit < 64; ++bit) {
    if (!(features & (1ULL << bit))) continue;
    const char* name = nullptr;
    for (const auto& [b, n] : kNames)
      if (b == bit) name = n;
    if (!out.empty()) out += '|';
    out += name ? std::string(name) : fmt::format("bit{}", bit);
  }
  return out.empty() ? "none" : out;
}

}  // namespace vfo::vhost
