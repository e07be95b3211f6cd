// diff/value_diff.cc: DiffValues over the public Store and CheckpointReader
// API; reads go through CheckpointReader::ReadRange, which checks every
// chunk's hash, so this module never sees an unverified byte.
#include "ckpt/value_diff.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "chunk/chunker.h"
#include "ckpt/store.h"
#include "diff/value_stats.h"

namespace ckpt {
namespace {

using internal::ValueStats;

// Consecutive chunks of a tensor that all differ or are all the same.
struct Window {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool differs = false;
};

bool SamePieces(const EntryInfo& a, const EntryInfo& b) {
  if (a.pieces.size() != b.pieces.size()) return false;
  for (size_t i = 0; i < a.pieces.size(); ++i) {
    if (a.pieces[i].offsets != b.pieces[i].offsets || a.pieces[i].shape != b.pieces[i].shape)
      return false;
  }
  return true;
}

uint32_t CountChunksChanged(const EntryInfo& a, const EntryInfo& b) {
  const size_t n = std::max(a.chunk_ids.size(), b.chunk_ids.size());
  uint32_t changed = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool same =
        i < a.chunk_ids.size() && i < b.chunk_ids.size() && a.chunk_ids[i] == b.chunk_ids[i];
    changed += !same;
  }
  return changed;
}

// Windows covering all of a tensor of `length` bytes, every one compared.
std::vector<Window> WholeWindows(uint64_t length, uint64_t elem) {
  const uint64_t step = std::max(elem, kValueDiffWindowBytes / elem * elem);
  std::vector<Window> windows;
  for (uint64_t off = 0; off < length; off += step)
    windows.push_back({off, std::min(step, length - off), true});
  return windows;
}

// The windows to read of tensors `a` and `b` (same dtype and shape): runs
// of chunk positions that differ or not, each at most a window long (or
// one chunk). Chunk positions are byte ranges only of a tensor stored
// whole and cut as this store cuts: anything else is compared whole.
std::vector<Window> PlanWindows(const EntryInfo& a, const EntryInfo& b, uint32_t chunk_size) {
  const uint64_t elem = DTypeSize(b.dtype);
  const uint64_t span = internal::ChunkSpan(chunk_size, elem);
  const uint64_t count = internal::ChunkCount(b.byte_length, span);
  if (!a.pieces.empty() || !b.pieces.empty() || a.chunk_ids.size() != count ||
      b.chunk_ids.size() != count) {
    return WholeWindows(b.byte_length, elem);
  }
  const uint64_t most = std::max(span, kValueDiffWindowBytes / span * span);
  std::vector<Window> windows;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t len = internal::ChunkLength(b.byte_length, span, i);
    const bool differs = a.chunk_ids[i] != b.chunk_ids[i];
    if (!windows.empty() && windows.back().differs == differs &&
        windows.back().length + len <= most) {
      windows.back().length += len;
    } else {
      windows.push_back({i * span, len, differs});
    }
  }
  return windows;
}

// Compares tensor `a` of `ra` with `b` of `rb` into `out`.
Status CompareTensor(CheckpointReader& ra, CheckpointReader& rb, const EntryInfo& a,
                     const EntryInfo& b, uint32_t chunk_size, std::vector<uint8_t>* buf_a,
                     std::vector<uint8_t>* buf_b, TensorValueDiff* out) {
  out->name = b.name;
  out->dtype = b.dtype;
  out->shape = b.shape;
  out->chunks = b.chunk_count;
  out->chunks_changed = CountChunksChanged(a, b);
  const uint64_t elem = DTypeSize(b.dtype);
  ValueStats stats(b.dtype);
  // Identical chunk ids (over the same pieces) mean identical bytes: nothing to read.
  if (out->chunks_changed != 0 || !SamePieces(a, b)) {
    for (const Window& w : PlanWindows(a, b, chunk_size)) {
      if (buf_a->size() < w.length) buf_a->resize(w.length);
      CKPT_RETURN_IF_ERROR(ra.ReadRange(a.name, w.offset, w.length, buf_a->data()));
      out->bytes_read += w.length;
      if (!w.differs) {
        stats.AddSame(buf_a->data(), w.length / elem);
        continue;
      }
      if (buf_b->size() < w.length) buf_b->resize(w.length);
      CKPT_RETURN_IF_ERROR(rb.ReadRange(b.name, w.offset, w.length, buf_b->data()));
      out->bytes_read += w.length;
      stats.AddPair(buf_a->data(), buf_b->data(), w.length / elem);
    }
  }
  stats.Finish(b.byte_length / elem, out);
  return Status::OK();
}

}  // namespace

Result<ValueDiff> DiffValues(Store& store, const std::string& from, const std::string& to) {
  CKPT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> ra, store.OpenCheckpoint(from));
  CKPT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> rb, store.OpenCheckpoint(to));
  const CheckpointDetail& da = ra->detail();
  const CheckpointDetail& db = rb->detail();
  ValueDiff diff;
  diff.from = da.info;
  diff.to = db.info;
  std::map<std::string, const EntryInfo*> old_entries;
  for (const EntryInfo& e : da.entries) old_entries[e.name] = &e;
  // Reused across tensors: the largest window read so far, once.
  std::vector<uint8_t> buf_a, buf_b;
  for (const EntryInfo& b : db.entries) {
    auto it = old_entries.find(b.name);
    if (it == old_entries.end()) {
      diff.added.push_back(b.name);
      continue;
    }
    const EntryInfo& a = *it->second;
    old_entries.erase(it);
    if (a.is_blob != b.is_blob || a.dtype != b.dtype || a.shape != b.shape ||
        a.byte_length != b.byte_length) {
      diff.retyped.push_back(b.name);
      continue;
    }
    if (b.is_blob) continue;
    TensorValueDiff t;
    CKPT_RETURN_IF_ERROR(
        CompareTensor(*ra, *rb, a, b, store.config().chunk_size, &buf_a, &buf_b, &t));
    diff.bytes_read += t.bytes_read;
    diff.tensors.push_back(std::move(t));
  }
  for (const EntryInfo& e : da.entries)
    if (old_entries.count(e.name) != 0) diff.removed.push_back(e.name);
  return diff;
}

}  // namespace ckpt
