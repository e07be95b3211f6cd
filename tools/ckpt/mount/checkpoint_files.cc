#include "mount/checkpoint_files.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ckpt/safetensors.h"
#include "mount/file_names.h"
#include "mount/npy_header.h"

namespace ckpt::mount {
namespace {

// The store cuts an entry into chunks of this many bytes (the chunk size
// in whole elements; docs/design.md, "Chunking"), so blocks of this size
// are decoded exactly once each.
uint64_t BlockSpan(uint32_t chunk_size, const EntryInfo& entry) {
  const uint64_t elem = entry.is_blob ? 1 : DTypeSize(entry.dtype);
  const uint64_t span = chunk_size / elem * elem;
  return span == 0 ? elem : span;
}

std::string Label(const CheckpointInfo& info) {
  return "checkpoint " + info.run + "@" + std::to_string(info.step) + " (" + info.id.substr(0, 12) +
         ")";
}

}  // namespace

Result<std::shared_ptr<CheckpointFiles>> CheckpointFiles::Open(Store& store, const std::string& id,
                                                               BlockCache& cache) {
  CKPT_ASSIGN_OR_RETURN(auto reader, store.OpenCheckpoint(id));
  std::shared_ptr<CheckpointFiles> files(
      new CheckpointFiles(std::move(reader), store.config().chunk_size, cache));
  CKPT_RETURN_IF_ERROR(files->LayOut());
  return files;
}

Status CheckpointFiles::LayOut() {
  const CheckpointDetail& d = detail();
  std::map<std::string, size_t, std::less<>> index_of;
  for (size_t i = 0; i < d.entries.size(); ++i) index_of.emplace(d.entries[i].name, i);

  CKPT_ASSIGN_OR_RETURN(SafetensorsLayout layout, PlanSafetensorsExport(*reader_));
  VirtualFile model;
  model.prefix = std::move(layout.header);
  for (const SafetensorsLayout::Tensor& t : layout.tensors) {
    model.spans.push_back({index_of.at(t.name), t.offset, t.length});
  }
  model.size = layout.file_size;
  files_.emplace("model.safetensors", std::move(model));

  std::vector<std::string> entry_files;
  for (size_t i = 0; i < d.entries.size(); ++i) {
    const EntryInfo& e = d.entries[i];
    VirtualFile f;
    std::string path;
    if (e.is_blob) {
      blob_files_.push_back(EscapeName(e.name));
      path = "blobs/" + blob_files_.back();
    } else {
      tensor_files_.push_back(EscapeName(e.name, ".npy"));
      path = "tensors/" + tensor_files_.back();
      f.prefix = NpyHeader(e.dtype, e.shape);
    }
    f.spans.push_back({i, f.prefix.size(), e.byte_length});
    f.size = f.prefix.size() + e.byte_length;
    entry_files.push_back(path);
    files_.emplace(std::move(path), std::move(f));
  }
  std::sort(tensor_files_.begin(), tensor_files_.end());
  std::sort(blob_files_.begin(), blob_files_.end());

  VirtualFile meta;
  meta.prefix = MetaJson(d, entry_files);
  meta.size = meta.prefix.size();
  files_.emplace("meta.json", std::move(meta));
  return Status::OK();
}

const VirtualFile* CheckpointFiles::Find(std::string_view relative_path) const {
  auto it = files_.find(relative_path);
  return it == files_.end() ? nullptr : &it->second;
}

template <typename Visit>
Status CheckpointFiles::ForEachSpan(const VirtualFile& file, uint64_t offset, uint64_t length,
                                    Visit visit) {
  const uint64_t end = offset + length;
  // The first span that ends after `offset`.
  auto it = std::upper_bound(
      file.spans.begin(), file.spans.end(), offset,
      [](uint64_t off, const EntrySpan& s) { return off < s.file_offset + s.length; });
  for (; it != file.spans.end() && it->file_offset < end; ++it) {
    const uint64_t from = std::max(offset, it->file_offset);
    const uint64_t to = std::min(end, it->file_offset + it->length);
    CKPT_RETURN_IF_ERROR(visit(it->entry, from - it->file_offset, to - from, from - offset));
  }
  return Status::OK();
}

Result<size_t> CheckpointFiles::Read(const VirtualFile& file, uint64_t offset, size_t size,
                                     char* dst) {
  if (offset >= file.size) return size_t{0};
  size = static_cast<size_t>(std::min<uint64_t>(size, file.size - offset));
  if (offset < file.prefix.size()) {
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(offset + size, file.prefix.size()) - offset);
    std::memcpy(dst, file.prefix.data() + offset, n);
  }
  CKPT_RETURN_IF_ERROR(
      ForEachSpan(file, offset, size,
                  [&](size_t entry, uint64_t entry_offset, uint64_t length, uint64_t dst_offset) {
                    return ReadEntry(entry, entry_offset, length, dst + dst_offset);
                  }));
  return size;
}

