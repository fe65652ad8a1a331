// The service edge: proto messages <-> the plain structs of types.h, with
// every field validated. Nothing past this file sees a proto message.
//
// Contract: every *FromProto / apply* function either returns a fully valid
// value with defaults filled in, or INVALID_ARGUMENT whose message starts
// with the field path ("spec.mac: ...", "settings.updelay: ...") and says
// what to fix. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "vfo/api/types.h"
#include "vfo/base/status.h"
#include "vfo/v1/state.pb.h"
#include "vfo/v1/vfo.pb.h"

namespace vfo::api {

// 1..64 characters of [A-Za-z0-9._:/-], not starting with '/' or '.', no
// "..". `field` names it in the error.
Status validatePortId(std::string_view id, std::string_view field = "port_id");

// The default socket path: <socket_dir>/<port_id with '/' -> '-'>.sock.
std::string defaultSocketPath(std::string_view socket_dir, std::string_view port_id);

// Validates a socket path: absolute, directly inside `socket_dir` (skipped
// when socket_dir is empty), no "..", at most 107 bytes.
Status validateSocketPath(std::string_view path, std::string_view socket_dir,
                          std::string_view field);

// CreatePort's spec. `field` prefixes errors ("spec").
StatusOr<PortSpec> portSpecFromProto(const v1::PortSpec& proto, std::string_view socket_dir,
                                     std::string_view field = "spec");

// A PortState received from vfod (clients: the libvirt hook).
// INVALID_ARGUMENT "<field>: unknown PortState value N" for UNSPECIFIED or
// a value this build does not know.
StatusOr<PortState> portStateFromProto(int value, std::string_view field = "state");

// UpdatePort: the new spec of `current` with the named fields replaced, and
// which fields changed. INVALID_ARGUMENT for no or unknown update_fields and
// for invalid values.
struct PortUpdate {
  PortSpec updated;       // current with the named fields replaced
  PortFieldMask changed;  // the fields named
};
StatusOr<PortUpdate> applyPortUpdate(const v1::UpdatePortRequest& request, const PortSpec& current);

StatusOr<LagSettings> lagSettingsFromProto(const v1::LagSettings& proto,
                                           std::string_view field = "settings");
// UpdateLag: current with the named fields replaced.
StatusOr<LagSettings> applyLagUpdate(const v1::UpdateLagRequest& request,
                                     const LagSettings& current);

// Resume tokens of WatchEvents: "<epoch hex>-<seq>".
std::string makeResumeToken(uint64_t epoch, uint64_t seq);
struct ResumeToken {
  uint64_t epoch = 0;  // EventBuffer instance that issued it
  uint64_t seq = 0;    // last event seen
};
// INVALID_ARGUMENT "resume_token: ..." for a malformed token.
StatusOr<ResumeToken> parseResumeToken(std::string_view token);

void toProto(const PortSpec& spec, v1::PortSpec* out);
void toProto(const PortInfo& port, v1::Port* out);
void toProto(const LagSettings& settings, v1::LagSettings* out);
void toProto(const LagInfo& lag, v1::Lag* out);
void toProto(const StatsInfo& stats, v1::Stats* out);
void toProto(const Event& event, uint64_t epoch, v1::Event* out);
void toProto(const HealthInfo& health, v1::HealthResponse* out);
void toProto(const DesiredState& state, v1::DesiredState* out);

// Reads a persisted state; ports are checked like CreatePort except for the
// socket directory (the config may have moved it; the backend decides).
StatusOr<DesiredState> desiredStateFromProto(const v1::DesiredState& proto);

}  // namespace vfo::api
