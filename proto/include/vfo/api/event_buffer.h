// EventBuffer: the bounded, ordered log behind WatchEvents.
//
// Every published event gets the next sequence number (1, 2, ...). The
// buffer keeps the newest `capacity` events; a reader asks for the events
// after the last sequence it saw. Resume tokens carry (epoch, seq); the
// epoch is random per buffer, so a token from an earlier vfod run is
// recognised and refused instead of silently skipping events.
//
// Threads: every method is thread-safe. publish() never blocks on readers
// (O(1), one mutex, a condition-variable notify); it may be called from any
// control thread, not from the datapath.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "vfo/api/types.h"
#include "vfo/base/status.h"

namespace vfo::api {

class EventBuffer {
 public:
  // capacity >= 1. epoch 0 = pick a random one.
  explicit EventBuffer(size_t capacity = 4096, uint64_t epoch = 0);

  // Stamps the event with `time` and the next sequence number; returns it.
  uint64_t publish(EventKind kind,
                   std::chrono::system_clock::time_point time = std::chrono::system_clock::now());

  // Where a WatchEvents stream starts: the sequence number of the last event
  // the client has seen. Empty token: the newest event (only new ones), or
  // just before the oldest buffered one with from_oldest.
  // INVALID_ARGUMENT for a malformed token or one from the future;
  // OUT_OF_RANGE for a token from another epoch (an earlier vfod run) or
  // older than the buffer (events after it were dropped).
  StatusOr<uint64_t> startAfter(const std::string& token, bool from_oldest) const;

  // Up to `max` events with seq > after, oldest first. OUT_OF_RANGE when
  // the event after `after` has already been dropped (the reader fell behind).
  StatusOr<std::vector<Event>> readAfter(uint64_t after, size_t max) const;

  // Blocks until an event with seq > after exists, close() was called, or
  // `timeout` passed. Returns whether such an event exists.
  bool waitNewer(uint64_t after, std::chrono::milliseconds timeout) const;

  // Wakes every waiter; later waits return at once. Used at shutdown.
  void close();

  uint64_t epoch() const { return epoch_; }
  uint64_t lastSeq() const;  // 0 before the first event
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  const uint64_t epoch_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::deque<Event> events_;  // guarded by mu_; seq contiguous, oldest first
  uint64_t last_seq_ = 0;     // guarded by mu_
  bool closed_ = false;       // guarded by mu_
};

}  // namespace vfo::api
