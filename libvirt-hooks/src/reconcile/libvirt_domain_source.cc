#include "vfo/hooks/libvirt_domain_source.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "vfo/base/log.h"

namespace vfo::hooks {

namespace {

const Logger kLog("reconcile");

void silentErrorHandler(void*, virErrorPtr) {}

std::string lastError() {
  const char* m = virGetLastErrorMessage();
  return m ? m : "unknown libvirt error";
}

// libvirt's process-wide initialisation and its default event loop, run by
// one thread while at least one source is started.
class EventLoop {
 public:
  static EventLoop& instance() {
    static EventLoop* loop = new EventLoop();  // never destroyed: libvirt keeps global state
    return *loop;
  }

  Status acquire() {
    std::lock_guard lock(mu_);
    std::call_once(init_once_, [this] {
      if (virInitialize() < 0) {
        init_status_ = unavailable("libvirt: virInitialize failed: " + lastError());
        return;
      }
      virSetErrorFunc(nullptr, silentErrorHandler);
      if (virEventRegisterDefaultImpl() < 0)
        init_status_ = unavailable("libvirt: virEventRegisterDefaultImpl failed: " + lastError());
    });
    VFO_RETURN_IF_ERROR(init_status_);
    if (users_++ == 0) {
      stop_ = false;
      thread_ = std::thread([this] { run(); });
    }
    return okStatus();
  }

  void release() {
    std::lock_guard lock(mu_);
    if (users_ == 0 || --users_ > 0) return;
    stop_ = true;
    // A zero-period timer fires on the loop's next iteration; adding it
    // wakes the loop up. Its callback removes it again.
    if (virEventAddTimeout(0, &EventLoop::wake, nullptr, nullptr) < 0)
      kLog.error("", "libvirt event loop: cannot add the wake-up timer: {}", lastError());
    thread_.join();
  }

 private:
  static void wake(int timer, void*) { virEventRemoveTimeout(timer); }

  void run() {
    while (!stop_) {
      if (virEventRunDefaultImpl() < 0) {
        kLog.error("", "libvirt event loop failed: {}; lifecycle events stop", lastError());
        return;
      }
    }
  }

  std::mutex mu_;
  std::once_flag init_once_;
  Status init_status_;
  int users_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string_view lifecycleName(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      return "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED:
      return "undefined";
    case VIR_DOMAIN_EVENT_STARTED:
      return "started";
    case VIR_DOMAIN_EVENT_SUSPENDED:
      return "suspended";
    case VIR_DOMAIN_EVENT_RESUMED:
      return "resumed";
    case VIR_DOMAIN_EVENT_STOPPED:
      return "stopped";
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      return "shutdown";
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
      return "pmsuspended";
    case VIR_DOMAIN_EVENT_CRASHED:
      return "crashed";
    default:
      return "changed";
  }
}

std::string_view closeReasonName(int reason) {
  switch (reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR:
      return "error";
    case VIR_CONNECT_CLOSE_REASON_EOF:
      return "end of file";
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
      return "keepalive timeout";
    case VIR_CONNECT_CLOSE_REASON_CLIENT:
      return "closed by client";
    default:
      return "unknown reason";
  }
}

}  // namespace

struct LibvirtDomainSource::Shared {
  std::mutex mu;                    // guards cb and enabled
  ChangeCallback cb;                // the service's wake-up
  bool enabled = false;             // false after stop(): callbacks are dropped
  std::atomic<bool> closed{false};  // libvirt closed the current connection

