// Faults between the S3 client and a real RGW, injected by a proxy:
// refused connections, 503 answers and cut uploads are retried; a server
// that stops answering gives a clear error after the stall timeout, leaves
// no partial checkpoint visible, and the save succeeds once it answers.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "ckpt/s3.h"
#include "s3/fault_proxy.h"
#include "s3/s3_env.h"
#include "store/store_fixture.h"
#include "test_util.h"

using ckpt::Code;
using ckpt::test::FaultProxy;
using ckpt::test::NetFault;
using ckpt::test::StepState;

namespace {

int ServerPort() {
  const std::string endpoint = std::getenv("AWS_ENDPOINT_URL");
  return std::atoi(endpoint.substr(endpoint.rfind(':') + 1).c_str());
}

// A host whose every request to the bucket passes through `proxy`.
std::unique_ptr<ckpt::Store> OpenThrough(const FaultProxy& proxy, const std::string& url,
                                         const std::string& cache, int max_attempts = 6) {
  auto s3 = ckpt::S3OptionsFromUrl(url);
  REQUIRE(s3.ok());
  s3->endpoint = proxy.endpoint();
  s3->max_attempts = max_attempts;
  s3->retry_base_ms = 10;
  s3->stall_timeout_ms = 1000;
  auto backend = ckpt::NewS3Backend(*s3);
  REQUIRE(backend.ok());
  ckpt::StoreOptions options;
  options.backend = *backend;
  options.cache_dir = cache;
  options.lock_timeout_ms = 5000;
  return ckpt::test::MustOpen(url, options);
}

}  // namespace

TEST_CASE("refused connections, 503s and cut uploads are retried", "[s3][fault]") {
  const std::string s3_prefix = ckpt::test::FreshS3Options("netfault").prefix;
  const std::string url = "s3://" + ckpt::test::S3TestBucket() + "/" + s3_prefix;
  ckpt::test::TempDir dir;
  FaultProxy proxy(ServerPort());
  auto store = OpenThrough(proxy, url, dir.Sub("a"));
  const StepState s1(1), s2(2), s3(3);

  proxy.Inject({NetFault::kRefuse, NetFault::kAnswer503, NetFault::kRefuse});
  REQUIRE(store->Save(s1.Request("run", 1)).ok());
  CHECK(proxy.faults_injected() == 3);

  proxy.set_cut_after_bytes(200 * 1024);  // inside the first pack's body
  proxy.Inject({NetFault::kCutUpload, NetFault::kCutUpload});
  REQUIRE(store->Save(s2.Request("run", 2)).ok());
  CHECK(proxy.faults_injected() == 5);

  proxy.Inject({NetFault::kAnswer503, NetFault::kAnswer503});
  auto loaded = store->Load("run@2");
  REQUIRE(loaded.ok());
  CHECK(s2.Matches(*loaded));

  // Seen the same, directly, by a host without faults.
  auto direct = ckpt::test::MustOpen(url, [&] {
    ckpt::StoreOptions o;
    o.cache_dir = dir.Sub("b");
    return o;
  }());
  CHECK(direct->ListCheckpoints("run")->size() == 2);
  CHECK(direct->Verify(ckpt::test::ReadAllData())->ok());
}

TEST_CASE("a server that stops answering: a clear error, nothing partial, then success",
          "[s3][fault]") {
  const std::string s3_prefix = ckpt::test::FreshS3Options("stall").prefix;
  const std::string url = "s3://" + ckpt::test::S3TestBucket() + "/" + s3_prefix;
  ckpt::test::TempDir dir;
  FaultProxy proxy(ServerPort());
  auto store = OpenThrough(proxy, url, dir.Sub("a"), /*max_attempts=*/2);
  const StepState s1(1), s2(2);
  REQUIRE(store->Save(s1.Request("run", 1)).ok());

  for (NetFault fault : {NetFault::kStall, NetFault::kRefuse, NetFault::kAnswer503}) {
    proxy.FailAll(fault);
    auto failed = store->Save(s2.Request("run", 2));
    REQUIRE_FALSE(failed.ok());
    INFO(failed.status().ToString());
    CHECK((failed.status().code() == Code::kIOError || failed.status().code() == Code::kBusy));
    CHECK_THAT(failed.status().message(), Catch::Contains("tries"));
    proxy.Heal();
    auto listed = store->ListCheckpoints("run");
    REQUIRE(listed.ok());
    CHECK(listed->size() == 1);  // no step 2, not even in part
  }
  REQUIRE(store->Save(s2.Request("run", 2)).ok());
  auto loaded = store->Load("run@2");
  REQUIRE(loaded.ok());
  CHECK(s2.Matches(*loaded));
  CHECK(store->Verify(ckpt::test::ReadAllData())->ok());
}
