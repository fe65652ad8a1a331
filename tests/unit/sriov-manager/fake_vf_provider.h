// A VfProvider with a fixed number of VF slots per PF, whose calls can be
// scripted to fail ("configure of pf1/vf0 returns EBUSY").
#pragma once

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vfo/sriov/vf_provider.h"

namespace vfo::sriov::testing {

class FakeVfProvider : public VfProvider {
 public:
  void addPf(const std::string& pf, uint32_t vfs) {
    auto& slots = pfs_[pf];
    for (uint32_t i = 0; i < vfs; ++i) {
      VfState s;
      s.ref = {pf, i};
      s.pci_address = "0000:00:00." + std::to_string(i);
      s.devargs = s.pci_address;
      slots.push_back(s);
    }
  }
  // The next configure() (on `pf`, any VF) fails with `err`.
  void failNextConfigure(const std::string& pf, int err) { fail_configure_[pf] = err; }
  void failNextReset(const std::string& pf, int err) { fail_reset_[pf] = err; }
  void failNextList(const std::string& pf, int err) { fail_list_[pf] = err; }

  // Sets a VF's state directly, as if configured before a restart.
  void preset(const VfRef& ref, const VfConfig& c) { slot(ref)->config = c; }
  VfState* slot(const VfRef& ref) {
    auto it = pfs_.find(ref.pf);
    if (it == pfs_.end() || ref.index >= it->second.size()) return nullptr;
    return &it->second[ref.index];
  }
  int configureCalls() const { return configure_calls_; }
  int resetCalls() const { return reset_calls_; }
  std::vector<VfState> inUse() const {
    std::vector<VfState> out;
    for (auto& [pf, slots] : pfs_)
      for (auto& s : slots)
        if (s.inUse()) out.push_back(s);
    return out;
  }

  std::string_view kind() const override { return "fake"; }

  StatusOr<std::vector<VfState>> list(const std::string& pf) override {
    if (auto e = take(fail_list_, pf)) return errnoStatus(*e, "list " + pf);
    auto it = pfs_.find(pf);
    if (it == pfs_.end()) return notFound("PF " + pf + " does not exist");
    return it->second;
  }
  StatusOr<VfState> configure(const VfRef& ref, const VfConfig& c) override {
    ++configure_calls_;
    if (auto e = take(fail_configure_, ref.pf))
      return errnoStatus(*e, "RTM_SETLINK " + ref.toString());
    VfState* s = slot(ref);
    if (!s) return notFound("no VF " + ref.toString());
    s->config = c;
    return *s;
  }
  Status reset(const VfRef& ref) override {
    ++reset_calls_;
    if (auto e = take(fail_reset_, ref.pf)) return errnoStatus(*e, "RTM_SETLINK " + ref.toString());
    VfState* s = slot(ref);
    if (!s) return notFound("no VF " + ref.toString());
    s->config = VfConfig{};
    return okStatus();
  }

 private:
  static std::optional<int> take(std::map<std::string, int>& m, const std::string& pf) {
    auto it = m.find(pf);
    if (it == m.end()) return std::nullopt;
    int e = it->second;
    m.erase(it);
    return e;
  }
  std::map<std::string, std::vector<VfState>> pfs_;
  std::map<std::string, int> fail_configure_, fail_reset_, fail_list_;
  int configure_calls_ = 0, reset_calls_ = 0;
};

}  // namespace vfo::sriov::testing
