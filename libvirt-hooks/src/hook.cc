#include "vfo/hooks/hook.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <thread>

namespace vfo::hooks {

namespace {

std::string portIdFor(const std::string& socket_path) {
  std::string name = socket_path.substr(socket_path.find_last_of('/') + 1);
  const std::string ext = ".sock";
  if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
    name.resize(name.size() - ext.size());
  return name;
}

// The socket is served: a guest can connect. A detached port (the guest
// stopped, `release` did not delete it, e.g. vfod was down then) is ready too.
bool ready(HookPortState s) {
  return s == HookPortState::kWaiting || s == HookPortState::kActive ||
         s == HookPortState::kDegraded || s == HookPortState::kIncoming ||
         s == HookPortState::kDetached;
}

class Runner {
 public:
  Runner(const std::vector<std::string>& args, const std::string& xml, VfodClient& vfod,
         const HookConfig& config)
      : args_(args), xml_(xml), vfod_(vfod), config_(config) {}

  HookResult run() {
    if (args_.size() < 3) {
      // libvirt always passes four; anything else is not a libvirt call.
      return fail("usage: vfo <domain> <operation> <sub-operation> [extra] (domain XML on stdin)");
    }
    const std::string& op = args_[1];
    const std::string& sub = args_[2];
    if (op == "prepare" && sub == "begin") return prepare();
    if ((op == "start" || op == "started") && sub == "begin") return recordOwner();
    if (op == "stopped" && sub == "end") return stopped();
    if (op == "release" && sub == "end") return release();
    if (op == "migrate" && sub == "begin") return filter(/*incoming=*/true);
    if (op == "restore" && sub == "begin") return filter(/*incoming=*/false);
    if (op == "reconnect" && sub == "begin") return reconnect();
    return result_;  // not ours: exit 0, nothing done
  }

 private:
  HookResult fail(std::string reason) {
    result_.exit_code = 1;
    result_.errors.push_back("vfo: " + std::move(reason));
    return result_;
  }
  void log(std::string line) { result_.log.push_back(std::move(line)); }

  // Parses the XML; on error fills result_ and returns false.
  bool parse() {
    auto d = parseDomainXml(xml_, config_.xml);
    if (!d.isOk()) {
      fail(fmt::format("domain {}: {}", args_[0], d.status().message()));
      return false;
    }
    domain_ = std::move(*d);
    return true;
  }

  // Creates every port; on failure deletes the ones this run created.
  Status createAll(bool incoming, std::vector<std::string>* created_ids) {
    for (const auto& spec : portSpecsFor(domain_, incoming)) {
      bool created = false;
      Status s = vfod_.createPort(spec, &created);
      if (!s.isOk()) {
        for (auto it = created_ids->rbegin(); it != created_ids->rend(); ++it) {
          Status u = vfod_.deletePort(*it);
          if (!u.isOk() && u.code() != StatusCode::kNotFound)
            log(fmt::format("port {}: undo failed: {}", *it, u.toString()));
        }
        created_ids->clear();
        return s.withContext(fmt::format("port {} ({})", spec.port_id, spec.mac.toString()));
      }
      if (created) created_ids->push_back(spec.port_id);
    }
    return okStatus();
  }

  HookResult prepare() {
    if (!parse()) return result_;
    if (domain_.interfaces.empty()) return result_;
    std::vector<std::string> created;
    Status s = createAll(/*incoming=*/false, &created);
    if (!s.isOk()) {
      if (s.code() == StatusCode::kUnavailable)
        return fail(
            fmt::format("vfod is not reachable, cannot create {}: {}", args_[0], s.message()));
      return fail(s.toString());
    }
    // Wait until vfod reports every socket ready (bounded).
    auto waited = std::chrono::milliseconds(0);
    for (const auto& spec : portSpecsFor(domain_, false)) {
      for (;;) {
        auto st = vfod_.portState(spec.port_id);
        bool file_ok = spec.role == VhostRole::kVfodClient || !config_.socket_exists ||
                       config_.socket_exists(spec.socket_path);
        if (st.isOk() && ready(*st) && file_ok) break;
        if (waited >= config_.ready_timeout) {
          for (const auto& id : created) (void)vfod_.deletePort(id);
          return fail(
              fmt::format("port {}: socket {} not ready after {} ms ({})", spec.port_id,
                          spec.socket_path, config_.ready_timeout.count(),
                          st.isOk() ? "vfod reports it not ready" : st.status().toString()));
        }
        if (config_.sleep) config_.sleep(config_.ready_poll);
        waited += config_.ready_poll;
      }
    }
    for (const auto& i : domain_.interfaces)
      log(fmt::format("port {} ready on {}", portIdFor(i.socket_path), i.socket_path));
    return result_;
  }