  void notify(std::string_view why) {
    std::lock_guard lock(mu);
    if (enabled && cb) cb(why);
  }
};

namespace {

using SharedPtr = std::shared_ptr<LibvirtDomainSource::Shared>;

void freeShared(void* opaque) {
  delete static_cast<SharedPtr*>(opaque);
}

int onLifecycle(virConnectPtr, virDomainPtr dom, int event, int, void* opaque) {
  const char* name = virDomainGetName(dom);
  (*static_cast<SharedPtr*>(opaque))
      ->notify(fmt::format("domain {} {}", name ? name : "?", lifecycleName(event)));
  return 0;
}

void onClose(virConnectPtr, int reason, void* opaque) {
  auto* shared = static_cast<LibvirtDomainSource::Shared*>(opaque);
  shared->closed = true;
  shared->notify(fmt::format("libvirt connection closed ({})", closeReasonName(reason)));
}

}  // namespace

LibvirtDomainSource::LibvirtDomainSource(LibvirtDomainSourceOptions options)
    : options_(std::move(options)), shared_(std::make_shared<Shared>()) {}

LibvirtDomainSource::~LibvirtDomainSource() {
  stop();
}

void LibvirtDomainSource::setChangeCallback(ChangeCallback cb) {
  std::lock_guard lock(shared_->mu);
  shared_->cb = std::move(cb);
}

Status LibvirtDomainSource::start() {
  std::lock_guard lock(mu_);
  if (started_) return failedPrecondition("libvirt domain source already started");
  VFO_RETURN_IF_ERROR(EventLoop::instance().acquire());
  {
    std::lock_guard l(shared_->mu);
    shared_->enabled = true;
  }
  started_ = true;
  return okStatus();
}

void LibvirtDomainSource::stop() {
  std::lock_guard lock(mu_);
  if (!started_) return;
  {
    std::lock_guard l(shared_->mu);
    shared_->enabled = false;  // no callback reaches the owner from now on
  }
  dropLocked();
  EventLoop::instance().release();
  started_ = false;
}

uint64_t LibvirtDomainSource::connects() const {
  std::lock_guard lock(mu_);
  return connects_;
}

uint64_t LibvirtDomainSource::attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

Status LibvirtDomainSource::connectLocked() {
  ++attempts_;
  shared_->closed = false;
  virConnectPtr c = virConnectOpenReadOnly(options_.uri.c_str());
  if (!c) return unavailable(fmt::format("libvirt {}: {}", options_.uri, lastError()));
  if (options_.keepalive_interval_s > 0 &&
      virConnectSetKeepAlive(c, options_.keepalive_interval_s, options_.keepalive_count) < 0) {
    // Local drivers (test:///) have no keepalive; remote ones do.
    kLog.debug("", "libvirt {}: no keepalive: {}", options_.uri, lastError());
  }
  // libvirt owns the opaque (and calls freeShared) only once a registration
  // succeeded; a failed one leaves it to us.
  auto* lifecycle_opaque = new SharedPtr(shared_);
  int id = virConnectDomainEventRegisterAny(c, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(onLifecycle),
                                            lifecycle_opaque, freeShared);
  if (id < 0) {
    delete lifecycle_opaque;
    Status s = unavailable(fmt::format("libvirt {}: cannot register for lifecycle events: {}",
                                       options_.uri, lastError()));
    virConnectClose(c);
    return s;
  }
  // The close callback gets a plain pointer and no free function: libvirt's
  // local drivers accept the registration but never call the free function
  // (seen with test:///, libvirt 9.0). Shared outlives the registration: it
  // belongs to this source, and stop() unregisters before it can go.
  if (virConnectRegisterCloseCallback(c, onClose, shared_.get(), nullptr) < 0) {
    // Not every driver reports closes; virConnectIsAlive() covers the rest.
    kLog.debug("", "libvirt {}: no close callback: {}", options_.uri, lastError());
    close_cb_registered_ = false;
  } else {
    close_cb_registered_ = true;
  }
  conn_ = c;
  lifecycle_id_ = id;
  ++connects_;
  return okStatus();
}

void LibvirtDomainSource::dropLocked() {
  if (!conn_) return;
  if (lifecycle_id_ >= 0 && virConnectDomainEventDeregisterAny(conn_, lifecycle_id_) < 0)
    kLog.debug("", "libvirt {}: deregistering the lifecycle callback: {}", options_.uri,
               lastError());
  if (close_cb_registered_) virConnectUnregisterCloseCallback(conn_, onClose);
  virConnectClose(conn_);
  conn_ = nullptr;
  lifecycle_id_ = -1;
  close_cb_registered_ = false;
}

StatusOr<std::vector<DomainRecord>> LibvirtDomainSource::listRunning() {
  std::lock_guard lock(mu_);
  if (!started_) return failedPrecondition("libvirt domain source: listRunning before start");
  if (conn_ && (shared_->closed || virConnectIsAlive(conn_) != 1)) dropLocked();
  if (!conn_) VFO_RETURN_IF_ERROR(connectLocked());

  virDomainPtr* doms = nullptr;
  int n = virConnectListAllDomains(conn_, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) {
    Status s = unavailable(
        fmt::format("libvirt {}: listing domains failed: {}", options_.uri, lastError()));
    dropLocked();  // reconnect on the next call
    return s;
  }
  std::vector<DomainRecord> out;
  for (int i = 0; i < n; ++i) {
    virDomainPtr d = doms[i];
    DomainRecord r;
    const char* name = virDomainGetName(d);
    r.name = name ? name : "";
    char uuid[VIR_UUID_STRING_BUFLEN] = {};
    if (virDomainGetUUIDString(d, uuid) == 0) r.uuid = uuid;
    int state = 0;
    int reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) == 0)
      r.incoming = state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION;
    bool gone = false;
    if (char* xml = virDomainGetXMLDesc(d, 0)) {
      r.xml = xml;
      free(xml);
    } else if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN) {
      gone = true;  // stopped while we listed
    } else {
      r.xml_error = "cannot read the domain XML: " + lastError();
    }
    virDomainFree(d);
    if (!gone) out.push_back(std::move(r));
  }
  free(doms);
  std::sort(out.begin(), out.end(),
            [](const DomainRecord& a, const DomainRecord& b) { return a.name < b.name; });
  return out;
}

}  // namespace vfo::hooks
