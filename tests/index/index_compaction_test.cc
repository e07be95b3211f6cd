// Index compaction: a whole compaction keeps every key, and one canceled
// stops with kBusy and keeps every key too; closing sessions compact a
// level 0 that grew past its bound.
#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "index/index.h"
#include "test_util.h"

using namespace ckpt;
using namespace ckpt::internal;

namespace {

void Fill(Index& index, int sessions_worth) {
  for (int s = 0; s < sessions_worth; ++s) {
    IndexBatch batch;
    for (int i = 0; i < 1000; ++i)
      batch.Put("K" + std::to_string(s) + "-" + std::to_string(i), std::string(100, 'v'));
    REQUIRE(index.Commit(batch).ok());
  }
}

void RequireAllKeys(Index& index, int sessions_worth) {
  for (int s = 0; s < sessions_worth; ++s)
    for (int i = 0; i < 1000; i += 97) {
      auto value = index.Get("K" + std::to_string(s) + "-" + std::to_string(i));
      REQUIRE(value.ok());
      REQUIRE(value->has_value());
      CHECK(**value == std::string(100, 'v'));
    }
}

}  // namespace

TEST_CASE("a canceled compaction stops with kBusy and loses nothing", "[index]") {
  ckpt::test::TempDir dir;
  const std::string path = dir.Sub("index");
  {
    auto index = Index::Open(path, true, false);
    REQUIRE(index.ok());
    Fill(**index, 5);
    std::atomic<bool> canceled{true};
    Status s = (*index)->CompactAll(&canceled);
    CHECK(s.code() == Code::kBusy);
    RequireAllKeys(**index, 5);
    // A session that must yield skips the compaction at its close.
    (*index)->SetYield([] { return true; });
  }
  auto index = Index::Open(path, false, false);
  REQUIRE(index.ok());
  RequireAllKeys(**index, 5);
  CHECK((*index)->CompactAll().ok());
  RequireAllKeys(**index, 5);
}

TEST_CASE("closing sessions keep level 0 of the index bounded", "[index]") {
  ckpt::test::TempDir dir;
  const std::string path = dir.Sub("index");
  constexpr int kSessions = 12;  // each flushes one level-0 table at its close
  for (int s = 0; s < kSessions; ++s) {
    auto index = Index::Open(path, s == 0, false, /*background_compactions=*/false);
    REQUIRE(index.ok());
    IndexBatch batch;  // over the 1 MiB of memtable that makes a close flush
    for (int i = 0; i < 12000; ++i)
      batch.Put("S" + std::to_string(s) + "-" + std::to_string(i), std::string(100, 'v'));
    REQUIRE((*index)->Commit(batch).ok());
  }
  size_t tables = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path))
    if (entry.path().extension() == ".sst") ++tables;
  // Closing sessions run the compactions that level 0 calls for (4 tables).
  CHECK(tables < kSessions - 2);
  auto index = Index::Open(path, false, true);
  REQUIRE(index.ok());
  for (int s = 0; s < kSessions; ++s) {
    auto value = (*index)->Get("S" + std::to_string(s) + "-11999");
    REQUIRE(value.ok());
    CHECK(value->has_value());
  }
}
