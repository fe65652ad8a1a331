// Hardware-LAG mode (kind "hardware-lag"): NICs whose driver moves a VF's
// queues between the ports itself when the kernel bond over its PFs fails
// over (ice with SR-IOV LAG, mlx5 VF LAG). There, a VM port gets ONE VF,
// allocated on the bond's first PF; vfod never switches the datapath. The
// manager follows the kernel bond with lag-core's BondFollower and, when the
// bond's active port changes, only has the guest announced on the new port
// (the NIC moved the queues, but the ToR still has the guest MAC on the old
// one).
//
// What is and is not verified here: the VF allocation reuses
// SysfsSriovProvider (tested against the fake sysfs tree and FakeRtnl), and
// the decision logic is fed golden kernel-6.1 bond messages through
// BondFollower. Whether a given NIC/driver/firmware really moves the VF
// queues (ice needs the bond created before the VFs, matching ports of one
// card, active-backup; mlx5 needs switchdev or VF LAG mode), and how long
// that takes, cannot be checked on this machine: no bonding module, no
// SR-IOV NIC.
//
// Not thread-safe: one owner (vfod's control thread).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vfo/base/clock.h"
#include "vfo/lag/bond_follower.h"
#include "vfo/sriov/sysfs_sriov_provider.h"
#include "vfo/sriov/vf_pairs.h"

namespace vfo::sriov {

struct HardwareLagConfig {
  std::string bond;  // the kernel bond over the PFs
  std::vector<std::string>
      members;  // its slaves (PF netdevs), member order; VFs live on members[0]
};

// VF provider that allocates one VF per port on the bond's first PF.
class HardwareLagProvider : public VfProvider {
 public:
  // INVALID_ARGUMENT naming the field: bond and members must be interface
  // names, 1..8 members, distinct, none equal to the bond.
  static Status validate(const HardwareLagConfig& config);
  // `vfs` (the sysfs SR-IOV provider of the PFs) must outlive this. The
  // config must be valid.
  HardwareLagProvider(HardwareLagConfig config, SysfsSriovProvider& vfs);

  std::string_view kind() const override { return "hardware-lag"; }
  // The VFs of the first PF; any other member is FAILED_PRECONDITION (the
  // NIC serves its VFs through the first PF's VFs on every port).
  StatusOr<std::vector<VfState>> list(const std::string& pf) override;
  StatusOr<VfState> configure(const VfRef& vf, const VfConfig& config) override;
  Status reset(const VfRef& vf) override;

  // The NIC moves VF queues between ports: vfod never switches a datapath.
  static constexpr bool movesQueuesInHardware() { return true; }
  const std::string& primary() const { return config_.members.front(); }
  const HardwareLagConfig& config() const { return config_; }
  // The VfPairManager group for this mode: one member, the first PF, so
  // every port gets exactly one VF.
  PairGroupConfig pairGroup(const std::string& group_name) const;
  // The BondFollower config: the bond and its slaves as members 0..N-1.
  lag::BondFollowerConfig followerConfig() const;

 private:
  Status checkPrimary(const std::string& pf) const;
  HardwareLagConfig config_;
  SysfsSriovProvider& vfs_;
};

// What the manager does after the bond's active slave changed.
enum class HardwareLagActionKind : uint8_t {
  kRecord = 0,          // first active member seen (start, restart): nothing moved, no frames
  kAnnounce = 1,        // the active port changed: announce the guests on `member`
  kNoActiveMember = 2,  // no single active port of ours: nothing to announce (see below)
};
std::string_view hardwareLagActionName(HardwareLagActionKind k);

struct HardwareLagAction {
  HardwareLagActionKind kind = HardwareLagActionKind::kRecord;  // what to do
  lag::MemberId member = lag::kNoMember;    // the new active member (kNoMember: none)
  lag::MemberId previous = lag::kNoMember;  // the member active before
  std::string ifname;                       // the active slave's name, if known
  bool switch_datapath = false;             // always false: the NIC moved the VF's queues
  bool kernel_failover = false;             // the bond reported IFLA_EVENT_BONDING_FAILOVER
  TimePoint seen_at;                        // receipt time of the message that showed the change
};

// Turns BondFollower's active-member reports into actions. kNoActiveMember
// covers: the bond was deleted, the active slave is not one of our members,
// or the bond runs a mode without an active slave (802.3ad, where the NIC
// hashes each flow onto a port itself). Repeated reports of the same member
// produce nothing.
class HardwareLagMode {
 public:
  explicit HardwareLagMode(std::function<void(const HardwareLagAction&)> act)
      : act_(std::move(act)) {}
  void onActive(const lag::BondActiveEvent& e);
  // Callbacks for BondFollower with on_active wired to onActive().
  lag::BondFollower::Callbacks callbacks();

  lag::MemberId activeMember() const { return active_; }
  uint64_t announces() const { return announces_; }

 private:
  std::function<void(const HardwareLagAction&)> act_;
  lag::MemberId active_ = lag::kNoMember;  // last active member reported
  bool seen_any_ = false;                  // a report arrived before
  uint64_t announces_ = 0;                 // kAnnounce actions emitted
};

}  // namespace vfo::sriov
