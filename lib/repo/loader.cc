#include "repo/loader.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "pack/pack_writer.h"
#include "repo/config.h"

namespace ckpt::internal {

namespace {

// `s`, naming the checkpoint and the entry that a read of theirs failed in.
Status InEntry(const Status& s, const ResolvedCheckpoint& c, const ManifestEntry& entry) {
  return s.WithContext("checkpoint " + c.Label() + ", " + (entry.is_blob ? "blob '" : "tensor '") +
                       entry.name + "'");
}

Result<ChunkLocation> Locate(Index& index, const Digest& digest, uint64_t raw_length) {
  const std::string what = "chunk " + digest.ShortHex();
  CKPT_ASSIGN_OR_RETURN(auto found, index.FindChunk(digest));
  if (!found) return Status::Corruption(what + " is missing from the index");
  ChunkLocation& loc = *found;
  if (loc.raw_length != raw_length)
    return Status::Corruption(what + ": index says " + std::to_string(loc.raw_length) +
                              " bytes, expected " + std::to_string(raw_length));
  if (!IsKnownCodec(loc.codec))
    return Status::Corruption(what + ": codec " + std::to_string(loc.codec) + " is unknown");
  if (loc.depth > kMaxDeltaDepth)
    return Status::Corruption(what + ": delta chain of " + std::to_string(loc.depth) +
                              " bases is longer than any store allows");
  return std::move(loc);
}

// Decodes chunk `digest`, stored at `loc`, into `dst`, bases first, without
// checking hashes: the caller checks the result once, so a chain of d
// deltas costs one SHA-256, not d+1.
// *self_checked is cleared unless every frame decoded carried a content
// checksum (which zstd verified).
Status DecodeUnchecked(StoreContext& ctx, Index& index, const Digest& digest,
                       const ChunkLocation& loc, uint8_t* dst, bool* self_checked) {
  const std::string where = "pack " + loc.pack_id + ": chunk " + digest.ShortHex();
  // One buffer per chain level and thread, kept: a fresh 256 KiB buffer
  // per chunk costs an mmap and a page fault per 4 KiB.
  thread_local std::string levels[kMaxDeltaDepth + 1];
  std::string& encoded = levels[std::min<int>(loc.depth, kMaxDeltaDepth)];
  CKPT_RETURN_IF_ERROR(ReadPackBytes(*ctx.backend, loc.pack_id, loc.offset, loc.length, &encoded)
                           .WithContext("chunk " + digest.ShortHex()));
  const Codec codec = static_cast<Codec>(loc.codec);
  if (!loc.is_delta()) {
    if (!ChunkSelfChecked(codec, encoded.data(), encoded.size())) *self_checked = false;
    return DecodeChunk(codec, encoded.data(), encoded.size(), dst, loc.raw_length)
        .WithContext(where);
  }
  if (!DeltaSelfChecked(codec, encoded)) *self_checked = false;
  Digest named;
  CKPT_RETURN_IF_ERROR(DeltaBaseOf(encoded, &named).WithContext(where));
  if (named != loc.base)
    return Status::Corruption(where + ": entry names base " + named.ShortHex() + ", the index " +
                              loc.base.ShortHex());
  CKPT_ASSIGN_OR_RETURN(ChunkLocation base_loc, Locate(index, loc.base, loc.raw_length));
  // Depth falls with every link, so the recursion ends even in a damaged
  // index. (By one per link, except after a repair or gc found a base a
  // shorter way.)
  if (base_loc.depth >= loc.depth)
    return Status::Corruption(where + ": delta depth " + std::to_string(loc.depth) +
                              " over a base of depth " + std::to_string(base_loc.depth));
  CKPT_RETURN_IF_ERROR(DecodeUnchecked(ctx, index, loc.base, base_loc, dst, self_checked));
  return DecodeDelta(codec, encoded, dst, dst, loc.raw_length).WithContext(where);
}

}  // namespace

Status ReadChunk(StoreContext& ctx, Index& index, const Digest& digest, uint64_t raw_length,
                 uint8_t* dst, ChunkCheck check) {
  CKPT_ASSIGN_OR_RETURN(ChunkLocation loc, Locate(index, digest, raw_length));
  bool self_checked = true;
  Status s = DecodeUnchecked(ctx, index, digest, loc, dst, &self_checked);
  if (s.ok() && check == ChunkCheck::kFrameChecksums && self_checked) return Status::OK();
  if (s.ok() && Sha256(dst, raw_length) == digest) return Status::OK();
  const std::string where = "pack " + loc.pack_id + ": chunk " + digest.ShortHex();
  if (loc.is_delta()) {
    // Name the link that broke: a damaged base breaks every delta over it.
    Status base = ReadChunk(ctx, index, loc.base, raw_length, dst);
    if (!base.ok())
      return Status(base.code(), where + " is a delta over a damaged base: " + base.message());
  }
  if (!s.ok()) return s;
  return Status::Corruption(where + ": hash mismatch");
}

Status ReadEntryRange(StoreContext& ctx, Index& view, const ResolvedCheckpoint& c,
                      const ManifestEntry& entry, uint64_t offset, uint64_t length, uint8_t* dst) {
  if (offset > entry.byte_length || length > entry.byte_length - offset)
    return Status::InvalidArgument("range passes the end of '" + entry.name + "' (" +
                                   std::to_string(entry.byte_length) + " bytes)");
  if (length == 0) return Status::OK();
  const uint64_t span = c.manifest.SpanOf(entry);
  const uint64_t first = offset / span, last = (offset + length - 1) / span;
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  ctx.pool->ParallelFor(last - first + 1, [&](size_t k) {
    if (failed) return;
    uint64_t chunk = first + k;
    uint64_t begin = chunk * span, chunk_len = ChunkLength(entry.byte_length, span, chunk);
    uint64_t lo = std::max(begin, offset), hi = std::min(begin + chunk_len, offset + length);
    Status s;
    if (lo == begin && hi == begin + chunk_len) {
      // Whole chunk inside the range: decode straight into the caller's buffer.
      s = ReadChunk(ctx, view, entry.chunks[chunk], chunk_len, dst + (begin - offset));
    } else {
      std::vector<uint8_t> tmp(chunk_len);
      s = ReadChunk(ctx, view, entry.chunks[chunk], chunk_len, tmp.data());
      if (s.ok()) std::memcpy(dst + (lo - offset), tmp.data() + (lo - begin), hi - lo);
    }
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (first_error.ok()) first_error = InEntry(s, c, entry);
      failed = true;
    }
  });
  return first_error;
}

