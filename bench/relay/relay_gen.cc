// vfo_relay_gen: the paced frame generator of bench/relay (see relay_bench.cc).
//
// A DPDK process on one lcore with one or two virtio-user ports:
//   net_virtio_user0  the guest side: sends guest -> uplink frames (source =
//                     --guest-mac, destination = --peer-mac) into the
//                     forwarder's vhost-user socket for the guest;
//   net_virtio_user1  bidirectional mode only (--bidir): the uplink side:
//                     sends uplink -> guest frames (source = --peer-mac,
//                     destination = --guest-mac) into the forwarder's uplink
//                     (a net_vhost port), and both ports drain what the
//                     forwarder delivers to them.
// Frames are IPv4/UDP of --size bytes (without FCS); only the 42 header bytes
// are written, like testpmd txonly.
//
// Driven line by line on stdin, so the bench reads the forwarder's counters
// between phases, when no frame is in flight:
//   run RATE SECONDS  offer RATE Mpps per sending port (0: unpaced, as fast
//                     as the TX ring takes them, waiting 500 ns after a burst
//                     the full ring refused entirely) for SECONDS, then drain
//                     for 50 ms;
//                     prints one "result key=value ..." line (below)
//   quit              exit
// Prints "ready" once every port's link is up, "error: ..." and exits 1 when
// something fails.
//
// Pacing is by TSC (rte_rdtsc, rte_get_tsc_hz): at each loop iteration the
// frames due since the phase started are computed, and up to one burst (32)
// of the backlog is offered per port. Offered frames the TX ring refuses
// (the forwarder did not drain the ring in time) are freed and counted as
// refused, never retried: a retry would turn a drop into a lower rate. When
// the backlog exceeds two bursts (the generator was preempted, or the rate
// is above what its core makes), the excess is skipped, not sent as one
// long burst that would overflow the ring for the generator's sake, and
// counted. A generator that cannot keep up thus offers fewer frames than
// due: the result says so ("behind=1" when it offered less than 99% of the
// frames due, the skipped frames, and the largest backlog it had) instead of
// passing a lower rate off as the requested one.
//
// Result line keys (counts over the phase, per port p = 0 guest side, 1
// uplink side): target_mpps (per sending port; 0 = unpaced), seconds (phase
// length measured by TSC), offered_p (frames handed to TX), sent_p (taken by
// the TX ring), refused_p (offered but refused), skipped_p (due but skipped
// after a stall), rx_p (frames received during the phase and the drain), max_backlog (largest
// number of frames due but not yet offered on one port, paced only), behind (0/1).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

namespace {

constexpr uint16_t kBurst = 32;
// Unpaced phases only: how long to wait after a burst the full TX ring
// refused entirely, before offering again.
constexpr uint64_t kFullRingBackoffNs = 500;
// Paced phases: the largest backlog (frames due, not yet offered) the
// generator works off; beyond it the excess is skipped (see below).
constexpr uint64_t kMaxCatchUp = 2 * kBurst;
constexpr size_t kHeaderLen =
    sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);  // 42

// One sending port: the ethdev and the header template of its frames.
struct TxPort {
  uint16_t port = 0;                // ethdev port id
  uint8_t header[kHeaderLen] = {};  // Ethernet + IPv4 + UDP, checksummed
};

// Per-port counters of one phase.
struct PortCounts {
  uint64_t offered = 0;  // frames handed to rte_eth_tx_burst
  uint64_t sent = 0;     // frames the TX ring took
  uint64_t skipped = 0;  // paced: frames due while the generator stalled, never offered
  uint64_t rx = 0;       // frames received
};

[[noreturn]] void fail(const std::string& what) {
  std::printf("error: %s\n", what.c_str());
  std::fflush(stdout);
  rte_eal_cleanup();
  std::exit(1);
}

bool parseMac(const std::string& s, rte_ether_addr* out) {
  return rte_ether_unformat_addr(s.c_str(), out) == 0;
}

