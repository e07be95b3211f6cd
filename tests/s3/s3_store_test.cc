// A store in a bucket of a real Ceph RGW, opened by several "hosts" (Store
// objects with index caches of their own, as on separate machines): what
// one commits the others see; one RUN@STEP is won by exactly one; a lost
// cache is rebuilt from the bucket; leases left by a crashed host expire.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ckpt/s3.h"
#include "doubles/fault_injecting_backend.h"
#include "s3/s3_env.h"
#include "store/shard_fixture.h"
#include "store/store_fixture.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::Status;
using ckpt::StoreOptions;
using ckpt::test::StepState;

using ckpt::test::BucketOf;
using ckpt::test::FreshStoreUrl;

namespace {

// One host: a store opened with an index cache of its own.
std::unique_ptr<ckpt::Store> OpenHost(const std::string& url, const std::string& cache,
                                      int64_t lock_timeout_ms = 60000) {
  StoreOptions options;
  options.cache_dir = cache;
  options.lock_timeout_ms = lock_timeout_ms;
  return ckpt::test::MustOpen(url, options);
}

}  // namespace

TEST_CASE("hosts sharing a bucket see each other's commits", "[s3][store]") {
  const std::string url = FreshStoreUrl("hosts");
  ckpt::test::TempDir dir;
  auto a = OpenHost(url, dir.Sub("a"));
  auto b = OpenHost(url, dir.Sub("b"));
  const StepState s1(1), s2(2);
  REQUIRE(a->Save(s1.Request("run", 1)).ok());
  REQUIRE(b->Save(s2.Request("run", 2)).ok());  // parent: a's step 1, seen through the log
  REQUIRE(a->Tag("run@2", "best").ok());

  for (auto* host : {a.get(), b.get()}) {
    auto listed = host->ListCheckpoints("run");
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 2);
    auto loaded = host->Load("best");
    REQUIRE(loaded.ok());
    CHECK(s2.Matches(*loaded));
    CHECK(host->Verify(ckpt::test::ReadAllData())->problems.empty());
  }
  auto second = b->Load("run@2");
  REQUIRE(second.ok());
  CHECK(second->parent_id == a->Load("run@1")->id);

  SECTION("a host whose cache is lost rebuilds it from the bucket") {
    a.reset();
    ckpt::test::RunShell("rm -rf '" + dir.Sub("a") + "'");
    auto again = OpenHost(url, dir.Sub("a"));
    auto listed = again->ListCheckpoints("run");
    REQUIRE(listed.ok());
    CHECK(listed->size() == 2);
    auto loaded = again->Load("best");
    REQUIRE(loaded.ok());
    CHECK(s2.Matches(*loaded));
  }
  SECTION("repair replays the bucket's log into a fresh cache") {
    a.reset();
    StoreOptions options;
    options.cache_dir = dir.Sub("a");
    auto report = ckpt::Store::Repair(options, url);
    REQUIRE(report.ok());
    CHECK(report->checkpoints_restored == 2);
    CHECK(report->tags_restored == 1);
    auto again = OpenHost(url, dir.Sub("a"));
    auto loaded = again->Load("best");
    REQUIRE(loaded.ok());
    CHECK(s2.Matches(*loaded));
  }
  SECTION("gc on one host, deletion seen by the other") {
    REQUIRE(b->Delete("run@1").ok());
    ckpt::GcOptions gc;
    gc.grace_seconds = 0;
    REQUIRE(b->Gc(gc).ok());
    auto listed = a->ListCheckpoints("run");
    REQUIRE(listed.ok());
    CHECK(listed->size() == 1);
    auto loaded = a->Load("run@2");
    REQUIRE(loaded.ok());
    CHECK(s2.Matches(*loaded));
    CHECK(a->Verify(ckpt::test::ReadAllData())->problems.empty());
  }
}

TEST_CASE("two hosts racing to save one RUN@STEP: exactly one wins", "[s3][store][threads]") {
  const std::string url = FreshStoreUrl("race");
  ckpt::test::TempDir dir;
  constexpr int kHosts = 4;
  std::vector<std::unique_ptr<ckpt::Store>> hosts;
  for (int h = 0; h < kHosts; ++h) hosts.push_back(OpenHost(url, dir.Sub("h" + std::to_string(h))));
  for (uint64_t step = 1; step <= 3; ++step) {
    std::vector<StepState> states;
    for (int h = 0; h < kHosts; ++h) states.emplace_back(step, 100 + h);  // different bytes
    std::vector<Status> results(kHosts);
    std::vector<std::thread> threads;
    for (int h = 0; h < kHosts; ++h) {
      threads.emplace_back(
          [&, h] { results[h] = hosts[h]->Save(states[h].Request("race", step)).status(); });
    }
    for (auto& t : threads) t.join();
    int winner = -1;
    for (int h = 0; h < kHosts; ++h) {
      INFO("host " << h << ": " << results[h].ToString());
      if (results[h].ok()) {
        CHECK(winner == -1);
        winner = h;
      } else {
        CHECK(results[h].code() == Code::kAlreadyExists);
      }
    }
    REQUIRE(winner >= 0);
    for (auto& host : hosts) {
      auto loaded = host->Load("race@" + std::to_string(step));
      REQUIRE(loaded.ok());
      CHECK(states[winner].Matches(*loaded));
    }
  }
}

