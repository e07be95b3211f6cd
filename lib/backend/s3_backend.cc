// NewS3Backend (ckpt/s3.h): the Backend contract over S3 objects.
#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/s3_client.h"
#include "backend/s3_xml.h"
#include "ckpt/s3.h"

namespace ckpt {

namespace {

using internal::S3Client;
using internal::S3ErrorStatus;
using internal::S3Request;
using internal::S3Response;

constexpr size_t kDeleteBatch = 1000;                  // S3's limit per multi-object delete
constexpr uint64_t kMinPartSize = 5 << 20;             // S3's minimum, except the last part
constexpr uint64_t kMaxSinglePut = uint64_t{5} << 30;  // S3's maximum

bool Ok(const S3Response& r) { return r.status >= 200 && r.status < 300; }

// Base64 of the MD5 of `body`: the Content-MD5 that a multi-object delete
// must carry.
std::string ContentMd5(const std::string& body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_size = 0;
  EVP_Digest(body.data(), body.size(), md, &md_size, EVP_md5(), nullptr);
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  EVP_EncodeBlock(b64, md, static_cast<int>(md_size));
  return reinterpret_cast<char*>(b64);
}

class S3Backend : public Backend {
 public:
  explicit S3Backend(S3Options options) : client_(std::move(options)) {}

  Status Put(const std::string& name, const void* data, size_t size) override {
    return Upload(name, data, size, /*if_absent=*/false);
  }

  Status Create(const std::string& name, const void* data, size_t size) override {
    return Upload(name, data, size, /*if_absent=*/true);
  }

  Status Get(const std::string& name, uint64_t offset, size_t length, void* dst) override;
  Result<uint64_t> Size(const std::string& name) override;
  Result<std::string> GetWhole(const std::string& name) override;
  Result<std::vector<std::string>> List(const std::string& prefix) override {
    return ListAfter(prefix, "");
  }
  Result<std::vector<std::string>> ListAfter(const std::string& prefix,
                                             const std::string& after) override;
  Status Remove(const std::string& name) override;
  Status RemoveMany(const std::vector<std::string>& names) override;
  Result<int64_t> ModifiedTimeNs(const std::string& name) override;
  Result<AbandonedWrites> RemoveAbandonedWrites(const std::string& prefix,
                                                int64_t written_before_ns) override;
  std::string Describe() const override { return client_.Describe(); }
  S3RequestCounts Counts() const { return client_.Counts(); }

 private:
  std::string Key(const std::string& name) const {
    const std::string& prefix = client_.options().prefix;
    return prefix.empty() ? name : prefix + "/" + name;
  }
  std::string NameOf(const std::string& key) const {
    const std::string& prefix = client_.options().prefix;
    return prefix.empty() ? key : key.substr(prefix.size() + 1);
  }

  Status Upload(const std::string& name, const void* data, size_t size, bool if_absent);
  Status UploadParts(const std::string& key, const void* data, size_t size);
  Result<S3Response> Head(const std::string& name);
  // After a conditional create that was sent more than once was refused:
  // whether the object holds exactly `data`, i.e. an earlier try of ours
  // created it and only its answer was lost.
  bool HoldsExactly(const std::string& name, const void* data, size_t size);
  Status AbortUpload(const std::string& key, const std::string& upload_id);

