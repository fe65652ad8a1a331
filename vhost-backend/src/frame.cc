#include "vfo/vhost/frame.h"

namespace vfo::vhost {

bool MacSet::add(const MacAddress& mac) {
  if (count_ == kCapacity) return false;
  keys_[count_++] = key(mac.data());
  return true;
}

}  // namespace vfo::vhost
