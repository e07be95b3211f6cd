#include "value_diff_out.h"

#include <fmt/core.h>

#include <cmath>
#include <map>

#include "format.h"
#include "table.h"

namespace ckpt::cli {

namespace {

// JSON has no infinity: an unbounded rel_l2 (old tensor all zeros) is null.
nlohmann::json Number(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

nlohmann::json TensorJson(const TensorValueDiff& t) {
  const bool integer = !DTypeIsFloat(t.dtype);
  nlohmann::json j = {{"name", t.name},
                      {"dtype", std::string(DTypeName(t.dtype))},
                      {"shape", t.shape},
                      {"elements", t.elements},
                      {"elements_changed", t.elements_changed},
                      {"fraction_changed", t.fraction_changed},
                      {"nonfinite_changed", t.nonfinite_changed},
                      {"mean_abs_diff", Number(t.mean_abs_diff)},
                      {"l2_diff", Number(t.l2_diff)},
                      {"l2_a", Number(t.l2_a)},
                      {"rel_l2", Number(t.rel_l2)},
                      {"chunks", t.chunks},
                      {"chunks_changed", t.chunks_changed},
                      {"bytes_read", t.bytes_read}};
  // Integers: exact (a JSON number of up to 20 digits), not a rounded double.
  if (integer) {
    j["max_abs_diff"] = t.max_abs_diff_exact;
  } else {
    j["max_abs_diff"] = Number(t.max_abs_diff);
  }
  return j;
}

nlohmann::json LayerJson(const LayerSummary& l) {
  return {{"layer", l.layer},
          {"tensors", l.tensors},
          {"tensors_changed", l.tensors_changed},
          {"elements", l.elements},
          {"elements_changed", l.elements_changed},
          {"rel_l2", Number(l.rel_l2)},
          {"state", l.frozen() ? "frozen" : "moved"}};
}

std::string Float(double v) {
  if (v == 0) return "0";
  return fmt::format("{:.3g}", v);
}

std::string Percent(uint64_t part, uint64_t whole) {
  if (part == 0) return "0%";
  return fmt::format("{:.3g}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string MaxText(const TensorValueDiff& t) {
  if (!DTypeIsFloat(t.dtype)) return std::to_string(t.max_abs_diff_exact);
  return Float(t.max_abs_diff);
}

std::string TypeText(const EntryInfo& e) {
  if (e.is_blob) return "blob";
  return fmt::format("{} {}", DTypeName(e.dtype), Shape(e.shape));
}

// The entries the value diff leaves out: added, removed, retyped, and
// blobs (with their changed bytes, from the chunk diff).
void PrintNotCompared(const CheckpointDiff& chunks) {
  Table table({{"NOT COMPARED"}, {"NAME"}, {"TYPE"}, {"BYTES CHANGED", Table::Align::kRight}});
  for (const auto& c : chunks.changed) {
    // A blob's "shape" is its length: a blob that grew is still a blob.
    if (c.from->is_blob && c.to->is_blob) {
      table.AddRow({"blob", c.name, "blob", HumanBytes(c.bytes_changed)});
    } else if (c.type_changed) {
      table.AddRow({"type changed", c.name, TypeText(*c.from) + " -> " + TypeText(*c.to),
                    HumanBytes(c.bytes_changed)});
    }
  }
  for (const auto& c : chunks.added)
    table.AddRow({"added", c.name, TypeText(*c.to), HumanBytes(c.bytes_changed)});
  for (const auto& c : chunks.removed) table.AddRow({"removed", c.name, TypeText(*c.from), "-"});
  if (!table.empty()) fmt::print("\n{}", table.Render());
}

}  // namespace

std::string LayerOf(const std::string& name) {
  const size_t dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

std::vector<LayerSummary> SummarizeLayers(const std::vector<TensorValueDiff>& tensors) {
  std::vector<LayerSummary> layers;
  std::vector<double> diff_norm, a_norm;  // per layer, summed with hypot: no overflow
  std::map<std::string, size_t> index;
  for (const TensorValueDiff& t : tensors) {
    auto [it, fresh] = index.emplace(LayerOf(t.name), layers.size());
    if (fresh) {
      layers.push_back({it->first});
      diff_norm.push_back(0);
      a_norm.push_back(0);
    }
    const size_t i = it->second;
    LayerSummary& l = layers[i];
    ++l.tensors;
    l.tensors_changed += t.elements_changed != 0;
    l.elements += t.elements;
    l.elements_changed += t.elements_changed;
    diff_norm[i] = std::hypot(diff_norm[i], t.l2_diff);
    a_norm[i] = std::hypot(a_norm[i], t.l2_a);
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    if (diff_norm[i] == 0) continue;
    layers[i].rel_l2 = a_norm[i] == 0 ? INFINITY : diff_norm[i] / a_norm[i];
  }
  return layers;
}

nlohmann::json ValueDiffJson(nlohmann::json chunks, const ValueDiff& values) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : values.tensors) tensors.push_back(TensorJson(t));
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : SummarizeLayers(values.tensors)) layers.push_back(LayerJson(l));
  chunks["values"] = std::move(tensors);
  chunks["layers"] = std::move(layers);
  chunks["bytes_read"] = values.bytes_read;
  return chunks;
}

void PrintValueDiff(const CheckpointDiff& chunks, const ValueDiff& values) {
  fmt::print("value diff {} ({}) -> {} ({})\n", RunAtStep(values.from), ShortId(values.from.id),
             RunAtStep(values.to), ShortId(values.to.id));
  Table table({{"NAME"},
               {"TYPE"},
               {"CHANGED", Table::Align::kRight},
               {"FRACTION", Table::Align::kRight},
               {"MAX ABS DIFF", Table::Align::kRight},
               {"MEAN ABS DIFF", Table::Align::kRight},
               {"REL L2", Table::Align::kRight},
               {"NON-FINITE", Table::Align::kRight}});
  for (const auto& t : values.tensors) {
    table.AddRow({t.name, fmt::format("{} {}", DTypeName(t.dtype), Shape(t.shape)),
                  fmt::format("{}/{}", t.elements_changed, t.elements),
                  Percent(t.elements_changed, t.elements), MaxText(t), Float(t.mean_abs_diff),
                  Float(t.rel_l2), std::to_string(t.nonfinite_changed)});
  }
  if (!table.empty()) fmt::print("{}", table.Render());
  PrintNotCompared(chunks);

  std::vector<LayerSummary> layers = SummarizeLayers(values.tensors);
  Table summary({{"LAYER"},
                 {"STATE"},
                 {"TENSORS MOVED", Table::Align::kRight},
                 {"ELEMENTS CHANGED", Table::Align::kRight},
                 {"FRACTION", Table::Align::kRight},
                 {"REL L2", Table::Align::kRight}});
  uint64_t frozen = 0;
  for (const auto& l : layers) {
    frozen += l.frozen();
    summary.AddRow({l.layer, l.frozen() ? "frozen" : "moved",
                    fmt::format("{}/{}", l.tensors_changed, l.tensors),
                    fmt::format("{}/{}", l.elements_changed, l.elements),
                    Percent(l.elements_changed, l.elements), Float(l.rel_l2)});
  }
  if (!summary.empty()) fmt::print("\n{}", summary.Render());
  fmt::print("{} compared in {}: {} moved, {} frozen; {} read\n",
             Count(values.tensors.size(), "tensor"), Count(layers.size(), "layer"),
             layers.size() - frozen, frozen, HumanBytes(values.bytes_read));
}

}  // namespace ckpt::cli
