// CheckpointReader::StreamEntries, ReadEntries and whole-checkpoint loads:
// every byte once and bit-exact, errors of a read or of the sink stop the
// stream, bad buffers are refused before anything is read.
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

// A checkpoint with a tensor of many chunks (the fixture's chunks are
// 64 KiB), one smaller than a chunk, an empty one and a blob.
struct Contents {
  std::vector<uint8_t> big = RandomBytes(17 * 64 * 1024 + 123, 1);
  std::vector<uint8_t> small = RandomBytes(100, 2);
  std::vector<uint8_t> rng = RandomBytes(48, 3);

  SaveRequest Request() const {
    SaveRequest r;
    r.run = "run";
    r.step = 1;
    r.tensors.push_back({"big", DType::kU8, {int64_t(big.size())}, big.data(), big.size()});
    r.tensors.push_back({"empty", DType::kF32, {0}, nullptr, 0});
    r.tensors.push_back({"small", DType::kU8, {100}, small.data(), small.size()});
    r.blobs.push_back({"rng", rng.data(), rng.size()});
    return r;
  }
};

std::unique_ptr<CheckpointReader> MustOpenReader(Store& store, const std::string& ref) {
  auto reader = store.OpenCheckpoint(ref);
  REQUIRE(reader.ok());
  return std::move(reader).value();
}

// A store holding Contents as run@1, and a reader of it.
struct SavedContents {
  TempDir dir;
  std::unique_ptr<Store> store = MustOpen(dir.path());
  const Contents c;
  std::unique_ptr<CheckpointReader> reader;

  SavedContents() {
    REQUIRE(store->Save(c.Request()).ok());
    reader = MustOpenReader(*store, "run@1");
  }
};

std::string OnlyPack(const std::string& dir) {
  auto names = NewLocalBackend(dir)->List("packs/");
  REQUIRE(names.ok());
  REQUIRE(names->size() == 1);
  return dir + "/" + names->front();
}

}  // namespace

TEST_CASE("StreamEntries hands over every byte once, bit-exact", "[unit][store]") {
  SavedContents saved;
  const Contents& c = saved.c;
  auto& reader = saved.reader;

  const std::vector<std::string> names = {"big", "empty", "small", "rng"};
  const std::vector<const std::vector<uint8_t>*> want = {&c.big, nullptr, &c.small, &c.rng};
  std::vector<std::vector<uint8_t>> got = {std::vector<uint8_t>(c.big.size()),
                                           {},
                                           std::vector<uint8_t>(c.small.size()),
                                           std::vector<uint8_t>(c.rng.size())};
  std::vector<std::vector<int>> hits(names.size());
  for (size_t i = 0; i < names.size(); ++i) hits[i].assign(got[i].size(), 0);
  std::mutex mu;
  std::vector<uint64_t> progress;
  LoadOptions options;
  options.progress = [&](uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> lock(mu);
    progress.push_back(done);
    CHECK(total == c.big.size() + c.small.size() + c.rng.size());
  };
  Status s = reader->StreamEntries(
      names,
      [&](size_t entry, uint64_t offset, const void* data, size_t length) {
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(entry < names.size());
        REQUIRE(offset + length <= got[entry].size());
        std::memcpy(got[entry].data() + offset, data, length);
        for (size_t k = 0; k < length; ++k) ++hits[entry][offset + k];
        return Status::OK();
      },
      options);
  REQUIRE(s.ok());
  for (size_t i = 0; i < names.size(); ++i) {
    INFO(names[i]);
    if (want[i] != nullptr) CHECK(got[i] == *want[i]);
    CHECK(std::all_of(hits[i].begin(), hits[i].end(), [](int h) { return h == 1; }));
  }
  REQUIRE(!progress.empty());
  CHECK(std::is_sorted(progress.begin(), progress.end()));
  CHECK(progress.back() == c.big.size() + c.small.size() + c.rng.size());
}

TEST_CASE("StreamEntries returns the sink's error and stops", "[unit][store]") {
  SavedContents saved;
  auto& reader = saved.reader;
  std::mutex mu;
  size_t calls = 0;
  Status s = reader->StreamEntries({"big"}, [&](size_t, uint64_t, const void*, size_t) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    return Status::NoSpace("sink is full");
  });
  CHECK(s.code() == Code::kNoSpace);
  CHECK_THAT(s.message(), Catch::Contains("sink is full") && Catch::Contains("big"));
  // Once one chunk failed no other starts: at most one more per thread.
  CHECK(calls < 18);
}

