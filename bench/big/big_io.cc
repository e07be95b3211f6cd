// ckpt_bench_big_io: a Save and a Load of a request larger than memory
// through the public API, as a program holding its tensors in file-backed
// memory would do them: the tensors are views into a read-only mapping of
// a file, and the load writes into a shared, writable mapping of another.
//
//   ckpt_bench_big_io save STORE FILE RUN STEP   FILE's bytes as 1 GiB U8 tensors
//   ckpt_bench_big_io load STORE REF OUT         the checkpoint's tensors, back to
//                                                back, into OUT (created)
//
// The bench script runs it in a memory-limited cgroup and records its peak
// anonymous memory: page cache does not count, heap does.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ckpt/ckpt.h"

namespace {

constexpr uint64_t kSlice = 1ull << 30;

int Fail(const std::string& what) {
  std::fprintf(stderr, "ckpt_bench_big_io: %s\n", what.c_str());
  return 1;
}

std::unique_ptr<ckpt::Store> OpenStore(const std::string& path) {
  ckpt::StoreOptions options;
  options.create_if_missing = true;
  auto store = ckpt::Store::Open(options, path);
  if (!store.ok()) {
    Fail(store.status().ToString());
    std::exit(1);
  }
  return std::move(*store);
}

int Save(const std::string& store_path, const std::string& file, const std::string& run,
         uint64_t step) {
  const int fd = open(file.c_str(), O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return Fail("cannot open " + file);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return Fail("cannot map " + file);
  madvise(map, size, MADV_SEQUENTIAL);
  ckpt::SaveRequest request;
  request.run = run;
  request.step = step;
  for (uint64_t off = 0, i = 0; off < size; off += kSlice, ++i) {
    const uint64_t len = std::min(kSlice, size - off);
    request.tensors.push_back({"slice." + std::to_string(i),
                               ckpt::DType::kU8,
                               {static_cast<int64_t>(len)},
                               static_cast<char*>(map) + off,
                               len});
  }
  auto store = OpenStore(store_path);
  auto info = store->Save(request);
  munmap(map, size);
  close(fd);
  if (!info.ok()) return Fail(info.status().ToString());
  std::printf("saved %s (%llu bytes)\n", info->id.c_str(),
              static_cast<unsigned long long>(info->logical_bytes));
  return 0;
}

int Load(const std::string& store_path, const std::string& ref, const std::string& out) {
  auto store = OpenStore(store_path);
  auto reader = store->OpenCheckpoint(ref);
  if (!reader.ok()) return Fail(reader.status().ToString());
  uint64_t size = 0;
  for (const auto& e : (*reader)->detail().entries) size += e.byte_length;
  const int fd = open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) return Fail("cannot create " + out);
  // Reserve the blocks now: a write through the mapping that finds the disk
  // full is a SIGBUS, not an error.
  if (const int err = posix_fallocate(fd, 0, static_cast<off_t>(size)); err != 0)
    return Fail("cannot reserve " + std::to_string(size) + " bytes for " + out + ": " +
                std::strerror(err));
  void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return Fail("cannot map " + out);
  std::vector<ckpt::EntryBuffer> buffers;
  uint64_t off = 0;
  for (const auto& e : (*reader)->detail().entries) {
    buffers.push_back({e.name, static_cast<char*>(map) + off, e.byte_length});
    off += e.byte_length;
  }
  const ckpt::Status s = (*reader)->ReadEntries(buffers);
  munmap(map, size);
  close(fd);
  if (!s.ok()) return Fail(s.ToString());
  std::printf("loaded %llu bytes\n", static_cast<unsigned long long>(size));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "save" && argc == 6) return Save(argv[2], argv[3], argv[4], std::stoull(argv[5]));
  if (cmd == "load" && argc == 5) return Load(argv[2], argv[3], argv[4]);
  std::fprintf(stderr, "usage: ckpt_bench_big_io save STORE FILE RUN STEP | load STORE REF OUT\n");
  return 2;
}
