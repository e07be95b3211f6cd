// Sharded checkpoints in a bucket: each rank stages its shard as an object
// of its own and the rank that finds all of them commits the checkpoint in
// one log record. gc keeps what staged shards need, removes those that will
// never complete, and never breaks a checkpoint that completes.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "ckpt/s3.h"
#include "doubles/fault_injecting_backend.h"
#include "s3/s3_env.h"
#include "store/shard_fixture.h"
#include "store/store_fixture.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::StoreOptions;

using ckpt::test::BucketOf;
using ckpt::test::FreshStoreUrl;

namespace {

std::unique_ptr<ckpt::Store> OpenHost(const std::string& url, const std::string& cache) {
  StoreOptions options;
  options.cache_dir = cache;
  options.pack_target_size = 64 * 1024;  // several packs per shard
  return ckpt::test::MustOpen(url, options);
}

size_t Count(ckpt::Backend& bucket, const std::string& prefix) {
  auto names = bucket.List(prefix);
  REQUIRE(names.ok());
  return names->size();
}

// Saves rank r's shard of `state` from host r; returns the info.
ckpt::CheckpointInfo SaveShard(ckpt::Store& host, const ckpt::test::ShardedState& state, int r) {
  ckpt::test::RankShard shard(state, "run", r);
  auto info = host.Save(shard.request);
  INFO("rank " << r << ": " << info.status().ToString());
  REQUIRE(info.ok());
  return *info;
}

void CheckWhole(ckpt::Store& reader, const ckpt::test::ShardedState& state,
                const std::string& ref) {
  auto loaded = reader.Load(ref);
  INFO(ref << ": " << loaded.status().ToString());
  REQUIRE(loaded.ok());
  for (const auto& [name, tensor] : state.tensors) {
    bool found = false;
    for (const auto& t : loaded->tensors) {
      if (t.name != name) continue;
      found = true;
      CHECK(t.data == tensor.bytes);
    }
    CHECK(found);
  }
}

// Reports every pack two hours older than it is.
class AgedPacksBackend : public ckpt::internal::FaultInjectingBackend {
 public:
  using FaultInjectingBackend::FaultInjectingBackend;
  ckpt::Result<int64_t> ModifiedTimeNs(const std::string& name) override {
    auto t = FaultInjectingBackend::ModifiedTimeNs(name);
    if (!t.ok() || name.rfind("packs/", 0) != 0) return t;
    return *t - int64_t{7200} * 1000000000;
  }
};

// Runs an action once, just before the first LIST of staged shards.
class ListHookBackend : public ckpt::internal::FaultInjectingBackend {
 public:
  ListHookBackend(std::shared_ptr<ckpt::Backend> base, std::function<void()> action)
      : FaultInjectingBackend(std::move(base)), action_(std::move(action)) {}
  ckpt::Result<std::vector<std::string>> List(const std::string& prefix) override {
    if (prefix.rfind("shards/", 0) == 0 && action_) std::exchange(action_, nullptr)();
    return FaultInjectingBackend::List(prefix);
  }

 private:
  std::function<void()> action_;
};

}  // namespace

