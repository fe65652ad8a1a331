// The Internet checksum (RFC 1071) and the ICMPv6 pseudo-header sum
// (RFC 8200 section 8.1).
//
// Contract: pure functions over byte spans, no allocation, callable from the
// datapath. Sums are accumulated in 64 bits, so any frame-sized input (and
// far more) cannot overflow before folding.
#pragma once

#include <cstdint>
#include <span>

#include "vfo/base/ip_address.h"

namespace vfo::lag {

// Adds `data` as big-endian 16-bit words to `sum`. An odd trailing byte is
// padded with a zero byte, so only the last chunk of a message may have odd
// length.
uint64_t checksumAdd(uint64_t sum, std::span<const uint8_t> data);

// Folds a sum to 16 bits and complements it: the value to store in a
// checksum field (network byte order when written high byte first).
uint16_t checksumFinish(uint64_t sum);

// The ICMPv6 checksum of `message` (the whole ICMPv6 message, its checksum
// field included as it is) with the pseudo-header for src/dst. To compute a
// checksum, zero the field first and store the result; to verify, the
// result over a received message is 0.
uint16_t icmpv6Checksum(const Ipv6Address& src, const Ipv6Address& dst,
                        std::span<const uint8_t> message);

}  // namespace vfo::lag
