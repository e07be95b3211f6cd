// ckpt/s3.h: stores in S3-compatible object storage.
//
// A store URL "s3://BUCKET/PREFIX" names the objects under PREFIX/ in
// BUCKET. S3Options says how to reach them; S3OptionsFromUrl fills it from
// the URL and the usual environment variables, so that the same URL works
// in the C++ API, in Python and on the command line. NewS3Backend returns
// a Backend (ckpt/backend.h) over those objects, written with AWS
// Signature Version 4 over HTTP(S).
//
// Thread-safety: S3Options is a value; the backend allows concurrent calls
// from many threads. Stability: stable; fields may be added with defaults.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ckpt/backend.h"
#include "ckpt/export.h"
#include "ckpt/result.h"

namespace ckpt {

struct CKPT_EXPORT S3Options {
  // Scheme, host and port, e.g. "http://127.0.0.1:7480". Default (empty):
  // $AWS_ENDPOINT_URL, else "https://s3.<region>.amazonaws.com".
  std::string endpoint;
  // The SigV4 signing region; for Ceph RGW the zonegroup ("default").
  // Default (empty): $AWS_REGION, else $AWS_DEFAULT_REGION, else "us-east-1".
  std::string region;
  // Credentials. Default (empty): $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY.
  std::string access_key_id;
  std::string secret_access_key;
  // Required: the bucket. The store's objects are named PREFIX/<name>
  // (just <name> with an empty prefix); the prefix has no leading or
  // trailing '/'.
  std::string bucket;
  std::string prefix;
  // Path-style URLs (endpoint/bucket/key), which every S3-compatible server
  // takes; false: virtual-hosted style (bucket.host/key).
  bool path_style = true;
  // Objects of at least this size are uploaded in parts of part_size bytes
  // (S3 requires parts of at least 5 MiB, except the last).
  uint64_t multipart_threshold = uint64_t{64} << 20;
  uint64_t part_size = uint64_t{16} << 20;
  // Tries per request: a refused or reset connection, a timeout, a 5xx or a
  // 429 answer is tried again after a backoff that doubles from
  // retry_base_ms (with jitter), up to this many tries in all.
  int max_attempts = 6;
  int retry_base_ms = 100;
  // Gives up connecting after this long.
  int connect_timeout_ms = 5000;
  // Gives up on a request that has moved no byte for this long (a server
  // that stopped answering), however long the transfer itself takes.
  int stall_timeout_ms = 30000;
};

// Whether `location` names an object store ("s3://...") rather than a
// directory.
CKPT_EXPORT bool IsS3Url(const std::string& location);

// Parses "s3://BUCKET" or "s3://BUCKET/PREFIX" and fills the other fields
// from the environment as documented above. Errors: kInvalidArgument (not
// an s3:// URL, an empty or malformed bucket, missing credentials).
CKPT_EXPORT Result<S3Options> S3OptionsFromUrl(const std::string& url);

// Fills the empty endpoint, region and credential fields of `options` as
// documented above.
CKPT_EXPORT void FillS3OptionsFromEnvironment(S3Options* options);

// Returns a backend over the objects under options.prefix in
// options.bucket. Creates nothing; the bucket must exist (operations on a
// missing bucket fail with kNotFound naming it). Put is one PUT (or a
// multipart upload above the threshold) with the body's SHA-256 signed,
// which the server checks; Create is always one PUT (up to 5 GiB) with
// "If-None-Match: *", since servers such as Ceph RGW 16 ignore that
// condition on a multipart upload's completion; Get is a ranged
// GET; List pages through ListObjectsV2; RemoveMany deletes up to 1000
// objects per request; RemoveAbandonedWrites aborts multipart uploads that
// a crash left. Empty endpoint, region and credential fields are filled
// from the environment first. Errors: kInvalidArgument (bad options).
CKPT_EXPORT Result<std::shared_ptr<Backend>> NewS3Backend(const S3Options& options);

// HTTP requests an S3 backend has sent since it was made, by kind: what a
// provider bills, and what a save, load or open costs on a distant server.
// Every try counts, and tries beyond a request's first count again in
// `retries`.
struct CKPT_EXPORT S3RequestCounts {
  uint64_t put = 0;        // PUT of a whole object (packs, manifests, refs)
  uint64_t create = 0;     // PUT with If-None-Match: * (log records, leases, config)
  uint64_t part = 0;       // PUT of one part of a multipart upload
  uint64_t multipart = 0;  // multipart uploads started, completed and aborted
  uint64_t get = 0;        // GET of an object or a byte range of it
  uint64_t head = 0;       // HEAD of an object (size, time)
  uint64_t list = 0;       // pages of object listings, of uploads and of parts
  uint64_t remove = 0;     // DELETE of one object, and multi-object deletes
  uint64_t retries = 0;    // tries beyond the first, of any kind above
  uint64_t Total() const { return put + create + part + multipart + get + head + list + remove; }
};

// The requests counted so far by `backend`, made by NewS3Backend.
// Errors: kInvalidArgument (not an S3 backend).
CKPT_EXPORT Result<S3RequestCounts> S3RequestCountsOf(const Backend& backend);

}  // namespace ckpt
