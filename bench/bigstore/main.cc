// ckpt_bench_bigstore: a store as large as long training campaigns make
// them, built through the public API, and what its everyday operations
// cost there.
//
//   ckpt_bench_bigstore generate STORE [--runs 100] [--checkpoints 10000]
//                                      [--chunks 20000000] [--chunk-size 4096]
//                                      [--jobs 4]
//   ckpt_bench_bigstore time STORE [--saves 200]
//
// generate: RUNS runs of CHECKPOINTS/RUNS checkpoints each, written run by
// run in step order, CHUNKS distinct chunks in all. Each checkpoint holds
// a tensor of its own new chunks (CHUNKS/CHECKPOINTS of them, every one
// distinct: a counter and a pattern, so they compress to a few dozen bytes
// and the store fits a small disk), the run's frozen embedding (64 chunks,
// shared by every checkpoint of the run) and a step blob. Prints progress
// and the generation rate; JOBS runs are written at once (a save's fsyncs
// leave the cores idle). Resumes an interrupted generation: runs already
// complete are skipped.
//
// time: medians (and the worst) of opening the store, saving a small
// checkpoint, loading one tensor, listing one run and describing one
// checkpoint, through the API; then SAVES saves in a row, reporting the
// worst (a save may pay the index's compaction). The CLI's commands are
// timed by the bench script.
#include <ckpt/ckpt.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ckpt_bench_bigstore: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(ckpt::Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(r).value();
}

void Must(const ckpt::Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

double Ms(const std::function<void()>& fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string RunName(uint64_t r) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "run-%03llu", static_cast<unsigned long long>(r));
  return buf;
}

struct Args {
  std::string store;
  uint64_t runs = 100;
  uint64_t checkpoints = 10000;
  uint64_t chunks = 20000000;
  uint32_t chunk_size = 4096;
  uint64_t saves = 200;
  uint64_t jobs = 4;
};

// Chunk `id` of a store: distinct from every other, and compressible.
void FillChunk(uint64_t id, uint8_t* dst, size_t size) {
  for (size_t i = 0; i + 8 <= size; i += 8) {
    const uint64_t v = (i < 64) ? id * 0x9E3779B97F4A7C15ull + i : i;
    std::memcpy(dst + i, &v, 8);
  }
}

std::unique_ptr<ckpt::Store> Open(const Args& a, bool create) {
  ckpt::StoreOptions options;
  options.create_if_missing = create;
  options.chunk_size = a.chunk_size;
  return Must(ckpt::Store::Open(options, a.store), "open " + a.store);
}

// Saves runs r = first, first + stride, ... (a save's fsyncs leave the
// cores idle, so several runs are written at once).
void GenerateRuns(const Args& a, ckpt::Store* store, uint64_t first, uint64_t stride,
                  std::atomic<uint64_t>* saved, Clock::time_point start) {
  const uint64_t per_run = a.checkpoints / a.runs;
  const uint64_t new_chunks = a.chunks / a.checkpoints;
  std::vector<uint8_t> weights(new_chunks * a.chunk_size);
  std::vector<uint8_t> frozen(64ull * a.chunk_size);
  for (uint64_t r = first; r < a.runs; r += stride) {
    const std::string run = RunName(r);
    auto existing = store->ListCheckpoints(run);
    if (existing.ok() && existing->size() == per_run) continue;  // resumed
    for (uint64_t k = 0; k < 64; ++k) {
      FillChunk(a.chunks + r * 64 + k, frozen.data() + k * a.chunk_size, a.chunk_size);
    }
    const uint64_t first_step = existing.ok() ? existing->size() : 0;
    for (uint64_t s = first_step; s < per_run; ++s) {
      const uint64_t ckpt_index = r * per_run + s;
      for (uint64_t k = 0; k < new_chunks; ++k) {
        FillChunk(ckpt_index * new_chunks + k, weights.data() + k * a.chunk_size, a.chunk_size);
      }
      const std::string step_blob = std::to_string(s);
      ckpt::SaveRequest req;
      req.run = run;
      req.step = (s + 1) * 100;
      req.tensors.push_back({"weights",
                             ckpt::DType::kU8,
                             {static_cast<int64_t>(weights.size())},
                             weights.data(),
                             weights.size()});
      req.tensors.push_back({"embedding.frozen",
                             ckpt::DType::kU8,
                             {static_cast<int64_t>(frozen.size())},
                             frozen.data(),
                             frozen.size()});
      req.blobs.push_back({"step", step_blob.data(), step_blob.size()});
      req.meta.metrics["loss"] = 10.0 / double(s + 1);
      Must(store->Save(req), "save " + run);
      ++*saved;
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%s done: %llu checkpoints saved in %.0f s (%.0f chunks/s)\n", run.c_str(),
                static_cast<unsigned long long>(saved->load()), secs,
                double(saved->load() * new_chunks) / std::max(secs, 1e-9));
    std::fflush(stdout);
  }
}

