// ckpt_bench_s3_catchup: what a store in object storage costs as its history
// grows, next to the same store in a local directory.
//
//   ckpt_bench_s3_catchup s3://BUCKET/PREFIX [--counts 10,100,1000] [--dir DIR]
//
// Saves small checkpoints (a 1 MiB F32 tensor of which 64 KiB change per
// step, and a step blob) into the bucket and, side by side, into a local
// store under DIR, until each store holds each count in turn. At each
// count it times, as medians of 5: a save; opening the store with this
// host's index cache up to date; opening it with no cache (a new host: the
// whole index log is replayed); the same from a snapshot of the index that
// gc wrote at that count ("snap"); and `ListCheckpoints` on an open store
// (one catch-up with nothing new). The local store has no cache: its "cold
// open" column is its only open. Endpoint and credentials come from the AWS_*
// variables. Exits 1 on any error.
#include <ckpt/ckpt.h>
#include <ckpt/s3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ckpt_bench_s3_catchup: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(ckpt::Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(r).value();
}

double Ms(const std::function<void()>& fn) {
  const auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One side of the comparison: a store location and its cache directory.
struct Side {
  std::string location;
  std::string cache;  // empty for a local store
  std::vector<float> weights = std::vector<float>(256 * 1024);
  uint64_t saved = 0;

  std::unique_ptr<ckpt::Store> Open(bool create = false) const {
    ckpt::StoreOptions options;
    options.create_if_missing = create;
    options.chunk_size = 64 * 1024;
    options.cache_dir = cache;
    return Must(ckpt::Store::Open(options, location), "open " + location);
  }

  double SaveNext(ckpt::Store& store) {
    ++saved;
    std::mt19937 rng(static_cast<uint32_t>(saved));
    const size_t at = (saved % 16) * 16384;
    for (size_t i = 0; i < 16384; ++i) weights[at + i] = static_cast<float>(rng()) / 4e9f;
    const std::string step = std::to_string(saved);
    ckpt::SaveRequest request;
    request.run = "bench";
    request.step = saved;
    request.tensors.push_back(
        {"weights", ckpt::DType::kF32, {512, 512}, weights.data(), weights.size() * sizeof(float)});
    request.blobs.push_back({"step", step.data(), step.size()});
    return Ms([&] { Must(store.Save(request), "save " + step); });
  }
};

std::vector<uint64_t> ParseCounts(const std::string& text) {
  std::vector<uint64_t> counts;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) counts.push_back(std::stoull(item));
  return counts;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strncmp(argv[1], "s3://", 5) != 0) {
    Die("usage: ckpt_bench_s3_catchup s3://BUCKET/PREFIX [--counts 10,100,1000] [--dir DIR]");
  }
  std::vector<uint64_t> counts = {10, 100, 1000};
  std::string dir = fs::temp_directory_path().string();
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--counts") == 0) counts = ParseCounts(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  const std::string work = dir + "/ckpt-bench-s3-" + std::to_string(::getpid());
  fs::create_directories(work);
  Side bucket{argv[1], work + "/cache"};
  Side local{work + "/local", ""};
  // The bucket itself, to remove the snapshots before timing a replay of
  // the whole log.
  const auto s3 = Must(ckpt::S3OptionsFromUrl(argv[1]), "parse the URL");
  const std::shared_ptr<ckpt::Backend> objects = Must(ckpt::NewS3Backend(s3), "S3 backend");
  const auto drop_snapshots = [&] {
    auto names = Must(objects->List("logsnap/"), "list snapshots");
    if (!names.empty() && !objects->RemoveMany(names).ok()) Die("remove snapshots");
  };

  std::printf("%-7s %-6s %10s %10s %10s %10s %12s\n", "store", "ckpts", "save ms", "open ms",
              "cold ms", "snap ms", "catch-up ms");
  for (uint64_t count : counts) {
    for (Side* side : {&bucket, &local}) {
      auto store = side->Open(/*create=*/true);
      std::vector<double> saves;
      while (side->saved < count) saves.push_back(side->SaveNext(*store));
      store.reset();
      if (!side->cache.empty()) drop_snapshots();
      std::vector<double> open, cold, snap, catch_up;
      for (int round = 0; round < 5; ++round) {
        open.push_back(Ms([&] { side->Open(); }));
        if (!side->cache.empty()) {
          fs::remove_all(side->cache);
          cold.push_back(Ms([&] { side->Open(); }));
        }
        auto opened = side->Open();
        catch_up.push_back(Ms([&] { Must(opened->ListCheckpoints("bench"), "list"); }));
      }
      if (!side->cache.empty()) {
        ckpt::GcOptions gc;
        gc.log_snapshot_records = 1;
        Must(side->Open()->Gc(gc), "gc");
        for (int round = 0; round < 5; ++round) {
          fs::remove_all(side->cache);
          snap.push_back(Ms([&] { side->Open(); }));
        }
      }
      std::vector<double> last(saves.end() - std::min<size_t>(saves.size(), 10), saves.end());
      const auto column = [](const std::vector<double>& v) {
        return v.empty() ? std::string("-") : std::to_string(Median(v)).substr(0, 7);
      };
      std::printf("%-7s %-6llu %10.1f %10.1f %10s %10s %12.1f\n",
                  side->cache.empty() ? "local" : "s3", static_cast<unsigned long long>(count),
                  last.empty() ? 0.0 : Median(last), Median(open), column(cold).c_str(),
                  column(snap).c_str(), Median(catch_up));
      std::fflush(stdout);
    }
  }
  fs::remove_all(work);
  return 0;
}
