#include "vfo/sriov/sysfs_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace vfo::sriov {

DirectorySysfsIo::DirectorySysfsIo(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string DirectorySysfsIo::full(const std::string& path) const {
  return root_ + "/" + path;
}

StatusOr<std::string> DirectorySysfsIo::read(const std::string& path) const {
  const std::string p = full(path);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, "read " + p);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errnoStatus(err, "read " + p);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > (1u << 20)) break;  // sysfs attributes are one page
  }
  ::close(fd);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out;
}

Status DirectorySysfsIo::write(const std::string& path, const std::string& value) {
  const std::string p = full(path);
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, "write " + p);
  const std::string line = value + "\n";
  ssize_t n;
  do {
    n = ::write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (n < 0) return errnoStatus(err, "write '" + value + "' to " + p);
  if (size_t(n) != line.size()) return unavailable("short write to " + p);
  return okStatus();
}

StatusOr<std::string> DirectorySysfsIo::readLink(const std::string& path) const {
  const std::string p = full(path);
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
  if (n < 0) return errnoStatus(errno, "readlink " + p);
  return std::string(buf, size_t(n));
}

StatusOr<std::vector<std::string>> DirectorySysfsIo::list(const std::string& dir) const {
  const std::string p = full(dir);
  DIR* d = ::opendir(p.c_str());
  if (!d) return errnoStatus(errno, "list " + p);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool DirectorySysfsIo::exists(const std::string& path) const {
  struct stat st;
  return ::lstat(full(path).c_str(), &st) == 0;
}

}  // namespace vfo::sriov
