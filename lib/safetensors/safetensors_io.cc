// safetensors/safetensors_io.cc: ImportSafetensors and ExportSafetensors,
// the file and Store side of the safetensors module (the format itself is in
// safetensors_header.cc). Uses the public Store API only.
//
// Import maps the file read-only (mapped_input.h) and hands Save views into
// the mapping, so a large file costs page cache, not heap, and a file larger
// than memory is read through a bounded window. The file must not be
// truncated while it is imported (the mapping would fault). The header (8 + N bytes, verbatim)
// is saved as blob kSafetensorsHeaderBlob; export writes it back and each
// tensor at its original offset, so import -> export is byte-identical,
// including key order, whitespace and padding that re-encoding would lose.
//
// Export writes tensors only: safetensors has no place for blobs, so every
// blob other than the header blob is skipped. A checkpoint without a header
// blob (saved through the API) gets a canonical header: tensors in saved
// order, contiguous offsets, the attributes as "__metadata__". Tensors are
// loaded and written one at a time (large ones in slices), never the whole
// checkpoint at once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ckpt/safetensors.h"
#include "ckpt/store.h"
#include "safetensors/mapped_input.h"
#include "safetensors/safetensors_header.h"

namespace ckpt {
namespace {

using internal::SafetensorsEntry;
using internal::SafetensorsHeader;

Status ErrnoStatus(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(std::move(msg));
  return Status::IOError(std::move(msg));
}

// A file written under a temporary name and renamed into place by Commit;
// the temporary file is removed if Commit is never reached.
class OutputFile {
 public:
  explicit OutputFile(std::string path)
      : path_(std::move(path)), tmp_path_(path_ + ".tmp-" + std::to_string(getpid())) {}
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  ~OutputFile() {
    if (fd_ >= 0) close(fd_);
    if (created_ && !committed_) unlink(tmp_path_.c_str());
  }

  Status Open() {
    fd_ = open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoStatus("create " + tmp_path_, errno);
    created_ = true;
    return Status::OK();
  }

  // For a file of `size` bytes: a large one is written behind, as a
  // streaming copy: every kWriteBehindStep bytes, its dirty pages are sent
  // to the disk and the pages already written dropped from the page cache,
  // so that an export larger than the memory the process may use neither
  // fills it with dirty pages (which stalls every writer in a memory-limited
  // cgroup) nor evicts everyone else's cache.
  void ExpectSize(uint64_t size) { write_behind_ = size >= kWriteBehindMinSize; }

  // Writes `size` bytes at `offset`; safe from several threads at once.
  Status WriteAt(uint64_t offset, const void* data, size_t size) {
    CKPT_RETURN_IF_ERROR(Write(offset, data, size));
    if (!write_behind_) return Status::OK();
    const uint64_t before = written_.fetch_add(size);
    if ((before + size) / kWriteBehindStep != before / kWriteBehindStep) WriteBehind();
    return Status::OK();
  }

 private:
  static constexpr uint64_t kWriteBehindMinSize = 1ull << 30;
  static constexpr uint64_t kWriteBehindStep = 64ull << 20;

  void WriteBehind() {
    // Both only advise: a failure costs memory, never data.
    sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
    posix_fadvise(fd_, 0, 0, POSIX_FADV_DONTNEED);  // skips pages still dirty
  }

  Status Write(uint64_t offset, const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      // At most 1 MiB per call: on Linux 6.x with ext4 one 64 MiB write
      // into the page cache measured ten times slower than 64 of 1 MiB.
      const ssize_t n = pwrite(fd_, p, std::min<size_t>(size, 1 << 20), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write " + tmp_path_, errno);
      }
      p += n;
      offset += static_cast<uint64_t>(n);
      size -= static_cast<size_t>(n);
    }
    return Status::OK();
  }

