// Shared helpers for the tests: self-cleaning temporary directories, random
// bytes, running the CLI.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::test {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// `n` pseudo-random bytes from `seed` (deterministic).
std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed);

// Whole contents of a file; empty if missing.
std::vector<uint8_t> ReadFileBytes(const std::string& path);
// The text of docs/format.md in the source tree (the normative format).
std::string FormatDocText();
void WriteFileBytes(const std::string& path, const void* data, size_t size);

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the built `ckpt` CLI with `args` (shell-quoted here), capturing output.
CommandResult RunCli(const std::vector<std::string>& args);
// Runs a shell command line, capturing output.
CommandResult RunShell(const std::string& command_line);

// A child process running tests/worker/ckpt_test_worker, its stdout piped.
struct Worker {
  int pid = -1;
  int out_fd = -1;
};
// Forks and execs the worker with `args`; its stdout goes to out_fd.
Worker SpawnWorker(const std::vector<std::string>& args);
// Reads `fd` to its end and closes it.
std::string ReadToEnd(int fd);
// Waits for `pid`; returns the exit code, or 128 + signal number.
int WaitForExit(int pid);

// Polls `condition` until it holds; false if it still does not after
// `limit`. For states another thread or process shows only through the file
// system (a held flock, a file that appears): the limit only keeps a broken
// build from hanging, it orders nothing.
bool WaitUntil(const std::function<bool()>& condition,
               std::chrono::milliseconds limit = std::chrono::minutes(2));

}  // namespace ckpt::test
