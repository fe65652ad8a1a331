#include "vfo/lag/live_set.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

namespace vfo::lag {

void LiveSet::setMembers(const MemberId* ids, uint32_t n) {
  if (n > kMaxMembers) {
    std::fprintf(stderr, "LiveSet::setMembers: %u members exceed kMaxMembers\n", n);
    std::abort();
  }
  count = n;
  for (uint32_t i = 0; i < n; ++i) members[i] = ids[i];
  for (uint32_t i = n; i < kMaxMembers; ++i) members[i] = kNoMember;
  // fastmod: M = floor((2^64 - 1) / n) + 1; (M * a mod 2^64) * n >> 64 == a % n
  // for every 32-bit a and n.
  count_magic = n ? UINT64_MAX / n + 1 : 0;
}

StatusOr<uint32_t> QsbrDomain::registerReader() {
  for (uint32_t i = 0; i < kMaxReaders; ++i) {
    bool expected = false;
    if (slots_[i].used.compare_exchange_strong(expected, true, std::memory_order_seq_cst)) {
      online(i);
      return i;
    }
  }
  return resourceExhausted(
      fmt::format("qsbr: all {} reader slots are registered; unregister one first", kMaxReaders));
}

void QsbrDomain::unregisterReader(uint32_t id) {
  offline(id);
  slots_[id].used.store(false, std::memory_order_seq_cst);
}

uint64_t QsbrDomain::start() {
  return token_.fetch_add(1, std::memory_order_seq_cst) + 1;
}

bool QsbrDomain::completed(uint64_t token) {
  for (const Slot& s : slots_) {
    const uint64_t seen = s.seen.load(std::memory_order_seq_cst);
    if (seen != 0 && seen < token) return false;
  }
  return true;
}

LiveSetPublisher::LiveSetPublisher(GracePeriodDomain* domain)
    : domain_(domain), current_(new LiveSet()) {}

LiveSetPublisher::~LiveSetPublisher() {
  delete current_.load();
  for (const Retired& r : retired_) delete r.set;
}

void LiveSetPublisher::publish(const LiveSet& next) {
  auto* fresh = new LiveSet(next);
  fresh->generation = ++generation_;
  const LiveSet* old = current_.exchange(fresh, std::memory_order_seq_cst);
  retired_.push_back(Retired{old, domain_->start()});
  reclaim();
}

size_t LiveSetPublisher::reclaim() {
  size_t kept = 0;
  for (size_t i = 0; i < retired_.size(); ++i) {
    if (domain_->completed(retired_[i].token)) {
      delete retired_[i].set;
    } else {
      retired_[kept++] = retired_[i];
    }
  }
  retired_.resize(kept);
  return kept;
}

}  // namespace vfo::lag
