// Hand-written fakes of DpdkControl and DatapathControl for PortManager
// tests: they record every call in one ordered log and can be told to fail.
#pragma once

#include <fmt/format.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "vfo/vhost/datapath_port.h"
#include "vfo/vhost/dpdk_control.h"

namespace vfo::vhost::testing {

// One ordered record of calls across both fakes.
struct CallLog {
  std::vector<std::string> calls;
  void add(std::string c) { calls.push_back(std::move(c)); }
};

class FakeDpdkControl : public DpdkControl {
 public:
  explicit FakeDpdkControl(CallLog& log) : log_(log) {}

  // Scripted failures: the n-th openUplink (0-based) fails with the status.
  std::map<int, Status> fail_open;
  Status fail_register;      // non-OK: registerVhostSocket fails
  Status fail_stale_socket;  // non-OK: removeStaleSocket fails
  Status fail_permissions;   // non-OK: setSocketPermissions fails
  // Capabilities every opened uplink reports.
  bool tx_checksum = false, tx_tso = false, tx_multi_segs = true, tx_vlan = true;

  // The handler DPDK would call (for destroy_device inside unregister).
  VhostEventHandler* handler = nullptr;
  std::map<std::string, int> running_devices;  // path -> vid, set by tests

  std::set<uint16_t> open_ports;
  std::map<std::string, VhostSocketRequest> sockets;  // registered, by path
  std::vector<UplinkRequest> open_requests;

  StatusOr<UplinkInfo> openUplink(const UplinkRequest& r) override {
    const int n = open_calls_++;
    log_.add("open " + r.devargs);
    open_requests.push_back(r);
    if (auto it = fail_open.find(n); it != fail_open.end()) return it->second;
    UplinkInfo u;
    u.eth_port = next_port_++;
    u.device_name = r.devargs.substr(0, r.devargs.find(','));
    u.tx_checksum = tx_checksum;
    u.tx_tso = tx_tso;
    u.tx_multi_segs = tx_multi_segs;
    u.tx_vlan_insert = tx_vlan;
    open_ports.insert(u.eth_port);
    return u;
  }
  Status closeUplink(const UplinkInfo& u) override {
    log_.add("close " + u.device_name);
    if (!open_ports.erase(u.eth_port)) return notFound("not open");
    return okStatus();
  }
  Status registerVhostSocket(const VhostSocketRequest& r) override {
    log_.add("register " + r.path);
    if (!fail_register.isOk()) return fail_register;
    if (sockets.count(r.path)) return unavailable("already registered");
    sockets[r.path] = r;
    return okStatus();
  }
  Status unregisterVhostSocket(const std::string& path) override {
    log_.add("unregister " + path);
    if (!sockets.erase(path)) return notFound("not registered");
    // Like rte_vhost_driver_unregister: a running device is destroyed on
    // the caller's thread first.
    if (auto it = running_devices.find(path); it != running_devices.end()) {
      const int vid = it->second;
      running_devices.erase(it);
      if (handler) handler->onDestroyDevice(vid, path);
    }
    return okStatus();
  }
  Status removeStaleSocket(const std::string& path) override {
    log_.add("stale " + path);
    return fail_stale_socket;
  }
  Status setSocketPermissions(const std::string& path, std::optional<uid_t>, std::optional<gid_t>,
                              uint32_t mode) override {
    log_.add(fmt::format("chmod {:o} {}", mode, path));
    return fail_permissions;
  }

 private:
  CallLog& log_;
  int open_calls_ = 0;
  uint16_t next_port_ = 0;
};

class FakeDatapath : public DatapathControl {
 public:
  explicit FakeDatapath(CallLog& log) : log_(log) {}

  std::map<uint64_t, std::unique_ptr<DatapathPort>> ports;
  int quiesces = 0;
  std::vector<std::pair<lag::MemberId, size_t>> sent;  // (member, frame count)
  // Frames sendOnMember still takes; a call beyond it is refused with
  // RESOURCE_EXHAUSTED, as the relay's full command ring does.
  size_t send_room = SIZE_MAX;

  StatusOr<DatapathPort*> addPort(const DatapathPortSpec& spec) override {
    log_.add("dp.add " + spec.id);
    auto p = makeDatapathPort(spec, next_key_++);
    DatapathPort* raw = p.get();
    ports[raw->key] = std::move(p);
    return raw;
  }
  void removePort(DatapathPort* port) override {
    log_.add("dp.remove " + port->id);
    ports.erase(port->key);
  }
  void quiesce() override {
    log_.add("dp.quiesce");
    ++quiesces;
  }
  void replacePolicy(DatapathPort* port, const PortPolicy& policy) override {
    auto next = std::make_unique<const PortPolicy>(policy);
    port->policy.store(next.get());
    port->owned_policy = std::move(next);
  }
  Status sendOnMember(DatapathPort*, lag::MemberId member,
                      const std::vector<std::vector<uint8_t>>& frames) override {
    if (frames.size() > send_room) return resourceExhausted("the command ring is full");
    send_room -= frames.size();
    sent.emplace_back(member, frames.size());
    return okStatus();
  }

 private:
  CallLog& log_;
  uint64_t next_key_ = 1;
};

}  // namespace vfo::vhost::testing
