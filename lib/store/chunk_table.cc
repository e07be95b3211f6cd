#include "store/chunk_table.h"

#include <algorithm>
#include <cstring>

#include "repo/config.h"

namespace ckpt::internal {
namespace {

// Lookups of bases go to the index in sorted batches of this many.
constexpr size_t kBatch = 512;
// Bases of named deltas are found this many at a time: each lookup misses
// the cache, and prefetching a batch overlaps the misses.
constexpr size_t kPrefetched = 32;

// FindChunks, except that an entry that does not decode leaves its chunk
// missing, as FindChunk's callers treat it, rather than failing the batch.
Status FindBatch(Index& index, const std::vector<Digest>& digests, size_t begin, size_t end,
                 std::vector<std::optional<ChunkLocation>>* out) {
  Status s = index.FindChunks(digests, begin, end, out);
  if (s.code() != Code::kCorruption) return s;
  out->assign(end - begin, std::nullopt);
  for (size_t i = begin; i < end; ++i) {
    auto found = index.FindChunk(digests[i]);
    if (!found.ok() && found.status().code() != Code::kCorruption) return found.status();
    if (found.ok()) (*out)[i - begin] = std::move(*found);
  }
  return Status::OK();
}

// The first 8 bytes of a digest, as a number that sorts as the digest does.
uint64_t Prefix(const Digest& d) {
  uint64_t v;
  std::memcpy(&v, d.bytes.data(), sizeof(v));
  if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) v = __builtin_bswap64(v);
  return v;
}

// Digest order, decided by the prefixes but for 1 in 2^64 pairs: sorting
// and searching millions of digests spend most of their time comparing.
// (A type, not a function, so that std::sort inlines it.)
struct DigestLess {
  bool operator()(const Digest& a, const Digest& b) const {
    const uint64_t x = Prefix(a), y = Prefix(b);
    return x != y ? x < y : a < b;
  }
};
constexpr DigestLess Less;

// Positions are 32-bit; kNone is none of them.
Status TooMany() {
  return Status::NotSupported("verify: more than " + std::to_string(ChunkTable::kNone - 1) +
                              " chunks to check");
}

std::string LinkName(const Digest& chunk, const Digest& base) {
  return "delta chunk " + chunk.ShortHex() + ": base " + base.ShortHex();
}

}  // namespace

void ChunkTable::AddChunksOf(const Manifest& m) {
  for (const auto& e : m.entries) digests_.insert(digests_.end(), e.chunks.begin(), e.chunks.end());
  // Checkpoints share chunks: deduplicate as we go to bound memory.
  if (digests_.size() > 2 * sorted_ + (1 << 16)) SortUnique();
}

void ChunkTable::SortUnique() {
  std::sort(digests_.begin(), digests_.end(), Less);
  digests_.erase(std::unique(digests_.begin(), digests_.end()), digests_.end());
  sorted_ = digests_.size();
}

uint32_t ChunkTable::FindIn(uint32_t begin, uint32_t end, const Digest& d) const {
  auto first = digests_.begin() + begin, last = digests_.begin() + end;
  auto it = std::lower_bound(first, last, d, Less);
  return it != last && *it == d ? static_cast<uint32_t>(it - digests_.begin()) : kNone;
}

size_t ChunkTable::Bucket(const Digest& d) const {
  return directory_bits_ == 0 ? 0 : Prefix(d) >> (64 - directory_bits_);
}

void ChunkTable::BuildDirectory() {
  // 8 to 16 chunks per bucket: a lookup reads a few digests, not log2(n).
  directory_bits_ = 0;
  while (directory_bits_ < 32 && (uint64_t{16} << directory_bits_) <= named_) ++directory_bits_;
  directory_.assign((size_t{1} << directory_bits_) + 1, named_);
  size_t b = 0;
  for (uint32_t i = 0; i < named_; ++i)
    for (const size_t k = Bucket(digests_[i]); b <= k;) directory_[b++] = i;
}

uint32_t ChunkTable::FindNamed(const Digest& d) const {
  const size_t b = Bucket(d);
  // A bucket holds a few neighbours: reading them in turn beats bisecting.
  const uint64_t prefix = Prefix(d);
  for (uint32_t i = directory_[b]; i < directory_[b + 1]; ++i) {
    const uint64_t p = Prefix(digests_[i]);
    if (p > prefix) break;
    if (p == prefix && digests_[i] == d) return i;
  }
  return kNone;
}