void CheckpointFiles::Prefetch(const VirtualFile& file, uint64_t offset, uint64_t length,
                               const std::function<void(std::function<void()>)>& run) {
  if (offset >= file.size) return;
  length = std::min(length, file.size - offset);
  (void)ForEachSpan(file, offset, length,
                    [&](size_t entry, uint64_t entry_offset, uint64_t len, uint64_t) {
                      const uint64_t span = BlockSpan(chunk_size_, detail().entries[entry]);
                      for (uint64_t b = entry_offset / span; b * span < entry_offset + len; ++b) {
                        cache_.Prefetch(BlockKey(entry, b), BlockLoader(entry, b), run);
                      }
                      return Status::OK();
                    });
}

std::string CheckpointFiles::BlockKey(size_t entry, uint64_t block) const {
  return detail().info.id + '/' + std::to_string(entry) + '/' + std::to_string(block);
}

BlockCache::Loader CheckpointFiles::BlockLoader(size_t entry, uint64_t block) const {
  // The loader may outlive the read that made it (a prefetch): it holds the
  // files, and with them the reader.
  return [self = shared_from_this(), entry, block]() -> Result<std::string> {
    const EntryInfo& e = self->detail().entries[entry];
    const uint64_t span = BlockSpan(self->chunk_size_, e);
    const uint64_t begin = block * span;
    std::string buf(std::min(span, e.byte_length - begin), '\0');
    CKPT_RETURN_IF_ERROR(self->reader_->ReadRange(e.name, begin, buf.size(), buf.data()));
    return buf;
  };
}

Status CheckpointFiles::ReadEntry(size_t entry, uint64_t offset, uint64_t length, char* dst) {
  const EntryInfo& e = detail().entries[entry];
  const uint64_t span = BlockSpan(chunk_size_, e);
  for (uint64_t block = offset / span; block * span < offset + length; ++block) {
    const uint64_t begin = block * span;
    auto bytes = cache_.Get(BlockKey(entry, block), BlockLoader(entry, block));
    if (!bytes.ok()) {
      return bytes.status().WithContext(Label(detail().info) + ", entry '" + e.name + "'");
    }
    const uint64_t from = std::max(offset, begin);
    const uint64_t to = std::min(offset + length, begin + (*bytes)->size());
    std::memcpy(dst + (from - offset), (*bytes)->data() + (from - begin), to - from);
  }
  return Status::OK();
}

std::string MetaJson(const CheckpointDetail& detail, const std::vector<std::string>& entry_files) {
  const CheckpointInfo& info = detail.info;
  nlohmann::json entries = nlohmann::json::array();
  for (size_t i = 0; i < detail.entries.size(); ++i) {
    const EntryInfo& e = detail.entries[i];
    nlohmann::json j = {{"name", e.name},
                        {"kind", e.is_blob ? "blob" : "tensor"},
                        {"byte_length", e.byte_length},
                        {"file", entry_files[i]}};
    if (!e.is_blob) {
      j["dtype"] = std::string(DTypeName(e.dtype));
      j["shape"] = e.shape;
    }
    entries.push_back(std::move(j));
  }
  const nlohmann::json meta = {
      {"id", info.id},
      {"run", info.run},
      {"step", info.step},
      {"parent_id", info.parent_id},
      {"wall_time_ns", info.meta.wall_time_ns},
      {"metrics", info.meta.metrics},
      {"attributes", info.meta.attributes},
      {"tags", info.tags},
      {"tensor_count", info.tensor_count},
      {"blob_count", info.blob_count},
      {"logical_bytes", info.logical_bytes},
      {"new_bytes", info.new_bytes},
      {"shared_bytes", info.shared_bytes},
      {"world_size", info.world_size},
      {"entries", std::move(entries)},
  };
  return meta.dump(2) + "\n";
}

}  // namespace ckpt::mount
