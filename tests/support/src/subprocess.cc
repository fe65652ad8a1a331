#include "vfo/testing/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "vfo/testing/wait.h"

namespace vfo::testing {

namespace {

std::vector<char*> cArgv(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

int decodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string RunResult::describe() const {
  std::ostringstream s;
  s << "exit=" << exit_code << (timed_out ? " (timed out)" : "") << "\n--- stdout ---\n"
    << out << "\n--- stderr ---\n"
    << err;
  return s.str();
}

RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
              const std::string& input) {
  RunResult r;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    throw std::runtime_error(std::string("pipe: ") + strerror(errno));
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    auto v = cArgv(argv);
    execvp(v[0], v.data());
    dprintf(2, "exec %s: %s\n", v[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  signal(SIGPIPE, SIG_IGN);
  size_t written = 0;
  if (input.empty()) {
    close(in[1]);
    in[1] = -1;
  } else {
    fcntl(in[1], F_SETFL, O_NONBLOCK);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (out_open) fds[n++] = {out[0], POLLIN, 0};
    if (err_open) fds[n++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) fds[n++] = {in[1], POLLOUT, 0};
    int pr = poll(fds, n, int(std::min<int64_t>(left.count(), 1000)));
    if (pr < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in[1]) {
        ssize_t w = write(in[1], input.data() + written, input.size() - written);
        if (w > 0) written += size_t(w);
        if (w < 0 || written == input.size()) {
          close(in[1]);
          in[1] = -1;
        }
        continue;
      }
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        if (fds[i].fd == out[0])
          out_open = false;
        else
          err_open = false;
      } else {
        (fds[i].fd == out[0] ? r.out : r.err).append(buf, size_t(got));
      }
    }
  }
  if (in[1] >= 0) close(in[1]);
  close(out[0]);
  close(err[0]);
  int status = 0;
  if (r.timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.exit_code = -1;
  } else {
    waitpid(pid, &status, 0);
    r.exit_code = decodeStatus(status);
  }
  return r;
}

RunResult sh(const std::string& script, std::chrono::milliseconds timeout) {
  return run({"sh", "-c", script}, timeout);
}

Process::Process(const std::vector<std::string>& argv, const std::string& log_path, bool keep_stdin)
    : log_path_(log_path) {
  int logfd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (logfd < 0) throw std::runtime_error("open " + log_path + ": " + strerror(errno));
  int in[2] = {-1, -1};
  if (keep_stdin && pipe2(in, O_CLOEXEC)) throw std::runtime_error("pipe");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
  if (pid_ == 0) {
    setpgid(0, 0);
    if (keep_stdin) {
      dup2(in[0], 0);
    } else {
      int devnull = open("/dev/null", O_RDONLY);
      dup2(devnull, 0);
    }
    dup2(logfd, 1);
    dup2(logfd, 2);
    auto v = cArgv(argv);
    execvp(v[0], v.data());
    dprintf(2, "exec %s: %s\n", v[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid_, pid_);
  close(logfd);
  if (keep_stdin) {
    close(in[0]);
    stdin_fd_ = in[1];
  }
}

Process::~Process() {
  stop();
}

bool Process::running() {
  if (pid_ < 0) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = decodeStatus(status);
    // The leader is gone; make sure no child it left in its group survives.
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    return false;
  }
  return true;
}

std::string Process::log() const {
  std::ifstream f(log_path_);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void Process::writeStdin(const std::string& data) {
  if (stdin_fd_ < 0) return;
  ssize_t w = write(stdin_fd_, data.data(), data.size());
  (void)w;
}

void Process::closeStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

bool Process::waitExit(std::chrono::milliseconds timeout) {
  return waitFor([&] { return !running(); }, timeout, std::chrono::milliseconds(5));
}

int Process::stop(std::chrono::milliseconds grace) {
  closeStdin();
  if (!running()) return exit_code_;
  ::kill(pid_, SIGTERM);
  if (!waitExit(grace)) return kill();
  return exit_code_;
}

int Process::kill() {
  closeStdin();
  if (!running()) return exit_code_;
  pid_t pid = pid_;
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  exit_code_ = decodeStatus(status);
  pid_ = -1;
  return exit_code_;
}

}  // namespace vfo::testing
