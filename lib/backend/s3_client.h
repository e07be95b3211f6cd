// backend/s3_client: one S3 request over libcurl, signed with AWS SigV4,
// tried again on the failures that a retry can cure. Knows HTTP and S3's
// wire conventions, nothing of ckpt's objects.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ckpt/result.h"
#include "ckpt/s3.h"

namespace ckpt::internal {

struct S3Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  // The object key (the store's prefix already applied); empty: the bucket.
  std::string key;
  // Query parameters, unencoded; sent sorted and encoded, as SigV4 signs.
  std::vector<std::pair<std::string, std::string>> query;
  // Extra headers, "Name: value". All are signed.
  std::vector<std::string> headers;
  // The body of a PUT or POST.
  const void* body = nullptr;
  size_t body_size = 0;
  // If set, a 2xx answer's body goes here (at most dst_size bytes; more is
  // an error) instead of into S3Response::body.
  void* dst = nullptr;
  size_t dst_size = 0;
};

struct S3Response {
  long status = 0;
  // Header names in lower case.
  std::map<std::string, std::string> headers;
  std::string body;       // unless the request had dst (then only errors)
  size_t dst_filled = 0;  // bytes written to S3Request::dst
  int attempts = 0;       // tries it took

  // The value of header `name` (lower case), or "".
  std::string Header(const std::string& name) const;
  // The <Code> of an S3 error body, or "".
  std::string ErrorCode() const;
};

class S3Client {
 public:
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends `request`, trying again on connection failures, timeouts, 5xx
  // and 429 answers, and returns the final answer, whatever its status.
  // Errors (only when no answer came): kIOError naming the request and the
  // transport failure of the last try.
  Result<S3Response> Send(const S3Request& request);

  // The requests sent so far, by kind; every try counts.
  S3RequestCounts Counts() const;

  const S3Options& options() const { return options_; }
  // "s3://bucket/prefix" for messages.
  std::string Describe() const;
  // "METHOD bucket/key" for messages.
  std::string Label(const S3Request& request) const;

 private:
  struct HandlePool;
  Result<S3Response> SendOnce(const S3Request& request, const std::string& url,
                              const std::string& payload_hash, bool* retryable);
  std::string UrlOf(const S3Request& request) const;
  void Count(const S3Request& request, int attempt);

  S3Options options_;
  std::unique_ptr<HandlePool> handles_;
  // Indexed by RequestKind (s3_client.cc), plus the retries.
  std::array<std::atomic<uint64_t>, 9> counts_{};
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay,
// '/' too unless `encode_slash`.
std::string UriEncode(const std::string& text, bool encode_slash);

// The Status an S3 error answer maps to, with `label` and the server's code
// and message: 404 -> kNotFound, 412 -> kAlreadyExists, 507 or a quota
// error -> kNoSpace, anything else -> kIOError.
Status S3ErrorStatus(const std::string& label, const S3Response& response);

}  // namespace ckpt::internal
