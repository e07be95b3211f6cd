// Store::SaveAsync end to end on a real store: what is loaded back is the
// state at the moment SaveAsync returned, whatever the caller writes after;
// back-pressure, ordering, errors through the handle, oversize requests,
// draining on destruction, auto gc, and the unchanged_since_parent hint.
#include <catch2/catch.hpp>
#include <cstring>

#include "doubles/fault_injecting_backend.h"
#include "store/store_fixture.h"

using namespace ckpt;
using namespace ckpt::test;
using ckpt::internal::FaultInjectingBackend;
using ckpt::internal::FaultKind;

namespace {

// The buffers of a trainer that reuses them from step to step.
struct Buffers {
  std::vector<uint8_t> weights = std::vector<uint8_t>(1 << 20);
  std::vector<uint8_t> embedding = std::vector<uint8_t>(64 * 2048 * 2);
  std::vector<uint8_t> rng = std::vector<uint8_t>(32);

  void Fill(const StepState& s) {
    std::memcpy(weights.data(), s.weights.data(), weights.size());
    std::memcpy(embedding.data(), s.embedding.data(), embedding.size());
    std::memcpy(rng.data(), s.rng.data(), rng.size());
  }
  void Scribble(uint8_t v) {
    std::memset(weights.data(), v, weights.size());
    std::memset(embedding.data(), v, embedding.size());
    std::memset(rng.data(), v, rng.size());
  }
  SaveRequest Request(const std::string& run, uint64_t step) const {
    SaveRequest r;
    r.run = run;
    r.step = step;
    r.tensors.push_back({"weights", DType::kF32, {512, 512}, weights.data(), weights.size()});
    r.tensors.push_back(
        {"embedding", DType::kBF16, {64, 2048}, embedding.data(), embedding.size()});
    r.blobs.push_back({"rng", rng.data(), rng.size()});
    r.meta.metrics["loss"] = 1.0 / static_cast<double>(step + 1);
    return r;
  }
};

constexpr uint64_t kStepBytes = (1 << 20) + 64 * 2048 * 2 + 64;  // staged, with alignment

void RequireLoads(Store& store, const std::vector<uint64_t>& steps, uint64_t base = 7) {
  for (uint64_t step : steps) {
    auto loaded = store.Load("run@" + std::to_string(step));
    REQUIRE(loaded.ok());
    CHECK(StepState(step, base).Matches(*loaded));
  }
}

void RequireVerifies(Store& store) {
  auto report = store.Verify(ReadAllData());
  REQUIRE(report.ok());
  for (const auto& p : report->problems) FAIL_CHECK(p.status.ToString());
}

}  // namespace

TEST_CASE("SaveAsync round-trips bit-exact and reports what Save would",
          "[integration][async][threads]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  StepState state(1);
  auto handle = store->SaveAsync(state.Request("run", 1));
  REQUIRE(handle.ok());
  auto info = handle->Wait();
  REQUIRE(info.ok());
  CHECK(handle->Ready());
  CHECK(info->run == "run");
  CHECK(info->step == 1);
  CHECK(info->logical_bytes == state.weights.size() + state.embedding.size() + state.rng.size());
  CHECK(info->new_raw_bytes == info->logical_bytes);
  auto resolved = store->Resolve("run@1");
  REQUIRE(resolved.ok());
  CHECK(resolved->id == info->id);
  RequireLoads(*store, {1});
  CHECK(store->Counters().saves == 1);
}

