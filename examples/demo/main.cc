// ckpt_demo: a small trainer that checkpoints into a ckpt store, as a real
// training job linking the library would.
//
// It trains an item-embedding classifier (see model.h, data_stream.h) for
// 500 steps, saving every 50; reopens the store, resumes a fresh trainer
// from the middle checkpoint, trains on to the end and checks that the
// result is bit-identical to the first run; then shows single-entry reads,
// the run's history and the store's statistics.
//
// Usage: ckpt_demo STORE_DIR   (the store must not exist yet)
// Exits 0 on success, 1 with "demo: <status>" on any error or mismatch.

#include <ckpt/ckpt.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "report.h"
#include "state.h"
#include "trainer.h"

namespace {

constexpr const char* kRun = "demo";
constexpr const char* kResumedRun = "demo-resumed";
constexpr int64_t kSteps = 500;
constexpr int64_t kSaveEvery = 50;
constexpr int64_t kResumeStep = 250;
constexpr uint64_t kInitSeed = 1;
// The resumed trainer starts from different weights and RNG, so anything
// the checkpoint fails to restore shows up in the final comparison.
constexpr uint64_t kOtherSeed = 99;
// Row-sparse embedding updates leave most 16 KiB chunks (64 rows of the
// table) unchanged between checkpoints; the default 256 KiB chunks would each
// span 1024 rows and nearly always contain a changed one.
constexpr uint32_t kChunkSize = 16 * 1024;

[[noreturn]] void Fail(const ckpt::Status& status) {
  std::fprintf(stderr, "demo: %s\n", status.ToString().c_str());
  std::exit(1);
}

void Check(const ckpt::Status& status) {
  if (!status.ok()) Fail(status);
}

template <typename T>
T Check(ckpt::Result<T> result) {
  if (!result.ok()) Fail(result.status());
  return std::move(result).value();
}

std::unique_ptr<ckpt::Store> OpenStore(const std::string& path, bool create) {
  ckpt::StoreOptions options;
  options.create_if_missing = create;
  // A leftover store from an earlier run would make every Save fail with
  // kAlreadyExists; failing at open says so more plainly.
  options.error_if_exists = create;
  options.chunk_size = kChunkSize;
  return Check(ckpt::Store::Open(options, path));
}

// Trains `trainer` up to `last_step`, saving into `run` every kSaveEvery
// steps. The first save names `parent` (empty: the run's latest).
void TrainAndSave(demo::Trainer* trainer, ckpt::Store* store, const std::string& run,
                  int64_t last_step, std::string parent) {
  double loss_sum = 0;
  int correct = 0, examples = 0;
  while (trainer->step() < last_step) {
    const demo::BatchResult batch = trainer->Step();
    loss_sum += batch.loss_sum;
    correct += batch.correct;
    examples += trainer->config().batch_size;
    if (trainer->step() % kSaveEvery != 0) continue;

    demo::SaveBuffers buffers;
    ckpt::SaveRequest request = MakeSaveRequest(*trainer, run, &buffers);
    request.meta.metrics = {{"loss", loss_sum / examples},
                            {"accuracy", static_cast<double>(correct) / examples}};
    request.meta.attributes = {{"model", "demo-mlp"}, {"optimizer", "adam+lazy-adam"}};
    request.parent = std::exchange(parent, "");
    const auto start = std::chrono::steady_clock::now();
    const ckpt::CheckpointInfo info = Check(store->Save(request));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("  step %3lld  loss %.4f  acc %.3f  saved %s@%llu: %s, %s new, %.0f ms\n",
                static_cast<long long>(trainer->step()), loss_sum / examples,
                static_cast<double>(correct) / examples, run.c_str(),
                static_cast<unsigned long long>(info.step),
                demo::HumanBytes(info.logical_bytes).c_str(),
                demo::HumanBytes(info.new_bytes).c_str(), ms);
    loss_sum = 0;
    correct = examples = 0;
  }
}

// Reads one tensor by name, and one row of the embedding table by range,
// and checks both against the trainer's memory.
void ShowSingleReads(ckpt::Store* store, const demo::Trainer& trainer) {
  const std::string ref = std::string(kRun) + "@" + std::to_string(kSteps);
  const demo::Param* head = trainer.model().Find("head.2.weight");
  std::vector<float> loaded(head->value.size());
  const size_t bytes = loaded.size() * sizeof(float);
  Check(store->LoadEntry(ref, head->name, loaded.data(), bytes));
  if (std::memcmp(loaded.data(), head->value.data(), bytes) != 0) {
    Fail(ckpt::Status::Corruption("LoadEntry " + ref + " " + head->name + " differs"));
  }
  std::printf("LoadEntry %s %s: %s, equal to the trainer's\n", ref.c_str(), head->name.c_str(),
              demo::HumanBytes(bytes).c_str());

  const demo::Param* table = trainer.model().Find("embedding.weight");
  const int64_t row = 7, width = table->shape[1];
  std::vector<float> row_values(width);
  const uint64_t row_bytes = width * sizeof(float);
  Check(store->LoadRange(ref, table->name, row * row_bytes, row_bytes, row_values.data()));
  if (std::memcmp(row_values.data(), &table->value[row * width], row_bytes) != 0) {
    Fail(ckpt::Status::Corruption("LoadRange " + ref + " " + table->name + " differs"));
  }
  std::printf("LoadRange %s %s row %lld: %s, equal to the trainer's\n", ref.c_str(),
              table->name.c_str(), static_cast<long long>(row),
              demo::HumanBytes(row_bytes).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s STORE_DIR\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const auto start = std::chrono::steady_clock::now();
  const demo::TrainerConfig config;

  std::printf("ckpt %s demo: store %s (chunk %s)\n", ckpt::kVersionString, path.c_str(),
              demo::HumanBytes(kChunkSize).c_str());
  const demo::ModelConfig& m = config.model;
  std::printf(
      "model: embedding %dx%d (lazy Adam), backbone %dx%d (frozen), head %dx%d + %dx%d "
      "(Adam), %d classes\n",
      m.vocab, m.embed_dim, m.backbone_dim, m.embed_dim, m.hidden_dim, m.backbone_dim, m.classes,
      m.hidden_dim, m.classes);
  std::printf("\nrun %s: %lld steps of %d examples, a checkpoint every %lld steps\n", kRun,
              static_cast<long long>(kSteps), config.batch_size,
              static_cast<long long>(kSaveEvery));
  demo::Trainer first(config, kInitSeed);
  {
    std::unique_ptr<ckpt::Store> store = OpenStore(path, /*create=*/true);
    TrainAndSave(&first, store.get(), kRun, kSteps, "");
  }  // Closed, as a trainer process that ends would.

  // A new process would start here: open the store, load, carry on.
  std::unique_ptr<ckpt::Store> store = OpenStore(path, /*create=*/false);
  const std::string resume_ref = std::string(kRun) + "@" + std::to_string(kResumeStep);
  const ckpt::CheckpointInfo resume_info = Check(store->Resolve(resume_ref));
  const ckpt::LoadedCheckpoint checkpoint = Check(store->Load(resume_ref));
  demo::Trainer resumed(config, kOtherSeed);
  Check(demo::RestoreTrainer(checkpoint, &resumed));
  if (static_cast<uint64_t>(resumed.step()) != resume_info.step) {
    Fail(ckpt::Status::Corruption(resume_ref + " holds optim.step " +
                                  std::to_string(resumed.step())));
  }
  std::printf(
      "\nresume: loaded %s (%zu tensors, %zu blobs, %s) into a fresh trainer; "
      "training on as run %s\n",
      resume_ref.c_str(), checkpoint.tensors.size(), checkpoint.blobs.size(),
      demo::HumanBytes(resume_info.logical_bytes).c_str(), kResumedRun);
  TrainAndSave(&resumed, store.get(), kResumedRun, kSteps, resume_ref);

  uint64_t compared = 0;
  const std::string diff = demo::FirstDifference(first, resumed, &compared);
  if (!diff.empty()) {
    std::printf("resume check: FAILED, %s differs\n", diff.c_str());
    return 1;
  }
  std::printf(
      "resume check: bit-identical (%s compared: weights, Adam moments, step, RNG, "
      "data position)\n\n",
      demo::HumanBytes(compared).c_str());

  ShowSingleReads(store.get(), first);

  std::printf("\nhistory of run %s:\n", kRun);
  demo::PrintHistory(Check(store->ListCheckpoints(kRun)));
  uint64_t resumed_logical = 0, resumed_new = 0;
  for (const ckpt::CheckpointInfo& info : Check(store->ListCheckpoints(kResumedRun))) {
    resumed_logical += info.logical_bytes;
    resumed_new += info.new_bytes;
  }
  // Identical state means identical chunks, so the resumed run should have
  // needed almost nothing new.
  std::printf("run %s: %s logical, %s new stored\n", kResumedRun,
              demo::HumanBytes(resumed_logical).c_str(), demo::HumanBytes(resumed_new).c_str());
  std::printf("\nstore stats:\n");
  demo::PrintStats(Check(store->Stats()));

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\ndone in %.2f s\n", seconds);
  return 0;
}
