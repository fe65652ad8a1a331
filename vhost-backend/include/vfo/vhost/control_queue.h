// ControlQueue: how other threads (gRPC handlers, the libvirt watcher) run
// work on vfod's control thread, which owns PortManager and LagController.
//
// call(fn) queues `fn`, wakes the control loop through an eventfd and blocks
// until the control thread has run it (runPending()), returning fn's
// result. Called on the control thread itself, it runs fn inline (so code
// shared with start-up, such as the API's restore, needs no special path).
// After close(), queued and new calls return UNAVAILABLE without running.
//
// Threads: call() from any thread; fd(), runPending() and close() from the
// control thread. fn must not block on another call().
#pragma once

#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "vfo/base/status.h"

namespace vfo::vhost {

class ControlQueue {
 public:
  // The constructing thread is the control thread. Aborts if no eventfd
  // can be made (out of file descriptors at start-up).
  ControlQueue();
  ~ControlQueue();  // close()
  ControlQueue(const ControlQueue&) = delete;
  ControlQueue& operator=(const ControlQueue&) = delete;

  // Readable while work is queued (poll it in the control loop).
  int fd() const { return fd_; }

  // Runs every queued task; returns how many ran.
  size_t runPending();

  // Refuses further calls; queued ones get UNAVAILABLE. Idempotent.
  void close();

  bool onControlThread() const { return std::this_thread::get_id() == owner_; }

  // Runs fn on the control thread and returns its result. F returns Status
  // or StatusOr<T>.
  template <class F>
  auto call(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    if (onControlThread()) return fn();
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    std::future<R> result = task->get_future();
    // The queue holds the only reference: dropping it at close() breaks the
    // promise, which wakes this caller.
    if (!post([task = std::move(task)]() { (*task)(); })) return R(unavailable("vfod is stopping"));
    try {
      return result.get();
    } catch (const std::future_error&) {
      return R(unavailable("vfod is stopping"));
    }
  }

 private:
  bool post(std::function<void()> run);

  int fd_ = -1;
  std::thread::id owner_;
  std::mutex mu_;
  std::deque<std::function<void()>> items_;  // guarded by mu_
  bool closed_ = false;                      // guarded by mu_
};

}  // namespace vfo::vhost