TEST_CASE("a save in flight never sees the caller's later writes",
          "[integration][async][threads]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  std::vector<SaveHandle> handles;
  {
    // One set of buffers, as a trainer has: each step's state is written
    // into them, saved, and every byte overwritten as soon as SaveAsync
    // returns. The saves queue up behind each other, so most of them run
    // after their buffers were scribbled over, and the last after they were
    // freed.
    Buffers buffers;
    for (uint64_t step = 0; step < 8; ++step) {
      buffers.Fill(StepState(step));
      auto handle = store->SaveAsync(buffers.Request("run", step));
      REQUIRE(handle.ok());
      buffers.Scribble(static_cast<uint8_t>(0xA0 + step));
      handles.push_back(*handle);
    }
  }
  for (auto& h : handles) REQUIRE(h.Wait().ok());
  RequireLoads(*store, {0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("SaveAsync with a tiny staging area: back-pressure, submission order, parent chain",
          "[integration][async][threads]") {
  TempDir dir;
  StoreOptions options;
  options.async_staging_bytes = 2 * kStepBytes + kStepBytes / 2;  // two saves fit, not three
  auto store = MustOpen(dir.path(), options);
  std::vector<SaveHandle> handles;
  {
    Buffers buffers;
    for (uint64_t step = 0; step < 16; ++step) {
      buffers.Fill(StepState(step));
      auto handle = store->SaveAsync(buffers.Request("run", step));
      REQUIRE(handle.ok());
      buffers.Scribble(0xEE);
      handles.push_back(*handle);
    }
  }
  std::vector<CheckpointInfo> infos;
  for (auto& h : handles) {
    auto info = h.Wait();
    REQUIRE(info.ok());
    infos.push_back(*info);
  }
  // Each save's empty parent resolved to the one submitted before it: they
  // committed in submission order.
  CHECK(infos[0].parent_id.empty());
  for (size_t i = 1; i < infos.size(); ++i) {
    CHECK(infos[i].step == i);
    CHECK(infos[i].parent_id == infos[i - 1].id);
    CHECK(infos[i].meta.wall_time_ns >= infos[i - 1].meta.wall_time_ns);
  }
  auto list = store->ListCheckpoints("run");
  REQUIRE(list.ok());
  CHECK(list->size() == 16);
  RequireLoads(*store, {0, 5, 10, 15});
  RequireVerifies(*store);
}

TEST_CASE("a request larger than the staging area is saved synchronously",
          "[integration][async][threads]") {
  TempDir dir;
  StoreOptions options;
  options.async_staging_bytes = 64 * 1024;
  auto store = MustOpen(dir.path(), options);
  StepState small_state(0);
  SaveRequest small;  // fits: the rng blob only
  small.run = "small";
  small.step = 0;
  small.blobs.push_back({"rng", small_state.rng.data(), small_state.rng.size()});
  auto queued = store->SaveAsync(small);
  REQUIRE(queued.ok());
  Buffers buffers;
  buffers.Fill(StepState(1));
  auto handle = store->SaveAsync(buffers.Request("run", 1));
  REQUIRE(handle.ok());
  CHECK(handle->Ready());  // saved before SaveAsync returned,
  CHECK(queued->Ready());  // after the save queued before it
  buffers.Scribble(0);
  REQUIRE(handle->Wait().ok());
  REQUIRE(queued->Wait().ok());
  RequireLoads(*store, {1});
}

TEST_CASE("SaveAsync refuses bad requests at once, other errors come through the handle",
          "[integration][async][threads]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  StepState state(0);
  auto bad = state.Request("bad run", 0);
  CHECK(store->SaveAsync(bad).status().code() == Code::kInvalidArgument);
  bad = state.Request("run", 0);
  bad.tensors[0].shape = {3};
  CHECK(store->SaveAsync(bad).status().code() == Code::kInvalidArgument);
  bad = state.Request("run", 0);
  bad.blobs[0].name = "weights";
  CHECK(store->SaveAsync(bad).status().code() == Code::kInvalidArgument);
  CHECK(store->ListCheckpoints("")->empty());

  auto first = store->SaveAsync(state.Request("run", 0));
  auto again = store->SaveAsync(state.Request("run", 0));
  REQUIRE(first.ok());
  REQUIRE(again.ok());
  CHECK(first->Wait().ok());
  CHECK(again->Wait().status().code() == Code::kAlreadyExists);
  auto orphan = state.Request("run", 1);
  orphan.parent = "nope@3";
  auto missing = store->SaveAsync(orphan);
  REQUIRE(missing.ok());
  CHECK(missing->Wait().status().code() == Code::kNotFound);

  StoreOptions read_only;
  read_only.read_only = true;
  auto reader = Store::Open(read_only, dir.path());
  REQUIRE(reader.ok());
  auto refused = (*reader)->SaveAsync(state.Request("run", 2));
  CHECK(refused.status().code() == Code::kNotSupported);
}

TEST_CASE("a backend fault fails that async save only, the store stays valid",
          "[integration][async][fault][threads]") {
  auto kind = GENERATE(FaultKind::kNoSpace, FaultKind::kIOError);
  TempDir dir;
  auto faulty = std::make_shared<FaultInjectingBackend>(NewLocalBackend(dir.path()));
  StoreOptions options;
  options.backend = faulty;
  options.pack_target_size = 128 * 1024;  // many packs per save
  auto store = MustOpen(dir.path(), options);
  for (uint64_t step = 0; step < 2; ++step)
    REQUIRE(store->SaveAsync(StepState(step).Request("run", step))->Wait().ok());

  faulty->FailPutAt(3, kind);  // inside the next save: all new bytes, ~10 packs
  std::vector<SaveHandle> handles;
  {
    Buffers buffers;
    for (uint64_t step = 2; step < 4; ++step) {
      buffers.Fill(StepState(step, 99));
      handles.push_back(*store->SaveAsync(buffers.Request("run", step)));
      buffers.Scribble(0x11);
    }
  }
  auto failed = handles[0].Wait();
  INFO("fault log: " << (faulty->Log().empty() ? "none" : faulty->Log()[0]));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().code() == (kind == FaultKind::kNoSpace ? Code::kNoSpace : Code::kIOError));
  CHECK_THAT(failed.status().message(), Catch::Contains("run@2"));
  CHECK_THAT(failed.status().message(), Catch::Contains("injected"));
  CHECK(store->Resolve("run@2").status().code() == Code::kNotFound);
  // The save queued behind it ran, on top of the last committed checkpoint.
  auto next = handles[1].Wait();
  REQUIRE(next.ok());
  CHECK(next->parent_id == store->Resolve("run@1")->id);
  RequireLoads(*store, {0, 1});
  RequireLoads(*store, {3}, 99);
  RequireVerifies(*store);

  faulty->Clear();
  REQUIRE(store->SaveAsync(StepState(4).Request("run", 4))->Wait().ok());
  RequireLoads(*store, {4});
  RequireVerifies(*store);
}

TEST_CASE("destroying the Store finishes every queued async save",
          "[integration][async][threads]") {
  TempDir dir;
  std::vector<SaveHandle> handles;
  {
    auto store = MustOpen(dir.path());
    Buffers buffers;
    for (uint64_t step = 0; step < 6; ++step) {
      buffers.Fill(StepState(step));
      handles.push_back(*store->SaveAsync(buffers.Request("run", step)));
      buffers.Scribble(0x22);
    }
  }  // the destructor waits for the queue
  for (auto& h : handles) {
    CHECK(h.Ready());
    CHECK(h.Wait().ok());
  }
  auto store = MustOpen(dir.path());
  CHECK(store->ListCheckpoints("run")->size() == 6);
  RequireLoads(*store, {0, 1, 2, 3, 4, 5});
}

TEST_CASE("background gc also counts async saves", "[integration][async][gc][threads]") {
  TempDir dir;
  StoreOptions options;
  options.gc_every_saves = 4;
  options.auto_gc_grace_seconds = 0;
  auto store = MustOpen(dir.path(), options);
  RetentionPolicy policy;
  policy.keep_last = 2;
  REQUIRE(store->SetPolicy("run", policy).ok());
  std::vector<SaveHandle> handles;
  for (uint64_t step = 0; step < 12; ++step)
    handles.push_back(*store->SaveAsync(StepState(step, 100 + step).Request("run", step)));
  for (auto& h : handles) REQUIRE(h.Wait().ok());
  store.reset();  // waits for a gc still running
  store = MustOpen(dir.path());
  auto list = store->ListCheckpoints("run");
  REQUIRE(list.ok());
  CHECK(list->size() < 12);  // some background gc ran
  CHECK(list->back().step == 11);
}

TEST_CASE("SaveAsync and the unchanged_since_parent hint", "[integration][async][threads]") {
  TempDir dir;
  auto store = MustOpen(dir.path());
  const auto frozen = RandomBytes(1 << 20, 5);  // the parent's bytes
  auto request = [](uint64_t step, const std::vector<uint8_t>& frozen_bytes,
                    const std::vector<uint8_t>& head, bool hint) {
    SaveRequest r;
    r.run = "run";
    r.step = step;
    r.tensors.push_back(
        {"frozen", DType::kF32, {1 << 18}, frozen_bytes.data(), frozen_bytes.size()});
    r.tensors.back().unchanged_since_parent = hint;
    r.tensors.push_back({"head", DType::kF32, {1024}, head.data(), head.size()});
    return r;
  };
  const auto head0 = RandomBytes(4096, 6);
  REQUIRE(store->Save(request(0, frozen, head0, false)).ok());

  SECTION("with the hint checked, the tensor is copied: later writes are not seen") {
    SaveOptions check;
    check.check_unchanged_hints = true;
    auto buffer = frozen;
    auto head = RandomBytes(4096, 7);
    const auto head1 = head;
    auto handle = store->SaveAsync(request(1, buffer, head, true), check);
    REQUIRE(handle.ok());
    std::memset(buffer.data(), 0x77, buffer.size());
    std::memset(head.data(), 0x77, head.size());
    REQUIRE(handle->Wait().ok());
    auto loaded = store->Load("run@1");
    REQUIRE(loaded.ok());
    CHECK(loaded->tensors[0].data == frozen);
    CHECK(loaded->tensors[1].data == head1);
  }

  SECTION("without the check, the hinted buffer is not read after SaveAsync returns") {
    // A synchronous save takes a hint on trust: bytes that differ from the
    // parent's are not read, and the parent's chunks are reused.
    auto different = RandomBytes(frozen.size(), 8);
    REQUIRE(store->Save(request(1, different, head0, true)).ok());
    auto probe = store->Load("run@1");
    REQUIRE(probe.ok());
    REQUIRE(probe->tensors[0].data == frozen);
    auto head = RandomBytes(4096, 9);
    const auto head2 = head;
    std::optional<std::vector<uint8_t>> hinted(frozen);
    auto handle = store->SaveAsync(request(2, *hinted, head, true));
    REQUIRE(handle.ok());
    hinted.reset();  // freed: under ASan, any later read of it fails the test
    std::memset(head.data(), 0x55, head.size());
    REQUIRE(handle->Wait().ok());
    auto loaded = store->Load("run@2");
    REQUIRE(loaded.ok());
    CHECK(loaded->tensors[0].data == frozen);
    CHECK(loaded->tensors[1].data == head2);
  }
}
