// ckpt diff: which tensors two checkpoints do not share, by chunk; with
// --values, also how far each tensor's values moved.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "ckpt/store.h"
#include "ckpt/value_diff.h"
#include "commands.h"
#include "diff.h"
#include "format.h"
#include "json_out.h"
#include "table.h"
#include "value_diff_out.h"

namespace ckpt::cli {

namespace {

struct DiffArgs {
  std::string from;
  std::string to;
  bool values = false;
};

std::string TypeOf(const EntryInfo& e) {
  if (e.is_blob) return "blob";
  return fmt::format("{} {}", DTypeName(e.dtype), Shape(e.shape));
}

nlohmann::json ChangeJson(const EntryChange& c) {
  // Without chunk ids: `ckpt ls --json` has them, and here they would dwarf the diff.
  auto entry = [](const EntryInfo& e) {
    nlohmann::json j = EntryJson(e);
    j.erase("chunk_ids");
    return j;
  };
  nlohmann::json j = {{"name", c.name}};
  if (c.from) j["from"] = entry(*c.from);
  if (c.to) j["to"] = entry(*c.to);
  if (c.from && c.to) j["type_changed"] = c.type_changed;
  if (c.to) {
    j["bytes_changed"] = c.bytes_changed;
    j["chunks_changed"] = c.chunks_changed;
  }
  return j;
}

nlohmann::json DiffJson(const CheckpointDetail& from, const CheckpointDetail& to,
                        const CheckpointDiff& diff) {
  auto list = [](const std::vector<EntryChange>& changes) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& c : changes) a.push_back(ChangeJson(c));
    return a;
  };
  return {{"from", InfoJson(from.info)},         {"to", InfoJson(to.info)},
          {"added", list(diff.added)},           {"removed", list(diff.removed)},
          {"changed", list(diff.changed)},       {"unchanged", diff.unchanged},
          {"bytes_changed", diff.bytes_changed}, {"bytes_total", diff.bytes_total}};
}

void PrintDiff(const CheckpointDetail& from, const CheckpointDetail& to,
               const CheckpointDiff& diff) {
  fmt::print("diff {} ({}) -> {} ({})\n", RunAtStep(from.info), ShortId(from.info.id),
             RunAtStep(to.info), ShortId(to.info.id));
  Table table({{"CHANGE"},
               {"NAME"},
               {"TYPE"},
               {"SIZE", Table::Align::kRight},
               {"BYTES CHANGED", Table::Align::kRight},
               {"CHUNKS CHANGED", Table::Align::kRight}});
  for (const auto& c : diff.changed) {
    std::string type = TypeOf(*c.to);
    if (c.type_changed) type = TypeOf(*c.from) + " -> " + type;
    table.AddRow({"changed", c.name, type, HumanBytes(c.to->byte_length),
                  HumanBytes(c.bytes_changed),
                  fmt::format("{}/{}", c.chunks_changed, c.to->chunk_count)});
  }
  for (const auto& c : diff.added) {
    table.AddRow({"added", c.name, TypeOf(*c.to), HumanBytes(c.to->byte_length),
                  HumanBytes(c.bytes_changed),
                  fmt::format("{}/{}", c.chunks_changed, c.to->chunk_count)});
  }
  for (const auto& c : diff.removed) {
    table.AddRow({"removed", c.name, TypeOf(*c.from), HumanBytes(c.from->byte_length), "-", "-"});
  }
  if (!table.empty()) fmt::print("{}", table.Render());
  fmt::print("{} changed, {} added, {} removed, {} unchanged; {} of {} changed\n",
             diff.changed.size(), diff.added.size(), diff.removed.size(), diff.unchanged,
             HumanBytes(diff.bytes_changed), HumanBytes(diff.bytes_total));
}

Status RunDiff(const Context& ctx, const DiffArgs& args) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(CheckpointDetail from, store->Describe(args.from));
  CKPT_ASSIGN_OR_RETURN(CheckpointDetail to, store->Describe(args.to));
  CheckpointDiff diff = DiffCheckpoints(from, to, store->config().chunk_size);
  if (args.values) {
    // By id: the same two checkpoints as described, even if a ref moved since.
    CKPT_ASSIGN_OR_RETURN(ValueDiff values, DiffValues(*store, from.info.id, to.info.id));
    if (ctx.json) {
      PrintJson(ValueDiffJson(DiffJson(from, to, diff), values));
    } else {
      PrintValueDiff(diff, values);
    }
    return Status::OK();
  }
  if (ctx.json) {
    PrintJson(DiffJson(from, to, diff));
  } else {
    PrintDiff(from, to, diff);
  }
  return Status::OK();
}

}  // namespace

void RegisterDiff(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* cmd = app.add_subcommand("diff", "Compare two checkpoints tensor by tensor");
  cmd->add_option("from", args->from, "Older checkpoint ref")->required();
  cmd->add_option("to", args->to, "Newer checkpoint ref")->required();
  cmd->add_flag("--values", args->values,
                "Also compare values: per tensor of the same dtype and shape, elements "
                "changed, max and mean |difference| and relative L2 change, and a summary "
                "per layer (reads the chunks that differ)");
  OnRun(cmd, ctx, [&ctx, args] { return RunDiff(ctx, *args); });
}

}  // namespace ckpt::cli
