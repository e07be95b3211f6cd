// IsS3Url and S3OptionsFromUrl (ckpt/s3.h): a store URL and the usual AWS
// environment variables to S3Options.
#include <cstdlib>
#include <string>

#include "ckpt/s3.h"

namespace ckpt {

namespace {

constexpr const char* kScheme = "s3://";

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// S3's rule for bucket names: 3 to 63 of [a-z0-9.-], starting and ending
// with a letter or digit.
bool ValidBucket(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return bucket.front() != '.' && bucket.front() != '-' && bucket.back() != '.' &&
         bucket.back() != '-';
}

}  // namespace

void FillS3OptionsFromEnvironment(S3Options* options) {
  if (options->region.empty()) options->region = Env("AWS_REGION");
  if (options->region.empty()) options->region = Env("AWS_DEFAULT_REGION");
  if (options->region.empty()) options->region = "us-east-1";
  if (options->endpoint.empty()) options->endpoint = Env("AWS_ENDPOINT_URL");
  if (options->endpoint.empty()) {
    options->endpoint = "https://s3." + options->region + ".amazonaws.com";
  }
  if (options->access_key_id.empty()) options->access_key_id = Env("AWS_ACCESS_KEY_ID");
  if (options->secret_access_key.empty()) {
    options->secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  }
}

bool IsS3Url(const std::string& location) { return location.rfind(kScheme, 0) == 0; }

Result<S3Options> S3OptionsFromUrl(const std::string& url) {
  if (!IsS3Url(url)) return Status::InvalidArgument("not an s3:// URL: " + url);
  const std::string rest = url.substr(std::string(kScheme).size());
  const size_t slash = rest.find('/');
  S3Options options;
  options.bucket = rest.substr(0, slash);
  if (!ValidBucket(options.bucket)) {
    return Status::InvalidArgument("store URL " + url + ": '" + options.bucket +
                                   "' is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')");
  }
  if (slash != std::string::npos) {
    std::string prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (prefix.find("//") != std::string::npos || (!prefix.empty() && prefix.front() == '/')) {
      return Status::InvalidArgument("store URL " + url + ": empty path component in the prefix");
    }
    options.prefix = prefix;
  }
  FillS3OptionsFromEnvironment(&options);
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return Status::InvalidArgument("store URL " + url +
                                   ": no credentials (set AWS_ACCESS_KEY_ID and "
                                   "AWS_SECRET_ACCESS_KEY)");
  }
  return options;
}

}  // namespace ckpt
