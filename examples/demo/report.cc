#include "report.h"

#include <cstdio>

namespace demo {
namespace {

double Metric(const ckpt::CheckpointInfo& info, const char* name) {
  const auto it = info.meta.metrics.find(name);
  return it == info.meta.metrics.end() ? 0.0 : it->second;
}

double Ratio(uint64_t num, uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

void PrintHistory(const std::vector<ckpt::CheckpointInfo>& checkpoints) {
  std::printf("  %5s  %7s  %8s  %10s  %10s  %10s  %s\n", "step", "loss", "accuracy", "logical",
              "new stored", "shared", "id");
  for (const ckpt::CheckpointInfo& info : checkpoints) {
    std::printf("  %5llu  %7.4f  %8.3f  %10s  %10s  %10s  %.12s\n",
                static_cast<unsigned long long>(info.step), Metric(info, "loss"),
                Metric(info, "accuracy"), HumanBytes(info.logical_bytes).c_str(),
                HumanBytes(info.new_bytes).c_str(), HumanBytes(info.shared_bytes).c_str(),
                info.id.c_str());
  }
}

void PrintStats(const ckpt::StoreStats& s) {
  std::printf("  %llu runs, %llu checkpoints, %llu distinct chunks in %llu packs\n",
              static_cast<unsigned long long>(s.runs),
              static_cast<unsigned long long>(s.checkpoints),
              static_cast<unsigned long long>(s.chunks), static_cast<unsigned long long>(s.packs));
  std::printf("  logical bytes       %10s  (sum of every checkpoint's tensors and blobs)\n",
              HumanBytes(s.logical_bytes).c_str());
  std::printf("  unique chunk bytes  %10s  (uncompressed)\n",
              HumanBytes(s.unique_raw_bytes).c_str());
  std::printf("  stored chunk bytes  %10s  (compressed)\n",
              HumanBytes(s.stored_chunk_bytes).c_str());
  std::printf("  pack file bytes     %10s\n", HumanBytes(s.pack_bytes).c_str());
  std::printf("  dedup %.2fx, compression %.2fx, logical/pack files %.2fx\n", s.DedupRatio(),
              s.CompressionRatio(), Ratio(s.logical_bytes, s.pack_bytes));
}

}  // namespace demo