TEST_CASE("StreamEntries refuses an unknown entry before reading", "[unit][store]") {
  SavedContents saved;
  auto& reader = saved.reader;
  bool called = false;
  Status s = reader->StreamEntries({"small", "nope"}, [&](size_t, uint64_t, const void*, size_t) {
    called = true;
    return Status::OK();
  });
  CHECK(s.code() == Code::kNotFound);
  CHECK_THAT(s.message(), Catch::Contains("nope"));
  CHECK_FALSE(called);
}

TEST_CASE("StreamEntries names the checkpoint and tensor of a damaged chunk", "[unit][store]") {
  TempDir dir;
  const Contents c;
  {
    auto store = MustOpen(dir.path());
    REQUIRE(store->Save(c.Request()).ok());
  }
  {
    // Random bytes are stored as they are: flip one inside a chunk of "big".
    std::fstream f(OnlyPack(dir.path()), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(5000);
    char ch;
    f.read(&ch, 1);
    ch = static_cast<char>(ch ^ 1);
    f.seekp(5000);
    f.write(&ch, 1);
  }
  auto store = MustOpen(dir.path());
  auto reader = MustOpenReader(*store, "run@1");
  Status s = reader->StreamEntries(
      {"small", "big"}, [](size_t, uint64_t, const void*, size_t) { return Status::OK(); });
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(), Catch::Contains("run@1") && Catch::Contains("'big'"));
}

TEST_CASE("ReadEntries decodes every entry into the caller's buffers", "[unit][store]") {
  SavedContents saved;
  const Contents& c = saved.c;
  std::vector<uint8_t> big(c.big.size()), small(c.small.size()), rng(c.rng.size());
  std::mutex mu;
  uint64_t last = 0, total = 0;
  LoadOptions options;
  options.progress = [&](uint64_t done, uint64_t all) {
    std::lock_guard<std::mutex> lock(mu);
    last = done;
    total = all;
  };
  Status s = saved.reader->ReadEntries({{"small", small.data(), small.size()},
                                        {"empty", nullptr, 0},
                                        {"big", big.data(), big.size()},
                                        {"rng", rng.data(), rng.size()}},
                                       options);
  REQUIRE(s.ok());
  CHECK(big == c.big);
  CHECK(small == c.small);
  CHECK(rng == c.rng);
  CHECK(total == c.big.size() + c.small.size() + c.rng.size());
  CHECK(last == total);
}

TEST_CASE("ReadEntries refuses a wrong size or an unknown name before reading", "[unit][store]") {
  SavedContents saved;
  const Contents& c = saved.c;
  std::vector<uint8_t> small(c.small.size(), 0xAA), big(c.big.size() - 1, 0xAA);
  Status s = saved.reader->ReadEntries(
      {{"small", small.data(), small.size()}, {"big", big.data(), big.size()}});
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("'big'"));
  CHECK(std::all_of(small.begin(), small.end(), [](uint8_t b) { return b == 0xAA; }));
  s = saved.reader->ReadEntries({{"small", small.data(), small.size()}, {"nope", nullptr, 0}});
  CHECK(s.code() == Code::kNotFound);
  CHECK(std::all_of(small.begin(), small.end(), [](uint8_t b) { return b == 0xAA; }));
  s = saved.reader->ReadEntries({{"small", nullptr, small.size()}});
  CHECK(s.code() == Code::kInvalidArgument);
}

TEST_CASE("Load reads every entry and reports progress over all of them", "[unit][store]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  const Contents c;
  REQUIRE(store->Save(c.Request()).ok());
  std::vector<uint64_t> progress;
  std::mutex mu;
  LoadOptions options;
  options.progress = [&](uint64_t done, uint64_t) {
    std::lock_guard<std::mutex> lock(mu);
    progress.push_back(done);
  };
  auto loaded = store->Load("run@1", options);
  REQUIRE(loaded.ok());
  REQUIRE(loaded->tensors.size() == 3);
  CHECK(loaded->tensors[0].data == c.big);
  CHECK(loaded->tensors[1].data.empty());
  CHECK(loaded->tensors[2].data == c.small);
  REQUIRE(loaded->blobs.size() == 1);
  CHECK(loaded->blobs[0].data == c.rng);
  CHECK(std::is_sorted(progress.begin(), progress.end()));
  CHECK(progress.back() == c.big.size() + c.small.size() + c.rng.size());
}
