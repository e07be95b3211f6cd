// Snapshots of the index in a bucket: gc writes them once the log has grown
// enough, a host without a cache starts from the newest and replays only
// the records after it, older ones go, and a damaged one is passed over
// (and reported by verify) without losing anything.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ckpt/s3.h"
#include "repo/index_log.h"
#include "s3/s3_env.h"
#include "store/store_fixture.h"
#include "test_util.h"

using ckpt::StoreOptions;
using ckpt::test::BucketOf;
using ckpt::test::FreshStoreUrl;

namespace {

std::vector<std::string> Names(ckpt::Backend& bucket, const std::string& prefix) {
  auto names = bucket.List(prefix);
  REQUIRE(names.ok());
  return *names;
}

ckpt::GcReport MustGc(ckpt::Store& store, uint64_t snapshot_every) {
  ckpt::GcOptions options;
  options.log_snapshot_records = snapshot_every;
  auto report = store.Gc(options);
  INFO(report.status().ToString());
  REQUIRE(report.ok());
  return *report;
}

// A host with a new cache and a backend of its own, whose requests count.
struct NewHost {
  NewHost(const std::string& url, const std::string& cache) {
    auto s3 = ckpt::S3OptionsFromUrl(url);
    REQUIRE(s3.ok());
    auto made = ckpt::NewS3Backend(*s3);
    REQUIRE(made.ok());
    backend = *made;
    StoreOptions options;
    options.cache_dir = cache;
    options.backend = backend;
    store = ckpt::test::MustOpen(url, options);
  }
  uint64_t Gets() const {
    auto counts = ckpt::S3RequestCountsOf(*backend);
    REQUIRE(counts.ok());
    return counts->get;
  }
  std::shared_ptr<ckpt::Backend> backend;
  std::unique_ptr<ckpt::Store> store;
};

size_t Listed(ckpt::Store& store) {
  auto listed = store.ListCheckpoints("r");
  REQUIRE(listed.ok());
  return listed->size();
}

void CheckSees(ckpt::Store& store, int steps) {
  CHECK(Listed(store) == static_cast<size_t>(steps));
  for (int step : {1, steps / 2, steps}) {
    auto loaded = store.Load("r@" + std::to_string(step));
    INFO("r@" << step << ": " << loaded.status().ToString());
    REQUIRE(loaded.ok());
    CHECK(ckpt::test::StepState(static_cast<uint64_t>(step)).Matches(*loaded));
  }
  auto tagged = store.Load("best");
  CHECK(tagged.ok());
}

}  // namespace

