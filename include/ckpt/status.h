// ckpt/status.h: the one error type of the library.
//
// Every fallible call returns a Status or a Result<T> (see result.h); nothing
// throws out of the public API except std::bad_alloc. A Status carries a code
// chosen by what the caller will do next, and a message that names the
// context: which checkpoint, tensor, pack, chunk or file.
//
// Thread-safety: Status is a value type; distinct objects may be used from
// distinct threads freely.
//
// Stability: the numeric values of Code are pinned and will never change; the
// CLI's exit codes and its --json output expose them.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "ckpt/export.h"

namespace ckpt {

enum class Code : int {
  kOk = 0,
  kNotFound = 1,         // a ref, run, tensor, tag or file does not exist
  kAlreadyExists = 2,    // e.g. RUN@STEP was already saved, a tag is taken
  kInvalidArgument = 3,  // bad input from the caller: malformed file, bad name
  kCorruption = 4,       // stored bytes fail their hash or format check
  kIOError = 5,          // the operating system reported an I/O failure
  kNoSpace = 6,          // the device is full (ENOSPC)
  kBusy = 7,             // another process holds the lock needed
  kVersionMismatch = 8,  // the store was written by a newer format version
  kNotSupported = 9,     // the operation is not available in this build/store
  kAborted = 10,         // the operation was cancelled or interrupted
};

// Returns a stable lower-case name for `code`, e.g. "not found".
CKPT_EXPORT const char* CodeName(Code code);

class [[nodiscard]] CKPT_EXPORT Status {
 public:
  // Creates an OK status.
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status AlreadyExists(std::string msg) { return {Code::kAlreadyExists, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status NoSpace(std::string msg) { return {Code::kNoSpace, std::move(msg)}; }
  static Status Busy(std::string msg) { return {Code::kBusy, std::move(msg)}; }
  static Status VersionMismatch(std::string msg) {
    return {Code::kVersionMismatch, std::move(msg)};
  }
  static Status NotSupported(std::string msg) { return {Code::kNotSupported, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {Code::kAborted, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The message without the code name, e.g. "pack 3f2a…: truncated".
  const std::string& message() const { return message_; }
  // "corruption: pack 3f2a…: truncated", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` and ": ", so that
  // each layer names what it was doing. OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

}  // namespace ckpt

// Returns early from the enclosing function if `expr` yields a non-OK Status.
#define CKPT_RETURN_IF_ERROR(expr)                       \
  do {                                                   \
    ::ckpt::Status ckpt_status_tmp_ = (expr);            \
    if (!ckpt_status_tmp_.ok()) return ckpt_status_tmp_; \
  } while (0)
