// ControlQueue: calls from other threads run on the control thread, calls
// on the control thread run inline, and close() answers UNAVAILABLE.
#include "vfo/vhost/control_queue.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <thread>

namespace vfo::vhost {
namespace {

// Runs the control loop until `stop`: poll the fd, run what is queued.
void controlLoop(ControlQueue& q, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    pollfd p{q.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0) q.runPending();
  }
}

TEST(ControlQueue, CallsFromOtherThreadsRunOnTheControlThread) {
  ControlQueue q;
  const auto control = std::this_thread::get_id();
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::vector<std::thread> callers;
  int counter = 0;  // touched only on the control thread
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        StatusOr<int> r = q.call([&]() -> StatusOr<int> {
          EXPECT_EQ(std::this_thread::get_id(), control);
          return ++counter;
        });
        EXPECT_TRUE(r.isOk());
      }
      if (++done == 4) stop = true;
    });
  controlLoop(q, stop);
  for (auto& c : callers) c.join();
  EXPECT_EQ(counter, 200);
}

TEST(ControlQueue, CallOnTheControlThreadRunsInline) {
  ControlQueue q;
  EXPECT_TRUE(q.onControlThread());
  Status s = q.call([]() -> Status { return notFound("x"); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(q.runPending(), 0u);
}

TEST(ControlQueue, CloseAnswersQueuedAndLaterCallsUnavailable) {
  ControlQueue q;
  std::atomic<bool> ran{false};
  Status queued;
  std::thread caller([&] {
    queued = q.call([&]() -> Status {
      ran = true;
      return okStatus();
    });
  });
  pollfd p{q.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the call wakes the control loop";
  q.close();
  caller.join();
  EXPECT_EQ(queued.code(), StatusCode::kUnavailable);
  EXPECT_FALSE(ran.load());
  Status later;
  std::thread late([&] { later = q.call([]() -> Status { return okStatus(); }); });
  late.join();
  EXPECT_EQ(later.code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace vfo::vhost
