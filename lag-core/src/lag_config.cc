#include "vfo/lag/lag_config.h"

#include <fmt/format.h>

#include <set>

namespace vfo::lag {

namespace {

Status checkDelay(std::string_view field, Duration d) {
  if (d < Duration::zero())
    return invalidArgument(fmt::format("{}: {} ns is negative", field, d.count()));
  if (d > kMaxDelay)
    return invalidArgument(fmt::format("{}: {} is longer than the maximum of {}", field,
                                       formatDuration(d), formatDuration(kMaxDelay)));
  return okStatus();
}

Status checkName(std::string_view field, std::string_view name, size_t max_len) {
  if (name.empty()) return invalidArgument(fmt::format("{}: is empty", field));
  if (name.size() > max_len)
    return invalidArgument(fmt::format("{}: '{}' is {} characters, longer than the maximum of {}",
                                       field, name, name.size(), max_len));
  for (char c : name) {
    if (c == '/' || c == ' ' || c == '\t' || c == '\n' || c == ':' || c == '\0')
      return invalidArgument(
          fmt::format("{}: '{}' contains a '/', ':', NUL or whitespace character", field, name));
  }
  return okStatus();
}

}  // namespace

Status LagConfig::validate() const {
  VFO_RETURN_IF_ERROR(checkName("name", name, kMaxPortNameLen));
  if (members.empty()) return invalidArgument("members: at least one member is required");
  if (members.size() > kMaxMembers)
    return invalidArgument(fmt::format("members: {} members configured, the maximum is {}",
                                       members.size(), kMaxMembers));
  std::set<std::string_view> seen;
  for (size_t i = 0; i < members.size(); ++i) {
    const MemberConfig& m = members[i];
    VFO_RETURN_IF_ERROR(checkName(fmt::format("members[{}].name", i), m.name, kMaxMemberNameLen));
    if (!seen.insert(m.name).second)
      return invalidArgument(
          fmt::format("members[{}].name: '{}' is already used by another member", i, m.name));
  }
  if (primary) {
    if (mode != LagMode::kActiveBackup)
      return invalidArgument(
          fmt::format("primary: only valid in mode active-backup, not {}", lagModeName(mode)));
    if (!seen.count(*primary))
      return invalidArgument(fmt::format("primary: '{}' is not one of the members", *primary));
  }
  if (mode == LagMode::kActiveBackup && primary && failback &&
      primary_reselect == PrimaryReselect::kBetter) {
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i].speed_mbps == 0)
        return invalidArgument(
            fmt::format("members[{}].speed_mbps: must be set (> 0) when primary_reselect is "
                        "better",
                        i));
    }
  }
  VFO_RETURN_IF_ERROR(checkDelay("updelay", updelay));
  VFO_RETURN_IF_ERROR(checkDelay("downdelay", downdelay));
  if (vm_failback_delay) VFO_RETURN_IF_ERROR(checkDelay("vm_failback_delay", *vm_failback_delay));
  return okStatus();
}

std::string_view lagModeName(LagMode mode) {
  switch (mode) {
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

StatusOr<LagMode> parseLagMode(std::string_view text) {
  for (LagMode m : {LagMode::kActiveBackup, LagMode::kBalanceVm, LagMode::kBalanceFlow,
                    LagMode::kFollowKernelBond})
    if (text == lagModeName(m)) return m;
  return invalidArgument(fmt::format(
      "mode: '{}' is not one of active-backup, balance-vm, balance-flow, follow-kernel-bond",
      text));
}

std::string_view primaryReselectName(PrimaryReselect r) {
  switch (r) {
    case PrimaryReselect::kAlways:
      return "always";
    case PrimaryReselect::kBetter:
      return "better";
    case PrimaryReselect::kFailure:
      return "failure";
  }
  return "?";
}

StatusOr<PrimaryReselect> parsePrimaryReselect(std::string_view text) {
  for (PrimaryReselect r :
       {PrimaryReselect::kAlways, PrimaryReselect::kBetter, PrimaryReselect::kFailure})
    if (text == primaryReselectName(r)) return r;
  return invalidArgument(
      fmt::format("primary_reselect: '{}' is not one of always, better, failure", text));
}

std::string_view hashPolicyName(HashPolicy p) {
  switch (p) {
    case HashPolicy::kLayer2:
      return "layer2";
    case HashPolicy::kLayer23:
      return "layer2+3";
    case HashPolicy::kLayer34:
      return "layer3+4";
    case HashPolicy::kEncap23:
      return "encap2+3";
    case HashPolicy::kEncap34:
      return "encap3+4";
  }
  return "?";
}

StatusOr<HashPolicy> parseHashPolicy(std::string_view text) {
  for (HashPolicy p : {HashPolicy::kLayer2, HashPolicy::kLayer23, HashPolicy::kLayer34,
                       HashPolicy::kEncap23, HashPolicy::kEncap34})
    if (text == hashPolicyName(p)) return p;
  return invalidArgument(fmt::format(
      "hash_policy: '{}' is not one of layer2, layer2+3, layer3+4, encap2+3, encap3+4", text));
}

std::string formatDuration(Duration d) {
  const int64_t ns = d.count();
  if (ns % 1'000'000'000 == 0 && ns != 0) return fmt::format("{} s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{} ms", ns / 1'000'000);
  // Sub-millisecond remainder: up to 6 decimals, trailing zeros trimmed.
  std::string s = fmt::format("{:.6f}", double(ns) / 1e6);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + " ms";
}

}  // namespace vfo::lag
