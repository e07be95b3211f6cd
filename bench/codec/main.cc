// ckpt_bench_codec: one core's encode and decode throughput of the chunk
// codecs on a checkpoint's bytes, next to plain zstd on the same chunks.
//
//   ckpt_bench_codec PARENT.safetensors CHILD.safetensors [--chunk-kib 256] [--reps 3]
//                    [--per-tensor 1]
//
// Cuts every tensor of CHILD into chunks as a store of that chunk size cuts
// them and, on one thread, encodes and decodes every chunk with:
//   plain    EncodeChunk as a save calls it (planes decided once per tensor)
//   delta    EncodeDelta against the same chunk of PARENT (no size bar)
//   save     what a save stores at depth 1: plain, or the delta when it is a
//            tenth smaller, with the save's per-tensor shortcuts; decoding a
//            delta also decodes its base's plain encoding, as a load does
//   zstd-1, zstd-3   one zstd frame per chunk (the `zstd -1` and `-3` a
//            general-purpose compressor gives on the same chunks)
//   sha256   the hash every save and load computes (no output)
// and prints, per codec, the encoded share of the raw bytes and MB/s (10^6
// bytes of raw data per second of the thread's CPU time: per core, and
// little affected by other work on the machine), the best of --reps runs;
// with --per-tensor 1 also each tensor's stored share per codec.
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "chunk/chunker.h"
#include "codec/chunk_codec.h"
#include "codec/delta_codec.h"
#include "codec/plane_coder.h"
#include "hash/sha256.h"
#include "safetensors/safetensors_header.h"

namespace ckpt::internal {
namespace {

struct Chunk {
  const uint8_t* data;
  const uint8_t* base;  // the same chunk of the parent
  size_t size;
  size_t tensor;  // index into the child's entries
  EncodeParams params;
};

struct File {
  std::string bytes;
  SafetensorsHeader header;
  const uint8_t* data() const {
    return reinterpret_cast<const uint8_t*>(bytes.data()) + header.data_start();
  }
};

bool ReadFile(const char* path, File* f) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  f->bytes = ss.str();
  auto header = ParseSafetensorsHeader(f->bytes, f->bytes.size());
  if (!header.ok()) {
    std::fprintf(stderr, "%s: %s\n", path, header.status().ToString().c_str());
    return false;
  }
  f->header = std::move(*header);
  return true;
}

// The chunks of every tensor of `child` that `parent` has with the same
// name, dtype and size.
std::vector<Chunk> CutChunks(const File& parent, const File& child, uint64_t chunk_size) {
  std::vector<Chunk> chunks;
  for (size_t t = 0; t < child.header.entries.size(); ++t) {
    const SafetensorsEntry& e = child.header.entries[t];
    auto p = std::find_if(parent.header.entries.begin(), parent.header.entries.end(),
                          [&](const SafetensorsEntry& q) { return q.name == e.name; });
    if (p == parent.header.entries.end() || p->dtype != e.dtype || p->size() != e.size()) continue;
    EncodeParams params;
    params.elem_size = DTypeSize(e.dtype);
    params.is_float = DTypeIsFloat(e.dtype);
    params.zstd_level = 3;  // the store default
    const uint64_t span = ChunkSpan(chunk_size, params.elem_size);
    for (uint64_t i = 0; i < ChunkCount(e.size(), span); ++i) {
      chunks.push_back({child.data() + e.begin + i * span, parent.data() + p->begin + i * span,
                        ChunkLength(e.size(), span, i), t, params});
    }
  }
  return chunks;
}

double ThreadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The best CPU time of `reps` runs of fn.
double Best(int reps, const std::function<void()>& fn) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = ThreadSeconds();
    fn();
    best = std::min(best, ThreadSeconds() - t0);
  }
  return best;
}

void Die(const char* what) {
  std::fprintf(stderr, "ckpt_bench_codec: %s\n", what);
  std::exit(1);
}

// Per tensor, what a save remembers across its chunks (store/saver.cc).
struct TensorState {
  PlanesChoice planes = PlanesChoice::kDecideBySample;
  std::atomic<uint32_t> delta_wins{0}, plain_wins{0};
  PlaneScore plain_planes, delta_planes;
};

// One codec's encoded chunks, kept for its decode run.
struct Encoded {
  std::vector<std::string> bytes;
  std::vector<Codec> codecs;
  std::vector<std::string> bases;  // plain encodings of the bases of deltas
  size_t total = 0;
};

// Sums the encoded sizes of each tensor's chunks.
std::vector<size_t> PerTensor(const std::vector<Chunk>& chunks, const Encoded& e, size_t tensors) {
  std::vector<size_t> sums(tensors);
  for (size_t i = 0; i < chunks.size(); ++i) sums[chunks[i].tensor] += e.bytes[i].size();
  return sums;
}

void Report(const char* name, size_t raw, const Encoded& e, double enc_s, double dec_s) {
  std::printf("%-8s %7.1f%%  %8.0f  %8.0f\n", name, e.total ? 100.0 * e.total / raw : 0.0,
              enc_s > 0 ? raw / enc_s / 1e6 : 0.0, dec_s > 0 ? raw / dec_s / 1e6 : 0.0);
  std::fflush(stdout);
}