  S3Client client_;
};

Status S3Backend::Upload(const std::string& name, const void* data, size_t size, bool if_absent) {
  const std::string key = Key(name);
  // A conditional create is always one PUT: RGW 16 ignores If-None-Match on
  // CompleteMultipartUpload (measured), so only a single PUT is atomic.
  if (if_absent && size > kMaxSinglePut) {
    return Status::InvalidArgument("create " + Describe() + "/" + name + ": " +
                                   std::to_string(size) +
                                   " bytes is more than one conditional PUT may carry (5 GiB)");
  }
  if (!if_absent && size >= client_.options().multipart_threshold) {
    return UploadParts(key, data, size);
  }
  S3Request request;
  request.method = "PUT";
  request.key = key;
  request.body = data;
  request.body_size = size;
  request.headers.push_back("Content-Type: application/octet-stream");
  if (if_absent) request.headers.push_back("If-None-Match: *");
  CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
  if (Ok(r)) return Status::OK();
  if (r.status == 412 && r.attempts > 1 && HoldsExactly(name, data, size)) return Status::OK();
  return S3ErrorStatus(client_.Label(request), r);
}

Status S3Backend::UploadParts(const std::string& key, const void* data, size_t size) {
  S3Request start;
  start.method = "POST";
  start.key = key;
  start.query = {{"uploads", ""}};
  start.headers.push_back("Content-Type: application/octet-stream");
  CKPT_ASSIGN_OR_RETURN(S3Response started, client_.Send(start));
  if (!Ok(started)) return S3ErrorStatus(client_.Label(start), started);
  CKPT_ASSIGN_OR_RETURN(std::string upload_id,
                        internal::ParseUploadId(started.body, client_.Label(start)));

  const uint64_t part_size = std::max<uint64_t>(client_.options().part_size, kMinPartSize);
  std::vector<std::string> etags;
  Status failed;
  for (uint64_t offset = 0; offset < size && failed.ok(); offset += part_size) {
    S3Request part;
    part.method = "PUT";
    part.key = key;
    part.query = {{"partNumber", std::to_string(etags.size() + 1)}, {"uploadId", upload_id}};
    part.body = static_cast<const char*>(data) + offset;
    part.body_size = static_cast<size_t>(std::min<uint64_t>(part_size, size - offset));
    Result<S3Response> r = client_.Send(part);
    if (!r.ok()) {
      failed = r.status();
    } else if (!Ok(*r)) {
      failed = S3ErrorStatus(client_.Label(part), *r);
    } else {
      etags.push_back(r->Header("etag"));
    }
  }
  if (failed.ok()) {
    const std::string body = internal::CompleteUploadXml(etags);
    S3Request complete;
    complete.method = "POST";
    complete.key = key;
    complete.query = {{"uploadId", upload_id}};
    complete.body = body.data();
    complete.body_size = body.size();
    complete.headers.push_back("Content-Type: application/xml");
    Result<S3Response> r = client_.Send(complete);
    if (!r.ok()) {
      failed = r.status();
    } else if (Ok(*r) && r->body.find("<Error>") == std::string::npos) {
      return Status::OK();
    } else if (Ok(*r)) {
      // S3 may answer 200 and then report the failure in the body.
      r->status = 500;
      failed = S3ErrorStatus(client_.Label(complete), *r);
    } else {
      failed = S3ErrorStatus(client_.Label(complete), *r);
    }
  }
  (void)AbortUpload(key, upload_id);  // what remains is removed by RemoveAbandonedWrites
  return failed;
}

bool S3Backend::HoldsExactly(const std::string& name, const void* data, size_t size) {
  Result<std::string> stored = GetWhole(name);
  return stored.ok() && stored->size() == size &&
         (size == 0 || std::memcmp(stored->data(), data, size) == 0);
}

Status S3Backend::AbortUpload(const std::string& key, const std::string& upload_id) {
  S3Request abort;
  abort.method = "DELETE";
  abort.key = key;
  abort.query = {{"uploadId", upload_id}};
  CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(abort));
  if (Ok(r) || r.status == 404) return Status::OK();
  return S3ErrorStatus(client_.Label(abort), r);
}

Status S3Backend::Get(const std::string& name, uint64_t offset, size_t length, void* dst) {
  if (length == 0) {
    // An empty range cannot be asked for; the object must still exist and
    // reach `offset`.
    CKPT_ASSIGN_OR_RETURN(uint64_t size, Size(name));
    if (offset > size) {
      return Status::Corruption(Describe() + "/" + name + ": read at " + std::to_string(offset) +
                                " past its end (" + std::to_string(size) + " bytes)");
    }
    return Status::OK();
  }
  S3Request request;
  request.key = Key(name);
  request.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" +
                            std::to_string(offset + length - 1));
  request.dst = dst;
  request.dst_size = length;
  CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
  const std::string label = client_.Label(request);
  if (r.status == 416 || (Ok(r) && r.dst_filled < length)) {
    return Status::Corruption(label + ": the object ends before byte " +
                              std::to_string(offset + length) + " (read " +
                              std::to_string(r.dst_filled) + " of " + std::to_string(length) +
                              " bytes at " + std::to_string(offset) + ")");
  }
  if (!Ok(r)) return S3ErrorStatus(label, r);
  return Status::OK();
}

