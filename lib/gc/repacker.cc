#include "gc/repacker.h"

#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "index/pack_lifecycle.h"
#include "pack/pack_writer.h"
#include "repo/index_sessions.h"
#include "repo/loader.h"
#include "repo/pack_sink.h"
#include "util/bytes.h"
#include "util/clock.h"

namespace ckpt::internal {
namespace {

struct Moved {
  PackEntry old_entry;
  ChunkLocation new_location;
};

// Reads one entry and checks it decodes to its digest, so a damaged chunk
// is never copied into a fresh pack as if it were sound. A delta is
// decoded over its base, read through `view`.
Status ReadVerified(StoreContext& ctx, Index& view, const std::string& pack, const PackEntry& e,
                    std::string* encoded) {
  CKPT_RETURN_IF_ERROR(ReadPackBytes(*ctx.backend, pack, e.offset, e.length, encoded));
  std::string raw(e.raw_length, '\0');
  if (IsDeltaCodec(e.codec)) {
    Digest base;
    CKPT_RETURN_IF_ERROR(DeltaBaseOf(*encoded, &base).WithContext("pack " + pack));
    CKPT_RETURN_IF_ERROR(
        ReadChunk(ctx, view, base, e.raw_length, reinterpret_cast<uint8_t*>(raw.data())));
    CKPT_RETURN_IF_ERROR(DecodeDelta(static_cast<Codec>(e.codec), *encoded,
                                     reinterpret_cast<const uint8_t*>(raw.data()),
                                     reinterpret_cast<uint8_t*>(raw.data()), raw.size())
                             .WithContext("pack " + pack));
  } else {
    CKPT_RETURN_IF_ERROR(DecodeChunk(static_cast<Codec>(e.codec), encoded->data(), encoded->size(),
                                     raw.data(), raw.size())
                             .WithContext("pack " + pack));
  }
  if (Sha256(raw.data(), raw.size()) != e.digest)
    return Status::Corruption("pack " + pack + ": entry " + e.digest.ShortHex() +
                              " fails its hash; not repacked");
  return Status::OK();
}

bool IsLiveEntry(const LiveSet& live, const std::string& pack, const PackEntry& e) {
  if (e.kind == EntryKind::kChunk) return live.ContainsChunk(e.digest);
  auto it = live.manifests.find(e.digest);
  return it != live.manifests.end() && it->second.pack_id == pack && it->second.offset == e.offset;
}

// Points the index at the copies, where it still points at the originals.
Status CommitMoves(StoreContext& ctx, const std::string& pack, const std::vector<Moved>& moved,
                   PackSink& sink) {
  IndexBatch batch;
  CKPT_ASSIGN_OR_RETURN(
      auto session, OpenWriter(ctx, LockPriority::kBackground, /*background_compactions=*/true));
  Index& index = session.index();
  for (const Moved& m : moved) {
    if (m.old_entry.kind == EntryKind::kChunk) {
      CKPT_ASSIGN_OR_RETURN(auto value, index.Get(ChunkKey(m.old_entry.digest)));
      if (!value) continue;  // gone since the plan
      ChunkLocation current;
      // An entry that does not decode could point here: condemning the
      // pack would take its chunk away, so stop.
      CKPT_RETURN_IF_ERROR(
          DecodeChunkLocation(*value, &current)
              .WithContext("repack " + pack + ": chunk " + m.old_entry.digest.ShortHex()));
      if (current.pack_id != pack || current.offset != m.old_entry.offset) continue;
      ChunkLocation moved = m.new_location;
      moved.base = current.base;  // the encoded bytes moved as they were
      moved.depth = current.depth;
      batch.Put(ChunkKey(m.old_entry.digest), EncodeChunkLocation(moved));
    } else {
      CKPT_ASSIGN_OR_RETURN(auto value, index.Get(CheckpointKey(m.old_entry.digest)));
      if (!value) continue;  // deleted since the plan
      CheckpointRecord rec;
      CKPT_RETURN_IF_ERROR(
          DecodeCheckpointRecord(*value, &rec)
              .WithContext("repack " + pack + ": checkpoint " + m.old_entry.digest.ShortHex()));
      rec.manifest_location = m.new_location;
      batch.Put(CheckpointKey(m.old_entry.digest), EncodeCheckpointRecord(rec));
    }
  }
  for (const auto& [id, record] : sink.sealed()) batch.Put(PackKey(id), EncodePackRecord(record));
  CondemnPack(pack, NowNs(), &batch);  // as of this commit (see sweeper.cc)
  CKPT_RETURN_IF_ERROR(AddGcGenerationBump(index, &batch));
  CKPT_RETURN_IF_ERROR(index.Commit(batch));
  return session.Close(Index::Housekeeping::kFlushOnly);
}

Status RepackOne(StoreContext& ctx, const LiveSet& live, const std::string& pack,
                 RepackResult* result) {
  std::vector<PackEntry> entries;
  uint64_t size;
  CKPT_RETURN_IF_ERROR(ReadPackIndex(*ctx.backend, pack, &entries, &size));
  PackSink sink(*ctx.backend, ctx.options.pack_target_size);
  std::vector<Moved> moved;
  std::string encoded;
  CKPT_ASSIGN_OR_RETURN(auto view, OpenReader(ctx, LockPriority::kBackground));
  for (const PackEntry& e : entries) {
    if (!IsLiveEntry(live, pack, e)) continue;
    CKPT_RETURN_IF_ERROR(ReadVerified(ctx, *view, pack, e, &encoded));
    Moved m{e, {}};
    CKPT_RETURN_IF_ERROR(
        sink.Add(e.kind, e.codec, e.digest, encoded, e.raw_length, &m.new_location));
    moved.push_back(m);
    result->bytes_copied += e.length;
  }
  CKPT_RETURN_IF_ERROR(sink.Flush());  // copies durable before the index moves to them
  CKPT_RETURN_IF_ERROR(CommitMoves(ctx, pack, moved, sink));
  result->packs_repacked++;
  result->entries_retired += entries.size();
  return Status::OK();
}

}  // namespace

Result<RepackResult> RepackSparsePacks(StoreContext& ctx, const LiveSet& live,
                                       const std::map<std::string, PackUsage>& packs,
                                       double threshold) {
  RepackResult result;
  if (threshold <= 0) return result;
  for (const auto& [pack, usage] : packs) {
    // Measured against the file, not this sweep's dead entries: a repack
    // that an earlier gc could not finish is still due.
    if (usage.file_bytes == 0) continue;
    if (static_cast<double>(usage.live_bytes) >= threshold * static_cast<double>(usage.file_bytes))
      continue;
    // Rewriting a small pack to win back a few KiB is not worth a session.
    if (usage.file_bytes - std::min(usage.live_bytes, usage.file_bytes) < kMinReclaimBytes)
      continue;
    Status s = RepackOne(ctx, live, pack, &result).WithContext("gc repack");
    if (s.code() == Code::kCorruption) {
      // A damaged pack stays as it is (verify names what it breaks); the
      // rest of gc goes on.
      result.packs_damaged++;
      continue;
    }
    CKPT_RETURN_IF_ERROR(s);
  }
  return result;
}

}  // namespace ckpt::internal
