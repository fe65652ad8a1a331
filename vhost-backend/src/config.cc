#include "vfo/vhost/config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

#include "vfo/api/access.h"
#include "vfo/api/metrics_server.h"
#include "vfo/v1/config.pb.h"
#include "vfo/vhost/virtio_features.h"

namespace vfo::vhost {

namespace pb = google::protobuf;

std::string_view socketRoleName(SocketRole role) {
  switch (role) {
    case SocketRole::kServer:
      return "server";
    case SocketRole::kClient:
      return "client";
  }
  return "?";
}

uint64_t unmaskableFeatures() {
  return (1ULL << kVirtioFVersion1) | (1ULL << kVhostFLogAll) |
         (1ULL << kVhostUserFProtocolFeatures);
}

namespace {

// One step of a field path: a field name and, for repeated fields, the
// element index (-1 for singular fields).
struct PathStep {
  std::string_view field;
  int index = -1;
};
using Path = std::vector<PathStep>;

std::string renderPath(const Path& path) {
  std::string out;
  for (const auto& s : path) {
    if (!out.empty()) out += '.';
    out += s.field;
    if (s.index >= 0) out += fmt::format("[{}]", s.index);
  }
  return out;
}

// Maps field paths to places in the parsed file (when there is one).
class Locator {
 public:
  Locator() = default;
  Locator(std::string file, const pb::TextFormat::ParseInfoTree* tree, const pb::Descriptor* root)
      : file_(std::move(file)), tree_(tree), root_(root) {}

  // "FILE:LINE:COL: " for the deepest element of `path` present in the file,
  // "FILE: " when nothing is, "" without a file.
  std::string where(const Path& path) const {
    if (file_.empty()) return "";
    int line = -1, column = -1;
    const pb::TextFormat::ParseInfoTree* tree = tree_;
    const pb::Descriptor* desc = root_;
    for (const auto& step : path) {
      if (!tree || !desc) break;
      const pb::FieldDescriptor* fd = desc->FindFieldByName(std::string(step.field));
      if (!fd) break;
      const int idx = fd->is_repeated() ? step.index : -1;
      if (fd->is_repeated() && idx < 0) break;
      auto loc = tree->GetLocation(fd, idx);
      if (loc.line >= 0) {
        line = loc.line;
        column = loc.column;
      }
      if (fd->type() != pb::FieldDescriptor::TYPE_MESSAGE) break;
      tree = tree->GetTreeForNested(fd, idx);
      desc = fd->message_type();
    }
    if (line < 0) return file_ + ": ";
    return fmt::format("{}:{}:{}: ", file_, line + 1, column + 1);
  }

 private:
  std::string file_;
  const pb::TextFormat::ParseInfoTree* tree_ = nullptr;
  const pb::Descriptor* root_ = nullptr;
};

class Validator {
 public:
  explicit Validator(const Locator& locator) : locator_(locator) {}

  Status error(const Path& path, std::string_view reason) const {
    return invalidArgument(locator_.where(path) + renderPath(path) + ": " + std::string(reason));
  }

