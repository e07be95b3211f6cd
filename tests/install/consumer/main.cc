// Saves (synchronously and in the background) and loads through the
// installed public API only.
#include <ckpt/ckpt.h>

#include <algorithm>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  ckpt::StoreOptions options;
  options.create_if_missing = true;
  auto store = ckpt::Store::Open(options, argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  std::vector<float> weights(1000, 0.5f);
  ckpt::SaveRequest request;
  request.run = "consumer";
  request.step = 1;
  request.tensors.push_back({"w", ckpt::DType::kF32, {1000}, weights.data(), weights.size() * 4});
  auto info = (*store)->Save(request);
  if (!info.ok()) {
    std::fprintf(stderr, "%s\n", info.status().ToString().c_str());
    return 1;
  }
  std::vector<float> back(1000);
  ckpt::Status s = (*store)->LoadEntry("consumer@1", "w", back.data(), back.size() * 4);
  if (!s.ok() || back != weights) return 1;
  request.step = 2;
  auto pending = (*store)->SaveAsync(request);
  if (!pending.ok()) return 1;
  std::fill(weights.begin(), weights.end(), 0.25f);  // the save has its own copy
  auto saved = pending->Wait();
  if (!saved.ok() || saved->parent_id != info->id) return 1;
  s = (*store)->LoadEntry("consumer@2", "w", back.data(), back.size() * 4);
  if (!s.ok() || back != std::vector<float>(1000, 0.5f)) return 1;
  std::printf("consumer ok: %s (ckpt %s)\n", info->id.substr(0, 12).c_str(), ckpt::kVersionString);
  return 0;
}
