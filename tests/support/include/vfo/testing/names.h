// Unique names for lab objects, and paths into the source/build trees.
#pragma once

#include <string>

namespace vfo::testing {

// "<prefix><5 hex chars>", unique per process and call, short enough that
// "<name>-pf0" style netdev names stay within IFNAMSIZ (15 chars) for a
// prefix of up to 5 characters.
std::string uniqueName(const std::string& prefix);

std::string sourceDir();  // the repository root
std::string binaryDir();  // the CMake build directory

// A fresh directory under $TMPDIR (or /tmp) removed by the caller.
std::string makeTempDir(const std::string& prefix);
void removeTree(const std::string& path);

}  // namespace vfo::testing
