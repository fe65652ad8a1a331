#include "vfo/vhost/datapath_port.h"

namespace vfo::vhost {

std::unique_ptr<DatapathPort> makeDatapathPort(const DatapathPortSpec& spec, uint64_t key) {
  auto p = std::make_unique<DatapathPort>();
  p->id = spec.id;
  p->key = key;
  p->queue_pairs = spec.queue_pairs;
  p->member_count = uint32_t(spec.uplinks.size());
  for (size_t m = 0; m < spec.uplinks.size() && m < kMaxMembers; ++m)
    p->uplinks[m] = spec.uplinks[m];
  p->steering.store(spec.steering.pack(), std::memory_order_relaxed);
  p->forwarding.store(spec.forwarding, std::memory_order_relaxed);
  p->owned_policy = std::make_unique<const PortPolicy>(spec.policy);
  p->policy.store(p->owned_policy.get(), std::memory_order_relaxed);
  p->queues = std::make_unique<QueueUnit[]>(spec.queue_pairs);
  for (uint16_t q = 0; q < spec.queue_pairs; ++q) {
    p->queues[q].port = p.get();
    p->queues[q].qp = q;
  }
  return p;
}

PortStatsReport collectStats(const DatapathPort& port) {
  PortStatsReport r;
  r.members.resize(port.member_count);
  for (uint16_t q = 0; q < port.queue_pairs; ++q) {
    const QueueUnit& u = port.queues[q];
    r.queues.push_back(u.stats.snapshot());
    r.total += r.queues.back();
    std::vector<MemberStatsSnapshot> per_member;
    for (uint32_t m = 0; m < port.member_count; ++m) {
      per_member.push_back(u.members[m].snapshot());
      r.members[m] += per_member.back();
    }
    r.queue_members.push_back(std::move(per_member));
  }
  r.events = port.events.snapshot();
  return r;
}

}  // namespace vfo::vhost
