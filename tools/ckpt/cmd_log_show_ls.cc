// ckpt log, ckpt show, ckpt ls: listings of checkpoints and their contents.
#include <fmt/core.h>

#include <memory>
#include <string>
#include <vector>

#include "ckpt/store.h"
#include "commands.h"
#include "format.h"
#include "json_out.h"
#include "table.h"

namespace ckpt::cli {

namespace {

using Align = Table::Align;

Status RunLog(const Context& ctx, const std::string& run) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(auto checkpoints, store->ListCheckpoints(run));
  if (ctx.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& info : checkpoints) list.push_back(InfoJson(info));
    PrintJson({{"checkpoints", std::move(list)}});
    return Status::OK();
  }
  Table table({{"RUN"},
               {"STEP", Align::kRight},
               {"ID"},
               {"TIME"},
               {"SIZE", Align::kRight},
               {"NEW", Align::kRight},
               {"SHARED", Align::kRight},
               {"METRICS"},
               {"TAGS"}});
  for (const auto& info : checkpoints) {
    table.AddRow({info.run, std::to_string(info.step), ShortId(info.id),
                  LocalTime(info.meta.wall_time_ns), HumanBytes(info.logical_bytes),
                  HumanBytes(info.new_bytes), SharedPercent(info), Metrics(info.meta.metrics),
                  JoinOrDash(info.tags, ",")});
  }
  if (table.empty()) {
    Say(ctx, "no checkpoints");
  } else {
    fmt::print("{}", table.Render());
  }
  return Status::OK();
}

Status RunShow(const Context& ctx, const std::string& ref) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(CheckpointInfo info, store->Resolve(ref));
  if (ctx.json) {
    PrintJson(InfoJson(info));
    return Status::OK();
  }
  Table table({{"checkpoint"}, {RunAtStep(info)}});
  table.AddRow({"id", info.id});
  table.AddRow({"parent", info.parent_id.empty() ? "-" : info.parent_id});
  table.AddRow({"time", LocalTime(info.meta.wall_time_ns)});
  table.AddRow({"tags", JoinOrDash(info.tags, ", ")});
  if (info.world_size > 1) table.AddRow({"world size", fmt::format("{} ranks", info.world_size)});
  table.AddRow(
      {"entries", Count(info.tensor_count, "tensor") + ", " + Count(info.blob_count, "blob")});
  table.AddRow(
      {"size", fmt::format("{} ({} bytes)", HumanBytes(info.logical_bytes), info.logical_bytes)});
  table.AddRow({"new stored", fmt::format("{} ({} before compression)", HumanBytes(info.new_bytes),
                                          HumanBytes(info.new_raw_bytes))});
  table.AddRow({"shared", fmt::format("{} ({}), dedup {}", HumanBytes(info.shared_bytes),
                                      SharedPercent(info), Ratio(DedupRatio(info)))});
  for (const auto& [name, value] : info.meta.metrics) {
    table.AddRow({"metric " + name, fmt::format("{:g}", value)});
  }
  for (const auto& [key, value] : info.meta.attributes) table.AddRow({"attr " + key, value});
  fmt::print("{}", table.Render());
  return Status::OK();
}

Status RunLs(const Context& ctx, const std::string& ref) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(CheckpointDetail detail, store->Describe(ref));
  if (ctx.json) {
    PrintJson(DetailJson(detail));
    return Status::OK();
  }
  bool sharded = detail.info.world_size > 1;
  for (const auto& e : detail.entries) sharded |= !e.pieces.empty() || e.local_rank >= 0;
  std::vector<Table::Column> columns = {
      {"NAME"}, {"KIND"}, {"DTYPE"}, {"SHAPE"}, {"SIZE", Align::kRight}, {"CHUNKS", Align::kRight}};
  if (sharded) columns.push_back({"RANK"});
  Table table(columns);
  for (const auto& e : detail.entries) {
    std::vector<std::string> row = {e.name,
                                    e.is_blob ? "blob" : "tensor",
                                    e.is_blob ? "-" : std::string(DTypeName(e.dtype)),
                                    e.is_blob ? "-" : Shape(e.shape),
                                    HumanBytes(e.byte_length),
                                    std::to_string(e.chunk_count)};
    if (sharded)
      row.push_back(!e.pieces.empty()   ? fmt::format("{} pieces", e.pieces.size())
                    : e.local_rank >= 0 ? std::to_string(e.local_rank)
                                        : fmt::format("all (from {})", e.writer_rank));
    table.AddRow(row);
    // A global tensor's pieces, one line each: the box and who wrote it.
    for (const auto& p : e.pieces) {
      std::vector<std::string> piece = {"  " + BoxText(p.offsets, p.shape),
                                        "piece",
                                        "-",
                                        Shape(p.shape),
                                        HumanBytes(p.byte_length),
                                        std::to_string(p.chunk_ids.size()),
                                        std::to_string(p.writer_rank)};
      table.AddRow(piece);
    }
  }
  fmt::print("{}", table.Render());
  return Status::OK();
}

}  // namespace

void RegisterLog(CLI::App& app, Context& ctx) {
  auto run = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("log", "List checkpoints, of one run or of all");
  cmd->add_option("run", *run, "Only this run");
  OnRun(cmd, ctx, [&ctx, run] { return RunLog(ctx, *run); });
}

void RegisterShow(CLI::App& app, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("show", "Show one checkpoint's metadata and sizes");
  cmd->add_option("ref", *ref, kRefHelp)->required();
  OnRun(cmd, ctx, [&ctx, ref] { return RunShow(ctx, *ref); });
}

void RegisterLs(CLI::App& app, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("ls", "List the tensors and blobs of a checkpoint");
  cmd->add_option("ref", *ref, kRefHelp)->required();
  OnRun(cmd, ctx, [&ctx, ref] { return RunLs(ctx, *ref); });
}

}  // namespace ckpt::cli
