// Ethernet MAC address value type.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "vfo/base/status.h"

namespace vfo {

class MacAddress {
 public:
  constexpr MacAddress() = default;
  constexpr explicit MacAddress(const std::array<uint8_t, 6>& b) : bytes_(b) {}
  static MacAddress fromBytes(const uint8_t* b);

  // Accepts "aa:bb:cc:dd:ee:ff" (also '-' separated, any case). Errors name
  // the input: INVALID_ARGUMENT "'zz:..' is not a MAC address (want aa:bb:cc:dd:ee:ff)".
  static StatusOr<MacAddress> parse(std::string_view text);
  // parse() plus the rules for a guest MAC: not multicast/broadcast, not zero.
  static StatusOr<MacAddress> parseUnicast(std::string_view text);

  constexpr const std::array<uint8_t, 6>& bytes() const { return bytes_; }
  const uint8_t* data() const { return bytes_.data(); }
  constexpr bool isMulticast() const { return bytes_[0] & 0x01; }  // includes broadcast
  constexpr bool isBroadcast() const {
    for (auto b : bytes_)
      if (b != 0xff) return false;
    return true;
  }
  constexpr bool isZero() const {
    for (auto b : bytes_)
      if (b != 0) return false;
    return true;
  }
  constexpr bool isLocallyAdministered() const { return bytes_[0] & 0x02; }

  // Lower-case colon form.
  std::string toString() const;

  friend constexpr auto operator<=>(const MacAddress&, const MacAddress&) = default;

  static constexpr MacAddress broadcast() {
    return MacAddress({0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  }

 private:
  std::array<uint8_t, 6> bytes_{};
};

}  // namespace vfo

template <>
struct std::hash<vfo::MacAddress> {
  size_t operator()(const vfo::MacAddress& m) const noexcept {
    uint64_t v = 0;
    for (auto b : m.bytes()) v = (v << 8) | b;
    return std::hash<uint64_t>{}(v);
  }
};
