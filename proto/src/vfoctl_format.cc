#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <algorithm>
#include <map>

#include "vfo/api/vfoctl.h"

namespace vfo::api::cli {
namespace {

using google::protobuf::util::TimeUtil;

// A left-aligned text table; columns as wide as their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const {
    std::vector<size_t> w;
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) {
        if (w.size() <= i) w.push_back(0);
        w[i] = std::max(w[i], r[i].size());
      }
    std::string out;
    for (const auto& r : rows_) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i)
        line += i + 1 == r.size() ? r[i] : fmt::format("{:<{}}  ", r[i], w[i]);
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string lower(std::string s, std::string_view prefix) {
  if (s.starts_with(prefix)) s = s.substr(prefix.size());
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return c == '_' ? '-' : char(std::tolower(c)); });
  return s;
}

std::string stateName(v1::PortState s) {
  return lower(v1::PortState_Name(s), "PORT_STATE_");
}
std::string linkName(v1::LinkState s) {
  return lower(v1::LinkState_Name(s), "LINK_STATE_");
}

std::string dur(const google::protobuf::Duration& d) {
  const int64_t ns = d.seconds() * 1'000'000'000 + d.nanos();
  if (ns == 0) return "0";
  if (ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
}

std::string orDash(const std::string& s) {
  return s.empty() ? "-" : s;
}

std::string counters(const google::protobuf::Map<std::string, uint64_t>& m,
                     std::string_view indent) {
  std::map<std::string, uint64_t> sorted(m.begin(), m.end());
  std::string out;
  for (const auto& [k, v] : sorted) out += fmt::format("{}{:<24} {}\n", indent, k, v);
  return out;
}

}  // namespace

std::string formatPortTable(const v1::ListPortsResponse& ports) {
  Table t({"PORT", "STATE", "GUEST", "ACTIVE", "MAC", "VLAN", "QUEUES", "SOCKET"});
  for (const auto& p : ports.ports()) {
    const auto& s = p.spec();
    t.add({s.port_id(), stateName(p.state()), p.vhost_connected() ? "connected" : "-",
           orDash(p.active_member()), s.mac(), s.vlan() == 0 ? "-" : std::to_string(s.vlan()),
           std::to_string(s.queues()), s.socket_path()});
  }
  std::string out = t.render();
  out += fmt::format("{} port(s)\n", ports.ports_size());
  return out;
}

std::string formatPort(const v1::Port& p) {
  const auto& s = p.spec();
  std::string allowed;
  for (const auto& m : s.allowed_macs()) allowed += (allowed.empty() ? "" : ", ") + m;
  std::string out;
  out += fmt::format("port            {}\n", s.port_id());
  out += fmt::format("state           {}\n", stateName(p.state()));
  out += fmt::format("guest           {}\n", p.vhost_connected() ? "connected" : "not connected");
  out +=
      fmt::format("active member   {}\n", p.active_member().empty() ? "none" : p.active_member());
  out += fmt::format("socket          {} ({})\n", s.socket_path(),
                     s.role() == v1::VHOST_ROLE_CLIENT ? "QEMU listens" : "vfod listens");
  out += fmt::format("mac             {}\n", s.mac());
  out += fmt::format("allowed macs    {}\n", allowed.empty() ? "-" : allowed);
  out += fmt::format("vlan            {}\n", s.vlan() == 0 ? "untagged" : std::to_string(s.vlan()));
  out += fmt::format("queues          {}\n", s.queues());
  if (s.disabled_features() != 0)
    out += fmt::format("disabled feat.  {:#x}\n", s.disabled_features());
  if (s.has_announce())
    out += fmt::format("announce        {} x every {}\n", s.announce().count(),
                       dur(s.announce().interval()));
  if (!s.pinned_member().empty()) out += fmt::format("pinned to       {}\n", s.pinned_member());
  if (!s.domain_name().empty() || !s.domain_uuid().empty())
    out += fmt::format("domain          {} {}\n", orDash(s.domain_name()), s.domain_uuid());
  out += fmt::format("worker lcore    {}\n", p.worker_lcore());
  if (p.vfs_size() > 0) {
    Table t({"  MEMBER", "VF", "DEVARGS", "ACTIVE"});
    for (const auto& vf : p.vfs())
      t.add({"  " + vf.member(), vf.vf(), vf.devargs(), vf.active() ? "yes" : "-"});
    out += "vfs\n" + t.render();
  }
  if (p.learned_size() > 0) {
    Table t({"  MAC", "VLAN", "IP", "AGE"});
    for (const auto& l : p.learned())
      t.add({"  " + l.mac(), l.vlan() == 0 ? "-" : std::to_string(l.vlan()), l.ip(), dur(l.age())});
    out += "learned\n" + t.render();
  }
  return out;
}