Result<std::string> S3Backend::GetWhole(const std::string& name) {
  // One GET without a range: no HEAD for the size first, and no window in
  // which the object could be replaced between the two.
  S3Request request;
  request.key = Key(name);
  CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
  if (!Ok(r)) return S3ErrorStatus(client_.Label(request), r);
  return std::move(r.body);
}

Result<S3Response> S3Backend::Head(const std::string& name) {
  S3Request request;
  request.method = "HEAD";
  request.key = Key(name);
  CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
  if (!Ok(r)) return S3ErrorStatus(client_.Label(request), r);
  return r;
}

Result<uint64_t> S3Backend::Size(const std::string& name) {
  CKPT_ASSIGN_OR_RETURN(S3Response r, Head(name));
  const std::string length = r.Header("content-length");
  char* end = nullptr;
  const unsigned long long size = std::strtoull(length.c_str(), &end, 10);
  if (length.empty() || *end != '\0') {
    return Status::IOError("HEAD " + Describe() + "/" + name + ": no Content-Length");
  }
  return static_cast<uint64_t>(size);
}

Result<int64_t> S3Backend::ModifiedTimeNs(const std::string& name) {
  CKPT_ASSIGN_OR_RETURN(S3Response r, Head(name));
  const time_t seconds = curl_getdate(r.Header("last-modified").c_str(), nullptr);
  if (seconds < 0) {
    return Status::IOError("HEAD " + Describe() + "/" + name + ": no valid Last-Modified");
  }
  return static_cast<int64_t>(seconds) * 1000000000;
}

Result<std::vector<std::string>> S3Backend::ListAfter(const std::string& prefix,
                                                      const std::string& after) {
  std::vector<std::string> names;
  std::string token;
  do {
    S3Request request;
    request.key = "";
    request.query = {{"list-type", "2"}, {"prefix", Key(prefix)}};
    if (!after.empty()) request.query.push_back({"start-after", Key(after)});
    if (!token.empty()) request.query.push_back({"continuation-token", token});
    CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
    const std::string label = "LIST " + Describe() + "/" + prefix;
    if (!Ok(r)) return S3ErrorStatus(label, r);
    CKPT_ASSIGN_OR_RETURN(internal::S3ListPage page, internal::ParseListObjects(r.body, label));
    for (auto& object : page.objects) names.push_back(NameOf(object.key));
    token = page.truncated ? page.next_continuation_token : "";
  } while (!token.empty());
  // S3 lists in byte order already; sorting keeps the contract whatever a
  // server does.
  std::sort(names.begin(), names.end());
  return names;
}

Status S3Backend::Remove(const std::string& name) {
  S3Request request;
  request.method = "DELETE";
  request.key = Key(name);
  CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
  if (Ok(r) || r.status == 404) return Status::OK();
  return S3ErrorStatus(client_.Label(request), r);
}