uint32_t ChunkTable::Find(const Digest& d) const {
  if (uint32_t i = FindNamed(d); i != kNone) return i;
  for (size_t k = 1; k + 1 < levels_.size(); ++k) {
    uint32_t i = FindIn(levels_[k], levels_[k + 1], d);
    if (i != kNone) return i;
  }
  return kNone;
}

Result<uint32_t> ChunkTable::PackNumber(Index& index, const std::string& pack_id) {
  auto it = pack_numbers_.find(pack_id);
  if (it != pack_numbers_.end()) return it->second;
  CKPT_ASSIGN_OR_RETURN(bool indexed, index.HasPack(pack_id));
  uint32_t number = kNone;
  if (indexed) {
    number = static_cast<uint32_t>(pack_ids_.size());
    pack_ids_.push_back(pack_id);
  }
  pack_numbers_.emplace(pack_id, number);
  return number;
}

Status ChunkTable::Set(Index& index, uint32_t i, const ChunkLocation& loc) {
  CKPT_ASSIGN_OR_RETURN(uint32_t pack, PackNumber(index, loc.pack_id));
  if (pack == kNone) return Status::OK();  // as FindChunk: a chunk counts while its pack is indexed
  infos_[i].pack = pack;
  infos_[i].depth = loc.depth;
  if (keep_extents_) extents_[i] = {loc.offset, loc.length, loc.raw_length};
  return Status::OK();
}

Status ChunkTable::Fill(Index& index, uint32_t i, std::string_view value, std::vector<Link>* batch,
                        std::vector<Link>* unresolved) {
  ChunkLocation loc;
  Status s = DecodeChunkLocation(value, &loc);
  if (s.ok()) s = Set(index, i, loc);
  // An entry that does not decode leaves the chunk missing, as FindChunk's
  // callers treat it.
  if (!s.ok()) return s.code() == Code::kCorruption ? Status::OK() : s;
  if (found(i) && loc.is_delta()) {
    batch->push_back({loc.base, i});
    if (batch->size() == kPrefetched) ResolveNamed(batch, unresolved);
  }
  return Status::OK();
}

void ChunkTable::ResolveNamed(std::vector<Link>* batch, std::vector<Link>* unresolved) {
  for (const Link& l : *batch) __builtin_prefetch(&digests_[directory_[Bucket(l.base)]]);
  for (const Link& l : *batch) {
    infos_[l.chunk].base = FindNamed(l.base);
    if (infos_[l.chunk].base == kNone) unresolved->push_back(l);
  }
  batch->clear();
}

Status ChunkTable::ScanNamed(Index& index, std::vector<Link>* unresolved) {
  uint32_t next = 0;  // the first named chunk the walk has not passed
  std::vector<Link> batch;
  Status error;
  CKPT_RETURN_IF_ERROR(index.Scan(kChunkKeys, [&](std::string_view key, std::string_view value) {
    if (key.size() != 1 + Digest::kSize) return true;  // no chunk's key
    const Digest digest = Digest::FromView(key.substr(1));
    while (next < named_ && Less(digests_[next], digest)) ++next;  // not indexed
    if (next == named_) return false;
    if (digests_[next] != digest) return true;  // named by no checkpoint
    error = Fill(index, next++, value, &batch, unresolved);
    return error.ok() && next < named_;
  }));
  ResolveNamed(&batch, unresolved);
  return error;
}

void ChunkTable::CheckLinks(size_t level, std::vector<ChunkProblem>* problems) const {
  for (uint32_t i = levels_[level]; i < levels_[level + 1]; ++i) {
    const uint32_t base = infos_[i].base;
    if (!found(i) || base == kNone) continue;
    if (!found(base))
      problems->push_back(
          {Status::Corruption(LinkName(digests_[i], digests_[base]) + " is missing from the index"),
           {i}});
    else if (infos_[base].depth >= infos_[i].depth)
      problems->push_back({Status::Corruption(LinkName(digests_[i], digests_[base]) +
                                              " breaks the chain's depth order"),
                           {i}});
  }
}

Status ChunkTable::AddBase(Index& index, size_t level, const std::optional<ChunkLocation>& loc,
                           const Link* links, size_t n, std::vector<ChunkProblem>* problems) {
  bool needed = false;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t chunk = links[j].chunk;
    // A link kMaxDeltaDepth links below a named chunk makes a longer chain
    // than any store allows.
    if (loc && loc->depth < infos_[chunk].depth && level < static_cast<size_t>(kMaxDeltaDepth)) {
      needed = true;
      continue;
    }
    const std::string problem =
        loc ? " breaks the chain's depth order" : " is missing from the index";
    problems->push_back(
        {Status::Corruption(LinkName(digests_[chunk], links[j].base) + problem), {chunk}});
  }
  if (!needed) return Status::OK();
  if (digests_.size() + 1 >= kNone) return TooMany();
  const uint32_t i = size();
  digests_.push_back(links[0].base);
  infos_.emplace_back();
  if (keep_extents_) extents_.emplace_back();
  CKPT_RETURN_IF_ERROR(Set(index, i, *loc));
  for (size_t j = 0; j < n; ++j) infos_[links[j].chunk].base = i;
  if (loc->is_delta()) pending_.push_back({loc->base, i});
  return Status::OK();
}

