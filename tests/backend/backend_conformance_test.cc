// Runs the Backend conformance suite against every backend we have, and
// checks that FaultInjectingBackend injects exactly the faults it is told to.
#include <algorithm>
#include <atomic>
#include <boost/filesystem.hpp>
#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "backend/conformance.h"
#include "backend/local_backend.h"
#include "doubles/fault_injecting_backend.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::internal::FaultInjectingBackend;
using ckpt::internal::FaultKind;

TEST_CASE("local backend passes the conformance suite", "[unit][backend][threads]") {
  ckpt::test::RunBackendConformance(
      [](const std::string& dir) { return ckpt::NewLocalBackend(dir); });
}

TEST_CASE("fault backend with no faults passes the conformance suite", "[unit][backend][threads]") {
  ckpt::test::RunBackendConformance([](const std::string& dir) {
    return std::make_shared<FaultInjectingBackend>(ckpt::NewLocalBackend(dir));
  });
}

namespace {

// A local backend holding one object and what two crashed Puts left: a
// 7-byte temp file beside the object and a 4-byte one in the root.
std::shared_ptr<ckpt::Backend> LocalBackendWithLeftovers(const ckpt::test::TempDir& dir) {
  auto backend = ckpt::NewLocalBackend(dir.path());
  REQUIRE(backend->Put("packs/ab/ab01", "x", 1).ok());
  ckpt::test::WriteFileBytes(dir.Sub("packs/ab/.tmp-0123456789abcdef"), "partial", 7);
  ckpt::test::WriteFileBytes(dir.Sub(".tmp-fedcba9876543210"), "part", 4);
  return backend;
}

}  // namespace

TEST_CASE("local backend ignores temp files left by a crashed put", "[unit][backend]") {
  ckpt::test::TempDir dir;
  auto backend = LocalBackendWithLeftovers(dir);
  auto names = backend->List("");
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"packs/ab/ab01"});
}

TEST_CASE("local backend removes temp files older than the cutoff only", "[unit][backend]") {
  ckpt::test::TempDir dir;
  auto backend = LocalBackendWithLeftovers(dir);
  auto none = backend->RemoveAbandonedWrites("", 0);  // written after 1970: none is older
  REQUIRE(none.ok());
  CHECK(none->objects == 0);
  auto packs_only = backend->RemoveAbandonedWrites("packs/", std::numeric_limits<int64_t>::max());
  REQUIRE(packs_only.ok());
  CHECK(packs_only->objects == 1);
  CHECK(packs_only->bytes == 7);
  auto rest = backend->RemoveAbandonedWrites("", std::numeric_limits<int64_t>::max());
  REQUIRE(rest.ok());
  CHECK(rest->objects == 1);
  CHECK(rest->bytes == 4);
  CHECK(*backend->List("") == std::vector<std::string>{"packs/ab/ab01"});
}

// BUG: LocalBackend::Remove unlinks (ENOENT ignored), then fsyncs the parent
// directory; when that directory does not exist the fsync's open fails with
// ENOENT and Remove returns kNotFound, against "deleting a missing object is OK".
TEST_CASE("listing and cleanup walks skip files that vanish under them", "[unit][backend]") {
  // RocksDB creates and deletes table files in the index directory while
  // gc walks the store for partial writes; the walk once reported a
  // vanished file's ENOENT as an error at the end of the directory.
  ckpt::test::TempDir dir;
  auto backend = ckpt::NewLocalBackend(dir.path());
  REQUIRE(backend->Put("d/kept", "x", 1).ok());
  constexpr int kNames = 64;
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    for (int round = 0; !stop; ++round) {
      const std::string path = dir.Sub("d/f" + std::to_string(round % kNames));
      ckpt::test::WriteFileBytes(path, "x", 1);
      boost::filesystem::remove(path);
    }
  });
  for (int walk = 0; walk < 2000; ++walk) {
    auto listed = backend->List("d/");
    auto cleaned = backend->RemoveAbandonedWrites("", 0);
    if (!listed.ok() || !cleaned.ok()) stop = true;
    REQUIRE(listed.ok());
    REQUIRE(cleaned.ok());
    CHECK(std::count(listed->begin(), listed->end(), "d/kept") == 1);
  }
  stop = true;
  churn.join();
}

TEST_CASE("local put many that fails leaves no temporary file behind", "[unit][backend]") {
  ckpt::test::TempDir dir;
  auto backend = ckpt::NewLocalBackend(dir.path());
  // A file where a directory should be: that object cannot be written.
  REQUIRE(backend->Put("refs/tags", "x", 1).ok());
  ckpt::Status s = backend->PutMany({{"refs/deleted/ab", "ab"}, {"refs/tags/best", "cd"}});
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("refs/tags") != std::string::npos);
  size_t temps = 0;
  for (auto& e : boost::filesystem::recursive_directory_iterator(dir.path()))
    temps += e.path().filename().string().rfind(".tmp-", 0) == 0;
  CHECK(temps == 0);
  // The object that was stored before is unchanged.
  auto tag = backend->GetWhole("refs/tags");
  REQUIRE(tag.ok());
  CHECK(*tag == "x");
}

