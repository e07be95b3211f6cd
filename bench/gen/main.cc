// ckpt_bench_gen: writes the benchmark's checkpoint series as safetensors.
//
//   ckpt_bench_gen --out DIR [--size-mb 200] [--scale 1] [--scenarios a,b]
//                  [--seed 1] [--checkpoints 6] [--steps 4] [--batch 16]
//                  [--threads N]
//
// Writes DIR/<scenario>/ckpt-<k>.safetensors for k = 1..checkpoints, and
// prints per file how much of it differs from the previous one: changed bytes,
// and the share of bytes lying in unchanged 4 KiB and 256 KiB chunks (chunks
// cut per tensor, as a tensor-aware store cuts them). One "summary" line per
// scenario gives the means over checkpoints 2..N for scripts to parse.
// Uses the C++ standard library only; the same seed gives the same bytes.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "nn.h"
#include "safetensors_writer.h"
#include "scenarios.h"

namespace ckpt_bench {
namespace {

struct Flags {
  std::string out;
  double size_mb = 200;
  double scale = 1;
  std::vector<std::string> scenarios;
  uint64_t seed = 1;
  int checkpoints = 6, steps = 4, batch = 16;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
};

void Usage(FILE* f) {
  std::fprintf(f,
               "usage: ckpt_bench_gen --out DIR [--size-mb MB] [--scale F] [--scenarios a,b]\n"
               "                      [--seed N] [--checkpoints N] [--steps N] [--batch N]"
               " [--threads N]\n"
               "Writes DIR/<scenario>/ckpt-<k>.safetensors, k = 1..N (default 6), about\n"
               "size-mb * scale MB each (default 200 * 1). Scenarios:\n");
  for (const Scenario& s : AllScenarios()) std::fprintf(f, "  %-10s %s\n", s.name, s.summary);
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "ckpt_bench_gen: %s needs a value\n", a.c_str());
      return false;
    }
    const std::string v = argv[++i];
    char* end = nullptr;
    if (a == "--out") {
      f->out = v;
      continue;
    } else if (a == "--scenarios") {
      f->scenarios = Split(v);
      continue;
    }
    const double num = std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0' || !(num > 0)) {
      std::fprintf(stderr, "ckpt_bench_gen: %s: expected a positive number, got '%s'\n", a.c_str(),
                   v.c_str());
      return false;
    }
    if (a == "--size-mb")
      f->size_mb = num;
    else if (a == "--scale")
      f->scale = num;
    else if (a == "--seed")
      f->seed = static_cast<uint64_t>(num);
    else if (a == "--checkpoints")
      f->checkpoints = static_cast<int>(num);
    else if (a == "--steps")
      f->steps = static_cast<int>(num);
    else if (a == "--batch")
      f->batch = static_cast<int>(num);
    else if (a == "--threads")
      f->threads = static_cast<int>(num);
    else {
      std::fprintf(stderr, "ckpt_bench_gen: unknown flag %s\n", a.c_str());
      return false;
    }
  }
  if (f->out.empty()) {
    std::fprintf(stderr, "ckpt_bench_gen: --out is required\n");
    return false;
  }
  return true;
}

// Differences of one checkpoint's data against the previous one's.
struct Diff {
  double changed_bytes = 0, same_4k = 0, same_256k = 0;  // fractions of data bytes
};

