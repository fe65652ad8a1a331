#include "vfo/base/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace vfo {

namespace {

struct Split {
  std::string dir;
  std::string name;
};

Split split(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return {".", path};
  return {pos == 0 ? "/" : path.substr(0, pos), path.substr(pos + 1)};
}

Status writeAll(int fd, std::string_view data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus(errno, what);
    }
    off += size_t(n);
  }
  return okStatus();
}

}  // namespace

Status writeFileAtomically(const std::string& path, std::string_view contents, int mode) {
  const Split s = split(path);
  if (s.name.empty()) return invalidArgument("state file path '" + path + "' names a directory");
  const std::string tmp = s.dir + "/." + s.name + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return errnoStatus(errno, "create " + tmp);
  Status st = writeAll(fd, contents, "write " + tmp);
  if (st.isOk() && ::fsync(fd) != 0) st = errnoStatus(errno, "fsync " + tmp);
  if (::close(fd) != 0 && st.isOk()) st = errnoStatus(errno, "close " + tmp);
  if (st.isOk() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = errnoStatus(errno, "rename " + tmp + " to " + path);
  if (!st.isOk()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable only once the directory entry is on disk.
  int dfd = ::open(s.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return errnoStatus(errno, "open directory " + s.dir);
  Status dst = ::fsync(dfd) == 0 ? okStatus() : errnoStatus(errno, "fsync directory " + s.dir);
  ::close(dfd);
  return dst;
}

StatusOr<std::string> readWholeFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errnoStatus(errno, "open " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return errnoStatus(e, "read " + path);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return resourceExhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

int removeStaleTempFiles(const std::string& path) {
  const Split s = split(path);
  const std::string prefix = "." + s.name + ".tmp.";
  DIR* d = ::opendir(s.dir.c_str());
  if (!d) return 0;
  int removed = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind(prefix, 0) == 0 && ::unlinkat(::dirfd(d), n.c_str(), 0) == 0) ++removed;
  }
  ::closedir(d);
  return removed;
}

}  // namespace vfo
