#include "vfo/base/log.h"

#include <time.h>
#include <unistd.h>

#include <mutex>

namespace vfo {

namespace {
std::atomic<int> g_level{int(LogLevel::kInfo)};
std::mutex g_sink_mu;
LogSink g_sink;  // guarded by g_sink_mu; empty means stderr
}  // namespace

std::string_view logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

StatusOr<LogLevel> parseLogLevel(std::string_view name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "error") return LogLevel::kError;
  return invalidArgument("log level '" + std::string(name) +
                         "' is not one of debug, info, warn, error");
}

void setLogSink(LogSink sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = std::move(sink);
}

void setLogLevel(LogLevel min_level) {
  g_level.store(int(min_level), std::memory_order_relaxed);
}
LogLevel logLevel() {
  return LogLevel(g_level.load(std::memory_order_relaxed));
}

void Logger::log(LogLevel level, std::string_view entity, std::string_view message) const {
  if (!enabled(level)) return;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  std::string line = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {:<5} {}",
                                 t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                                 t.tm_sec, ts.tv_nsec / 1'000'000, logLevelName(level), component_);
  if (!entity.empty()) {
    line += ' ';
    line += entity;
  }
  line += ' ';
  line += message;
  std::lock_guard lock(g_sink_mu);
  if (g_sink) {
    g_sink(level, line);
    return;
  }
  line += '\n';
  // One write per line: concurrent lines never interleave.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
}

LogRateLimiter::LogRateLimiter(const Clock& clock, uint32_t per_second, uint32_t burst)
    : clock_(clock),
      per_second_(per_second ? per_second : 1),
      burst_(burst ? burst : 1),
      next_free_ns_(clock.now().ns()) {}

bool LogRateLimiter::allow() {
  // GCRA: each line pushes the theoretical arrival time (tat) one interval
  // ahead; a line is allowed while tat is at most burst-1 intervals ahead.
  const int64_t interval = 1'000'000'000 / per_second_;
  const int64_t now = clock_.now().ns();
  int64_t tat = next_free_ns_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t base = tat > now ? tat : now;
    if (base - now > int64_t(burst_ - 1) * interval) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (next_free_ns_.compare_exchange_weak(tat, base + interval, std::memory_order_relaxed))
      return true;
  }
}

}  // namespace vfo
