// The staging area and queue behind Store::SaveAsync, with a stand-in for
// the save itself: what reaches the save is a private copy (or, for hinted
// tensors, deliberately not), a full staging area blocks the caller until a
// save frees room, saves run in submission order, and errors and
// destruction behave as documented.
#include "store/async_saver.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "test_util.h"

using namespace ckpt;
using ckpt::internal::AsyncSaver;
using ckpt::internal::ThreadPool;
using ckpt::test::RandomBytes;

namespace {

// Holds saves back until opened.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// What one call of the stand-in save saw. It reads every tensor, hinted or
// not; the tests keep the callers' buffers alive and unchanged where that
// matters.
struct SeenSave {
  uint64_t step = 0;
  std::vector<const void*> tensor_data;
  std::vector<bool> hints;
  std::vector<std::vector<uint8_t>> tensor_bytes;  // read at save time
  std::vector<std::vector<uint8_t>> blob_bytes;
  SaveRequest request;  // the views themselves
};

class Recorder {
 public:
  // Returns the save function; `gate` (may be null) holds back step `gated`.
  AsyncSaver::SaveFn Fn(Gate* gate = nullptr, uint64_t gated = 0) {
    return [this, gate, gated](const SaveRequest& r, const SaveOptions&) -> Result<CheckpointInfo> {
      if (gate != nullptr && r.step == gated) gate->Pass();
      SeenSave seen;
      seen.step = r.step;
      seen.request = r;
      for (const auto& t : r.tensors) {
        seen.tensor_data.push_back(t.data);
        seen.hints.push_back(t.unchanged_since_parent);
        if (t.data == nullptr) {
          seen.tensor_bytes.emplace_back();  // a hinted tensor, not staged
          continue;
        }
        seen.tensor_bytes.emplace_back(static_cast<const uint8_t*>(t.data),
                                       static_cast<const uint8_t*>(t.data) + t.size);
      }
      for (const auto& b : r.blobs)
        seen.blob_bytes.emplace_back(static_cast<const uint8_t*>(b.data),
                                     static_cast<const uint8_t*>(b.data) + b.size);
      std::lock_guard<std::mutex> lock(mu_);
      saves_.push_back(std::move(seen));
      if (fail_step_ && *fail_step_ == r.step) return Status::NoSpace("injected for the test");
      CheckpointInfo info;
      info.run = r.run;
      info.step = r.step;
      return info;
    };
  }
  void FailAt(uint64_t step) { fail_step_ = step; }
  std::vector<SeenSave> saves() {
    std::lock_guard<std::mutex> lock(mu_);
    return saves_;
  }
  std::vector<uint64_t> order() {
    std::vector<uint64_t> steps;
    for (const auto& s : saves()) steps.push_back(s.step);
    return steps;
  }

 private:
  std::mutex mu_;
  std::vector<SeenSave> saves_;
  std::optional<uint64_t> fail_step_;
};

SaveRequest BlobRequest(uint64_t step, const std::vector<uint8_t>& bytes) {
  SaveRequest r;
  r.run = "run";
  r.step = step;
  r.blobs.push_back({"b", bytes.data(), bytes.size()});
  return r;
}

}  // namespace

TEST_CASE("async saver: the save gets private copies of every byte and all metadata",
          "[unit][async][threads]") {
  ThreadPool pool(2);
  Recorder rec;
  std::vector<uint8_t> w = RandomBytes(20 << 20, 1);  // large enough to copy on the pool
  std::vector<uint8_t> e = RandomBytes(3000, 2);
  std::vector<uint8_t> blob = RandomBytes(77, 3);
  const auto w0 = w, e0 = e, blob0 = blob;
  {
    AsyncSaver saver(64 << 20, &pool, rec.Fn());
    SaveRequest r;
    r.run = "run";
    r.step = 5;
    r.parent = "run@4";
    r.tensors.push_back({"w", DType::kF32, {5, 1 << 20}, w.data(), w.size()});
    r.tensors.push_back({"e", DType::kBF16, {1500}, e.data(), e.size()});
    r.tensors.push_back({"empty", DType::kF32, {0}, nullptr, 0});
    r.blobs.push_back({"rng", blob.data(), blob.size()});
    r.meta.metrics["loss"] = 0.5;
    r.meta.attributes["git"] = "abc";
    r.meta.wall_time_ns = 123;
    auto handle = saver.Submit(r, {});
    REQUIRE(handle.ok());
    // The caller may reuse its buffers at once.
    std::memset(w.data(), 0xAB, w.size());
    std::memset(e.data(), 0xCD, e.size());
    std::memset(blob.data(), 0xEF, blob.size());
    auto info = handle->Wait();
    REQUIRE(info.ok());
    CHECK(info->step == 5);
    CHECK(handle->Ready());
  }
  auto saves = rec.saves();
  REQUIRE(saves.size() == 1);
  const SeenSave& s = saves[0];
  CHECK(s.tensor_bytes[0] == w0);
  CHECK(s.tensor_bytes[1] == e0);
  CHECK(s.tensor_bytes[2].empty());
  CHECK(s.blob_bytes[0] == blob0);
  CHECK(s.tensor_data[0] != static_cast<const void*>(w.data()));
  CHECK(s.tensor_data[1] != static_cast<const void*>(e.data()));
  CHECK(reinterpret_cast<uintptr_t>(s.tensor_data[0]) % 64 == 0);
  CHECK(reinterpret_cast<uintptr_t>(s.tensor_data[1]) % 64 == 0);
  const SaveRequest& q = s.request;
  CHECK(q.run == "run");
  CHECK(q.parent == "run@4");
  REQUIRE(q.tensors.size() == 3);
  CHECK(q.tensors[0].name == "w");
  CHECK(q.tensors[0].shape == std::vector<int64_t>{5, 1 << 20});
  CHECK(q.tensors[1].dtype == DType::kBF16);
  CHECK(q.blobs[0].name == "rng");
  CHECK(q.meta.metrics.at("loss") == 0.5);
  CHECK(q.meta.attributes.at("git") == "abc");
  CHECK(q.meta.wall_time_ns == 123);
}