// The frame headers: `src` -> `dst`, IPv4 198.18.x.1 -> 198.18.x.2 (the
// benchmarking range), UDP 1024 -> 1024, total frame `size` bytes.
void buildHeader(uint8_t* h, const rte_ether_addr& src, const rte_ether_addr& dst, uint16_t size,
                 uint8_t subnet) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(h);
  eth->src_addr = src;
  eth->dst_addr = dst;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(h + sizeof(rte_ether_hdr));
  std::memset(ip, 0, sizeof *ip);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->total_length = rte_cpu_to_be_16(uint16_t(size - sizeof(rte_ether_hdr)));
  ip->src_addr = rte_cpu_to_be_32((198u << 24) | (18u << 16) | (uint32_t(subnet) << 8) | 1);
  ip->dst_addr = rte_cpu_to_be_32((198u << 24) | (18u << 16) | (uint32_t(subnet) << 8) | 2);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(h + sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr));
  udp->src_port = rte_cpu_to_be_16(1024);
  udp->dst_port = rte_cpu_to_be_16(1024);
  udp->dgram_len = rte_cpu_to_be_16(uint16_t(size - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr)));
  udp->dgram_cksum = 0;
}

uint16_t setupPort(const char* name, rte_mempool* pool) {
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(name, &port) != 0)
    fail(std::string("no ethdev ") + name + " (missing --vdev?)");
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0) fail(std::string(name) + ": configure");
  // 0 descriptors: the driver's default (the vring size, 256 for virtio-user).
  if (rte_eth_rx_queue_setup(port, 0, 0, unsigned(rte_socket_id()), nullptr, pool) != 0)
    fail(std::string(name) + ": RX queue setup");
  if (rte_eth_tx_queue_setup(port, 0, 0, unsigned(rte_socket_id()), nullptr) != 0)
    fail(std::string(name) + ": TX queue setup");
  if (rte_eth_dev_start(port) != 0) fail(std::string(name) + ": start");
  return port;
}

