#include "vfo/lag/inet_checksum.h"

namespace vfo::lag {

uint64_t checksumAdd(uint64_t sum, std::span<const uint8_t> data) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += uint64_t(data[i]) << 8 | data[i + 1];
  if (i < data.size()) sum += uint64_t(data[i]) << 8;
  return sum;
}

uint16_t checksumFinish(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

uint16_t icmpv6Checksum(const Ipv6Address& src, const Ipv6Address& dst,
                        std::span<const uint8_t> message) {
  constexpr uint8_t kNextHeaderIcmpv6 = 58;
  uint64_t sum = checksumAdd(0, src.bytes());
  sum = checksumAdd(sum, dst.bytes());
  // Upper-layer packet length (32 bits), three zero bytes, next header.
  sum += (message.size() >> 16) & 0xffff;
  sum += message.size() & 0xffff;
  sum += kNextHeaderIcmpv6;
  return checksumFinish(checksumAdd(sum, message));
}

}  // namespace vfo::lag