TEST_CASE("hosts saving different steps at once all land", "[s3][store][threads]") {
  const std::string url = FreshStoreUrl("many");
  ckpt::test::TempDir dir;
  constexpr int kHosts = 3;
  std::vector<std::unique_ptr<ckpt::Store>> hosts;
  for (int h = 0; h < kHosts; ++h) hosts.push_back(OpenHost(url, dir.Sub("h" + std::to_string(h))));
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int h = 0; h < kHosts; ++h) {
    threads.emplace_back([&, h] {
      for (uint64_t i = 0; i < 3; ++i) {
        const uint64_t step = 10 * (h + 1) + i;
        failed += !hosts[h]->Save(StepState(step).Request("run" + std::to_string(h), step)).ok();
      }
    });
  }
  for (auto& t : threads) t.join();
  REQUIRE(failed == 0);
  auto fresh = OpenHost(url, dir.Sub("fresh"));
  for (int h = 0; h < kHosts; ++h) {
    auto listed = fresh->ListCheckpoints("run" + std::to_string(h));
    REQUIRE(listed.ok());
    REQUIRE(listed->size() == 3);
    for (const auto& info : *listed) {
      auto loaded = fresh->Load(info.id);
      REQUIRE(loaded.ok());
      CHECK(StepState(info.step).Matches(*loaded));
    }
  }
}

TEST_CASE("a lease left by a crashed host expires, a live one makes others wait", "[s3][store]") {
  const std::string url = FreshStoreUrl("lease");
  ckpt::test::TempDir dir;
  auto host = OpenHost(url, dir.Sub("a"), /*lock_timeout_ms=*/1500);
  auto bucket = BucketOf(url);

  SECTION("expired: taken over") {
    const std::string stale = "ckpt-lease\nholder=crashed:1:00\nexpires_ns=1000\n";
    REQUIRE(bucket->Put("locks/index", stale.data(), stale.size()).ok());
    REQUIRE(host->Save(StepState(1).Request("run", 1)).ok());
    CHECK(bucket->Size("locks/index").status().code() == Code::kNotFound);  // released
  }
  SECTION("held: kBusy naming the holder, nothing committed") {
    const std::string live =
        "ckpt-lease\nholder=busyhost:7:ab\nexpires_ns=" + std::to_string(int64_t{1} << 62) + "\n";
    REQUIRE(bucket->Put("locks/index", live.data(), live.size()).ok());
    auto saved = host->Save(StepState(1).Request("run", 1));
    CHECK(saved.status().code() == Code::kBusy);
    CHECK_THAT(saved.status().message(), Catch::Contains("busyhost:7:ab"));
    REQUIRE(bucket->Remove("locks/index").ok());
    CHECK(host->ListRuns()->empty());
    REQUIRE(host->Save(StepState(1).Request("run", 1)).ok());
  }
}

