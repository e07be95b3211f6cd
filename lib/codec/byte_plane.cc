#include "codec/byte_plane.h"

#include <cstring>

namespace ckpt::internal {

namespace {

// Fixed element sizes let the compiler unroll the inner loop.
template <size_t kElem>
void Split(const uint8_t* src, size_t count, uint8_t* dst) {
  for (size_t i = 0; i < count; ++i)
    for (size_t j = 0; j < kElem; ++j) dst[j * count + i] = src[i * kElem + j];
}

template <size_t kElem>
void Join(const uint8_t* src, size_t count, uint8_t* dst) {
  for (size_t i = 0; i < count; ++i)
    for (size_t j = 0; j < kElem; ++j) dst[i * kElem + j] = src[j * count + i];
}

}  // namespace

void BytePlaneSplit(const uint8_t* src, size_t size, size_t elem_size, uint8_t* dst) {
  size_t count = elem_size ? size / elem_size : 0;
  switch (elem_size) {
    case 2: Split<2>(src, count, dst); break;
    case 4: Split<4>(src, count, dst); break;
    case 8: Split<8>(src, count, dst); break;
    default: count = 0; break;
  }
  size_t done = count * elem_size;
  if (size > done) std::memcpy(dst + done, src + done, size - done);  // memcpy forbids null
}

void BytePlaneJoin(const uint8_t* src, size_t size, size_t elem_size, uint8_t* dst) {
  size_t count = elem_size ? size / elem_size : 0;
  switch (elem_size) {
    case 2: Join<2>(src, count, dst); break;
    case 4: Join<4>(src, count, dst); break;
    case 8: Join<8>(src, count, dst); break;
    default: count = 0; break;
  }
  size_t done = count * elem_size;
  if (size > done) std::memcpy(dst + done, src + done, size - done);  // memcpy forbids null
}

}  // namespace ckpt::internal
