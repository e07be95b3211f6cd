// ckpt: the command-line interface of the checkpoint store.
//
// Uses only the public API in include/ckpt/. Every command takes the store
// from --store DIR or $CKPT_STORE; listing commands take --json for
// machine-readable output, and errors then also appear on stdout as
// {"error": {"code": <ckpt::Code>, "name": "...", "message": "..."}}.
//
// Exit codes (pinned; scripts rely on them; mapped from ckpt::Code in
// exit_codes.cc, the one place that does so):
//   0  success
//   1  other error (not supported, aborted, unexpected)
//   2  usage error: the command line did not parse
//   3  not found: checkpoint, run, tag, store or input file
//   4  corruption; also `verify` finding any problem
//   5  bad input: invalid argument (malformed file, bad name, bad --meta,
//      --metric, --step or --keep-* value, rm of a tagged checkpoint without
//      --force) or already exists (RUN@STEP taken, store exists)
//   6  busy: another process held the store lock past the timeout
//   7  I/O error or no space left on the device
//   8  version mismatch: the store was written by a newer format
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "ckpt/version.h"
#include "commands.h"
#include "exit_codes.h"

namespace ckpt::cli {
namespace {

int Main(int argc, char** argv) {
  Context ctx;
  CLI::App app("ckpt: a content-addressed checkpoint store for ML training", "ckpt");
  app.set_version_flag("--version", kVersionString);
  app.footer(ExitCodesHelp());
  // At most one; "none" is reported below, so that an unknown command gets
  // CLI11's "not expected: frobnicate" rather than "a subcommand is required".
  app.require_subcommand(0, 1);
  // Let global flags follow the subcommand: `ckpt log --json`.
  app.fallthrough();
  app.add_option("--store", ctx.store_path, "Store directory")->envname("CKPT_STORE");
  app.add_flag("--json", ctx.json, "Print machine-readable JSON on stdout");
  app.add_flag("-q,--quiet", ctx.quiet, "No confirmations or progress bars");

  RegisterInit(app, ctx);
  RegisterImport(app, ctx);
  RegisterExport(app, ctx);
  RegisterLog(app, ctx);
  RegisterShow(app, ctx);
  RegisterLs(app, ctx);
  RegisterDiff(app, ctx);
  RegisterTag(app, ctx);
  RegisterRm(app, ctx);
  RegisterStats(app, ctx);
  RegisterVerify(app, ctx);
  RegisterRepair(app, ctx);
  RegisterPolicy(app, ctx);
  RegisterGc(app, ctx);
  RegisterMount(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version "fail" with code 0; every real parse error is usage.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (!ctx.run) {
    fmt::print(stderr, "ckpt: error: no command given\nRun with --help for more information.\n");
    return kExitUsage;
  }
  if (ctx.store_path.empty()) {
    fmt::print(stderr, "ckpt: error: no store given: pass --store DIR or set CKPT_STORE\n");
    return kExitUsage;
  }
  return ctx.run();
}

}  // namespace
}  // namespace ckpt::cli

int main(int argc, char** argv) {
  try {
    return ckpt::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    // Nothing in the API throws; this catches the CLI's own libraries.
    fmt::print(stderr, "ckpt: error: {}\n", e.what());
    return ckpt::cli::kExitError;
  }
}
