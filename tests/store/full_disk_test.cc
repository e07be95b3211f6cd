// A real full disk: the store lives on a small tmpfs and saves until the
// device is full. The failing save reports kNoSpace and changes nothing;
// after space is freed the store reopens, verifies, and saves again.
#include <sys/mount.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;

namespace {

class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& dir, const char* size) : dir_(dir) {
    std::filesystem::create_directories(dir);
    std::string options = std::string("size=") + size;
    mounted_ = mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallTmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

}  // namespace

TEST_CASE("ENOSPC on a real full device loses nothing", "[fault][enospc]") {
  if (geteuid() != 0) {
    WARN("not root: cannot mount a small tmpfs; the injected ENOSPC tests still ran");
    return;
  }
  TempDir dir;
  SmallTmpfs fs(dir.Sub("mnt"), "12m");
  REQUIRE(fs.mounted());
  const std::string store_dir = dir.Sub("mnt/store");
  const std::string filler = dir.Sub("mnt/filler");
  {
    std::vector<uint8_t> bytes(3 << 20, 1);
    WriteFileBytes(filler, bytes.data(), bytes.size());
  }
  std::vector<uint64_t> committed;
  Status failure;
  {
    auto store = MustOpen(store_dir);
    for (uint64_t step = 0; step < 50; ++step) {
      auto info = store->Save(StepState(step, 100 + step).Request("run", step));
      if (!info.ok()) {
        failure = info.status();
        break;
      }
      committed.push_back(step);
    }
  }
  INFO(failure.ToString());
  REQUIRE_FALSE(failure.ok());
  CHECK(failure.code() == Code::kNoSpace);
  REQUIRE(committed.size() >= 2);

  std::filesystem::remove(filler);
  auto store = MustOpen(store_dir);
  auto report = store->Verify(ReadAllData());
  REQUIRE(report.ok());
  for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
  for (uint64_t step : committed) {
    auto loaded = store->Load("run@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step, 100 + step).Matches(*loaded));
  }
  uint64_t retry = committed.back() + 1;
  REQUIRE(store->Save(StepState(retry, 100 + retry).Request("run", retry)).ok());
}