TEST_CASE("async saver: hinted-unchanged tensors are not copied unless hints are checked",
          "[unit][async][threads]") {
  Recorder rec;
  std::vector<uint8_t> frozen = RandomBytes(1 << 20, 1);
  std::vector<uint8_t> head = RandomBytes(4096, 2);
  auto request = [&](uint64_t step) {
    SaveRequest r;
    r.run = "run";
    r.step = step;
    r.tensors.push_back({"frozen", DType::kF32, {1 << 18}, frozen.data(), frozen.size()});
    r.tensors.back().unchanged_since_parent = true;
    r.tensors.push_back({"head", DType::kF32, {1024}, head.data(), head.size()});
    return r;
  };
  // Room for the head only: a copied frozen tensor could not be staged.
  AsyncSaver saver(8192, nullptr, rec.Fn());

  auto plain = saver.Submit(request(1), {});
  REQUIRE(plain.ok());
  CHECK(saver.peak_staged_bytes() == 4096);
  REQUIRE(plain->Wait().ok());

  SaveOptions check;
  check.check_unchanged_hints = true;
  auto checked = saver.Submit(request(2), check);  // too large now: saved in place
  REQUIRE(checked.ok());
  CHECK(checked->Ready());
  REQUIRE(checked->Wait().ok());

  auto saves = rec.saves();
  REQUIRE(saves.size() == 2);
  // Not copied: the save gets the hint and no pointer (the caller's buffer
  // is never read after Submit returns), and takes no staging for it.
  CHECK(saves[0].hints == std::vector<bool>{true, false});
  CHECK(saves[0].tensor_data[0] == nullptr);
  CHECK(saves[0].tensor_data[1] != static_cast<const void*>(head.data()));
  // With the hint to be checked, the tensor counts as staged bytes: here
  // more than the whole area, so the save ran from the caller's buffers.
  CHECK(saves[1].hints == std::vector<bool>{true, false});
  CHECK(saves[1].tensor_data[0] == static_cast<const void*>(frozen.data()));
  CHECK(saves[1].tensor_data[1] == static_cast<const void*>(head.data()));
}

TEST_CASE("async saver: checked hints are copied like any tensor", "[unit][async][threads]") {
  Recorder rec;
  std::vector<uint8_t> frozen = RandomBytes(1 << 16, 1);
  const auto frozen0 = frozen;
  SaveOptions check;
  check.check_unchanged_hints = true;
  {
    AsyncSaver saver(1 << 20, nullptr, rec.Fn());
    SaveRequest r;
    r.run = "run";
    r.step = 1;
    r.tensors.push_back({"frozen", DType::kU8, {1 << 16}, frozen.data(), frozen.size()});
    r.tensors.back().unchanged_since_parent = true;
    auto handle = saver.Submit(r, check);
    REQUIRE(handle.ok());
    CHECK(saver.peak_staged_bytes() == frozen.size());
    std::memset(frozen.data(), 0, frozen.size());
  }
  auto saves = rec.saves();
  REQUIRE(saves.size() == 1);
  CHECK(saves[0].hints == std::vector<bool>{true});
  CHECK(saves[0].tensor_data[0] != static_cast<const void*>(frozen.data()));
  CHECK(saves[0].tensor_bytes[0] == frozen0);
}

