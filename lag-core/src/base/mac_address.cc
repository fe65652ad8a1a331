#include "vfo/base/mac_address.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstring>

namespace vfo {

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

MacAddress MacAddress::fromBytes(const uint8_t* b) {
  std::array<uint8_t, 6> a;
  std::memcpy(a.data(), b, 6);
  return MacAddress(a);
}

StatusOr<MacAddress> MacAddress::parse(std::string_view text) {
  auto bad = [&] {
    return invalidArgument(
        fmt::format("'{}' is not a MAC address (want aa:bb:cc:dd:ee:ff)", text.substr(0, 40)));
  };
  if (text.size() != 17) return bad();
  std::array<uint8_t, 6> b{};
  const char sep = text[2];
  if (sep != ':' && sep != '-') return bad();
  for (int i = 0; i < 6; ++i) {
    int hi = hexValue(text[i * 3]), lo = hexValue(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return bad();
    if (i < 5 && text[i * 3 + 2] != sep) return bad();
    b[i] = uint8_t(hi << 4 | lo);
  }
  return MacAddress(b);
}

StatusOr<MacAddress> MacAddress::parseUnicast(std::string_view text) {
  auto m = parse(text);
  if (!m.isOk()) return m;
  if (m->isMulticast())
    return invalidArgument(
        fmt::format("{} is a multicast address; a guest MAC must be unicast", m->toString()));
  if (m->isZero()) return invalidArgument("00:00:00:00:00:00 is not a usable guest MAC");
  return m;
}

std::string MacAddress::toString() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes_[0], bytes_[1], bytes_[2],
                bytes_[3], bytes_[4], bytes_[5]);
  return buf;
}

}  // namespace vfo
