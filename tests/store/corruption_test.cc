// Damaged bytes on disk: verify finds them and names what they touch,
// loads of affected tensors fail with kCorruption, the rest still load.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "index/index.h"
#include "repo/store_context.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

// The single pack file written by the only save of a fresh store.
std::vector<std::string> PackFiles(const std::string& dir) {
  auto backend = NewLocalBackend(dir);
  auto names = backend->List("packs/");
  REQUIRE(names.ok());
  std::vector<std::string> paths;
  for (const auto& n : *names) paths.push_back(dir + "/" + n);
  return paths;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

std::string LargestFile(const std::vector<std::string>& paths) {
  std::string best;
  for (const auto& p : paths)
    if (best.empty() || std::filesystem::file_size(p) > std::filesystem::file_size(best)) best = p;
  return best;
}

}  // namespace

TEST_CASE("a flipped byte in a pack is found and named", "[integration][corruption]") {
  TempDir dir;
  auto a = RandomBytes(256 * 1024, 1);  // incompressible: stored raw
  auto b = RandomBytes(256 * 1024, 2);
  std::vector<std::string> packs_before;
  {
    auto store = MustOpen(dir.path());
    SaveRequest first;
    first.run = "run";
    first.step = 1;
    first.tensors.push_back({"alpha", DType::kU8, {256 * 1024}, a.data(), a.size()});
    REQUIRE(store->Save(first).ok());
    packs_before = PackFiles(dir.path());
    REQUIRE(packs_before.size() == 1);
    SaveRequest second = first;
    second.step = 2;
    second.tensors[0] = {"beta", DType::kU8, {256 * 1024}, b.data(), b.size()};
    REQUIRE(store->Save(second).ok());
  }
  FlipByte(packs_before[0], 1000);  // inside the first chunk of alpha

  auto store = MustOpen(dir.path());
  auto metadata_only = store->Verify({});
  REQUIRE(metadata_only.ok());
  CHECK(metadata_only->ok());  // sizes and index still agree

  auto report = store->Verify(ReadAllData());
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  const auto& problem = report->problems[0];
  CHECK(problem.status.code() == Code::kCorruption);
  CHECK(problem.checkpoints == std::vector<std::string>{"run@1"});
  CHECK(problem.tensors == std::vector<std::string>{"run@1:alpha"});
  CHECK_THAT(problem.status.message(),
             Catch::Contains("hash mismatch") && Catch::Contains("run@1:alpha"));

  std::vector<uint8_t> out(a.size());
  Status load = store->LoadEntry("run@1", "alpha", out.data(), out.size());
  CHECK(load.code() == Code::kCorruption);
  CHECK_THAT(load.message(),
             Catch::Contains("run@1") && Catch::Contains("alpha") && Catch::Contains("pack"));
  auto other = store->Load("run@2");
  REQUIRE(other.ok());
  CHECK(other->tensors[0].data == b);
}

TEST_CASE("a truncated pack is reported with every checkpoint it breaks",
          "[integration][corruption]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    REQUIRE(store->Save(StepState(0).Request("run", 0)).ok());
    REQUIRE(store->Save(StepState(1).Request("run", 1)).ok());
  }
  auto packs = PackFiles(dir.path());
  REQUIRE(packs.size() == 2);
  // The larger pack is step 0's; step 1 shares most of its chunks.
  std::string victim = LargestFile(packs);
  std::filesystem::resize_file(victim, std::filesystem::file_size(victim) / 2);
  auto store = MustOpen(dir.path());
  auto report = store->Verify({});
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].checkpoints == std::vector<std::string>{"run@0", "run@1"});
  CHECK(store->Load("run@1").status().code() != Code::kOk);
}

// Store::Open checks the index without opening its tables (they open
// lazily in each operation's view): a table file lost or cut short must
// still be refused there, with the file named, before any operation.
TEST_CASE("a store whose index lost or truncated a table is refused at open",
          "[integration][store]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (uint64_t step = 0; step < 3; ++step)
      REQUIRE(store->Save(StepState(step).Request("r", step)).ok());
  }
  {
    auto index = internal::Index::Open(internal::IndexDirOf(dir.path()), false, false);
    REQUIRE(index.ok());
    REQUIRE((*index)->CompactAll().ok());  // everything in table files
    REQUIRE((*index)->Close().ok());
  }
  std::vector<std::filesystem::path> tables;
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("index")))
    if (e.path().extension() == ".sst" || e.path().extension() == ".ldb")
      tables.push_back(e.path());
  REQUIRE(!tables.empty());
  SECTION("truncated") { std::filesystem::resize_file(tables[0], 100); }
  SECTION("lost") { std::filesystem::remove(tables[0]); }
  StoreOptions options;
  auto store = Store::Open(options, dir.path());
  REQUIRE(!store.ok());
  INFO(store.status().ToString());
  CHECK(store.status().ToString().find(tables[0].stem().string()) != std::string::npos);
}
