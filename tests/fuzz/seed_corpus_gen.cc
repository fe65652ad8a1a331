// Writes the seed corpus of frame_parser_fuzz: one valid frame of each kind
// the parser accepts, tagged and untagged. The files are committed under
// tests/fuzz/corpus/frame_parser/; rerun this after changing what the parser
// accepts:
//   build/tests/fuzz/vfo_fuzz_seed_gen tests/fuzz/corpus/frame_parser
#include <cstdio>
#include <string>
#include <vector>

#include "../unit/lag-core/frame_samples.h"
#include "vfo/lag/frame_parser.h"
#include "vfo/lag/frames.h"

using namespace vfo;
using namespace vfo::lag;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const MacAddress mac = *MacAddress::parse("52:54:00:12:34:56");
  const MacAddress server = *MacAddress::parse("02:00:00:00:00:fe");
  const Ipv4Address ip = *Ipv4Address::parse("198.18.0.5");
  const Ipv4Address router = *Ipv4Address::parse("198.18.0.1");
  const Ipv6Address ip6 = *Ipv6Address::parse("2001:db8::5");
  const Ipv6Address ll = *Ipv6Address::parse("fe80::5054:ff:fe12:3456");
  const Ipv6Address router6 = *Ipv6Address::parse("2001:db8::1");

  samples::DhcpFields ack;
  ack.server_mac = server;
  ack.chaddr = mac;
  ack.server_ip = router;
  ack.yiaddr = ip;
  ack.extra_options = {51, 4, 0, 0, 0x0e, 0x10, 54, 4, 198, 18, 0, 1, 1, 4, 255, 255, 255, 0};
  samples::DhcpFields ack_vlan = ack;
  ack_vlan.vlan = 100;
  ack_vlan.ip_options_words = 1;
  samples::DhcpFields offer = ack;
  offer.message_type = 2;

  const std::vector<std::pair<std::string, std::vector<uint8_t>>> seeds = {
      {"garp_request", *buildGratuitousArp(GarpForm::kRequest, mac, ip, 0)},
      {"garp_reply_vlan100", *buildGratuitousArp(GarpForm::kReply, mac, ip, 100)},
      {"arp_request", *buildArpRequest(mac, ip, router, 0)},
      {"arp_probe", *buildArpRequest(mac, Ipv4Address(), ip, 0)},
      {"rarp_announce", *buildRarpAnnounce(mac, 0)},
      {"na", *buildUnsolicitedNa(mac, ip6, 0)},
      {"na_link_local_vlan100", *buildUnsolicitedNa(mac, ll, 100)},
      {"ns", *buildNeighborSolicitation(mac, ip6, router6, 0)},
      {"ns_dad", *buildNeighborSolicitation(mac, Ipv6Address(), ip6, 0)},
      {"dhcp_ack", samples::dhcpReply(ack)},
      {"dhcp_ack_vlan100_ip_options", samples::dhcpReply(ack_vlan)},
      {"dhcp_offer", samples::dhcpReply(offer)},
  };
  for (const auto& [name, frame] : seeds) {
    const ParsedFrame r = parseAddressFrame(frame);
    if (r.verdict == ParseVerdict::kMalformed) {
      std::fprintf(stderr, "seed %s is malformed (%s)\n", name.c_str(),
                   std::string(frameDefectName(r.defect)).c_str());
      return 1;
    }
    const std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f || std::fwrite(frame.data(), 1, frame.size(), f) != frame.size() || std::fclose(f)) {
      std::perror(path.c_str());
      return 1;
    }
  }
  std::printf("wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
  return 0;
}
