// LibvirtDomainSource: the running domains from libvirt's C API, read-only.
//
//  - Connection: virConnectOpenReadOnly(uri) on demand from listRunning();
//    keepalive (interval/count below) so a hung or vanished libvirtd closes
//    the connection; a close callback and virConnectIsAlive() drop a dead
//    connection, and the next listRunning() reconnects. How often that is
//    tried is the caller's backoff (ReconcileService). A missing or stopped
//    libvirtd is UNAVAILABLE, never a crash or a hang.
//  - Events: VIR_DOMAIN_EVENT_ID_LIFECYCLE on every connection; each event
//    and each connection loss calls the change callback.
//  - Event loop: libvirt's default implementation (virEventRegisterDefaultImpl,
//    once per process) run by one process-wide thread (virEventRunDefaultImpl)
//    while at least one source is started.
//  - libvirt's default error printing to stderr is replaced by a silent
//    handler (process-wide): errors reach the log through Status messages.
//
// Threads: listRunning() from one thread at a time; the change callback runs
// on the event loop thread and never after stop() returned.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "vfo/hooks/domain_source.h"

typedef struct _virConnect virConnect;

namespace vfo::hooks {

struct LibvirtDomainSourceOptions {
  std::string uri = "qemu:///system";  // read-only connection target
  int keepalive_interval_s = 5;        // seconds between keepalive probes (<= 0: keepalive off)
  unsigned keepalive_count = 3;        // unanswered probes before the connection is closed
};

class LibvirtDomainSource final : public DomainSource {
 public:
  explicit LibvirtDomainSource(LibvirtDomainSourceOptions options = {});
  ~LibvirtDomainSource() override;  // stop()

  void setChangeCallback(ChangeCallback cb) override;
  // Starts (or joins) the process-wide event loop thread. Does not connect.
  Status start() override;
  // Closes the connection, disables callbacks, releases the event loop.
  void stop() override;
  // FAILED_PRECONDITION before start(); UNAVAILABLE "libvirt <uri>: ..."
  // when the connection cannot be opened or a listing fails.
  StatusOr<std::vector<DomainRecord>> listRunning() override;

  // Connections opened so far (tests: each reconnect attempt counts when it
  // succeeds; attempts() counts every try).
  uint64_t connects() const;
  uint64_t attempts() const;

  // Shared with libvirt's callbacks (they may outlive a registration).
  struct Shared;

 private:
  Status connectLocked();
  void dropLocked();

  const LibvirtDomainSourceOptions options_;
  std::shared_ptr<Shared> shared_;
  mutable std::mutex mu_;  // guards the fields below
  bool started_ = false;
  virConnect* conn_ = nullptr;
  int lifecycle_id_ = -1;  // virConnectDomainEventRegisterAny id, -1 = none
  bool close_cb_registered_ = false;
  uint64_t connects_ = 0;
  uint64_t attempts_ = 0;
};

}  // namespace vfo::hooks
