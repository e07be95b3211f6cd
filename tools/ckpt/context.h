// Context: what every command shares (global flags, the store path) and the
// helpers that turn results into output and exit codes.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ckpt/result.h"
#include "ckpt/status.h"
#include "ckpt/store.h"

namespace ckpt::cli {

struct Context {
  std::string store_path;  // --store or $CKPT_STORE
  bool json = false;       // --json: machine-readable stdout
  bool quiet = false;      // -q: no confirmations, no progress bars
  // Set by the selected subcommand while parsing; main runs it afterwards,
  // once every global flag (which may follow the subcommand) is known.
  std::function<int()> run;
};

// Opens the store named by ctx. Read-only opens take no writer lock, so
// listing commands work while a trainer has the store open.
Result<std::unique_ptr<Store>> OpenStore(const Context& ctx, bool read_only);

// Reports `status` (stderr line; with --json also an error object on stdout)
// and returns its exit code; returns 0 for OK without printing.
int Finish(const Context& ctx, const Status& status);

// Prints `j` on stdout, indented, with a trailing newline.
void PrintJson(const nlohmann::json& j);

// Prints a human confirmation line unless --quiet or --json.
void Say(const Context& ctx, const std::string& line);

}  // namespace ckpt::cli
