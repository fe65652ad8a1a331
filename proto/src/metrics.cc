#include "vfo/api/metrics.h"

#include <fmt/format.h>

#include <array>
#include <iterator>
#include <unordered_map>
#include <utility>

namespace vfo::api {

namespace {

void appendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Families in first-use order; a name used again appends samples to the
// first family of that name (its HELP/TYPE win). Samples are rendered into
// the family's text as they are added.
class Exposition {
 public:
  // `help` is called only for a family's first sample.
  template <typename HelpFn>
  void add(const std::string& name, const char* type, const HelpFn& help, Labels labels,
           uint64_t value) {
    auto [it, inserted] = index_.try_emplace(name, families_.size());
    if (inserted) families_.push_back({name, type, std::string(help()), {}});
    std::string& out = families_[it->second].samples;
    out += name;
    if (labels.size() != 0) {
      out += '{';
      bool first = true;
      for (const auto& [key, val] : labels) {
        if (!first) out += ',';
        first = false;
        out += key;
        out += "=\"";
        appendEscapedLabelValue(out, val);
        out += '"';
      }
      out += '}';
    }
    out += ' ';
    fmt::format_to(std::back_inserter(out), "{}\n", value);
  }

  void add(const std::string& name, const char* type, const char* help, Labels labels,
           uint64_t value) {
    add(
        name, type, [help] { return help; }, labels, value);
  }

  std::string render() const {
    size_t size = 0;
    for (const auto& f : families_)
      size += f.samples.size() + f.help.size() + 2 * f.name.size() + 32;
    std::string out;
    out.reserve(size);
    for (const auto& f : families_) {
      fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", f.name,
                     escapeHelp(f.help), f.name, f.type);
      out += f.samples;
    }
    return out;
  }

 private:
  struct Family {
    std::string name;     // full metric name
    std::string type;     // "counter" or "gauge"
    std::string help;     // HELP text (unescaped)
    std::string samples;  // rendered sample lines, insertion order
  };

  static std::string escapeHelp(std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '\\')
        out += "\\\\";
      else if (c == '\n')
        out += "\\n";
      else
        out += c;
    }
    return out;
  }

  std::vector<Family> families_;
  std::unordered_map<std::string, size_t> index_;
};

std::string counterFamily(std::string_view prefix, const std::string& counter) {
  std::string name = std::string(prefix) + sanitizeMetricName(counter);
  constexpr std::string_view kTotal = "_total";
  if (name.size() < kTotal.size() ||
      name.compare(name.size() - kTotal.size(), kTotal.size(), kTotal) != 0)
    name += kTotal;
  return name;
}

std::string counterHelp(const MetricsSnapshot& s, const std::string& counter,
                        std::string_view scope) {
  auto it = s.counter_help.find(counter);
  std::string what = it != s.counter_help.end() ? it->second : "vfod counter " + counter;
  return fmt::format("{} ({})", what, scope);
}

constexpr std::array kPortStates = {
    PortState::kIncoming,     PortState::kWaiting,  PortState::kActive, PortState::kDegraded,
    PortState::kMigratingOut, PortState::kDetached, PortState::kGone};
constexpr std::array kLagModes = {LagMode::kActiveBackup, LagMode::kBalanceVm,
                                  LagMode::kBalanceFlow, LagMode::kFollowKernelBond};

}  // namespace

std::string sanitizeMetricName(std::string_view name) {
  std::string out;
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) out.insert(out.begin(), '_');
  return out;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  appendEscapedLabelValue(out, value);
  return out;
}