TEST_CASE("a sharded checkpoint in a bucket is one log record, whatever the world size",
          "[s3][store][shards]") {
  const std::string url = FreshStoreUrl("staged");
  ckpt::test::TempDir dir;
  constexpr int kWorld = 6;
  std::vector<std::unique_ptr<ckpt::Store>> hosts;
  for (int h = 0; h < kWorld; ++h) hosts.push_back(OpenHost(url, dir.Sub("h" + std::to_string(h))));
  auto bucket = BucketOf(url);
  for (uint64_t step = 1; step <= 2; ++step) {
    const size_t records_before = Count(*bucket, "log/");
    const ckpt::test::ShardedState state(kWorld, step);
    for (int r = 0; r < kWorld; ++r) {
      auto info = SaveShard(*hosts[r], state, r);
      CHECK(info.shards_missing == static_cast<uint32_t>(r + 1 < kWorld ? kWorld - r - 1 : 0));
      if (r + 1 < kWorld) CHECK(Count(*bucket, "shards/") == static_cast<size_t>(r + 1));
    }
    // The ranks before the last appended nothing to the log.
    CHECK(Count(*bucket, "log/") == records_before + 1);
    CHECK(Count(*bucket, "shards/") == 0);
    CheckWhole(*OpenHost(url, dir.Sub("reader" + std::to_string(step))), state,
               "run@" + std::to_string(step));
  }
  auto verify = hosts[0]->Verify(ckpt::test::ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

TEST_CASE("ranks that both find every shard staged: one commits, the other finds it committed",
          "[s3][store][shards]") {
  const std::string url = FreshStoreUrl("stagedtwice");
  ckpt::test::TempDir dir;
  const ckpt::test::ShardedState state(2, 1);
  auto bucket = BucketOf(url);
  OpenHost(url, dir.Sub("creator"));
  const size_t records_before = Count(*bucket, "log/");
  // Rank 1 stages its shard and completes the checkpoint between rank 0's
  // PUT and its LIST; its removal of the staged objects fails, so rank 0
  // finds both shards too.
  StoreOptions options1;
  options1.cache_dir = dir.Sub("h1");
  auto backend1 = std::make_shared<ckpt::internal::FaultInjectingBackend>(BucketOf(url));
  options1.backend = backend1;
  auto host1 = ckpt::test::MustOpen(url, options1);
  ckpt::CheckpointInfo first;
  StoreOptions options0;
  options0.cache_dir = dir.Sub("h0");
  options0.backend = std::make_shared<ListHookBackend>(BucketOf(url), [&] {
    backend1->FailRemoveAt(1);
    first = SaveShard(*host1, state, 1);
  });
  auto host0 = ckpt::test::MustOpen(url, options0);
  const auto second = SaveShard(*host0, state, 0);
  CHECK(first.shards_missing == 0);
  CHECK(second.shards_missing == 0);
  CHECK(second.id == first.id);
  CHECK(Count(*bucket, "log/") == records_before + 1);
  CheckWhole(*host0, state, "run@1");
}

TEST_CASE("gc beside staged shards keeps what they need and the checkpoint completes",
          "[s3][store][shards][gc]") {
  const std::string url = FreshStoreUrl("stagedgc");
  ckpt::test::TempDir dir;
  constexpr int kWorld = 3;
  std::vector<std::unique_ptr<ckpt::Store>> hosts;
  for (int h = 0; h < kWorld; ++h) hosts.push_back(OpenHost(url, dir.Sub("h" + std::to_string(h))));
  // The gc's host sees every pack as two hours old, as if the ranks had
  // been slow: only their staged shards keep their packs from being
  // deleted as orphans.
  StoreOptions options;
  options.cache_dir = dir.Sub("cron");
  options.backend = std::make_shared<AgedPacksBackend>(BucketOf(url));
  auto cron = ckpt::test::MustOpen(url, options);
  const ckpt::test::ShardedState s1(kWorld, 1);
  ckpt::test::ShardedState s2 = s1;  // the same but for one tensor
  s2.step = 2;
  s2.tensors.at("w") = ckpt::test::GlobalTensor({37, 24}, 99);
  for (int r = 0; r < kWorld; ++r) SaveShard(*hosts[r], s1, r);
  // Step 2's first ranks stage their shards, finding most chunks stored;
  // then step 1 is deleted and a gc runs before the last rank saves.
  for (int r = 0; r + 1 < kWorld; ++r) SaveShard(*hosts[r], s2, r);
  REQUIRE(cron->Delete("run@1").ok());
  ckpt::GcOptions gc;
  gc.grace_seconds = 3600;
  auto report = cron->Gc(gc);
  REQUIRE(report.ok());
  CHECK(report->abandoned_shards_removed == 0);
  CHECK(report->orphan_packs_deleted == 0);
  auto bucket = BucketOf(url);
  CHECK(Count(*bucket, "shards/") == kWorld - 1);
  auto last = SaveShard(*hosts[kWorld - 1], s2, kWorld - 1);
  CHECK(last.shards_missing == 0);
  CheckWhole(*cron, s2, "run@2");
  auto verify = cron->Verify(ckpt::test::ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
}

TEST_CASE("gc removes staged shards that will never complete, and their packs",
          "[s3][store][shards][gc]") {
  const std::string url = FreshStoreUrl("stagedstale");
  ckpt::test::TempDir dir;
  constexpr int kWorld = 3;
  std::vector<std::unique_ptr<ckpt::Store>> hosts;
  for (int h = 0; h < kWorld; ++h) hosts.push_back(OpenHost(url, dir.Sub("h" + std::to_string(h))));
  auto cron = OpenHost(url, dir.Sub("cron"));
  auto bucket = BucketOf(url);
  const ckpt::test::ShardedState s1(kWorld, 1), s2(kWorld, 2);

  // A completing rank that died before deleting the staged objects leaves
  // them behind: put back, they are removed as done, whatever their age.
  std::vector<std::pair<std::string, std::string>> kept;
  for (int r = 0; r < kWorld; ++r) {
    SaveShard(*hosts[r], s1, r);
    if (r + 1 == kWorld) break;
    auto names = bucket->List("shards/");
    REQUIRE(names.ok());
    for (const auto& name : *names) kept.emplace_back(name, *bucket->GetWhole(name));
  }
  for (const auto& [name, bytes] : kept)
    REQUIRE(bucket->Put(name, bytes.data(), bytes.size()).ok());
  REQUIRE(Count(*bucket, "shards/") > 0);
  ckpt::GcOptions gc;
  gc.grace_seconds = 3600;
  auto report = cron->Gc(gc);
  REQUIRE(report.ok());
  CHECK(report->abandoned_shards_removed == 0);
  CHECK(Count(*bucket, "shards/") == 0);
  CheckWhole(*cron, s1, "run@1");

  // Shards of a checkpoint whose last rank never comes: a gc with a grace
  // period they have outlived removes them, and then their packs.
  const size_t packs_before = Count(*bucket, "packs/");
  for (int r = 0; r + 1 < kWorld; ++r) SaveShard(*hosts[r], s2, r);
  CHECK(Count(*bucket, "packs/") > packs_before);
  auto dry = cron->Gc([] {
    ckpt::GcOptions o;
    o.grace_seconds = 0;
    o.dry_run = true;
    return o;
  }());
  REQUIRE(dry.ok());
  CHECK(dry->abandoned_shards_removed == kWorld - 1);
  CHECK(Count(*bucket, "shards/") == kWorld - 1);
  gc.grace_seconds = 0;
  report = cron->Gc(gc);
  REQUIRE(report.ok());
  CHECK(report->abandoned_shards_removed == kWorld - 1);
  CHECK(Count(*bucket, "shards/") == 0);
  CHECK(Count(*bucket, "packs/") <= packs_before);
  // The last rank alone does not make a checkpoint of them.
  auto late = SaveShard(*hosts[kWorld - 1], s2, kWorld - 1);
  CHECK(late.shards_missing == kWorld - 1);
  CHECK(cron->Load("run@2").status().code() == Code::kNotFound);
  // The job saving step 2 again completes it.
  for (int r = 0; r + 1 < kWorld; ++r) SaveShard(*hosts[r], s2, r);
  CheckWhole(*cron, s2, "run@2");
  CheckWhole(*cron, s1, "run@1");
}

TEST_CASE("a bucket store of format 5 becomes format 6 at its first sharded save",
          "[s3][store][shards]") {
  const std::string url = FreshStoreUrl("format6");
  ckpt::test::TempDir dir;
  auto bucket = BucketOf(url);
  const auto config = [&] {
    auto text = bucket->GetWhole("config");
    REQUIRE(text.ok());
    return *text;
  };
  OpenHost(url, dir.Sub("creator"));
  std::string v5 = config();
  REQUIRE_THAT(v5, Catch::Contains("format_version=6\n"));
  v5.replace(v5.find("format_version=6"), 16, "format_version=5");
  REQUIRE(bucket->Put("config", v5.data(), v5.size()).ok());
  auto host = OpenHost(url, dir.Sub("host"));
  REQUIRE(host->Save(ckpt::test::StepState(1).Request("run", 1)).ok());
  CHECK(config() == v5);  // unsharded saves leave it as it was
  auto info = SaveShard(*host, ckpt::test::ShardedState(2, 2), 0);
  CHECK(info.shards_missing == 1);
  CHECK_THAT(config(), Catch::Contains("format_version=6\n"));
}
