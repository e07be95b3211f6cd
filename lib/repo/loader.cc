#include "repo/loader.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string_view>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "pack/pack_writer.h"
#include "repo/config.h"

namespace ckpt::internal {

namespace {

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

// Stored bytes a read fetched ahead, several chunks per request: ranges of
// packs, searched by the chunks' locations.
class PrereadSet {
 public:
  // Room for the bytes of a range of `pack_id` from `begin` (its buffer
  // reused from an earlier range, so no page faults per batch).
  std::string* Add(const std::string& pack_id, uint64_t begin) {
    if (ranges_.size() == used_) ranges_.emplace_back();
    Range_& r = ranges_[used_++];
    r.pack_id = &pack_id;
    r.begin = begin;
    return &r.bytes;
  }
  void Clear() { used_ = 0; }

  // The stored bytes of the chunk at `loc`, if a range holds them.
  std::optional<std::string_view> Find(const ChunkLocation& loc) const {
    for (size_t i = 0; i < used_; ++i) {
      const Range_& r = ranges_[i];
      if (*r.pack_id == loc.pack_id && r.begin <= loc.offset &&
          loc.offset + loc.length <= r.begin + r.bytes.size()) {
        return std::string_view(r.bytes.data() + (loc.offset - r.begin), loc.length);
      }
    }
    return std::nullopt;
  }

