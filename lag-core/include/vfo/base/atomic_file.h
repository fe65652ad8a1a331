// Crash-safe files for state that matters.
//
// writeFileAtomically() makes `path` hold either its old contents or the new
// ones, never a mix, even if the process is killed (SIGKILL) or the machine
// loses power at any point: it writes a temporary file in the same
// directory, fsyncs it, renames it over `path` and fsyncs the directory.
// Leftover temporary files from a killed writer are named
// ".<name>.tmp.<pid>" and are removed by removeStaleTempFiles().
#pragma once

#include <string>
#include <string_view>

#include "vfo/base/status.h"

namespace vfo {

// `mode` applies to a newly created file. Errors name the step and the path.
Status writeFileAtomically(const std::string& path, std::string_view contents, int mode = 0600);

// Whole file. NOT_FOUND when it does not exist.
StatusOr<std::string> readWholeFile(const std::string& path, size_t max_bytes = 64u << 20);

// Removes ".<name>.tmp.*" files next to `path` left by killed writers.
// Returns how many were removed.
int removeStaleTempFiles(const std::string& path);

}  // namespace vfo
