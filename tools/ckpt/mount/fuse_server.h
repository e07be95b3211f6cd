// mount/fuse_server: serves a MountFs at a mount point through libfuse3,
// read-only, on several threads, until SIGINT, SIGTERM or SIGHUP (or
// `fusermount3 -u`) unmounts it.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ckpt/result.h"
#include "ckpt/status.h"
#include "mount/mount_fs.h"

namespace ckpt::mount {

struct FuseOptions {
  bool allow_other = false;  // let other users read the mount (needs user_allow_other)
  bool debug = false;        // libfuse's request trace on stderr
};

// Mounts `fs` at `mountpoint`, calls `ready` once the mount is in place, and
// serves requests until unmounted. Errors (kIOError) name the mount point:
// not an empty directory, no /dev/fuse, no permission.
Status ServeFuse(MountFs& fs, const std::string& mountpoint, const FuseOptions& options,
                 const std::function<void()>& ready);

}  // namespace ckpt::mount
