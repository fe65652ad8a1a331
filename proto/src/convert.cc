#include "vfo/api/convert.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace vfo::api {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kMaxProtoDurationSeconds = 315'576'000'000;  // google.protobuf.Duration limit
constexpr Duration kMaxLinkDelay = std::chrono::hours(1);
constexpr uint32_t kMaxAnnounceCount = 10;
constexpr Duration kMinAnnounceInterval = 1ms;
constexpr Duration kMaxAnnounceInterval = 1s;
constexpr uint32_t kMaxAnnounceRateLimit = 1'000'000;

std::string fieldPath(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
}

Status invalid(std::string_view field, std::string_view what) {
  return invalidArgument(fmt::format("{}: {}", field, what));
}

StatusOr<Duration> durationFromProto(const google::protobuf::Duration& d, std::string_view field) {
  const bool sign_ok = (d.seconds() >= 0 && d.nanos() >= 0) || (d.seconds() <= 0 && d.nanos() <= 0);
  if (d.nanos() <= -kNsPerSecond || d.nanos() >= kNsPerSecond || !sign_ok ||
      d.seconds() > kMaxProtoDurationSeconds || d.seconds() < -kMaxProtoDurationSeconds)
    return invalid(field, fmt::format("{}s {}ns is not a valid google.protobuf.Duration",
                                      d.seconds(), d.nanos()));
  return Duration(d.seconds() * kNsPerSecond + d.nanos());
}

void durationToProto(Duration d, google::protobuf::Duration* out) {
  out->set_seconds(d.count() / kNsPerSecond);
  out->set_nanos(int32_t(d.count() % kNsPerSecond));
}

void timeToProto(std::chrono::system_clock::time_point t, google::protobuf::Timestamp* out) {
  const int64_t ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t s = ns / kNsPerSecond;
  int64_t n = ns % kNsPerSecond;
  if (n < 0) {
    n += kNsPerSecond;
    --s;
  }
  out->set_seconds(s);
  out->set_nanos(int32_t(n));
}

std::string formatDuration(Duration d) {
  if (d.count() % 1'000'000 == 0) return fmt::format("{} ms", d.count() / 1'000'000);
  return fmt::format("{} ns", d.count());
}

StatusOr<AnnounceSettings> announceFromProto(const v1::AnnounceSettings& p,
                                             std::string_view field) {
  AnnounceSettings a;
  if (p.count() != 0) {
    if (p.count() > kMaxAnnounceCount)
      return invalid(fieldPath(field, "count"),
                     fmt::format("{} is out of range 1..{}", p.count(), kMaxAnnounceCount));
    a.count = p.count();
  }
  if (p.has_interval()) {
    VFO_ASSIGN_OR_RETURN(Duration d, durationFromProto(p.interval(), fieldPath(field, "interval")));
    if (d < kMinAnnounceInterval || d > kMaxAnnounceInterval)
      return invalid(fieldPath(field, "interval"),
                     fmt::format("{} is out of range 1 ms..1 s", formatDuration(d)));
    a.interval = d;
  }
  return a;
}

void announceToProto(const AnnounceSettings& a, v1::AnnounceSettings* out) {
  out->set_count(a.count);
  durationToProto(a.interval, out->mutable_interval());
}

StatusOr<MacAddress> unicastMac(std::string_view text, std::string_view field) {
  auto parsed = MacAddress::parse(text);
  if (!parsed) {
    if (text.empty()) return invalid(field, "required (aa:bb:cc:dd:ee:ff)");
    return invalid(field, fmt::format("'{}' is not a MAC address (want aa:bb:cc:dd:ee:ff)", text));
  }
  if (parsed->isMulticast())
    return invalid(field, fmt::format("{} is a multicast address; a guest MAC must be unicast "
                                      "(first octet even)",
                                      parsed->toString()));
  if (parsed->isZero()) return invalid(field, "00:00:00:00:00:00 is not a usable MAC address");
  return *parsed;
}

