// Captures every log line written while it exists (tests assert on them).
// Not thread-safe against concurrent loggers; one capture at a time.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vfo/base/log.h"

namespace vfo::testing {

class LogCapture {
 public:
  LogCapture() {
    setLogSink([this](LogLevel, std::string_view line) { lines.emplace_back(line); });
  }
  ~LogCapture() { setLogSink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  bool contains(const std::string& text) const {
    for (const auto& l : lines)
      if (l.find(text) != std::string::npos) return true;
    return false;
  }
  std::vector<std::string> lines;  // whole formatted lines, oldest first
};

}  // namespace vfo::testing
