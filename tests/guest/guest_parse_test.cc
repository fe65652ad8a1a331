// Parsers of the guests' output, on text in the exact shape the guest init
// and dpdk-testpmd 22.11 print.
#include <gtest/gtest.h>

#include "vfo/testing/guest.h"

namespace vfo::testing {
namespace {

TEST(GuestConsole, ResultsLaterLineWinsAndJunkIgnored) {
  const std::string console =
      "[    1.2] reboot: something\r\n"
      "VFO-BOOT uptime=1.60\n"
      "VFO-RESULT p.tx=3\n"
      "VFO-RESULT p.rx=2\r\n"
      "VFO-RESULT neigh=198.18.0.1 dev eth0 lladdr 56:48:4f:53:54:00\n"
      "VFO-RESULT =novalue\n"
      "VFO-RESULT noequals\n"
      "VFO-RESULT p.rx=3\n"
      "VFO-DONE rc=0\n";
  auto r = parseGuestResults(console);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r["p.tx"], "3");
  EXPECT_EQ(r["p.rx"], "3");
  EXPECT_EQ(r["neigh"], "198.18.0.1 dev eth0 lladdr 56:48:4f:53:54:00");
}

TEST(GuestConsole, DoneTakesTheLastLine) {
  EXPECT_FALSE(parseGuestDone("VFO-BOOT uptime=1\nVFO-SCRIPT-BEGIN\n").has_value());
  EXPECT_EQ(parseGuestDone("VFO-DONE rc=7\n"), 7);
  EXPECT_EQ(parseGuestDone("VFO-DONE rc=0\nVFO-SHELL\nVFO-DONE rc=91\n"), 91);
}

const char* kPeriodicStats =
    "Port 0: 52:54:00:BB:00:01\n"
    "\x1b[2J\x1b[1;1H\n"
    "Port statistics ====================================\n"
    "  ######################## NIC statistics for port 0  ########################\n"
    "  RX-packets: 1          RX-missed: 2          RX-bytes:  3\n"
    "  RX-errors: 4\n"
    "  RX-nombuf:  5         \n"
    "  TX-packets: 6          TX-errors: 7          TX-bytes:  8\n"
    "\n"
    "  Throughput (since last show)\n"
    "  Rx-pps:            0          Rx-bps:            0\n"
    "  Tx-pps:            0          Tx-bps:            0\n"
    "  ############################################################################\n"
    "\x1b[2J\x1b[1;1H\n"
    "Port statistics ====================================\n"
    "  ######################## NIC statistics for port 0  ########################\n"
    "  RX-packets: 0          RX-missed: 0          RX-bytes:  0\n"
    "  RX-errors: 0\n"
    "  RX-nombuf:  0         \n"
    "  TX-packets: 42794688   TX-errors: 0          TX-bytes:  2738860032\n"
    "\n"
    "  Throughput (since last show)\n"
    "  Rx-pps:            0          Rx-bps:            0\n"
    "  Tx-pps:     21394935          Tx-bps:  10954207128\n"
    "  ############################################################################\n";

TEST(TestpmdLog, PortStatsFromTheNewestBlock) {
  EXPECT_EQ(countTestpmdStatsBlocks(kPeriodicStats, 0), 2u);
  EXPECT_EQ(countTestpmdStatsBlocks(kPeriodicStats, 1), 0u);
  auto s = parseTestpmdPortStats(kPeriodicStats, 0);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rx_packets, 0u);
  EXPECT_EQ(s->tx_packets, 42794688u);
  EXPECT_EQ(s->tx_bytes, 2738860032u);
  EXPECT_FALSE(parseTestpmdPortStats(kPeriodicStats, 1).has_value());
}

TEST(TestpmdLog, PortStatsAllFields) {
  std::string first(kPeriodicStats);
  first = first.substr(0, first.find("\x1b[2J", first.find("NIC statistics")));
  auto s = parseTestpmdPortStats(first, 0);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rx_packets, 1u);
  EXPECT_EQ(s->rx_missed, 2u);
  EXPECT_EQ(s->rx_bytes, 3u);
  EXPECT_EQ(s->rx_errors, 4u);
  EXPECT_EQ(s->rx_nombuf, 5u);
  EXPECT_EQ(s->tx_packets, 6u);
  EXPECT_EQ(s->tx_errors, 7u);
  EXPECT_EQ(s->tx_bytes, 8u);
}

TEST(TestpmdLog, BlockCutOffMidWriteIsNotAResult) {
  const std::string partial =
      "  ######################## NIC statistics for port 0  ########################\n"
      "  RX-packets: 10         RX-missed: 0          RX-bytes:  640\n"
      "  RX-errors: 0\n"
      "  RX-nombuf:  0         \n"
      "  TX-packets: 12";
  EXPECT_FALSE(parseTestpmdPortStats(partial, 0).has_value());
  EXPECT_TRUE(parseTestpmdPortStats(partial + "345   TX-errors: 0          TX-bytes:  0\n\n"
                                              "  ##################\n",
                                    0)
                  .has_value());
}

TEST(TestpmdLog, ForwardStatsAndPortMac) {
  const std::string log = std::string(kPeriodicStats) +
                          "Telling cores to stop...\n"
                          "  ---------------------- Forward statistics for port 0  "
                          "----------------------\n"
                          "  RX-packets: 4              RX-dropped: 1             RX-total: 5\n"
                          "  TX-packets: 60649536       TX-dropped: 24437920      TX-total: "
                          "85087456\n"
                          "  "
                          "----------------------------------------------------------------------"
                          "------\n";
  auto f = parseTestpmdForwardStats(log, 0);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->rx_packets, 4u);
  EXPECT_EQ(f->rx_dropped, 1u);
  EXPECT_EQ(f->tx_packets, 60649536u);
  EXPECT_EQ(f->tx_dropped, 24437920u);
  EXPECT_FALSE(parseTestpmdForwardStats(kPeriodicStats, 0).has_value());
  EXPECT_EQ(parseTestpmdPortMac(log, 0), "52:54:00:bb:00:01");
  EXPECT_EQ(parseTestpmdPortMac(log, 1), "");
}

TEST(TestpmdLog, PortNumbersDoNotMatchPrefixes) {
  const std::string log =
      "Port 1: link state change event\n"
      "Port 10: 02:00:00:00:00:0A\n"
      "Port 1: 02:00:00:00:00:01\n"
      "  ######################## NIC statistics for port 10  ########################\n"
      "  RX-packets: 10         RX-missed: 0          RX-bytes:  0\n"
      "  TX-packets: 10         TX-errors: 0          TX-bytes:  0\n"
      "  ############################################################################\n";
  EXPECT_EQ(parseTestpmdPortMac(log, 1), "02:00:00:00:00:01");
  EXPECT_EQ(parseTestpmdPortMac(log, 10), "02:00:00:00:00:0a");
  EXPECT_EQ(countTestpmdStatsBlocks(log, 1), 0u);
  EXPECT_FALSE(parseTestpmdPortStats(log, 1).has_value());
  ASSERT_TRUE(parseTestpmdPortStats(log, 10).has_value());
  EXPECT_EQ(parseTestpmdPortStats(log, 10)->rx_packets, 10u);
}

}  // namespace
}  // namespace vfo::testing
