// ckpt gc: apply the retention policies and reclaim space (Store::Gc).
//
// Prints the plan first (every checkpoint considered, with the rules that
// keep it), then what was done. Flags given here replace the stored
// policies for this call only; with none, a scheduled `ckpt gc` applies
// what `ckpt policy set` stored.
#include <fmt/core.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ckpt/store.h"
#include "commands.h"
#include "format.h"
#include "json_out.h"
#include "parse_args.h"
#include "policy_flags.h"
#include "progress.h"
#include "table.h"

namespace ckpt::cli {

namespace {

struct GcArgs {
  std::string run;
  bool dry_run = false;
  KeepFlags keep;
  std::string repack_threshold;
  CLI::Option* repack_option = nullptr;
  std::string grace = "1h";
};

// A duration as ParseDurationSeconds reads it, or zero ("0", "0s", "0h", ...):
// unlike a --keep-within, a grace period of nothing is meaningful here.
Result<int64_t> ParseGrace(const std::string& text) {
  static const std::set<std::string> kZero = {"0", "0s", "0m", "0h", "0d", "0w"};
  if (kZero.count(text) > 0) return int64_t{0};
  auto seconds = ParseDurationSeconds(text);
  if (!seconds.ok()) return seconds.status().WithContext("--grace");
  return *seconds;
}

void PrintPlan(const GcReport& report) {
  if (report.decisions.empty()) {
    fmt::print("no checkpoints to consider\n");
  } else {
    Table table(
        {{"RUN"}, {"STEP", Table::Align::kRight}, {"ID"}, {"TIME"}, {"METRICS"}, {"DECISION"}});
    for (const auto& d : report.decisions) {
      const CheckpointInfo& info = d.checkpoint;
      table.AddRow({info.run, std::to_string(info.step), ShortId(info.id),
                    LocalTime(info.meta.wall_time_ns), Metrics(info.meta.metrics),
                    d.keep() ? "kept by: " + JoinOrDash(d.reasons, ", ") : "remove"});
    }
    fmt::print("{}", table.Render());
  }
  if (!report.runs_without_policy.empty()) {
    fmt::print(
        "note: no policy for run{} {} and no store default: all {} checkpoints kept "
        "(see ckpt policy set)\n",
        report.runs_without_policy.size() == 1 ? "" : "s",
        JoinOrDash(report.runs_without_policy, ", "),
        report.runs_without_policy.size() == 1 ? "its" : "their");
  }
}

void PrintTotals(const GcReport& report, const std::string& grace) {
  uint64_t to_remove = 0;
  for (const auto& d : report.decisions) to_remove += d.keep() ? 0 : 1;
  fmt::print("\n");
  if (report.dry_run) {
    fmt::print("would remove {}\n", Count(to_remove, "checkpoint"));
    Table table(
        {{"chunks unreferenced"},
         {fmt::format("{} ({})", report.chunks_removed, HumanBytes(report.bytes_unreferenced))}});
    fmt::print("{}", table.Render(2));
    fmt::print(
        "dry run: nothing was changed (packs to repack or delete are chosen by a real run)\n");
    return;
  }
  fmt::print("removed {}\n", Count(report.checkpoints_removed, "checkpoint"));
  Table table(
      {{"chunks unreferenced"},
       {fmt::format("{} ({})", report.chunks_removed, HumanBytes(report.bytes_unreferenced))}});
  table.AddRow({"packs repacked", fmt::format("{} ({} copied)", report.packs_repacked,
                                              HumanBytes(report.bytes_repacked))});
  table.AddRow({"packs deleted", fmt::format("{} ({} orphaned by unfinished saves)",
                                             report.packs_deleted, report.orphan_packs_deleted)});
  table.AddRow({"bytes deleted", HumanBytes(report.bytes_deleted)});
  if (report.abandoned_writes_deleted > 0)
    table.AddRow(
        {"partial files deleted",
         fmt::format("{} ({}, left by interrupted writes)", report.abandoned_writes_deleted,
                     HumanBytes(report.abandoned_bytes_deleted))});
  if (report.abandoned_shards_removed > 0)
    table.AddRow(
        {"abandoned shards removed", fmt::format("{} (of sharded checkpoints that never completed)",
                                                 report.abandoned_shards_removed)});
  table.AddRow({"packs pending", fmt::format("{} (deleted by a gc after the {} grace period)",
                                             report.packs_pending, grace)});
  if (report.index_compacted) table.AddRow({"index", "compacted"});
  if (report.log_snapshot > 0)
    table.AddRow(
        {"index snapshot", fmt::format("written, as of log record {}", report.log_snapshot)});
  fmt::print("{}", table.Render(2));
}

Status RunGc(const Context& ctx, const GcArgs& args) {
  // Parse every flag before opening the store, so bad input changes nothing.
  GcOptions options;
  options.run = args.run;
  options.dry_run = args.dry_run;
  CKPT_ASSIGN_OR_RETURN(RetentionPolicy policy, ParseKeepFlags(args.keep));
  if (!policy.empty()) options.policy = std::move(policy);
  if (args.repack_option != nullptr && args.repack_option->count() > 0) {
    CKPT_ASSIGN_OR_RETURN(options.repack_threshold,
                          ParseFraction("--repack-threshold", args.repack_threshold));
  }
  CKPT_ASSIGN_OR_RETURN(options.grace_seconds, ParseGrace(args.grace));

  // Gc needs a writable store even to plan.
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  if (!options.run.empty()) {
    // Gc would report an unknown run as one without checkpoints; a typo in
    // a cron line should fail instead.
    CKPT_RETURN_IF_ERROR(store->ListCheckpoints(options.run).status());
  }
  auto bar = MaybeProgressBar(ctx, "gc", ProgressBar::Unit::kItems);
  options.progress = ProgressCallback(bar);
  CKPT_ASSIGN_OR_RETURN(GcReport report, store->Gc(options));
  if (bar) bar->Finish();

  if (ctx.json) {
    PrintJson(GcJson(report));
    return Status::OK();
  }
  PrintPlan(report);
  PrintTotals(report, args.grace);
  return Status::OK();
}

}  // namespace

void RegisterGc(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<GcArgs>();
  CLI::App* cmd = app.add_subcommand(
      "gc", "Remove the checkpoints no retention policy keeps and reclaim their space");
  cmd->add_option("--run", args->run, "Only consider this run's checkpoints for removal")
      ->type_name("RUN");
  cmd->add_flag("-n,--dry-run", args->dry_run, "Print the plan; change nothing");
  AddKeepFlags(cmd, args->keep);
  args->repack_option =
      cmd->add_option(
             "--repack-threshold", args->repack_threshold,
             "Rewrite packs whose live fraction is below F, 0 .. 1; 0 disables (default 0.5)")
          ->type_name("F");
  cmd->add_option("--grace", args->grace,
                  "Delete unreferenced packs only after DURATION (default 1h; 0s: at once, "
                  "unsafe while saves or loads run)")
      ->type_name("DURATION");
  OnRun(cmd, ctx, [&ctx, args] { return RunGc(ctx, *args); });
}

}  // namespace ckpt::cli
