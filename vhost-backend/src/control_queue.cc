#include "vfo/vhost/control_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace vfo::vhost {

ControlQueue::ControlQueue()
    : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), owner_(std::this_thread::get_id()) {
  if (fd_ < 0) std::abort();
}

ControlQueue::~ControlQueue() {
  close();
  ::close(fd_);
}

bool ControlQueue::post(std::function<void()> run) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    items_.push_back(std::move(run));
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
  return true;
}

size_t ControlQueue::runPending() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(fd_, &count, sizeof count);
  size_t ran = 0;
  for (;;) {
    std::function<void()> item;
    {
      std::lock_guard lock(mu_);
      if (items_.empty()) break;
      item = std::move(items_.front());
      items_.pop_front();
    }
    item();
    ++ran;
  }
  return ran;
}

void ControlQueue::close() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    dropped.swap(items_);
  }
  // Destroying the packaged_task without running it breaks its promise:
  // the waiting caller sees future_error and answers UNAVAILABLE.
  dropped.clear();
}

}  // namespace vfo::vhost