 private:
  struct Range_ {
    const std::string* pack_id = nullptr;
    uint64_t begin = 0;
    std::string bytes;
  };
  std::vector<Range_> ranges_;
  size_t used_ = 0;
};

// Decodes chunk `digest`, stored at `loc`, into `dst`, bases first, without
// checking hashes: the caller checks the result once, so a chain of d
// deltas costs one SHA-256, not d+1.
// *self_checked is cleared unless every frame decoded carried a content
// checksum (which zstd verified). Bytes `preread` holds (if not null) are
// not read again, the chunk's own or its bases'.
Status DecodeUnchecked(StoreContext& ctx, Index& index, const Digest& digest,
                       const ChunkLocation& loc, const PrereadSet* preread, uint8_t* dst,
                       bool* self_checked) {
  const std::string where = "pack " + loc.pack_id + ": chunk " + digest.ShortHex();
  // One buffer per chain level and thread, kept: a fresh 256 KiB buffer
  // per chunk costs an mmap and a page fault per 4 KiB.
  // Bytes already read are decoded where they are, not copied first.
  thread_local std::string levels[kMaxDeltaDepth + 1];
  std::optional<std::string_view> stored;
  if (preread != nullptr) stored = preread->Find(loc);
  if (!stored) {
    std::string& read = levels[std::min<int>(loc.depth, kMaxDeltaDepth)];
    CKPT_RETURN_IF_ERROR(ReadPackBytes(*ctx.backend, loc.pack_id, loc.offset, loc.length, &read)
                             .WithContext("chunk " + digest.ShortHex()));
    stored = read;
  }
  const std::string_view encoded = *stored;
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
  CKPT_RETURN_IF_ERROR(DecodeUnchecked(ctx, index, loc.base, base_loc, preread, dst, self_checked));
  return DecodeDelta(codec, encoded, dst, dst, loc.raw_length).WithContext(where);
}

// ReadChunk of a chunk already located, perhaps with its bytes read.
Status ReadLocatedChunk(StoreContext& ctx, Index& index, const Digest& digest,
                        const ChunkLocation& loc, const PrereadSet* preread, uint64_t raw_length,
                        uint8_t* dst, ChunkCheck check);

}  // namespace

Status ReadChunk(StoreContext& ctx, Index& index, const Digest& digest, uint64_t raw_length,
                 uint8_t* dst, ChunkCheck check) {
  CKPT_ASSIGN_OR_RETURN(ChunkLocation loc, Locate(index, digest, raw_length));
  return ReadLocatedChunk(ctx, index, digest, loc, nullptr, raw_length, dst, check);
}

namespace {

Status ReadLocatedChunk(StoreContext& ctx, Index& index, const Digest& digest,
                        const ChunkLocation& loc, const PrereadSet* preread, uint64_t raw_length,
                        uint8_t* dst, ChunkCheck check) {
  bool self_checked = true;
  Status s = DecodeUnchecked(ctx, index, digest, loc, preread, dst, &self_checked);
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

// The read of one chunk of a part: chunk `chunk` of parts[part].
struct ChunkJob {
  size_t part;
  uint64_t chunk;
};

// Runs of `runs` (sorted by src, disjoint) that overlap [begin, end).
std::pair<size_t, size_t> RunsOverlapping(const std::vector<ByteRun>& runs, uint64_t begin,
                                          uint64_t end) {
  auto first = std::partition_point(runs.begin(), runs.end(),
                                    [&](const ByteRun& r) { return r.src + r.length <= begin; });
  auto last =
      std::partition_point(first, runs.end(), [&](const ByteRun& r) { return r.src < end; });
  return {static_cast<size_t>(first - runs.begin()), static_cast<size_t>(last - runs.begin())};
}

// Chunks of one read that lie close together in one pack, fetched with one
// request: an object store answers a GET of 8 MiB in about the time of one
// of 256 KiB, and a thousand small GETs kept a restore from S3 at restic's
// speed. Locally one large read costs no more than its parts.
struct ReadBatch {
  size_t first_job = 0;      // the lowest index among `jobs`
  std::vector<size_t> jobs;  // by offset in the pack
  uint64_t begin = 0;        // of the stored bytes the batch reads
  uint64_t end = 0;
  // The first bases of its delta chunks, coalesced likewise: (location of
  // the range's first base, end of the range).
  std::vector<std::pair<const ChunkLocation*, uint64_t>> base_ranges;
};

constexpr uint64_t kBatchGap = 64 << 10;  // bytes a batch may read and not use
constexpr uint64_t kMinBatch = 1 << 20;
constexpr uint64_t kMaxBatch = 8 << 20;

// Groups jobs by pack into batches, each at most a batch size that still
// gives every thread of the pool a couple of batches, in the order of their
// first job, so a read still proceeds roughly front to back.
std::vector<ReadBatch> BatchReads(const std::vector<ChunkLocation>& locations, size_t threads) {
  uint64_t stored = 0;
  for (const ChunkLocation& loc : locations) stored += loc.length;
  const uint64_t limit =
      std::clamp<uint64_t>(stored / (2 * std::max<size_t>(threads, 1)), kMinBatch, kMaxBatch);
  std::map<std::string_view, std::vector<size_t>> by_pack;
  for (size_t j = 0; j < locations.size(); ++j) by_pack[locations[j].pack_id].push_back(j);
  std::vector<ReadBatch> batches;
  for (auto& [pack, jobs] : by_pack) {
    std::stable_sort(jobs.begin(), jobs.end(),
                     [&](size_t a, size_t b) { return locations[a].offset < locations[b].offset; });
    for (size_t j : jobs) {
      const ChunkLocation& loc = locations[j];
      const uint64_t end = loc.offset + loc.length;
      if (!batches.empty() && locations[batches.back().jobs.front()].pack_id == pack &&
          loc.offset <= batches.back().end + kBatchGap && end - batches.back().begin <= limit) {
        batches.back().jobs.push_back(j);
        batches.back().end = std::max(batches.back().end, end);
        batches.back().first_job = std::min(batches.back().first_job, j);
      } else {
        batches.push_back({j, {j}, loc.offset, end, {}});
      }
    }
  }
  std::sort(batches.begin(), batches.end(),
            [](const ReadBatch& a, const ReadBatch& b) { return a.first_job < b.first_job; });
  return batches;
}

// Reads at least this large keep kReadsInFlight reads going, on threads of
// their own when the pool is smaller: a thread waits for each read before it
// decodes, so with one thread per core the disk idles while they decode and
// write. Exporting a 6 GiB file from a local store in a 1 GiB memory cgroup
// took 20.7 s on the pool's 2 threads, 14.5 s on 8, with cp at 10.8 s. Below
// that size the threads' start and their fresh buffers cost more than they
// save. (A store in object storage runs that many threads anyway.)
constexpr uint64_t kManyReadsMin = 64ull << 20;
constexpr size_t kReadsInFlight = 8;

size_t ReadThreads(size_t pool_size, const std::vector<ChunkLocation>& locations) {
  uint64_t stored = 0;
  for (const ChunkLocation& loc : locations) stored += loc.length;
  // ParallelFor runs on the pool and the calling thread.
  const size_t pool_threads = pool_size + 1;
  return stored >= kManyReadsMin ? std::max(pool_threads, kReadsInFlight) : pool_threads;
}

// Adds to each batch the ranges holding the bases of its delta chunks
// (`bases[j]`, located, for job j), coalesced as the chunks are: the base
// of a delta usually sits beside the base of the next one, in the pack the
// parent's save wrote.
void AddBaseRanges(const std::vector<std::optional<ChunkLocation>>& bases,
                   std::vector<ReadBatch>* batches) {
  for (ReadBatch& batch : *batches) {
    std::vector<const ChunkLocation*> locs;
    for (size_t j : batch.jobs) {
      if (bases[j]) locs.push_back(&*bases[j]);
    }
    std::sort(locs.begin(), locs.end(), [](const ChunkLocation* a, const ChunkLocation* b) {
      return std::tie(a->pack_id, a->offset) < std::tie(b->pack_id, b->offset);
    });
    for (const ChunkLocation* loc : locs) {
      const uint64_t end = loc->offset + loc->length;
      auto& ranges = batch.base_ranges;
      if (!ranges.empty() && ranges.back().first->pack_id == loc->pack_id &&
          loc->offset <= ranges.back().second + kBatchGap &&
          end - ranges.back().first->offset <= kMaxBatch) {
        ranges.back().second = std::max(ranges.back().second, end);
      } else {
        ranges.push_back({loc, end});
      }
    }
  }
}

std::string PartLabel(const ManifestEntry& e) {
  std::string label = e.is_blob ? "blob '" : "tensor '";
  label += e.name + "'";
  if (e.local_rank >= 0) label += " of rank " + std::to_string(e.local_rank);
  if (e.is_piece()) label += ", piece " + BoxToString({e.offsets, e.shape});
  return label;
}

}  // namespace

Status ReadParts(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c,
                 const std::vector<PartRead>& parts, const std::vector<uint8_t*>& dsts,
                 const PieceSink& sink, const ProgressFn& progress) {
  std::vector<ChunkJob> jobs;
  uint64_t total_bytes = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const PartRead& part = parts[p];
    if (part.runs.empty()) continue;
    const uint64_t span = c.manifest.SpanOf(*part.entry);
    const uint64_t begin = part.runs.front().src;
    const uint64_t end = part.runs.back().src + part.runs.back().length;
    for (uint64_t k = begin / span; k * span < end; ++k) {
      const uint64_t chunk_begin = k * span;
      auto [lo, hi] = RunsOverlapping(part.runs, chunk_begin, chunk_begin + span);
      if (lo < hi) jobs.push_back({p, k});  // a box read skips chunks between its rows
    }
    for (const ByteRun& r : part.runs) total_bytes += r.length;
  }
  std::mutex mu;
  Status first_error;
  std::atomic<bool> failed{false};
  uint64_t done = 0;
  const auto fail = [&](const Status& s, const ManifestEntry& entry) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.ok())
      first_error = s.WithContext("checkpoint " + c.Label() + ", " + PartLabel(entry));
    failed = true;
  };
  std::vector<ChunkLocation> locations(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    const PartRead& part = parts[jobs[j].part];
    const ManifestEntry& entry = *part.entry;
    const uint64_t span = c.manifest.SpanOf(entry);
    auto loc = Locate(index, entry.chunks[jobs[j].chunk],
                      ChunkLength(entry.byte_length, span, jobs[j].chunk));
    if (!loc.ok()) {
      fail(loc.status(), entry);
      return first_error;
    }
    locations[j] = std::move(*loc);
  }
  std::vector<std::optional<ChunkLocation>> bases(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (!locations[j].is_delta()) continue;
    // A base that cannot be located is left to the chunk's own read, which
    // reports it with the chain.
    auto base = Locate(index, locations[j].base, locations[j].raw_length);
    if (base.ok()) bases[j] = std::move(*base);
  }
  const size_t threads = ReadThreads(ctx.pool->size(), locations);
  std::vector<ReadBatch> batches = BatchReads(locations, threads);
  AddBaseRanges(bases, &batches);
  if (progress) progress(0, total_bytes);
  const auto read_batch = [&](size_t b) {
    if (failed) return;
    const ReadBatch& batch = batches[b];
    const ChunkLocation& first = locations[batch.jobs.front()];
    // One request for the batch's stored bytes, and one per range of their
    // bases.
    thread_local PrereadSet preread;
    preread.Clear();
    const auto read_range = [&](const std::string& pack_id, uint64_t begin, uint64_t end) {
      return ReadPackBytes(*ctx.backend, pack_id, begin, static_cast<uint32_t>(end - begin),
                           preread.Add(pack_id, begin));
    };
    const ManifestEntry& first_entry = *parts[jobs[batch.jobs.front()].part].entry;
    if (batch.jobs.size() > 1) {
      const Status s = read_range(first.pack_id, batch.begin, batch.end);
      if (!s.ok()) return fail(s, first_entry);
    }
    for (const auto& [base, end] : batch.base_ranges) {
      const Status s = read_range(base->pack_id, base->offset, end);
      if (!s.ok()) return fail(s, first_entry);
    }
    for (size_t j : batch.jobs) {
      if (failed) return;
      const ChunkLocation& loc = locations[j];
      const PartRead& part = parts[jobs[j].part];
      const ManifestEntry& entry = *part.entry;
      const uint64_t span = c.manifest.SpanOf(entry), chunk = jobs[j].chunk;
      const uint64_t begin = chunk * span, length = ChunkLength(entry.byte_length, span, chunk);
      auto [lo, hi] = RunsOverlapping(part.runs, begin, begin + length);
      const ByteRun& only = part.runs[lo];
      uint64_t delivered = 0;
      Status s;
      if (!sink && hi == lo + 1 && only.src <= begin && only.src + only.length >= begin + length) {
        // The whole chunk lands in one place: decode it straight there.
        s = ReadLocatedChunk(ctx, index, entry.chunks[chunk], loc, &preread, length,
                             dsts[part.target] + only.dst + (begin - only.src), ChunkCheck::kHash);
        delivered = length;
      } else {
        thread_local std::vector<uint8_t> buffer;  // kept: no faults per chunk
        if (buffer.size() < length) buffer.resize(length);
        s = ReadLocatedChunk(ctx, index, entry.chunks[chunk], loc, &preread, length, buffer.data(),
                             ChunkCheck::kHash);
        for (size_t r = lo; s.ok() && r < hi; ++r) {
          const ByteRun& run = part.runs[r];
          const uint64_t from = std::max(run.src, begin);
          const uint64_t to = std::min(run.src + run.length, begin + length);
          const uint64_t dst = run.dst + (from - run.src);
          if (sink)
            s = sink(part.target, dst, buffer.data() + (from - begin), to - from);
          else
            std::memcpy(dsts[part.target] + dst, buffer.data() + (from - begin), to - from);
          delivered += to - from;
        }
      }
      if (!s.ok()) return fail(s, entry);
      if (progress) {
        std::lock_guard<std::mutex> lock(mu);
        done += delivered;
        progress(done, total_bytes);
      }
    }
  };
  if (threads > ctx.pool->size() + 1)
    ForEachOnThreads(batches.size(), threads, read_batch);
  else
    ctx.pool->ParallelFor(batches.size(), read_batch);
  return first_error;
}

