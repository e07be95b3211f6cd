// The file system `ckpt mount` serves, on a real store, without a kernel
// mount: layout, sizes, reads against `ckpt export`, corruption, a store
// that moves underneath, gc under an open file.
#include "mount/mount_fs.h"

#include <atomic>
#include <boost/filesystem.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "ckpt/gc.h"
#include "ckpt/safetensors.h"
#include "ckpt/store.h"
#include "test_util.h"

namespace ckpt::mount {
namespace {

namespace fs = boost::filesystem;
using test::RandomBytes;
using test::TempDir;

constexpr uint32_t kChunk = 4096;

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store;

  Fixture() {
    StoreOptions options;
    options.create_if_missing = true;
    options.chunk_size = kChunk;
    auto opened = Store::Open(options, dir.Sub("store"));
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }

  // Tensors of several dtypes whose lengths are not multiples of a chunk,
  // a blob, a name with a slash; `seed` varies the bytes.
  CheckpointInfo Save(uint64_t step, uint64_t seed, const std::string& run = "train") {
    const auto w = RandomBytes(3 * kChunk + 100 * 4, seed);
    const auto h = RandomBytes(777 * 2 * 2, seed + 1);
    const auto i = RandomBytes(8 * 33, seed + 2);
    const auto blob = RandomBytes(5000, seed + 3);
    SaveRequest r;
    r.run = run;
    r.step = step;
    r.tensors.push_back(
        {"layer.0/weight", DType::kF32, {int64_t(w.size() / 4)}, w.data(), w.size()});
    r.tensors.push_back({"embed", DType::kBF16, {777, 2}, h.data(), h.size()});
    r.tensors.push_back({"count", DType::kI64, {3, 11}, i.data(), i.size()});
    r.blobs.push_back({"rng/state", blob.data(), blob.size()});
    r.meta.metrics["loss"] = 1.0 / double(step + 1);
    auto info = store->Save(r);
    INFO(info.status().ToString());
    REQUIRE(info.ok());
    return *info;
  }

