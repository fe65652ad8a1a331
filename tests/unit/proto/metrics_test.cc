// renderMetrics(): golden output (tests/unit/proto/golden/metrics.txt,
// regenerate with VFO_UPDATE_GOLDEN=1 and review the diff), checked again by
// a real parser (Debian's python3-prometheus-client), and the escaping and
// naming rules.
#include "vfo/api/metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "vfo/testing/subprocess.h"

namespace vfo::api {
namespace {

MetricsSnapshot sampleSnapshot() {
  MetricsSnapshot s;
  PortInfo p1;
  p1.spec.port_id = "vm1/net0";
  p1.state = PortState::kActive;
  p1.vhost_connected = true;
  p1.vfs = {{"pf0", "pf0/vf0", "", true}, {"pf1", "pf1/vf0", "", false}};
  PortInfo p2;
  p2.spec.port_id = "vm2-net0";
  p2.state = PortState::kWaiting;
  p2.vfs = {{"pf0", "pf0/vf1", "", false}, {"pf1", "pf1/vf1", "", true}};
  s.ports = {p1, p2};

  PortStatsInfo st1;
  st1.port_id = "vm1/net0";
  st1.port = {{"guest_tx_packets", 11}, {"guest_rx_packets", 7}, {"vhost_connects", 1}};
  st1.queues = {{0, {{"guest_tx_packets", 5}}}, {1, {{"guest_tx_packets", 6}}}};
  st1.members = {{"pf0", {{"tx_packets", 11}}}, {"pf1", {{"drop_standby_rx", 3}}}};
  PortStatsInfo st2;
  st2.port_id = "vm2-net0";
  st2.port = {{"guest_tx_packets", 0}};
  s.stats.ports = {st1, st2};
  s.stats.lag = {{"failovers", 2}};

  LagInfo lag;
  lag.settings.mode = LagMode::kActiveBackup;
  lag.active_member = "pf0";
  MemberInfo m0;
  m0.name = "pf0";
  m0.admin_up = true;
  m0.link = LinkState::kUp;
  m0.active_ports = 2;
  m0.counters = {{"carrier_changes", 4}};
  MemberInfo m1;
  m1.name = "pf1";
  m1.admin_up = true;
  m1.link = LinkState::kGoingUp;
  m1.probe_alive = false;
  s.lag = {lag};
  s.lag->members = {m0, m1};
  s.lag->counters = {{"failovers", 2}, {"failbacks", 1}};

  s.failovers_by_reason = {{"member-down", 2}, {"operator", 1}};
  s.counter_help = {{"guest_tx_packets", "frames the guest sent"},
                    {"failovers", "decisions that moved traffic off a disabled member"}};
  return s;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(Metrics, RendersTheGoldenExposition) {
  const std::string got = renderMetrics(sampleSnapshot());
  const std::string path = std::string(VFO_SOURCE_DIR) + "/tests/unit/proto/golden/metrics.txt";
  if (getenv("VFO_UPDATE_GOLDEN")) {
    std::ofstream(path) << got;
    return;
  }
  const std::string want = readFile(path);
  ASSERT_FALSE(want.empty()) << path << " missing; run with VFO_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, want);
  EXPECT_EQ(renderMetrics(sampleSnapshot()), got);  // deterministic
}

// Parses the exposition with the Prometheus Python client's text parser and
// prints "type name{labels} value" per sample (a newline inside a label
// value printed as \n).
const char* kParser = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join(f"{k}={v}".replace("\n", "\\n") for k, v in sorted(s.labels.items()))
        print(f"{fam.type} {s.name}{{{labels}}} {int(s.value)}")
)";

TEST(Metrics, ARealPrometheusParserReadsEverySample) {
  MetricsSnapshot s = sampleSnapshot();
  // Awkward label values must survive escaping.
  s.failovers_by_reason["odd \"reason\"\\ with\nnewline"] = 9;
  const std::string text = renderMetrics(s);
  auto r = testing::run({"/usr/bin/python3", "-c", kParser}, std::chrono::seconds(30), text);
  ASSERT_TRUE(r.ok()) << r.describe();
  auto has = [&](const std::string& line) { return r.out.find(line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("counter vfo_port_guest_tx_packets_total{port=vm1/net0} 11")) << r.out;
  EXPECT_TRUE(has("counter vfo_queue_guest_tx_packets_total{port=vm1/net0,queue=1} 6"));
  EXPECT_TRUE(has("counter vfo_uplink_drop_standby_rx_total{member=pf1,port=vm1/net0} 3"));
  EXPECT_TRUE(has("counter vfo_member_carrier_changes_total{member=pf0} 4"));
  EXPECT_TRUE(has("counter vfo_lag_failovers_total{} 2"));
  EXPECT_TRUE(has("counter vfo_failovers_total{reason=member-down} 2"));
  EXPECT_TRUE(has("counter vfo_failovers_total{reason=odd \"reason\"\\ with\\nnewline} 9"))
      << r.out;
  EXPECT_TRUE(has("gauge vfo_port_state{port=vm1/net0,state=active} 1"));
  EXPECT_TRUE(has("gauge vfo_port_state{port=vm1/net0,state=waiting} 0"));
  EXPECT_TRUE(has("gauge vfo_port_active_member{member=pf1,port=vm2-net0} 1"));
  EXPECT_TRUE(has("gauge vfo_member_up{member=pf1} 0"));  // going up: not usable yet
  EXPECT_TRUE(has("gauge vfo_member_probe_alive{member=pf1} 0"));
  EXPECT_TRUE(has("gauge vfo_lag_mode{mode=active-backup} 1"));
  EXPECT_TRUE(has("gauge vfo_lag_active_member{member=pf0} 1"));
  EXPECT_TRUE(has("gauge vfo_ports{} 2"));
  // Every sample line of the text came through the parser.
  size_t samples = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') ++samples;
  size_t parsed = 0;
  for (char c : r.out) parsed += c == '\n';
  EXPECT_EQ(parsed, samples);
}

TEST(Metrics, EveryFamilyHasHelpAndTypeAndCountersEndInTotal) {
  const std::string text = renderMetrics(sampleSnapshot());
  std::istringstream in(text);
  std::string line;
  std::string help_of;
  std::string type_of;
  std::string type;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      help_of = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(help_of).second) << "family " << help_of << " split";
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      t >> type_of >> type;
      EXPECT_EQ(type_of, help_of);
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      EXPECT_EQ(type == "counter", type_of.ends_with("_total")) << line;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, type_of) << "sample outside its family: " << line;
    EXPECT_TRUE(name.rfind("vfo_", 0) == 0) << line;
  }
}

TEST(Metrics, NamesAreSanitizedAndLabelValuesEscaped) {
  EXPECT_EQ(sanitizeMetricName("drop-runt.v2"), "drop_runt_v2");
  EXPECT_EQ(sanitizeMetricName("9lives"), "_9lives");
  EXPECT_EQ(sanitizeMetricName(""), "_");
  EXPECT_EQ(escapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricsSnapshot s;
  PortStatsInfo p;
  p.port_id = "vm1";
  p.port = {{"rx-bytes", 1}, {"already_total", 2}};
  s.stats.ports = {p};
  const std::string text = renderMetrics(s);
  EXPECT_NE(text.find("vfo_port_rx_bytes_total{port=\"vm1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vfo_port_already_total{port=\"vm1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP vfo_port_rx_bytes_total vfod counter rx-bytes (per port, all "
                      "queues)\n"),
            std::string::npos)
      << text;
}

TEST(Metrics, AnEmptySnapshotRendersNothing) {
  EXPECT_EQ(renderMetrics({}), "");
}

}  // namespace
}  // namespace vfo::api