namespace {

Box WholeBox(const std::vector<int64_t>& shape) {
  return {std::vector<int64_t>(shape.size(), 0), shape};
}

Box BoxOfPart(const ManifestEntry& e) {
  return e.is_piece() ? Box{e.offsets, e.shape} : WholeBox(e.shape);
}

std::string RegionError(const EntryView& v, const std::string& region) {
  return "region " + region + " of '" + v.name + "' is not covered by any piece";
}

}  // namespace

Status AddViewRead(const Manifest& m, const EntryView& v, size_t target,
                   std::vector<PartRead>* out) {
  if (!v.pieced) {
    const ManifestEntry& e = m.entries[v.parts.front()];
    if (e.byte_length) out->push_back({&e, target, {{0, 0, e.byte_length}}});
    return Status::OK();
  }
  return AddBoxRead(m, v, WholeBox(v.shape), target, out);
}

Status AddBoxRead(const Manifest& m, const EntryView& v, const Box& region, size_t target,
                  std::vector<PartRead>* out) {
  if (v.is_blob) return Status::InvalidArgument("'" + v.name + "' is a blob, not a tensor");
  std::string why;
  if (!BoxInside(region, v.shape, &why))
    return Status::InvalidArgument("tensor '" + v.name + "': " + why);
  const uint64_t elem = DTypeSize(v.dtype);
  uint64_t covered = 0;
  for (size_t i : v.parts) {
    const ManifestEntry& e = m.entries[i];
    std::vector<ByteRun> runs = SharedRuns(BoxOfPart(e), region, elem);
    if (runs.empty()) continue;
    for (const ByteRun& r : runs) covered += r.length;
    out->push_back({&e, target, std::move(runs)});
  }
  if (covered != *ElementCount(region.shape) * elem)
    return Status::NotFound(RegionError(v, BoxToString(region)));
  return Status::OK();
}

