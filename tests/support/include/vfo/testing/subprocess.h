// Running helper programs from tests.
//
// Contract: run() never leaves a child behind: on timeout the child's whole
// process group is killed (SIGKILL) and reaped. Process kills only the pid it
// started (and its own process group), in its destructor at the latest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace vfo::testing {

struct RunResult {
  int exit_code = -1;  // exit status, or 128+signal, or -1 on timeout
  bool timed_out = false;
  std::string out;  // captured stdout
  std::string err;  // captured stderr
  bool ok() const { return exit_code == 0; }
  std::string describe() const;  // for assertion messages
};

// Runs argv[0] (PATH lookup) to completion with `input` on stdin.
RunResult run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(60),
              const std::string& input = "");

// Convenience: run({"sh", "-c", script}).
RunResult sh(const std::string& script,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A background process. stdout+stderr go to a log file readable at any time.
class Process {
 public:
  // Starts argv in its own process group. stdin is /dev/null unless
  // keep_stdin is set (then writeStdin() works).
  Process(const std::vector<std::string>& argv, const std::string& log_path,
          bool keep_stdin = false);
  ~Process();  // stop()
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();                              // reaps if exited
  int exitCode() const { return exit_code_; }  // valid once !running()
  std::string log() const;                     // everything written so far
  const std::string& logPath() const { return log_path_; }
  void writeStdin(const std::string& data);
  void closeStdin();
  // SIGTERM, wait up to `grace`, then SIGKILL the process group. Returns the
  // exit code (128+signal when killed).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  // SIGKILL at once (crash simulation).
  int kill();
  // Waits for exit without signalling.
  bool waitExit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

}  // namespace vfo::testing
