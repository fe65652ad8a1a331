// Waiting on conditions with a deadline (tests never sleep a fixed time).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace vfo::testing {

// Polls `cond` every `poll` until it returns true or `timeout` passes.
// Returns whether it became true.
bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(10));

}  // namespace vfo::testing