std::string formatLag(const v1::Lag& lag) {
  const auto& s = lag.settings();
  std::string out;
  out += fmt::format("mode              {}\n", lower(v1::LagMode_Name(s.mode()), "LAG_MODE_"));
  out += fmt::format("active member     {}\n",
                     lag.active_member().empty() ? "none" : lag.active_member());
  out += fmt::format("primary           {} (reselect {}, failback {})\n", orDash(s.primary()),
                     lower(v1::PrimaryReselect_Name(s.primary_reselect()), "PRIMARY_RESELECT_"),
                     !s.has_failback() || s.failback() ? "on" : "off");
  out += fmt::format("updelay/downdelay {} / {}\n", dur(s.updelay()), dur(s.downdelay()));
  const int64_t fb = s.failback_delay().seconds() * 1'000'000'000 + s.failback_delay().nanos();
  out += fmt::format("failback delay    {}\n", fb < 0 ? "never" : dur(s.failback_delay()));
  out += fmt::format("hash policy       {}\n",
                     lower(v1::HashPolicy_Name(s.hash_policy()), "HASH_POLICY_"));
  out += fmt::format("announce          {} x every {}, at most {} frames/s\n", s.announce().count(),
                     dur(s.announce().interval()), s.announce_rate_limit());
  Table t({"MEMBER", "ADMIN", "LINK", "PROBE", "PENDING", "PORTS"});
  for (const auto& m : lag.members())
    t.add({m.name(), m.admin_up() ? "up" : "down", linkName(m.link()),
           m.probe_alive() ? "alive" : "dead", m.has_pending() ? dur(m.pending()) : "-",
           std::to_string(m.active_ports())});
  out += t.render();
  if (!lag.counters().empty()) out += "counters\n" + counters(lag.counters(), "  ");
  return out;
}

std::string formatStats(const v1::Stats& stats) {
  std::string out;
  for (const auto& p : stats.ports()) {
    out += fmt::format("port {}\n", p.port_id());
    out += counters(p.port().counters(), "  ");
    std::map<uint32_t, const v1::CounterSet*> queues;
    for (const auto& [q, c] : p.queues()) queues[q] = &c;
    for (const auto& [q, c] : queues) {
      out += fmt::format("  queue {}\n", q);
      out += counters(c->counters(), "    ");
    }
    std::map<std::string, const v1::CounterSet*> members;
    for (const auto& [m, c] : p.members()) members[m] = &c;
    for (const auto& [m, c] : members) {
      out += fmt::format("  member {}\n", m);
      out += counters(c->counters(), "    ");
    }
  }
  if (!stats.lag().counters().empty()) out += "lag\n" + counters(stats.lag().counters(), "  ");
  return out;
}

std::string formatEvent(const v1::Event& e) {
  std::string what;
  switch (e.kind_case()) {
    case v1::Event::kVhostConnected:
      what = fmt::format("vhost-connected port={}", e.vhost_connected());
      break;
    case v1::Event::kVhostDisconnected:
      what = fmt::format("vhost-disconnected port={}", e.vhost_disconnected());
      break;
    case v1::Event::kPortState:
      what = fmt::format("port-state port={} {} -> {}", e.port_state().port_id(),
                         stateName(e.port_state().from()), stateName(e.port_state().to()));
      break;
    case v1::Event::kFailover: {
      const auto& f = e.failover();
      const int64_t took = TimeUtil::DurationToMicroseconds(f.switched_at() - f.cause_seen_at());
      what = fmt::format("failover port={} {} -> {} reason={} switch={}us announced={}",
                         f.port_id(), orDash(f.from_member()), orDash(f.to_member()), f.reason(),
                         took, f.frames_announced());
      break;
    }
    case v1::Event::kAnnounce:
      what = fmt::format("announce port={} member={} frames={} span={}", e.announce().port_id(),
                         e.announce().member(), e.announce().frames(),
                         dur(e.announce().first_to_last()));
      break;
    case v1::Event::kMigration:
      what =
          fmt::format("migration port={} phase={}", e.migration().port_id(), e.migration().phase());
      break;
    case v1::Event::kMember:
      what = fmt::format("member {} {} -> {}", e.member().member(), linkName(e.member().from()),
                         linkName(e.member().to()));
      break;
    case v1::Event::KIND_NOT_SET:
      what = "unknown";
      break;
  }
  return fmt::format("{} {} {}\n", TimeUtil::ToString(e.time()), e.resume_token(), what);
}

std::string formatHealth(const v1::HealthResponse& h) {
  std::string out = h.serving() ? "serving\n" : "NOT serving\n";
  for (const auto& p : h.problems()) out += fmt::format("  problem: {}\n", p);
  return out;
}

std::string formatVersion(const v1::Version& v) {
  return fmt::format("vfod {} (api {}, dpdk {})\n", orDash(v.version()), v.api(),
                     orDash(v.dpdk_version()));
}

std::string toJson(const google::protobuf::Message& message, bool one_line) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = !one_line;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  // Serialize deterministically first (map entries sorted by key), then
  // convert those bytes: MessageToJsonString would print maps in hash order.
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", google::protobuf::DescriptorPool::generated_pool());
  std::string bin;
  {
    google::protobuf::io::StringOutputStream sos(&bin);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&cos);
  }
  std::string out;
  (void)google::protobuf::util::BinaryToJsonString(
      resolver, "type.googleapis.com/" + message.GetDescriptor()->full_name(), bin, &out, o);
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

}  // namespace vfo::api::cli
