// report.h: human-readable printing of sizes, save results and store stats.
#pragma once

#include <ckpt/ckpt.h>

#include <cstdint>
#include <string>
#include <vector>

namespace demo {

// "512 B", "16.0 KiB", "3.1 MiB", ...
std::string HumanBytes(uint64_t bytes);

// The header and one line per checkpoint of a run's history.
void PrintHistory(const std::vector<ckpt::CheckpointInfo>& checkpoints);

// Sizes and ratios of a whole store.
void PrintStats(const ckpt::StoreStats& stats);

}  // namespace demo