Status AddRangeRead(const Manifest& m, const EntryView& v, uint64_t offset, uint64_t length,
                    size_t target, std::vector<PartRead>* out) {
  if (offset > v.byte_length || length > v.byte_length - offset)
    return Status::InvalidArgument("range passes the end of '" + v.name + "' (" +
                                   std::to_string(v.byte_length) + " bytes)");
  if (length == 0) return Status::OK();
  if (!v.pieced) {
    out->push_back({&m.entries[v.parts.front()], target, {{offset, 0, length}}});
    return Status::OK();
  }
  // The pieces' runs into the whole tensor, clipped to the range.
  const uint64_t end = offset + length;
  uint64_t covered = 0;
  for (size_t i : v.parts) {
    const ManifestEntry& e = m.entries[i];
    PartRead part{&e, target, {}};
    for (const ByteRun& r : SharedRuns(BoxOfPart(e), WholeBox(v.shape), DTypeSize(v.dtype))) {
      const uint64_t lo = std::max(r.dst, offset), hi = std::min(r.dst + r.length, end);
      if (lo >= hi) continue;
      part.runs.push_back({r.src + (lo - r.dst), lo - offset, hi - lo});
      covered += hi - lo;
    }
    if (!part.runs.empty()) out->push_back(std::move(part));
  }
  if (covered != length)
    return Status::NotFound(
        RegionError(v, "bytes " + std::to_string(offset) + ".." + std::to_string(end)));
  return Status::OK();
}

}  // namespace ckpt::internal