Status S3Backend::RemoveMany(const std::vector<std::string>& names) {
  for (size_t begin = 0; begin < names.size(); begin += kDeleteBatch) {
    const size_t end = std::min(names.size(), begin + kDeleteBatch);
    std::vector<std::string> keys;
    for (size_t i = begin; i < end; ++i) keys.push_back(Key(names[i]));
    const std::string body = internal::DeleteObjectsXml(keys);
    S3Request request;
    request.method = "POST";
    request.key = "";
    request.query = {{"delete", ""}};
    request.body = body.data();
    request.body_size = body.size();
    request.headers.push_back("Content-Type: application/xml");
    request.headers.push_back("Content-MD5: " + ContentMd5(body));
    CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
    const std::string label = "DELETE " + std::to_string(keys.size()) + " objects of " + Describe();
    if (!Ok(r)) return S3ErrorStatus(label, r);
    CKPT_RETURN_IF_ERROR(internal::DeleteObjectsErrors(r.body, label));
  }
  return Status::OK();
}

Result<Backend::AbandonedWrites> S3Backend::RemoveAbandonedWrites(const std::string& prefix,
                                                                  int64_t written_before_ns) {
  AbandonedWrites removed;
  std::string key_marker;
  std::string id_marker;
  bool more = true;
  while (more) {
    S3Request request;
    request.key = "";
    request.query = {{"uploads", ""}, {"prefix", Key(prefix)}};
    if (!key_marker.empty()) request.query.push_back({"key-marker", key_marker});
    if (!id_marker.empty()) request.query.push_back({"upload-id-marker", id_marker});
    CKPT_ASSIGN_OR_RETURN(S3Response r, client_.Send(request));
    const std::string label = "LIST uploads " + Describe() + "/" + prefix;
    if (!Ok(r)) return S3ErrorStatus(label, r);
    CKPT_ASSIGN_OR_RETURN(internal::S3UploadsPage page, internal::ParseListUploads(r.body, label));
    for (const auto& upload : page.uploads) {
      if (upload.initiated_ns >= written_before_ns) continue;
      S3Request parts;
      parts.key = upload.key;
      parts.query = {{"uploadId", upload.upload_id}};
      Result<S3Response> listed = client_.Send(parts);
      if (listed.ok() && Ok(*listed)) {
        bool truncated = false;
        Result<uint64_t> bytes = internal::ParsePartsSize(listed->body, label, &truncated);
        if (bytes.ok()) removed.bytes += *bytes;
      }
      CKPT_RETURN_IF_ERROR(AbortUpload(upload.key, upload.upload_id));
      ++removed.objects;
    }
    more = page.truncated;
    key_marker = page.next_key_marker;
    id_marker = page.next_upload_id_marker;
    if (more && key_marker.empty()) {
      return Status::Corruption(label + ": a truncated listing without a next marker");
    }
  }
  return removed;
}

}  // namespace

Result<S3RequestCounts> S3RequestCountsOf(const Backend& backend) {
  const auto* s3 = dynamic_cast<const S3Backend*>(&backend);
  if (s3 == nullptr) {
    return Status::InvalidArgument("request counts of " + backend.Describe() +
                                   ": not an S3 backend");
  }
  return s3->Counts();
}

Result<std::shared_ptr<Backend>> NewS3Backend(const S3Options& given) {
  S3Options options = given;
  FillS3OptionsFromEnvironment(&options);
  if (options.bucket.empty()) return Status::InvalidArgument("S3 backend: no bucket given");
  if (options.endpoint.rfind("http://", 0) != 0 && options.endpoint.rfind("https://", 0) != 0) {
    return Status::InvalidArgument("S3 backend: endpoint '" + options.endpoint +
                                   "' is not an http:// or https:// URL");
  }
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return Status::InvalidArgument("S3 backend for " + options.bucket +
                                   ": no credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
  }
  if (options.max_attempts < 1 || options.part_size < kMinPartSize ||
      options.multipart_threshold < options.part_size) {
    return Status::InvalidArgument(
        "S3 backend: max_attempts must be >= 1, part_size >= 5 MiB and "
        "multipart_threshold >= part_size");
  }
  return std::shared_ptr<Backend>(std::make_shared<S3Backend>(std::move(options)));
}

}  // namespace ckpt
