#include "vfo/lag/address_learner.h"

#include <fmt/format.h>

#include <algorithm>

#include "vfo/lag/frames.h"

namespace vfo::lag {

namespace {

constexpr Duration kMinMaxAge = std::chrono::seconds(1);
constexpr Duration kMaxMaxAge = std::chrono::hours(24);
constexpr uint32_t kMaxAddressesCap = 4096;

bool sameAddress(const AddressBinding& a, const AddressBinding& b) {
  if (a.vlan != b.vlan || a.family != b.family) return false;
  return a.family == IpFamily::kIpv4 ? a.ipv4 == b.ipv4 : a.ipv6 == b.ipv6;
}

std::string addressText(const AddressBinding& b) {
  return b.family == IpFamily::kIpv4 ? b.ipv4.toString() : b.ipv6.toString();
}

StatusOr<std::vector<MacAddress>> normalizeMacs(std::span<const MacAddress> macs) {
  for (size_t i = 0; i < macs.size(); ++i)
    VFO_RETURN_IF_ERROR(checkSourceMac(macs[i], fmt::format("allowed_macs[{}]", i)));
  std::vector<MacAddress> out(macs.begin(), macs.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Status AddressLearnerConfig::validate() const {
  if (max_age < kMinMaxAge || max_age > kMaxMaxAge)
    return invalidArgument(
        fmt::format("max_age: {} ms is out of range 1000..86400000 ms",
                    std::chrono::duration_cast<std::chrono::milliseconds>(max_age).count()));
  if (max_addresses_per_port < 1 || max_addresses_per_port > kMaxAddressesCap)
    return invalidArgument(fmt::format("max_addresses_per_port: {} is out of range 1..{}",
                                       max_addresses_per_port, kMaxAddressesCap));
  return okStatus();
}

std::string formatLearnedAddress(const LearnedAddress& e, TimePoint now) {
  const double age_s = std::chrono::duration<double>(e.age(now)).count();
  return fmt::format("{} vlan {} {} via {}, age {:.1f} s", e.binding.mac.toString(), e.binding.vlan,
                     addressText(e.binding), addressSourceName(e.source), age_s);
}

std::string_view learnOutcomeName(LearnOutcome outcome) {
  switch (outcome) {
    case LearnOutcome::kLearned:
      return "learned";
    case LearnOutcome::kRefreshed:
      return "refreshed";
    case LearnOutcome::kMoved:
      return "moved";
    case LearnOutcome::kNoAddress:
      return "no_address";
    case LearnOutcome::kNotRelevant:
      return "not_relevant";
    case LearnOutcome::kMalformed:
      return "malformed";
    case LearnOutcome::kWrongDirection:
      return "wrong_direction";
    case LearnOutcome::kMacNotAllowed:
      return "mac_not_allowed";
    case LearnOutcome::kLinkLocalSkipped:
      return "link_local_skipped";
    case LearnOutcome::kUnknownPort:
      return "unknown_port";
  }
  return "unknown";
}

StatusOr<std::unique_ptr<AddressLearner>> AddressLearner::create(
    const AddressLearnerConfig& config) {
  VFO_RETURN_IF_ERROR(config.validate());
  return std::unique_ptr<AddressLearner>(new AddressLearner(config));
}

Status AddressLearner::addPort(PortIndex port, std::span<const MacAddress> allowed_macs) {
  if (port == kNoPort) return invalidArgument("port: kNoPort is not a port index");
  if (ports_.count(port)) return alreadyExists(fmt::format("port {} is already known", port));
  VFO_ASSIGN_OR_RETURN(auto macs, normalizeMacs(allowed_macs));
  ports_[port].allowed = std::move(macs);
  return okStatus();
}

Status AddressLearner::setAllowedMacs(PortIndex port, std::span<const MacAddress> allowed_macs) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return notFound(fmt::format("port {} is not known", port));
  VFO_ASSIGN_OR_RETURN(auto macs, normalizeMacs(allowed_macs));
  Port& p = it->second;
  p.allowed = std::move(macs);
  const size_t before = p.entries.size();
  std::erase_if(p.entries, [&](const LearnedAddress& e) { return !allowed(p, e.binding.mac); });
  bump(stats_.dropped_disallowed, before - p.entries.size());
  return okStatus();
}

Status AddressLearner::removePort(PortIndex port) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return notFound(fmt::format("port {} is not known", port));
  bump(stats_.dropped_port_removed, it->second.entries.size());
  ports_.erase(it);
  return okStatus();
}

bool AddressLearner::allowed(const Port& port, const MacAddress& mac) const {
  return std::binary_search(port.allowed.begin(), port.allowed.end(), mac);
}

LearnOutcome AddressLearner::observe(PortIndex port, FrameDirection direction,
                                     std::span<const uint8_t> frame, TimePoint now) {
  bump(stats_.frames_seen);
  auto it = ports_.find(port);
  if (it == ports_.end()) {
    bump(stats_.frames_unknown_port);
    return LearnOutcome::kUnknownPort;
  }
  const ParsedFrame parsed = parseAddressFrame(frame);
  switch (parsed.verdict) {
    case ParseVerdict::kNotRelevant:
      bump(stats_.frames_not_relevant);
      return LearnOutcome::kNotRelevant;
    case ParseVerdict::kMalformed:
      bump(stats_.frames_malformed);
      countDefect(defects_, parsed.defect);
      return LearnOutcome::kMalformed;
    case ParseVerdict::kNoAddress:
      switch (parsed.silent) {
        case SilentReason::kArpProbe:
          bump(stats_.arp_probes);
          break;
        case SilentReason::kDadSolicitation:
          bump(stats_.dad_solicitations);
          break;
        case SilentReason::kDhcpNotAck:
        case SilentReason::kDhcpNoAddress:
          bump(stats_.dhcp_not_ack);
          break;
        case SilentReason::kNone:
          break;
      }
      return LearnOutcome::kNoAddress;
    case ParseVerdict::kAddress:
      break;
  }
  const AddressBinding& b = parsed.binding;
  if (parsed.source != AddressSource::kDhcpAck && direction != FrameDirection::kFromGuest) {
    bump(stats_.wrong_direction);
    return LearnOutcome::kWrongDirection;
  }
  Port& p = it->second;
  if (!allowed(p, b.mac)) {
    bump(stats_.mac_not_allowed);
    return LearnOutcome::kMacNotAllowed;
  }
  if (b.family == IpFamily::kIpv6 && b.ipv6.isLinkLocal() && !config_.learn_ipv6_link_local) {
    bump(stats_.link_local_skipped);
    return LearnOutcome::kLinkLocalSkipped;
  }
  const LearnOutcome outcome = learn(p, b, parsed.source, now, now);
  switch (outcome) {
    case LearnOutcome::kLearned:
      bump(stats_.learned);
      break;
    case LearnOutcome::kMoved:
      bump(stats_.moved);
      break;
    default:
      bump(stats_.refreshed);
      break;
  }
  return outcome;
}

LearnOutcome AddressLearner::learn(Port& port, const AddressBinding& binding, AddressSource source,
                                   TimePoint first_seen, TimePoint last_seen) {
  for (LearnedAddress& e : port.entries) {
    if (!sameAddress(e.binding, binding)) continue;
    // Never move an entry back in time (restore() may hand in older data).
    if (last_seen < e.last_seen) return LearnOutcome::kRefreshed;
    const bool moved = e.binding.mac != binding.mac;
    e.binding.mac = binding.mac;
    e.source = source;
    e.last_seen = last_seen;
    return moved ? LearnOutcome::kMoved : LearnOutcome::kRefreshed;
  }
  if (port.entries.size() >= config_.max_addresses_per_port) {
    auto oldest = std::min_element(
        port.entries.begin(), port.entries.end(),
        [](const LearnedAddress& a, const LearnedAddress& b) { return a.last_seen < b.last_seen; });
    *oldest = port.entries.back();
    port.entries.pop_back();
    bump(stats_.evicted);
  }
  port.entries.push_back(LearnedAddress{binding, source, first_seen, last_seen});
  next_expiry_ = std::min(next_expiry_, last_seen + config_.max_age);
  return LearnOutcome::kLearned;
}

void AddressLearner::expire(TimePoint now) {
  TimePoint next = kNever;
  for (auto& [index, port] : ports_) {
    const size_t before = port.entries.size();
    std::erase_if(port.entries,
                  [&](const LearnedAddress& e) { return e.last_seen + config_.max_age <= now; });
    bump(stats_.aged_out, before - port.entries.size());
    for (const LearnedAddress& e : port.entries)
      next = std::min(next, e.last_seen + config_.max_age);
  }
  next_expiry_ = next;
}

std::vector<LearnedAddress> AddressLearner::addresses(PortIndex port) const {
  auto it = ports_.find(port);
  if (it == ports_.end()) return {};
  std::vector<LearnedAddress> out = it->second.entries;
  std::sort(out.begin(), out.end(), [](const LearnedAddress& a, const LearnedAddress& b) {
    return a.last_seen > b.last_seen;
  });
  return out;
}

std::vector<PortAddresses> AddressLearner::snapshot() const {
  std::vector<PortAddresses> out;
  out.reserve(ports_.size());
  for (const auto& [index, port] : ports_)
    out.push_back(PortAddresses{index, port.allowed, addresses(index)});
  std::sort(out.begin(), out.end(),
            [](const PortAddresses& a, const PortAddresses& b) { return a.port < b.port; });
  return out;
}

Status AddressLearner::restore(PortIndex port, std::span<const LearnedAddress> entries,
                               TimePoint now) {
  auto it = ports_.find(port);
  if (it == ports_.end()) return notFound(fmt::format("port {} is not known", port));
  Port& p = it->second;
  // Validate everything before changing anything.
  for (size_t i = 0; i < entries.size(); ++i) {
    const LearnedAddress& e = entries[i];
    const AddressBinding& b = e.binding;
    const std::string at = fmt::format("entries[{}]", i);
    if (!allowed(p, b.mac))
      return invalidArgument(
          fmt::format("{}.binding.mac: {} is not allowed on port {}", at, b.mac.toString(), port));
    VFO_RETURN_IF_ERROR(checkVlan(b.vlan, at + ".binding.vlan"));
    if (b.family == IpFamily::kIpv4) {
      VFO_RETURN_IF_ERROR(checkHostAddress(b.ipv4, at + ".binding.ipv4"));
    } else if (b.family == IpFamily::kIpv6) {
      VFO_RETURN_IF_ERROR(checkHostAddress(b.ipv6, at + ".binding.ipv6"));
    } else {
      return invalidArgument(at + ".binding.family: neither IPv4 nor IPv6");
    }
    if (e.last_seen > now || e.first_seen > e.last_seen)
      return invalidArgument(at + ": want first_seen <= last_seen <= now");
    for (size_t j = 0; j < i; ++j)
      if (sameAddress(entries[j].binding, b))
        return invalidArgument(
            fmt::format("{}: vlan {} {} repeats entries[{}]", at, b.vlan, addressText(b), j));
  }
  // Oldest first, so that when the cap bites the most recent survive.
  std::vector<const LearnedAddress*> order;
  for (const LearnedAddress& e : entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->last_seen < b->last_seen; });
  for (const LearnedAddress* e : order) {
    if (e->last_seen + config_.max_age <= now) {
      bump(stats_.aged_out);
      continue;
    }
    learn(p, e->binding, e->source, e->first_seen, e->last_seen);
    bump(stats_.restored);
  }
  return okStatus();
}

}  // namespace vfo::lag