StatusOr<std::vector<MacAddress>> allowedMacs(
    const google::protobuf::RepeatedPtrField<std::string>& in, const MacAddress& guest,
    std::string_view field) {
  if (uint32_t(in.size()) > kMaxAllowedMacs)
    return invalid(field, fmt::format("{} addresses; at most {} besides the guest MAC", in.size(),
                                      kMaxAllowedMacs));
  std::vector<MacAddress> out;
  for (int i = 0; i < in.size(); ++i) {
    const std::string f = fmt::format("{}[{}]", field, i);
    VFO_ASSIGN_OR_RETURN(MacAddress m, unicastMac(in[i], f));
    if (m == guest || std::find(out.begin(), out.end(), m) != out.end())
      return invalid(
          f, fmt::format("{} is listed twice (the guest MAC is always allowed)", m.toString()));
    out.push_back(m);
  }
  return out;
}

Status checkVlan(uint32_t vlan, std::string_view field) {
  if (vlan > kMaxVlan)
    return invalid(field, fmt::format("{} is out of range 0..{} (0 = untagged)", vlan, kMaxVlan));
  return okStatus();
}

Status checkMemberName(std::string_view name, std::string_view field) {
  if (name.size() > 64) return invalid(field, "longer than 64 characters");
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return invalid(field, fmt::format("'{}' has a character outside [A-Za-z0-9._-]", name));
  return okStatus();
}

StatusOr<VhostRole> roleFromProto(int v, std::string_view field) {
  switch (v) {
    case v1::VHOST_ROLE_UNSPECIFIED:
    case v1::VHOST_ROLE_SERVER:
      return VhostRole::kServer;
    case v1::VHOST_ROLE_CLIENT:
      return VhostRole::kClient;
  }
  return invalid(field, fmt::format("unknown VhostRole value {}", v));
}

v1::PortState stateToProto(PortState s) {
  switch (s) {
    case PortState::kIncoming:
      return v1::PORT_STATE_INCOMING;
    case PortState::kWaiting:
      return v1::PORT_STATE_WAITING;
    case PortState::kActive:
      return v1::PORT_STATE_ACTIVE;
    case PortState::kDegraded:
      return v1::PORT_STATE_DEGRADED;
    case PortState::kMigratingOut:
      return v1::PORT_STATE_MIGRATING_OUT;
    case PortState::kDetached:
      return v1::PORT_STATE_DETACHED;
    case PortState::kGone:
      return v1::PORT_STATE_GONE;
  }
  return v1::PORT_STATE_UNSPECIFIED;
}

v1::LinkState linkToProto(LinkState s) {
  switch (s) {
    case LinkState::kUp:
      return v1::LINK_STATE_UP;
    case LinkState::kDown:
      return v1::LINK_STATE_DOWN;
    case LinkState::kGoingUp:
      return v1::LINK_STATE_GOING_UP;
    case LinkState::kGoingDown:
      return v1::LINK_STATE_GOING_DOWN;
  }
  return v1::LINK_STATE_UNSPECIFIED;
}

void countersToProto(const Counters& c, google::protobuf::Map<std::string, uint64_t>* out) {
  for (const auto& [k, v] : c) (*out)[k] = v;
}

// Fields of UpdatePort and UpdateLag that may be named.
const std::set<std::string, std::less<>> kPortUpdateFields = {
    "vlan", "allowed_macs", "announce", "pinned_member", "domain_name", "domain_uuid"};
const std::set<std::string, std::less<>> kLagUpdateFields = {
    "mode",      "primary",        "primary_reselect", "failback", "updelay",
    "downdelay", "failback_delay", "hash_policy",      "announce", "announce_rate_limit"};

