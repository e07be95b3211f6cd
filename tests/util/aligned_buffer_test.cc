// util/aligned_buffer: storage on a 4 KiB boundary that keeps its contents
// as it grows and its memory when cleared or moved; large regions faulted in
// ahead of writes.
#include "util/aligned_buffer.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <thread>

using ckpt::internal::AlignedBuffer;

TEST_CASE("AlignedBuffer grows aligned and keeps what it holds", "[unit][util]") {
  AlignedBuffer buffer;
  CHECK(buffer.size() == 0);
  std::string want;
  for (int i = 0; i < 1000; ++i) {
    const std::string piece(static_cast<size_t>(i % 97 + 1), static_cast<char>('a' + i % 26));
    buffer.append(piece);
    want += piece;
    REQUIRE(reinterpret_cast<uintptr_t>(buffer.data()) % AlignedBuffer::kAlignment == 0);
  }
  CHECK(buffer.view() == want);
  CHECK(buffer.capacity() % AlignedBuffer::kAlignment == 0);

  const char* memory = buffer.data();
  const size_t capacity = buffer.capacity();
  buffer.clear();
  CHECK(buffer.size() == 0);
  buffer.reserve(capacity);  // no growth: same memory
  CHECK(buffer.data() == memory);

  AlignedBuffer moved(std::move(buffer));
  CHECK(moved.data() == memory);
  CHECK(moved.capacity() == capacity);
  CHECK(buffer.data() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  AlignedBuffer assigned;
  assigned = std::move(moved);
  CHECK(assigned.data() == memory);
}

TEST_CASE("AlignedBuffer keeps its contents when it grows into huge pages", "[unit][util]") {
  AlignedBuffer buffer;
  std::string want(100000, 'x');
  for (size_t i = 0; i < want.size(); ++i) want[i] = static_cast<char>(i * 131 % 251);
  buffer.append(want);
  REQUIRE(buffer.capacity() < ckpt::internal::kHugePageSize);

  buffer.reserve(3 * ckpt::internal::kHugePageSize + 1);  // heap -> mapping
  CHECK(buffer.capacity() == 4 * ckpt::internal::kHugePageSize);
  CHECK(reinterpret_cast<uintptr_t>(buffer.data()) % ckpt::internal::kHugePageSize == 0);
  CHECK(buffer.view() == want);

  const std::string more(5 * ckpt::internal::kHugePageSize, 'y');  // mapping -> larger mapping
  buffer.append(more);
  want += more;
  CHECK(buffer.view() == want);
  CHECK(reinterpret_cast<uintptr_t>(buffer.data()) % ckpt::internal::kHugePageSize == 0);

  AlignedBuffer assigned;
  assigned.append("small", 5);
  assigned = std::move(buffer);  // frees the heap block, takes the mapping
  CHECK(assigned.view() == want);
}

TEST_CASE("PopulateLargeRegion faults pages in and keeps what they hold", "[unit][util]") {
  size_t mapped = 0;
  auto* p = static_cast<uint8_t*>(ckpt::internal::MapLargeRegion(8 << 20, false, &mapped));
  REQUIRE(p != nullptr);
  auto expected = [](size_t i) { return static_cast<uint8_t>(i * 7 + 1); };
  const size_t half = mapped / 2;
  for (size_t i = 0; i < half; ++i) p[i] = expected(i);
  // A writer fills the second half while the whole region is populated.
  std::thread writer([&] {
    for (size_t i = half; i < mapped; ++i) p[i] = expected(i);
  });
  ckpt::internal::PopulateLargeRegion(p, mapped);
  writer.join();
  size_t wrong = 0;
  for (size_t i = 0; i < mapped; ++i) wrong += p[i] != expected(i);
  CHECK(wrong == 0);
  ckpt::internal::UnmapLargeRegion(p, mapped);
}
