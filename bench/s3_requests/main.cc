// ckpt_bench_s3_requests: the HTTP requests a sharded save makes against a
// store in object storage, counted by kind, as the number of ranks grows.
//
//   ckpt_bench_s3_requests s3://BUCKET/PREFIX [--ranks 1,2,4,8,16]
//                          [--steps 4] [--shard-kib 1024] [--dir DIR]
//
// For each rank count N, under a fresh prefix, N ranks each open the store
// as a host of its own (a Store with its own index cache and its own S3
// backend, whose requests S3RequestCountsOf counts) and save their shard of
// checkpoints 1..steps: rows of one global F32 tensor (shard-kib each, a
// quarter of it new at every step), a replicated tensor and a private blob.
// Two schedules: "turns", the ranks saving one after another (no waiting on
// the lease: the cost of the protocol alone), and "together", all ranks
// starting each step at once, as a job does (adds the polls of ranks that
// wait for the lease). Prints, per schedule and N, the requests of one
// checkpoint (all ranks, the median over steps 2..steps) by kind, and the
// wall time from the first rank's start to the last rank's return; then a
// least-squares fit a + b*N + c*N^2 of each schedule's total, evaluated at
// N = 1000. Endpoint and credentials come from the AWS_* variables.
#include <ckpt/ckpt.h>
#include <ckpt/s3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "ckpt_bench_s3_requests: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(ckpt::Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(r).value();
}

ckpt::S3RequestCounts Minus(const ckpt::S3RequestCounts& a, const ckpt::S3RequestCounts& b) {
  ckpt::S3RequestCounts d;
  d.put = a.put - b.put;
  d.create = a.create - b.create;
  d.part = a.part - b.part;
  d.multipart = a.multipart - b.multipart;
  d.get = a.get - b.get;
  d.head = a.head - b.head;
  d.list = a.list - b.list;
  d.remove = a.remove - b.remove;
  d.retries = a.retries - b.retries;
  return d;
}

void Add(ckpt::S3RequestCounts* sum, const ckpt::S3RequestCounts& d) {
  sum->put += d.put;
  sum->create += d.create;
  sum->part += d.part;
  sum->multipart += d.multipart;
  sum->get += d.get;
  sum->head += d.head;
  sum->list += d.list;
  sum->remove += d.remove;
  sum->retries += d.retries;
}

// One rank: a host of its own, with its shard's bytes.
struct Rank {
  uint32_t rank = 0;
  std::shared_ptr<ckpt::Backend> backend;
  std::unique_ptr<ckpt::Store> store;
  std::vector<float> rows;
  std::vector<float> bias = std::vector<float>(1024, 0.5f);
  ckpt::S3RequestCounts last;  // of its last save

  void Save(uint64_t step, uint32_t world, int64_t shard_rows) {
    // A quarter of the shard changes at each step.
    std::mt19937 rng(static_cast<uint32_t>(step * 7919 + rank));
    const size_t quarter = rows.size() / 4;
    const size_t at = (step % 4) * quarter;
    for (size_t i = 0; i < quarter; ++i) rows[at + i] = static_cast<float>(rng()) / 4e9f;
    const std::string rng_state = "rank " + std::to_string(rank) + " step " + std::to_string(step);
    ckpt::SaveRequest request;
    request.run = "job";
    request.step = step;
    request.rank = rank;
    request.world_size = world;
    ckpt::TensorView piece{
        "w", ckpt::DType::kF32, {shard_rows, 1024}, rows.data(), rows.size() * sizeof(float)};
    piece.global_shape = {shard_rows * world, 1024};
    piece.offsets = {shard_rows * rank, 0};
    request.tensors.push_back(piece);
    request.tensors.push_back(
        {"bias", ckpt::DType::kF32, {1024}, bias.data(), bias.size() * sizeof(float)});
    request.blobs.push_back({"rng", rng_state.data(), rng_state.size(), /*rank_local=*/true});
    const ckpt::S3RequestCounts before = Must(ckpt::S3RequestCountsOf(*backend), "counts");
    Must(store->Save(request), "rank " + std::to_string(rank) + " save " + std::to_string(step));
    last = Minus(Must(ckpt::S3RequestCountsOf(*backend), "counts"), before);
  }
};

struct Row {
  uint32_t ranks = 0;
  ckpt::S3RequestCounts per_checkpoint;  // all ranks, median step
  ckpt::S3RequestCounts open;            // all ranks' opens
  double wall_ms = 0;                    // median step
};

