#include "exit_codes.h"

namespace ckpt::cli {

int ExitCodeFor(Code code) {
  switch (code) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kCorruption:
      return kExitCorruption;
    case Code::kInvalidArgument:
    case Code::kAlreadyExists:
      return kExitBadInput;
    case Code::kBusy:
      return kExitBusy;
    case Code::kIOError:
    case Code::kNoSpace:
      return kExitIO;
    case Code::kVersionMismatch:
      return kExitVersion;
    case Code::kNotSupported:
    case Code::kAborted:
      return kExitError;
  }
  return kExitError;
}

const char* ExitCodesHelp() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  other error\n"
         "  2  usage error (bad command line)\n"
         "  3  not found (checkpoint, run, tag, store, file)\n"
         "  4  corruption (also: verify found problems)\n"
         "  5  bad input (invalid argument, already exists)\n"
         "  6  busy (another process held the store lock past the timeout)\n"
         "  7  I/O error or no space left\n"
         "  8  version mismatch (store written by a newer ckpt)\n";
}

}  // namespace ckpt::cli
