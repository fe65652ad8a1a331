#include "vfo/testing/wait.h"

#include <thread>

namespace vfo::testing {

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);  // polling interval of a condition wait
  }
}

}  // namespace vfo::testing
