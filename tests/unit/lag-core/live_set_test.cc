// RCU-style LiveSet publication: grace periods, the injectable hook, and a
// reader thread selecting while the writer swaps 10k times (run this one in
// the ThreadSanitizer build too).
#include "vfo/lag/live_set.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace vfo::lag {
namespace {

// A snapshot whose content can be checked from its generation alone.
LiveSet patterned(uint64_t generation) {
  LiveSet s;
  s.policy = HashPolicy::kLayer34;
  MemberId ids[kMaxMembers];
  const uint32_t n = uint32_t(generation % kMaxMembers) + 1;
  for (uint32_t i = 0; i < n; ++i) ids[i] = MemberId((generation * 7 + i) % 16);
  s.setMembers(ids, n);
  s.active = MemberId(generation % 16);
  return s;
}

bool matchesPattern(const LiveSet& s) {
  const LiveSet want = patterned(s.generation);
  return s.count == want.count && s.members == want.members && s.active == want.active &&
         s.count_magic == want.count_magic;
}

TEST(QsbrDomain, RetiredSnapshotWaitsForEveryOnlineReader) {
  QsbrDomain domain;
  LiveSetPublisher pub(&domain);
  auto r1 = domain.registerReader();
  auto r2 = domain.registerReader();
  ASSERT_TRUE(r1.isOk());
  ASSERT_TRUE(r2.isOk());
  pub.publish(patterned(1));
  EXPECT_EQ(pub.retiredCount(), 1u) << "readers have not been quiescent since the swap";
  domain.quiescent(*r1);
  EXPECT_EQ(pub.reclaim(), 1u) << "r2 may still hold the old snapshot";
  domain.quiescent(*r2);
  EXPECT_EQ(pub.reclaim(), 0u);
  // An offline reader is not waited for.
  domain.offline(*r2);
  pub.publish(patterned(2));
  domain.quiescent(*r1);
  EXPECT_EQ(pub.reclaim(), 0u);
  domain.unregisterReader(*r1);
  domain.unregisterReader(*r2);
  pub.publish(patterned(3));
  EXPECT_EQ(pub.retiredCount(), 0u) << "no readers: freed at once";
  EXPECT_EQ(pub.current()->generation, 3u);
}

TEST(QsbrDomain, ReaderSlotsAreBounded) {
  QsbrDomain domain;
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < QsbrDomain::kMaxReaders; ++i) {
    auto r = domain.registerReader();
    ASSERT_TRUE(r.isOk());
    ids.push_back(*r);
  }
  auto full = domain.registerReader();
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  domain.unregisterReader(ids[5]);
  auto again = domain.registerReader();
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ(*again, ids[5]);
}

// The hook is injectable: a scripted domain decides when grace periods end
// (as rte_rcu_qsbr_check would).
class ScriptedDomain final : public GracePeriodDomain {
 public:
  uint64_t start() override { return ++started; }
  bool completed(uint64_t token) override { return token <= completed_upto; }
  uint64_t started = 0;
  uint64_t completed_upto = 0;
};

TEST(LiveSetPublisher, UsesTheInjectedGracePeriodHook) {
  ScriptedDomain domain;
  LiveSetPublisher pub(&domain);
  for (uint64_t g = 1; g <= 5; ++g) pub.publish(patterned(g));
  EXPECT_EQ(domain.started, 5u);
  EXPECT_EQ(pub.retiredCount(), 5u);
  domain.completed_upto = 3;
  EXPECT_EQ(pub.reclaim(), 2u);
  domain.completed_upto = 5;
  EXPECT_EQ(pub.reclaim(), 0u);
  EXPECT_TRUE(matchesPattern(*pub.current()));
}

TEST(LiveSetPublisher, ReaderSelectsWhileWriterSwaps10k) {
  QsbrDomain domain;
  LiveSetPublisher pub(&domain);
  pub.publish(patterned(1));
  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  std::atomic<uint64_t> reads{0}, bad{0}, backwards{0};
  std::thread reader([&] {
    const uint32_t id = *domain.registerReader();
    ready = true;
    const uint8_t frame[54] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x45};
    uint64_t last_gen = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      // One "burst": take the snapshot, use it several times, then quiesce.
      const LiveSet* s = pub.current();
      for (int i = 0; i < 8; ++i) {
        const MemberId m = s->selectFlow(frame, sizeof frame);
        bool in_set = false;
        for (uint32_t k = 0; k < s->count; ++k) in_set |= s->members[k] == m;
        if (!in_set || !matchesPattern(*s)) bad.fetch_add(1, std::memory_order_relaxed);
      }
      if (s->generation < last_gen) backwards.fetch_add(1, std::memory_order_relaxed);
      last_gen = s->generation;
      reads.fetch_add(1, std::memory_order_relaxed);
      domain.quiescent(id);
    }
    domain.unregisterReader(id);
  });
  while (!ready) std::this_thread::yield();
  for (uint64_t g = 2; g <= 10001; ++g) {
    pub.publish(patterned(g));
    if (g % 64 == 0) std::this_thread::yield();
  }
  stop = true;
  reader.join();
  EXPECT_EQ(pub.generation(), 10001u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(backwards.load(), 0u);
  EXPECT_EQ(pub.reclaim(), 0u) << "reader gone: every retired snapshot is freed";
}

}  // namespace
}  // namespace vfo::lag
