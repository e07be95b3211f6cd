// Index compaction: a whole compaction keeps every key, and one canceled
// stops with kBusy and keeps every key too.
#include <atomic>
#include <catch2/catch.hpp>
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
