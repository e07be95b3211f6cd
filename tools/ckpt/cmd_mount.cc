// ckpt mount: every checkpoint of the store as a read-only file system
// (layout in mount/mount_fs.h and docs/mount.md).
#include <fcntl.h>
#include <fmt/core.h>
#include <limits.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "ckpt/s3.h"
#include "commands.h"
#include "mount/fuse_server.h"
#include "mount/mount_fs.h"

namespace ckpt::cli {
namespace {

struct MountArgs {
  std::string mountpoint;
  bool background = false;
  bool allow_other = false;
  bool debug = false;
  uint64_t cache_mib = 256;
  uint64_t readahead_mib = 8;
};

// Serves the mount until it is unmounted; `ready` runs once it is in place.
Status Serve(const Context& ctx, const MountArgs& args, bool to_syslog,
             const std::function<void()>& ready) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  mount::MountOptions options;
  options.cache_bytes = args.cache_mib << 20;
  options.readahead_bytes = args.readahead_mib << 20;
  options.log = [to_syslog](const std::string& line) {
    if (to_syslog) {
      syslog(LOG_ERR, "%s", line.c_str());
    } else {
      fmt::print(stderr, "ckpt mount: {}\n", line);
    }
  };
  mount::MountFs fs(*store, options);
  mount::FuseOptions fuse;
  fuse.allow_other = args.allow_other;
  fuse.debug = args.debug;
  const Status status = mount::ServeFuse(fs, args.mountpoint, fuse, ready);
  // The daemon ends as soon as it is unmounted: a read-only store has
  // nothing to flush, and whoever unmounted may be waiting for it to go.
  if (to_syslog) {
    if (!status.ok()) syslog(LOG_ERR, "%s", status.ToString().c_str());
    _exit(status.ok() ? 0 : 1);
  }
  return status;
}

Status RunForeground(const Context& ctx, const MountArgs& args) {
  return Serve(ctx, args, /*to_syslog=*/false, [&] {
    Say(ctx, fmt::format("mounted {} at {}; unmount with Ctrl-C or fusermount3 -u {}",
                         ctx.store_path, args.mountpoint, args.mountpoint));
  });
}

void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The daemon: reports "ok" or its error on `report_fd`, then serves.
[[noreturn]] void RunDaemon(const Context& ctx, const MountArgs& args, int report_fd) {
  setsid();
  if (chdir("/") != 0) _exit(1);
  openlog("ckpt-mount", LOG_PID, LOG_DAEMON);
  const Status status = Serve(ctx, args, /*to_syslog=*/true, [&] {
    const int null_fd = open("/dev/null", O_RDWR);
    for (int fd = 0; fd <= 2 && null_fd >= 0; ++fd) dup2(null_fd, fd);
    if (null_fd > 2) close(null_fd);
    WriteAll(report_fd, "ok");
    close(report_fd);
    report_fd = -1;
  });
  if (report_fd >= 0) {
    WriteAll(report_fd, std::to_string(static_cast<int>(status.code())) + "\n" + status.message());
  } else if (!status.ok()) {
    syslog(LOG_ERR, "%s", status.ToString().c_str());
  }
  _exit(status.ok() ? 0 : 1);
}

// Forks the daemon before anything starts a thread, and waits for it to
// report that the mount is in place (or why not).
Status RunBackground(Context ctx, MountArgs args) {
  // The daemon leaves the working directory; relative paths must not care.
  char resolved[PATH_MAX];
  if (realpath(args.mountpoint.c_str(), resolved) == nullptr) {
    return Status::NotFound("mount point " + args.mountpoint + ": " + std::strerror(errno));
  }
  args.mountpoint = resolved;
  if (!IsS3Url(ctx.store_path) && realpath(ctx.store_path.c_str(), resolved) != nullptr) {
    ctx.store_path = resolved;
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(pipe_fds[0]);
    RunDaemon(ctx, args, pipe_fds[1]);
  }
  close(pipe_fds[1]);
  std::string report;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  if (report == "ok") {
    Say(ctx, fmt::format("mounted {} at {} (process {}); unmount with fusermount3 -u {}",
                         ctx.store_path, args.mountpoint, pid, args.mountpoint));
    return Status::OK();
  }
  const size_t newline = report.find('\n');
  if (newline == std::string::npos) return Status::IOError("the mount process ended early");
  return Status(static_cast<Code>(std::atoi(report.substr(0, newline).c_str())),
                report.substr(newline + 1));
}

}  // namespace

void RegisterMount(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mount", "Show every checkpoint as read-only files (safetensors, .npy) under MOUNTPOINT");
  cmd->add_option("mountpoint", args->mountpoint, "An existing, empty directory")->required();
  cmd->add_flag("--background", args->background,
                "Return once mounted and serve from a background process");
  cmd->add_option("--cache-mib", args->cache_mib,
                  "Memory for decoded chunks kept for later reads, MiB (default 256)")
      ->type_name("N");
  cmd->add_option("--readahead-mib", args->readahead_mib,
                  "Decode this far ahead of a file read front to back, MiB (default 8; 0: off; "
                  "at most a quarter of the cache)")
      ->type_name("N");
  cmd->add_flag("--allow-other", args->allow_other,
                "Let other users read the mount (needs user_allow_other in /etc/fuse.conf)");
  cmd->add_flag("--debug", args->debug, "Trace every FUSE request on stderr");
  OnRun(cmd, ctx, [&ctx, args] {
    return args->background ? RunBackground(ctx, *args) : RunForeground(ctx, *args);
  });
}

}  // namespace ckpt::cli