std::string joinNames(const std::set<std::string, std::less<>>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

StatusOr<PortSpec> portSpecImpl(const v1::PortSpec& p, std::string_view socket_dir,
                                std::string_view field, bool check_dir) {
  PortSpec s;
  VFO_RETURN_IF_ERROR(validatePortId(p.port_id(), fieldPath(field, "port_id")));
  s.port_id = p.port_id();
  if (p.socket_path().empty()) {
    if (!check_dir) return invalid(fieldPath(field, "socket_path"), "required in a stored spec");
    s.socket_path = defaultSocketPath(socket_dir, s.port_id);
  } else {
    s.socket_path = p.socket_path();
  }
  VFO_RETURN_IF_ERROR(validateSocketPath(s.socket_path, check_dir ? socket_dir : std::string_view(),
                                         fieldPath(field, "socket_path")));
  VFO_ASSIGN_OR_RETURN(s.role, roleFromProto(p.role(), fieldPath(field, "role")));
  VFO_ASSIGN_OR_RETURN(s.mac, unicastMac(p.mac(), fieldPath(field, "mac")));
  VFO_ASSIGN_OR_RETURN(s.allowed_macs,
                       allowedMacs(p.allowed_macs(), s.mac, fieldPath(field, "allowed_macs")));
  VFO_RETURN_IF_ERROR(checkVlan(p.vlan(), fieldPath(field, "vlan")));
  s.vlan = uint16_t(p.vlan());
  if (p.queues() != 0) {
    if (p.queues() > kMaxQueues)
      return invalid(
          fieldPath(field, "queues"),
          fmt::format("{} is out of range 1..{} (0 = default 1)", p.queues(), kMaxQueues));
    s.queues = uint16_t(p.queues());
  }
  s.disabled_features = p.disabled_features();
  if (p.has_announce()) {
    VFO_ASSIGN_OR_RETURN(s.announce, announceFromProto(p.announce(), fieldPath(field, "announce")));
  }
  VFO_RETURN_IF_ERROR(checkMemberName(p.pinned_member(), fieldPath(field, "pinned_member")));
  s.pinned_member = p.pinned_member();
  if (p.domain_name().size() > 256)
    return invalid(fieldPath(field, "domain_name"), "longer than 256 bytes");
  if (p.domain_uuid().size() > 64)
    return invalid(fieldPath(field, "domain_uuid"), "longer than 64 bytes");
  s.domain_name = p.domain_name();
  s.domain_uuid = p.domain_uuid();
  s.incoming_migration = p.incoming_migration();
  return s;
}

}  // namespace

StatusOr<PortState> portStateFromProto(int v, std::string_view field) {
  switch (v) {
    case v1::PORT_STATE_INCOMING:
      return PortState::kIncoming;
    case v1::PORT_STATE_WAITING:
      return PortState::kWaiting;
    case v1::PORT_STATE_ACTIVE:
      return PortState::kActive;
    case v1::PORT_STATE_DEGRADED:
      return PortState::kDegraded;
    case v1::PORT_STATE_MIGRATING_OUT:
      return PortState::kMigratingOut;
    case v1::PORT_STATE_DETACHED:
      return PortState::kDetached;
    case v1::PORT_STATE_GONE:
      return PortState::kGone;
  }
  return invalid(field, fmt::format("unknown PortState value {}", v));
}

std::string_view portStateName(PortState s) {
  switch (s) {
    case PortState::kIncoming:
      return "incoming";
    case PortState::kWaiting:
      return "waiting";
    case PortState::kActive:
      return "active";
    case PortState::kDegraded:
      return "degraded";
    case PortState::kMigratingOut:
      return "migrating-out";
    case PortState::kDetached:
      return "detached";
    case PortState::kGone:
      return "gone";
  }
  return "?";
}

std::string_view linkStateName(LinkState s) {
  switch (s) {
    case LinkState::kUp:
      return "up";
    case LinkState::kDown:
      return "down";
    case LinkState::kGoingUp:
      return "going-up";
    case LinkState::kGoingDown:
      return "going-down";
  }
  return "?";
}

std::string_view lagModeName(LagMode m) {
  switch (m) {
    case LagMode::kActiveBackup:
      return "active-backup";
    case LagMode::kBalanceVm:
      return "balance-vm";
    case LagMode::kBalanceFlow:
      return "balance-flow";
    case LagMode::kFollowKernelBond:
      return "follow-kernel-bond";
  }
  return "?";
}

