#include "vfo/testing/names.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace vfo::testing {

std::string uniqueName(const std::string& prefix) {
  static std::atomic<uint32_t> counter{0};
  static const uint32_t seed = [] {
    std::random_device rd;
    return rd() ^ uint32_t(getpid()) * 2654435761u;
  }();
  uint32_t v = (seed + counter.fetch_add(1) * 0x9E3779B1u) & 0xFFFFF;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%05x", v);
  return prefix + buf;
}

std::string sourceDir() {
  return VFO_SOURCE_DIR;
}
std::string binaryDir() {
  return VFO_BINARY_DIR;
}

std::string makeTempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
  return tmpl;
}

void removeTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace vfo::testing
