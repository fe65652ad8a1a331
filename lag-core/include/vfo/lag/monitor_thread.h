// How the kernel-facing monitors are driven.
//
// A PolledMonitor lives in an event loop (vfod's control-thread epoll): the
// loop polls fd() for readability and calls onReadable(now), and calls
// onTick(now) once nextDeadline() has passed. All callbacks of a monitor run
// inside those two calls, on the loop's thread.
//
// MonitorThread is the convenience runner for tests and tools: one thread,
// poll(2) on the monitor's fd plus a wake-up eventfd, deadlines from
// nextDeadline().
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "vfo/base/clock.h"
#include "vfo/base/status.h"

namespace vfo::lag {

class PolledMonitor {
 public:
  virtual ~PolledMonitor() = default;
  // Descriptor to poll for readability; -1 when there is none (polling only).
  virtual int fd() const = 0;
  // Drains everything readable now. A non-OK status is a socket failure the
  // owner must handle (typically: log, recreate the monitor).
  virtual Status onReadable(TimePoint now) = 0;
  // Earliest time onTick() has work; kNever if none.
  virtual TimePoint nextDeadline() const = 0;
  virtual Status onTick(TimePoint now) = 0;
};

class MonitorThread {
 public:
  // `monitor` must be started (its own start()) before start() here, and
  // outlive this object.
  MonitorThread(PolledMonitor& monitor, const Clock& clock);
  ~MonitorThread();  // stop()
  MonitorThread(const MonitorThread&) = delete;
  MonitorThread& operator=(const MonitorThread&) = delete;

  // Starts the loop thread. INTERNAL if the wake-up eventfd cannot be made.
  Status start();
  // Stops and joins; idempotent.
  void stop();
  // First non-OK status the monitor returned (the loop stops on it).
  Status error() const;

 private:
  void loop();

  PolledMonitor& monitor_;
  const Clock& clock_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  Status error_;
};

}  // namespace vfo::lag
