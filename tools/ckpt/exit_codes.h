// Exit codes of the ckpt CLI. They are part of its interface (scripts branch
// on them), so the values are pinned like ckpt::Code's; main.cc and
// `ckpt --help` list them.
#pragma once

#include "ckpt/status.h"

namespace ckpt::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;       // any error not listed below
inline constexpr int kExitUsage = 2;       // bad command line
inline constexpr int kExitNotFound = 3;    // ref, run, tag, store or file missing
inline constexpr int kExitCorruption = 4;  // also: verify found problems
inline constexpr int kExitBadInput = 5;    // invalid argument, already exists
inline constexpr int kExitBusy = 6;        // another process held the store lock too long
inline constexpr int kExitIO = 7;          // I/O error or no space left
inline constexpr int kExitVersion = 8;     // store written by a newer format

// The one mapping from library error codes to exit codes.
int ExitCodeFor(Code code);

// The exit-code table as shown in the `--help` footer.
const char* ExitCodesHelp();

}  // namespace ckpt::cli
