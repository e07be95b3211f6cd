// Output of `ckpt diff --values`: per-tensor statistics, the per-layer
// summary, as a table or as JSON.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ckpt/value_diff.h"
#include "diff.h"

namespace ckpt::cli {

// The layer a tensor belongs to in the summary: its name without the last
// dotted component ("blocks.3.attn.qkv.weight" -> "blocks.3.attn.qkv"); a
// name without a dot is a layer of its own.
std::string LayerOf(const std::string& name);

// The compared tensors of one layer, together.
struct LayerSummary {
  std::string layer;
  uint64_t tensors = 0;
  uint64_t tensors_changed = 0;  // with at least one changed element
  uint64_t elements = 0;
  uint64_t elements_changed = 0;
  // ‖Δ‖₂ / ‖a‖₂ over all the layer's tensors, with their finite elements.
  double rel_l2 = 0;
  bool frozen() const { return elements_changed == 0; }
};

// One summary per layer of `tensors`, in the order layers first appear.
std::vector<LayerSummary> SummarizeLayers(const std::vector<TensorValueDiff>& tensors);

// `chunks` (the chunk diff, for the entries not compared) with "values",
// "layers" and "bytes_read" added.
nlohmann::json ValueDiffJson(nlohmann::json chunks, const ValueDiff& values);

// The statistics table, the entries not compared, the layer summary and a
// total line.
void PrintValueDiff(const CheckpointDiff& chunks, const ValueDiff& values);

}  // namespace ckpt::cli
