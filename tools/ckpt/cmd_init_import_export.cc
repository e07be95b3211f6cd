// ckpt init, ckpt import, ckpt export.
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/safetensors.h"
#include "ckpt/store.h"
#include "commands.h"
#include "format.h"
#include "json_out.h"
#include "parse_args.h"
#include "progress.h"

namespace ckpt::cli {

namespace {

struct InitArgs {
  StoreOptions options;
};

Status RunInit(const Context& ctx, const InitArgs& args) {
  StoreOptions options = args.options;
  options.create_if_missing = true;
  options.error_if_exists = true;
  CKPT_ASSIGN_OR_RETURN(auto store, Store::Open(options, ctx.store_path));
  const StoreConfig& config = store->config();
  if (ctx.json) {
    nlohmann::json j = ConfigJson(config);
    j["path"] = ctx.store_path;
    PrintJson(j);
  } else {
    Say(ctx,
        fmt::format("initialized store {} (id {}, chunk size {}, zstd level {}, delta depth {})",
                    ctx.store_path, config.store_id, HumanBytes(config.chunk_size),
                    config.zstd_level, config.delta_max_depth));
  }
  return Status::OK();
}

struct ImportArgs {
  std::string file;
  std::string run;
  std::string step;
  std::vector<std::string> meta;
  std::vector<std::string> metrics;
  std::string parent;
};

Status RunImport(const Context& ctx, const ImportArgs& args) {
  // Check every flag before touching the store, so bad input changes nothing.
  SaveRequest request;
  request.run = args.run;
  request.parent = args.parent;
  CKPT_ASSIGN_OR_RETURN(request.step, ParseStep(args.step));
  CKPT_ASSIGN_OR_RETURN(request.meta.attributes, ParseMetaPairs(args.meta));
  CKPT_ASSIGN_OR_RETURN(request.meta.metrics, ParseMetricPairs(args.metrics));

  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/false));
  auto bar = MaybeProgressBar(ctx, "import");
  SaveOptions options;
  options.progress = ProgressCallback(bar);
  CKPT_ASSIGN_OR_RETURN(CheckpointInfo info,
                        ImportSafetensors(*store, args.file, std::move(request), options));
  if (bar) bar->Finish();

  if (ctx.json) {
    PrintJson(InfoJson(info));
  } else if (ctx.quiet) {
    fmt::print("{}\n", info.id);  // for scripts: `id=$(ckpt -q import ...)`
  } else {
    fmt::print("imported {} as {}\n", args.file, RunAtStep(info));
    fmt::print("  id       {}\n", info.id);
    fmt::print("  logical  {} in {}\n", HumanBytes(info.logical_bytes),
               Count(info.tensor_count, "tensor"));
    fmt::print("  stored   {} new ({} before compression, {} shared)\n", HumanBytes(info.new_bytes),
               HumanBytes(info.new_raw_bytes), SharedPercent(info));
  }
  return Status::OK();
}

struct ExportArgs {
  std::string ref;
  std::string out;
  bool sync = false;
};

Status RunExport(const Context& ctx, const ExportArgs& args) {
  CKPT_ASSIGN_OR_RETURN(auto store, OpenStore(ctx, /*read_only=*/true));
  CKPT_ASSIGN_OR_RETURN(CheckpointInfo info, store->Resolve(args.ref));
  auto bar = MaybeProgressBar(ctx, "export");
  ExportOptions options;
  options.progress = ProgressCallback(bar);
  options.sync = args.sync;
  CKPT_RETURN_IF_ERROR(ExportSafetensors(*store, RunAtStep(info), args.out, options));
  if (bar) bar->Finish();

  std::error_code ec;
  uint64_t size = std::filesystem::file_size(args.out, ec);
  if (ec) size = 0;
  if (ctx.json) {
    PrintJson({{"id", info.id},
               {"run", info.run},
               {"step", info.step},
               {"path", args.out},
               {"bytes", size}});
  } else {
    Say(ctx, fmt::format("exported {} ({}) to {}, {}", RunAtStep(info), ShortId(info.id), args.out,
                         HumanBytes(size)));
  }
  return Status::OK();
}

}  // namespace

void RegisterInit(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<InitArgs>();
  CLI::App* cmd = app.add_subcommand("init", "Create a new, empty store");
  cmd->add_option("--chunk-size", args->options.chunk_size,
                  "Bytes per chunk (persisted; 4096 .. 67108864)")
      ->capture_default_str();
  cmd->add_option("--zstd-level", args->options.zstd_level, "zstd level for new chunks, 1 .. 19")
      ->capture_default_str();
  cmd->add_option("--delta-depth", args->options.delta_max_depth,
                  "Longest chain of deltas against parent chunks (persisted; 0 = no deltas, "
                  "up to 16)")
      ->capture_default_str();
  OnRun(cmd, ctx, [&ctx, args] { return RunInit(ctx, *args); });
}

void RegisterImport(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* cmd = app.add_subcommand("import", "Save a safetensors file as a checkpoint");
  cmd->add_option("file", args->file, "The .safetensors file")->required();
  cmd->add_option("--run", args->run, "Run name")->required();
  cmd->add_option("--step", args->step, "Step, a non-negative integer")->required();
  // One value per flag, so that `--meta a=b FILE` leaves FILE positional.
  cmd->add_option("--meta", args->meta, "Attribute KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--metric", args->metrics, "Metric NAME=NUMBER (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--parent", args->parent, "Parent ref (default: the run's latest)");
  OnRun(cmd, ctx, [&ctx, args] { return RunImport(ctx, *args); });
}

void RegisterExport(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write a checkpoint as a safetensors file");
  cmd->add_option("ref", args->ref, kRefHelp)->required();
  cmd->add_option("-o,--output", args->out, "Output .safetensors file")->required();
  cmd->add_flag("--sync", args->sync,
                "fsync the file before exiting, so that it survives a power loss");
  OnRun(cmd, ctx, [&ctx, args] { return RunExport(ctx, *args); });
}

}  // namespace ckpt::cli
