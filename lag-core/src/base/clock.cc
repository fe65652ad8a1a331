#include "vfo/base/clock.h"

#include <time.h>

namespace vfo {

TimePoint MonotonicClock::now() const {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return TimePoint{Duration(int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec)};
}

const MonotonicClock& MonotonicClock::instance() {
  static const MonotonicClock clock;
  return clock;
}

}  // namespace vfo
