// The object store the [s3] tests run against: a real Ceph RGW started by
// scripts/rgw.sh (scripts/test.sh starts one), named by the variables
// `scripts/rgw.sh env DIR` prints. Without them an [s3] test exits with
// code 77, which CTest reports as skipped, and says why.
#pragma once

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "ckpt/s3.h"
#include "util/hex.h"

namespace ckpt::test {

inline constexpr int kSkipExitCode = 77;

// The test bucket's name, or exits with kSkipExitCode if no server is set up.
inline std::string S3TestBucket() {
  const char* bucket = std::getenv("CKPT_TEST_S3_BUCKET");
  if (bucket == nullptr || std::getenv("AWS_ENDPOINT_URL") == nullptr) {
    std::fprintf(stderr,
                 "SKIPPED: no S3 server: set CKPT_TEST_S3_BUCKET and AWS_* (run "
                 "scripts/rgw.sh start DIR, then eval \"$(scripts/rgw.sh env DIR)\")\n");
    std::exit(kSkipExitCode);
  }
  return bucket;
}

// Options for a fresh, empty area of the test bucket: a random prefix, so
// that tests and sections never see each other's objects.
inline S3Options FreshS3Options(const std::string& what) {
  S3Options options;
  options.bucket = S3TestBucket();
  options.prefix = "t-" + what + "-" + internal::RandomHexId(6);
  FillS3OptionsFromEnvironment(&options);
  return options;
}

// A store URL naming a fresh, empty prefix of the test bucket.
inline std::string FreshStoreUrl(const std::string& what) {
  const S3Options options = FreshS3Options(what);
  return "s3://" + options.bucket + "/" + options.prefix;
}

// A backend of its own on the bucket and prefix of store `url`, to look at
// the objects directly.
inline std::shared_ptr<Backend> BucketOf(const std::string& url) {
  auto options = S3OptionsFromUrl(url);
  REQUIRE(options.ok());
  auto backend = NewS3Backend(*options);
  REQUIRE(backend.ok());
  return *backend;
}

}  // namespace ckpt::test
