// libFuzzer target for the address-frame parser and the address learner.
//
// Every input is one Ethernet frame. The harness checks, besides the memory
// and UB checks of the sanitizers:
//  - parseAddressFrame() is consistent, on the input as is and on a copy
//    whose IPv4 header and ICMPv6 checksums were recomputed (random bytes
//    almost never carry a valid checksum, so without the fix-up the fuzzer
//    could not get past the checksum checks into ND option parsing): a defect exactly for
//    kMalformed, a binding only for kAddress, and a binding is always something a host can own
//    (unicast MAC, usable address, VLAN 0..4094);
//  - the parser is deterministic;
//  - the learner, fed the frame in both directions on a port that allows the
//    frame's own source MAC, keeps its invariants: at most the cap, only
//    allowed MACs, only usable addresses, counters that add up, and
//    expire() at max_age empties it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "vfo/lag/address_learner.h"
#include "vfo/lag/frame_parser.h"
#include "vfo/lag/inet_checksum.h"

using namespace vfo;
using namespace vfo::lag;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

void checkBinding(const AddressBinding& b) {
  check(!b.mac.isMulticast() && !b.mac.isZero(), "binding MAC is unicast");
  check(b.vlan <= 4094, "binding VLAN <= 4094");
  if (b.family == IpFamily::kIpv4) {
    check(b.ipv4.isUsableUnicast(), "IPv4 binding is usable");
    check(b.ipv6.isUnspecified(), "IPv4 binding leaves ipv6 empty");
  } else {
    check(b.family == IpFamily::kIpv6, "family is IPv4 or IPv6");
    check(b.ipv6.isUsableUnicast(), "IPv6 binding is usable");
    check(b.ipv4.isZero(), "IPv6 binding leaves ipv4 empty");
  }
}

const MacAddress kSeedMac({0x52, 0x54, 0x00, 0x12, 0x34, 0x56});

uint16_t get16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

// Recomputes the checksums the parser verifies, where the frame is long
// enough to hold them; everything else stays as the fuzzer made it.
void fixChecksums(std::vector<uint8_t>& f) {
  size_t l3 = 14;
  if (f.size() < l3) return;
  uint16_t type = get16(&f[12]);
  if (type == 0x8100 && f.size() >= 18) {
    type = get16(&f[16]);
    l3 = 18;
  }
  uint8_t* p = f.data() + l3;
  const size_t len = f.size() - l3;
  if (type == 0x0800 && len >= 20) {
    const size_t ihl = size_t(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len) return;
    put16(p + 10, 0);
    put16(p + 10, checksumFinish(checksumAdd(0, {p, ihl})));
  } else if (type == 0x86dd && len >= 44 && p[6] == 58) {
    const size_t payload = get16(p + 4);
    if (payload < 4 || payload > len - 40) return;
    put16(p + 42, 0);
    put16(p + 42, icmpv6Checksum(Ipv6Address::fromBytes(p + 8), Ipv6Address::fromBytes(p + 24),
                                 {p + 40, payload}));
  }
}

void checkParse(std::span<const uint8_t> frame) {
  const ParsedFrame r = parseAddressFrame(frame);
  check((r.verdict == ParseVerdict::kMalformed) == (r.defect != FrameDefect::none),
        "defect set exactly for malformed frames");
  check(frameDefectName(r.defect) != "none" || r.defect == FrameDefect::none, "defect has a name");
  switch (r.verdict) {
    case ParseVerdict::kAddress:
      check(r.source != AddressSource::kNone && r.silent == SilentReason::kNone, "address source");
      checkBinding(r.binding);
      break;
    case ParseVerdict::kNoAddress:
      check(r.source != AddressSource::kNone && r.silent != SilentReason::kNone, "silent reason");
      break;
    case ParseVerdict::kNotRelevant:
    case ParseVerdict::kMalformed:
      check(r.source == AddressSource::kNone, "no source for ignored frames");
      break;
  }
  const ParsedFrame again = parseAddressFrame(frame);
  check(again.verdict == r.verdict && again.defect == r.defect && again.binding == r.binding,
        "parser is deterministic");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The fixed-up copy is exactly as long as the input, so ASan still sees
  // any read past the end.
  std::vector<uint8_t> fixed(data, data + size);
  fixChecksums(fixed);
  checkParse(fixed);
  const std::span<const uint8_t> frame(data, size);
  checkParse(frame);

  AddressLearnerConfig config;
  config.max_addresses_per_port = 2;
  auto learner = std::move(AddressLearner::create(config).value());
  MacAddress allowed[2] = {kSeedMac, kSeedMac};
  if (size >= 12) {
    const MacAddress src = MacAddress::fromBytes(data + 6);
    if (!src.isMulticast() && !src.isZero()) allowed[1] = src;
  }
  check(learner->addPort(1, allowed).isOk(), "addPort");
  const TimePoint t0{std::chrono::seconds(100)};
  learner->observe(1, FrameDirection::kFromGuest, fixed, t0);
  learner->observe(1, FrameDirection::kToGuest, fixed, t0 + std::chrono::seconds(1));
  learner->observe(2, FrameDirection::kFromGuest, frame, t0);  // unknown port

  const auto entries = learner->addresses(1);
  check(entries.size() <= 2, "cap holds");
  for (const LearnedAddress& e : entries) {
    checkBinding(e.binding);
    check(e.binding.mac == allowed[0] || e.binding.mac == allowed[1], "only allowed MACs");
    check(e.first_seen <= e.last_seen, "first_seen <= last_seen");
  }
  const auto s = learner->stats();
  check(s.frames_seen == 3 && s.frames_unknown_port == 1, "frames counted");
  check(s.frames_not_relevant + s.frames_malformed + s.wrong_direction + s.mac_not_allowed +
                s.link_local_skipped + s.arp_probes + s.dad_solicitations + s.dhcp_not_ack +
                s.learned + s.refreshed + s.moved ==
            2,
        "every observed frame has exactly one outcome");
  check(entries.size() == s.learned, "entries match learned count");
  uint64_t defects = 0;
  learner->defects().forEach([&](const StatInfo&, uint64_t v) { defects += v; });
  check(defects == s.frames_malformed, "defect counters add up");

  learner->expire(t0 + std::chrono::seconds(1) + config.max_age);
  check(learner->addresses(1).empty(), "expire at max_age empties the port");
  check(learner->nextDeadline() == kNever, "no deadline without entries");
  return 0;
}
