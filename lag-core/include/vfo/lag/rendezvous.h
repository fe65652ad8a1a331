// Rendezvous (highest random weight) hashing helpers for balance-vm.
//
// weight(port, member) = mix64(portKey(port name) ^ memberSalt(member name)).
// A port's home is the enabled member with the highest weight (ties: lower
// member id). Removing a member changes only the homes of ports whose home
// it was; adding one takes only the ports for which it has the highest
// weight. Names, not ids, feed the hash so a port keeps its home when the
// member list is reordered.
#pragma once

#include <cstdint>
#include <string_view>

namespace vfo::lag {

// A 64-bit finaliser with full avalanche (the splitmix64 output function).
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// FNV-1a over the bytes, then mix64.
constexpr uint64_t hashName(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= uint8_t(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

constexpr uint64_t portKey(std::string_view port_name) {
  return hashName(port_name);
}
// Distinct from portKey so a port and a member with the same name do not
// produce a zero XOR.
constexpr uint64_t memberSalt(std::string_view member_name) {
  return mix64(hashName(member_name) + 0x9e3779b97f4a7c15ULL);
}
constexpr uint64_t rendezvousWeight(uint64_t port_key, uint64_t member_salt) {
  return mix64(port_key ^ member_salt);
}

}  // namespace vfo::lag