Row Measure(const ckpt::S3Options& base, const std::string& work, uint32_t world, int steps,
            int64_t shard_rows, bool together) {
  ckpt::S3Options s3 = base;
  const std::string tag = std::string(together ? "together" : "turns") + "-n" +
                          std::to_string(world) + "-" + std::to_string(::getpid());
  s3.prefix = (s3.prefix.empty() ? "" : s3.prefix + "/") + tag;
  const std::string url = "s3://" + s3.bucket + "/" + s3.prefix;
  std::vector<Rank> ranks(world);
  Row row;
  row.ranks = world;
  for (uint32_t r = 0; r < world; ++r) {
    Rank& rank = ranks[r];
    rank.rank = r;
    rank.rows.assign(static_cast<size_t>(shard_rows) * 1024, static_cast<float>(r));
    rank.backend = Must(ckpt::NewS3Backend(s3), "S3 backend");
    ckpt::StoreOptions options;
    options.create_if_missing = true;
    options.backend = rank.backend;
    options.cache_dir = work + "/" + tag + "/rank" + std::to_string(r);
    options.threads = 1;  // a rank's save is small; N ranks share 2 cores here
    rank.store = Must(ckpt::Store::Open(options, url), "open " + url);
    Add(&row.open, Must(ckpt::S3RequestCountsOf(*rank.backend), "counts"));
  }
  std::vector<ckpt::S3RequestCounts> per_step;
  std::vector<double> wall;
  for (int step = 1; step <= steps; ++step) {
    const auto start = Clock::now();
    if (together) {
      std::vector<std::thread> threads;
      for (auto& rank : ranks) {
        threads.emplace_back([&, step] { rank.Save(step, world, shard_rows); });
      }
      for (auto& t : threads) t.join();
    } else {
      for (auto& rank : ranks) rank.Save(step, world, shard_rows);
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    ckpt::S3RequestCounts sum;
    for (const auto& rank : ranks) Add(&sum, rank.last);
    if (step > 1) {
      per_step.push_back(sum);
      wall.push_back(ms);
    }
  }
  // The step whose total is the median (the counts of one real step, not a
  // mix of several).
  std::vector<size_t> order(per_step.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return per_step[a].Total() < per_step[b].Total(); });
  row.per_checkpoint = per_step[order[order.size() / 2]];
  std::sort(wall.begin(), wall.end());
  row.wall_ms = wall[wall.size() / 2];
  // The last checkpoint reads back whole, global tensor assembled: the
  // counts are of saves that worked.
  auto loaded = Must(ranks[0].store->Load("job@" + std::to_string(steps)), "load");
  const auto w = std::find_if(loaded.tensors.begin(), loaded.tensors.end(),
                              [](const ckpt::Tensor& t) { return t.name == "w"; });
  if (w == loaded.tensors.end() || w->shape[0] != shard_rows * world) {
    Die("checkpoint " + std::to_string(steps) + " of " + url + " is not whole");
  }
  return row;
}

// Least squares of y = a + b*x + c*x^2 (normal equations, 3x3, Cramer).
std::vector<double> FitQuadratic(const std::vector<double>& x, const std::vector<double>& y) {
  double s[5] = {0, 0, 0, 0, 0}, t[3] = {0, 0, 0};
  for (size_t i = 0; i < x.size(); ++i) {
    double p = 1;
    for (int k = 0; k < 5; ++k, p *= x[i]) s[k] += p;
    t[0] += y[i];
    t[1] += y[i] * x[i];
    t[2] += y[i] * x[i] * x[i];
  }
  auto det = [](double m[3][3]) {
    return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
           m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
           m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  };
  double m[3][3] = {{s[0], s[1], s[2]}, {s[1], s[2], s[3]}, {s[2], s[3], s[4]}};
  const double d = det(m);
  std::vector<double> coef(3);
  for (int c = 0; c < 3; ++c) {
    double mc[3][3];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) mc[i][j] = j == c ? t[i] : m[i][j];
    coef[c] = det(mc) / d;
  }
  return coef;
}

void PrintRow(const char* schedule, const Row& r) {
  const auto& c = r.per_checkpoint;
  std::printf("| %s | %u | %llu | %llu | %llu | %llu | %llu | %llu | %llu | %llu | %.1f | %.0f |\n",
              schedule, r.ranks, static_cast<unsigned long long>(c.put + c.part + c.multipart),
              static_cast<unsigned long long>(c.create), static_cast<unsigned long long>(c.get),
              static_cast<unsigned long long>(c.head), static_cast<unsigned long long>(c.list),
              static_cast<unsigned long long>(c.remove), static_cast<unsigned long long>(c.retries),
              static_cast<unsigned long long>(c.Total()), double(c.Total()) / r.ranks, r.wall_ms);
  std::fflush(stdout);
}

std::vector<uint32_t> ParseList(const std::string& text) {
  std::vector<uint32_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoul(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strncmp(argv[1], "s3://", 5) != 0) {
    Die("usage: ckpt_bench_s3_requests s3://BUCKET/PREFIX [--ranks 1,2,4,8,16] [--steps 4] "
        "[--shard-kib 1024] [--dir DIR]");
  }
  std::vector<uint32_t> counts = {1, 2, 4, 8, 16};
  int steps = 4;
  int64_t shard_kib = 1024;
  std::string dir = fs::temp_directory_path().string();
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--ranks") == 0) counts = ParseList(argv[i + 1]);
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::max(2, std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--shard-kib") == 0) shard_kib = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
  }
  const ckpt::S3Options base = Must(ckpt::S3OptionsFromUrl(argv[1]), "URL");
  const int64_t shard_rows = std::max<int64_t>(1, shard_kib / 4);  // rows of 1024 F32
  const std::string work = dir + "/ckpt-bench-s3-requests-" + std::to_string(::getpid());
  fs::create_directories(work);

  std::printf(
      "Requests of one sharded checkpoint (all ranks; median of steps 2..%d), "
      "shard %lld KiB per rank\n\n",
      steps, static_cast<long long>(shard_kib));
  std::printf(
      "| schedule | ranks | PUT (packs) | create | GET | HEAD | LIST | DELETE | retries "
      "| total | per rank | wall ms |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (bool together : {false, true}) {
    std::vector<double> x, y;
    std::vector<Row> rows;
    for (uint32_t n : counts) {
      rows.push_back(Measure(base, work, n, steps, shard_rows, together));
      PrintRow(together ? "together" : "turns", rows.back());
      x.push_back(n);
      y.push_back(double(rows.back().per_checkpoint.Total()));
    }
    if (x.size() >= 3) {
      const std::vector<double> f = FitQuadratic(x, y);
      std::printf(
          "| %s | fit | total = %.1f + %.2f N + %.3f N^2 | | | | | | | **%.0f at N = 1000** "
          "| | |\n",
          together ? "together" : "turns", f[0], f[1], f[2], f[0] + f[1] * 1000 + f[2] * 1e6);
    }
  }
  fs::remove_all(work);
  return 0;
}
