#include "backend/s3_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "hash/sha256.h"

namespace ckpt::internal {

namespace {

// SHA-256 of the empty string: the payload hash of a request without body.
constexpr const char* kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// What one try collects from libcurl's callbacks.
struct Exchange {
  const S3Request* request = nullptr;
  S3Response* response = nullptr;
  bool overflow = false;  // the body was longer than request->dst_size
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after "100 Continue", say): forget the last one's.
    x->response->headers.clear();
    size_t space = line.find(' ');
    if (space != std::string::npos)
      x->response->status = std::strtol(&line[space + 1], nullptr, 10);
    return size * count;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    x->response->headers[Lower(Trim(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  const size_t n = size * count;
  S3Response& r = *x->response;
  const bool to_dst = x->request->dst != nullptr && r.status >= 200 && r.status < 300;
  if (!to_dst) {
    r.body.append(data, n);
    return n;
  }
  if (r.dst_filled + n > x->request->dst_size) {
    x->overflow = true;
    return 0;  // aborts the transfer
  }
  std::memcpy(static_cast<char*>(x->request->dst) + r.dst_filled, data, n);
  r.dst_filled += n;
  return n;
}

// Whether a transport failure may pass if tried again.
bool TransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// Whether an answer says "try again later".
bool TransientAnswer(const S3Response& r) {
  if (r.status >= 500 || r.status == 429) return true;
  // S3 answers 400 RequestTimeout when the client sent its body too slowly.
  return r.status == 400 && r.ErrorCode() == "RequestTimeout";
}

// The kinds of S3RequestCounts, as indexes of S3Client::counts_.
enum RequestKind : size_t { kPut, kCreate, kPart, kMultipart, kGet, kHead, kList, kRemove, kRetry };

bool HasQuery(const S3Request& request, const char* name) {
  return std::any_of(request.query.begin(), request.query.end(),
                     [&](const auto& kv) { return kv.first == name; });
}

RequestKind KindOf(const S3Request& r) {
  if (r.method == "HEAD") return kHead;
  if (r.method == "GET") {
    // A listing of the bucket, of its multipart uploads or of an upload's parts.
    if (r.key.empty() || HasQuery(r, "uploadId")) return kList;
    return kGet;
  }
  if (r.method == "PUT") {
    if (HasQuery(r, "partNumber")) return kPart;
    const bool conditional = std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) {
      return h.rfind("If-None-Match:", 0) == 0;
    });
    return conditional ? kCreate : kPut;
  }
  if (r.method == "POST") return HasQuery(r, "delete") ? kRemove : kMultipart;
  // DELETE: of an object, or the abort of a multipart upload.
  return HasQuery(r, "uploadId") ? kMultipart : kRemove;
}

std::string XmlElement(const std::string& body, const std::string& tag) {
  const std::string open = "<" + tag + ">";
  size_t begin = body.find(open);
  if (begin == std::string::npos) return "";
  begin += open.size();
  size_t end = body.find("</" + tag + ">", begin);
  if (end == std::string::npos) return "";
  return body.substr(begin, end - begin);
}

}  // namespace

std::string S3Response::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::string S3Response::ErrorCode() const { return XmlElement(body, "Code"); }

std::string UriEncode(const std::string& text, bool encode_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status S3ErrorStatus(const std::string& label, const S3Response& response) {
  std::string message = label + ": HTTP " + std::to_string(response.status);
  const std::string code = response.ErrorCode();
  if (!code.empty()) message += " " + code;
  const std::string detail = XmlElement(response.body, "Message");
  if (!detail.empty()) message += " (" + detail + ")";
  if (response.attempts > 1) message += " after " + std::to_string(response.attempts) + " tries";
  if (response.status == 404) return Status::NotFound(message);
  if (response.status == 412) return Status::AlreadyExists(message);
  if (response.status == 507 || code == "QuotaExceeded" || code == "EntityTooLarge")
    return Status::NoSpace(message);
  return Status::IOError(message);
}

// Idle libcurl handles, reused so that connections (and their TCP and TLS
// set-up) are kept alive between requests.
struct S3Client::HandlePool {
  std::mutex mu;
  std::vector<CURL*> idle;

  ~HandlePool() {
    for (CURL* h : idle) curl_easy_cleanup(h);
  }
  CURL* Take() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!idle.empty()) {
        CURL* h = idle.back();
        idle.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    std::lock_guard<std::mutex> lock(mu);
    idle.push_back(h);
  }
};

S3Client::S3Client(S3Options options)
    : options_(std::move(options)), handles_(std::make_unique<HandlePool>()) {
  InitCurlOnce();
}

S3Client::~S3Client() = default;

void S3Client::Count(const S3Request& request, int attempt) {
  counts_[KindOf(request)].fetch_add(1, std::memory_order_relaxed);
  if (attempt > 1) counts_[kRetry].fetch_add(1, std::memory_order_relaxed);
}

S3RequestCounts S3Client::Counts() const {
  auto n = [&](RequestKind kind) { return counts_[kind].load(std::memory_order_relaxed); };
  S3RequestCounts c;
  c.put = n(kPut);
  c.create = n(kCreate);
  c.part = n(kPart);
  c.multipart = n(kMultipart);
  c.get = n(kGet);
  c.head = n(kHead);
  c.list = n(kList);
  c.remove = n(kRemove);
  c.retries = n(kRetry);
  return c;
}

std::string S3Client::Describe() const {
  return "s3://" + options_.bucket + (options_.prefix.empty() ? "" : "/" + options_.prefix);
}

std::string S3Client::Label(const S3Request& request) const {
  return request.method + " " + options_.bucket + "/" + request.key;
}

std::string S3Client::UrlOf(const S3Request& request) const {
  std::string endpoint = options_.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  std::string url;
  if (options_.path_style) {
    url = endpoint + "/" + options_.bucket + "/";
  } else {
    size_t scheme_end = endpoint.find("://");
    size_t host = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    url = endpoint.substr(0, host) + options_.bucket + "." + endpoint.substr(host) + "/";
  }
  url += UriEncode(request.key, /*encode_slash=*/false);
  // SigV4 signs the canonical query string; libcurl 7.88 signs the query as
  // given, so it must already be canonical: sorted, every value encoded and
  // "key=" even for an empty value.
  auto query = request.query;
  std::sort(query.begin(), query.end());
  for (size_t i = 0; i < query.size(); ++i) {
    url += (i == 0 ? "?" : "&");
    url += UriEncode(query[i].first, true) + "=" + UriEncode(query[i].second, true);
  }
  return url;
}

Result<S3Response> S3Client::SendOnce(const S3Request& request, const std::string& url,
                                      const std::string& payload_hash, bool* retryable) {
  CURL* h = handles_->Take();
  if (h == nullptr) return Status::IOError(Label(request) + ": curl_easy_init failed");
  curl_easy_reset(h);
  S3Response response;
  Exchange exchange{&request, &response, false};

  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("x-amz-content-sha256: " + payload_hash).c_str());
  for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());

  const std::string sigv4 = "aws:amz:" + options_.region + ":s3";
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  // Not CURLOPT_USERPWD: a ':' in a key would split it wrongly.
  curl_easy_setopt(h, CURLOPT_USERNAME, options_.access_key_id.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, options_.secret_access_key.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
  // A transfer that moves no byte for the stall timeout is abandoned, however
  // long a large one takes as a whole.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(options_.stall_timeout_ms / 1000)));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);

  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT" || request.method == "POST") {
    // The body from memory (libcurl rewinds it itself if it must resend);
    // the method set explicitly, since POSTFIELDS implies POST.
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body_size));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body_size ? request.body : "");
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (code == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = status;
  }
  handles_->Give(h);
  if (exchange.overflow) {
    return Status::Corruption(Label(request) + ": the answer holds more than the " +
                              std::to_string(request.dst_size) + " bytes asked for");
  }
  if (code != CURLE_OK) {
    *retryable = TransientCurlError(code);
    return Status::IOError(Label(request) + ": " + curl_easy_strerror(code));
  }
  return response;
}