// Encodes a chunk as a save does (store/saver.cc, SaveRun::Encode).
Codec SaveEncode(const Chunk& c, TensorState& st, std::string* out) {
  EncodeParams plain = c.params, delta = c.params;
  if (plain.is_float && st.planes == PlanesChoice::kDecideBySample)
    st.planes = PlanesHelp(c.data, c.size, plain) ? PlanesChoice::kUse : PlanesChoice::kSkip;
  plain.planes = delta.planes = st.planes;
  plain.plane_score = &st.plain_planes;
  delta.plane_score = &st.delta_planes;
  const bool try_delta = !(st.plain_wins >= 2 && st.delta_wins == 0);
  if (!try_delta) return EncodeChunk(c.data, c.size, plain, out);
  thread_local std::string p;
  const bool plain_tried = !(st.delta_wins >= 2 && st.plain_wins == 0);
  Codec pc = Codec::kRaw;
  size_t limit = c.size;
  if (plain_tried) {
    pc = EncodeChunk(c.data, c.size, plain, &p);
    limit = p.size() - p.size() / 10;
  }
  Codec dc = EncodeDelta(c.data, c.base, Digest{}, c.size, delta, limit, out);
  if (dc != Codec::kRaw) {
    st.delta_wins++;
    return dc;
  }
  st.plain_wins++;
  if (plain_tried) {
    out->swap(p);
    return pc;
  }
  return EncodeChunk(c.data, c.size, plain, out);
}

void PrintPerTensor(const File& child,
                    const std::vector<std::pair<const char*, std::vector<size_t>>>& sizes) {
  std::printf("\n%-48s %10s", "tensor (stored % of raw)", "bytes");
  for (const auto& s : sizes) std::printf(" %7s", s.first);
  std::printf("\n");
  for (size_t t = 0; t < child.header.entries.size(); ++t) {
    const SafetensorsEntry& e = child.header.entries[t];
    if (e.size() == 0) continue;
    std::printf("%-48s %10llu", e.name.c_str(), static_cast<unsigned long long>(e.size()));
    for (const auto& s : sizes) std::printf(" %7.1f", 100.0 * s.second[t] / e.size());
    std::printf("\n");
  }
}

