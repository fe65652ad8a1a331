#include "vfo/api/state_store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>

#include "vfo/api/convert.h"
#include "vfo/base/atomic_file.h"
#include "vfo/base/log.h"

namespace vfo::api {
namespace {

constexpr uint32_t kFormatVersion = 1;
const Logger kLog("api");

std::array<uint32_t, 256> makeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = makeCrcTable();
  uint32_t c = 0xffffffffu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

StateStore::StateStore(std::string state_dir)
    : dir_(std::move(state_dir)), path_(dir_ + "/api-state.pb") {}

std::string StateStore::encode(const DesiredState& state) {
  v1::DesiredState desired;
  toProto(state, &desired);
  v1::StateFile file;
  file.set_format_version(kFormatVersion);
  std::string inner;
  desired.SerializeToString(&inner);
  file.set_crc32c(crc32c(inner));
  file.set_desired(std::move(inner));
  std::string out;
  file.SerializeToString(&out);
  return out;
}

StatusOr<DesiredState> StateStore::decode(std::string_view bytes) {
  v1::StateFile file;
  if (!file.ParseFromArray(bytes.data(), int(bytes.size())))
    return invalidArgument("not a vfo.v1.StateFile (protobuf parse failed)");
  if (file.format_version() == 0)
    return invalidArgument("not a vfo.v1.StateFile (no format_version)");
  if (file.format_version() > kFormatVersion)
    return failedPrecondition(
        fmt::format("written by a newer vfod (format_version {}, this vfod "
                    "reads up to {}); upgrade vfod or move the file away",
                    file.format_version(), kFormatVersion));
  if (crc32c(file.desired()) != file.crc32c())
    return invalidArgument(fmt::format("CRC-32C mismatch (stored {:08x}, computed {:08x})",
                                       file.crc32c(), crc32c(file.desired())));
  v1::DesiredState desired;
  if (!desired.ParseFromString(file.desired()))
    return invalidArgument("desired state does not parse despite a matching CRC");
  auto state = desiredStateFromProto(desired);
  if (!state) return invalidArgument(fmt::format("invalid content: {}", state.status().message()));
  return state;
}

StatusOr<StateStore::Loaded> StateStore::load() {
  Loaded loaded;
  loaded.stale_temp_files = removeStaleTempFiles(path_);
  if (loaded.stale_temp_files > 0)
    kLog.info("", "removed {} temporary state file(s) left by a killed vfod next to {}",
              loaded.stale_temp_files, path_);
  auto bytes = readWholeFile(path_);
  if (!bytes) {
    if (bytes.status().code() == StatusCode::kNotFound) return loaded;
    return bytes.status().withContext(fmt::format("read state file {}", path_));
  }
  auto state = decode(*bytes);
  if (state) {
    loaded.state = std::move(*state);
    return loaded;
  }
  if (state.status().code() == StatusCode::kFailedPrecondition)
    return state.status().withContext(fmt::format("state file {}", path_));
  // Corrupt: keep it for the operator, start from an empty desired state.
  loaded.set_aside_path = fmt::format("{}.corrupt-{}", path_, long(::time(nullptr)));
  if (::rename(path_.c_str(), loaded.set_aside_path.c_str()) != 0)
    return errnoStatus(errno, fmt::format("state file {} is corrupt ({}); moving it to {}", path_,
                                          state.status().message(), loaded.set_aside_path));
  loaded.problem = fmt::format(
      "state file {} is corrupt ({}); moved to {}; starting with no "
      "API-created ports: recreate them (the libvirt hook does on "
      "reconnect) or inspect the file",
      path_, state.status().message(), loaded.set_aside_path);
  kLog.error("", "{}", loaded.problem);
  return loaded;
}

Status StateStore::save(const DesiredState& state) {
  return writeFileAtomically(path_, encode(state), 0600);
}

}  // namespace vfo::api
