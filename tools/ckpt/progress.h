// ProgressBar: a one-line progress display on stderr, redrawn with '\r'.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ckpt/options.h"
#include "context.h"

namespace ckpt::cli {

class ProgressBar {
 public:
  enum class Unit { kBytes, kItems };

  // `label` starts the line, e.g. "import"; `unit` says what done/total count.
  ProgressBar(std::string label, Unit unit);
  // Clears the line, so that later output starts on a clean line.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Records progress; redraws at most ~10 times a second, and at completion.
  void Update(uint64_t done, uint64_t total);
  // Clears the line; call before printing results. Update may draw again.
  void Finish();

 private:
  void Draw(uint64_t done, uint64_t total);

  std::string Amount(uint64_t n) const;

  std::string label_;
  Unit unit_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  size_t drawn_width_ = 0;
};

// A bar when stderr is a terminal and neither --json nor --quiet is given;
// otherwise null, and no progress callback is installed.
std::shared_ptr<ProgressBar> MaybeProgressBar(const Context& ctx, std::string label,
                                              ProgressBar::Unit unit = ProgressBar::Unit::kBytes);

// A callback for SaveOptions/LoadOptions/VerifyOptions::progress feeding
// `bar`; empty when `bar` is null.
ProgressFn ProgressCallback(const std::shared_ptr<ProgressBar>& bar);

}  // namespace ckpt::cli
