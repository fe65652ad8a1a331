// The two narrow interfaces the reconciliation service talks through:
// DomainSource (libvirt, read-only) and PortControl (vfod's own ports).
// Production: LibvirtDomainSource (libvirt_domain_source.h) and a
// PortControl that vfod implements over its API backend; tests use fakes.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/status.h"
#include "vfo/hooks/hook.h"

namespace vfo::hooks {

// One active domain as libvirt reports it.
struct DomainRecord {
  std::string name;       // domain name
  std::string uuid;       // canonical UUID text
  std::string xml;        // live XML (virDomainGetXMLDesc, flags 0); empty if xml_error is set
  std::string xml_error;  // why the XML could not be fetched; the domain still runs
  bool incoming = false;  // paused waiting for an incoming migration
};

// Where the running domains come from.
//
// Contract: listRunning() is called from one thread (the service's);
// the change callback is invoked from the source's own thread and must only
// wake the caller up (no blocking, no calls back into the source).
class DomainSource {
 public:
  virtual ~DomainSource() = default;

  // `why` is a short text for the log ("domain vm1 stopped (destroyed)",
  // "libvirt connection closed"). Set before start(); may be empty.
  using ChangeCallback = std::function<void(std::string_view why)>;
  virtual void setChangeCallback(ChangeCallback cb) = 0;

  // Starts whatever the source needs to deliver change callbacks (threads).
  // Does not require libvirt to be reachable.
  virtual Status start() = 0;
  // Stops and joins; no callback runs after it returns. Idempotent.
  virtual void stop() = 0;

  // Every active domain now. Connects when not connected; UNAVAILABLE (with
  // the reason) when libvirt cannot be reached, in which case the caller
  // retries later. A domain that vanishes during the listing is left out.
  virtual StatusOr<std::vector<DomainRecord>> listRunning() = 0;
};

// vfod's ports as the reconciler needs them. vfod implements it over the
// same path as the ops API (so created ports are persisted like API ports).
//
// Contract: every call has a deadline; called from the service thread only.
class PortControl {
 public:
  virtual ~PortControl() = default;
  // Every port vfod has; domain_name/domain_uuid carry the recorded owner
  // (empty for operator or config ports).
  virtual StatusOr<std::vector<HookPortSpec>> listPorts() = 0;
  // Creates the port (idempotent: OK when it exists with the same spec;
  // ALREADY_EXISTS when it exists with another).
  virtual Status createPort(const HookPortSpec& spec) = 0;
  // Deletes the port; NOT_FOUND when absent.
  virtual Status deletePort(const std::string& port_id) = 0;
};

}  // namespace vfo::hooks