int Main(int argc, char** argv) {
  if (argc < 3) Die("usage: ckpt_bench_codec PARENT CHILD [--chunk-kib 256] [--reps 3]");
  uint64_t chunk_size = 256 * 1024;
  int reps = 3;
  bool per_tensor = false;
  for (int i = 3; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--chunk-kib"))
      chunk_size = std::strtoull(argv[i + 1], nullptr, 10) * 1024;
    else if (!std::strcmp(argv[i], "--reps"))
      reps = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--per-tensor"))
      per_tensor = std::atoi(argv[i + 1]) != 0;
    else
      Die("unknown flag");
  }
  File parent, child;
  if (!ReadFile(argv[1], &parent) || !ReadFile(argv[2], &child)) Die("cannot read the files");
  const std::vector<Chunk> chunks = CutChunks(parent, child, chunk_size);
  size_t raw = 0;
  for (const Chunk& c : chunks) raw += c.size;
  std::printf("%zu chunks, %.1f MB; one thread, best of %d runs\n", chunks.size(), raw / 1e6, reps);
  std::printf("codec    stored   enc MB/s  dec MB/s\n");
  std::vector<uint8_t> out(chunk_size);
  const size_t tensors = child.header.entries.size();
  std::vector<std::pair<const char*, std::vector<size_t>>> sizes;  // per codec, per tensor
  auto check = [&](const Chunk& c) {
    if (std::memcmp(out.data(), c.data, c.size) != 0) Die("a chunk did not round-trip");
  };

  // zstd at levels 1 and 3, one frame per chunk.
  for (int level : {1, 3}) {
    Encoded e;
    e.bytes.resize(chunks.size());
    const double enc = Best(reps, [&] {
      e.total = 0;
      for (size_t i = 0; i < chunks.size(); ++i) {
        e.total += codec_detail::ZstdInto(chunks[i].data, chunks[i].size, level, &e.bytes[i]);
      }
    });
    const double dec = Best(reps, [&] {
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (!codec_detail::ZstdFrom(e.bytes[i].data(), e.bytes[i].size(), out.data(),
                                    chunks[i].size)
                 .ok())
          Die("zstd decode failed");
      }
    });
    for (size_t i = 0; i < chunks.size(); ++i) {
      (void)codec_detail::ZstdFrom(e.bytes[i].data(), e.bytes[i].size(), out.data(),
                                   chunks[i].size);
      check(chunks[i]);
    }
    Report(level == 1 ? "zstd-1" : "zstd-3", raw, e, enc, dec);
    sizes.emplace_back(level == 1 ? "zstd-1" : "zstd-3", PerTensor(chunks, e, tensors));
  }

  // plain: chunk codecs without deltas, as a save with --delta-depth 0.
  {
    Encoded e;
    e.bytes.resize(chunks.size());
    e.codecs.resize(chunks.size());
    const double enc = Best(reps, [&] {
      std::vector<std::unique_ptr<TensorState>> st(child.header.entries.size());
      e.total = 0;
      for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        if (!st[c.tensor]) st[c.tensor] = std::make_unique<TensorState>();
        EncodeParams p = c.params;
        TensorState& s = *st[c.tensor];
        if (p.is_float && s.planes == PlanesChoice::kDecideBySample)
          s.planes = PlanesHelp(c.data, c.size, p) ? PlanesChoice::kUse : PlanesChoice::kSkip;
        p.planes = s.planes;
        p.plane_score = &s.plain_planes;
        e.codecs[i] = EncodeChunk(c.data, c.size, p, &e.bytes[i]);
        e.total += e.bytes[i].size();
      }
    });
    const double dec = Best(reps, [&] {
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (!DecodeChunk(e.codecs[i], e.bytes[i].data(), e.bytes[i].size(), out.data(),
                         chunks[i].size)
                 .ok())
          Die("plain decode failed");
      }
    });
    Report("plain", raw, e, enc, dec);
    sizes.emplace_back("plain", PerTensor(chunks, e, tensors));
  }

  // delta: every chunk as a delta against its parent chunk.
  {
    Encoded e;
    e.bytes.resize(chunks.size());
    e.codecs.resize(chunks.size());
    const double enc = Best(reps, [&] {
      std::vector<std::unique_ptr<PlaneScore>> scores(child.header.entries.size());
      e.total = 0;
      for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        if (!scores[c.tensor]) scores[c.tensor] = std::make_unique<PlaneScore>();
        EncodeParams p = c.params;
        p.planes = PlanesChoice::kUse;
        p.plane_score = scores[c.tensor].get();
        e.codecs[i] = EncodeDelta(c.data, c.base, Digest{}, c.size, p, SIZE_MAX, &e.bytes[i]);
        if (e.codecs[i] == Codec::kRaw) Die("a delta failed");
        e.total += e.bytes[i].size();
      }
    });
    const double dec = Best(reps, [&] {
      for (size_t i = 0; i < chunks.size(); ++i) {
        if (!DecodeDelta(e.codecs[i], e.bytes[i], chunks[i].base, out.data(), chunks[i].size).ok())
          Die("delta decode failed");
      }
    });
    Report("delta", raw, e, enc, dec);
    sizes.emplace_back("delta", PerTensor(chunks, e, tensors));
  }

  // save: what a save stores and a load decodes.
  {
    Encoded e;
    e.bytes.resize(chunks.size());
    e.codecs.resize(chunks.size());
    e.bases.resize(chunks.size());
    const double enc = Best(reps, [&] {
      std::vector<std::unique_ptr<TensorState>> st(child.header.entries.size());
      e.total = 0;
      for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        if (!st[c.tensor]) st[c.tensor] = std::make_unique<TensorState>();
        e.codecs[i] = SaveEncode(c, *st[c.tensor], &e.bytes[i]);
        e.total += e.bytes[i].size();
      }
    });
    std::vector<Codec> base_codecs(chunks.size(), Codec::kRaw);
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (!IsDeltaCodec(static_cast<uint8_t>(e.codecs[i]))) continue;
      EncodeParams p = chunks[i].params;
      base_codecs[i] = EncodeChunk(chunks[i].base, chunks[i].size, p, &e.bases[i]);
    }
    size_t deltas = 0;
    const double dec = Best(reps, [&] {
      deltas = 0;
      for (size_t i = 0; i < chunks.size(); ++i) {
        const Chunk& c = chunks[i];
        const std::string& b = e.bytes[i];
        if (IsDeltaCodec(static_cast<uint8_t>(e.codecs[i]))) {
          ++deltas;
          if (!DecodeChunk(base_codecs[i], e.bases[i].data(), e.bases[i].size(), out.data(), c.size)
                   .ok() ||
              !DecodeDelta(e.codecs[i], b, out.data(), out.data(), c.size).ok())
            Die("save decode failed");
        } else if (!DecodeChunk(e.codecs[i], b.data(), b.size(), out.data(), c.size).ok()) {
          Die("save decode failed");
        }
      }
    });
    Report("save", raw, e, enc, dec);
    sizes.emplace_back("save", PerTensor(chunks, e, tensors));
    std::printf("         (save: %zu of %zu chunks stored as deltas)\n", deltas, chunks.size());
  }

  {
    Digest sink{};
    const double t = Best(reps, [&] {
      for (const Chunk& c : chunks) sink = Sha256(c.data, c.size);
    });
    std::printf("%-8s %8s  %8.0f  (same rate on load)\n", "sha256", "-", raw / t / 1e6);
    if (sink == Digest{}) std::printf("\n");
  }
  if (per_tensor) PrintPerTensor(child, sizes);
  return 0;
}

}  // namespace
}  // namespace ckpt::internal

int main(int argc, char** argv) { return ckpt::internal::Main(argc, argv); }