TEST_CASE("async saver: a full staging area blocks the caller until a save frees room",
          "[unit][async][threads]") {
  Gate gate;
  Recorder rec;
  AsyncSaver saver(4096, nullptr, rec.Fn(&gate, 0));
  std::vector<uint8_t> bytes = RandomBytes(1500, 1);  // 1536 staged bytes each
  std::vector<SaveHandle> handles;
  handles.push_back(*saver.Submit(BlobRequest(0, bytes), {}));  // runs, held at the gate
  handles.push_back(*saver.Submit(BlobRequest(1, bytes), {}));  // queued
  CHECK(saver.staged_bytes() == 2 * 1536);

  std::atomic<bool> returned{false};
  std::optional<Result<SaveHandle>> third;
  size_t saves_done_at_return = 0;
  std::thread submitter([&] {
    third = saver.Submit(BlobRequest(2, bytes), {});
    saves_done_at_return = rec.saves().size();
    returned = true;
  });
  // 1536 more do not fit in 4096: the third Submit cannot return while
  // save 0 is held at the gate, however long this thread looks.
  CHECK_FALSE(returned);
  CHECK_FALSE(handles[0].Ready());
  gate.Open();
  submitter.join();
  // It returned only once a save had ended and freed its staging.
  CHECK(saves_done_at_return >= 1);
  REQUIRE(third->ok());
  handles.push_back(**third);
  for (auto& h : handles) CHECK(h.Wait().ok());
  CHECK(rec.order() == std::vector<uint64_t>{0, 1, 2});
  CHECK(saver.peak_staged_bytes() == 2 * 1536);
  CHECK(saver.staged_bytes() == 0);
}

TEST_CASE("async saver: a request larger than the staging area is saved in place, in turn",
          "[unit][async][threads]") {
  Gate gate;
  Recorder rec;
  AsyncSaver saver(4096, nullptr, rec.Fn(&gate, 0));
  std::vector<uint8_t> small = RandomBytes(1000, 1);
  std::vector<uint8_t> big = RandomBytes(5000, 2);
  auto first = saver.Submit(BlobRequest(0, small), {});
  REQUIRE(first.ok());
  std::atomic<bool> returned{false};
  std::optional<Result<SaveHandle>> oversize;
  std::vector<uint64_t> order_at_return;
  std::thread submitter([&] {
    oversize = saver.Submit(BlobRequest(1, big), {});
    order_at_return = rec.order();
    returned = true;
  });
  // It waits for the save queued before it, held at the gate.
  CHECK_FALSE(returned);
  gate.Open();
  submitter.join();
  CHECK(order_at_return == std::vector<uint64_t>{0, 1});  // both had run when it returned
  REQUIRE(oversize->ok());
  CHECK((*oversize)->Ready());  // it has run by the time SaveAsync returns
  REQUIRE((*oversize)->Wait().ok());
  auto saves = rec.saves();
  REQUIRE(saves.size() == 2);
  CHECK(rec.order() == std::vector<uint64_t>{0, 1});
  CHECK(saves[1].request.blobs[0].data == static_cast<const void*>(big.data()));
  CHECK(saves[1].blob_bytes[0] == big);
  CHECK(saver.peak_staged_bytes() == 1024);
}

TEST_CASE("async saver: errors come through the handle and later saves still run",
          "[unit][async][threads]") {
  Recorder rec;
  rec.FailAt(1);
  AsyncSaver saver(1 << 20, nullptr, rec.Fn());
  std::vector<uint8_t> bytes = RandomBytes(100, 1);
  std::vector<SaveHandle> handles;
  for (uint64_t step = 0; step < 3; ++step)
    handles.push_back(*saver.Submit(BlobRequest(step, bytes), {}));
  CHECK(handles[0].Wait().ok());
  auto failed = handles[1].Wait();
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == Code::kNoSpace);
  CHECK(handles[1].Wait().status().code() == Code::kNoSpace);  // the same each time
  SaveHandle copy = handles[1];
  CHECK(copy.Wait().status().code() == Code::kNoSpace);
  CHECK(handles[2].Wait().ok());
}

TEST_CASE("async saver: invalid requests are refused at once and queue nothing",
          "[unit][async][threads]") {
  Recorder rec;
  AsyncSaver saver(1 << 20, nullptr, rec.Fn());
  std::vector<uint8_t> bytes = RandomBytes(100, 1);
  auto bad = BlobRequest(1, bytes);
  bad.run = "bad run";
  CHECK(saver.Submit(bad, {}).status().code() == Code::kInvalidArgument);
  bad = BlobRequest(1, bytes);
  bad.tensors.push_back({"b", DType::kU8, {100}, bytes.data(), bytes.size()});  // duplicate name
  auto dup = saver.Submit(bad, {});
  CHECK(dup.status().code() == Code::kInvalidArgument);
  CHECK_THAT(dup.status().message(), Catch::Contains("run@1"));
  bad = BlobRequest(1, bytes);
  bad.tensors.push_back({"t", DType::kF32, {100}, bytes.data(), bytes.size()});  // 400 != 100
  CHECK(saver.Submit(bad, {}).status().code() == Code::kInvalidArgument);
  CHECK(saver.Submit(BlobRequest(2, bytes), {})->Wait().ok());
  CHECK(rec.order() == std::vector<uint64_t>{2});
}

