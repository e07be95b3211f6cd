#include "backend/local_backend.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/filesystem.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "util/hex.h"

namespace fs = boost::filesystem;

namespace ckpt {

std::shared_ptr<Backend> NewLocalBackend(const std::string& root) {
  return std::make_shared<internal::LocalBackend>(root);
}

namespace internal {
namespace {

constexpr const char* kTempPrefix = ".tmp-";

// Whether the file at `path` is a Put's temporary file.
bool IsTempFile(const std::string& path) {
  return path.compare(path.rfind('/') + 1, std::strlen(kTempPrefix), kTempPrefix) == 0;
}

int64_t ModifiedNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Writes of at most 1 MiB each: on Linux 6.x with ext4, one write of 32 MiB
// into the page cache measured ten times slower than 32 writes of 1 MiB.
constexpr size_t kMaxWrite = 1 << 20;

Status WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, std::min(size, kMaxWrite));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::OK();
}

// Objects of at least this many whole blocks go to disk with O_DIRECT.
constexpr size_t kDirectAlign = 4096;
constexpr size_t kDirectMin = kMaxWrite;

// The per-thread, 4 KiB-aligned buffer that O_DIRECT transfers go through:
// one 1 MiB write, or a read of up to 1 MiB starting mid-block. Null if it
// cannot be allocated (callers then use the page cache).
constexpr size_t kDirectBuffer = kMaxWrite + kDirectAlign;
char* DirectBuffer() {
  struct AlignedFree {
    void operator()(char* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<char, AlignedFree> buffer;
  if (!buffer) {
    void* p = nullptr;
    if (posix_memalign(&p, kDirectAlign, kDirectBuffer) == 0) buffer.reset(static_cast<char*>(p));
  }
  return buffer.get();
}

// Writes the largest prefix of `data` that is a whole number of 4 KiB
// blocks to `tmp` with O_DIRECT, from `data` itself where it is aligned,
// else through an aligned per-thread buffer, and
// sets `*done` to its length. Why: on the VMs measured (2-core EPYC guest,
// ext4), filling fresh page-cache pages cost up to 1 s of system time per
// 140 MiB of packs, more than the whole save, while direct writes of the
// same bytes took 0.15 s; loads and exports that read the packs afterwards
// were no slower. Where O_DIRECT is refused (EINVAL: a file system or an
// alignment it does not take) nothing is written and the caller writes
// everything through the page cache; a real error (ENOSPC, EIO) is returned.
Status WriteDirectPrefix(const std::string& tmp, const void* data, size_t size, size_t* done) {
  *done = 0;
  const size_t aligned = size / kDirectAlign * kDirectAlign;
  if (aligned < kDirectMin) return Status::OK();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return Status::OK();
  const char* src = static_cast<const char*>(data);
  // Data that starts on a block boundary (a pack's buffer) goes to the disk
  // from where it is; other data through the bounce buffer.
  const bool in_place = reinterpret_cast<uintptr_t>(src) % kDirectAlign == 0;
  char* buffer = in_place ? nullptr : DirectBuffer();
  Status s;
  while ((in_place || buffer) && *done < aligned) {
    const size_t n = std::min(aligned - *done, kMaxWrite);
    const char* from = src + *done;
    if (!in_place) from = static_cast<const char*>(std::memcpy(buffer, from, n));
    ssize_t w = ::pwrite(fd, from, n, static_cast<off_t>(*done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL) break;  // not for this file system: buffered from here
    if (w < 0) {
      s = ErrnoStatus(errno, "write", tmp);
      break;
    }
    *done += static_cast<size_t>(w);
  }
  ::close(fd);
  *done = *done / kDirectAlign * kDirectAlign;  // a short write: redo its tail
  return s;
}

// Reads of at least this many bytes that miss the page cache go to disk
// with O_DIRECT (see ReadUncached).
constexpr size_t kDirectReadMin = 64 * 1024;

// Reads what it can of [offset, offset + length) of `path` with O_DIRECT,
// through an aligned per-thread buffer, and returns how many bytes it read
// (0 where O_DIRECT is refused; fewer at the end of the file). Why: packs
// are written past the page cache (WriteDirectPrefix), and reading them
// back through it would pay for filling fresh pages after all: on the
// benchmark machine the first export of a checkpoint from such packs took
// 1.66 s (1.21 s system time), the next ones 0.26-0.38 s.
size_t ReadUncached(const std::string& path, uint64_t offset, size_t length, char* dst) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return 0;
  char* buffer = DirectBuffer();
  size_t done = 0;
  while (buffer && done < length) {
    const uint64_t want = offset + done;
    const uint64_t start = want / kDirectAlign * kDirectAlign;
    const size_t skip = static_cast<size_t>(want - start);
    const size_t span = std::min(
        kDirectBuffer, (skip + (length - done) + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
    ssize_t n = ::pread(fd, buffer, span, static_cast<off_t>(start));
    if (n < 0 && errno == EINTR) continue;
    if (n <= static_cast<ssize_t>(skip)) break;  // error, refusal or end of file
    const size_t got = std::min(length - done, static_cast<size_t>(n) - skip);
    std::memcpy(dst + done, buffer + skip, got);
    done += got;
  }
  ::close(fd);
  return done;
}

// Reads what the page cache holds of the range without waiting for the
// disk; returns the bytes read (0 where RWF_NOWAIT is not supported).
size_t ReadCached(int fd, uint64_t offset, size_t length, char* dst) {
  size_t done = 0;
  while (done < length) {
    iovec v{dst + done, length - done};
    ssize_t n = ::preadv2(fd, &v, 1, static_cast<off_t>(offset + done), RWF_NOWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

Status ErrnoStatus(int err, const std::string& what, const std::string& path) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(msg);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  return rc == 0 ? Status::OK() : ErrnoStatus(err, "fsync directory", dir);
}

Status LocalBackend::EnsureParentDir(const std::string& path) {
  std::string dir = ParentOf(path);
  boost::system::error_code ec;  // the throwing forms must not cross the API
  if (fs::is_directory(dir, ec)) return Status::OK();
  fs::create_directories(dir, ec);
  if (ec) return ErrnoStatus(ec.value(), "create directory", dir);
  // The new directory's entry must itself be durable before files in it are.
  for (std::string d = dir; d.size() > root_.size(); d = ParentOf(d)) {
    CKPT_RETURN_IF_ERROR(SyncDirectory(ParentOf(d)));
  }
  return Status::OK();
}

Result<std::string> LocalBackend::WriteTemp(const std::string& path, const void* data, size_t size,
                                            bool sync) {
  CKPT_RETURN_IF_ERROR(EnsureParentDir(path));
  const std::string tmp = ParentOf(path) + "/" + kTempPrefix + RandomHexId(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create", tmp);
  size_t direct = 0;
  Status s = WriteDirectPrefix(tmp, data, size, &direct);
  if (s.ok() && direct > 0 && ::lseek(fd, static_cast<off_t>(direct), SEEK_SET) < 0)
    s = ErrnoStatus(errno, "seek", tmp);
  // The rest (or all) through the page cache; fsync covers both parts.
  if (s.ok()) s = WriteAll(fd, static_cast<const char*>(data) + direct, size - direct, tmp);
  if (s.ok() && sync && ::fsync(fd) != 0) s = ErrnoStatus(errno, "fsync", tmp);
  if (::close(fd) != 0 && s.ok()) s = ErrnoStatus(errno, "close", tmp);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  return tmp;
}

Status LocalBackend::Put(const std::string& name, const void* data, size_t size) {
  const std::string path = PathOf(name);
  CKPT_ASSIGN_OR_RETURN(std::string tmp, WriteTemp(path, data, size));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = ErrnoStatus(errno, "rename", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDirectory(ParentOf(path));
}

namespace {

void UnlinkTemps(const std::vector<std::string>& temps) {
  for (const auto& tmp : temps)
    if (!tmp.empty()) ::unlink(tmp.c_str());
}

}  // namespace

Status LocalBackend::PutMany(const std::vector<NamedObject>& objects) {
  // Put's steps for all objects at once: every temporary file written
  // without a sync of its own, one sync of the file system for all their
  // bytes, the renames, one sync per directory. Thousands of small objects
  // cost a few journal commits instead of two each.
  if (objects.empty()) return Status::OK();
  // Opened before the writes: syncfs(2) reports the writeback errors that
  // happened since its descriptor was opened (Linux 5.8 and later), so one
  // opened after a failed background writeback would report nothing.
  const int root_fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return ErrnoStatus(errno, "open directory", root_);
  // On one thread: creating files in one directory takes the directory's
  // lock, and more threads only spun on it (14% of a gc's CPU time with 8).
  std::vector<std::string> temps(objects.size());
  Status error;
  for (size_t i = 0; error.ok() && i < objects.size(); ++i) {
    auto tmp = WriteTemp(PathOf(objects[i].name), objects[i].bytes.data(), objects[i].bytes.size(),
                         /*sync=*/false);
    if (tmp.ok()) {
      temps[i] = std::move(*tmp);
    } else {
      error = tmp.status();
    }
  }
  if (error.ok() && ::syncfs(root_fd) != 0) error = ErrnoStatus(errno, "syncfs", root_);
  ::close(root_fd);
  std::set<std::string> dirs;
  for (size_t i = 0; error.ok() && i < objects.size(); ++i) {
    const std::string path = PathOf(objects[i].name);
    if (::rename(temps[i].c_str(), path.c_str()) != 0) {
      error = ErrnoStatus(errno, "rename", temps[i]);
      break;
    }
    temps[i].clear();
    dirs.insert(ParentOf(path));
  }
  UnlinkTemps(temps);
  for (const auto& dir : dirs)
    if (error.ok()) error = SyncDirectory(dir);
  return error;
}

Status LocalBackend::Create(const std::string& name, const void* data, size_t size) {
  const std::string path = PathOf(name);
  CKPT_ASSIGN_OR_RETURN(std::string tmp, WriteTemp(path, data, size));
  // link(2), unlike rename(2), fails rather than replace an existing name.
  int rc = ::link(tmp.c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp.c_str());
  if (rc != 0 && err == EEXIST) return Status::AlreadyExists("create " + path + ": exists");
  if (rc != 0 && (err == EPERM || err == EOPNOTSUPP || err == ENOSYS)) {
    return Status::NotSupported("create " + path + ": the file system has no hard links");
  }
  if (rc != 0) return ErrnoStatus(err, "link", tmp);
  return SyncDirectory(ParentOf(path));
}

Status LocalBackend::Get(const std::string& name, uint64_t offset, size_t length, void* dst) {
  const std::string path = PathOf(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  char* p = static_cast<char*>(dst);
  if (length >= kDirectReadMin) {
    // What the page cache holds is served from it; the rest is read past
    // it; whatever is left (a refusal, a short file) the loop below reads
    // and reports as before.
    size_t done = ReadCached(fd, offset, length, p);
    if (done < length) done += ReadUncached(path, offset + done, length - done, p + done);
    p += done;
    offset += done;
    length -= done;
  }
  Status s;
  while (length > 0) {
    ssize_t n = ::pread(fd, p, length, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      s = ErrnoStatus(errno, "read", path);
      break;
    }
    if (n == 0) {
      s = Status::Corruption("read " + path + ": object ends before offset " +
                             std::to_string(offset + length));
      break;
    }
    p += n;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<size_t>(n);
  }
  ::close(fd);
  return s;
}

Result<uint64_t> LocalBackend::Size(const std::string& name) {
  const std::string path = PathOf(name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  return static_cast<uint64_t>(st.st_size);
}

Result<int64_t> LocalBackend::ModifiedTimeNs(const std::string& name) {
  const std::string path = PathOf(name);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  return ModifiedNs(st);
}

namespace {

// Calls fn(path, stat) for every regular file under `dir`, depth first.
// Files and directories that vanish meanwhile (a Put renaming its
// temporary file, gc deleting) are skipped, not errors: a listing is a
// snapshot of some moment anyway.
Status WalkFiles(const std::string& dir,
                 const std::function<void(const std::string&, const struct stat&)>& fn) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return errno == ENOENT ? Status::OK() : ErrnoStatus(errno, "list", dir);
  std::vector<std::string> subdirs;
  Status s;
  for (;;) {
    // readdir reports an error only through errno, and a skipped entry
    // (vanished between readdir and fstatat) leaves ENOENT there: clear it
    // before every call, or the end of the directory reads as an error.
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) s = ErrnoStatus(errno, "list", dir);
      break;
    }
    const char* name = e->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      s = ErrnoStatus(errno, "stat", dir + "/" + name);
      break;
    }
    if (S_ISDIR(st.st_mode)) subdirs.push_back(dir + "/" + name);
    if (S_ISREG(st.st_mode)) fn(dir + "/" + name, st);
  }
  ::closedir(d);
  for (const auto& sub : subdirs) {
    if (!s.ok()) break;
    s = WalkFiles(sub, fn);
  }
  return s;
}

// The directory under `root` that holds every object whose name starts
// with `prefix`.
std::string DirOfPrefix(const std::string& root, const std::string& prefix) {
  size_t slash = prefix.rfind('/');
  return slash == std::string::npos ? root : root + "/" + prefix.substr(0, slash);
}

}  // namespace

Result<std::vector<std::string>> LocalBackend::List(const std::string& prefix) {
  std::vector<std::string> names;
  const std::string start = DirOfPrefix(root_, prefix);
  CKPT_RETURN_IF_ERROR(WalkFiles(start, [&](const std::string& path, const struct stat&) {
    if (IsTempFile(path)) return;
    std::string name = path.substr(root_.size() + 1);
    if (name.rfind(prefix, 0) == 0) names.push_back(std::move(name));
  }));
  std::sort(names.begin(), names.end());
  return names;
}

// Put's temporary files are named ".tmp-<random>" beside the object: any
// such file whose writer died stays until this removes it. Not made
// durable: one that a crash brings back is removed next time.
Result<Backend::AbandonedWrites> LocalBackend::RemoveAbandonedWrites(const std::string& prefix,
                                                                     int64_t written_before_ns) {
  const std::string start = DirOfPrefix(root_, prefix);
  // Found first, removed after the walk.
  std::vector<std::pair<std::string, uint64_t>> doomed;
  CKPT_RETURN_IF_ERROR(WalkFiles(start, [&](const std::string& path, const struct stat& st) {
    if (!IsTempFile(path)) return;
    // A younger one may still be being written.
    if (ModifiedNs(st) < written_before_ns)
      doomed.emplace_back(path, static_cast<uint64_t>(st.st_size));
  }));
  AbandonedWrites removed;
  for (const auto& [path, size] : doomed) {
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return ErrnoStatus(errno, "remove", path);
    }
    removed.objects++;
    removed.bytes += size;
  }
  return removed;
}

Status LocalBackend::Remove(const std::string& name) {
  const std::string path = PathOf(name);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::OK();  // already gone: nothing to make durable
    return ErrnoStatus(errno, "remove", path);
  }
  return SyncDirectory(ParentOf(path));
}

namespace {

// Unlinks every name; returns the directories that held one.
Result<std::set<std::string>> UnlinkAll(const std::vector<std::string>& paths) {
  std::set<std::string> dirs;
  for (const auto& path : paths) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "remove", path);
    dirs.insert(ParentOf(path));
  }
  return dirs;
}

}  // namespace

Status LocalBackend::RemoveMany(const std::vector<std::string>& names) {
  // One directory sync per directory, after all the unlinks: the file
  // system commits them together, so this costs about one sync, not one
  // per object. Directories of names already missing are synced too, so
  // that an unsynced earlier removal becomes durable.
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back(PathOf(name));
  CKPT_ASSIGN_OR_RETURN(auto dirs, UnlinkAll(paths));
  for (const auto& dir : dirs) CKPT_RETURN_IF_ERROR(SyncDirectory(dir));
  return Status::OK();
}

Status LocalBackend::RemoveManyUnsynced(const std::vector<std::string>& names) {
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back(PathOf(name));
  return UnlinkAll(paths).status();
}

}  // namespace internal
}  // namespace ckpt
