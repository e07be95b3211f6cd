// Damaged objects in the bucket of a real Ceph RGW, as corruption_test.cc
// damages files: a pack with a flipped byte is found by verify and named by
// the load that reads it; a deleted pack is reported with every checkpoint
// it breaks; a garbled, truncated, misplaced or missing index-log record
// stops a host's catch-up with kCorruption naming the record, instead of
// being skipped, the host catches up once the record is whole again, and
// verify on a host that applied the record before the damage reports it.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "ckpt/s3.h"
#include "s3/s3_env.h"
#include "store/store_fixture.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::DType;
using ckpt::SaveRequest;
using ckpt::StoreOptions;
using ckpt::test::StepState;

namespace {

struct Bucket {
  std::string url;
  std::shared_ptr<ckpt::Backend> backend;  // the store's objects, as any S3 client sees them

  explicit Bucket(const std::string& what) {
    ckpt::S3Options options = ckpt::test::FreshS3Options(what);
    url = "s3://" + options.bucket + "/" + options.prefix;
    auto backend_or = ckpt::NewS3Backend(options);
    REQUIRE(backend_or.ok());
    backend = *backend_or;
  }

  std::vector<std::string> List(const std::string& prefix) const {
    auto names = backend->List(prefix);
    REQUIRE(names.ok());
    return *names;
  }

  std::string Read(const std::string& name) const {
    auto size = backend->Size(name);
    REQUIRE(size.ok());
    std::string bytes(*size, '\0');
    REQUIRE(backend->Get(name, 0, bytes.size(), bytes.data()).ok());
    return bytes;
  }

  void Write(const std::string& name, const std::string& bytes) const {
    REQUIRE(backend->Put(name, bytes.data(), bytes.size()).ok());
  }
};

// One host: a store opened with an index cache of its own.
std::unique_ptr<ckpt::Store> OpenHost(const std::string& url, const std::string& cache) {
  StoreOptions options;
  options.cache_dir = cache;
  return ckpt::test::MustOpen(url, options);
}

ckpt::Status OpenStatus(const std::string& url, const std::string& cache) {
  StoreOptions options;
  options.cache_dir = cache;
  return ckpt::Store::Open(options, url).status();
}

std::string FlipByte(std::string bytes, size_t offset) {
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x40);
  return bytes;
}

}  // namespace

TEST_CASE("a flipped byte in a pack object is found and named", "[s3][corruption]") {
  Bucket bucket("flip");
  ckpt::test::TempDir dir;
  auto a = ckpt::test::RandomBytes(256 * 1024, 1);  // incompressible: stored raw
  auto b = ckpt::test::RandomBytes(256 * 1024, 2);
  std::string first_pack;
  {
    auto writer = OpenHost(bucket.url, dir.Sub("writer"));
    SaveRequest first;
    first.run = "run";
    first.step = 1;
    first.tensors.push_back({"alpha", DType::kU8, {256 * 1024}, a.data(), a.size()});
    REQUIRE(writer->Save(first).ok());
    auto packs = bucket.List("packs/");
    REQUIRE(packs.size() == 1);
    first_pack = packs[0];
    SaveRequest second = first;
    second.step = 2;
    second.tensors[0] = {"beta", DType::kU8, {256 * 1024}, b.data(), b.size()};
    REQUIRE(writer->Save(second).ok());
  }
  bucket.Write(first_pack, FlipByte(bucket.Read(first_pack), 1000));  // in alpha's first chunk

  auto reader = OpenHost(bucket.url, dir.Sub("reader"));  // another host
  auto metadata_only = reader->Verify({});
  REQUIRE(metadata_only.ok());
  CHECK(metadata_only->ok());  // the object's size still agrees with the index

  auto report = reader->Verify(ckpt::test::ReadAllData());
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  const auto& problem = report->problems[0];
  CHECK(problem.status.code() == Code::kCorruption);
  CHECK(problem.checkpoints == std::vector<std::string>{"run@1"});
  CHECK(problem.tensors == std::vector<std::string>{"run@1:alpha"});
  CHECK_THAT(problem.status.message(),
             Catch::Contains("hash mismatch") && Catch::Contains("run@1:alpha"));

  std::vector<uint8_t> out(a.size());
  ckpt::Status load = reader->LoadEntry("run@1", "alpha", out.data(), out.size());
  CHECK(load.code() == Code::kCorruption);
  CHECK_THAT(load.message(),
             Catch::Contains("run@1") && Catch::Contains("alpha") && Catch::Contains("pack"));
  auto whole = reader->Load("run@1");
  CHECK(whole.status().code() == Code::kCorruption);
  auto other = reader->Load("run@2");
  REQUIRE(other.ok());
  CHECK(other->tensors[0].data == b);
}