void Generate(const Args& a) {
  auto store = Open(a, true);
  std::atomic<uint64_t> saved{0};
  const auto start = Clock::now();
  std::vector<std::thread> jobs;
  for (uint64_t j = 0; j < a.jobs; ++j) {
    jobs.emplace_back(GenerateRuns, std::cref(a), store.get(), j, a.jobs, &saved, start);
  }
  for (auto& t : jobs) t.join();
}

struct Series {
  std::vector<double> ms;
  void Add(double v) { ms.push_back(v); }
  double Median() { return Quantile(0.5); }
  double Quantile(double q) {
    std::sort(ms.begin(), ms.end());
    return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))];
  }
  double Worst() const { return *std::max_element(ms.begin(), ms.end()); }
};

void Report(const char* what, Series s) {
  const double worst = s.Worst();
  std::printf("| %s | %.1f ms | %.1f ms | %.1f ms |\n", what, s.Median(), s.Quantile(0.95), worst);
}

void Time(const Args& a) {
  Series open, list, describe, load, save;
  std::unique_ptr<ckpt::Store> store;
  for (int i = 0; i < 5; ++i) {
    store.reset();
    open.Add(Ms([&] { store = Open(a, false); }));
  }
  const auto runs = Must(store->ListRuns(), "list runs");
  if (runs.empty()) Die("empty store: run generate first");
  const std::string run = runs[runs.size() / 2].name;
  const auto checkpoints = Must(store->ListCheckpoints(run), "list " + run);
  const std::string ref = run + "@" + std::to_string(checkpoints[checkpoints.size() / 2].step);
  const uint64_t frozen_bytes = 64ull * a.chunk_size;
  std::vector<uint8_t> buf(frozen_bytes);
  for (int i = 0; i < 5; ++i) {
    list.Add(Ms([&] { Must(store->ListCheckpoints(run), "list"); }));
    describe.Add(Ms([&] { Must(store->Describe(ref), "describe"); }));
    load.Add(Ms(
        [&] { Must(store->LoadEntry(ref, "embedding.frozen", buf.data(), buf.size()), "load"); }));
  }
  // A run of its own, started afresh (a previous timing may have left one).
  if (store->ListCheckpoints("timed-saves").ok()) {
    for (const auto& c : Must(store->ListCheckpoints("timed-saves"), "list")) {
      Must(store->Delete(c.id), "delete");
    }
  }
  std::vector<uint8_t> small(256 * 1024);
  for (uint64_t i = 0; i < a.saves; ++i) {
    FillChunk(1ull << 60 | i, small.data(), small.size());
    ckpt::SaveRequest req;
    req.run = "timed-saves";
    req.step = i + 1;
    req.tensors.push_back(
        {"w", ckpt::DType::kU8, {static_cast<int64_t>(small.size())}, small.data(), small.size()});
    save.Add(Ms([&] { Must(store->Save(req), "save"); }));
  }
  std::printf(
      "| operation (API, %zu runs in the store) | median | 95th percentile | worst |\n"
      "|---|---|---|---|\n",
      runs.size());
  Report("open the store", open);
  Report("list one run's checkpoints", list);
  Report("describe one checkpoint", describe);
  Report("load one tensor (256 KiB)", load);
  char what[64];
  std::snprintf(what, sizeof(what), "save a small checkpoint (%llu in a row)",
                static_cast<unsigned long long>(a.saves));
  Report(what, save);
}

uint64_t Number(const char* s) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0') Die(std::string("not a number: ") + s);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ckpt_bench_bigstore generate|time STORE [options]\n");
    return 2;
  }
  Args a;
  const std::string cmd = argv[1];
  a.store = argv[2];
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const uint64_t v = Number(argv[i + 1]);
    if (flag == "--runs")
      a.runs = v;
    else if (flag == "--checkpoints")
      a.checkpoints = v;
    else if (flag == "--chunks")
      a.chunks = v;
    else if (flag == "--chunk-size")
      a.chunk_size = static_cast<uint32_t>(v);
    else if (flag == "--saves")
      a.saves = v;
    else if (flag == "--jobs")
      a.jobs = std::max<uint64_t>(v, 1);
    else
      Die("unknown option " + flag);
  }
  if (cmd == "generate") {
    Generate(a);
  } else if (cmd == "time") {
    Time(a);
  } else {
    Die("unknown command " + cmd);
  }
  return 0;
}