std::string renderMetrics(const MetricsSnapshot& s) {
  Exposition e;
  const char* kCounter = "counter";
  const char* kGauge = "gauge";

  // Port state gauges.
  if (!s.ports.empty() || !s.stats.ports.empty()) {
    const size_t n = !s.ports.empty() ? s.ports.size() : s.stats.ports.size();
    e.add("vfo_ports", kGauge, "Ports vfod serves", {}, n);
  }
  for (const auto& p : s.ports) {
    for (PortState st : kPortStates)
      e.add("vfo_port_state", kGauge,
            "1 for the port's life-cycle state (incoming, waiting, active, degraded, "
            "migrating-out, detached, gone), 0 for the others",
            {{"port", p.spec.port_id}, {"state", std::string(portStateName(st))}},
            p.state == st ? 1 : 0);
  }
  for (const auto& p : s.ports)
    e.add("vfo_port_vhost_connected", kGauge, "1 when the guest's virtio-net driver is connected",
          {{"port", p.spec.port_id}}, p.vhost_connected ? 1 : 0);
  for (const auto& p : s.ports)
    for (const auto& vf : p.vfs)
      e.add("vfo_port_active_member", kGauge,
            "1 on the LAG member whose VF carries the port's traffic now, 0 on the others",
            {{"port", p.spec.port_id}, {"member", vf.member}}, vf.active ? 1 : 0);

  // Datapath counters.
  for (const auto& p : s.stats.ports)
    for (const auto& [c, v] : p.port)
      e.add(
          counterFamily("vfo_port_", c), kCounter,
          [&] { return counterHelp(s, c, "per port, all queues"); }, {{"port", p.port_id}}, v);
  for (const auto& p : s.stats.ports)
    for (const auto& [q, counters] : p.queues)
      for (const auto& [c, v] : counters)
        e.add(
            counterFamily("vfo_queue_", c), kCounter,
            [&] { return counterHelp(s, c, "per queue pair"); },
            {{"port", p.port_id}, {"queue", std::to_string(q)}}, v);
  for (const auto& p : s.stats.ports)
    for (const auto& [m, counters] : p.members)
      for (const auto& [c, v] : counters)
        e.add(
            counterFamily("vfo_uplink_", c), kCounter,
            [&] { return counterHelp(s, c, "per port, on each member's VF"); },
            {{"port", p.port_id}, {"member", m}}, v);

  // LAG.
  if (s.lag) {
    for (LagMode m : kLagModes)
      e.add("vfo_lag_mode", kGauge, "1 for the LAG group's mode, 0 for the others",
            {{"mode", std::string(lagModeName(m))}}, s.lag->settings.mode == m ? 1 : 0);
    for (const auto& m : s.lag->members)
      e.add("vfo_lag_active_member", kGauge,
            "1 for the active member (active-backup, follow-kernel-bond), 0 for the others",
            {{"member", m.name}}, m.name == s.lag->active_member ? 1 : 0);
    for (const auto& m : s.lag->members)
      e.add("vfo_member_admin_up", kGauge, "1 when the member's netdev is administratively up",
            {{"member", m.name}}, m.admin_up ? 1 : 0);
    for (const auto& m : s.lag->members)
      e.add("vfo_member_up", kGauge,
            "1 when the member is usable: link up after updelay, or down but still within "
            "downdelay",
            {{"member", m.name}}, m.link == LinkState::kUp || m.link == LinkState::kGoingDown);
    for (const auto& m : s.lag->members)
      e.add("vfo_member_probe_alive", kGauge,
            "1 when the member's liveness probe succeeds (always 1 with probing off)",
            {{"member", m.name}}, m.probe_alive ? 1 : 0);
    for (const auto& m : s.lag->members)
      e.add("vfo_member_active_ports", kGauge, "Ports the member carries now", {{"member", m.name}},
            m.active_ports);
    for (const auto& m : s.lag->members)
      for (const auto& [c, v] : m.counters)
        e.add(
            counterFamily("vfo_member_", c), kCounter,
            [&] { return counterHelp(s, c, "per LAG member"); }, {{"member", m.name}}, v);
    for (const auto& [c, v] : s.lag->counters)
      e.add(
          counterFamily("vfo_lag_", c), kCounter, [&] { return counterHelp(s, c, "LAG group"); },
          {}, v);
  }
  for (const auto& [c, v] : s.stats.lag)
    if (!s.lag || !s.lag->counters.count(c))
      e.add(
          counterFamily("vfo_lag_", c), kCounter, [&] { return counterHelp(s, c, "LAG group"); },
          {}, v);

  for (const auto& [member, su] : s.shared_uplinks) {
    e.add("vfo_shared_uplink_ports", kGauge, "Ports using the member's shared uplink",
          {{"member", member}}, su.ports);
    for (const auto& c : su.counters)
      e.add(
          counterFamily("vfo_shared_uplink_", c.name), kCounter,
          [&] { return c.help + " (per shared uplink)"; }, {{"member", member}}, c.value);
  }

  for (const auto& [reason, v] : s.failovers_by_reason)
    e.add("vfo_failovers_total", kCounter,
          "Port moves between LAG members by reason (member-down, failback, operator, ...)",
          {{"reason", reason}}, v);
  return e.render();
}

}  // namespace vfo::api
