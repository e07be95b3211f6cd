// The S3 backend against a real Ceph RGW: the Backend conformance suite,
// then what only an object store has (multipart uploads, batched deletes,
// abandoned uploads, the server's own checks).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "backend/conformance.h"
#include "backend/s3_client.h"
#include "ckpt/s3.h"
#include "s3/s3_env.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::S3Options;
using ckpt::Status;

namespace {

std::shared_ptr<ckpt::Backend> MustBackend(const S3Options& options) {
  auto backend = ckpt::NewS3Backend(options);
  REQUIRE(backend.ok());
  return *backend;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("S3 backend passes the conformance suite on RGW", "[s3][backend][threads]") {
  ckpt::test::RunBackendConformance(
      [](const std::string&) { return MustBackend(ckpt::test::FreshS3Options("conformance")); });
}

TEST_CASE("S3 backend counts its requests by kind", "[s3][backend]") {
  S3Options options = ckpt::test::FreshS3Options("counts");
  options.multipart_threshold = 5 << 20;
  options.part_size = 5 << 20;
  auto b = MustBackend(options);
  const std::vector<uint8_t> small = ckpt::test::RandomBytes(1000, 1);
  const std::vector<uint8_t> big = ckpt::test::RandomBytes((11 << 20), 2);
  REQUIRE(b->Put("refs/a", small.data(), small.size()).ok());
  REQUIRE(b->Create("log/1", small.data(), small.size()).ok());
  CHECK(b->Create("log/1", small.data(), small.size()).code() == Code::kAlreadyExists);
  REQUIRE(b->Put("packs/ab/big", big.data(), big.size()).ok());  // start, 3 parts, complete
  std::vector<uint8_t> back(10);
  REQUIRE(b->Get("refs/a", 5, back.size(), back.data()).ok());
  REQUIRE(b->Size("refs/a").ok());
  REQUIRE(b->GetWhole("refs/a").ok());  // one GET, no HEAD
  REQUIRE(b->List("").ok());
  REQUIRE(b->Remove("refs/a").ok());
  REQUIRE(b->RemoveMany({"log/1", "packs/ab/big"}).ok());

  auto counts = ckpt::S3RequestCountsOf(*b);
  REQUIRE(counts.ok());
  CHECK(counts->put == 1);
  CHECK(counts->create == 2);
  CHECK(counts->part == 3);
  CHECK(counts->multipart == 2);
  CHECK(counts->get == 2);
  CHECK(counts->head == 1);
  CHECK(counts->list == 1);
  CHECK(counts->remove == 2);
  CHECK(counts->retries == 0);
  CHECK(counts->Total() == 14);

  ckpt::test::TempDir dir;
  auto local = ckpt::NewLocalBackend(dir.path());
  CHECK(ckpt::S3RequestCountsOf(*local).status().code() == Code::kInvalidArgument);
}

TEST_CASE("S3 backend uploads large objects in parts", "[s3][backend]") {
  S3Options options = ckpt::test::FreshS3Options("multipart");
  options.multipart_threshold = 5 << 20;
  options.part_size = 5 << 20;
  auto b = MustBackend(options);
  const std::vector<uint8_t> data = ckpt::test::RandomBytes((12 << 20) + 321, 7);
  REQUIRE(b->Put("packs/ab/big", data.data(), data.size()).ok());
  CHECK(*b->Size("packs/ab/big") == data.size());
  std::vector<uint8_t> back(data.size());
  REQUIRE(b->Get("packs/ab/big", 0, back.size(), back.data()).ok());
  CHECK(back == data);

  SECTION("create of an object above the multipart threshold is still atomic") {
    REQUIRE(b->Create("packs/ab/big2", data.data(), data.size()).ok());
    CHECK(b->Create("packs/ab/big2", data.data(), data.size() - 1).code() == Code::kAlreadyExists);
    CHECK(*b->Size("packs/ab/big2") == data.size());
  }
  SECTION("no upload is left behind") {
    auto removed = b->RemoveAbandonedWrites("", std::numeric_limits<int64_t>::max());
    REQUIRE(removed.ok());
    CHECK(removed->objects == 0);
  }
}

TEST_CASE("S3 backend deletes in batches of at most 1000", "[s3][backend]") {
  auto b = MustBackend(ckpt::test::FreshS3Options("batch"));
  std::vector<std::string> names;
  for (int i = 0; i < 1005; ++i)
    names.push_back("packs/0" + std::to_string(i % 7) + "/o" + std::to_string(i));
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < names.size(); i += 8) failed += !b->Put(names[i], "x", 1).ok();
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(failed == 0);
  REQUIRE(b->List("packs/")->size() == names.size());
  names.push_back("packs/never/existed");
  REQUIRE(b->RemoveMany(names).ok());
  CHECK(b->List("")->empty());
}

TEST_CASE("S3 backend reports when objects were written", "[s3][backend]") {
  auto b = MustBackend(ckpt::test::FreshS3Options("mtime"));
  const int64_t before = NowNs();
  REQUIRE(b->Put("refs/tags/t", "x", 1).ok());
  auto written = b->ModifiedTimeNs("refs/tags/t");
  REQUIRE(written.ok());
  // Seconds resolution, and the server's clock: within a minute of ours.
  CHECK(std::llabs(*written - before) < int64_t{60} * 1000000000);
  CHECK(b->ModifiedTimeNs("refs/tags/none").status().code() == Code::kNotFound);
}

TEST_CASE("S3 backend removes uploads a crash abandoned, and only old ones", "[s3][backend]") {
  S3Options options = ckpt::test::FreshS3Options("abandoned");
  auto b = MustBackend(options);
  // A multipart upload started and never completed, as a killed writer
  // leaves it, with one 5 MiB part.
  ckpt::internal::S3Client client(options);
  ckpt::internal::S3Request start;
  start.method = "POST";
  start.key = options.prefix + "/packs/cd/cut";
  start.query = {{"uploads", ""}};
  auto started = client.Send(start);
  REQUIRE(started.ok());
  REQUIRE(started->status == 200);
  const std::string id_open = "<UploadId>";
  const size_t at = started->body.find(id_open);
  REQUIRE(at != std::string::npos);
  const std::string upload_id = started->body.substr(
      at + id_open.size(), started->body.find('<', at + 1) - at - id_open.size());
  const std::vector<uint8_t> part = ckpt::test::RandomBytes(5 << 20, 3);
  ckpt::internal::S3Request put;
  put.method = "PUT";
  put.key = start.key;
  put.query = {{"partNumber", "1"}, {"uploadId", upload_id}};
  put.body = part.data();
  put.body_size = part.size();
  auto uploaded = client.Send(put);
  REQUIRE(uploaded.ok());
  REQUIRE(uploaded->status == 200);

  auto young = b->RemoveAbandonedWrites("", NowNs() - int64_t{3600} * 1000000000);
  REQUIRE(young.ok());
  CHECK(young->objects == 0);
  auto other_prefix = b->RemoveAbandonedWrites("refs/", std::numeric_limits<int64_t>::max());
  REQUIRE(other_prefix.ok());
  CHECK(other_prefix->objects == 0);
  auto removed = b->RemoveAbandonedWrites("packs/", std::numeric_limits<int64_t>::max());
  REQUIRE(removed.ok());
  CHECK(removed->objects == 1);
  CHECK(removed->bytes == part.size());
  CHECK(b->List("")->empty());
  auto again = b->RemoveAbandonedWrites("", std::numeric_limits<int64_t>::max());
  REQUIRE(again.ok());
  CHECK(again->objects == 0);
}

TEST_CASE("S3 backend errors name the object and what the server said", "[s3][backend]") {
  SECTION("wrong secret") {
    S3Options options = ckpt::test::FreshS3Options("badkey");
    options.secret_access_key += "x";
    auto b = MustBackend(options);
    Status s = b->Put("config", "x", 1);
    CHECK(s.code() == Code::kIOError);
    CHECK_THAT(s.message(), Catch::Contains("config") && Catch::Contains("403") &&
                                Catch::Contains("SignatureDoesNotMatch"));
  }
  SECTION("missing bucket") {
    S3Options options = ckpt::test::FreshS3Options("nobucket");
    options.bucket = "ckpt-no-such-bucket";
    auto b = MustBackend(options);
    auto listed = b->List("");
    CHECK(listed.status().code() == Code::kNotFound);
    CHECK_THAT(listed.status().message(),
               Catch::Contains("ckpt-no-such-bucket") && Catch::Contains("NoSuchBucket"));
  }
  SECTION("nothing listening: retried, then a clear error") {
    S3Options options = ckpt::test::FreshS3Options("refused");
    options.endpoint = "http://127.0.0.1:9";  // the discard port: nothing there
    options.max_attempts = 3;
    options.retry_base_ms = 1;
    auto b = MustBackend(options);
    Status s = b->Put("config", "x", 1);
    CHECK(s.code() == Code::kIOError);
    CHECK_THAT(s.message(), Catch::Contains("config") && Catch::Contains("3 tries"));
  }
  SECTION("bad options are refused up front") {
    S3Options options = ckpt::test::FreshS3Options("options");
    options.part_size = 1 << 20;
    CHECK(ckpt::NewS3Backend(options).status().code() == Code::kInvalidArgument);
    options = ckpt::test::FreshS3Options("options");
    options.endpoint = "ftp://x";
    CHECK(ckpt::NewS3Backend(options).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("store URLs parse into S3 options", "[unit][backend]") {
  ::setenv("AWS_ACCESS_KEY_ID", "AK", 0);
  ::setenv("AWS_SECRET_ACCESS_KEY", "SK", 0);
  auto options = ckpt::S3OptionsFromUrl("s3://my-bucket/runs/llm/");
  REQUIRE(options.ok());
  CHECK(options->bucket == "my-bucket");
  CHECK(options->prefix == "runs/llm");
  auto bare = ckpt::S3OptionsFromUrl("s3://my-bucket");
  REQUIRE(bare.ok());
  CHECK(bare->prefix.empty());
  CHECK(ckpt::IsS3Url("s3://b/x"));
  CHECK_FALSE(ckpt::IsS3Url("/data/s3://x"));
  for (const char* bad :
       {"s3://", "s3://ab", "s3://Upper/x", "s3://b_c/x", "s3://bucket//x", "file:///x"}) {
    INFO(bad);
    CHECK(ckpt::S3OptionsFromUrl(bad).status().code() == Code::kInvalidArgument);
  }
}
