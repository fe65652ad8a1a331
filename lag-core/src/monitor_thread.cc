#include "vfo/lag/monitor_thread.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace vfo::lag {

MonitorThread::MonitorThread(PolledMonitor& monitor, const Clock& clock)
    : monitor_(monitor), clock_(clock) {}

MonitorThread::~MonitorThread() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status MonitorThread::start() {
  if (thread_.joinable()) return failedPrecondition("monitor thread: already running");
  if (wake_fd_ < 0) {
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) return errnoStatus(errno, "monitor thread eventfd");
  }
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
  return okStatus();
}

void MonitorThread::stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  thread_.join();
}

Status MonitorThread::error() const {
  std::lock_guard<std::mutex> l(mu_);
  return error_;
}

void MonitorThread::loop() {
  auto fail = [&](const Status& s) {
    std::lock_guard<std::mutex> l(mu_);
    error_ = s;
  };
  while (!stop_) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {monitor_.fd(), POLLIN, 0}};
    nfds_t n = monitor_.fd() >= 0 ? 2 : 1;
    int timeout_ms = -1;
    TimePoint deadline = monitor_.nextDeadline();
    if (deadline != kNever) {
      Duration left = deadline - clock_.now();
      timeout_ms = left <= Duration::zero()
                       ? 0
                       : int(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    }
    int rc = ::poll(fds, n, timeout_ms);
    if (rc < 0 && errno != EINTR) {
      fail(errnoStatus(errno, "monitor thread poll"));
      return;
    }
    if (stop_) return;
    if (n == 2 && (fds[1].revents & (POLLIN | POLLERR))) {
      Status s = monitor_.onReadable(clock_.now());
      if (!s.isOk()) {
        fail(s);
        return;
      }
    }
    if (monitor_.nextDeadline() <= clock_.now()) {
      Status s = monitor_.onTick(clock_.now());
      if (!s.isOk()) {
        fail(s);
        return;
      }
    }
  }
}

}  // namespace vfo::lag
