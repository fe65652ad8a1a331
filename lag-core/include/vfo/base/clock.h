// Time for decision logic. State machines never read the system clock: they
// are handed a Clock (or a `now` argument) so tests run in virtual time.
#pragma once

#include <chrono>
#include <cstdint>

namespace vfo {

// Monotonic nanoseconds since an arbitrary epoch (CLOCK_MONOTONIC in
// production). Durations are std::chrono::nanoseconds.
using Duration = std::chrono::nanoseconds;
struct TimePoint {
  Duration sinceEpoch{0};
  friend auto operator<=>(const TimePoint&, const TimePoint&) = default;
  TimePoint operator+(Duration d) const { return TimePoint{sinceEpoch + d}; }
  TimePoint operator-(Duration d) const { return TimePoint{sinceEpoch - d}; }
  Duration operator-(TimePoint o) const { return sinceEpoch - o.sinceEpoch; }
  TimePoint& operator+=(Duration d) {
    sinceEpoch += d;
    return *this;
  }
  int64_t ns() const { return sinceEpoch.count(); }
};

// "No deadline": later than any real time point.
inline constexpr TimePoint kNever{Duration::max()};

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe; never goes backwards.
  virtual TimePoint now() const = 0;
};

// CLOCK_MONOTONIC.
class MonotonicClock final : public Clock {
 public:
  TimePoint now() const override;
  static const MonotonicClock& instance();
};

// Virtual time for tests: starts at `start` and moves only when told.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{std::chrono::seconds(1000)}) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace vfo
