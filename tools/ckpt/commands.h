// The subcommands. Each Register* adds one command (or a small group) to the
// app; when the command is selected it sets ctx.run, which main calls after
// parsing. Commands that only read open the store read-only.
#pragma once

#include <CLI/CLI.hpp>

#include "context.h"

namespace ckpt::cli {

void RegisterInit(CLI::App& app, Context& ctx);    // cmd_init_import_export.cc
void RegisterImport(CLI::App& app, Context& ctx);  // cmd_init_import_export.cc
void RegisterExport(CLI::App& app, Context& ctx);  // cmd_init_import_export.cc
void RegisterLog(CLI::App& app, Context& ctx);     // cmd_log_show_ls.cc
void RegisterShow(CLI::App& app, Context& ctx);    // cmd_log_show_ls.cc
void RegisterLs(CLI::App& app, Context& ctx);      // cmd_log_show_ls.cc
void RegisterDiff(CLI::App& app, Context& ctx);    // cmd_diff.cc
void RegisterTag(CLI::App& app, Context& ctx);     // cmd_tag_rm.cc
void RegisterRm(CLI::App& app, Context& ctx);      // cmd_tag_rm.cc
void RegisterStats(CLI::App& app, Context& ctx);   // cmd_stats_verify_repair.cc
void RegisterVerify(CLI::App& app, Context& ctx);  // cmd_stats_verify_repair.cc
void RegisterRepair(CLI::App& app, Context& ctx);  // cmd_stats_verify_repair.cc
void RegisterPolicy(CLI::App& app, Context& ctx);  // cmd_policy.cc
void RegisterGc(CLI::App& app, Context& ctx);      // cmd_gc.cc
void RegisterMount(CLI::App& app, Context& ctx);   // cmd_mount.cc

// Help text of a REF argument.
inline constexpr const char* kRefHelp = "Checkpoint: RUN@STEP, RUN (its latest), TAG or id prefix";

// Makes `cmd` set ctx.run to `body` (returning a Status reported by Finish)
// when it is selected.
template <typename Body>
void OnRun(CLI::App* cmd, Context& ctx, Body body) {
  cmd->callback([&ctx, body] { ctx.run = [&ctx, body] { return Finish(ctx, body()); }; });
}

}  // namespace ckpt::cli