TEST_CASE("async saver: destruction waits for every queued save", "[unit][async][threads]") {
  Recorder rec;
  std::vector<SaveHandle> handles;
  std::vector<uint8_t> bytes = RandomBytes(10000, 1);
  {
    Gate gate;
    AsyncSaver saver(1 << 20, nullptr, rec.Fn(&gate, 0));
    for (uint64_t step = 0; step < 10; ++step)
      handles.push_back(*saver.Submit(BlobRequest(step, bytes), {}));
    CHECK_FALSE(handles[9].Ready());  // all ten queued behind the gate
    gate.Open();                      // the saves run while the saver is being destroyed
  }
  CHECK(rec.order() == std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  for (auto& h : handles) {
    CHECK(h.Ready());  // handles outlive the saver
    CHECK(h.Wait().ok());
  }
}

TEST_CASE("async saver: the ring never hands out bytes still queued", "[unit][async][threads]") {
  // Saves check the bytes they get against a pattern of their step, while
  // submitters of random sizes keep the ring wrapping.
  const int threads = GENERATE(1, 3);
  constexpr uint64_t kCapacity = 1 << 20;
  auto pattern = [](uint64_t step, size_t blob, size_t i) {
    return static_cast<uint8_t>(step * 131 + blob * 17 + i * 7);
  };
  std::atomic<uint64_t> mismatches{0}, max_seen{0};
  std::mutex order_mu;
  std::vector<uint64_t> order;
  AsyncSaver* saver_ptr = nullptr;
  AsyncSaver saver(kCapacity, nullptr,
                   [&](const SaveRequest& r, const SaveOptions&) -> Result<CheckpointInfo> {
                     for (size_t b = 0; b < r.blobs.size(); ++b) {
                       const auto* p = static_cast<const uint8_t*>(r.blobs[b].data);
                       for (size_t i = 0; i < r.blobs[b].size; ++i)
                         if (p[i] != pattern(r.step, b, i)) {
                           mismatches++;
                           break;
                         }
                     }
                     uint64_t staged = saver_ptr->staged_bytes();
                     uint64_t prev = max_seen.load();
                     while (staged > prev && !max_seen.compare_exchange_weak(prev, staged)) {
                     }
                     // Saves of varying length, so submitters run ahead by
                     // varying amounts and the ring wraps at varying points.
                     for (uint64_t k = 0; k < r.step % 200; ++k) std::this_thread::yield();
                     std::lock_guard<std::mutex> lock(order_mu);
                     order.push_back(r.step);
                     return CheckpointInfo{};
                   });
  saver_ptr = &saver;
  constexpr uint64_t kPerThread = 150;
  std::vector<std::thread> submitters;
  std::atomic<uint64_t> failures{0};
  for (int t = 0; t < threads; ++t) {
    submitters.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      std::vector<std::vector<uint8_t>> buffers(3);
      std::vector<SaveHandle> handles;
      for (uint64_t k = 0; k < kPerThread; ++k) {
        uint64_t step = static_cast<uint64_t>(t) * kPerThread + k;
        SaveRequest r;
        r.run = "run";
        r.step = step;
        size_t blobs = rng() % 4;
        for (size_t b = 0; b < blobs; ++b) {
          buffers[b].resize(rng() % (kCapacity / 3));
          for (size_t i = 0; i < buffers[b].size(); ++i) buffers[b][i] = pattern(step, b, i);
          r.blobs.push_back({"b" + std::to_string(b), buffers[b].data(), buffers[b].size()});
        }
        auto h = saver.Submit(r, {});
        if (!h.ok())
          failures++;
        else
          handles.push_back(*h);
        for (auto& buf : buffers) std::fill(buf.begin(), buf.end(), 0x5A);
      }
      for (auto& h : handles)
        if (!h.Wait().ok()) failures++;
    });
  }
  for (auto& s : submitters) s.join();
  CHECK(failures == 0);
  CHECK(mismatches == 0);
  CHECK(max_seen <= kCapacity);
  CHECK(saver.peak_staged_bytes() <= kCapacity);
  REQUIRE(order.size() == threads * kPerThread);
  if (threads == 1)
    for (uint64_t k = 0; k < kPerThread; ++k) CHECK(order[k] == k);
}