TEST_CASE("4 hosts save the shards of one checkpoint, a 5th loads it whole",
          "[s3][store][threads]") {
  const std::string url = FreshStoreUrl("sharded");
  ckpt::test::TempDir dir;
  constexpr int kWorld = 4;
  std::vector<std::unique_ptr<ckpt::Store>> hosts;
  for (int h = 0; h < kWorld; ++h) hosts.push_back(OpenHost(url, dir.Sub("h" + std::to_string(h))));
  auto reader = OpenHost(url, dir.Sub("reader"));
  auto check_whole = [&](const ckpt::test::ShardedState& state, const std::string& ref) {
    auto loaded = reader->Load(ref);
    REQUIRE(loaded.ok());
    for (const auto& [name, tensor] : state.tensors) {
      INFO(name);
      bool found = false;
      for (const auto& t : loaded->tensors) {
        if (t.name != name) continue;
        found = true;
        CHECK(t.shape == tensor.shape);
        CHECK(t.data == tensor.bytes);
      }
      CHECK(found);
    }
  };

  const ckpt::test::ShardedState s1(kWorld, 1);
  std::vector<Status> results(kWorld);
  std::vector<std::thread> threads;
  for (int r = 0; r < kWorld; ++r) {
    threads.emplace_back([&, r] {
      ckpt::test::RankShard shard(s1, "run", r);
      results[r] = hosts[r]->Save(shard.request).status();
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kWorld; ++r) {
    INFO("rank " << r << ": " << results[r].ToString());
    CHECK(results[r].ok());
  }
  check_whole(s1, "run@1");

  // Rank 2 dies before its shard commits: nothing is visible anywhere;
  // its retry completes the checkpoint.
  const ckpt::test::ShardedState s2(kWorld, 2);
  for (int r : {0, 1, 3}) {
    ckpt::test::RankShard shard(s2, "run", r);
    REQUIRE(hosts[r]->Save(shard.request).ok());
  }
  CHECK(reader->Load("run@2").status().code() == Code::kNotFound);
  CHECK(reader->ListCheckpoints("run")->size() == 1);
  ckpt::test::RankShard retry(s2, "run", 2);
  REQUIRE(OpenHost(url, dir.Sub("h2-restarted"))->Save(retry.request).ok());
  check_whole(s2, "run@2");
}

TEST_CASE("a gc on another host during a save's uploads costs the save nothing",
          "[s3][store][gc]") {
  const std::string url = FreshStoreUrl("gcrace");
  ckpt::test::TempDir dir;
  auto faulty = std::make_shared<ckpt::internal::FaultInjectingBackend>(BucketOf(url));
  StoreOptions options;
  options.backend = faulty;
  options.cache_dir = dir.Sub("trainer");
  auto trainer = ckpt::test::MustOpen(url, options);
  auto cron = OpenHost(url, dir.Sub("cron"));
  const StepState first(0), second(1);
  REQUIRE(trainer->Save(first.Request("run", 0)).ok());
  REQUIRE(trainer->Delete("run@0").ok());

  Status gc_status;
  uint64_t chunks_removed = 0;
  faulty->BeforeNextPut("packs/", [&] {
    ckpt::GcOptions gc;
    gc.grace_seconds = 0;  // pack objects go at once: a dangling reference cannot hide
    auto report = cron->Gc(gc);
    gc_status = report.status();
    if (report.ok()) chunks_removed = report->chunks_removed;
  });
  auto info = trainer->Save(second.Request("run", 1));
  INFO(info.status().ToString());
  REQUIRE(info.ok());
  REQUIRE(gc_status.ok());
  CHECK(chunks_removed > 0);
  CHECK(trainer->Counters().chunks_rewritten_after_gc > 0);
  for (auto* host : {trainer.get(), cron.get()}) {
    auto loaded = host->Load("run@1");
    REQUIRE(loaded.ok());
    CHECK(second.Matches(*loaded));
    auto verify = host->Verify(ckpt::test::ReadAllData());
    REQUIRE(verify.ok());
    for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());
  }
  auto bucket = BucketOf(url);
  CHECK(bucket->List("locks/")->empty());  // both leases released
}

TEST_CASE("one gc at a time per bucket", "[s3][store][gc]") {
  const std::string url = FreshStoreUrl("gclease");
  ckpt::test::TempDir dir;
  auto host = OpenHost(url, dir.Sub("a"), /*lock_timeout_ms=*/1500);
  REQUIRE(host->Save(StepState(1).Request("run", 1)).ok());
  auto bucket = BucketOf(url);
  const std::string live =
      "ckpt-lease\nholder=gchost:9:cd\nexpires_ns=" + std::to_string(int64_t{1} << 62) + "\n";
  REQUIRE(bucket->Put("locks/gc", live.data(), live.size()).ok());
  auto busy = host->Gc();
  CHECK(busy.status().code() == Code::kBusy);
  CHECK_THAT(busy.status().message(), Catch::Contains("gchost:9:cd"));
  ckpt::GcOptions dry;
  dry.dry_run = true;
  CHECK(host->Gc(dry).ok());  // a dry run changes nothing and needs no lease
  REQUIRE(bucket->Remove("locks/gc").ok());
  REQUIRE(host->Gc().ok());
  CHECK(bucket->List("locks/")->empty());
}

TEST_CASE("a save into a bucket reads its delta bases in a few requests", "[s3][store]") {
  const std::string url = FreshStoreUrl("bases");
  ckpt::test::TempDir dir;
  auto counting = std::make_shared<ckpt::internal::FaultInjectingBackend>(BucketOf(url));
  StoreOptions options;
  options.cache_dir = dir.Sub("cache");
  options.backend = counting;
  options.chunk_size = 4096;
  auto store = ckpt::test::MustOpen(url, options);
  const auto save = [&](uint64_t step, const std::vector<uint8_t>& w) {
    ckpt::SaveRequest r;
    r.run = "run";
    r.step = step;
    r.tensors.push_back({"w", ckpt::DType::kF32, {int64_t(w.size() / 4)}, w.data(), w.size()});
    return store->Save(r).status();
  };
  constexpr size_t kChunks = 200;
  const auto first = ckpt::test::RandomBytes(kChunks * 4096, 1);
  REQUIRE(save(1, first).ok());
  // Every chunk changes a little: each is stored as a delta over the
  // first checkpoint's, which the save reads.
  auto second = first;
  for (size_t i = 0; i < second.size(); i += 64) second[i] ^= 1;
  const uint64_t before = counting->gets();
  REQUIRE(save(2, second).ok());
  const uint64_t gets = counting->gets() - before;
  INFO(gets << " reads for the bases of " << kChunks << " chunks");
  CHECK(gets < kChunks / 10);  // one per base was kChunks
  auto stats = store->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->max_delta_depth == 1);  // the bases were read and used

  std::vector<uint8_t> back(second.size());
  REQUIRE(store->LoadEntry("run@2", "w", back.data(), back.size()).ok());
  CHECK(back == second);
}
