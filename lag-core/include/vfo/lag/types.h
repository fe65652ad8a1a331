// Identifiers shared by every lag-core piece and its users.
#pragma once

#include <cstdint>
#include <limits>

namespace vfo::lag {

// Index of a member (physical port / PF) inside its LAG group: 0..N-1,
// assigned in configuration order and stable for the group's lifetime.
using MemberId = uint32_t;
inline constexpr MemberId kNoMember = std::numeric_limits<MemberId>::max();

// Dense index of a VM port inside the group, assigned by the group when the
// port is added and never reused while the port exists.
using PortIndex = uint32_t;
inline constexpr PortIndex kNoPort = std::numeric_limits<PortIndex>::max();

// 802.1Q VLAN id; 0 means untagged.
using VlanId = uint16_t;
inline constexpr VlanId kNoVlan = 0;

}  // namespace vfo::lag