TEST_CASE("removing an object in a directory that does not exist is OK", "[unit][backend]") {
  ckpt::test::TempDir dir;
  auto backend = ckpt::NewLocalBackend(dir.path());
  ckpt::Status s = backend->Remove("packs/zz/zz00");
  INFO(s.ToString());
  CHECK(s.ok());
}

TEST_CASE("FailPutAt fails exactly the n-th put with the chosen fault", "[unit][backend][fault]") {
  struct Case {
    FaultKind kind;
    Code code;
    const char* logged;
  };
  const Case c = GENERATE(Case{FaultKind::kIOError, Code::kIOError, "EIO"},
                          Case{FaultKind::kNoSpace, Code::kNoSpace, "ENOSPC"},
                          Case{FaultKind::kTornWrite, Code::kIOError, "torn write"},
                          Case{FaultKind::kFsyncFail, Code::kIOError, "fsync failure"});
  ckpt::test::TempDir dir;
  auto base = ckpt::NewLocalBackend(dir.path());
  FaultInjectingBackend faulty(base);
  const std::string data(1001, 'd');

  REQUIRE(faulty.Put("obj1", data.data(), data.size()).ok());
  faulty.FailPutAt(2, c.kind);  // counts from now: the 3rd put overall
  CHECK(faulty.Put("obj2", data.data(), data.size()).ok());
  ckpt::Status s = faulty.Put("obj3", data.data(), data.size());
  CHECK(s.code() == c.code);
  CHECK_THAT(s.message(), Catch::Contains("obj3"));
  CHECK(faulty.Put("obj4", data.data(), data.size()).ok());
  CHECK(faulty.puts() == 4);

  const std::vector<std::string> log = faulty.Log();
  REQUIRE(log.size() == 1);
  CHECK_THAT(log[0],
             Catch::Contains("put #3") && Catch::Contains("obj3") && Catch::Contains(c.logged));

  // What the failed put left behind depends on the fault.
  auto size = base->Size("obj3");
  switch (c.kind) {
    case FaultKind::kIOError:
    case FaultKind::kNoSpace:
      CHECK(size.status().code() == Code::kNotFound);
      break;
    case FaultKind::kTornWrite:
      REQUIRE(size.ok());
      CHECK(*size == data.size() / 2);
      break;
    case FaultKind::kFsyncFail:
      REQUIRE(size.ok());
      CHECK(*size == data.size());
      break;
  }
}

TEST_CASE("a torn write leaves the first half of the object", "[unit][backend][fault]") {
  ckpt::test::TempDir dir;
  auto base = ckpt::NewLocalBackend(dir.path());
  FaultInjectingBackend faulty(base);
  const std::vector<uint8_t> data = ckpt::test::RandomBytes(4096, 3);
  faulty.FailPutAt(1, FaultKind::kTornWrite);
  CHECK(faulty.Put("packs/ab/ab", data.data(), data.size()).code() == Code::kIOError);

  auto size = faulty.Size("packs/ab/ab");
  REQUIRE(size.ok());
  REQUIRE(*size == 2048);
  std::vector<uint8_t> back(2048);
  REQUIRE(faulty.Get("packs/ab/ab", 0, back.size(), back.data()).ok());
  CHECK(std::equal(back.begin(), back.end(), data.begin()));
  // Reading the full length the writer meant is corruption, not garbage.
  std::vector<uint8_t> full(data.size());
  CHECK(faulty.Get("packs/ab/ab", 0, full.size(), full.data()).code() == Code::kCorruption);
}

TEST_CASE("FailGetAt fails exactly the n-th get", "[unit][backend][fault]") {
  ckpt::test::TempDir dir;
  FaultInjectingBackend faulty(ckpt::NewLocalBackend(dir.path()));
  REQUIRE(faulty.Put("obj", "abc", 3).ok());
  char buf[3];
  faulty.FailGetAt(2);
  CHECK(faulty.Get("obj", 0, 3, buf).ok());
  CHECK(faulty.Get("obj", 0, 3, buf).code() == Code::kIOError);
  CHECK(faulty.Get("obj", 0, 3, buf).ok());
  REQUIRE(faulty.Log().size() == 1);
  CHECK_THAT(faulty.Log()[0], Catch::Contains("get #2"));
}

TEST_CASE("random put faults replay from their seed and stop on Clear", "[unit][backend][fault]") {
  ckpt::test::TempDir dir;
  auto run = [&](uint64_t seed) {
    FaultInjectingBackend faulty(ckpt::NewLocalBackend(dir.path()));
    faulty.FailPutsRandomly(seed, 3, FaultKind::kIOError);
    std::vector<bool> failed;
    for (int i = 0; i < 30; ++i) failed.push_back(!faulty.Put("o", "x", 1).ok());
    CHECK(faulty.Log().size() ==
          static_cast<size_t>(std::count(failed.begin(), failed.end(), true)));
    if (!faulty.Log().empty())
      CHECK_THAT(faulty.Log()[0], Catch::Contains("seed " + std::to_string(seed)));
    faulty.Clear();
    for (int i = 0; i < 10; ++i) CHECK(faulty.Put("o", "x", 1).ok());
    return failed;
  };
  const std::vector<bool> first = run(42);
  CHECK(run(42) == first);
  CHECK(std::count(first.begin(), first.end(), true) > 0);
  CHECK(std::count(first.begin(), first.end(), false) > 0);
}
