#include "codec/plane_frames.h"

#include <cstring>

#include "codec/chunk_codec.h"

namespace ckpt::internal {
namespace {

constexpr size_t kLengthSize = 4;

void PutU32(std::string* out, size_t at, uint32_t v) {
  for (size_t i = 0; i < kLengthSize; ++i) (*out)[at + i] = static_cast<char>(v >> (8 * i));
}

uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// Frame lengths from the header, checked against the body's size.
Status FrameLengths(const uint8_t* encoded, size_t encoded_size, size_t k, size_t tail,
                    uint32_t* lengths) {
  const size_t header = k * kLengthSize;
  if (encoded_size < header) return Status::Corruption("plane frames: truncated header");
  uint64_t total = header + tail;
  for (size_t j = 0; j < k; ++j) total += lengths[j] = GetU32(encoded + j * kLengthSize);
  if (total != encoded_size)
    return Status::Corruption("plane frames: frame lengths add up to " + std::to_string(total) +
                              " bytes, the entry has " + std::to_string(encoded_size));
  return Status::OK();
}

}  // namespace

size_t EncodePlaneFrames(const uint8_t* planes, size_t size, size_t k, int level,
                         std::string* out) {
  const size_t n = size / k, start = out->size();
  out->resize(start + k * kLengthSize);
  thread_local std::string frame;
  for (size_t j = 0; j < k; ++j) {
    size_t m = codec_detail::ZstdInto(planes + j * n, n, level, &frame);
    if (m == 0 || m > UINT32_MAX) return 0;
    PutU32(out, start + j * kLengthSize, static_cast<uint32_t>(m));
    out->append(frame.data(), m);
  }
  out->append(reinterpret_cast<const char*>(planes + n * k), size - n * k);
  return out->size() - start;
}

Status DecodePlaneFrames(const uint8_t* encoded, size_t encoded_size, size_t k, uint8_t* planes,
                         size_t size) {
  const size_t n = size / k, tail = size - n * k;
  uint32_t lengths[8];
  CKPT_RETURN_IF_ERROR(FrameLengths(encoded, encoded_size, k, tail, lengths));
  const uint8_t* frame = encoded + k * kLengthSize;
  for (size_t j = 0; j < k; ++j) {
    CKPT_RETURN_IF_ERROR(codec_detail::ZstdFrom(frame, lengths[j], planes + j * n, n)
                             .WithContext("plane " + std::to_string(j)));
    frame += lengths[j];
  }
  if (tail) std::memcpy(planes + n * k, frame, tail);
  return Status::OK();
}

bool PlaneFramesSelfChecked(const uint8_t* encoded, size_t encoded_size, size_t k) {
  uint32_t lengths[8];
  // The tail is unknown here; any split of the remaining bytes will do.
  if (encoded_size < k * kLengthSize) return false;
  const uint8_t* frame = encoded + k * kLengthSize;
  const uint8_t* end = encoded + encoded_size;
  for (size_t j = 0; j < k; ++j) {
    lengths[j] = GetU32(encoded + j * kLengthSize);
    if (static_cast<size_t>(end - frame) < lengths[j] ||
        !codec_detail::HasContentChecksum(frame, lengths[j]))
      return false;
    frame += lengths[j];
  }
  return true;
}

}  // namespace ckpt::internal
