// StateStore: the API's desired state on disk, <state_dir>/api-state.pb
// (a vfo.v1.StateFile, see proto/vfo/v1/state.proto).
//
// save() uses writeFileAtomically (temp file, fsync, rename, fsync of the
// directory): after a crash at any point the file holds either the previous
// or the new state, never a mix. load() removes temp files of killed
// writers, checks the CRC-32C and the format version, and moves a corrupt
// file aside to "api-state.pb.corrupt-<unix seconds>" (never deletes it)
// so vfod can start and the operator can inspect it.
//
// Threads: not thread-safe; the service serializes saves under its lock.
#pragma once

#include <string>

#include "vfo/api/types.h"
#include "vfo/base/status.h"

namespace vfo::api {

class StateStore {
 public:
  // `state_dir` must exist (vfod creates it at start).
  explicit StateStore(std::string state_dir);

  struct Loaded {
    DesiredState state;          // empty when there was no (usable) file
    std::string problem;         // non-empty: why the file was not usable
    std::string set_aside_path;  // where a corrupt file was moved
    int stale_temp_files = 0;    // temp files of killed writers removed
  };

  // No file: OK with an empty state. Corrupt file (bad CRC, unparsable,
  // invalid content): OK with an empty state, `problem` saying what was
  // wrong and `set_aside_path` where the file went. Errors: a file written
  // by a newer vfod (FAILED_PRECONDITION, file left in place), or I/O
  // errors reading it (code from errno).
  StatusOr<Loaded> load();

  // Atomically replaces the file. Errors name the step and path; the old
  // file is intact after any error.
  Status save(const DesiredState& state);

  const std::string& path() const { return path_; }

  // The file format, exposed for tests and tools.
  static std::string encode(const DesiredState& state);
  static StatusOr<DesiredState> decode(
      std::string_view bytes);  // FAILED_PRECONDITION: newer version
                                // INVALID_ARGUMENT: corrupt
 private:
  std::string dir_;
  std::string path_;
};

// CRC-32C (Castagnoli), as in iSCSI/ext4: crc32c("123456789") = 0xe3069283.
uint32_t crc32c(std::string_view data);

}  // namespace vfo::api
