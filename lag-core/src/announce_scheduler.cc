#include "vfo/lag/announce_scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace vfo::lag {

namespace {

constexpr int64_t kTokenUnit = 1'000'000'000;  // one frame
constexpr size_t kMaxFramesPerBurst = 4096;

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

Status AnnounceConfig::validate() const {
  if (announce_count < 1 || announce_count > 100)
    return invalidArgument(
        fmt::format("announce_count: {} is out of range 1..100", announce_count));
  if (announce_interval < std::chrono::milliseconds(1) ||
      announce_interval > std::chrono::seconds(60))
    return invalidArgument(fmt::format(
        "announce_interval: {} us is out of range 1 ms..60 s",
        std::chrono::duration_cast<std::chrono::microseconds>(announce_interval).count()));
  if (garp_form != GarpForm::kRequest && garp_form != GarpForm::kReply)
    return invalidArgument("garp_form: neither request nor reply");
  if (max_frames_per_second > 10'000'000)
    return invalidArgument(
        fmt::format("max_frames_per_second: {} is out of range 0..10000000 (0 = unlimited)",
                    max_frames_per_second));
  if (burst_frames < 1 || burst_frames > 1'000'000)
    return invalidArgument(
        fmt::format("burst_frames: {} is out of range 1..1000000", burst_frames));
  return okStatus();
}

AnnounceSet makeAnnounceSet(std::span<const MacAddress> allowed_macs, VlanId port_vlan,
                            std::span<const LearnedAddress> learned) {
  AnnounceSet set;
  auto addMac = [&](const MacAddress& mac, VlanId vlan) {
    for (const AnnounceMac& m : set.macs)
      if (m.mac == mac && m.vlan == vlan) return;
    set.macs.push_back(AnnounceMac{mac, vlan});
  };
  for (const MacAddress& mac : allowed_macs) addMac(mac, port_vlan);
  for (const LearnedAddress& e : learned) {
    const AddressBinding& b = e.binding;
    const VlanId vlan = b.vlan != kNoVlan ? b.vlan : port_vlan;
    addMac(b.mac, vlan);
    if (b.family == IpFamily::kIpv4)
      set.ipv4.push_back(AnnounceIpv4{b.mac, vlan, b.ipv4});
    else
      set.ipv6.push_back(AnnounceIpv6{b.mac, vlan, b.ipv6});
  }
  return set;
}

std::string_view announceOutcomeName(AnnounceOutcome outcome) {
  switch (outcome) {
    case AnnounceOutcome::kPending:
      return "pending";
    case AnnounceOutcome::kCompleted:
      return "completed";
    case AnnounceOutcome::kRestarted:
      return "restarted";
    case AnnounceOutcome::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

StatusOr<std::unique_ptr<AnnounceScheduler>> AnnounceScheduler::create(const AnnounceConfig& config,
                                                                       SendFn send, DoneFn done) {
  VFO_RETURN_IF_ERROR(config.validate());
  if (!send) return invalidArgument("send: a send callback is required");
  return std::unique_ptr<AnnounceScheduler>(
      new AnnounceScheduler(config, std::move(send), std::move(done)));
}

AnnounceScheduler::AnnounceScheduler(const AnnounceConfig& config, SendFn send, DoneFn done)
    : config_(config),
      send_(std::move(send)),
      done_(std::move(done)),
      tokens_(int64_t(config.burst_frames) * kTokenUnit) {}

Status AnnounceTiming::validate() const {
  AnnounceConfig c;
  c.announce_count = count;
  c.announce_interval = interval;
  return c.validate();
}

Status AnnounceScheduler::setConfig(const AnnounceConfig& config) {
  VFO_RETURN_IF_ERROR(config.validate());
  config_ = config;
  tokens_ = std::min<int64_t>(tokens_, int64_t(config.burst_frames) * kTokenUnit);
  return okStatus();
}

Status AnnounceScheduler::schedule(PortIndex port, MemberId member, AnnounceSet set, TimePoint now,
                                   TimePoint cause_seen_at, std::optional<AnnounceTiming> timing) {
  if (port == kNoPort) return invalidArgument("port: kNoPort is not a port index");
  if (timing) VFO_RETURN_IF_ERROR(timing->validate());
  if (member == kNoMember) return invalidArgument("member: kNoMember is not a member");
  const size_t frames = set.framesPerBurst();
  if (frames == 0) return invalidArgument("set: nothing to announce (no MAC, no address)");
  if (frames > kMaxFramesPerBurst)
    return invalidArgument(
        fmt::format("set: {} frames per burst, at most {}", frames, kMaxFramesPerBurst));
  for (size_t i = 0; i < set.macs.size(); ++i) {
    VFO_RETURN_IF_ERROR(checkSourceMac(set.macs[i].mac, fmt::format("macs[{}].mac", i)));
    VFO_RETURN_IF_ERROR(checkVlan(set.macs[i].vlan, fmt::format("macs[{}].vlan", i)));
  }
  for (size_t i = 0; i < set.ipv4.size(); ++i) {
    VFO_RETURN_IF_ERROR(checkSourceMac(set.ipv4[i].mac, fmt::format("ipv4[{}].mac", i)));
    VFO_RETURN_IF_ERROR(checkVlan(set.ipv4[i].vlan, fmt::format("ipv4[{}].vlan", i)));
    VFO_RETURN_IF_ERROR(checkHostAddress(set.ipv4[i].ip, fmt::format("ipv4[{}].ip", i)));
  }
  for (size_t i = 0; i < set.ipv6.size(); ++i) {
    VFO_RETURN_IF_ERROR(checkSourceMac(set.ipv6[i].mac, fmt::format("ipv6[{}].mac", i)));
    VFO_RETURN_IF_ERROR(checkVlan(set.ipv6[i].vlan, fmt::format("ipv6[{}].vlan", i)));
    VFO_RETURN_IF_ERROR(checkHostAddress(set.ipv6[i].ip, fmt::format("ipv6[{}].ip", i)));
  }

  if (auto old = pending_.find(port); old != pending_.end())
    finish(old, AnnounceOutcome::kRestarted, now);

  Pending& p = pending_[port];
  p.member = member;
  p.timing = timing.value_or(AnnounceTiming{config_.announce_count, config_.announce_interval});
  p.set = std::move(set);
  p.next = 0;
  p.record = AnnounceRecord{};
  p.record.port = port;
  p.record.member = member;
  p.record.frames_per_burst = uint32_t(frames);
  p.record.cause_seen_at = cause_seen_at;
  p.record.scheduled_at = now;
  enqueue(port, p, now);
  bump(stats_.schedules);
  return okStatus();
}

bool AnnounceScheduler::cancel(PortIndex port, TimePoint now) {
  auto it = pending_.find(port);
  if (it == pending_.end()) return false;
  finish(it, AnnounceOutcome::kCancelled, now);
  return true;
}

void AnnounceScheduler::forgetPort(PortIndex port, TimePoint now) {
  cancel(port, now);
  finished_.erase(port);
}

void AnnounceScheduler::enqueue(PortIndex port, Pending& p, TimePoint due) {
  p.key = Key{due, next_seq_++};
  queue_.emplace(p.key, port);
}

void AnnounceScheduler::finish(std::unordered_map<PortIndex, Pending>::iterator it,
                               AnnounceOutcome outcome, TimePoint now) {
  const PortIndex port = it->first;
  queue_.erase(it->second.key);
  AnnounceRecord record = it->second.record;
  record.outcome = outcome;
  record.ended_at = now;
  pending_.erase(it);
  finished_[port] = record;
  switch (outcome) {
    case AnnounceOutcome::kCompleted:
      bump(stats_.completed);
      break;
    case AnnounceOutcome::kRestarted:
      bump(stats_.restarted);
      break;
    case AnnounceOutcome::kCancelled:
      bump(stats_.cancelled);
      break;
    case AnnounceOutcome::kPending:
      break;
  }
  if (done_) done_(record);
}

void AnnounceScheduler::refill(TimePoint now) {
  if (!limited()) return;
  const int64_t rate = config_.max_frames_per_second;
  const int64_t cap = int64_t(config_.burst_frames) * kTokenUnit;
  if (bucket_at_.sinceEpoch == Duration::min()) {
    bucket_at_ = now;  // the bucket starts full
    return;
  }
  if (now <= bucket_at_) return;
  // Enough time to fill the bucket from empty; longer idle adds nothing and
  // would only risk overflow.
  const int64_t elapsed = std::min<int64_t>((now - bucket_at_).count(), cap / rate + 1);
  tokens_ = std::min(cap, tokens_ + elapsed * rate);
  bucket_at_ = now;
}

TimePoint AnnounceScheduler::nextDeadline() const {
  if (queue_.empty()) return kNever;
  const TimePoint due = queue_.begin()->first.due;
  if (!limited() || tokens_ >= kTokenUnit) return due;
  const TimePoint token_at =
      bucket_at_ + Duration(ceilDiv(kTokenUnit - tokens_, config_.max_frames_per_second));
  return std::max(due, token_at);
}

size_t AnnounceScheduler::buildFrame(const AnnounceSet& set, uint32_t index, std::span<uint8_t> buf,
                                     FrameKind& kind) const {
  if (index < set.macs.size()) {
    const AnnounceMac& m = set.macs[index];
    kind = FrameKind::kRarpAnnounce;
    return writeRarpAnnounce(buf, m.mac, m.vlan);
  }
  index -= uint32_t(set.macs.size());
  if (index < set.ipv4.size()) {
    const AnnounceIpv4& a = set.ipv4[index];
    kind = config_.garp_form == GarpForm::kReply ? FrameKind::kGarpReply : FrameKind::kGarpRequest;
    return writeGratuitousArp(buf, config_.garp_form, a.mac, a.ip, a.vlan);
  }
  index -= uint32_t(set.ipv4.size());
  const AnnounceIpv6& a = set.ipv6[index];
  kind = FrameKind::kUnsolicitedNa;
  return writeUnsolicitedNa(buf, a.mac, a.ip, a.vlan);
}

void AnnounceScheduler::onTick(TimePoint now) {
  refill(now);
  std::array<uint8_t, kMaxBuiltFrameLen> buf;
  while (!queue_.empty()) {
    auto qit = queue_.begin();
    if (qit->first.due > now) break;
    if (limited() && tokens_ < kTokenUnit) {
      throttled_at_ = now;
      bump(stats_.rate_limited_ticks);
      break;
    }
    const PortIndex port = qit->second;
    auto pit = pending_.find(port);
    Pending& p = pit->second;
    AnnounceRecord& r = p.record;

    FrameKind kind{};
    const size_t len = buildFrame(p.set, p.next, buf, kind);
    // schedule() validated the set, so the builders cannot refuse it.
    const bool sent = len != 0 && send_(p.member, port, kind, {buf.data(), len});
    if (limited()) tokens_ -= kTokenUnit;
    ++r.frames_sent;
    if (r.first_frame_at == kNever) r.first_frame_at = now;
    r.last_frame_at = now;
    if (!sent) {
      ++r.send_failures;
      bump(stats_.send_failures);
    }
    if (throttled_at_ >= p.key.due) {
      ++r.frames_deferred;
      bump(stats_.frames_deferred);
    }
    switch (kind) {
      case FrameKind::kRarpAnnounce:
        bump(stats_.frames_rarp);
        break;
      case FrameKind::kGarpRequest:
      case FrameKind::kGarpReply:
        bump(stats_.frames_garp);
        break;
      default:
        bump(stats_.frames_na);
        break;
    }

    if (++p.next < r.frames_per_burst) continue;
    // Burst complete.
    p.next = 0;
    ++r.bursts_sent;
    if (r.bursts_sent == 1) r.first_burst_at = now;
    bump(stats_.bursts);
    queue_.erase(qit);
    if (r.bursts_sent >= p.timing.count) {
      p.key = Key{kNever, 0};  // already out of the queue
      finish(pit, AnnounceOutcome::kCompleted, now);
    } else {
      enqueue(port, p, now + p.timing.interval);
    }
  }
}

std::optional<AnnounceRecord> AnnounceScheduler::record(PortIndex port) const {
  if (auto it = pending_.find(port); it != pending_.end()) return it->second.record;
  if (auto it = finished_.find(port); it != finished_.end()) return it->second;
  return std::nullopt;
}

}  // namespace vfo::lag
