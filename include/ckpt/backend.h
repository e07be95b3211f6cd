// ckpt/backend.h: the object storage under packs and refs.
//
// A Backend stores immutable named objects ("packs/3f/3f2a…", "config",
// "refs/tags/best"). Everything the store writes besides its RocksDB index
// goes through it, so that faults can be injected in tests and object storage
// can replace the local directory later. Names are '/'-separated relative
// paths of [A-Za-z0-9._-] components.
//
// Thread-safety: implementations must allow concurrent calls from many
// threads. Stability: stable; methods may be added with default bodies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/export.h"
#include "ckpt/result.h"
#include "ckpt/status.h"

namespace ckpt {

class CKPT_EXPORT Backend {
 public:
  virtual ~Backend() = default;

  // Stores `size` bytes under `name`, replacing any object of that name.
  // Atomic and durable on OK: after a crash the object holds either all of
  // the new bytes or its previous state (usually: it does not exist).
  // Errors: kIOError, kNoSpace.
  virtual Status Put(const std::string& name, const void* data, size_t size) = 0;

  // An object for PutMany: its name and all of its bytes.
  struct NamedObject {
    std::string name;
    std::string bytes;
  };

  // Stores every object in `objects` as Put does; all of them are durable
  // on OK. Backends override it to make many small objects durable at once
  // (gc writes a tombstone per checkpoint it removes, thousands at a time).
  // Default: Put for each, 16 at a time. On error some may have been
  // stored. Errors: as Put.
  virtual Status PutMany(const std::vector<NamedObject>& objects);

  // Stores `size` bytes under `name` only if no object of that name exists.
  // Of several concurrent creators of one name exactly one succeeds; the
  // others get kAlreadyExists and change nothing. Atomic and durable on OK,
  // as Put. What commits to a store shared by many hosts rests on it.
  // Errors: kAlreadyExists, kIOError, kNoSpace; kNotSupported (the default).
  virtual Status Create(const std::string& name, const void* data, size_t size) {
    (void)data;
    (void)size;
    return Status::NotSupported("create-if-absent of " + name);
  }

  // Reads exactly `length` bytes at `offset` of object `name` into `dst`.
  // Errors: kNotFound; kCorruption if the object is shorter; kIOError.
  virtual Status Get(const std::string& name, uint64_t offset, size_t length, void* dst) = 0;

  // Returns the size in bytes of object `name`. Errors: kNotFound, kIOError.
  virtual Result<uint64_t> Size(const std::string& name) = 0;

  // Returns all the bytes of object `name`, which should be small (a
  // config, a ref, an index-log record, a lease). Default: Size, then Get;
  // an object store reads it in one request instead of two.
  // Errors: kNotFound, kCorruption (it changed size meanwhile), kIOError.
  virtual Result<std::string> GetWhole(const std::string& name) {
    auto size = Size(name);
    if (!size.ok()) return size.status();
    std::string bytes(*size, '\0');
    Status s = Get(name, 0, bytes.size(), bytes.data());
    if (!s.ok()) return s;
    return bytes;
  }

  // Lists the names of all objects whose name starts with `prefix`, sorted.
  virtual Result<std::vector<std::string>> List(const std::string& prefix) = 0;

  // Lists, sorted, the names starting with `prefix` that sort after
  // `after`: an object store starts its listing there instead of reading
  // everything before it. Default: List, filtered.
  virtual Result<std::vector<std::string>> ListAfter(const std::string& prefix,
                                                     const std::string& after) {
    auto names = List(prefix);
    if (!names.ok()) return names.status();
    std::vector<std::string> later;
    for (auto& name : *names)
      if (name > after) later.push_back(std::move(name));
    return later;
  }

  // Deletes object `name`; deleting a missing object is OK. Durable on OK.
  virtual Status Remove(const std::string& name) = 0;

  // Deletes every object in `names`, in order; missing ones are OK. All the
  // deletions (and the absence of the objects that were missing) are
  // durable on OK. Backends override it to make many deletions durable at
  // once; the default calls Remove for each. On error some may have been
  // deleted.
  virtual Status RemoveMany(const std::vector<std::string>& names) {
    for (const auto& name : names) {
      Status s = Remove(name);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  // Like RemoveMany, but the deletions need not be durable on OK: after a
  // crash some objects may be back. For deletions that a later call of
  // RemoveMany confirms (gc deletes pack files this way: making gigabytes of
  // deletions durable at once can cost a file system more than the
  // deletions). Default: RemoveMany.
  virtual Status RemoveManyUnsynced(const std::vector<std::string>& names) {
    return RemoveMany(names);
  }

  // Returns when object `name` was last written, in ns since the Unix
  // epoch. Garbage collection uses it to leave young objects of saves in
  // flight alone. Default: kNotSupported (gc then never deletes orphans).
  virtual Result<int64_t> ModifiedTimeNs(const std::string& name) {
    return Status::NotSupported("modification times of " + name);
  }

  // What RemoveAbandonedWrites removed.
  struct AbandonedWrites {
    uint64_t objects = 0;
    uint64_t bytes = 0;
  };

  // Removes the remains of Puts under `prefix` that a crash interrupted
  // (a local backend's temporary files; an object store's incomplete
  // uploads), if last written before `written_before_ns` (ns since the Unix
  // epoch), so that one still being written is left alone. Never touches
  // an object that Put completed. Default: nothing to remove.
  virtual Result<AbandonedWrites> RemoveAbandonedWrites(const std::string& prefix,
                                                        int64_t written_before_ns) {
    (void)prefix;
    (void)written_before_ns;
    return AbandonedWrites{};
  }

  // A short human description, e.g. "local:/data/store".
  virtual std::string Describe() const = 0;
};

// Returns a backend storing objects as files under directory `root`, which
// must exist. Put writes a temporary file, fsyncs it, renames it into place
// and fsyncs the directory; ENOSPC maps to kNoSpace. Objects of 1 MiB or
// more are written with O_DIRECT where the file system takes it (their
// last partial 4 KiB block, and everything elsewhere, through the page
// cache); reads of 64 KiB or more take what the page cache holds and read
// the rest with O_DIRECT.
CKPT_EXPORT std::shared_ptr<Backend> NewLocalBackend(const std::string& root);

}  // namespace ckpt
