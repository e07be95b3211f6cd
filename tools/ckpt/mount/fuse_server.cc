#define FUSE_USE_VERSION 31
#include "mount/fuse_server.h"

#include <fcntl.h>
#include <fuse3/fuse.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mount/file_names.h"

namespace ckpt::mount {
namespace {

MountFs& Fs() { return *static_cast<MountFs*>(fuse_get_context()->private_data); }

int Errno(const Status& status) {
  switch (status.code()) {
    case Code::kNotFound:
      return ENOENT;
    case Code::kInvalidArgument:
      return EINVAL;
    default:
      return EIO;
  }
}

void FillStat(const NodeAttr& attr, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  switch (attr.kind) {
    case NodeKind::kDirectory:
      st->st_mode = S_IFDIR | 0555;
      st->st_nlink = 2;
      break;
    case NodeKind::kFile:
      st->st_mode = S_IFREG | 0444;
      st->st_nlink = 1;
      break;
    case NodeKind::kSymlink:
      st->st_mode = S_IFLNK | 0777;
      st->st_nlink = 1;
      break;
  }
  st->st_size = static_cast<off_t>(attr.size);
  st->st_blksize = 128 * 1024;
  st->st_blocks = static_cast<blkcnt_t>((attr.size + 511) / 512);
  st->st_uid = getuid();
  st->st_gid = getgid();
  st->st_mtim.tv_sec = attr.mtime_ns / 1000000000;
  st->st_mtim.tv_nsec = attr.mtime_ns % 1000000000;
  st->st_atim = st->st_mtim;
  st->st_ctim = st->st_mtim;
}

void* Init(fuse_conn_info*, fuse_config* cfg) {
  // The listing is refreshed at most once a second (MountOptions::refresh);
  // the kernel may keep names and attributes as long.
  cfg->entry_timeout = 1.0;
  cfg->attr_timeout = 1.0;
  cfg->negative_timeout = 1.0;
  return fuse_get_context()->private_data;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* fi) {
  // The kernel asks again about an open file (fstat, a read past the size
  // it knows); its checkpoint may be gone from the listing by then.
  if (fi != nullptr && fi->fh != 0) {
    FillStat(MountFs::GetAttr(*reinterpret_cast<OpenFile*>(fi->fh)), st);
    return 0;
  }
  auto attr = Fs().GetAttr(path);
  if (!attr.ok()) return -Errno(attr.status());
  FillStat(*attr, st);
  return 0;
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t filler, off_t, fuse_file_info*,
            fuse_readdir_flags) {
  auto entries = Fs().ReadDir(path);
  if (!entries.ok()) return -Errno(entries.status());
  filler(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  filler(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const DirEntry& e : *entries) {
    struct stat st;
    FillStat({e.kind, 0, 0}, &st);
    if (filler(buf, e.name.c_str(), &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int ReadLink(const char* path, char* buf, size_t size) {
  auto target = Fs().ReadLink(path);
  if (!target.ok()) return -Errno(target.status());
  if (size == 0) return -EINVAL;
  const size_t n = std::min(size - 1, target->size());
  std::memcpy(buf, target->data(), n);
  buf[n] = '\0';
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  auto file = Fs().Open(path);
  if (!file.ok()) return -Errno(file.status());
  fi->fh = reinterpret_cast<uint64_t>(*file);
  return 0;
}

int Read(const char*, char* buf, size_t size, off_t offset, fuse_file_info* fi) {
  auto* file = reinterpret_cast<OpenFile*>(fi->fh);
  auto n = Fs().Read(*file, static_cast<uint64_t>(offset), size, buf);
  // A chunk that fails its hash, or a pack gone missing, is an I/O error
  // to the reader (MountFs logged what it was).
  if (!n.ok()) return -EIO;
  return static_cast<int>(*n);
}

int Release(const char*, fuse_file_info* fi) {
  Fs().Close(reinterpret_cast<OpenFile*>(fi->fh));
  return 0;
}

int StatFs(const char*, struct statvfs* st) {
  std::memset(st, 0, sizeof(*st));
  st->f_bsize = 4096;
  st->f_frsize = 4096;
  st->f_namemax = kMaxFileName;
  return 0;
}

fuse_operations Operations() {
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.readlink = ReadLink;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.statfs = StatFs;
  return ops;
}

}  // namespace

Status ServeFuse(MountFs& fs, const std::string& mountpoint, const FuseOptions& options,
                 const std::function<void()>& ready) {
  std::string mount_options = "ro,default_permissions,fsname=ckpt,subtype=ckpt";
  if (options.allow_other) mount_options += ",allow_other";
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  fuse_opt_add_arg(&args, "ckpt");
  fuse_opt_add_arg(&args, "-o");
  fuse_opt_add_arg(&args, mount_options.c_str());
  if (options.debug) fuse_opt_add_arg(&args, "-d");
  const fuse_operations ops = Operations();
  fuse* f = fuse_new(&args, &ops, sizeof(ops), &fs);
  fuse_opt_free_args(&args);
  if (f == nullptr) return Status::IOError("mount " + mountpoint + ": fuse_new failed");
  if (fuse_mount(f, mountpoint.c_str()) != 0) {
    fuse_destroy(f);
    return Status::IOError("mount " + mountpoint +
                           ": cannot mount (is it an existing directory, is /dev/fuse there "
                           "and fusermount3 installed?)");
  }
  fuse_session* session = fuse_get_session(f);
  if (fuse_set_signal_handlers(session) != 0) {
    fuse_unmount(f);
    fuse_destroy(f);
    return Status::IOError("mount " + mountpoint + ": cannot install signal handlers");
  }
  ready();
  const int rc = fuse_loop_mt(f, 0);
  fuse_remove_signal_handlers(session);
  fuse_unmount(f);
  fuse_destroy(f);
  // A signal ends the loop with its number; only a broken channel is an error.
  if (rc < 0) return Status::IOError("mount " + mountpoint + ": " + std::strerror(-rc));
  return Status::OK();
}

}  // namespace ckpt::mount