TEST_CASE("a deleted pack object is reported with every checkpoint it breaks", "[s3][corruption]") {
  Bucket bucket("lostpack");
  ckpt::test::TempDir dir;
  const StepState s0(0), s1(1), unrelated(5, 99);
  std::vector<std::string> shared_packs;
  {
    auto writer = OpenHost(bucket.url, dir.Sub("writer"));
    REQUIRE(writer->Save(s0.Request("run", 0)).ok());
    shared_packs = bucket.List("packs/");
    REQUIRE(writer->Save(s1.Request("run", 1)).ok());  // shares most of step 0's chunks
    REQUIRE(writer->Save(unrelated.Request("other", 5)).ok());
  }
  // Step 0's packs hold the chunks that step 1 shares with it.
  for (const auto& pack : shared_packs) REQUIRE(bucket.backend->Remove(pack).ok());

  auto reader = OpenHost(bucket.url, dir.Sub("reader"));
  auto report = reader->Verify({});
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == shared_packs.size());
  for (const auto& problem : report->problems) {
    INFO(problem.status.ToString());
    CHECK(problem.status.code() == Code::kNotFound);
    CHECK_THAT(problem.status.message(), Catch::Contains("pack"));
    CHECK(problem.checkpoints == std::vector<std::string>{"run@0", "run@1"});
  }
  auto broken = reader->Load("run@1");
  CHECK_FALSE(broken.ok());
  CHECK_THAT(broken.status().message(), Catch::Contains("run@1"));
  auto intact = reader->Load("other@5");
  REQUIRE(intact.ok());
  CHECK(unrelated.Matches(*intact));
}

TEST_CASE("a damaged index-log record stops catch-up with kCorruption, never skipped",
          "[s3][corruption]") {
  Bucket bucket("badlog");
  ckpt::test::TempDir dir;
  auto writer = OpenHost(bucket.url, dir.Sub("writer"));
  REQUIRE(writer->Save(StepState(1).Request("run", 1)).ok());
  REQUIRE(writer->Save(StepState(2).Request("run", 2)).ok());
  auto behind = OpenHost(bucket.url, dir.Sub("behind"));  // caught up to here
  REQUIRE(behind->ListCheckpoints("run")->size() == 2);
  REQUIRE(writer->Save(StepState(3).Request("run", 3)).ok());

  const std::vector<std::string> log = bucket.List("log/");
  REQUIRE(log.size() >= 3);
  const std::string victim = log.back();  // step 3's commit, which `behind` has not applied
  const std::string original = bucket.Read(victim);
  std::string damaged;
  std::string why;
  SECTION("truncated") {
    damaged = original.substr(0, original.size() / 2);
    why = "checksum mismatch";
  }
  SECTION("a byte flipped") {
    damaged = FlipByte(original, original.size() / 2);
    why = "checksum mismatch";
  }
  SECTION("shorter than any record") {
    damaged = original.substr(0, 10);
    why = "too short";
  }
  SECTION("another record's bytes") {
    damaged = bucket.Read(log[log.size() - 2]);
    why = "holds record";
  }
  bucket.Write(victim, damaged);

  auto check_refused = [&](const ckpt::Status& s) {
    INFO(s.ToString());
    CHECK(s.code() == Code::kCorruption);
    CHECK_THAT(s.message(),
               Catch::Contains(victim) && Catch::Contains(why) && Catch::Contains("catch up"));
  };
  check_refused(behind->ListCheckpoints("run").status());
  check_refused(behind->Load("run@1").status());  // no read goes past it either
  check_refused(behind->Save(StepState(4).Request("run", 4)).status());
  check_refused(OpenStatus(bucket.url, dir.Sub("new-host")));
  // Asking again does not step over it.
  check_refused(behind->ListCheckpoints("run").status());
  // The writer applied the record before it was damaged and goes on; its
  // verify still finds what every new host would stop at.
  CHECK(writer->ListCheckpoints("run")->size() == 3);
  auto quick = writer->Verify({});
  REQUIRE(quick.ok());
  CHECK(quick->ok());  // the records are not read: the log has no gap
  auto report = writer->Verify(ckpt::test::ReadAllData());
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].status.code() == Code::kCorruption);
  CHECK_THAT(report->problems[0].status.message(), Catch::Contains(victim) && Catch::Contains(why));

  bucket.Write(victim, original);  // repaired, e.g. from a bucket replica
  auto listed = behind->ListCheckpoints("run");
  REQUIRE(listed.ok());
  CHECK(listed->size() == 3);
  CHECK(behind->Verify(ckpt::test::ReadAllData())->ok());
  auto loaded = OpenHost(bucket.url, dir.Sub("new-host"))->Load("run@3");
  REQUIRE(loaded.ok());
  CHECK(StepState(3).Matches(*loaded));
}

TEST_CASE("a missing index-log record is a gap a new host refuses", "[s3][corruption]") {
  Bucket bucket("loggap");
  ckpt::test::TempDir dir;
  auto writer = OpenHost(bucket.url, dir.Sub("writer"));
  for (uint64_t step = 1; step <= 3; ++step)
    REQUIRE(writer->Save(StepState(step).Request("run", step)).ok());
  const std::vector<std::string> log = bucket.List("log/");
  REQUIRE(log.size() >= 3);
  const std::string victim = log[log.size() - 2];
  const std::string original = bucket.Read(victim);
  REQUIRE(bucket.backend->Remove(victim).ok());

  ckpt::Status s = OpenStatus(bucket.url, dir.Sub("new-host"));
  INFO(s.ToString());
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("jumps from record"));
  // The writer applied every record before the gap appeared: it goes on,
  // and its verify, a LIST of the log, finds the gap.
  CHECK(writer->ListCheckpoints("run")->size() == 3);
  auto report = writer->Verify({});
  REQUIRE(report.ok());
  REQUIRE(report->problems.size() == 1);
  CHECK(report->problems[0].status.code() == Code::kCorruption);
  CHECK_THAT(report->problems[0].status.message(),
             Catch::Contains(log.back()) && Catch::Contains("jumps from record"));

  bucket.Write(victim, original);
  auto host = OpenHost(bucket.url, dir.Sub("new-host"));
  CHECK(host->ListCheckpoints("run")->size() == 3);
}
