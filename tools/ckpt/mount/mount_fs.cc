#include "mount/mount_fs.h"

#include <algorithm>

namespace ckpt::mount {
namespace {

constexpr size_t kRecentCheckpoints = 16;

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// The step a directory name spells, written as the mount writes it.
std::optional<uint64_t> ParseStep(std::string_view name) {
  if (name.empty() || name.size() > 20) return std::nullopt;
  uint64_t step = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    step = step * 10 + static_cast<uint64_t>(c - '0');
  }
  if (std::to_string(step) != name) return std::nullopt;
  return step;
}

bool IsEntryDir(std::string_view name) { return name == "tensors" || name == "blobs"; }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct MountFs::Location {
  enum Kind { kRoot, kRunsDir, kTagsDir, kRun, kLatest, kTag, kCheckpoint, kEntryDir, kFile };
  Kind kind = kRoot;
  std::shared_ptr<const TreeSnapshot> tree;  // keeps the pointers below valid
  const RunNode* run = nullptr;
  const CheckpointInfo* checkpoint = nullptr;
  std::string link_target;  // kLatest, kTag
  std::string sub;          // kEntryDir: its name; kFile: its path in the checkpoint
};

MountFs::MountFs(Store& store, MountOptions options)
    : store_(store),
      options_(std::move(options)),
      cache_(options_.cache_bytes),
      tree_(store, options_.refresh),
      mounted_at_ns_(NowNs()),
      prefetcher_(options_.readahead_bytes > 0 ? std::max(1u, options_.prefetch_threads) : 0) {
  options_.readahead_bytes = std::min(options_.readahead_bytes, options_.cache_bytes / 4);
}

Result<MountFs::Location> MountFs::Resolve(std::string_view path) {
  const std::vector<std::string_view> parts = SplitPath(path);
  Location loc;
  CKPT_ASSIGN_OR_RETURN(loc.tree, tree_.Current());
  const auto missing = [&] { return Status::NotFound("no such file: " + std::string(path)); };
  if (parts.empty()) return loc;
  if (parts[0] == "tags") {
    loc.kind = Location::kTagsDir;
    if (parts.size() == 1) return loc;
    auto tag = loc.tree->tags.find(std::string(parts[1]));
    if (parts.size() > 2 || tag == loc.tree->tags.end()) return missing();
    loc.kind = Location::kTag;
    loc.link_target = "../runs/" + tag->second.run_file + "/" + std::to_string(tag->second.step);
    loc.run = &loc.tree->runs.at(tag->second.run_file);
    loc.checkpoint = &loc.run->steps.at(tag->second.step);
    return loc;
  }
  if (parts[0] != "runs") return missing();
  loc.kind = Location::kRunsDir;
  if (parts.size() == 1) return loc;
  auto run = loc.tree->runs.find(std::string(parts[1]));
  if (run == loc.tree->runs.end()) return missing();
  loc.kind = Location::kRun;
  loc.run = &run->second;
  if (parts.size() == 2) return loc;
  if (parts[2] == "latest" && parts.size() == 3) {
    loc.kind = Location::kLatest;
    loc.checkpoint = &loc.run->steps.rbegin()->second;
    loc.link_target = std::to_string(loc.checkpoint->step);
    return loc;
  }
  const std::optional<uint64_t> step = ParseStep(parts[2]);
  auto checkpoint = step ? loc.run->steps.find(*step) : loc.run->steps.end();
  if (checkpoint == loc.run->steps.end()) return missing();
  loc.checkpoint = &checkpoint->second;
  loc.kind = Location::kCheckpoint;
  if (parts.size() == 3) return loc;
  if (parts.size() == 4 && IsEntryDir(parts[3])) {
    loc.kind = Location::kEntryDir;
    loc.sub = std::string(parts[3]);
    return loc;
  }
  if (parts.size() > 5 || (parts.size() == 5 && !IsEntryDir(parts[3]))) return missing();
  loc.kind = Location::kFile;
  loc.sub = std::string(parts[3]);
  if (parts.size() == 5) loc.sub += "/" + std::string(parts[4]);
  return loc;
}

Result<std::shared_ptr<CheckpointFiles>> MountFs::FilesOf(const CheckpointInfo& info) {
  {
    std::lock_guard lock(files_mu_);
    for (auto it = recent_files_.begin(); it != recent_files_.end(); ++it) {
      const CheckpointInfo& cached = (*it)->detail().info;
      // A tag added since makes meta.json stale: lay the files out again.
      if (cached.id != info.id || cached.tags != info.tags) continue;
      auto files = *it;
      recent_files_.erase(it);
      recent_files_.push_back(files);
      return files;
    }
  }
  CKPT_ASSIGN_OR_RETURN(auto files, CheckpointFiles::Open(store_, info.id, cache_));
  std::lock_guard lock(files_mu_);
  recent_files_.push_back(files);
  if (recent_files_.size() > kRecentCheckpoints) recent_files_.erase(recent_files_.begin());
  return files;
}

Result<NodeAttr> MountFs::GetAttr(std::string_view path) {
  auto resolved = Resolve(path);
  if (!resolved.ok()) {
    std::lock_guard lock(files_mu_);
    auto open = open_paths_.find(path);
    if (open != open_paths_.end()) return open->second.attr;
    return resolved.status();
  }
  const Location& loc = *resolved;
  NodeAttr attr;
  switch (loc.kind) {
    case Location::kRoot:
    case Location::kRunsDir:
    case Location::kTagsDir:
      attr.mtime_ns = std::max(loc.tree->newest_wall_time_ns, mounted_at_ns_);
      return attr;
    case Location::kRun:
      attr.mtime_ns = loc.run->latest_wall_time_ns;
      return attr;
    case Location::kLatest:
    case Location::kTag:
      attr.kind = NodeKind::kSymlink;
      attr.size = loc.link_target.size();
      attr.mtime_ns = loc.checkpoint->meta.wall_time_ns;
      return attr;
    case Location::kCheckpoint:
    case Location::kEntryDir:
      attr.mtime_ns = loc.checkpoint->meta.wall_time_ns;
      return attr;
    case Location::kFile:
      break;
  }
  CKPT_ASSIGN_OR_RETURN(auto files, FilesOf(*loc.checkpoint));
  const VirtualFile* file = files->Find(loc.sub);
  if (file == nullptr) return Status::NotFound("no such file: " + std::string(path));
  attr.kind = NodeKind::kFile;
  attr.size = file->size;
  attr.mtime_ns = loc.checkpoint->meta.wall_time_ns;
  return attr;
}

NodeAttr MountFs::GetAttr(const OpenFile& file) {
  NodeAttr attr;
  attr.kind = NodeKind::kFile;
  attr.size = file.file->size;
  attr.mtime_ns = file.files->detail().info.meta.wall_time_ns;
  return attr;
}

Result<std::vector<DirEntry>> MountFs::ReadDir(std::string_view path) {
  CKPT_ASSIGN_OR_RETURN(Location loc, Resolve(path));
  std::vector<DirEntry> out;
  const auto add_all = [&out](const auto& names, NodeKind kind) {
    for (const auto& name : names) out.push_back({name, kind});
  };
  switch (loc.kind) {
    case Location::kRoot:
      return std::vector<DirEntry>{{"runs", NodeKind::kDirectory}, {"tags", NodeKind::kDirectory}};
    case Location::kRunsDir:
      for (const auto& [name, run] : loc.tree->runs) out.push_back({name, NodeKind::kDirectory});
      return out;
    case Location::kTagsDir:
      for (const auto& [name, tag] : loc.tree->tags) out.push_back({name, NodeKind::kSymlink});
      return out;
    case Location::kRun:
      for (const auto& [step, info] : loc.run->steps) {
        out.push_back({std::to_string(step), NodeKind::kDirectory});
      }
      out.push_back({"latest", NodeKind::kSymlink});
      return out;
    case Location::kCheckpoint:
      return std::vector<DirEntry>{{"model.safetensors", NodeKind::kFile},
                                   {"meta.json", NodeKind::kFile},
                                   {"tensors", NodeKind::kDirectory},
                                   {"blobs", NodeKind::kDirectory}};
    case Location::kEntryDir: {
      CKPT_ASSIGN_OR_RETURN(auto files, FilesOf(*loc.checkpoint));
      add_all(loc.sub == "tensors" ? files->TensorFiles() : files->BlobFiles(), NodeKind::kFile);
      return out;
    }
    default:
      return Status::InvalidArgument("not a directory: " + std::string(path));
  }
}

Result<std::string> MountFs::ReadLink(std::string_view path) {
  CKPT_ASSIGN_OR_RETURN(Location loc, Resolve(path));
  if (loc.kind != Location::kLatest && loc.kind != Location::kTag) {
    return Status::InvalidArgument("not a symbolic link: " + std::string(path));
  }
  return loc.link_target;
}

Result<OpenFile*> MountFs::Open(std::string_view path) {
  CKPT_ASSIGN_OR_RETURN(Location loc, Resolve(path));
  if (loc.kind != Location::kFile) {
    return Status::InvalidArgument("not a regular file: " + std::string(path));
  }
  auto open = std::make_unique<OpenFile>();
  CKPT_ASSIGN_OR_RETURN(open->files, FilesOf(*loc.checkpoint));
  open->file = open->files->Find(loc.sub);
  if (open->file == nullptr) return Status::NotFound("no such file: " + std::string(path));
  open->path = std::string(path);
  std::lock_guard lock(files_mu_);
  OpenPath& open_path = open_paths_[open->path];
  ++open_path.opens;
  open_path.attr = GetAttr(*open);
  OpenFile* handle = open.get();
  open_files_.emplace(handle, std::move(open));
  return handle;
}

void MountFs::Close(OpenFile* file) {
  std::unique_ptr<OpenFile> closed;  // freed after the lock
  std::lock_guard lock(files_mu_);
  auto open_path = open_paths_.find(file->path);
  if (open_path != open_paths_.end() && --open_path->second.opens == 0) {
    open_paths_.erase(open_path);
  }
  auto owned = open_files_.find(file);
  if (owned != open_files_.end()) {
    closed = std::move(owned->second);
    open_files_.erase(owned);
  }
}

void MountFs::ReadAhead(OpenFile& file, uint64_t offset, size_t size) {
  const uint64_t end = offset + size;
  const bool sequential = file.next_offset.exchange(end) == offset;
  if (!sequential || options_.readahead_bytes == 0) return;
  // Start the next window once the reader is half way through this one.
  const uint64_t ahead = file.prefetched_to.load();
  if (ahead > end + options_.readahead_bytes / 2) return;
  const uint64_t from = std::max(ahead, end);
  const uint64_t to = end + options_.readahead_bytes;
  file.prefetched_to.store(to);
  file.files->Prefetch(*file.file, from, to - from,
                       [this](std::function<void()> task) { prefetcher_.Run(std::move(task)); });
}

Result<size_t> MountFs::Read(OpenFile& file, uint64_t offset, size_t size, char* dst) {
  ReadAhead(file, offset, size);
  auto n = file.files->Read(*file.file, offset, size, dst);
  if (!n.ok() && options_.log) {
    options_.log("read of " + file.path + " at offset " + std::to_string(offset) + " (" +
                 std::to_string(size) + " bytes): " + n.status().ToString());
  }
  return n;
}

}  // namespace ckpt::mount
