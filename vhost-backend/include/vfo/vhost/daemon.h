// vfod's top level: EAL, relay, ports, signals, stats.
//
// Threads: run() is the control thread (EAL main lcore). Signals SIGTERM and
// SIGINT stop the daemon cleanly (ports deleted, sockets removed, uplinks
// detached with rte_dev_remove, EAL cleaned up); SIGUSR1 writes the stats to
// the log and to <state_dir>/stats.txt. Nothing is reloaded implicitly.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "vfo/vhost/config.h"
#include "vfo/vhost/datapath_port.h"
#include "vfo/vhost/port_state.h"
#include "vfo/vhost/stats.h"

namespace vfo::vhost {

// One port's line block in a stats dump.
struct PortStatsEntry {
  PortRecord record;       // id, state, vhost link, active member
  PortStatsReport report;  // counters
};

// The text of a stats dump (stable, one counter per line, greppable):
//   port <id> state <state> vhost <link> active_member <name|none>
//   port <id> <counter> <value>                 (every queue counter, summed)
//   port <id> queue <q> <counter> <value>       (non-zero only)
//   port <id> member <name> <counter> <value>   (every member counter)
//   port <id> event <counter> <value>
//   worker <i> <counter> <value>
// Pure; `members` names the LAG members by MemberId.
std::string renderStats(uint64_t sequence, const std::vector<PortStatsEntry>& ports,
                        const std::vector<WorkerStatsSnapshot>& workers,
                        const std::vector<std::string>& members);

// The stats file and pid file under the state directory.
std::string statsFilePath(const VfodConfig& config);
std::string pidFilePath(const VfodConfig& config);

// Runs the daemon until SIGTERM/SIGINT. Returns the process exit code.
int runDaemon(const VfodConfig& config);

// `vfod --stats`: asks the running vfod (pid file) for a fresh dump and
// prints it to stdout. Returns the exit code.
int requestStats(const VfodConfig& config);

}  // namespace vfo::vhost
