// One logger per component; every line names the component and the entity:
//   2026-11-21T05:42:24.123Z INFO  lag [member pf1] will be disabled if it stays down for 200 ms
//
// Contract: thread-safe; a line is written with one write(2) so lines from
// different threads never interleave. Event paths use rateLimited(); nothing
// logs per packet.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "vfo/base/clock.h"
#include "vfo/base/status.h"

namespace vfo {

enum class LogLevel : int {
  kDebug = 0,  // developer detail
  kInfo = 1,   // state changes an operator wants to see
  kWarn = 2,   // degraded but working
  kError = 3,  // an operation failed
};

std::string_view logLevelName(LogLevel level);
StatusOr<LogLevel> parseLogLevel(std::string_view name);

// Where lines go. The default sink writes to stderr; tests install a
// capturing sink. Called with the whole formatted line (no trailing newline).
using LogSink = std::function<void(LogLevel, std::string_view line)>;
void setLogSink(LogSink sink);  // nullptr restores stderr
void setLogLevel(LogLevel min_level);
LogLevel logLevel();

class Logger {
 public:
  explicit constexpr Logger(std::string_view component) : component_(component) {}

  bool enabled(LogLevel level) const { return level >= logLevel(); }

  // entity is "[port vm1/net0]" style context, may be empty.
  void log(LogLevel level, std::string_view entity, std::string_view message) const;

  template <typename... Args>
  void info(std::string_view entity, fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::kInfo))
      log(LogLevel::kInfo, entity, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void warn(std::string_view entity, fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::kWarn))
      log(LogLevel::kWarn, entity, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void error(std::string_view entity, fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::kError))
      log(LogLevel::kError, entity, fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  void debug(std::string_view entity, fmt::format_string<Args...> f, Args&&... args) const {
    if (enabled(LogLevel::kDebug))
      log(LogLevel::kDebug, entity, fmt::format(f, std::forward<Args>(args)...));
  }

  std::string_view component() const { return component_; }

 private:
  std::string_view component_;
};

// Token bucket for event-path logs: at most `burst` lines, refilled at
// `per_second`. allow() is thread-safe and lock-free; suppressed() counts the
// lines dropped since the last allowed one (report it in the next line).
class LogRateLimiter {
 public:
  LogRateLimiter(const Clock& clock, uint32_t per_second, uint32_t burst);
  bool allow();
  uint64_t takeSuppressed() { return suppressed_.exchange(0); }

 private:
  const Clock& clock_;
  const uint32_t per_second_;
  const uint32_t burst_;
  std::atomic<int64_t> next_free_ns_;  // time at which the bucket is full again
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace vfo