TEST_CASE("a new host starts from the newest index snapshot and replays only what follows",
          "[s3][store][log]") {
  const std::string url = FreshStoreUrl("logsnap");
  ckpt::test::TempDir dir;
  auto bucket = BucketOf(url);
  StoreOptions options;
  options.cache_dir = dir.Sub("writer");
  auto writer = ckpt::test::MustOpen(url, options);
  for (uint64_t step = 1; step <= 24; ++step)
    REQUIRE(writer->Save(ckpt::test::StepState(step).Request("r", step)).ok());
  REQUIRE(writer->Tag("r@6", "best").ok());
  // Below the threshold: no snapshot.
  CHECK(MustGc(*writer, 1000).log_snapshot == 0);
  CHECK(Names(*bucket, "logsnap/").empty());
  const ckpt::GcReport first = MustGc(*writer, 5);
  REQUIRE(first.log_snapshot > 0);
  CHECK(Names(*bucket, "logsnap/") ==
        std::vector<std::string>{ckpt::internal::LogSnapshotName(first.log_snapshot)});
  for (uint64_t step = 25; step <= 27; ++step)
    REQUIRE(writer->Save(ckpt::test::StepState(step).Request("r", step)).ok());
  const size_t records = Names(*bucket, "log/").size();

  NewHost fresh(url, dir.Sub("fresh"));
  // Opening and listing read the config, the snapshot and the three
  // records after it, not the whole log.
  CHECK(Listed(*fresh.store) == 27);
  CHECK(fresh.Gets() <= 1 + 1 + 3);
  CHECK(records > 27);
  CheckSees(*fresh.store, 27);
  auto verify = fresh.store->Verify(ckpt::test::ReadAllData());
  REQUIRE(verify.ok());
  for (const auto& p : verify->problems) FAIL_CHECK(p.status.ToString());

  SECTION("older snapshots go; the one before the newest stays") {
    for (uint64_t step = 28; step <= 29; ++step)
      REQUIRE(writer->Save(ckpt::test::StepState(step).Request("r", step)).ok());
    const uint64_t second = MustGc(*writer, 1).log_snapshot;
    REQUIRE(second > first.log_snapshot);
    REQUIRE(writer->Save(ckpt::test::StepState(30).Request("r", 30)).ok());
    const uint64_t third = MustGc(*writer, 1).log_snapshot;
    REQUIRE(third > second);
    CHECK(Names(*bucket, "logsnap/") ==
          std::vector<std::string>{ckpt::internal::LogSnapshotName(second),
                                   ckpt::internal::LogSnapshotName(third)});
    NewHost later(url, dir.Sub("later"));
    CheckSees(*later.store, 30);
  }

  SECTION("repair replays the whole log, not a snapshot, which is another host's copy") {
    // A snapshot that reads back whole but says less than the log: the
    // first one's entries, claimed as of the last record.
    auto bytes = bucket->GetWhole(ckpt::internal::LogSnapshotName(first.log_snapshot));
    REQUIRE(bytes.ok());
    ckpt::internal::IndexBatch entries;
    REQUIRE(ckpt::internal::DecodeLogRecord(*bytes, first.log_snapshot, "snapshot", &entries).ok());
    const uint64_t last = static_cast<uint64_t>(records);
    auto forged = ckpt::internal::EncodeLogRecord(last, entries);
    REQUIRE(forged.ok());
    const std::string name = ckpt::internal::LogSnapshotName(last);
    REQUIRE(bucket->Put(name, forged->data(), forged->size()).ok());
    NewHost misled(url, dir.Sub("misled"));
    CHECK(Listed(*misled.store) == 24);  // a new cache trusts the newest snapshot
    misled.store.reset();
    StoreOptions repair;
    repair.cache_dir = dir.Sub("misled");
    auto report = ckpt::Store::Repair(repair, url);
    INFO(report.status().ToString());
    REQUIRE(report.ok());
    CHECK(report->checkpoints_restored == 27);
    CheckSees(*ckpt::test::MustOpen(url, repair), 27);
  }

  SECTION("a snapshot past the log's end is passed over") {
    auto bytes = bucket->GetWhole(ckpt::internal::LogSnapshotName(first.log_snapshot));
    REQUIRE(bytes.ok());
    ckpt::internal::IndexBatch entries;
    REQUIRE(ckpt::internal::DecodeLogRecord(*bytes, first.log_snapshot, "snapshot", &entries).ok());
    const uint64_t beyond = static_cast<uint64_t>(records) + 5;
    auto forged = ckpt::internal::EncodeLogRecord(beyond, entries);
    REQUIRE(forged.ok());
    const std::string name = ckpt::internal::LogSnapshotName(beyond);
    REQUIRE(bucket->Put(name, forged->data(), forged->size()).ok());
    NewHost other(url, dir.Sub("past"));
    CHECK(Listed(*other.store) == 27);
    // Its next commit follows the log's last record, leaving no gap.
    REQUIRE(other.store->Save(ckpt::test::StepState(28).Request("r", 28)).ok());
    CHECK(Names(*bucket, "log/").size() == records + 1);
    CHECK(Names(*bucket, "log/").back() ==
          ckpt::internal::LogObjectName(static_cast<uint64_t>(records) + 1));
    auto report = other.store->Verify(ckpt::test::ReadAllData());
    REQUIRE(report.ok());
    REQUIRE(report->problems.size() == 1);
    CHECK_THAT(report->problems[0].status.message(), Catch::Contains(name));
  }

  SECTION("a damaged snapshot is passed over and reported") {
    const std::string name = ckpt::internal::LogSnapshotName(first.log_snapshot);
    auto bytes = bucket->GetWhole(name);
    REQUIRE(bytes.ok());
    std::string damaged = *bytes;
    damaged[damaged.size() / 2] ^= 0x40;
    REQUIRE(bucket->Put(name, damaged.data(), damaged.size()).ok());
    NewHost other(url, dir.Sub("other"));
    CHECK(Listed(*other.store) == 27);  // from the whole log
    CHECK(other.Gets() >= records);
    CheckSees(*other.store, 27);
    auto report = other.store->Verify(ckpt::test::ReadAllData());
    REQUIRE(report.ok());
    REQUIRE(report->problems.size() == 1);
    CHECK_THAT(report->problems[0].status.message(), Catch::Contains(name));
  }
}
