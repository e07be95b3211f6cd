#include "store/loader.h"

#include <atomic>
#include <cstring>
#include <mutex>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "pack/pack_writer.h"

namespace ckpt::internal {

Status ReadChunk(StoreContext& ctx, Index& index, const Digest& digest, uint64_t raw_length,
                 uint8_t* dst) {
  const std::string what = "chunk " + digest.ShortHex();
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(ChunkKey(digest)));
  if (!value) return Status::Corruption(what + " is missing from the index");
  ChunkLocation loc;
  CKPT_RETURN_IF_ERROR(DecodeChunkLocation(*value, &loc).WithContext(what));
  if (loc.raw_length != raw_length)
    return Status::Corruption(what + ": index says " + std::to_string(loc.raw_length) +
                              " bytes, manifest " + std::to_string(raw_length));
  if (!IsKnownCodec(loc.codec))
    return Status::NotSupported(what + ": codec " + std::to_string(loc.codec) + " is unknown");
  std::string encoded;
  CKPT_RETURN_IF_ERROR(ReadPackBytes(*ctx.backend, loc.pack_id, loc.offset, loc.length, &encoded)
                           .WithContext(what));
  const std::string where = "pack " + loc.pack_id + ": " + what;
  CKPT_RETURN_IF_ERROR(DecodeChunk(static_cast<Codec>(loc.codec), encoded.data(), encoded.size(),
                                   dst, raw_length)
                           .WithContext(where));
  if (Sha256(dst, raw_length) != digest) return Status::Corruption(where + ": hash mismatch");
  return Status::OK();
}

Status ReadEntryRange(StoreContext& ctx, Index& view, const ResolvedCheckpoint& c,
                      const ManifestEntry& entry,
                      uint64_t offset, uint64_t length, uint8_t* dst, const ProgressFn& progress,
                      uint64_t progress_base, uint64_t progress_total) {
  if (offset > entry.byte_length || length > entry.byte_length - offset)
    return Status::InvalidArgument("range passes the end of '" + entry.name + "' (" +
                                   std::to_string(entry.byte_length) + " bytes)");
  if (length == 0) return Status::OK();
  const uint64_t span = c.manifest.SpanOf(entry);
  const uint64_t first = offset / span, last = (offset + length - 1) / span;
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> done{0};
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
      if (first_error.ok())
        first_error = s.WithContext("checkpoint " + c.Label() + ", " +
                                    (entry.is_blob ? "blob '" : "tensor '") + entry.name + "'");
      failed = true;
      return;
    }
    uint64_t now = done += hi - lo;
    if (progress) {
      std::lock_guard<std::mutex> lock(mu);
      progress(progress_base + now, progress_total);
    }
  });
  return first_error;
}

}  // namespace ckpt::internal