namespace {

// Runs read(i, chunk, begin, length) for every chunk of every entries[i] on
// the pool: `begin` and `length` locate the chunk in its entry. The chunks
// are numbered over all entries, so each thread takes the next chunk of any
// entry and none waits at the end of an entry for the others. Returns the
// first error, with the checkpoint and entry; after one, no chunk starts.
Status ForEachChunk(StoreContext& ctx, const ResolvedCheckpoint& c,
                    const std::vector<const ManifestEntry*>& entries, const ProgressFn& progress,
                    const std::function<Status(size_t, uint64_t, uint64_t, uint64_t)>& read) {
  std::vector<uint64_t> first_chunk(entries.size() + 1, 0);  // chunks before entries[i]
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    first_chunk[i + 1] = first_chunk[i] + entries[i]->chunks.size();
    total_bytes += entries[i]->byte_length;
  }
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  uint64_t done = 0;
  if (progress) progress(0, total_bytes);
  ctx.pool->ParallelFor(first_chunk.back(), [&](size_t k) {
    if (failed) return;
    const size_t i = static_cast<size_t>(
        std::upper_bound(first_chunk.begin(), first_chunk.end(), k) - first_chunk.begin() - 1);
    const ManifestEntry& entry = *entries[i];
    const uint64_t chunk = k - first_chunk[i], span = c.manifest.SpanOf(entry);
    const uint64_t length = ChunkLength(entry.byte_length, span, chunk);
    Status s = read(i, chunk, chunk * span, length);
    std::lock_guard<std::mutex> lock(mu);
    if (!s.ok()) {
      if (first_error.ok()) first_error = InEntry(s, c, entry);
      failed = true;
    } else if (progress) {
      done += length;
      progress(done, total_bytes);
    }
  });
  return first_error;
}

}  // namespace

Status ReadEntries(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                   const std::vector<const ManifestEntry*>& entries,
                   const std::vector<uint8_t*>& dsts, const ProgressFn& progress) {
  return ForEachChunk(
      ctx, c, entries, progress, [&](size_t i, uint64_t chunk, uint64_t begin, uint64_t length) {
        return ReadChunk(ctx, index, entries[i]->chunks[chunk], length, dsts[i] + begin);
      });
}

Status StreamEntries(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                     const std::vector<const ManifestEntry*>& entries, const PieceSink& sink,
                     const ProgressFn& progress) {
  return ForEachChunk(
      ctx, c, entries, progress, [&](size_t i, uint64_t chunk, uint64_t begin, uint64_t length) {
        thread_local std::vector<uint8_t> buffer;  // kept: no faults per chunk
        if (buffer.size() < length) buffer.resize(length);
        CKPT_RETURN_IF_ERROR(
            ReadChunk(ctx, index, entries[i]->chunks[chunk], length, buffer.data()));
        return sink(i, begin, buffer.data(), length);
      });
}

}  // namespace ckpt::internal
