#include "vfo/base/ip_address.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>
#include <vector>

namespace vfo {

namespace {

std::string quoted(std::string_view text) {
  // Long junk is cut so that an error message stays one readable line.
  // (Built with fmt: GCC 12 at -O3 reports a false -Wrestrict for
  // "'" + std::string.)
  if (text.size() > 48) return fmt::format("'{}...'", text.substr(0, 45));
  return fmt::format("'{}'", text);
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a dotted quad into `out`. Returns an empty string on success, else
// the reason (without the "'x' is not an ... address" prefix).
std::string parseDottedQuad(std::string_view text, std::array<uint8_t, 4>& out) {
  size_t pos = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (pos >= text.size() || text[pos] != '.')
        return fmt::format("want 4 dot-separated octets, found {}", octet);
      ++pos;
    }
    size_t start = pos;
    unsigned value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start >= 3) return fmt::format("octet {} has more than 3 digits", octet + 1);
      value = value * 10 + unsigned(text[pos] - '0');
      ++pos;
    }
    if (pos == start) {
      if (pos < text.size() && text[pos] != '.')
        return fmt::format("'{}' is not a decimal digit", text[pos]);
      return fmt::format("octet {} is empty", octet + 1);
    }
    if (pos - start > 1 && text[start] == '0')
      return fmt::format("octet {} '{}' has a leading zero", octet + 1,
                         text.substr(start, pos - start));
    if (value > 255) return fmt::format("octet {} is {}, above 255", octet + 1, value);
    out[octet] = uint8_t(value);
  }
  if (pos != text.size()) {
    if (text[pos] == '.') return "more than 4 octets";
    return fmt::format("unexpected '{}' after the last octet", text[pos]);
  }
  return {};
}

// Splits "a:b:c" into groups; an empty piece stays empty (checked later).
std::vector<std::string_view> splitGroups(std::string_view text) {
  std::vector<std::string_view> groups;
  if (text.empty()) return groups;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    if (colon == std::string_view::npos) {
      groups.push_back(text.substr(start));
      return groups;
    }
    groups.push_back(text.substr(start, colon - start));
    start = colon + 1;
  }
}

// Converts groups to 16-bit words; the last group may be a dotted quad when
// `allow_quad_tail`. Returns the reason on failure.
std::string groupsToWords(const std::vector<std::string_view>& groups, bool allow_quad_tail,
                          std::vector<uint16_t>& words) {
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string_view g = groups[i];
    if (g.empty()) return "empty group (a single ':' where a group or '::' is expected)";
    if (g.find('.') != std::string_view::npos) {
      if (!allow_quad_tail || i + 1 != groups.size())
        return fmt::format("dotted quad '{}' is allowed only as the last 32 bits", g);
      std::array<uint8_t, 4> quad{};
      std::string why = parseDottedQuad(g, quad);
      if (!why.empty()) return fmt::format("IPv4 tail '{}': {}", g, why);
      words.push_back(uint16_t(quad[0] << 8 | quad[1]));
      words.push_back(uint16_t(quad[2] << 8 | quad[3]));
      continue;
    }
    if (g.size() > 4) return fmt::format("group '{}' has more than 4 hex digits", g);
    unsigned value = 0;
    for (char c : g) {
      int d = hexDigit(c);
      if (d < 0) return fmt::format("'{}' is not a hex digit", c);
      value = value << 4 | unsigned(d);
    }
    words.push_back(uint16_t(value));
  }
  return {};
}

}  // namespace

Ipv4Address Ipv4Address::fromBytes(const uint8_t* b) {
  std::array<uint8_t, 4> a;
  std::memcpy(a.data(), b, 4);
  return Ipv4Address(a);
}

StatusOr<Ipv4Address> Ipv4Address::parse(std::string_view text) {
  if (text.empty()) return invalidArgument("'' is not an IPv4 address: empty string");
  std::array<uint8_t, 4> b{};
  std::string why = parseDottedQuad(text, b);
  if (!why.empty())
    return invalidArgument(quoted(text) + " is not an IPv4 address: " + why +
                           " (want a.b.c.d, e.g. 198.18.0.1)");
  return Ipv4Address(b);
}

std::string Ipv4Address::toString() const {
  return fmt::format("{}.{}.{}.{}", bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
}

Ipv6Address Ipv6Address::fromBytes(const uint8_t* b) {
  std::array<uint8_t, 16> a;
  std::memcpy(a.data(), b, 16);
  return Ipv6Address(a);
}

StatusOr<Ipv6Address> Ipv6Address::parse(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return invalidArgument(quoted(text) + " is not an IPv6 address: " + std::string(why));
  };
  if (text.empty()) return bad("empty string");
  // The longest valid form is 8 groups of 4 digits with a dotted tail: 45.
  if (text.size() > 45) return bad("longer than any IPv6 address (45 characters)");
  if (text.find('%') != std::string_view::npos) return bad("zone ids ('%...') are not accepted");
  if (text.find('/') != std::string_view::npos) return bad("prefix lengths are not accepted");

  if (text.find(":::") != std::string_view::npos) return bad("':::' is not valid");
  const size_t gap = text.find("::");
  if (gap != std::string_view::npos && text.find("::", gap + 1) != std::string_view::npos)
    return bad("'::' may appear only once");

  std::vector<uint16_t> head, tail;
  if (gap == std::string_view::npos) {
    std::string why = groupsToWords(splitGroups(text), true, head);
    if (!why.empty()) return bad(why);
    if (head.size() != 8)
      return bad(fmt::format("{} groups of 16 bits, want 8 (or use '::')", head.size()));
  } else {
    std::string_view left = text.substr(0, gap), right = text.substr(gap + 2);
    std::string why = groupsToWords(splitGroups(left), false, head);
    if (why.empty()) why = groupsToWords(splitGroups(right), true, tail);
    if (!why.empty()) return bad(why);
    if (head.size() + tail.size() > 7)
      return bad(
          fmt::format("{} groups besides '::', at most 7 allowed", head.size() + tail.size()));
  }

  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < head.size(); ++i) {
    b[2 * i] = uint8_t(head[i] >> 8);
    b[2 * i + 1] = uint8_t(head[i]);
  }
  const size_t tail_start = 8 - tail.size();
  for (size_t i = 0; i < tail.size(); ++i) {
    b[2 * (tail_start + i)] = uint8_t(tail[i] >> 8);
    b[2 * (tail_start + i) + 1] = uint8_t(tail[i]);
  }
  return Ipv6Address(b);
}

std::string Ipv6Address::toString() const {
  if (isIpv4Mapped())
    return fmt::format("::ffff:{}.{}.{}.{}", bytes_[12], bytes_[13], bytes_[14], bytes_[15]);
  uint16_t words[8];
  for (int i = 0; i < 8; ++i) words[i] = uint16_t(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  // Longest run of zero words, at least 2 long; the first wins a tie.
  int best_start = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && words[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best_start = -1;

  std::string out;
  out.reserve(39);
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    fmt::format_to(std::back_inserter(out), "{:x}", words[i]);
  }
  return out;
}

}  // namespace vfo
