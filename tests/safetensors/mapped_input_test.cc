// The import's input mapping: whole for small files, in windows for large
// ones, reading every byte right and leaving behind no page it passed.
#include "safetensors/mapped_input.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "test_util.h"

namespace ckpt::internal {
namespace {

// How many of the pages of [p, p+len) are in the page cache.
size_t ResidentPages(const char* p, size_t len) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((len + page - 1) / page);
  REQUIRE(mincore(const_cast<char*>(p), len, vec.data()) == 0);
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

TEST_CASE("mapped input: a small file is mapped whole", "[unit]") {
  test::TempDir dir;
  const auto bytes = test::RandomBytes(3 << 20, 1);
  test::WriteFileBytes(dir.Sub("f"), bytes.data(), bytes.size());
  MappedInput in;
  REQUIRE(in.Map(dir.Sub("f")).ok());
  REQUIRE(in.size() == bytes.size());
  CHECK(std::memcmp(in.data(), bytes.data(), bytes.size()) == 0);
}

TEST_CASE("mapped input: a large file is read in windows and dropped behind the reader", "[unit]") {
  test::TempDir dir;
  constexpr size_t kMiB = 1 << 20;
  const auto bytes = test::RandomBytes(24 * kMiB, 2);
  test::WriteFileBytes(dir.Sub("f"), bytes.data(), bytes.size());
  // Written back, so that its clean pages can be dropped.
  const int fd = open(dir.Sub("f").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(fdatasync(fd) == 0);
  close(fd);
  MappingWindows windows;
  windows.whole_map_limit = 4 * kMiB;
  windows.window = kMiB;
  windows.windows_ahead = 2;
  MappedInput in(windows);
  REQUIRE(in.Map(dir.Sub("f")).ok());
  REQUIRE(in.size() == bytes.size());
  for (size_t off = 0; off < bytes.size(); off += kMiB) {
    REQUIRE(std::memcmp(in.data() + off, bytes.data() + off, kMiB) == 0);
    in.Advance(off + kMiB);
  }
  // The populator drops what the reader passed, two windows behind it.
  REQUIRE(test::WaitUntil([&] { return ResidentPages(in.data(), 20 * kMiB) == 0; }));
  CHECK(std::memcmp(in.data(), bytes.data(), bytes.size()) == 0);  // faults back in
}

TEST_CASE("mapped input: errors", "[unit]") {
  test::TempDir dir;
  MappedInput missing;
  CHECK(missing.Map(dir.Sub("nope")).code() == Code::kNotFound);
  MappedInput directory;
  CHECK(directory.Map(dir.path()).code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace ckpt::internal