Result<S3Response> S3Client::Send(const S3Request& request) {
  const std::string url = UrlOf(request);
  const std::string payload_hash =
      request.body_size == 0 ? kEmptyPayloadHash : Sha256(request.body, request.body_size).Hex();
  thread_local std::minstd_rand jitter(std::random_device{}());
  const int attempts = std::max(1, options_.max_attempts);
  Status last_failure;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      // Exponential backoff with jitter, so that many clients that failed
      // together do not retry together.
      const double base = options_.retry_base_ms * double(1 << std::min(attempt - 2, 10));
      const double wait_ms = std::min(20000.0, base * (0.5 + (jitter() % 1000) / 2000.0));
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(wait_ms));
    }
    bool retryable = false;
    Count(request, attempt);
    Result<S3Response> response = SendOnce(request, url, payload_hash, &retryable);
    if (!response.ok() && !retryable) return response.status();
    if (!response.ok()) {
      last_failure = response.status();
      continue;
    }
    response->attempts = attempt;
    if (!TransientAnswer(*response) || attempt == attempts) return response;
    last_failure = S3ErrorStatus(Label(request), *response);
  }
  return Status::IOError(last_failure.message() + " (gave up after " + std::to_string(attempts) +
                         " tries)");
}

}  // namespace ckpt::internal