 public:
  // Puts the file under its final name; with `sync`, durably: fsync,
  // rename, fsync the directory.
  Status Commit(bool sync) {
    if (sync && fsync(fd_) != 0) return ErrnoStatus("fsync " + tmp_path_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) return ErrnoStatus("close " + tmp_path_, errno);
    if (rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      return ErrnoStatus("rename to " + path_, errno);
    }
    committed_ = true;
    if (!sync) return Status::OK();
    const size_t slash = path_.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : path_.substr(0, slash));
    const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return ErrnoStatus("open directory " + dir, errno);
    const int rc = fsync(dir_fd);
    const int err = errno;
    close(dir_fd);
    if (rc != 0) return ErrnoStatus("fsync directory " + dir, err);
    return Status::OK();
  }

 private:
  std::string path_;
  std::string tmp_path_;
  int fd_ = -1;
  bool created_ = false;
  bool committed_ = false;
  bool write_behind_ = false;
  std::atomic<uint64_t> written_{0};
};

Result<CheckpointInfo> Import(Store& store, const std::string& path, SaveRequest request,
                              const SaveOptions& options) {
  if (!request.tensors.empty() || !request.blobs.empty()) {
    return Status::InvalidArgument("request must have no tensors or blobs; the file supplies them");
  }
  internal::MappedInput file;
  CKPT_RETURN_IF_ERROR(file.Map(path));
  CKPT_ASSIGN_OR_RETURN(SafetensorsHeader header,
                        internal::ParseSafetensorsHeader({file.data(), file.size()}, file.size()));
  const char* data = file.data() + header.data_start();
  request.tensors.reserve(header.entries.size());
  for (const SafetensorsEntry& e : header.entries) {
    request.tensors.push_back({e.name, e.dtype, e.shape, data + e.begin, e.size()});
  }
  request.blobs.push_back({kSafetensorsHeaderBlob, file.data(), header.data_start()});
  // The caller's attributes win: they chose them for this import.
  for (const auto& [key, value] : header.metadata) request.meta.attributes.emplace(key, value);
  // Save reads the tensors in order, so its progress tells how far into the
  // file it is: the mapping reads ahead of it and drops what it passed.
  SaveOptions save_options = options;
  save_options.progress = [&file, &options, start = header.data_start()](uint64_t done,
                                                                         uint64_t total) {
    file.Advance(start + done);
    if (options.progress) options.progress(done, total);
  };
  return store.Save(request, save_options);
}

// What export writes: the header bytes, then each entry's bytes in order.
struct ExportPlan {
  std::string header;
  std::vector<SafetensorsEntry> entries;  // by ascending offset, contiguous
  uint64_t data_length = 0;
};

// Plans from the stored original header, checked against the tensors stored.
Result<ExportPlan> PlanFromHeaderBlob(CheckpointReader& reader, const EntryInfo& blob,
                                      const std::map<std::string, const EntryInfo*>& tensors,
                                      uint64_t data_length) {
  if (blob.byte_length < internal::kSafetensorsPrefixSize ||
      blob.byte_length > internal::kSafetensorsPrefixSize + internal::kSafetensorsMaxHeaderSize) {
    return Status::Corruption("blob " + std::string(kSafetensorsHeaderBlob) + " has " +
                              std::to_string(blob.byte_length) + " bytes, no safetensors header");
  }
  ExportPlan plan;
  plan.data_length = data_length;
  plan.header.resize(blob.byte_length);
  CKPT_RETURN_IF_ERROR(
      reader.ReadEntry(kSafetensorsHeaderBlob, plan.header.data(), plan.header.size()));
  auto parsed = internal::ParseSafetensorsHeader(plan.header, plan.header.size() + data_length);
  const std::string context = "stored blob " + std::string(kSafetensorsHeaderBlob);
  if (!parsed.ok()) {
    return Status::Corruption(parsed.status().message()).WithContext(context);
  }
  if (parsed->data_start() != plan.header.size()) {
    return Status::Corruption(context + ": trailing bytes after the JSON header");
  }
  if (parsed->entries.size() != tensors.size()) {
    return Status::Corruption(context + ": names " + std::to_string(parsed->entries.size()) +
                              " tensors, the checkpoint holds " + std::to_string(tensors.size()));
  }
  for (const SafetensorsEntry& e : parsed->entries) {
    const auto it = tensors.find(e.name);
    if (it == tensors.end() || it->second->dtype != e.dtype || it->second->shape != e.shape ||
        it->second->byte_length != e.size()) {
      return Status::Corruption(context + ": tensor \"" + e.name +
                                "\" does not match the checkpoint's tensor");
    }
  }
  plan.entries = std::move(parsed->entries);
  return plan;
}

