// backend/s3_xml: the XML documents of the S3 API that the backend sends
// and reads (listings, multipart uploads, multi-object delete).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/result.h"

namespace ckpt::internal {

struct S3ListedObject {
  std::string key;
  uint64_t size = 0;
};

// One page of ListObjectsV2.
struct S3ListPage {
  std::vector<S3ListedObject> objects;
  bool truncated = false;
  std::string next_continuation_token;
};

// An incomplete multipart upload, from ListMultipartUploads.
struct S3Upload {
  std::string key;
  std::string upload_id;
  int64_t initiated_ns = 0;  // since the Unix epoch
};

struct S3UploadsPage {
  std::vector<S3Upload> uploads;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

// Errors of the parsers: kCorruption naming `what` (a request label) when
// the document is not what S3 sends.
Result<S3ListPage> ParseListObjects(const std::string& xml, const std::string& what);
Result<S3UploadsPage> ParseListUploads(const std::string& xml, const std::string& what);
// The UploadId of an InitiateMultipartUploadResult.
Result<std::string> ParseUploadId(const std::string& xml, const std::string& what);
// The sum of the part sizes of a ListPartsResult, and whether it is truncated.
Result<uint64_t> ParsePartsSize(const std::string& xml, const std::string& what, bool* truncated);

// The body of a quiet multi-object delete of `keys` (at most 1000).
std::string DeleteObjectsXml(const std::vector<std::string>& keys);
// The first per-key error of a DeleteResult as kIOError naming the key;
// OK if none.
Status DeleteObjectsErrors(const std::string& xml, const std::string& what);

// The body of CompleteMultipartUpload for parts 1..N with these ETags.
std::string CompleteUploadXml(const std::vector<std::string>& etags);

// Seconds-resolution ISO 8601 UTC time ("2026-12-06T18:00:00.000Z") as ns
// since the epoch; -1 if malformed.
int64_t ParseIso8601Ns(const std::string& text);

}  // namespace ckpt::internal
