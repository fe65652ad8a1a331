// Counters declared once.
//
// A component lists its counters in an X-macro:
//
//   #define VFO_PORT_STATS(X)
//     X(rx_packets, "packets received")
//     X(drop_spoofed, "frames dropped: source MAC not allowed")
//   (with a backslash at the end of each line)
//   VFO_DECLARE_STATS(PortStats, VFO_PORT_STATS)
//
// which yields a struct of relaxed atomics (one writer, any number of
// readers, no locks), a plain snapshot struct, the names and help strings,
// and forEach() for export. A counter cannot be added in one place and
// forgotten in another.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace vfo {

struct StatInfo {
  std::string_view name;  // snake_case, stable: exported as is
  std::string_view help;  // one line for humans and Prometheus HELP
};

}  // namespace vfo

#define VFO_STATS_FIELD_(name, help) std::atomic<uint64_t> name{0};
#define VFO_STATS_SNAP_FIELD_(name, help) uint64_t name = 0;
#define VFO_STATS_INFO_(name, help) ::vfo::StatInfo{#name, help},
#define VFO_STATS_COUNT_(name, help) +1
#define VFO_STATS_LOAD_(name, help) s.name = name.load(std::memory_order_relaxed);
#define VFO_STATS_VISIT_(name, help) f(::vfo::StatInfo{#name, help}, name);
#define VFO_STATS_ADD_(name, help) name += o.name;

#define VFO_DECLARE_STATS(Type, LIST)                                                    \
  struct Type##Snapshot {                                                                \
    LIST(VFO_STATS_SNAP_FIELD_)                                                          \
    template <typename F>                                                                \
    void forEach(F&& f) const {LIST(VFO_STATS_VISIT_)} Type##Snapshot& operator+=(       \
        const Type##Snapshot& o) {                                                       \
      LIST(VFO_STATS_ADD_)                                                               \
      return *this;                                                                      \
    }                                                                                    \
  };                                                                                     \
  struct Type {                                                                          \
    LIST(VFO_STATS_FIELD_)                                                               \
    static constexpr size_t kCount = 0 LIST(VFO_STATS_COUNT_);                           \
    static constexpr std::array<::vfo::StatInfo, kCount> kInfo{{LIST(VFO_STATS_INFO_)}}; \
    Type##Snapshot snapshot() const {                                                    \
      Type##Snapshot s;                                                                  \
      LIST(VFO_STATS_LOAD_)                                                              \
      return s;                                                                          \
    }                                                                                    \
  };

namespace vfo {
// Single-writer increment: cheaper than fetch_add, safe because only the
// owning thread writes the counter (readers see a recent value).
inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
}  // namespace vfo
