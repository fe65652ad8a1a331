// The vfo-hook executable's settings: where vfod is, where its sockets
// lie, time limits and where to log.
//
// Sources, later ones win:
//   1. defaults (below)
//   2. the config file: --config=PATH, else $VFO_HOOK_CONFIG, else
//      /etc/vfo/hook.conf (a missing default file is fine; a missing file
//      that was named explicitly is an error)
//   3. environment: VFO_SOCKET (API target, as for vfoctl), VFO_SOCKET_DIR,
//      VFO_HOOK_LOG
//   4. leading flags: --socket=TARGET --socket-dir=DIR --log=WHERE
//      --config=PATH (only the `--name=value` form, and only before the
//      domain name; libvirt itself passes none)
//
// Config file: one `key = value` per line; `#` starts a comment; keys:
//   api_socket        gRPC target of vfod's API (unix:///run/vfo/vfo.sock)
//   socket_dir        vfod's vhost-user socket directory (/run/vfo/sockets)
//   call_timeout_ms   deadline of each vfod call (2000, 1..60000)
//   budget_ms         all vfod calls of one run end by then (5000, 1..60000)
//   ready_timeout_ms  prepare: wait for vfod to report the socket ready
//                     (3000, 1..budget_ms)
//   max_xml_bytes     larger domain XML on stdin is refused (4194304, 1 KiB..64 MiB)
//   log               syslog (default), none, or an absolute file path (appended)
//
// Contract: bad values are INVALID_ARGUMENT naming the source, the line and
// the key; nothing else is read from the environment. Pure apart from
// reading the file.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "vfo/base/status.h"

namespace vfo::hooks {

inline constexpr const char* kDefaultHookConfigPath = "/etc/vfo/hook.conf";

struct HookSettings {
  std::string api_target = "unix:///run/vfo/vfo.sock";  // vfod's API (unix: targets only)
  std::string socket_dir = "/run/vfo/sockets";          // vfod's vhost-user socket directory
  std::chrono::milliseconds call_timeout{2000};         // per vfod call
  std::chrono::milliseconds budget{5000};               // all vfod calls of one run
  std::chrono::milliseconds ready_timeout{3000};        // prepare: socket readiness wait
  size_t max_xml_bytes = 4u << 20;                      // stdin limit
  std::string log = "syslog";                           // "syslog", "none" or a file path
  std::string config_path;                              // the file read, empty if none
};

// Applies `key = value` lines of `text` (from `source`, for messages) to `settings`.
Status applyHookConf(std::string_view text, std::string_view source, HookSettings* settings);

// Reads every source in order. `args` is argv without argv[0]; leading
// `--name=value` flags are removed from it. `getenv` is injected for tests.
StatusOr<HookSettings> loadHookSettings(std::vector<std::string>* args,
                                        const std::function<const char*(const char*)>& getenv,
                                        const std::string& default_config = kDefaultHookConfigPath);

}  // namespace vfo::hooks