 private:
  const Locator& locator_;
};

Path join(const Path& base, std::initializer_list<PathStep> more) {
  Path p = base;
  p.insert(p.end(), more.begin(), more.end());
  return p;
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// 1..max characters of [A-Za-z0-9_-].
bool isSimpleName(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && std::all_of(s.begin(), s.end(), isNameChar);
}

bool isAbsoluteClean(std::string_view p) {
  if (p.empty() || p[0] != '/') return false;
  size_t start = 1;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    std::string_view comp = p.substr(start, end - start);
    if (comp == "..") return false;
    start = end + 1;
  }
  return true;
}

bool hasDotDotComponent(std::string_view p) {
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

std::string stripTrailingSlashes(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

StatusOr<Duration> durationFrom(const pb::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.nanos() >= 1'000'000'000)
    return invalidArgument("must be a non-negative duration with 0 <= nanos < 1e9");
  if (d.seconds() > 365LL * 24 * 3600) return invalidArgument("is longer than a year");
  return Duration(d.seconds() * 1'000'000'000LL + d.nanos());
}

std::string formatDuration(Duration d) {
  const int64_t ns = d.count();
  if (ns % 1'000'000'000 == 0) return fmt::format("{} s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{} ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{} us", ns / 1'000);
  return fmt::format("{} ns", ns);
}

// A user name or a numeric uid.
StatusOr<uid_t> resolveUser(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 9) return invalidArgument("uid '" + s + "' is too large");
    return uid_t(std::stoul(s));
  }
  passwd pw, *res = nullptr;
  std::vector<char> buf(16384);
  int rc = getpwnam_r(s.c_str(), &pw, buf.data(), buf.size(), &res);
  if (rc != 0 || !res) return invalidArgument("no user named '" + s + "' on this host");
  return res->pw_uid;
}

StatusOr<gid_t> resolveGroup(const std::string& s) {
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (s.size() > 9) return invalidArgument("gid '" + s + "' is too large");
    return gid_t(std::stoul(s));
  }
  group gr, *res = nullptr;
  std::vector<char> buf(16384);
  int rc = getgrnam_r(s.c_str(), &gr, buf.data(), buf.size(), &res);
  if (rc != 0 || !res) return invalidArgument("no group named '" + s + "' on this host");
  return res->gr_gid;
}

// The port validation shared by the file loader and the API edge.
StatusOr<PortSettings> validatePort(const v1::PortConfig& in, const SocketSettings& sockets,
                                    const LagSettings& lag, const Path& base, const Validator& v) {
  PortSettings out;
  auto at = [&](std::string_view field, int index = -1) {
    return join(base, {PathStep{field, index}});
  };

  if (in.id().empty()) return v.error(at("id"), "is required");
  if (Status s = validatePortId(in.id()); !s.isOk()) return v.error(at("id"), s.message());
  out.id = in.id();

  // Socket path: inside the socket directory, no "..", fits sun_path.
  std::string path =
      in.socket_path().empty() ? defaultSocketPath(sockets, out.id) : in.socket_path();
  if (hasDotDotComponent(path))
    return v.error(at("socket_path"),
                   "'" + path + "' contains '..'; give a plain path inside " + sockets.dir);
  const std::string dir_prefix = sockets.dir == "/" ? "/" : sockets.dir + "/";
  if (path.compare(0, dir_prefix.size(), dir_prefix) != 0 || path.size() == dir_prefix.size() ||
      path.back() == '/')
    return v.error(at("socket_path"),
                   "'" + path + "' is outside the socket directory " + sockets.dir);
  if (path.find("//") != std::string::npos)
    return v.error(at("socket_path"), "'" + path + "' contains an empty path component");
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    return v.error(at("socket_path"),
                   fmt::format("'{}' is {} bytes; a unix socket path is at "
                               "most {} bytes",
                               path, path.size(), sizeof(sockaddr_un::sun_path) - 1));
  out.socket_path = path;

  switch (in.role()) {
    case v1::SOCKET_ROLE_UNSPECIFIED:
    case v1::SOCKET_ROLE_SERVER:
      out.role = SocketRole::kServer;
      break;
    case v1::SOCKET_ROLE_CLIENT:
      out.role = SocketRole::kClient;
      break;
    default:
      return v.error(at("role"), fmt::format("unknown role {}", int(in.role())));
  }

  if (in.mac().empty()) return v.error(at("mac"), "is required (the guest's MAC address)");
  auto mac = MacAddress::parseUnicast(in.mac());
  if (!mac.isOk()) return v.error(at("mac"), mac.status().message());
  out.mac = *mac;
  out.allowed_macs.push_back(out.mac);
  if (uint32_t(in.allowed_macs_size()) > kMaxMacsPerPort - 1)
    return v.error(at("allowed_macs"), fmt::format("{} entries; at most {} besides mac",
                                                   in.allowed_macs_size(), kMaxMacsPerPort - 1));
  for (int i = 0; i < in.allowed_macs_size(); ++i) {
    auto m = MacAddress::parseUnicast(in.allowed_macs(i));
    if (!m.isOk()) return v.error(at("allowed_macs", i), m.status().message());
    if (std::find(out.allowed_macs.begin(), out.allowed_macs.end(), *m) != out.allowed_macs.end())
      return v.error(at("allowed_macs", i), m->toString() + " is listed twice");
    out.allowed_macs.push_back(*m);
  }

  if (in.vlan() > 4094)
    return v.error(at("vlan"), fmt::format("{} is out of range 1..4094 (0 = untagged)", in.vlan()));
  out.vlan = lag::VlanId(in.vlan());

  const uint32_t qp = in.queue_pairs() == 0 ? 1 : in.queue_pairs();
  if (qp > kMaxQueuePairs)
    return v.error(at("queue_pairs"),
                   fmt::format("{} is out of range 1..{}", in.queue_pairs(), kMaxQueuePairs));
  out.queue_pairs = uint16_t(qp);

  if (uint64_t bad = in.disabled_features() & unmaskableFeatures(); bad != 0)
    return v.error(at("disabled_features"),
                   fmt::format("0x{:x} masks bits vfod needs (0x{:x}: VERSION_1, LOG_ALL, "
                               "PROTOCOL_FEATURES)",
                               in.disabled_features(), bad));
  out.disabled_features = in.disabled_features();

  out.uplink_devargs.assign(lag.members.size(), "");
  if (lag.vf_provider == VfProviderSetting::kSoftware && in.uplinks_size() > 0)
    return v.error(at("uplinks", 0),
                   "the LAG uses software VFs (lag.vf_provider), which vfod makes per port; "
                   "remove the port's uplinks");
  if (lag.vf_provider == VfProviderSetting::kShared && in.uplinks_size() > 0)
    return v.error(at("uplinks", 0),
                   "the LAG uses shared uplinks (lag.vf_provider), which every port uses; "
                   "remove the port's uplinks");
  if (lag.vf_provider == VfProviderSetting::kSriov && in.uplinks_size() > 0)
    return v.error(at("uplinks", 0),
                   "the LAG uses SR-IOV VFs (lag.vf_provider), which vfod allocates per port; "
                   "remove the port's uplinks");
  for (int i = 0; i < in.uplinks_size(); ++i) {
    const auto& u = in.uplinks(i);
    auto it = std::find_if(lag.members.begin(), lag.members.end(),
                           [&](const MemberSettings& m) { return m.name == u.member(); });
    if (it == lag.members.end())
      return v.error(join(base, {{"uplinks", i}, {"member"}}),
                     "'" + u.member() + "' is not a member of the LAG");
    const size_t m = size_t(it - lag.members.begin());
    if (!out.uplink_devargs[m].empty())
      return v.error(join(base, {{"uplinks", i}, {"member"}}),
                     "member '" + u.member() + "' has two uplinks");
    if (u.devargs().empty() || u.devargs().size() > 512 ||
        u.devargs().find_first_of(" \t\n") != std::string::npos)
      return v.error(join(base, {{"uplinks", i}, {"devargs"}}),
                     "must be 1..512 characters without blanks");
    out.uplink_devargs[m] = u.devargs();
  }
  for (size_t m = 0; m < lag.members.size(); ++m) {
    if (out.uplink_devargs[m].empty() && lag.members[m].netdev.empty())
      return v.error(at("uplinks"), "member '" + lag.members[m].name +
                                        "' has no netdev, so the port must name its uplink "
                                        "devargs for it");
  }
  return out;
}

// The vdev name of devargs ("net_af_packet_x,iface=a" -> "net_af_packet_x").
std::string devargsName(std::string_view devargs) {
  return std::string(devargs.substr(0, devargs.find(',')));
}

StatusOr<VfodConfig> validateDaemon(const v1::DaemonConfig& in, const Validator& v) {
  VfodConfig out;

  // --- eal
  if (in.has_eal()) {
    const auto& e = in.eal();
    out.eal.main_lcore = e.main_lcore();
    if (e.main_lcore() >= 1024)
      return v.error({{"eal"}, {"main_lcore"}},
                     fmt::format("{} is not below 1024", e.main_lcore()));
    if (e.worker_lcores_size() > 0) {
      if (uint32_t(e.worker_lcores_size()) > kMaxWorkers)
        return v.error({{"eal"}, {"worker_lcores"}},
                       fmt::format("{} workers; at most {}", e.worker_lcores_size(), kMaxWorkers));
      out.eal.worker_lcores.clear();
      std::set<uint32_t> seen;
      for (int i = 0; i < e.worker_lcores_size(); ++i) {
        const uint32_t l = e.worker_lcores(i);
        if (l >= 1024)
          return v.error({{"eal"}, {"worker_lcores", i}}, fmt::format("{} is not below 1024", l));
        if (l == e.main_lcore())
          return v.error({{"eal"}, {"worker_lcores", i}},
                         fmt::format("lcore {} is the main lcore; workers need their own", l));
        if (!seen.insert(l).second)
          return v.error({{"eal"}, {"worker_lcores", i}},
                         fmt::format("lcore {} is listed twice", l));
        out.eal.worker_lcores.push_back(l);
      }
    } else if (e.main_lcore() == 1) {
      return v.error({{"eal"}, {"worker_lcores"}},
                     "the default worker lcore 1 is the main lcore; list the worker lcores");
    }
    if (!e.file_prefix().empty() && !isSimpleName(e.file_prefix(), 32))
      return v.error({{"eal"}, {"file_prefix"}}, "must be 1..32 characters of [A-Za-z0-9_-]");
    out.eal.file_prefix = e.file_prefix();
  }

  // --- memory
  if (in.has_memory()) {
    const auto& m = in.memory();
    switch (m.hugepages()) {
      case v1::HUGEPAGES_UNSPECIFIED:
      case v1::HUGEPAGES_AUTO:
        out.memory.hugepages = HugepagePolicy::kAuto;
        break;
      case v1::HUGEPAGES_NEVER:
        out.memory.hugepages = HugepagePolicy::kNever;
        break;
      case v1::HUGEPAGES_REQUIRED:
        out.memory.hugepages = HugepagePolicy::kRequired;
        break;
      default:
        return v.error({{"memory"}, {"hugepages"}},
                       fmt::format("unknown mode {}", int(m.hugepages())));
    }
    if (m.size_mb() != 0) {
      if (m.size_mb() < kMinMemoryMb || m.size_mb() > kMaxMemoryMb)
        return v.error(
            {{"memory"}, {"size_mb"}},
            fmt::format("{} is out of range {}..{} MiB", m.size_mb(), kMinMemoryMb, kMaxMemoryMb));
      out.memory.size_mb = m.size_mb();
    }
    if (m.mbufs() != 0) {
      if (m.mbufs() < kMinMbufs || m.mbufs() > kMaxMbufs)
        return v.error({{"memory"}, {"mbufs"}},
                       fmt::format("{} is out of range {}..{}", m.mbufs(), kMinMbufs, kMaxMbufs));
      out.memory.mbufs = m.mbufs();
    }
  }

  // --- sockets
  if (in.has_sockets()) {
    const auto& s = in.sockets();
    if (!s.dir().empty()) {
      if (!isAbsoluteClean(s.dir()))
        return v.error({{"sockets"}, {"dir"}},
                       "'" + s.dir() + "' must be an absolute path without '..'");
      out.sockets.dir = stripTrailingSlashes(s.dir());
    }
    if (!s.owner().empty()) {
      auto uid = resolveUser(s.owner());
      if (!uid.isOk()) return v.error({{"sockets"}, {"owner"}}, uid.status().message());
      out.sockets.owner = *uid;
    }
    if (!s.group().empty()) {
      auto gid = resolveGroup(s.group());
      if (!gid.isOk()) return v.error({{"sockets"}, {"group"}}, gid.status().message());
      out.sockets.group = *gid;
    }
    if (s.has_mode()) {
      if (s.mode() > 0777)
        return v.error(
            {{"sockets"}, {"mode"}},
            fmt::format("0{:o} has bits outside 0777 (write it in octal: mode: 0660)", s.mode()));
      out.sockets.mode = s.mode();
    }
  }

  // --- state_dir, log level
  if (!in.state_dir().empty()) {
    if (!isAbsoluteClean(in.state_dir()))
      return v.error({{"state_dir"}},
                     "'" + in.state_dir() + "' must be an absolute path without '..'");
    out.state_dir = stripTrailingSlashes(in.state_dir());
  }
  switch (in.log_level()) {
    case v1::LOG_LEVEL_UNSPECIFIED:
    case v1::LOG_LEVEL_INFO:
      out.log_level = LogLevel::kInfo;
      break;
    case v1::LOG_LEVEL_DEBUG:
      out.log_level = LogLevel::kDebug;
      break;
    case v1::LOG_LEVEL_WARN:
      out.log_level = LogLevel::kWarn;
      break;
    case v1::LOG_LEVEL_ERROR:
      out.log_level = LogLevel::kError;
      break;
    default:
      return v.error({{"log_level"}}, fmt::format("unknown level {}", int(in.log_level())));
  }

  // --- datapath
  if (in.has_datapath()) {
    const auto& d = in.datapath();
    if (d.has_idle_backoff_max()) {
      auto dur = durationFrom(d.idle_backoff_max());
      if (!dur.isOk()) return v.error({{"datapath"}, {"idle_backoff_max"}}, dur.status().message());
      if (*dur > kMaxIdleBackoff)
        return v.error({{"datapath"}, {"idle_backoff_max"}},
                       fmt::format("{} is longer than the maximum {}", formatDuration(*dur),
                                   formatDuration(kMaxIdleBackoff)));
      out.datapath.idle_backoff_max = *dur;
    }
    if (d.learner_ring_size() != 0) {
      const uint32_t n = d.learner_ring_size();
      if (n < 64 || n > 65536 || (n & (n - 1)) != 0)
        return v.error({{"datapath"}, {"learner_ring_size"}},
                       fmt::format("{} is not a power of two in 64..65536", n));
      out.datapath.learner_ring_size = n;
    }
    if (d.has_stats_interval()) {
      auto dur = durationFrom(d.stats_interval());
      if (!dur.isOk()) return v.error({{"datapath"}, {"stats_interval"}}, dur.status().message());
      if (dur->count() != 0 && *dur < Duration(100ms))
        return v.error({{"datapath"}, {"stats_interval"}},
                       formatDuration(*dur) + " is shorter than 100 ms");
      out.datapath.stats_interval = *dur;
    }
    out.datapath.deliver_foreign_unicast = d.deliver_foreign_unicast();
  }

  // --- lag
  if (!in.has_lag() || in.lag().members_size() == 0)
    return v.error({{"lag"}, {"members"}}, "at least one member is required");
  {
    const auto& l = in.lag();
    if (!l.name().empty()) {
      if (!isSimpleName(l.name(), 15))
        return v.error({{"lag"}, {"name"}}, "must be 1..15 characters of [A-Za-z0-9_-]");
      out.lag.name = l.name();
    }
    if (uint32_t(l.members_size()) > kMaxMembers)
      return v.error({{"lag"}, {"members"}},
                     fmt::format("{} members; at most {}", l.members_size(), kMaxMembers));
    for (int i = 0; i < l.members_size(); ++i) {
      const auto& m = l.members(i);
      if (!isSimpleName(m.name(), 15))
        return v.error({{"lag"}, {"members", i}, {"name"}},
                       m.name().empty() ? "is required"
                                        : "'" + m.name() +
                                              "' must be 1..15 characters of "
                                              "[A-Za-z0-9_-]");
      for (const auto& prev : out.lag.members)
        if (prev.name == m.name())
          return v.error({{"lag"}, {"members", i}, {"name"}}, "'" + m.name() + "' is listed twice");
      if (!m.netdev().empty() &&
          (m.netdev().size() > 15 || m.netdev().find_first_of("/ ,=\t\n:") != std::string::npos))
        return v.error({{"lag"}, {"members", i}, {"netdev"}},
                       "'" + m.netdev() +
                           "' is not a netdev name (1..15 characters, no '/', "
                           "',', '=', ':' or blanks)");
      if (l.vf_provider() == v1::VF_PROVIDER_SOFTWARE && m.netdev().empty())
        return v.error({{"lag"}, {"members", i}, {"netdev"}},
                       "is required with software VFs (the macvlans' parent)");
      if (l.vf_provider() == v1::VF_PROVIDER_SHARED && m.netdev().empty())
        return v.error({{"lag"}, {"members", i}, {"netdev"}},
                       "is required with shared uplinks (the netdev vfod opens)");
      if (l.vf_provider() == v1::VF_PROVIDER_SRIOV && m.netdev().empty())
        return v.error({{"lag"}, {"members", i}, {"netdev"}},
                       "is required with SR-IOV VFs (the PF whose VFs ports get)");
      MemberSettings ms{m.name(), m.netdev(), {}};
      for (int j = 0; j < m.pinned_ports_size(); ++j) {
        if (Status s = validatePortId(m.pinned_ports(j)); !s.isOk())
          return v.error({{"lag"}, {"members", i}, {"pinned_ports", j}}, s.message());
        for (const auto& prev : out.lag.members)
          if (std::count(prev.pinned_ports.begin(), prev.pinned_ports.end(), m.pinned_ports(j)))
            return v.error({{"lag"}, {"members", i}, {"pinned_ports", j}},
                           "'" + m.pinned_ports(j) + "' is already pinned to " + prev.name);
        ms.pinned_ports.push_back(m.pinned_ports(j));
      }
      out.lag.members.push_back(std::move(ms));
    }
    switch (l.mode()) {
      case v1::LAG_MODE_UNSPECIFIED:
      case v1::LAG_MODE_ACTIVE_BACKUP:
        out.lag.mode = LagModeSetting::kActiveBackup;
        break;
      case v1::LAG_MODE_BALANCE_VM:
        out.lag.mode = LagModeSetting::kBalanceVm;
        break;
      case v1::LAG_MODE_BALANCE_FLOW:
        out.lag.mode = LagModeSetting::kBalanceFlow;
        break;
      case v1::LAG_MODE_FOLLOW_KERNEL_BOND:
        return v.error({{"lag"}, {"mode"}},
                       "LAG_MODE_FOLLOW_KERNEL_BOND is not supported by vfod yet");
      default:
        return v.error({{"lag"}, {"mode"}}, fmt::format("unknown mode {}", int(l.mode())));
    }
    if (out.lag.mode != LagModeSetting::kBalanceVm)
      for (int i = 0; i < l.members_size(); ++i)
        if (l.members(i).pinned_ports_size() > 0)
          return v.error({{"lag"}, {"members", i}, {"pinned_ports"}},
                         "pins need mode LAG_MODE_BALANCE_VM");
    out.lag.failback = l.has_failback() ? l.failback() : true;
    struct DelayField {
      std::string_view name;
      bool present;
      const pb::Duration* value;
      Duration* out;
    };
    Duration vm_delay = kDefaultVmFailbackDelay;
    for (const DelayField& f :
         {DelayField{"updelay", l.has_updelay(), &l.updelay(), &out.lag.updelay},
          DelayField{"downdelay", l.has_downdelay(), &l.downdelay(), &out.lag.downdelay},
          DelayField{"vm_failback_delay", l.has_vm_failback_delay(), &l.vm_failback_delay(),
                     &vm_delay}}) {
      if (!f.present) continue;
      auto d = durationFrom(*f.value);
      if (!d.isOk()) return v.error({{"lag"}, {f.name}}, d.status().message());
      if (*d > Duration(std::chrono::hours(1)))
        return v.error({{"lag"}, {f.name}}, formatDuration(*d) + " is longer than 1 h");
      *f.out = *d;
    }
    out.lag.vm_failback_delay =
        l.vm_failback_stay() ? std::nullopt : std::optional<Duration>(vm_delay);
    switch (l.vf_provider()) {
      case v1::VF_PROVIDER_UNSPECIFIED:
      case v1::VF_PROVIDER_NETDEV:
        out.lag.vf_provider = VfProviderSetting::kNetdev;
        break;
      case v1::VF_PROVIDER_SOFTWARE:
        out.lag.vf_provider = VfProviderSetting::kSoftware;
        break;
      case v1::VF_PROVIDER_SHARED:
        out.lag.vf_provider = VfProviderSetting::kShared;
        break;
      case v1::VF_PROVIDER_SRIOV:
        out.lag.vf_provider = VfProviderSetting::kSriov;
        break;
      default:
        return v.error({{"lag"}, {"vf_provider"}},
                       fmt::format("unknown provider {}", int(l.vf_provider())));
    }
    if (l.has_probe()) {
      const auto& pr = l.probe();
      ProbeSettings ps;
      if (pr.target().empty())
        return v.error({{"lag"}, {"probe"}, {"target"}}, "is required (the IPv4 address to probe)");
      auto target = Ipv4Address::parse(pr.target());
      if (!target.isOk())
        return v.error({{"lag"}, {"probe"}, {"target"}}, target.status().message());
      ps.target = *target;
      if (pr.has_interval()) {
        auto d = durationFrom(pr.interval());
        if (!d.isOk()) return v.error({{"lag"}, {"probe"}, {"interval"}}, d.status().message());
        if (*d < Duration(1ms) || *d > Duration(std::chrono::hours(1)))
          return v.error({{"lag"}, {"probe"}, {"interval"}},
                         formatDuration(*d) + " is out of range 1 ms..1 h");
        ps.interval = *d;
      }
      if (pr.missed_max() != 0) {
        if (pr.missed_max() > 255)
          return v.error({{"lag"}, {"probe"}, {"missed_max"}},
                         fmt::format("{} is out of range 1..255", pr.missed_max()));
        ps.missed_max = pr.missed_max();
      }
      for (int i = 0; i < l.members_size(); ++i) {
        const auto& m = l.members(i);
        if (m.netdev().empty())
          return v.error({{"lag"}, {"members", i}, {"netdev"}},
                         "is required with lag.probe (probes leave through it)");
        if (m.probe_source_ip().empty())
          return v.error({{"lag"}, {"members", i}, {"probe_source_ip"}},
                         "is required with lag.probe");
        auto ip = Ipv4Address::parse(m.probe_source_ip());
        if (!ip.isOk())
          return v.error({{"lag"}, {"members", i}, {"probe_source_ip"}}, ip.status().message());
        if (m.probe_source_mac().empty())
          return v.error({{"lag"}, {"members", i}, {"probe_source_mac"}},
                         "is required with lag.probe");
        auto mac = MacAddress::parseUnicast(m.probe_source_mac());
        if (!mac.isOk())
          return v.error({{"lag"}, {"members", i}, {"probe_source_mac"}}, mac.status().message());
        out.lag.members[size_t(i)].probe_ip = *ip;
        out.lag.members[size_t(i)].probe_mac = *mac;
      }
      out.lag.probe = ps;
    } else {
      for (int i = 0; i < l.members_size(); ++i)
        if (!l.members(i).probe_source_ip().empty() || !l.members(i).probe_source_mac().empty())
          return v.error({{"lag"}, {"members", i}, {"probe_source_ip"}},
                         "probe sources need lag.probe");
    }
    if (!l.xmit_hash_policy().empty()) {
      if (out.lag.mode != LagModeSetting::kBalanceFlow)
        return v.error({{"lag"}, {"xmit_hash_policy"}}, "needs mode LAG_MODE_BALANCE_FLOW");
      auto hp = lag::parseHashPolicy(l.xmit_hash_policy());
      if (!hp.isOk()) return v.error({{"lag"}, {"xmit_hash_policy"}}, hp.status().message());
      out.lag.hash_policy = *hp;
    }
    if (l.has_sriov_bind_vfio()) out.lag.sriov_bind_vfio = l.sriov_bind_vfio();
    if (!l.sriov_sysfs_root().empty()) {
      if (l.sriov_sysfs_root()[0] != '/' || l.sriov_sysfs_root().find("/../") != std::string::npos)
        return v.error({{"lag"}, {"sriov_sysfs_root"}},
                       "'" + l.sriov_sysfs_root() + "' is not an absolute path without '..'");
      out.lag.sriov_sysfs_root = l.sriov_sysfs_root();
    }
    if (l.software_vf_capacity() != 0) {
      if (l.software_vf_capacity() > 4096)
        return v.error({{"lag"}, {"software_vf_capacity"}},
                       fmt::format("{} is out of range 1..4096", l.software_vf_capacity()));
      out.lag.software_vf_capacity = l.software_vf_capacity();
    }
    if (!l.primary().empty()) {
      auto it = std::find_if(out.lag.members.begin(), out.lag.members.end(),
                             [&](const MemberSettings& m) { return m.name == l.primary(); });
      if (it == out.lag.members.end())
        return v.error({{"lag"}, {"primary"}}, "'" + l.primary() + "' is not a member");
      out.lag.primary = lag::MemberId(it - out.lag.members.begin());
    }
  }

  // --- api
  if (in.has_api()) {
    const auto& a = in.api();
    if (a.listen() == "none") {
      out.api.enabled = false;
    } else if (!a.listen().empty()) {
      auto path = api::unixSocketPath(a.listen());
      if (!path.isOk())
        return v.error({{"api"}, {"listen"}},
                       path.status().message() + " (or \"none\" to turn the API off)");
      out.api.listen = a.listen();
    }
    if (a.has_socket_mode()) {
      if (a.socket_mode() > 0777)
        return v.error(
            {{"api"}, {"socket_mode"}},
            fmt::format("0{:o} has bits outside 0777 (write it in octal: 0660)", a.socket_mode()));
      out.api.socket_mode = a.socket_mode();
    }
    if (!a.group().empty()) {
      auto gid = resolveGroup(a.group());
      if (!gid.isOk()) return v.error({{"api"}, {"group"}}, gid.status().message());
      out.api.group = *gid;
    }
    if (a.allowed_uids_size() > 0)
      out.api.allowed_uids.assign(a.allowed_uids().begin(), a.allowed_uids().end());
    for (int i = 0; i < a.allowed_groups_size(); ++i) {
      auto gid = resolveGroup(a.allowed_groups(i));
      if (!gid.isOk()) return v.error({{"api"}, {"allowed_groups", i}}, gid.status().message());
      out.api.allowed_gids.push_back(*gid);
    }
    if (a.event_buffer() != 0) {
      if (a.event_buffer() < 16 || a.event_buffer() > (1u << 20))
        return v.error({{"api"}, {"event_buffer"}},
                       fmt::format("{} is out of range 16..1048576", a.event_buffer()));
      out.api.event_buffer = a.event_buffer();
    }
  }

  // --- metrics
  if (in.has_metrics() && !in.metrics().listen().empty()) {
    if (auto m = api::parseMetricsListen(in.metrics().listen()); !m.isOk())
      return v.error({{"metrics"}, {"listen"}}, m.status().message());
    out.metrics_listen = in.metrics().listen();
  }

  // --- libvirt
  if (in.has_libvirt()) {
    const auto& l = in.libvirt();
    if (l.uri() == "none") {
      out.libvirt.enabled = false;
    } else if (!l.uri().empty()) {
      out.libvirt.uri = l.uri();
    }
    if (l.has_grace()) {
      auto d = durationFrom(l.grace());
      if (!d.isOk()) return v.error({{"libvirt"}, {"grace"}}, d.status().message());
      if (*d < Duration::zero() || *d > std::chrono::hours(1))
        return v.error({{"libvirt"}, {"grace"}}, formatDuration(*d) + " is out of range 0..1 h");
      out.libvirt.grace = *d;
    }
  }

  // --- ports
  std::set<std::string> ids, paths, vdevs;
  for (int i = 0; i < in.ports_size(); ++i) {
    Path base{{"ports", i}};
    auto p = validatePort(in.ports(i), out.sockets, out.lag, base, v);
    if (!p.isOk()) return p.status();
    if (!ids.insert(p->id).second)
      return v.error(join(base, {{"id"}}), "'" + p->id + "' is used by an earlier port");
    if (!paths.insert(p->socket_path).second)
      return v.error(join(base, {{"socket_path"}}),
                     "'" + p->socket_path + "' is used by an earlier port");
    for (int u = 0; u < in.ports(i).uplinks_size(); ++u) {
      const std::string name = devargsName(in.ports(i).uplinks(u).devargs());
      if (!vdevs.insert(name).second)
        return v.error(join(base, {{"uplinks", u}, {"devargs"}}),
                       "device '" + name + "' is used by an earlier uplink");
    }
    out.ports.push_back(std::move(*p));
  }
  return out;
}

// Collects protoc's text-format errors; keeps the first one.
class FirstErrorCollector : public pb::io::ErrorCollector {
 public:
  explicit FirstErrorCollector(std::string file) : file_(std::move(file)) {}
  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    if (!first_.empty()) return;
    first_ = fmt::format("{}:{}:{}: {}", file_, line + 1, column + 1, message);
  }
  void AddWarning(int, pb::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string file_;
  std::string first_;
};

}  // namespace

Status validatePortId(std::string_view id) {
  if (id.empty() || id.size() > 64) return invalidArgument("must be 1..64 characters");
  for (char c : id)
    if (!isNameChar(c) && c != '.' && c != ':' && c != '/')
      return invalidArgument("'" + std::string(id) +
                             "' may only contain [A-Za-z0-9._:/-] characters");
  if (id[0] == '/' || id[0] == '.')
    return invalidArgument("'" + std::string(id) + "' must not start with '/' or '.'");
  if (hasDotDotComponent(id)) return invalidArgument("'" + std::string(id) + "' contains '..'");
  return okStatus();
}

std::string defaultSocketPath(const SocketSettings& sockets, std::string_view port_id) {
  std::string name(port_id);
  std::replace(name.begin(), name.end(), '/', '-');
  return (sockets.dir == "/" ? "" : sockets.dir) + "/" + name + ".sock";
}

bool isPciDevargs(std::string_view devargs) {
  std::string_view name = devargs.substr(0, devargs.find(','));
  auto hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  // [DDDD:]BB:DD.F
  if (name.size() == 12) {
    if (name[4] != ':') return false;
    for (int i = 0; i < 4; ++i)
      if (!hex(name[i])) return false;
    name = name.substr(5);
  }
  if (name.size() != 7) return false;
  return hex(name[0]) && hex(name[1]) && name[2] == ':' && hex(name[3]) && hex(name[4]) &&
         name[5] == '.' && name[6] >= '0' && name[6] <= '7';
}

StatusOr<PortSettings> portFromProto(const v1::PortConfig& port, const SocketSettings& sockets,
                                     const LagSettings& lag, std::string_view field) {
  Locator none;
  Validator v(none);
  return validatePort(port, sockets, lag, Path{{field}}, v);
}

StatusOr<VfodConfig> parseConfigText(std::string_view text, std::string_view file_name) {
  v1::DaemonConfig msg;
  pb::TextFormat::Parser parser;
  FirstErrorCollector errors{std::string(file_name)};
  pb::TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (!parser.ParseFromString(std::string(text), &msg)) {
    return invalidArgument(errors.first().empty() ? std::string(file_name) + ": cannot parse"
                                                  : errors.first());
  }
  Locator locator{std::string(file_name), &tree, v1::DaemonConfig::descriptor()};
  Validator v(locator);
  return validateDaemon(msg, v);
}

StatusOr<VfodConfig> loadConfigFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) {
    const int err = errno;
    return errnoStatus(err, "config file " + path);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return unavailable("config file " + path + ": read error");
  return parseConfigText(ss.str(), path);
}

}  // namespace vfo::vhost
