// The libvirt qemu hook's behaviour, independent of how it talks to vfod.
//
// libvirt runs `vfo <domain> <operation> <sub-operation> <extra>` with the
// domain XML on stdin. runHook() decides what to do for each operation and
// returns the exit code, the bytes for stdout (filters) and one-line
// messages for stderr. It never calls back into libvirt (that deadlocks
// libvirtd) and every vfod call has a deadline.
//
//   prepare begin          create every port (idempotent), wait until vfod has
//                          the socket ready; failure aborts the start and undoes
//                          ports this run created
//   start/started begin    record the owning domain (name, UUID) on the ports
//   stopped end            mark the ports detached (vfod down: success, logged)
//   release end            delete the ports (missing: success; vfod down: success, logged)
//   migrate begin          filter: XML back on stdout unchanged; ports created
//                          in the incoming-migration state
//   restore begin          filter: XML back unchanged; ports ensured
//   reconnect begin        ports ensured; fails only when the VM cannot work
//                          (a conflicting port owns its socket or MAC, no free VF)
//   anything else          exit 0
//
// Port ids are the socket file name without ".sock": stable across libvirt
// restarts and migrations, unique in the socket directory.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "vfo/api/types.h"
#include "vfo/base/status.h"
#include "vfo/hooks/domain_xml.h"

namespace vfo::hooks {

// What the hook asks vfod to create.
struct HookPortSpec {
  std::string port_id;      // socket file name without ".sock"
  std::string socket_path;  // absolute, inside the socket directory
  VhostRole role = VhostRole::kVfodServer;
  MacAddress mac;                        // guest MAC
  std::vector<MacAddress> allowed_macs;  // extra source MACs
  uint16_t vlan = 0;                     // 0 = untagged
  uint32_t queues = 1;                   // queue pairs
  std::string lag_pin;                   // member name or empty
  std::string domain_name;               // owning domain
  std::string domain_uuid;
  bool incoming_migration = false;  // create in the incoming state
};

// Port states: the API's (vfo/api/types.h), as the client reports them.
using HookPortState = api::PortState;

// vfod as the hook sees it. Implementations put a deadline on every call
// and return UNAVAILABLE when vfod cannot be reached.
class VfodClient {
 public:
  virtual ~VfodClient() = default;
  // Idempotent: OK if the port exists with the same spec, ALREADY_EXISTS if
  // it exists with another one. Reports whether this call created it.
  virtual Status createPort(const HookPortSpec& spec, bool* created) = 0;
  virtual Status deletePort(const std::string& port_id) = 0;  // NOT_FOUND when absent
  virtual StatusOr<HookPortState> portState(const std::string& port_id) = 0;
  virtual Status setOwner(const std::string& port_id, const std::string& domain_name,
                          const std::string& domain_uuid) = 0;
  virtual Status markDetached(const std::string& port_id) = 0;
};

struct HookConfig {
  DomainXmlLimits xml;  // socket directory and size limits
  // prepare: how long to wait for vfod to report the socket ready.
  std::chrono::milliseconds ready_timeout{3000};
  std::chrono::milliseconds ready_poll{20};
  // Waits between readiness polls. Injected so tests run without sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Checks that the socket file exists (vfod-server role). Injected for tests.
  std::function<bool(const std::string&)> socket_exists;
};

struct HookResult {
  int exit_code = 0;                // what the process exits with
  std::string out;                  // bytes for stdout (filters write the XML back)
  std::vector<std::string> errors;  // one-line reasons for stderr (libvirt shows them)
  std::vector<std::string> log;     // informational lines for the log
};

// argv as libvirt passes it, without argv[0]: {domain, operation, sub-op, extra}.
HookResult runHook(const std::vector<std::string>& args, const std::string& xml, VfodClient& vfod,
                   const HookConfig& config);

// The port specs for a parsed domain.
std::vector<HookPortSpec> portSpecsFor(const DomainInfo& domain, bool incoming);

}  // namespace vfo::hooks
