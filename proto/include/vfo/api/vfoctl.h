// vfoctl: the command-line client of the vfo.v1 API.
//
// runVfoctl() is the whole program minus main(): it parses the command line
// (CLI11), calls vfod over gRPC and prints human tables or, with --json,
// protobuf JSON (snake_case field names, defaults included; events one
// JSON object per line). The format* functions are pure, for golden tests.
//
// Exit codes (stable; scripts may rely on them):
//   0 ok                     3 NOT_FOUND                 6 UNAVAILABLE / DEADLINE_EXCEEDED
//   1 any other error        4 ALREADY_EXISTS            7 FAILED_PRECONDITION / RESOURCE_EXHAUSTED
//   2 usage / INVALID_ARGUMENT  5 PERMISSION_DENIED      8 health: vfod reports not serving
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "vfo/v1/vfo.pb.h"

namespace vfo::api::cli {

// Process exit codes of vfoctl.
enum ExitCode : int {
  kExitOk = 0,                  // success
  kExitOther = 1,               // any other failure
  kExitUsage = 2,               // bad command line, or the daemon said INVALID_ARGUMENT
  kExitNotFound = 3,            // NOT_FOUND
  kExitAlreadyExists = 4,       // ALREADY_EXISTS
  kExitPermissionDenied = 5,    // PERMISSION_DENIED
  kExitUnavailable = 6,         // UNAVAILABLE or DEADLINE_EXCEEDED: vfod not reachable
  kExitFailedPrecondition = 7,  // FAILED_PRECONDITION or RESOURCE_EXHAUSTED
  kExitNotServing = 8,          // `vfoctl health`: vfod answers but is not serving
};

// The exit code for a gRPC status code (0..16).
int exitCodeForGrpc(int grpc_code);

// Runs vfoctl with argv[0..argc). Output goes to `out`, diagnostics to `err`.
int runVfoctl(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// Pure formatting (human).
std::string formatPortTable(const v1::ListPortsResponse& ports);
std::string formatPort(const v1::Port& port);
std::string formatLag(const v1::Lag& lag);
std::string formatStats(const v1::Stats& stats);
std::string formatEvent(const v1::Event& event);  // one line, with the resume token
std::string formatHealth(const v1::HealthResponse& health);
std::string formatVersion(const v1::Version& version);

// Protobuf JSON: pretty (multi-line) or one line.
std::string toJson(const google::protobuf::Message& message, bool one_line = false);

}  // namespace vfo::api::cli