Status validatePortId(std::string_view id, std::string_view field) {
  if (id.empty()) return invalid(field, "required (e.g. \"vm1/net0\")");
  if (id.size() > kMaxPortIdLength)
    return invalid(field, fmt::format("{} characters; at most {}", id.size(), kMaxPortIdLength));
  if (id.front() == '/' || id.front() == '.')
    return invalid(field, fmt::format("'{}' must not start with '/' or '.'", id));
  if (id.find("..") != std::string_view::npos)
    return invalid(field, fmt::format("'{}' must not contain \"..\"", id));
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
          c == '/' || c == '-'))
      return invalid(field, fmt::format("'{}' has a character outside [A-Za-z0-9._:/-]", id));
  }
  return okStatus();
}

std::string defaultSocketPath(std::string_view socket_dir, std::string_view port_id) {
  std::string name(port_id);
  std::replace(name.begin(), name.end(), '/', '-');
  std::string dir(socket_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return fmt::format("{}/{}.sock", dir, name);
}

Status validateSocketPath(std::string_view path, std::string_view socket_dir,
                          std::string_view field) {
  if (path.find('\0') != std::string_view::npos) return invalid(field, "contains a NUL byte");
  if (path.empty() || path.front() != '/')
    return invalid(field, fmt::format("'{}' is not an absolute path", path));
  if (path.find("..") != std::string_view::npos)
    return invalid(field, fmt::format("'{}' must not contain \"..\"", path));
  if (path.size() > kMaxSocketPathBytes)
    return invalid(field, fmt::format("{} bytes; a Unix socket path has at most {}", path.size(),
                                      kMaxSocketPathBytes));
  const size_t slash = path.rfind('/');
  if (slash + 1 == path.size()) return invalid(field, fmt::format("'{}' names a directory", path));
  if (!socket_dir.empty()) {
    std::string_view dir = socket_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
    const std::string_view parent = slash == 0 ? std::string_view("/") : path.substr(0, slash);
    if (parent != dir)
      return invalid(field, fmt::format("'{}' is outside the socket directory {}; put the socket "
                                        "directly in it or leave socket_path empty",
                                        path, dir));
  }
  return okStatus();
}

StatusOr<PortSpec> portSpecFromProto(const v1::PortSpec& proto, std::string_view socket_dir,
                                     std::string_view field) {
  return portSpecImpl(proto, socket_dir, field, /*check_dir=*/true);
}

StatusOr<PortUpdate> applyPortUpdate(const v1::UpdatePortRequest& request,
                                     const PortSpec& current) {
  if (request.update_fields().empty())
    return invalid("update_fields",
                   fmt::format("name at least one of: {}", joinNames(kPortUpdateFields)));
  PortUpdate u{current, {}};
  const v1::PortSpec& p = request.spec();
  for (int i = 0; i < request.update_fields_size(); ++i) {
    const std::string& name = request.update_fields(i);
    const std::string field = "spec." + name;
    if (!kPortUpdateFields.contains(name))
      return invalid(
          fmt::format("update_fields[{}]", i),
          fmt::format("'{}' cannot be updated; one of: {}", name, joinNames(kPortUpdateFields)));
    if (name == "vlan") {
      VFO_RETURN_IF_ERROR(checkVlan(p.vlan(), field));
      u.updated.vlan = uint16_t(p.vlan());
      u.changed.vlan = true;
    } else if (name == "allowed_macs") {
      VFO_ASSIGN_OR_RETURN(u.updated.allowed_macs,
                           allowedMacs(p.allowed_macs(), current.mac, field));
      u.changed.allowed_macs = true;
    } else if (name == "announce") {
      if (p.has_announce()) {
        VFO_ASSIGN_OR_RETURN(u.updated.announce, announceFromProto(p.announce(), field));
      } else {
        u.updated.announce.reset();  // back to the group's settings
      }
      u.changed.announce = true;
    } else if (name == "pinned_member") {
      VFO_RETURN_IF_ERROR(checkMemberName(p.pinned_member(), field));
      u.updated.pinned_member = p.pinned_member();
      u.changed.pinned_member = true;
    } else if (name == "domain_name") {
      if (p.domain_name().size() > 256) return invalid(field, "longer than 256 bytes");
      u.updated.domain_name = p.domain_name();
      u.changed.owner = true;
    } else if (name == "domain_uuid") {
      if (p.domain_uuid().size() > 64) return invalid(field, "longer than 64 bytes");
      u.updated.domain_uuid = p.domain_uuid();
      u.changed.owner = true;
    }
  }
  return u;
}

namespace {
StatusOr<LagSettings> applyLagFields(const v1::UpdateLagRequest& request,
                                     const LagSettings& current, std::string_view prefix);
}  // namespace

StatusOr<LagSettings> lagSettingsFromProto(const v1::LagSettings& p, std::string_view field) {
  v1::UpdateLagRequest all;
  for (const auto& n : kLagUpdateFields) all.add_update_fields(n);
  *all.mutable_settings() = p;
  return applyLagFields(all, LagSettings{}, field);
}

StatusOr<LagSettings> applyLagUpdate(const v1::UpdateLagRequest& request,
                                     const LagSettings& current) {
  return applyLagFields(request, current, "settings");
}

namespace {
StatusOr<LagSettings> applyLagFields(const v1::UpdateLagRequest& request,
                                     const LagSettings& current, std::string_view prefix) {
  if (request.update_fields().empty())
    return invalid("update_fields",
                   fmt::format("name at least one of: {}", joinNames(kLagUpdateFields)));
  LagSettings s = current;
  const v1::LagSettings& p = request.settings();
  for (int i = 0; i < request.update_fields_size(); ++i) {
    const std::string& name = request.update_fields(i);
    const std::string field = fieldPath(prefix, name);
    if (!kLagUpdateFields.contains(name))
      return invalid(fmt::format("update_fields[{}]", i),
                     fmt::format("'{}' is not a LagSettings field; one of: {}", name,
                                 joinNames(kLagUpdateFields)));
    if (name == "mode") {
      switch (p.mode()) {
        case v1::LAG_MODE_UNSPECIFIED:
        case v1::LAG_MODE_ACTIVE_BACKUP:
          s.mode = LagMode::kActiveBackup;
          break;
        case v1::LAG_MODE_BALANCE_VM:
          s.mode = LagMode::kBalanceVm;
          break;
        case v1::LAG_MODE_BALANCE_FLOW:
          s.mode = LagMode::kBalanceFlow;
          break;
        case v1::LAG_MODE_FOLLOW_KERNEL_BOND:
          s.mode = LagMode::kFollowKernelBond;
          break;
        default:
          return invalid(field, fmt::format("unknown LagMode value {}", int(p.mode())));
      }
    } else if (name == "primary") {
      VFO_RETURN_IF_ERROR(checkMemberName(p.primary(), field));
      s.primary = p.primary();
    } else if (name == "primary_reselect") {
      switch (p.primary_reselect()) {
        case v1::PRIMARY_RESELECT_UNSPECIFIED:
        case v1::PRIMARY_RESELECT_ALWAYS:
          s.primary_reselect = PrimaryReselect::kAlways;
          break;
        case v1::PRIMARY_RESELECT_BETTER:
          s.primary_reselect = PrimaryReselect::kBetter;
          break;
        case v1::PRIMARY_RESELECT_FAILURE:
          s.primary_reselect = PrimaryReselect::kFailure;
          break;
        default:
          return invalid(
              field, fmt::format("unknown PrimaryReselect value {}", int(p.primary_reselect())));
      }
    } else if (name == "failback") {
      s.failback = p.has_failback() ? p.failback() : true;
    } else if (name == "updelay" || name == "downdelay") {
      VFO_ASSIGN_OR_RETURN(
          Duration d, durationFromProto(name == "updelay" ? p.updelay() : p.downdelay(), field));
      if (d < Duration(0) || d > kMaxLinkDelay)
        return invalid(field, fmt::format("{} is out of range 0..1 h", formatDuration(d)));
      (name == "updelay" ? s.updelay : s.downdelay) = d;
    } else if (name == "failback_delay") {
      VFO_ASSIGN_OR_RETURN(Duration d, durationFromProto(p.failback_delay(), field));
      if (d > kMaxLinkDelay)
        return invalid(field, fmt::format("{} is out of range (at most 1 h; negative = never)",
                                          formatDuration(d)));
      s.failback_delay = d < Duration(0) ? Duration(-1) : d;
    } else if (name == "hash_policy") {
      switch (p.hash_policy()) {
        case v1::HASH_POLICY_UNSPECIFIED:
        case v1::HASH_POLICY_LAYER2:
          s.hash_policy = HashPolicy::kLayer2;
          break;
        case v1::HASH_POLICY_LAYER2_3:
          s.hash_policy = HashPolicy::kLayer2_3;
          break;
        case v1::HASH_POLICY_LAYER3_4:
          s.hash_policy = HashPolicy::kLayer3_4;
          break;
        case v1::HASH_POLICY_ENCAP2_3:
          s.hash_policy = HashPolicy::kEncap2_3;
          break;
        case v1::HASH_POLICY_ENCAP3_4:
          s.hash_policy = HashPolicy::kEncap3_4;
          break;
        default:
          return invalid(field, fmt::format("unknown HashPolicy value {}", int(p.hash_policy())));
      }
    } else if (name == "announce") {
      if (p.has_announce()) {
        VFO_ASSIGN_OR_RETURN(s.announce, announceFromProto(p.announce(), field));
      } else {
        s.announce = AnnounceSettings{};
      }
    } else if (name == "announce_rate_limit") {
      if (p.announce_rate_limit() > kMaxAnnounceRateLimit)
        return invalid(field, fmt::format("{} is out of range 1..{} frames/s (0 = default {})",
                                          p.announce_rate_limit(), kMaxAnnounceRateLimit,
                                          kDefaultAnnounceRateLimit));
      s.announce_rate_limit =
          p.announce_rate_limit() == 0 ? kDefaultAnnounceRateLimit : p.announce_rate_limit();
    }
  }
  return s;
}

}  // namespace

std::string makeResumeToken(uint64_t epoch, uint64_t seq) {
  return fmt::format("{:016x}-{}", epoch, seq);
}

StatusOr<ResumeToken> parseResumeToken(std::string_view token) {
  const auto bad = [&] {
    return invalid("resume_token", fmt::format("'{}' is not a token this API issued (pass the "
                                               "resume_token of an Event unchanged)",
                                               token.substr(0, 64)));
  };
  const size_t dash = token.find('-');
  if (dash != 16 || token.size() > 40) return bad();
  ResumeToken t;
  auto r1 = std::from_chars(token.data(), token.data() + dash, t.epoch, 16);
  auto r2 = std::from_chars(token.data() + dash + 1, token.data() + token.size(), t.seq, 10);
  if (r1.ec != std::errc() || r1.ptr != token.data() + dash || r2.ec != std::errc() ||
      r2.ptr != token.data() + token.size())
    return bad();
  return t;
}

void toProto(const PortSpec& s, v1::PortSpec* out) {
  out->set_port_id(s.port_id);
  out->set_socket_path(s.socket_path);
  out->set_role(s.role == VhostRole::kClient ? v1::VHOST_ROLE_CLIENT : v1::VHOST_ROLE_SERVER);
  out->set_mac(s.mac.toString());
  for (const auto& m : s.allowed_macs) out->add_allowed_macs(m.toString());
  out->set_vlan(s.vlan);
  out->set_queues(s.queues);
  out->set_disabled_features(s.disabled_features);
  if (s.announce) announceToProto(*s.announce, out->mutable_announce());
  out->set_pinned_member(s.pinned_member);
  out->set_domain_name(s.domain_name);
  out->set_domain_uuid(s.domain_uuid);
  out->set_incoming_migration(s.incoming_migration);
}

void toProto(const PortInfo& p, v1::Port* out) {
  toProto(p.spec, out->mutable_spec());
  out->set_state(stateToProto(p.state));
  out->set_vhost_connected(p.vhost_connected);
  out->set_active_member(p.active_member);
  for (const auto& vf : p.vfs) {
    auto* v = out->add_vfs();
    v->set_member(vf.member);
    v->set_vf(vf.vf);
    v->set_devargs(vf.devargs);
    v->set_active(vf.active);
  }
  for (const auto& a : p.learned) {
    auto* l = out->add_learned();
    l->set_mac(a.mac.toString());
    l->set_vlan(a.vlan);
    l->set_ip(a.ip);
    durationToProto(a.age, l->mutable_age());
  }
  out->set_worker_lcore(p.worker_lcore);
}

void toProto(const LagSettings& s, v1::LagSettings* out) {
  static constexpr v1::LagMode kModes[] = {v1::LAG_MODE_ACTIVE_BACKUP, v1::LAG_MODE_BALANCE_VM,
                                           v1::LAG_MODE_BALANCE_FLOW,
                                           v1::LAG_MODE_FOLLOW_KERNEL_BOND};
  static constexpr v1::PrimaryReselect kReselect[] = {
      v1::PRIMARY_RESELECT_ALWAYS, v1::PRIMARY_RESELECT_BETTER, v1::PRIMARY_RESELECT_FAILURE};
  static constexpr v1::HashPolicy kHash[] = {v1::HASH_POLICY_LAYER2, v1::HASH_POLICY_LAYER2_3,
                                             v1::HASH_POLICY_LAYER3_4, v1::HASH_POLICY_ENCAP2_3,
                                             v1::HASH_POLICY_ENCAP3_4};
  out->set_mode(kModes[size_t(s.mode)]);
  out->set_primary(s.primary);
  out->set_primary_reselect(kReselect[size_t(s.primary_reselect)]);
  out->set_failback(s.failback);
  durationToProto(s.updelay, out->mutable_updelay());
  durationToProto(s.downdelay, out->mutable_downdelay());
  durationToProto(s.failback_delay, out->mutable_failback_delay());
  out->set_hash_policy(kHash[size_t(s.hash_policy)]);
  announceToProto(s.announce, out->mutable_announce());
  out->set_announce_rate_limit(s.announce_rate_limit);
}

void toProto(const LagInfo& lag, v1::Lag* out) {
  toProto(lag.settings, out->mutable_settings());
  for (const auto& m : lag.members) {
    auto* p = out->add_members();
    p->set_name(m.name);
    p->set_admin_up(m.admin_up);
    p->set_link(linkToProto(m.link));
    p->set_probe_alive(m.probe_alive);
    if (m.pending) durationToProto(*m.pending, p->mutable_pending());
    p->set_active_ports(m.active_ports);
    countersToProto(m.counters, p->mutable_counters());
  }
  out->set_active_member(lag.active_member);
  countersToProto(lag.counters, out->mutable_counters());
}

void toProto(const StatsInfo& stats, v1::Stats* out) {
  for (const auto& p : stats.ports) {
    auto* ps = out->add_ports();
    ps->set_port_id(p.port_id);
    countersToProto(p.port, ps->mutable_port()->mutable_counters());
    for (const auto& [q, c] : p.queues)
      countersToProto(c, (*ps->mutable_queues())[q].mutable_counters());
    for (const auto& [m, c] : p.members)
      countersToProto(c, (*ps->mutable_members())[m].mutable_counters());
  }
  countersToProto(stats.lag, out->mutable_lag()->mutable_counters());
}

void toProto(const Event& e, uint64_t epoch, v1::Event* out) {
  out->set_resume_token(makeResumeToken(epoch, e.seq));
  timeToProto(e.time, out->mutable_time());
  std::visit(
      [&](const auto& k) {
        using T = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<T, VhostConnectedEvent>) {
          out->set_vhost_connected(k.port_id);
        } else if constexpr (std::is_same_v<T, VhostDisconnectedEvent>) {
          out->set_vhost_disconnected(k.port_id);
        } else if constexpr (std::is_same_v<T, PortStateEvent>) {
          auto* p = out->mutable_port_state();
          p->set_port_id(k.port_id);
          p->set_from(stateToProto(k.from));
          p->set_to(stateToProto(k.to));
        } else if constexpr (std::is_same_v<T, FailoverEvent>) {
          auto* f = out->mutable_failover();
          f->set_port_id(k.port_id);
          f->set_from_member(k.from_member);
          f->set_to_member(k.to_member);
          f->set_reason(k.reason);
          timeToProto(k.cause_seen_at, f->mutable_cause_seen_at());
          timeToProto(k.switched_at, f->mutable_switched_at());
          f->set_frames_announced(k.frames_announced);
        } else if constexpr (std::is_same_v<T, AnnounceEvent>) {
          auto* a = out->mutable_announce();
          a->set_port_id(k.port_id);
          a->set_member(k.member);
          a->set_frames(k.frames);
          durationToProto(k.first_to_last, a->mutable_first_to_last());
        } else if constexpr (std::is_same_v<T, MigrationEvent>) {
          auto* m = out->mutable_migration();
          m->set_port_id(k.port_id);
          m->set_phase(k.phase);
        } else if constexpr (std::is_same_v<T, MemberEvent>) {
          auto* m = out->mutable_member();
          m->set_member(k.member);
          m->set_from(linkToProto(k.from));
          m->set_to(linkToProto(k.to));
        }
      },
      e.kind);
}

