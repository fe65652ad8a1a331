// Prometheus metrics: vfod's counters in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), rendered
// from the ops API's plain structs. docs/api.md "Metrics" lists every name.
//
// Names (stable: dashboards depend on them; a counter name from vfod's
// stats lists becomes <prefix><name>_total, characters outside
// [a-zA-Z0-9_] become '_'):
//   vfo_port_<counter>_total{port}              port counters, summed over queue pairs
//   vfo_queue_<counter>_total{port,queue}       per queue pair
//   vfo_uplink_<counter>_total{port,member}     a port's traffic on each member's VF
//   vfo_member_<counter>_total{member}          LAG member counters
//   vfo_lag_<counter>_total                     LAG group counters
//   vfo_failovers_total{reason}                 failovers by reason ("member-down", ...)
//   vfo_port_state{port,state}                  1 for the port's state, 0 for the others
//   vfo_port_vhost_connected{port}              1 when a guest driver is connected
//   vfo_port_active_member{port,member}         1 on the member carrying the port
//   vfo_member_admin_up / vfo_member_up (usable after delays) / vfo_member_probe_alive {member}
//   vfo_member_active_ports{member}             ports the member carries
//   vfo_lag_active_member{member}               1 for the active member (active-backup)
//   vfo_lag_mode{mode}                          1 for the group's mode
//   vfo_ports                                   number of ports
// Every family has HELP and TYPE lines; counters are TYPE counter and end in
// _total; samples of a family are contiguous; label values are escaped
// (backslash, double quote, newline).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vfo/api/types.h"

namespace vfo::api {

// Everything one scrape exports. Plain values, copied out by the caller.
struct MetricsSnapshot {
  StatsInfo stats;                                      // GetStats for every port
  std::vector<PortInfo> ports;                          // ListPorts (state gauges); may be empty
  std::optional<LagInfo> lag;                           // GetLag; none = no LAG families
  std::map<std::string, uint64_t> failovers_by_reason;  // reason -> failovers since vfod started
  // Counter name -> one-line description for HELP (from vfod's stats
  // X-macro lists); a counter without one gets a generic HELP line.
  std::map<std::string, std::string> counter_help;
  // Shared uplinks (VF_PROVIDER_SHARED), by member name: ports using it and
  // the demultiplexer's counters with their HELP text.
  struct SharedUplinkCounter {
    std::string name;    // counter name (stats X-macro)
    std::string help;    // one-line description
    uint64_t value = 0;  // since vfod started
  };
  struct SharedUplink {
    uint32_t ports = 0;                         // ports in its MAC table
    std::vector<SharedUplinkCounter> counters;  // demultiplexer counters
  };
  std::map<std::string, SharedUplink> shared_uplinks;
};

// Text exposition format 0.0.4, UTF-8, '\n' line ends, ending with '\n'.
// Deterministic: the same snapshot gives the same bytes.
std::string renderMetrics(const MetricsSnapshot& snapshot);

// The Content-Type a server sends with renderMetrics() output.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Helpers (exposed for tests): metric-name sanitising and label escaping.
std::string sanitizeMetricName(std::string_view name);  // "a-b.c" -> "a_b_c"; "" -> "_"
std::string escapeLabelValue(std::string_view value);   // \ -> \\, " -> \", newline -> \n

}  // namespace vfo::api