  std::vector<uint8_t> Export(const std::string& ref) {
    const std::string out = dir.Sub("export.safetensors");
    REQUIRE(ExportSafetensors(*store, ref, out).ok());
    return test::ReadFileBytes(out);
  }
};

std::vector<uint8_t> ReadAll(MountFs& fs, const std::string& path, size_t piece = 128 * 1024) {
  auto file = fs.Open(path);
  REQUIRE(file.ok());
  std::vector<uint8_t> out;
  for (;;) {
    std::vector<uint8_t> buf(piece);
    auto n = fs.Read(**file, out.size(), piece, reinterpret_cast<char*>(buf.data()));
    REQUIRE(n.ok());
    if (*n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + *n);
  }
  return out;
}

std::set<std::string> Names(MountFs& fs, const std::string& path) {
  auto entries = fs.ReadDir(path);
  REQUIRE(entries.ok());
  std::set<std::string> names;
  for (const auto& e : *entries) names.insert(e.name);
  return names;
}

TEST_CASE("mount: the tree shows runs, steps, latest, tags and a checkpoint's files",
          "[integration]") {
  Fixture f;
  f.Save(10, 1);
  const CheckpointInfo second = f.Save(20, 2);
  f.Save(5, 3, "eval");
  REQUIRE(f.store->Tag("train@10", "best").ok());
  MountFs fs(*f.store, {});

  CHECK(Names(fs, "/") == std::set<std::string>{"runs", "tags"});
  CHECK(Names(fs, "/runs") == std::set<std::string>{"train", "eval"});
  CHECK(Names(fs, "/runs/train") == std::set<std::string>{"10", "20", "latest"});
  CHECK(Names(fs, "/tags") == std::set<std::string>{"best"});
  CHECK(*fs.ReadLink("/runs/train/latest") == "20");
  CHECK(*fs.ReadLink("/tags/best") == "../runs/train/10");
  CHECK(Names(fs, "/runs/train/20") ==
        std::set<std::string>{"model.safetensors", "meta.json", "tensors", "blobs"});
  CHECK(Names(fs, "/runs/train/20/tensors") ==
        std::set<std::string>{"layer.0%2Fweight.npy", "embed.npy", "count.npy"});
  CHECK(Names(fs, "/runs/train/20/blobs") == std::set<std::string>{"rng%2Fstate"});

  auto attr = fs.GetAttr("/runs/train/20/model.safetensors");
  REQUIRE(attr.ok());
  CHECK(attr->kind == NodeKind::kFile);
  CHECK(attr->size == f.Export("train@20").size());
  CHECK(attr->mtime_ns == second.meta.wall_time_ns);
  CHECK(fs.GetAttr("/runs/train/20/blobs/rng%2Fstate")->size == 5000);
  CHECK(fs.GetAttr("/runs/train/latest")->kind == NodeKind::kSymlink);
  CHECK(fs.GetAttr("/runs/train/20")->kind == NodeKind::kDirectory);

  for (const char* missing :
       {"/nope", "/runs/nope", "/runs/train/30", "/runs/train/020", "/runs/train/20/nope",
        "/runs/train/20/tensors/nope.npy", "/tags/nope", "/runs/train/20/model.safetensors/x"}) {
    INFO(missing);
    CHECK(fs.GetAttr(missing).status().code() == Code::kNotFound);
  }
  CHECK(fs.Open("/runs/train/20").status().code() == Code::kInvalidArgument);
}

TEST_CASE("mount: model.safetensors equals the export, read whole or at any offset",
          "[integration]") {
  Fixture f;
  f.Save(1, 11);
  f.Save(2, 12);
  const std::vector<uint8_t> exported = f.Export("train@2");
  for (uint64_t cache : {uint64_t{0}, uint64_t{3 * kChunk}, uint64_t{64} << 20}) {
    MountOptions options;
    options.cache_bytes = cache;
    MountFs fs(*f.store, options);
    INFO("cache " << cache);
    CHECK(ReadAll(fs, "/runs/train/2/model.safetensors") == exported);
    CHECK(ReadAll(fs, "/runs/train/2/model.safetensors", 1000) == exported);

    auto file = fs.Open("/runs/train/2/model.safetensors");
    REQUIRE(file.ok());
    std::mt19937_64 rng(cache + 5);
    for (int i = 0; i < 500; ++i) {
      const uint64_t offset = rng() % (exported.size() + 10);
      const size_t length = rng() % (3 * kChunk);
      std::vector<char> buf(length);
      auto n = fs.Read(**file, offset, length, buf.data());
      REQUIRE(n.ok());
      const size_t expected =
          offset >= exported.size() ? 0 : std::min<uint64_t>(length, exported.size() - offset);
      REQUIRE(*n == expected);
      REQUIRE(std::memcmp(buf.data(), exported.data() + std::min<uint64_t>(offset, exported.size()),
                          expected) == 0);
    }
  }
}

TEST_CASE("mount: threads reading at once share the cache and get the right bytes",
          "[integration][threads]") {
  Fixture f;
  f.Save(1, 91);
  f.Save(2, 92);
  const std::vector<uint8_t> one = f.Export("train@1");
  const std::vector<uint8_t> two = f.Export("train@2");
  MountOptions options;
  options.cache_bytes = 4 * kChunk;  // small: blocks are evicted while others read them
  MountFs fs(*f.store, options);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const auto& want = t % 2 ? two : one;
      auto file =
          fs.Open(t % 2 ? "/runs/train/2/model.safetensors" : "/runs/train/1/model.safetensors");
      if (!file.ok()) {
        ++wrong;
        return;
      }
      std::mt19937_64 rng(t);
      std::vector<char> buf(2 * kChunk);
      for (int i = 0; i < 300; ++i) {
        const uint64_t offset = rng() % want.size();
        auto n = fs.Read(**file, offset, buf.size(), buf.data());
        if (!n.ok() || std::memcmp(buf.data(), want.data() + offset, *n) != 0) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  const auto stats = fs.cache_stats();
  CHECK(stats.bytes <= 4 * kChunk);
  CHECK(stats.hits > 0);
}

TEST_CASE("mount: an imported file is served byte-identical, its own header included",
          "[integration]") {
  Fixture f;
  // A header with odd key order and padding, as a third-party writer might.
  const std::string json =
      R"({"b":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"__metadata__":{"k":"v"},)"
      R"("a":{"dtype":"U8","shape":[5],"data_offsets":[6,11]}}   )";
  std::string file(8, '\0');
  const uint64_t len = json.size();
  std::memcpy(file.data(), &len, 8);
  file += json;
  file += "ABCDEFGHIJK";
  const std::string path = f.dir.Sub("in.safetensors");
  test::WriteFileBytes(path, file.data(), file.size());
  SaveRequest request;
  request.run = "imported";
  request.step = 1;
  REQUIRE(ImportSafetensors(*f.store, path, request).ok());
  MountFs fs(*f.store, {});
  const auto served = ReadAll(fs, "/runs/imported/1/model.safetensors");
  CHECK(std::string(served.begin(), served.end()) == file);
}

TEST_CASE("mount: tensor, blob and meta.json files", "[integration]") {
  Fixture f;
  const CheckpointInfo info = f.Save(3, 21);
  MountFs fs(*f.store, {});
  std::vector<uint8_t> weight(3 * kChunk + 400);
  REQUIRE(f.store->LoadEntry("train@3", "layer.0/weight", weight.data(), weight.size()).ok());
  const auto npy = ReadAll(fs, "/runs/train/3/tensors/layer.0%2Fweight.npy");
  REQUIRE(npy.size() > weight.size());
  const size_t header = npy.size() - weight.size();
  CHECK(header % 64 == 0);
  CHECK(std::vector<uint8_t>(npy.begin() + header, npy.end()) == weight);
  CHECK(std::string(npy.begin() + 10, npy.begin() + header).find("(3172,)") != std::string::npos);

  CHECK(ReadAll(fs, "/runs/train/3/blobs/rng%2Fstate") == RandomBytes(5000, 24));

  const auto meta_bytes = ReadAll(fs, "/runs/train/3/meta.json");
  const auto meta = nlohmann::json::parse(meta_bytes.begin(), meta_bytes.end());
  CHECK(meta["id"] == info.id);
  CHECK(meta["step"] == 3);
  CHECK(meta["metrics"]["loss"] == Approx(0.25));
  REQUIRE(meta["entries"].size() == 4);
  CHECK(meta["entries"][0]["name"] == "layer.0/weight");
  CHECK(meta["entries"][0]["file"] == "tensors/layer.0%2Fweight.npy");
  CHECK(meta["entries"][3]["file"] == "blobs/rng%2Fstate");
}

TEST_CASE("mount: a flipped byte in a pack fails exactly the reads of its chunk",
          "[integration][fault]") {
  Fixture f;
  f.Save(1, 31);
  const std::vector<uint8_t> exported = f.Export("train@1");
  std::vector<std::string> packs;
  for (auto& e : fs::recursive_directory_iterator(f.dir.Sub("store/packs"))) {
    if (fs::is_regular_file(e.path())) packs.push_back(e.path().string());
  }
  REQUIRE(packs.size() == 1);
  std::vector<uint8_t> pack = test::ReadFileBytes(packs[0]);
  pack[pack.size() / 2] ^= 0x40;
  test::WriteFileBytes(packs[0], pack.data(), pack.size());

  std::vector<std::string> log;
  MountOptions options;
  options.log = [&log](const std::string& line) { log.push_back(line); };
  MountFs fs(*f.store, options);
  auto file = fs.Open("/runs/train/1/model.safetensors");
  REQUIRE(file.ok());
  // Read one chunk-sized piece at a time and count the failures: a single
  // chunk is damaged, so the bad bytes form one range no longer than a chunk.
  uint64_t bad_begin = UINT64_MAX;
  uint64_t bad_end = 0;
  std::vector<char> buf(512);
  for (uint64_t off = 0; off < exported.size(); off += buf.size()) {
    auto n = fs.Read(**file, off, buf.size(), buf.data());
    if (n.ok()) {
      REQUIRE(std::memcmp(buf.data(), exported.data() + off, *n) == 0);
      continue;
    }
    CHECK(n.status().code() == Code::kCorruption);
    bad_begin = std::min(bad_begin, off);
    bad_end = std::max(bad_end, off + buf.size());
  }
  REQUIRE(bad_end > bad_begin);
  CHECK(bad_end - bad_begin <= kChunk + buf.size());
  for (uint64_t off = bad_begin; off < bad_end; off += buf.size()) {
    CHECK_FALSE(fs.Read(**file, off, buf.size(), buf.data()).ok());
  }
  REQUIRE_FALSE(log.empty());
  CHECK(log[0].find("train@1") != std::string::npos);
  CHECK(log[0].find("model.safetensors") != std::string::npos);
  CHECK(log[0].find("entry '") != std::string::npos);
}

TEST_CASE("mount: new checkpoints appear and deleted ones disappear", "[integration]") {
  Fixture f;
  f.Save(1, 41);
  MountOptions options;
  options.refresh = std::chrono::milliseconds(0);
  MountFs fs(*f.store, options);
  CHECK(Names(fs, "/runs/train") == std::set<std::string>{"1", "latest"});
  f.Save(2, 42);
  CHECK(Names(fs, "/runs/train") == std::set<std::string>{"1", "2", "latest"});
  CHECK(*fs.ReadLink("/runs/train/latest") == "2");
  REQUIRE(f.store->Tag("train@2", "keep").ok());
  CHECK(Names(fs, "/tags") == std::set<std::string>{"keep"});
  REQUIRE(f.store->Delete("train@1").ok());
  CHECK(Names(fs, "/runs/train") == std::set<std::string>{"2", "latest"});
  CHECK(fs.GetAttr("/runs/train/1").status().code() == Code::kNotFound);
}

TEST_CASE("mount: a file open while its checkpoint is deleted and gc runs stays readable",
          "[integration]") {
  Fixture f;
  f.Save(1, 51);
  f.Save(2, 52);
  const std::vector<uint8_t> exported = f.Export("train@1");
  MountOptions options;
  options.refresh = std::chrono::milliseconds(0);
  options.cache_bytes = 0;  // every read goes to the packs
  MountFs fs(*f.store, options);
  auto file = fs.Open("/runs/train/1/model.safetensors");
  REQUIRE(file.ok());
  REQUIRE(f.store->Delete("train@1").ok());
  GcOptions gc;
  gc.repack_threshold = 1.0;  // rewrite every pack with dead bytes
  auto report = f.store->Gc(gc);
  REQUIRE(report.ok());
  std::vector<uint8_t> read(exported.size());
  auto n = fs.Read(**file, 0, read.size(), reinterpret_cast<char*>(read.data()));
  REQUIRE(n.ok());
  CHECK(read == exported);
  CHECK(fs.GetAttr("/runs/train/1").status().code() == Code::kNotFound);
  // The kernel asks about an open file by its path (fstat): the path
  // answers for as long as the file is open, and no longer.
  auto attr = fs.GetAttr("/runs/train/1/model.safetensors");
  REQUIRE(attr.ok());
  CHECK(attr->kind == NodeKind::kFile);
  CHECK(attr->size == exported.size());
  fs.Close(std::move(*file));
  CHECK(fs.GetAttr("/runs/train/1/model.safetensors").status().code() == Code::kNotFound);
}

// A mount ended by a signal may never see its open files released: the
// handles are the mount's, freed with it (under ASan, a leak fails the run).
TEST_CASE("mount: files still open when the mount ends are freed with it", "[integration]") {
  Fixture f;
  f.Save(1, 51);
  const std::vector<uint8_t> exported = f.Export("train@1");
  auto fs = std::make_unique<MountFs>(*f.store, MountOptions{});
  auto first = fs->Open("/runs/train/1/model.safetensors");
  auto second = fs->Open("/runs/train/1/model.safetensors");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(*first != *second);
  fs->Close(*first);
  std::vector<uint8_t> read(exported.size());
  auto n = fs->Read(**second, 0, read.size(), reinterpret_cast<char*>(read.data()));
  REQUIRE(n.ok());
  CHECK(read == exported);
  fs.reset();  // `second` never closed
}

TEST_CASE("mount: a sharded checkpoint shows its global tensors and each rank's own",
          "[integration]") {
  Fixture f;
  // A 64 x 40 f32 matrix in row halves from two ranks, and a rank-local blob.
  const auto whole = RandomBytes(64 * 40 * 4, 61);
  const size_t half = whole.size() / 2;
  for (uint32_t rank = 0; rank < 2; ++rank) {
    const auto rng_state = RandomBytes(100, 70 + rank);
    SaveRequest r;
    r.run = "sharded";
    r.step = 7;
    r.rank = rank;
    r.world_size = 2;
    TensorView piece{"w", DType::kF32, {32, 40}, whole.data() + rank * half, half};
    piece.global_shape = {64, 40};
    piece.offsets = {32 * int64_t{rank}, 0};
    r.tensors.push_back(piece);
    r.blobs.push_back({"rng", rng_state.data(), rng_state.size(), /*rank_local=*/true});
    REQUIRE(f.store->Save(r).ok());
  }
  MountFs fs(*f.store, {});
  CHECK(Names(fs, "/runs/sharded/7/tensors") == std::set<std::string>{"w.npy"});
  CHECK(Names(fs, "/runs/sharded/7/blobs") == std::set<std::string>{"rank0%2Frng", "rank1%2Frng"});
  const auto npy = ReadAll(fs, "/runs/sharded/7/tensors/w.npy", 1000);
  REQUIRE(npy.size() > whole.size());
  CHECK(std::vector<uint8_t>(npy.end() - whole.size(), npy.end()) == whole);
  CHECK(ReadAll(fs, "/runs/sharded/7/blobs/rank1%2Frng") == RandomBytes(100, 71));
  CHECK(ReadAll(fs, "/runs/sharded/7/model.safetensors") == f.Export("sharded@7"));
}

// On a store in object storage (a real RGW; skipped without one, as the
// [s3] tests are).
TEST_CASE("mount: a store in an S3 bucket mounts the same", "[integration][s3]") {
  const char* bucket = std::getenv("CKPT_TEST_S3_BUCKET");
  if (bucket == nullptr || std::getenv("AWS_ENDPOINT_URL") == nullptr) {
    std::fprintf(stderr, "SKIPPED: no S3 server (see scripts/rgw.sh)\n");
    std::exit(77);
  }
  TempDir dir;
  const std::string url =
      std::string("s3://") + bucket + "/t-mount-" + std::to_string(std::random_device{}());
  StoreOptions options;
  options.create_if_missing = true;
  options.chunk_size = kChunk;
  options.cache_dir = dir.Sub("cache");
  auto store = Store::Open(options, url);
  REQUIRE(store.ok());
  const auto w = RandomBytes(5 * kChunk + 12, 81);
  SaveRequest r;
  r.run = "remote";
  r.step = 1;
  r.tensors.push_back({"w", DType::kU8, {int64_t(w.size())}, w.data(), w.size()});
  REQUIRE((*store)->Save(r).ok());

  MountFs fs(**store, {});
  CHECK(Names(fs, "/runs/remote") == std::set<std::string>{"1", "latest"});
  const auto npy = ReadAll(fs, "/runs/remote/1/tensors/w.npy", 3000);
  CHECK(std::vector<uint8_t>(npy.end() - w.size(), npy.end()) == w);
  const std::string out = dir.Sub("x.safetensors");
  REQUIRE(ExportSafetensors(**store, "remote@1", out).ok());
  CHECK(ReadAll(fs, "/runs/remote/1/model.safetensors") == test::ReadFileBytes(out));
}

}  // namespace
}  // namespace ckpt::mount
