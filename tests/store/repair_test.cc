// Invariant 5: the index can be rebuilt from packs and refs alone.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

TEST_CASE("repair rebuilds a deleted index", "[integration][repair]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (uint64_t step = 0; step < 5; ++step)
      REQUIRE(store->Save(StepState(step).Request("run", step)).ok());
    REQUIRE(store->Save(StepState(9).Request("other", 9)).ok());
    REQUIRE(store->Tag("run@3", "best").ok());
    REQUIRE(store->Tag("run@4", "gone-with-delete").ok());
    REQUIRE(store->Delete("run@4").ok());
  }
  std::filesystem::remove_all(dir.Sub("index"));
  auto broken = Store::Open({}, dir.path());
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.status().code() == Code::kCorruption);
  CHECK_THAT(broken.status().message(), Catch::Contains("repair"));

  auto report = Store::Repair({}, dir.path());
  REQUIRE(report.ok());
  CHECK(report->checkpoints_restored == 5);
  CHECK(report->tags_restored == 1);
  CHECK(report->packs_unreadable == 0);

  auto store = MustOpen(dir.path());
  for (uint64_t step = 0; step < 4; ++step) {
    auto loaded = store->Load("run@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step).Matches(*loaded));
    CHECK(loaded->meta.metrics.at("loss") == Approx(1.0 / (step + 1)));
  }
  CHECK(store->Resolve("run@4").status().code() == Code::kNotFound);
  CHECK(store->Resolve("best")->step == 3);
  CHECK(store->Resolve("other")->step == 9);
  auto list = store->ListCheckpoints("run");
  REQUIRE(list.ok());
  CHECK(list->front().new_raw_bytes > list->back().new_raw_bytes);
  auto verify = store->Verify(ReadAllData());
  REQUIRE(verify.ok());
  CHECK(verify->ok());
}

TEST_CASE("repair skips a torn pack and keeps the rest", "[integration][repair]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    REQUIRE(store->Save(StepState(0).Request("run", 0)).ok());
  }
  // A pack torn by a crash mid-write of a save that never committed.
  std::filesystem::create_directories(dir.Sub("packs/ff"));
  std::ofstream(dir.Sub("packs/ff/ff00000000000000000000000000000f")) << "CKPTPACK torn";
  auto report = Store::Repair({}, dir.path());
  REQUIRE(report.ok());
  CHECK(report->packs_unreadable == 1);
  CHECK(report->checkpoints_restored == 1);
  auto store = MustOpen(dir.path());
  REQUIRE(store->Load("run@0").ok());
}

TEST_CASE("a store of a newer format version is refused", "[unit][store]") {
  TempDir dir;
  { MustOpen(dir.path()); }
  auto config = ReadFileBytes(dir.Sub("config"));
  std::string text(config.begin(), config.end());
  const std::string current = "format_version=" + std::to_string(ckpt::kFormatVersion);
  REQUIRE(text.find(current) != std::string::npos);
  text.replace(text.find(current), current.size(), "format_version=99");
  WriteFileBytes(dir.Sub("config"), text.data(), text.size());
  auto store = Store::Open({}, dir.path());
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == Code::kVersionMismatch);
  CHECK_THAT(store.status().message(), Catch::Contains("99"));
}

TEST_CASE("two stores open on one directory both write and see each other", "[unit][store]") {
  TempDir dir;
  auto first = MustOpen(dir.path());
  // No store keeps the index open between operations, so a second writer
  // (in this process or another) works alongside the first.
  auto second = MustOpen(dir.path());
  REQUIRE(first->Save(StepState(0).Request("a", 0)).ok());
  REQUIRE(second->Save(StepState(1).Request("b", 1)).ok());
  CHECK(first->Resolve("b")->step == 1);
  CHECK(second->Resolve("a")->step == 0);
  StoreOptions ro;
  ro.read_only = true;
  auto reader = Store::Open(ro, dir.path());
  REQUIRE(reader.ok());
  CHECK((*reader)->ListCheckpoints("")->size() == 2);
  CHECK((*reader)->Tag("a", "t").code() == Code::kNotSupported);
}

TEST_CASE("an init cut short before its config is completed by the next init",
          "[integration][store]") {
  TempDir dir;
  {
    // What a crash between the two steps of creating a store leaves: the
    // index, and no config.
    MustOpen(dir.path());
  }
  std::filesystem::remove(dir.Sub("config"));
  auto plain = Store::Open({}, dir.path());
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.status().code() == Code::kNotFound);  // not a store yet
  auto store = MustOpen(dir.path());
  REQUIRE(store->Save(StepState(0).Request("run", 0)).ok());
  CHECK(store->Load("run@0").ok());
}
