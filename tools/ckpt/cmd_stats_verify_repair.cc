// ckpt stats, ckpt verify, ckpt repair: the store as a whole.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "ckpt/s3.h"
#include "ckpt/store.h"
#include "commands.h"
#include "exit_codes.h"
#include "format.h"
#include "json_out.h"
#include "progress.h"
#include "table.h"

namespace ckpt::cli {

namespace {

Status RunStats(const Context& ctx) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(StoreStats s, store->Stats());
  if (ctx.json) {
    nlohmann::json j = StatsJson(s);
    j["config"] = ConfigJson(store->config());
    PrintJson(j);
    return Status::OK();
  }
  const StoreConfig& config = store->config();
  Table table({{"store"}, {ctx.store_path}});
  table.AddRow({"id", config.store_id});
  table.AddRow({"format", fmt::format("version {}, chunk size {}, zstd level {}, delta depth {}",
                                      config.format_version, HumanBytes(config.chunk_size),
                                      config.zstd_level, config.delta_max_depth)});
  table.AddRow({"runs", std::to_string(s.runs)});
  table.AddRow({"checkpoints", std::to_string(s.checkpoints)});
  table.AddRow({"tags", std::to_string(s.tags)});
  table.AddRow({"chunks", std::to_string(s.chunks)});
  table.AddRow({"packs", fmt::format("{} ({})", s.packs, HumanBytes(s.pack_bytes))});
  table.AddRow({"logical", HumanBytes(s.logical_bytes)});
  table.AddRow({"unique", fmt::format("{} (dedup {})", HumanBytes(s.unique_raw_bytes),
                                      Ratio(s.DedupRatio()))});
  table.AddRow({"stored", fmt::format("{} (compression {})", HumanBytes(s.stored_chunk_bytes),
                                      Ratio(s.CompressionRatio()))});
  table.AddRow({"deltas", fmt::format("{} chunks, {} stored as {} (deepest chain {})",
                                      s.delta_chunks, HumanBytes(s.delta_raw_bytes),
                                      HumanBytes(s.delta_stored_bytes), s.max_delta_depth)});
  fmt::print("{}", table.Render());
  return Status::OK();
}

void PrintVerifyReport(const VerifyReport& report, bool read_data) {
  fmt::print("checked {} checkpoints{}, {} chunks{}\n", report.checkpoints_checked,
             report.pending_shards_checked
                 ? fmt::format(" and {} pending shards", report.pending_shards_checked)
                 : "",
             report.chunks_checked,
             read_data ? fmt::format(", read {}", HumanBytes(report.bytes_read)) : "");
  if (report.ok()) {
    fmt::print("no problems found\n");
    return;
  }
  fmt::print("{} problem{}:\n", report.problems.size(), report.problems.size() == 1 ? "" : "s");
  for (const auto& p : report.problems) {
    fmt::print("  {}\n", p.status.ToString());
    fmt::print("    checkpoints: {}\n", JoinOrDash(p.checkpoints, ", "));
    fmt::print("    tensors:     {}\n", JoinOrDash(p.tensors, ", "));
  }
}

// Returns the exit code itself: a report with problems is printed like any
// result but must still fail the command.
int RunVerify(const Context& ctx, bool read_data) {
  auto store = OpenStore(ctx, /*read_only=*/true);
  if (!store.ok()) return Finish(ctx, store.status());
  auto bar = MaybeProgressBar(ctx, "verify",
                              read_data ? ProgressBar::Unit::kBytes : ProgressBar::Unit::kItems);
  VerifyOptions options;
  options.read_data = read_data;
  options.progress = ProgressCallback(bar);
  auto report = (*store)->Verify(options);
  if (bar) bar->Finish();
  if (!report.ok()) return Finish(ctx, report.status());

  if (ctx.json) {
    PrintJson(VerifyJson(*report));
  } else {
    PrintVerifyReport(*report, read_data);
  }
  if (report->ok()) return kExitOk;
  std::fflush(stdout);
  fmt::print(stderr, "ckpt: error: verify found {} problem(s)\n", report->problems.size());
  return kExitCorruption;
}

Status RunRepair(const Context& ctx) {
  CKPT_ASSIGN_OR_RETURN(RepairReport r, Store::Repair(StoreOptions{}, ctx.store_path));
  if (ctx.json) {
    PrintJson(RepairJson(r));
    return Status::OK();
  }
  if (IsS3Url(ctx.store_path)) {
    fmt::print("rebuilt this host's copy of the index of {} from the bucket's index log\n",
               ctx.store_path);
    Table table({{"checkpoints", Table::Align::kLeft}, {std::to_string(r.checkpoints_restored)}});
    table.AddRow({"tags", std::to_string(r.tags_restored)});
    fmt::print("{}", table.Render(2));
    return Status::OK();
  }
  fmt::print("rebuilt the index of {} from its packs and refs\n", ctx.store_path);
  Table table({{"packs scanned", Table::Align::kLeft}, {std::to_string(r.packs_scanned)}});
  table.AddRow({"packs unreadable", std::to_string(r.packs_unreadable)});
  table.AddRow({"chunks indexed", std::to_string(r.chunks_indexed)});
  table.AddRow({"delta chunks unrecoverable", std::to_string(r.chunks_unrecoverable)});
  table.AddRow({"checkpoints restored", std::to_string(r.checkpoints_restored)});
  table.AddRow({"tags restored", std::to_string(r.tags_restored)});
  fmt::print("{}", table.Render(2));
  return Status::OK();
}

}  // namespace

void RegisterStats(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("stats", "Show sizes, counts and ratios of the store");
  OnRun(cmd, ctx, [&ctx] { return RunStats(ctx); });
}

void RegisterVerify(CLI::App& app, Context& ctx) {
  auto read_data = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("verify", "Check the store's consistency");
  cmd->add_flag("--read-data", *read_data, "Also read and hash every chunk (slow)");
  cmd->callback(
      [&ctx, read_data] { ctx.run = [&ctx, read_data] { return RunVerify(ctx, *read_data); }; });
}

void RegisterRepair(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("repair", "Rebuild the index from packs and refs");
  OnRun(cmd, ctx, [&ctx] { return RunRepair(ctx); });
}

}  // namespace ckpt::cli