// Compares the data sections tensor by tensor; chunks are cut per tensor.
bool Compare(const std::vector<uint8_t>& prev, size_t prev_off, const std::vector<uint8_t>& cur,
             size_t cur_off, const std::vector<OutTensor>& tensors, Diff* d) {
  if (prev.size() - prev_off != cur.size() - cur_off) return false;
  const size_t total = cur.size() - cur_off;
  size_t pos = 0, changed = 0, same4 = 0, same256 = 0;
  for (const OutTensor& t : tensors) {
    const uint8_t* a = prev.data() + prev_off + pos;
    const uint8_t* b = cur.data() + cur_off + pos;
    for (size_t c = 0; c < t.size; c += 256 * 1024) {
      const size_t n256 = std::min<size_t>(256 * 1024, t.size - c);
      bool all_same = true;
      for (size_t s = c; s < c + n256; s += 4096) {
        const size_t n4 = std::min<size_t>(4096, c + n256 - s);
        if (std::memcmp(a + s, b + s, n4) == 0) {
          same4 += n4;
          continue;
        }
        all_same = false;
        for (size_t i = s; i < s + n4; ++i) changed += a[i] != b[i];
      }
      if (all_same) same256 += n256;
    }
    pos += t.size;
  }
  if (total) {
    d->changed_bytes = static_cast<double>(changed) / total;
    d->same_4k = static_cast<double>(same4) / total;
    d->same_256k = static_cast<double>(same256) / total;
  }
  return true;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    Usage(stderr);
    return 2;
  }
  std::vector<const Scenario*> chosen;
  for (const Scenario& s : AllScenarios()) {
    bool want = flags.scenarios.empty();
    for (const auto& n : flags.scenarios) want |= n == s.name;
    if (want) chosen.push_back(&s);
  }
  for (const auto& n : flags.scenarios) {
    bool known = false;
    for (const Scenario& s : AllScenarios()) known |= n == s.name;
    if (!known) {
      std::fprintf(stderr, "ckpt_bench_gen: unknown scenario '%s'\n", n.c_str());
      return 2;
    }
  }
  const Parallel par(flags.threads);
  GenConfig cfg;
  cfg.target_bytes = static_cast<uint64_t>(flags.size_mb * flags.scale * 1024 * 1024);
  cfg.checkpoints = flags.checkpoints;
  cfg.steps = flags.steps;
  cfg.batch = flags.batch;
  cfg.par = &par;

  for (const Scenario* s : chosen) {
    uint64_t name_hash = 0xcbf29ce484222325ull;  // FNV-1a: std::hash is not portable
    for (const char* p = s->name; *p; ++p) name_hash = (name_hash ^ uint8_t(*p)) * 0x100000001b3ull;
    cfg.seed = MixSeed(flags.seed, name_hash);
    const std::filesystem::path dir = std::filesystem::path(flags.out) / s->name;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "ckpt_bench_gen: %s: %s\n", dir.c_str(), ec.message().c_str());
      return 1;
    }
    std::vector<uint8_t> prev;
    size_t prev_off = 0, file_bytes = 0, tensor_count = 0;
    Diff sum;
    int diffs = 0;
    auto start = std::chrono::steady_clock::now();
    auto last = start;
    const bool ok = s->run(cfg, [&](int k, const Checkpoint& c) {
      size_t off = 0;
      std::vector<uint8_t> bytes = SerializeSafetensors(c.metadata, c.tensors, &off);
      const std::string path = (dir / ("ckpt-" + std::to_string(k) + ".safetensors")).string();
      if (!WriteFile(path, bytes)) {
        std::fprintf(stderr, "ckpt_bench_gen: cannot write %s\n", path.c_str());
        return false;
      }
      const auto now = std::chrono::steady_clock::now();
      std::printf("%-9s ckpt-%d  %11zu bytes  %3zu tensors  step %-5s %6.1f s", s->name, k,
                  bytes.size(), c.tensors.size(), c.metadata.at("step").c_str(),
                  std::chrono::duration<double>(now - last).count());
      last = now;
      Diff d;
      if (!prev.empty() && Compare(prev, prev_off, bytes, off, c.tensors, &d)) {
        std::printf(
            "  changed %5.1f%% of bytes; unchanged: %5.1f%% in 4 KiB, %5.1f%% in 256 KiB"
            " chunks",
            100 * d.changed_bytes, 100 * d.same_4k, 100 * d.same_256k);
        sum.changed_bytes += d.changed_bytes;
        sum.same_4k += d.same_4k;
        sum.same_256k += d.same_256k;
        ++diffs;
      }
      std::printf("\n");
      std::fflush(stdout);
      file_bytes = bytes.size();
      tensor_count = c.tensors.size();
      prev = std::move(bytes);
      prev_off = off;
      return true;
    });
    if (!ok) return 1;
    const double n = diffs ? diffs : 1;
    std::printf(
        "summary scenario=%s files=%d bytes_per_file=%zu tensors=%zu changed_bytes_pct=%.1f"
        " same_4k_pct=%.1f same_256k_pct=%.1f seconds=%.1f\n",
        s->name, cfg.checkpoints, file_bytes, tensor_count, 100 * sum.changed_bytes / n,
        100 * sum.same_4k / n, 100 * sum.same_256k / n,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace ckpt_bench

int main(int argc, char** argv) { return ckpt_bench::Main(argc, argv); }