void toProto(const HealthInfo& h, v1::HealthResponse* out) {
  out->set_serving(h.serving);
  for (const auto& p : h.problems) out->add_problems(p);
}

void toProto(const DesiredState& state, v1::DesiredState* out) {
  for (const auto& p : state.ports) toProto(p, out->add_ports());
  if (state.lag) toProto(*state.lag, out->mutable_lag());
  for (const auto& [port, addrs] : state.learned) {
    auto* pl = out->add_learned();
    pl->set_port_id(port);
    for (const auto& a : addrs) {
      auto* l = pl->add_addresses();
      l->set_mac(a.mac.toString());
      l->set_vlan(a.vlan);
      l->set_ip(a.ip);
    }
  }
  out->set_forced_active_member(state.forced_active_member);
}

StatusOr<DesiredState> desiredStateFromProto(const v1::DesiredState& proto) {
  DesiredState s;
  for (int i = 0; i < proto.ports_size(); ++i) {
    VFO_ASSIGN_OR_RETURN(PortSpec spec,
                         portSpecImpl(proto.ports(i), "", fmt::format("ports[{}]", i),
                                      /*check_dir=*/false));
    s.ports.push_back(std::move(spec));
  }
  std::sort(s.ports.begin(), s.ports.end(),
            [](const PortSpec& a, const PortSpec& b) { return a.port_id < b.port_id; });
  if (proto.has_lag()) {
    VFO_ASSIGN_OR_RETURN(s.lag, lagSettingsFromProto(proto.lag(), "lag"));
  }
  for (int i = 0; i < proto.learned_size(); ++i) {
    const auto& pl = proto.learned(i);
    const std::string f = fmt::format("learned[{}]", i);
    VFO_RETURN_IF_ERROR(validatePortId(pl.port_id(), f + ".port_id"));
    auto& list = s.learned[pl.port_id()];
    for (int j = 0; j < pl.addresses_size(); ++j) {
      LearnedAddress a;
      auto mac = MacAddress::parse(pl.addresses(j).mac());
      if (!mac) return invalid(fmt::format("{}.addresses[{}].mac", f, j), mac.status().message());
      a.mac = *mac;
      VFO_RETURN_IF_ERROR(
          checkVlan(pl.addresses(j).vlan(), fmt::format("{}.addresses[{}].vlan", f, j)));
      a.vlan = uint16_t(pl.addresses(j).vlan());
      a.ip = pl.addresses(j).ip();
      list.push_back(std::move(a));
    }
  }
  VFO_RETURN_IF_ERROR(checkMemberName(proto.forced_active_member(), "forced_active_member"));
  s.forced_active_member = proto.forced_active_member();
  return s;
}

}  // namespace vfo::api
