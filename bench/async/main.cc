// ckpt_bench_async: how long Store::SaveAsync holds up a trainer, against a
// plain memcpy of the same bytes, and how fast a save of bytes the store
// already holds runs.
//
//   ckpt_bench_async [--dir DIR] [--size-mb 200] [--saves 6] [--memcpy-runs 7]
//
// In one process, on a fresh store in a temporary directory under DIR
// (default $TMPDIR or /tmp), with a checkpoint of about size-mb MiB in
// several f32 tensors and one blob:
//   (a) memcpy of all its bytes into one pre-allocated, pre-faulted buffer,
//       single-threaded: the median of memcpy-runs runs; (a') the same into
//       memory allocated just before each run, whose pages the copy faults
//       in, as the first copy of a trainer's state would;
//   (b) SaveAsync of it at `saves` successive steps on one Store, waiting for
//       each save to finish before the next (a trainer whose interval
//       between checkpoints exceeds a save): the time SaveAsync blocks, for
//       the first call and as the median of the later ones, and its ratio to
//       (a) (the first call also to (a')). Between steps one value in every 1 MiB of each tensor
//       changes;
//   (c) Save of the last state again at new steps, so every chunk is stored
//       already: GB/s, cores used (process CPU time / wall time) and GB/s
//       per core; the median of three.
// Uses the public API only. GB = 10^9 bytes, MiB = 2^20 bytes.
#include <ckpt/ckpt.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::string dir;
  double size_mb = 200;
  int saves = 6;
  int memcpy_runs = 7;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ckpt_bench_async: %s\n", what.c_str());
  std::exit(1);
}

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  const char* tmp = std::getenv("TMPDIR");
  f.dir = tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::printf(
          "usage: ckpt_bench_async [--dir DIR] [--size-mb MB] [--saves N]"
          " [--memcpy-runs N]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) Die(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--dir")
      f.dir = v;
    else if (a == "--size-mb")
      f.size_mb = std::atof(v.c_str());
    else if (a == "--saves")
      f.saves = std::atoi(v.c_str());
    else if (a == "--memcpy-runs")
      f.memcpy_runs = std::atoi(v.c_str());
    else
      Die("unknown flag " + a);
  }
  if (f.size_mb <= 0 || f.saves < 2 || f.memcpy_runs < 1) Die("bad flag values");
  return f;
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// A small transformer's worth of f32 tensors: an embedding, three blocks of
// attention and MLP weights with their norms, and an output head, scaled to
// about `mib` MiB in all.
std::vector<Entry> MakeModel(double mib) {
  const double scale = mib / 200.0;
  const int64_t d = 1024;
  const int64_t vocab = std::max<int64_t>(1, static_cast<int64_t>(8192 * scale));
  const int64_t ff = std::max<int64_t>(1, static_cast<int64_t>(4096 * scale));
  std::vector<Entry> model;
  model.push_back({"embed.weight", {vocab, d}, {}});
  for (int l = 0; l < 3; ++l) {
    const std::string p = "blocks." + std::to_string(l) + ".";
    model.push_back({p + "attn.qkv.weight", {3 * d, static_cast<int64_t>(d * scale)}, {}});
    model.push_back({p + "attn.out.weight", {d, static_cast<int64_t>(d * scale)}, {}});
    model.push_back({p + "mlp.up.weight", {ff, d}, {}});
    model.push_back({p + "mlp.down.weight", {d, ff}, {}});
    model.push_back({p + "norm.weight", {d}, {}});
  }
  model.push_back({"head.weight", {static_cast<int64_t>(6144 * scale), d}, {}});
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (auto& e : model) {
    int64_t n = 1;
    for (int64_t x : e.shape) n *= x;
    e.data.resize(static_cast<size_t>(n));
    for (auto& v : e.data) v = normal(rng);
  }
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::vector<Entry> model = MakeModel(flags.size_mb);
  std::vector<uint8_t> rng_state(4096, 7);
  uint64_t total = rng_state.size();
  for (const auto& e : model) total += e.data.size() * sizeof(float);

  ckpt::StoreOptions options;
  options.create_if_missing = true;
  std::printf("ckpt_bench_async: SaveAsync blocking time against memcpy\n");
  std::printf("machine: %s, %ld cores online (nproc); store threads: %u (one per core)\n",
              CpuModel().c_str(), sysconf(_SC_NPROCESSORS_ONLN),
              std::thread::hardware_concurrency());
  std::printf("checkpoint: %.1f MiB in %zu f32 tensors and 1 blob; staging area %.0f MiB\n",
              total / 1048576.0, model.size(), options.async_staging_bytes / 1048576.0);

  auto copy_all = [&](uint8_t* at) {
    for (const auto& e : model) {
      std::memcpy(at, e.data.data(), e.data.size() * sizeof(float));
      at += e.data.size() * sizeof(float);
    }
    std::memcpy(at, rng_state.data(), rng_state.size());
  };

  // (a) memcpy into a buffer allocated and faulted in beforehand.
  std::vector<double> copies;
  {
    std::vector<uint8_t> dst(total);
    std::memset(dst.data(), 1, dst.size());
    for (int r = 0; r < flags.memcpy_runs; ++r) {
      auto t0 = Clock::now();
      copy_all(dst.data());
      copies.push_back(Seconds(Clock::now() - t0));
    }
  }
  const double memcpy_s = Median(copies);
  std::printf("\n(a) memcpy into a pre-faulted buffer: median %.1f ms (%.2f GB/s) of %d runs\n",
              memcpy_s * 1e3, total / memcpy_s / 1e9, flags.memcpy_runs);

  // (a') memcpy into memory allocated just before (what a first copy of the
  // state costs a trainer: every page is faulted in on its first write).
  std::vector<double> fresh_copies;
  for (int r = 0; r < flags.memcpy_runs; ++r) {
    auto t0 = Clock::now();
    std::unique_ptr<uint8_t[]> dst(new uint8_t[total]);
    copy_all(dst.get());
    asm volatile("" : : "r"(dst.get()) : "memory");  // the copy is not dead
    fresh_copies.push_back(Seconds(Clock::now() - t0));
  }
  const double fresh_memcpy_s = Median(fresh_copies);
  std::printf("(a') memcpy into freshly allocated memory: median %.1f ms (%.2f GB/s) of %d runs\n",
              fresh_memcpy_s * 1e3, total / fresh_memcpy_s / 1e9, flags.memcpy_runs);

  const std::string dir = flags.dir + "/ckpt-bench-async-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  auto opened = ckpt::Store::Open(options, dir);
  if (!opened.ok()) Die(opened.status().ToString());
  auto store = std::move(opened).value();
  auto request = [&](uint64_t step) {
    ckpt::SaveRequest r;
    r.run = "bench";
    r.step = step;
    for (const auto& e : model)
      r.tensors.push_back(
          {e.name, ckpt::DType::kF32, e.shape, e.data.data(), e.data.size() * sizeof(float)});
    r.blobs.push_back({"rng", rng_state.data(), rng_state.size()});
    return r;
  };

  // (b) SaveAsync, one save in flight at a time.
  std::vector<double> blocked, whole;
  std::printf("\n(b) SaveAsync at %d steps (blocking time; then the save to completion)\n",
              flags.saves);
  for (int s = 0; s < flags.saves; ++s) {
    if (s > 0)
      for (auto& e : model)
        for (size_t i = static_cast<size_t>(s); i < e.data.size(); i += 1 << 18) e.data[i] += 1e-3f;
    auto t0 = Clock::now();
    auto handle = store->SaveAsync(request(static_cast<uint64_t>(s)));
    auto t1 = Clock::now();
    if (!handle.ok()) Die(handle.status().ToString());
    auto info = handle->Wait();
    auto t2 = Clock::now();
    if (!info.ok()) Die(info.status().ToString());
    blocked.push_back(Seconds(t1 - t0));
    whole.push_back(Seconds(t2 - t0));
    std::printf("  step %d: blocked %7.1f ms (%.2fx memcpy), saved in %7.1f ms, new %.1f MiB\n", s,
                blocked.back() * 1e3, blocked.back() / memcpy_s, whole.back() * 1e3,
                info->new_raw_bytes / 1048576.0);
  }
  const double steady = Median(std::vector<double>(blocked.begin() + 1, blocked.end()));
  std::printf(
      "  first SaveAsync blocked %.1f ms: %.2fx memcpy, %.2fx memcpy into fresh memory"
      " (staging pages first touched)\n",
      blocked[0] * 1e3, blocked[0] / memcpy_s, blocked[0] / fresh_memcpy_s);
  std::printf("  steady state (median of steps 1..%d): %.1f ms: %.2fx memcpy\n", flags.saves - 1,
              steady * 1e3, steady / memcpy_s);

  // (c) Save of bytes that are all stored already.
  std::vector<double> wall, cpu;
  for (int k = 0; k < 3; ++k) {
    const double c0 = CpuSeconds();
    auto t0 = Clock::now();
    auto info = store->Save(request(static_cast<uint64_t>(flags.saves + k)));
    auto t1 = Clock::now();
    const double c1 = CpuSeconds();
    if (!info.ok()) Die(info.status().ToString());
    if (info->new_raw_bytes != 0) Die("dedup-only save stored new bytes");
    wall.push_back(Seconds(t1 - t0));
    cpu.push_back(c1 - c0);
  }
  const double wall_s = Median(wall), cpu_s = Median(cpu);
  std::printf(
      "\n(c) Save with every chunk already stored (median of 3): %.1f ms, %.2f GB/s,"
      " %.2f cores used, %.2f GB/s per core\n",
      wall_s * 1e3, total / wall_s / 1e9, cpu_s / wall_s, total / cpu_s / 1e9);

  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
