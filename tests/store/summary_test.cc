// Listings (log, gc's plan, stats) read each checkpoint's summary ('I' key)
// instead of its manifest. These tests hold the summary to the manifest it
// stands for: saved, deleted, collected and rebuilt together, and an index
// without summaries (written before they existed) lists the same.
#include <catch2/catch.hpp>

#include "index/index.h"
#include "repo/store_context.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

// The 'I' keys of the index of the store in `dir` (closed), as id -> value.
std::map<std::string, std::string> Summaries(const std::string& dir) {
  auto index = internal::Index::Open(internal::IndexDirOf(dir), false, /*read_only=*/true);
  REQUIRE(index.ok());
  std::map<std::string, std::string> out;
  REQUIRE((*index)
              ->Scan(internal::kSummaryKeys,
                     [&](std::string_view k, std::string_view v) {
                       out[internal::Digest::FromView(k.substr(1)).Hex()] = std::string(v);
                       return true;
                     })
              .ok());
  return out;
}

void DropSummaries(const std::string& dir) {
  auto index = internal::Index::Open(internal::IndexDirOf(dir), false, false);
  REQUIRE(index.ok());
  internal::IndexBatch batch;
  for (const auto& [hex, value] : Summaries(dir)) {
    internal::Digest id;
    REQUIRE(internal::Digest::FromHex(hex, &id));
    batch.Delete(internal::SummaryKey(id));
  }
  REQUIRE((*index)->Commit(batch).ok());
  REQUIRE((*index)->Close().ok());
}

std::vector<CheckpointInfo> ListAll(const std::string& dir) {
  auto store = MustOpen(dir);
  auto list = store->ListCheckpoints("");
  REQUIRE(list.ok());
  return *list;
}

void CheckSameListing(const std::vector<CheckpointInfo>& a, const std::vector<CheckpointInfo>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].run << "@" << a[i].step);
    CHECK(a[i].id == b[i].id);
    CHECK(a[i].run == b[i].run);
    CHECK(a[i].step == b[i].step);
    CHECK(a[i].parent_id == b[i].parent_id);
    CHECK(a[i].meta.metrics == b[i].meta.metrics);
    CHECK(a[i].meta.attributes == b[i].meta.attributes);
    CHECK(a[i].meta.wall_time_ns == b[i].meta.wall_time_ns);
    CHECK(a[i].tags == b[i].tags);
    CHECK(a[i].tensor_count == b[i].tensor_count);
    CHECK(a[i].blob_count == b[i].blob_count);
    CHECK(a[i].logical_bytes == b[i].logical_bytes);
    CHECK(a[i].new_bytes == b[i].new_bytes);
    CHECK(a[i].new_raw_bytes == b[i].new_raw_bytes);
    CHECK(a[i].shared_bytes == b[i].shared_bytes);
    CHECK(a[i].world_size == b[i].world_size);
  }
}

}  // namespace

TEST_CASE("listings from summaries equal listings from manifests", "[unit][store]") {
  TempDir dir;
  std::vector<CheckpointInfo> saved;
  {
    auto store = MustOpen(dir.path());
    for (uint64_t step = 1; step <= 4; ++step) {
      const StepState state(step);
      SaveRequest request = state.Request(step % 2 ? "a" : "b", step);
      request.meta.attributes["optimizer"] = "adamw";
      auto info = store->Save(request);
      REQUIRE(info.ok());
      saved.push_back(*info);
    }
    REQUIRE(store->Tag("a@3", "best").ok());
  }
  const auto summaries = Summaries(dir.path());
  CHECK(summaries.size() == 4);
  const auto with = ListAll(dir.path());
  REQUIRE(with.size() == 4);
  CHECK(with[0].run == "a");
  CHECK(with[0].tensor_count == 2);
  CHECK(with[0].blob_count == 1);
  CHECK(with[0].logical_bytes == saved[0].logical_bytes);
  CHECK(with[0].new_bytes == saved[0].new_bytes);
  CHECK(with[1].tags == std::vector<std::string>{"best"});
  CHECK(with[1].meta.attributes.at("optimizer") == "adamw");

  DropSummaries(dir.path());
  CHECK(Summaries(dir.path()).empty());
  CheckSameListing(with, ListAll(dir.path()));

  SECTION("repair writes them again") {
    StoreOptions options;
    REQUIRE(Store::Repair(options, dir.path()).ok());
    CHECK(Summaries(dir.path()) == summaries);
    CheckSameListing(with, ListAll(dir.path()));
  }
}