  // prepare already recorded the owner on the ports it created; here a vfod
  // that is down or slow is logged, not an error (failing would abort a start
  // whose ports are ready). A port that is missing or refuses the owner is
  // an error: the VM would not work.
  HookResult recordOwner() {
    if (!parse()) return result_;
    for (const auto& spec : portSpecsFor(domain_, false)) {
      Status s = vfod_.setOwner(spec.port_id, domain_.name, domain_.uuid);
      if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) {
        log(
            fmt::format("{} {}: owner of port {} not recorded ({}); the port works, and "
                        "release still deletes it",
                        args_[1], args_[2], spec.port_id, s.message()));
        continue;
      }
      if (!s.isOk()) return fail(s.withContext("port " + spec.port_id).toString());
    }
    return result_;
  }

  // stopped and release must not fail a VM's shutdown: vfod being down or
  // the port being gone is logged, not an error.
  HookResult stopped() {
    if (!parse()) {
      // Cannot know the ports; nothing to undo. Report but do not fail.
      result_.exit_code = 0;
      log("stopped: " + result_.errors.back());
      result_.errors.clear();
      return result_;
    }
    for (const auto& spec : portSpecsFor(domain_, false)) {
      Status s = vfod_.markDetached(spec.port_id);
      if (!s.isOk()) log(fmt::format("port {}: mark detached: {}", spec.port_id, s.toString()));
    }
    return result_;
  }

  HookResult release() {
    if (!parse()) {
      result_.exit_code = 0;
      log("release: " + result_.errors.back());
      result_.errors.clear();
      return result_;
    }
    for (const auto& spec : portSpecsFor(domain_, false)) {
      Status s = vfod_.deletePort(spec.port_id);
      if (s.isOk())
        log(fmt::format("port {} deleted", spec.port_id));
      else if (s.code() == StatusCode::kNotFound)
        log(fmt::format("port {} already gone", spec.port_id));
      else
        log(fmt::format(
            "port {}: delete: {}; the port stays until vfod's libvirt reconciliation removes it "
            "(when on) or `vfoctl port delete {}`",
            spec.port_id, s.toString(), spec.port_id));
    }
    return result_;
  }

  HookResult filter(bool incoming) {
    if (!parse()) return result_;
    std::vector<std::string> created;
    Status s = createAll(incoming, &created);
    if (!s.isOk()) return fail(s.toString());
    result_.out = xml_;  // a filter writes the XML back byte for byte
    return result_;
  }

  HookResult reconnect() {
    if (!parse()) {
      // The VM is running; a parse problem here does not stop it working.
      result_.exit_code = 0;
      log("reconnect: " + result_.errors.back());
      result_.errors.clear();
      return result_;
    }
    std::vector<std::string> created;
    Status s = createAll(false, &created);
    if (s.isOk()) return result_;
    if (s.code() == StatusCode::kAlreadyExists || s.code() == StatusCode::kResourceExhausted ||
        s.code() == StatusCode::kInvalidArgument)
      return fail(fmt::format("the running domain's network cannot work: {}", s.toString()));
    log(fmt::format("reconnect: {} (vfod will recreate the ports when it is back)", s.toString()));
    return result_;
  }

  const std::vector<std::string>& args_;
  const std::string& xml_;
  VfodClient& vfod_;
  const HookConfig& config_;
  DomainInfo domain_;
  HookResult result_;
};

}  // namespace

std::vector<HookPortSpec> portSpecsFor(const DomainInfo& domain, bool incoming) {
  std::vector<HookPortSpec> out;
  for (const auto& i : domain.interfaces) {
    HookPortSpec s;
    s.port_id = portIdFor(i.socket_path);
    s.socket_path = i.socket_path;
    s.role = i.role;
    s.mac = i.mac;
    s.allowed_macs = i.allowed_macs;
    s.vlan = i.vlan;
    s.queues = i.queues;
    s.lag_pin = i.lag_pin;
    s.domain_name = domain.name;
    s.domain_uuid = domain.uuid;
    s.incoming_migration = incoming;
    out.push_back(std::move(s));
  }
  return out;
}

HookResult runHook(const std::vector<std::string>& args, const std::string& xml, VfodClient& vfod,
                   const HookConfig& config) {
  return Runner(args, xml, vfod, config).run();
}

}  // namespace vfo::hooks
