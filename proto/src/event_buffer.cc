#include "vfo/api/event_buffer.h"

#include <fmt/format.h>

#include <random>

#include "vfo/api/convert.h"

namespace vfo::api {

EventBuffer::EventBuffer(size_t capacity, uint64_t epoch)
    : capacity_(capacity == 0 ? 1 : capacity),
      epoch_(epoch != 0 ? epoch
                        : (uint64_t(std::random_device{}()) << 32 | std::random_device{}()) | 1) {}

uint64_t EventBuffer::publish(EventKind kind, std::chrono::system_clock::time_point time) {
  uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = ++last_seq_;
    events_.push_back(Event{seq, time, std::move(kind)});
    if (events_.size() > capacity_) events_.pop_front();
  }
  cv_.notify_all();
  return seq;
}

StatusOr<uint64_t> EventBuffer::startAfter(const std::string& token, bool from_oldest) const {
  std::lock_guard lock(mu_);
  if (token.empty()) {
    if (!from_oldest) return last_seq_;
    return events_.empty() ? last_seq_ : events_.front().seq - 1;
  }
  VFO_ASSIGN_OR_RETURN(ResumeToken t, parseResumeToken(token));
  if (t.epoch != epoch_)
    return outOfRange(
        fmt::format("resume_token: {} is from an earlier vfod run; events since were "
                    "lost: re-read the state (ListPorts, GetLag), then watch without "
                    "a token",
                    token));
  if (t.seq > last_seq_)
    return invalidArgument(
        fmt::format("resume_token: {} is newer than the last event ({})", token, last_seq_));
  const uint64_t oldest = events_.empty() ? last_seq_ + 1 : events_.front().seq;
  if (t.seq + 1 < oldest)
    return outOfRange(
        fmt::format("resume_token: {} is older than the buffer (oldest event {}, "
                    "{} dropped since): re-read the state, then watch without a token",
                    token, oldest, oldest - t.seq - 1));
  return t.seq;
}

StatusOr<std::vector<Event>> EventBuffer::readAfter(uint64_t after, size_t max) const {
  std::lock_guard lock(mu_);
  std::vector<Event> out;
  if (after >= last_seq_) return out;
  const uint64_t oldest = events_.front().seq;
  if (after + 1 < oldest)
    return outOfRange(
        fmt::format("the watcher fell behind: events {}..{} were dropped from the "
                    "buffer ({} events); re-read the state and watch again",
                    after + 1, oldest - 1, capacity_));
  for (size_t i = after + 1 - oldest; i < events_.size() && out.size() < max; ++i)
    out.push_back(events_[i]);
  return out;
}

bool EventBuffer::waitNewer(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return closed_ || last_seq_ > after; });
  return last_seq_ > after;
}

void EventBuffer::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

uint64_t EventBuffer::lastSeq() const {
  std::lock_guard lock(mu_);
  return last_seq_;
}

}  // namespace vfo::api