// Plans a canonical file for a checkpoint saved through the API.
Result<ExportPlan> PlanCanonical(const CheckpointDetail& detail) {
  ExportPlan plan;
  for (const EntryInfo& info : detail.entries) {
    if (info.is_blob) continue;
    SafetensorsEntry e;
    e.name = info.name;
    e.dtype = info.dtype;
    e.shape = info.shape;
    e.begin = plan.data_length;
    e.end = e.begin + info.byte_length;
    plan.data_length = e.end;
    plan.entries.push_back(std::move(e));
  }
  CKPT_ASSIGN_OR_RETURN(
      plan.header, internal::EncodeSafetensorsHeader(plan.entries, detail.info.meta.attributes));
  return plan;
}

Result<ExportPlan> Plan(CheckpointReader& reader) {
  const CheckpointDetail& detail = reader.detail();
  std::map<std::string, const EntryInfo*> tensors;
  const EntryInfo* header_blob = nullptr;
  uint64_t data_length = 0;
  for (const EntryInfo& info : detail.entries) {
    if (!info.is_blob) {
      tensors.emplace(info.name, &info);
      data_length += info.byte_length;
    } else if (info.name == kSafetensorsHeaderBlob) {
      header_blob = &info;
    }
  }
  if (header_blob != nullptr) return PlanFromHeaderBlob(reader, *header_blob, tensors, data_length);
  return PlanCanonical(detail);
}

Status Export(Store& store, const std::string& ref, const std::string& out_path,
              const ExportOptions& options) {
  // One pinned checkpoint: a save moving `ref` meanwhile cannot mix two
  // checkpoints in one file, and the index is opened once, not per tensor.
  CKPT_ASSIGN_OR_RETURN(auto reader, store.OpenCheckpoint(ref));
  CKPT_ASSIGN_OR_RETURN(ExportPlan plan, Plan(*reader));

  OutputFile out(out_path);
  CKPT_RETURN_IF_ERROR(out.Open());
  out.ExpectSize(plan.header.size() + plan.data_length);
  CKPT_RETURN_IF_ERROR(out.WriteAt(0, plan.header.data(), plan.header.size()));
  // Each chunk goes to its place in the file straight from the thread that
  // checked it: no thread waits for a slice to fill or for a writer.
  std::vector<std::string> names;
  names.reserve(plan.entries.size());
  for (const SafetensorsEntry& e : plan.entries) names.push_back(e.name);
  const uint64_t data_start = plan.header.size();
  LoadOptions load;
  load.progress = options.progress;
  CKPT_RETURN_IF_ERROR(reader->StreamEntries(
      names,
      [&](size_t entry, uint64_t offset, const void* data, size_t length) {
        return out.WriteAt(data_start + plan.entries[entry].begin + offset, data, length);
      },
      load));
  return out.Commit(options.sync);
}

}  // namespace

Result<CheckpointInfo> ImportSafetensors(Store& store, const std::string& path, SaveRequest request,
                                         const SaveOptions& options) {
  auto result = Import(store, path, std::move(request), options);
  if (!result.ok()) return result.status().WithContext("import " + path);
  return result;
}

Result<SafetensorsLayout> PlanSafetensorsExport(CheckpointReader& reader) {
  auto plan = Plan(reader);
  if (!plan.ok()) return plan.status().WithContext("plan export of " + reader.detail().info.id);
  SafetensorsLayout layout;
  layout.header = std::move(plan->header);
  const uint64_t data_start = layout.header.size();
  layout.tensors.reserve(plan->entries.size());
  for (SafetensorsEntry& e : plan->entries) {
    layout.tensors.push_back({std::move(e.name), data_start + e.begin, e.size()});
  }
  layout.file_size = data_start + plan->data_length;
  return layout;
}

Status ExportSafetensors(Store& store, const std::string& ref, const std::string& out_path,
                         const ExportOptions& options) {
  return Export(store, ref, out_path, options).WithContext("export " + ref + " to " + out_path);
}

}  // namespace ckpt