bool linkUp(uint16_t port) {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal_args = rte_eal_init(argc, argv);
  if (eal_args < 0) {
    std::printf("error: rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  argc -= eal_args;
  argv += eal_args;
  uint16_t size = 64;
  bool bidir = false;
  rte_ether_addr guest_mac{}, peer_mac{};
  bool have_guest = false, have_peer = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) {
      const int v = std::atoi(argv[++i]);
      if (v < 60 || v > 1518) fail("--size must be 60..1518 bytes");
      size = uint16_t(v);
    } else if (a == "--bidir") {
      bidir = true;
    } else if (a == "--guest-mac" && i + 1 < argc) {
      have_guest = parseMac(argv[++i], &guest_mac);
    } else if (a == "--peer-mac" && i + 1 < argc) {
      have_peer = parseMac(argv[++i], &peer_mac);
    } else {
      fail("unknown argument '" + a +
           "'; usage: vfo_relay_gen EAL-ARGS -- --guest-mac M --peer-mac M [--size N] [--bidir]");
    }
  }
  if (!have_guest || !have_peer) fail("--guest-mac and --peer-mac must be valid MAC addresses");

  rte_mempool* pool = rte_pktmbuf_pool_create("gen_mbufs", 16384, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              int(rte_socket_id()));
  if (!pool) fail(std::string("mbuf pool: ") + rte_strerror(rte_errno));

  const int nports = bidir ? 2 : 1;
  TxPort tx[2];
  tx[0].port = setupPort("net_virtio_user0", pool);
  buildHeader(tx[0].header, guest_mac, peer_mac, size, 0);
  if (bidir) {
    tx[1].port = setupPort("net_virtio_user1", pool);
    buildHeader(tx[1].header, peer_mac, guest_mac, size, 1);
  }
  const uint64_t hz = rte_get_tsc_hz();
  {
    const uint64_t deadline = rte_rdtsc() + 30 * hz;
    bool up = false;
    while (!up && rte_rdtsc() < deadline) {
      up = true;
      for (int p = 0; p < nports; ++p) up = up && linkUp(tx[p].port);
      if (!up) rte_delay_ms(10);
    }
    if (!up) fail("link of a virtio-user port not up within 30 s (is the forwarder listening?)");
  }
  std::printf("ready tsc_hz=%lu\n", (unsigned long)hz);
  std::fflush(stdout);

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit") break;
    double rate_mpps = -1, seconds = -1;
    if (cmd != "run" || !(in >> rate_mpps >> seconds) || rate_mpps < 0 || seconds <= 0) {
      std::printf("error: bad command '%s' (want: run RATE_MPPS SECONDS | quit)\n", line.c_str());
      std::fflush(stdout);
      continue;
    }
    PortCounts c[2];
    const double frames_per_cycle = rate_mpps * 1e6 / double(hz);
    uint64_t max_backlog = 0;
    rte_mbuf* pkts[kBurst];
    auto drain = [&] {
      for (int p = 0; p < nports; ++p) {
        const uint16_t n = rte_eth_rx_burst(tx[p].port, 0, pkts, kBurst);
        if (n) {
          c[p].rx += n;
          rte_pktmbuf_free_bulk(pkts, n);
        }
      }
    };
    const uint64_t start = rte_rdtsc();
    const uint64_t end = start + uint64_t(seconds * double(hz));
    uint64_t now = start;
    while ((now = rte_rdtsc()) < end) {
      // Frames due since the start, per port (paced), or a full burst.
      const uint64_t due =
          rate_mpps > 0 ? uint64_t(double(now - start) * frames_per_cycle) : UINT64_MAX;
      for (int p = 0; p < nports; ++p) {
        uint64_t want = kBurst;
        if (rate_mpps > 0) {
          uint64_t backlog = due - c[p].offered - c[p].skipped;
          max_backlog = std::max(max_backlog, backlog);
          if (backlog > kMaxCatchUp) {
            // The generator stalled (preempted): offering the backlog now
            // would be a burst no paced source makes; skip it instead.
            c[p].skipped += backlog - kBurst;
            backlog = kBurst;
          }
          want = std::min<uint64_t>(backlog, kBurst);
        }
        if (want == 0) continue;
        if (rte_pktmbuf_alloc_bulk(pool, pkts, unsigned(want)) != 0) continue;  // pool empty: retry
        for (uint64_t i = 0; i < want; ++i) {
          rte_mbuf* m = pkts[i];
          std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), tx[p].header, kHeaderLen);
          m->data_len = size;
          m->pkt_len = size;
        }
        const uint16_t sent = rte_eth_tx_burst(tx[p].port, 0, pkts, uint16_t(want));
        if (sent < want) rte_pktmbuf_free_bulk(&pkts[sent], unsigned(want - sent));
        c[p].offered += want;
        c[p].sent += sent;
        if (sent == 0 && rate_mpps == 0) {
          // Unpaced and the ring is full: wait like a driver waiting for a
          // used-buffer notification, instead of polling the ring's shared
          // cache lines while the forwarder works on them.
          const uint64_t until = rte_rdtsc() + kFullRingBackoffNs * hz / 1000000000;
          while (rte_rdtsc() < until) rte_pause();
        }
      }
      if (bidir) drain();
    }
    const double elapsed = double(now - start) / double(hz);
    // Let the forwarder take what is still in the rings and drain what it
    // delivers, so the bench reads settled counters.
    const uint64_t drain_end = rte_rdtsc() + hz / 20;
    while (rte_rdtsc() < drain_end) {
      if (bidir)
        drain();
      else
        rte_pause();
    }
    bool behind = false;
    if (rate_mpps > 0) {
      const double due_total = rate_mpps * 1e6 * elapsed;
      for (int p = 0; p < nports; ++p) behind = behind || double(c[p].offered) < 0.99 * due_total;
    }
    std::printf("result target_mpps=%.4f seconds=%.4f", rate_mpps, elapsed);
    for (int p = 0; p < nports; ++p)
      std::printf(" offered_%d=%lu sent_%d=%lu refused_%d=%lu skipped_%d=%lu rx_%d=%lu", p,
                  (unsigned long)c[p].offered, p, (unsigned long)c[p].sent, p,
                  (unsigned long)(c[p].offered - c[p].sent), p, (unsigned long)c[p].skipped, p,
                  (unsigned long)c[p].rx);
    std::printf(" max_backlog=%lu behind=%d\n", (unsigned long)max_backlog, behind ? 1 : 0);
    std::fflush(stdout);
  }
  for (int p = 0; p < nports; ++p) {
    rte_eth_dev_stop(tx[p].port);
    rte_eth_dev_close(tx[p].port);
  }
  rte_eal_cleanup();
  return 0;
}
