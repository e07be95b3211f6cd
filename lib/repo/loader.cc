#include "repo/loader.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <tuple>
#include <utility>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "pack/pack_writer.h"
#include "repo/config.h"
#include "util/aligned_buffer.h"
#include "util/large_region.h"

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
  thread_local std::string levels[kMaxDeltaDepth + 1];
  // Bytes read ahead are decoded where they lie, not copied first.
  std::optional<std::string_view> stored;
  if (preread != nullptr) stored = preread->Find(loc);
  if (!stored) {
    std::string& level = levels[std::min<int>(loc.depth, kMaxDeltaDepth)];
    CKPT_RETURN_IF_ERROR(ReadPackBytes(*ctx.backend, loc.pack_id, loc.offset, loc.length, &level)
                             .WithContext("chunk " + digest.ShortHex()));
    stored = level;
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
                 uint8_t* dst, ChunkCheck check, const PrereadSet* preread) {
  CKPT_ASSIGN_OR_RETURN(ChunkLocation loc, Locate(index, digest, raw_length));
  return ReadLocatedChunk(ctx, index, digest, loc, preread, raw_length, dst, check);
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

// Chunks of one read that lie close together in one pack, decoded by one
// thread from bytes fetched together: an object store answers a GET of
// 8 MiB in about the time of one of 256 KiB, and a thousand small GETs kept
// a restore from S3 at restic's speed. Locally one large read costs no more
// than its parts.
struct ReadBatch {
  size_t first_job = 0;      // the lowest index among `jobs`
  std::vector<size_t> jobs;  // by offset in the pack
  uint64_t begin = 0;        // of the stored bytes of `jobs`
  uint64_t end = 0;
};

constexpr uint64_t kBatchGap = 64 << 10;  // bytes a batch may read and not use
constexpr uint64_t kMinBatch = 1 << 20;
// Smaller batches, with twice the reads in flight (kReadsInFlight), hold the
// same bytes and were faster, likely because decoding starts sooner and less
// is left to decode after the last fetch (not traced). Restoring a 200 MiB
// bf16 checkpoint from RGW on loopback took a median 0.79-0.83 s with 16
// reads of up to 4 MiB against 0.85-0.94 s with 8 of up to 8 MiB (two sets
// of four; 0.87 against 0.98 s for the embedding series); a local export
// 0.70 against 0.79 s; a 6 GiB local export from a cold page cache took
// 9.8-10.9 s either way.
constexpr uint64_t kMaxBatch = 4 << 20;

// A batch size for `stored` bytes that still gives every thread of the
// pool a couple of batches.
uint64_t BatchLimit(uint64_t stored, size_t threads) {
  return std::clamp<uint64_t>(stored / (2 * std::max<size_t>(threads, 1)), kMinBatch, kMaxBatch);
}

// Groups jobs by pack into batches of at most `limit` stored bytes, in the
// order of their first job, so a read still proceeds roughly front to back.
// `fetched[j]`: the bytes job j decodes from, its own and its bases'; a
// batch's add up to at most `limit` too. A batch is decoded on one thread
// while its ranges stay held: a batch of a delta pack's chunks, bounded by
// its own bytes alone, pulled in ~32 MiB of bases from other packs (129
// chunks of up to 256 KiB), and the
// other threads waited ~50 ms for it, a core idle, several times in an
// export of the S3 benchmark's embedding series.
std::vector<ReadBatch> BatchReads(const std::vector<ChunkLocation>& locations,
                                  const std::vector<uint64_t>& fetched, uint64_t limit) {
  std::map<std::string_view, std::vector<size_t>> by_pack;
  for (size_t j = 0; j < locations.size(); ++j) by_pack[locations[j].pack_id].push_back(j);
  std::vector<ReadBatch> batches;
  for (auto& [pack, jobs] : by_pack) {
    std::stable_sort(jobs.begin(), jobs.end(),
                     [&](size_t a, size_t b) { return locations[a].offset < locations[b].offset; });
    uint64_t batch_fetched = 0;
    for (size_t j : jobs) {
      const ChunkLocation& loc = locations[j];
      const uint64_t end = loc.offset + loc.length;
      if (!batches.empty() && locations[batches.back().jobs.front()].pack_id == pack &&
          loc.offset <= batches.back().end + kBatchGap && end - batches.back().begin <= limit &&
          batch_fetched + fetched[j] <= limit) {
        batches.back().jobs.push_back(j);
        batches.back().end = std::max(batches.back().end, end);
        batches.back().first_job = std::min(batches.back().first_job, j);
        batch_fetched += fetched[j];
      } else {
        batches.push_back({j, {j}, loc.offset, end});
        batch_fetched = fetched[j];
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
// took 20.7 s on the pool's 2 threads, 14.5 s on 8, with cp at 10.8 s
// (before fetches were coalesced across batches; kMaxBatch says why 16
// now). Smaller reads stay on the pool: threads started per read, with
// fresh buffers, are kept to reads long enough to pay for them (the 64 MiB
// line was chosen, not measured). A store in object storage has 8 threads
// on its pool on a 2-core machine (2 per core, at least 8).
constexpr uint64_t kManyReadsMin = 64ull << 20;
constexpr size_t kReadsInFlight = 16;

size_t ReadThreads(size_t pool_size, uint64_t stored) {
  // ParallelFor runs on the pool and the calling thread.
  const size_t pool_threads = pool_size + 1;
  return stored >= kManyReadsMin ? std::max(pool_threads, kReadsInFlight) : pool_threads;
}

// Stored bytes one batch decodes from: a chunk's own, or one of its bases.
struct Piece {
  const ChunkLocation* loc = nullptr;
  size_t batch = 0;
  size_t range = 0;  // of FetchRanges
};

// Bytes of one pack fetched with one request, for the batches
// first_batch..last_batch.
struct FetchRange {
  const std::string* pack_id = nullptr;
  uint64_t begin = 0;
  uint64_t end = 0;
  size_t first_batch = 0;
  size_t last_batch = 0;
};

// Coalesces the pieces of all batches into ranges of at most `limit`
// bytes, over all batches at once: the bases of one batch's deltas rarely
// lie together (a save appends chunks as its workers finish them, so a
// checkpoint's chunks and their bases' interleave differently), but the
// bases of a few neighbouring batches do, in the pack the base's save
// wrote. Fetched per batch, bf16's bases took ~10 serial GETs of one chunk
// each. A range serves batches at most `window` apart, so that the bytes
// it keeps waiting for its last batch stay bounded. Returns the ranges in
// the order of their first batch, and sets each piece's range.
std::vector<FetchRange> CoalescePieces(std::vector<Piece>* pieces, uint64_t limit, size_t window) {
  std::vector<size_t> order(pieces->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ChunkLocation& x = *(*pieces)[a].loc;
    const ChunkLocation& y = *(*pieces)[b].loc;
    return std::tie(x.pack_id, x.offset) < std::tie(y.pack_id, y.offset);
  });
  std::vector<FetchRange> ranges;
  for (size_t i : order) {
    Piece& piece = (*pieces)[i];
    const ChunkLocation& loc = *piece.loc;
    const uint64_t end = loc.offset + loc.length;
    if (!ranges.empty()) {
      FetchRange& r = ranges.back();
      const size_t first = std::min(r.first_batch, piece.batch);
      const size_t last = std::max(r.last_batch, piece.batch);
      if (*r.pack_id == loc.pack_id && loc.offset <= r.end + kBatchGap &&
          std::max(r.end, end) - r.begin <= limit && last - first <= window) {
        r.end = std::max(r.end, end);
        r.first_batch = first;
        r.last_batch = last;
        piece.range = ranges.size() - 1;
        continue;
      }
    }
    ranges.push_back({&loc.pack_id, loc.offset, end, piece.batch, piece.batch});
    piece.range = ranges.size() - 1;
  }
  std::vector<size_t> by_batch(ranges.size());
  for (size_t r = 0; r < by_batch.size(); ++r) by_batch[r] = r;
  std::stable_sort(by_batch.begin(), by_batch.end(), [&](size_t a, size_t b) {
    return ranges[a].first_batch < ranges[b].first_batch;
  });
  std::vector<size_t> new_index(ranges.size());
  std::vector<FetchRange> sorted;
  sorted.reserve(ranges.size());
  for (size_t r : by_batch) {
    new_index[r] = sorted.size();
    sorted.push_back(ranges[r]);
  }
  for (Piece& piece : *pieces) piece.range = new_index[piece.range];
  return sorted;
}

// Buffers for the ranges of one read. A range's buffer is reused once the
// batches that decode from it are done, since fresh memory is dear (see
// Take; in one profile of a bf16 export, clearing fresh 4 KiB pages took
// 29% of the CPU). Fetches wait while `cap` bytes are held, so that
// fetching does not run far ahead of decoding (unbounded, a bf16 export had
// every range, all in fresh memory, 0.3 s into its 0.7 s); a range that the
// first batch not yet decoded needs never waits, so that batch always
// completes (the ranges of a batch start before any range that only later
// batches need).
class RangeBuffers {
 public:
  // An AlignedBuffer holding one range: in huge pages from 2 MiB up,
  // faulted in when made (see Take).
  using Buffer = AlignedBuffer;

  // last_range[b]: the highest of the ranges batch b decodes from.
  // `min_size`: the least a new buffer holds, so that it serves most later
  // ranges too.
  RangeBuffers(std::vector<size_t> last_range, uint64_t cap, size_t min_size)
      : last_range_(std::move(last_range)),
        decoded_(last_range_.size(), false),
        cap_(cap),
        min_size_(min_size) {}

  // A buffer for range `r` of `size` bytes, not zeroed, once the bytes held
  // leave room for it (or the first batch not decoded needs it). Empty
  // after Abort.
  Buffer Take(size_t r, size_t size) {
    Buffer b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return aborted_ || held_ + size <= cap_ ||
               (first_undecoded_ < last_range_.size() && r <= last_range_[first_undecoded_]);
      });
      if (aborted_) return b;
      held_ += size;
      auto best = free_.end();
      for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->capacity() >= size && (best == free_.end() || it->capacity() < best->capacity()))
          best = it;
      }
      if (best != free_.end()) {
        b = std::move(*best);
        free_.erase(best);
      }
    }
    if (b.data() == nullptr) {
      // Faulted in at once, and only the bytes of this range. On the VMs
      // measured here the first write from user space to a fresh 4 KiB page
      // costs ~11.6 us, and still ~5.6 us when MAP_POPULATE has had the
      // kernel fill it: 64 MiB of ranges took 190 ms (91 ms) of page faults,
      // against 14-26 ms to populate them in huge pages. Exports of the S3
      // benchmark's bf16 and embedding checkpoints took 0.61-0.95 s of CPU
      // this way against 0.80-1.21 s in fresh 4 KiB pages (three of each,
      // alternating). (Huge pages faulted in by the copies themselves,
      // without populating, once cost more than 4 KiB pages: the kernel
      // compacted memory to find them.)
      b.reserve(std::max(size, min_size_));
      PopulateLargeRegion(b.data(), size);
    }
    b.resize_uninitialized(size);
    return b;
  }

  // Returns the buffer of a range of `size` bytes, its batches done.
  void Give(Buffer b, size_t size) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_ -= size;
      free_.push_back(std::move(b));
    }
    cv_.notify_all();
  }

  // Batch `b` is decoded.
  void Decoded(size_t b) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      decoded_[b] = true;
      while (first_undecoded_ < decoded_.size() && decoded_[first_undecoded_]) ++first_undecoded_;
    }
    cv_.notify_all();
  }

  // After a failure: no fetch waits any more (the batches that would
  // release bytes may never run).
  void Abort() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      aborted_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const std::vector<size_t> last_range_;
  std::vector<bool> decoded_;
  size_t first_undecoded_ = 0;
  const uint64_t cap_;
  const size_t min_size_;
  uint64_t held_ = 0;
  bool aborted_ = false;
  std::vector<Buffer> free_;
};

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
  // Every job's chain of bases, located now so that their bytes are
  // fetched with the chunks'. A base that cannot be located ends the chain
  // here and is left to the chunk's own read, which reports it with the chain.
  std::vector<std::vector<ChunkLocation>> chains(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    std::vector<ChunkLocation>& chain = chains[j];
    for (const ChunkLocation* at = &locations[j]; at->is_delta();) {
      auto base = Locate(index, at->base, at->raw_length);
      if (!base.ok() || base->depth >= at->depth) break;
      chain.push_back(std::move(*base));
      at = &chain.back();
    }
  }
  std::vector<uint64_t> fetched_of_job(jobs.size());
  uint64_t all_stored = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    fetched_of_job[j] = locations[j].length;
    for (const ChunkLocation& base : chains[j]) fetched_of_job[j] += base.length;
    all_stored += fetched_of_job[j];
  }
  // Sized by what is fetched: a checkpoint of small deltas over large bases
  // fetches mostly bases.
  const size_t threads = ReadThreads(ctx.pool->size(), all_stored);
  std::vector<ReadBatch> batches =
      BatchReads(locations, fetched_of_job, BatchLimit(all_stored, threads));
  std::vector<Piece> pieces;
  for (size_t b = 0; b < batches.size(); ++b) {
    for (size_t j : batches[b].jobs) {
      pieces.push_back({&locations[j], b});
      for (const ChunkLocation& base : chains[j]) pieces.push_back({&base, b});
    }
  }
  const uint64_t range_limit = BatchLimit(all_stored, threads);
  const std::vector<FetchRange> ranges = CoalescePieces(&pieces, range_limit, threads);
  // Which ranges each batch decodes from, and which batches each range serves.
  std::vector<std::vector<size_t>> batch_ranges(batches.size()), range_batches(ranges.size());
  for (const Piece& piece : pieces) {
    std::vector<size_t>& of_batch = batch_ranges[piece.batch];
    if (std::find(of_batch.begin(), of_batch.end(), piece.range) != of_batch.end()) continue;
    of_batch.push_back(piece.range);
    range_batches[piece.range].push_back(piece.batch);
  }
  // A batch is decoded by the thread that fetched the last of its ranges;
  // a range's buffer is reused once the last of its batches is decoded.
  std::unique_ptr<std::atomic<size_t>[]> missing(new std::atomic<size_t>[batches.size()]);
  for (size_t b = 0; b < batches.size(); ++b) missing[b] = batch_ranges[b].size();
  std::unique_ptr<std::atomic<size_t>[]> users(new std::atomic<size_t>[ranges.size()]);
  for (size_t r = 0; r < ranges.size(); ++r) users[r] = range_batches[r].size();
  std::vector<size_t> last_range(batches.size(), 0);
  for (size_t b = 0; b < batches.size(); ++b)
    last_range[b] = *std::max_element(batch_ranges[b].begin(), batch_ranges[b].end());
  // Room for every thread to fetch one range while others decode.
  RangeBuffers buffers(std::move(last_range), threads * range_limit, range_limit);
  std::vector<RangeBuffers::Buffer> fetched(ranges.size());

  const auto decode_batch = [&](size_t b) {
    const ReadBatch& batch = batches[b];
    PrereadSet preread;
    for (size_t r : batch_ranges[b]) {
      const FetchRange& range = ranges[r];
      preread.Add(*range.pack_id, range.begin,
                  std::string_view(fetched[r].data(), range.end - range.begin));
    }
    for (size_t j : batch.jobs) {
      if (failed) break;
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
      if (!s.ok()) {
        fail(s, entry);
        break;
      }
      if (progress) {
        std::lock_guard<std::mutex> lock(mu);
        done += delivered;
        progress(done, total_bytes);
      }
    }
    for (size_t r : batch_ranges[b]) {
      if (users[r].fetch_sub(1) == 1)
        buffers.Give(std::move(fetched[r]), ranges[r].end - ranges[r].begin);
    }
    buffers.Decoded(b);
  };

  if (progress) progress(0, total_bytes);
  // One parallel loop over the ranges in the order of their first batch:
  // fetches run on every thread while the batches they complete decode.
  const auto fetch_range = [&](size_t r) {
    if (failed) return buffers.Abort();
    const FetchRange& range = ranges[r];
    fetched[r] = buffers.Take(r, range.end - range.begin);
    if (failed) return buffers.Abort();
    const Status s = ReadPackBytesInto(*ctx.backend, *range.pack_id, range.begin,
                                       range.end - range.begin, fetched[r].data());
    if (!s.ok()) {
      const ReadBatch& first = batches[range.first_batch];
      fail(s, *parts[jobs[first.jobs.front()].part].entry);
      return buffers.Abort();
    }
    for (size_t b : range_batches[r]) {
      if (missing[b].fetch_sub(1) == 1) decode_batch(b);
    }
  };
  // Both hand out the indexes in order, which RangeBuffers relies on.
  if (threads > ctx.pool->size() + 1)
    ForEachOnThreads(ranges.size(), threads, fetch_range);
  else
    ctx.pool->ParallelFor(ranges.size(), fetch_range);
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
