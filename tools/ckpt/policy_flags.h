// The --keep-* flags shared by `ckpt policy set` and `ckpt gc`, and their
// strict parsing into a RetentionPolicy.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "ckpt/result.h"
#include "ckpt/retention.h"

namespace ckpt::cli {

// The flags' raw text, parsed only when the command runs so that bad values
// are bad input (exit 5) naming the flag, not usage errors.
struct KeepFlags {
  struct Count {
    explicit Count(const char* f) : flag(f) {}
    const char* flag;
    std::string text;
    CLI::Option* option = nullptr;  // set by AddKeepFlags; tells "given" from ""
  };
  Count last{"--keep-last"};
  Count every{"--keep-every"};
  Count hourly{"--keep-hourly"};
  Count daily{"--keep-daily"};
  Count weekly{"--keep-weekly"};
  Count monthly{"--keep-monthly"};
  std::string within;
  CLI::Option* within_option = nullptr;
  std::vector<std::string> best;
};

// Adds --keep-last, --keep-every, --keep-within, --keep-hourly, --keep-daily,
// --keep-weekly, --keep-monthly and the repeatable --keep-best to `cmd`.
// REQUIRES: `flags` outlives the parse and the command's run.
void AddKeepFlags(CLI::App* cmd, KeepFlags& flags);

// The policy the given flags describe; empty() if none was given. Errors:
// kInvalidArgument naming the flag and the value ("--keep-last: '-3' is not
// a whole number from 1 to 4294967295").
Result<RetentionPolicy> ParseKeepFlags(const KeepFlags& flags);

}  // namespace ckpt::cli