TEST_CASE("a summary goes with its checkpoint", "[unit][store]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (uint64_t step = 1; step <= 4; ++step)
      REQUIRE(store->Save(StepState(step).Request("r", step)).ok());
    REQUIRE(store->Delete("r@1").ok());
  }
  CHECK(Summaries(dir.path()).size() == 3);
  {
    auto store = MustOpen(dir.path());
    GcOptions gc;
    gc.grace_seconds = 0;
    RetentionPolicy keep_last;
    keep_last.keep_last = 1;
    gc.policy = keep_last;
    auto report = store->Gc(gc);
    REQUIRE(report.ok());
    CHECK(report->checkpoints_removed == 2);
  }
  const auto left = Summaries(dir.path());
  REQUIRE(left.size() == 1);
  const auto listing = ListAll(dir.path());
  REQUIRE(listing.size() == 1);
  CHECK(left.count(listing[0].id) == 1);
  CHECK(listing[0].step == 4);
}

TEST_CASE("verify reports a summary that disagrees with its manifest", "[unit][store]") {
  TempDir dir;
  std::string id_hex;
  {
    auto store = MustOpen(dir.path());
    auto info = store->Save(StepState(1).Request("r", 1));
    REQUIRE(info.ok());
    id_hex = info->id;
  }
  {
    auto index = internal::Index::Open(internal::IndexDirOf(dir.path()), false, false);
    REQUIRE(index.ok());
    internal::Digest id;
    REQUIRE(internal::Digest::FromHex(id_hex, &id));
    auto value = (*index)->Get(internal::SummaryKey(id));
    REQUIRE(value.ok());
    REQUIRE(value->has_value());
    internal::CheckpointSummary summary;
    REQUIRE(internal::DecodeCheckpointSummary(**value, &summary).ok());
    summary.logical_bytes += 1;
    internal::IndexBatch batch;
    batch.Put(internal::SummaryKey(id), internal::EncodeCheckpointSummary(summary));
    REQUIRE((*index)->Commit(batch).ok());
    REQUIRE((*index)->Close().ok());
  }
  auto store = MustOpen(dir.path());
  auto report = store->Verify({});
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].status.message().find("summary differs") != std::string::npos);
  CHECK(report->problems[0].checkpoints == std::vector<std::string>{id_hex});
  store.reset();
  REQUIRE(Store::Repair(StoreOptions(), dir.path()).ok());
  store = MustOpen(dir.path());
  report = store->Verify({});
  REQUIRE(report.ok());
  CHECK(report->problems.empty());
}

TEST_CASE("gc writes the summaries an older index lacks", "[unit][store]") {
  TempDir dir;
  {
    auto store = MustOpen(dir.path());
    for (uint64_t step = 1; step <= 4; ++step)
      REQUIRE(store->Save(StepState(step).Request("r", step)).ok());
  }
  const auto with = ListAll(dir.path());
  DropSummaries(dir.path());
  {
    auto store = MustOpen(dir.path());
    GcOptions gc;
    RetentionPolicy keep_last;
    keep_last.keep_last = 3;
    gc.policy = keep_last;
    gc.dry_run = true;
    REQUIRE(store->Gc(gc).ok());
  }
  CHECK(Summaries(dir.path()).empty());  // a dry run writes nothing
  {
    auto store = MustOpen(dir.path());
    GcOptions gc;
    RetentionPolicy keep_last;
    keep_last.keep_last = 3;
    gc.policy = keep_last;
    auto report = store->Gc(gc);
    REQUIRE(report.ok());
    CHECK(report->checkpoints_removed == 1);
  }
  const auto summaries = Summaries(dir.path());
  CHECK(summaries.size() == 3);
  const auto listing = ListAll(dir.path());
  REQUIRE(listing.size() == 3);
  for (const auto& info : listing) CHECK(summaries.count(info.id) == 1);
  CheckSameListing({with.begin() + 1, with.end()}, listing);
}