Status ChunkTable::AddBases(Index& index, size_t level, std::vector<Link> links,
                            std::vector<ChunkProblem>* problems) {
  std::sort(links.begin(), links.end(), [](const Link& a, const Link& b) {
    return a.base != b.base ? Less(a.base, b.base) : a.chunk < b.chunk;
  });
  std::vector<Digest> bases;
  for (const Link& l : links)
    if (bases.empty() || bases.back() != l.base) bases.push_back(l.base);
  std::vector<std::optional<ChunkLocation>> locs;
  size_t l = 0;
  for (size_t begin = 0; begin < bases.size(); begin += kBatch) {
    const size_t end = std::min(bases.size(), begin + kBatch);
    CKPT_RETURN_IF_ERROR(FindBatch(index, bases, begin, end, &locs));
    for (size_t b = begin; b < end; ++b) {
      const size_t first = l;
      while (l < links.size() && links[l].base == bases[b]) ++l;
      CKPT_RETURN_IF_ERROR(
          AddBase(index, level, locs[b - begin], &links[first], l - first, problems));
    }
  }
  levels_.push_back(size());
  return Status::OK();
}

std::vector<ChunkTable::Link> ChunkTable::Resolve() {
  std::vector<Link> unresolved;
  for (const Link& l : pending_) {
    infos_[l.chunk].base = Find(l.base);
    if (infos_[l.chunk].base == kNone) unresolved.push_back(l);
  }
  pending_.clear();
  return unresolved;
}

Status ChunkTable::Locate(Index& index, std::vector<ChunkProblem>* problems) {
  SortUnique();
  if (digests_.size() >= kNone) return TooMany();
  named_ = size();
  BuildDirectory();
  levels_ = {0, named_};
  infos_.resize(named_);
  if (keep_extents_) extents_.resize(named_);
  std::vector<Link> unresolved;
  CKPT_RETURN_IF_ERROR(ScanNamed(index, &unresolved));
  CheckLinks(0, problems);
  // A level's links to new bases are checked as they are looked up; the
  // chains end, or run into the depth bound, within kMaxDeltaDepth levels.
  for (size_t level = 0; !unresolved.empty(); ++level) {
    CKPT_RETURN_IF_ERROR(AddBases(index, level, std::move(unresolved), problems));
    unresolved = Resolve();
    CheckLinks(level + 1, problems);
  }
  return Status::OK();
}

std::vector<std::pair<uint32_t, uint32_t>> ChunkTable::Affected(
    const std::vector<ChunkProblem>& problems) const {
  // Dependents of each chunk, as offsets into one array.
  std::vector<uint32_t> first(size() + 1, 0);
  for (uint32_t i = 0; i < size(); ++i)
    if (found(i) && infos_[i].base != kNone) first[infos_[i].base + 1]++;
  for (uint32_t i = 0; i < size(); ++i) first[i + 1] += first[i];
  std::vector<uint32_t> dependents(first.back()), fill(first.begin(), first.end() - 1);
  for (uint32_t i = 0; i < size(); ++i)
    if (found(i) && infos_[i].base != kNone) dependents[fill[infos_[i].base]++] = i;

  std::vector<std::pair<uint32_t, uint32_t>> out;
  std::vector<uint32_t> seen_by(size(), kNone);  // the last problem that reached each chunk
  std::vector<uint32_t> unvisited;
  for (uint32_t p = 0; p < problems.size(); ++p) {
    for (uint32_t c : problems[p].chunks)
      if (seen_by[c] != p) {
        seen_by[c] = p;
        unvisited.push_back(c);
      }
    while (!unvisited.empty()) {
      const uint32_t c = unvisited.back();
      unvisited.pop_back();
      out.emplace_back(c, p);
      for (uint32_t j = first[c]; j < first[c + 1]; ++j) {
        const uint32_t d = dependents[j];
        if (seen_by[d] == p) continue;
        seen_by[d] = p;
        unvisited.push_back(d);
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ckpt::internal
