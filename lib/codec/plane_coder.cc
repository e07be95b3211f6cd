#include "codec/plane_coder.h"

#include <xxhash.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "codec/chunk_codec.h"
#include "codec/rans_coder.h"

namespace ckpt::internal {
namespace {

constexpr size_t kChecksumSize = 8;
constexpr size_t kLengthSize = 4;
// Below this a plane is stored: the rANS frequency table alone is larger.
constexpr size_t kMinCodedPlane = 256;

size_t HeaderSize(size_t k) { return kChecksumSize + k * (1 + kLengthSize); }

void PutLe(std::string* out, size_t at, uint64_t v, size_t width) {
  for (size_t i = 0; i < width; ++i) (*out)[at + i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetLe(const uint8_t* p, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Bytes an order-0 entropy coder needs for `n` bytes at least: n times the
// entropy of their byte histogram. rANS comes within a fraction of a
// percent of it, so a plane whose bound is near n is stored without paying
// for an encoding that cannot win (low mantissa planes are nearly random).
// Large planes are sampled, one byte in kSampleStride: the histogram of
// 16 Ki samples puts the bound within a fraction of a percent of the whole
// plane's (a plug-in entropy estimate errs low by about 255 / (2 n ln 2)
// bits per byte), and a plane judged codable by mistake is still stored
// when rANS does not shrink it. Whole-plane histograms were 7% of a
// fine-tune save's CPU time.
double EntropyBound(const uint8_t* p, size_t n) {
  constexpr size_t kSampleFrom = 64 * 1024, kSampleStride = 4;
  const size_t stride = n >= kSampleFrom ? kSampleStride : 1;
  uint32_t counts[4][256] = {};
  size_t i = 0, taken = 0;
  for (; i + 4 * stride <= n; i += 4 * stride) {  // four tables: no stall on repeated bytes
    ++counts[0][p[i]];
    ++counts[1][p[i + stride]];
    ++counts[2][p[i + 2 * stride]];
    ++counts[3][p[i + 3 * stride]];
    taken += 4;
  }
  for (; i < n; i += stride, ++taken) ++counts[0][p[i]];
  double bits = 0;
  for (int b = 0; b < 256; ++b) {
    const double c = counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b];
    if (c > 0) bits -= c * std::log2(c / static_cast<double>(taken));
  }
  return bits / 8 * static_cast<double>(n) / static_cast<double>(taken);
}

// Planes whose entropy bound is above this share of their size are stored.
constexpr double kStoreAbove = 0.98;

// The remembered outcomes of one plane of one tensor (all null: none).
struct PlaneHistory {
  std::atomic<uint16_t>* zstd_wins = nullptr;
  std::atomic<uint16_t>* rans_wins = nullptr;
  std::atomic<uint16_t>* stored = nullptr;
  std::atomic<uint16_t>* coded = nullptr;

  bool NeedsEntropyCheck() const { return !stored || *stored > 0 || *coded < 2; }
  bool ZstdWorthTrying() const { return !zstd_wins || *zstd_wins > 0 || *rans_wins < 2; }
  bool RansWorthTrying() const { return !zstd_wins || *rans_wins > 0 || *zstd_wins < 2; }
  void Count(std::atomic<uint16_t>* counter) const {
    if (counter && *counter < UINT16_MAX) ++*counter;
  }
};

// zstd alone, for planes where it always beat rANS (sparse deltas: long
// zero runs).
PlaneMethod TryZstd(const uint8_t* plane, size_t n, int zstd_level, const PlaneHistory& history,
                    std::string* payload) {
  size_t m = codec_detail::ZstdInto(plane, n, zstd_level, payload);
  if (m == 0 || m >= n) return PlaneMethod::kStored;
  history.Count(history.zstd_wins);
  return PlaneMethod::kZstd;
}

PlaneMethod TryCoders(const uint8_t* plane, size_t n, int zstd_level, const PlaneHistory& history,
                      std::string* payload) {
  if (n < kMinCodedPlane) return PlaneMethod::kStored;
  if (!history.RansWorthTrying()) return TryZstd(plane, n, zstd_level, history, payload);
  if ((history.NeedsEntropyCheck() && EntropyBound(plane, n) > kStoreAbove * n))
    return PlaneMethod::kStored;
  thread_local std::vector<uint8_t> rans;
  rans.resize(RansBound(n));
  size_t rans_size = 0;
  if (!RansEncode(plane, n, rans.data(), &rans_size) || rans_size >= n) return PlaneMethod::kStored;
  PlaneMethod method = PlaneMethod::kRans;
  payload->assign(reinterpret_cast<const char*>(rans.data()), rans_size);
  // A plane that shrinks this much is mostly runs (a delta's zero planes),
  // where zstd's matches may beat any order-0 coder, and where zstd encodes
  // and decodes several times faster than rANS: it wins unless it is a
  // quarter larger (on bf16 delta exponent planes zstd was 25% larger than
  // rANS, a few hundred bytes per chunk, and half of a save's rANS time).
  if (rans_size < n / 8 && history.ZstdWorthTrying()) {
    thread_local std::string frame;
    size_t m = codec_detail::ZstdInto(plane, n, zstd_level, &frame);
    if (m != 0 && m <= rans_size + rans_size / 4 + 64) {
      method = PlaneMethod::kZstd;
      payload->swap(frame);
    }
    history.Count(method == PlaneMethod::kZstd ? history.zstd_wins : history.rans_wins);
  }
  return method;
}

// The smallest coding of one plane: its method and payload.
PlaneMethod EncodePlane(const uint8_t* plane, size_t n, int zstd_level, const PlaneHistory& history,
                        std::string* payload) {
  PlaneMethod method = TryCoders(plane, n, zstd_level, history, payload);
  history.Count(method == PlaneMethod::kStored ? history.stored : history.coded);
  return method;
}

Status DecodePlane(PlaneMethod method, const uint8_t* payload, size_t length, uint8_t* plane,
                   size_t n) {
  switch (method) {
    case PlaneMethod::kStored:
      if (length != n) return Status::Corruption("stored plane has the wrong length");
      if (n != 0) std::memcpy(plane, payload, n);  // an empty plane may be null: memcpy forbids it
      return Status::OK();
    case PlaneMethod::kZstd:
      return codec_detail::ZstdFrom(payload, length, plane, n);
    case PlaneMethod::kRans:
      if (!RansDecode(payload, length, plane, n))
        return Status::Corruption("rANS plane does not decode to its length");
      return Status::OK();
  }
  return Status::Corruption("unknown plane method " + std::to_string(static_cast<int>(method)));
}

}  // namespace

size_t EncodePlaneBody(const uint8_t* planes, size_t size, size_t k, int zstd_level,
                       PlaneScore* score, std::string* out) {
  const size_t n = size / k, start = out->size();
  out->resize(start + HeaderSize(k));
  thread_local std::string payload;
  for (size_t j = 0; j < k; ++j) {
    const uint8_t* plane = planes + j * n;
    PlaneHistory history;
    if (score)
      history = {&score->zstd_wins[j], &score->rans_wins[j], &score->stored[j], &score->coded[j]};
    PlaneMethod method = EncodePlane(plane, n, zstd_level, history, &payload);
    if (method == PlaneMethod::kStored) payload.assign(reinterpret_cast<const char*>(plane), n);
    (*out)[start + kChecksumSize + j] = static_cast<char>(method);
    PutLe(out, start + kChecksumSize + k + j * kLengthSize, payload.size(), kLengthSize);
    out->append(payload);
  }
  out->append(reinterpret_cast<const char*>(planes + n * k), size - n * k);
  const char* covered = out->data() + start + kChecksumSize;
  PutLe(out, start, XXH3_64bits(covered, out->size() - start - kChecksumSize), kChecksumSize);
  return out->size() - start;
}

Status DecodePlaneBody(const uint8_t* encoded, size_t encoded_size, size_t k, uint8_t* planes,
                       size_t size) {
  const size_t n = size / k, tail = size - n * k, header = HeaderSize(k);
  if (encoded_size < header) return Status::Corruption("plane body: truncated header");
  // Checked first: damage anywhere in the stored bytes is caught before
  // any decoder reads them, even where a decoder would not notice it.
  if (XXH3_64bits(encoded + kChecksumSize, encoded_size - kChecksumSize) !=
      GetLe(encoded, kChecksumSize))
    return Status::Corruption("plane body: checksum mismatch");
  const uint8_t* methods = encoded + kChecksumSize;
  const uint8_t* lengths = methods + k;
  uint64_t total = header + tail;
  for (size_t j = 0; j < k; ++j) total += GetLe(lengths + j * kLengthSize, kLengthSize);
  if (total != encoded_size)
    return Status::Corruption("plane body: lengths add up to " + std::to_string(total) +
                              " bytes, the entry has " + std::to_string(encoded_size));
  const uint8_t* payload = encoded + header;
  for (size_t j = 0; j < k; ++j) {
    const size_t length = GetLe(lengths + j * kLengthSize, kLengthSize);
    CKPT_RETURN_IF_ERROR(
        DecodePlane(static_cast<PlaneMethod>(methods[j]), payload, length, planes + j * n, n)
            .WithContext("plane " + std::to_string(j)));
    payload += length;
  }
  if (tail) std::memcpy(planes + n * k, payload, tail);
  return Status::OK();
}

}  // namespace ckpt::internal
