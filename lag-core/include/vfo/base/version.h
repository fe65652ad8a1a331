// The vfo release every binary reports (vfod --version, GetVersion, vfoctl).
#pragma once

#include <string_view>

namespace vfo {

inline constexpr std::string_view kVfoVersion = "0.1.0";

}  // namespace vfo
