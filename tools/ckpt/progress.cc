#include "progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "format.h"

namespace ckpt::cli {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr size_t kBarCells = 24;
}  // namespace

ProgressBar::ProgressBar(std::string label, Unit unit)
    : label_(std::move(label)), unit_(unit), start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(uint64_t done, uint64_t total) {
  auto now = std::chrono::steady_clock::now();
  bool finished = total > 0 && done >= total;
  if (!finished && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  Draw(done, total);
}

void ProgressBar::Draw(uint64_t done, uint64_t total) {
  double fraction = total > 0 ? std::min(1.0, static_cast<double>(done) / total) : 0.0;
  auto filled = static_cast<size_t>(fraction * kBarCells);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  uint64_t rate = seconds > 0 ? static_cast<uint64_t>(static_cast<double>(done) / seconds) : 0;
  std::string line = fmt::format("{} [{}{}] {:5.1f}%  {} / {}  {}/s", label_,
                                 std::string(filled, '#'), std::string(kBarCells - filled, ' '),
                                 100.0 * fraction, Amount(done), Amount(total), Amount(rate));
  // Pad over any longer previous line instead of relying on terminal escapes.
  size_t width = line.size();
  if (width < drawn_width_) line.append(drawn_width_ - width, ' ');
  drawn_width_ = std::max(drawn_width_, width);
  fmt::print(stderr, "\r{}", line);
  std::fflush(stderr);
}

std::string ProgressBar::Amount(uint64_t n) const {
  return unit_ == Unit::kBytes ? HumanBytes(n) : std::to_string(n);
}

void ProgressBar::Finish() {
  if (drawn_width_ == 0) return;
  fmt::print(stderr, "\r{}\r", std::string(drawn_width_, ' '));
  std::fflush(stderr);
  drawn_width_ = 0;
}

std::shared_ptr<ProgressBar> MaybeProgressBar(const Context& ctx, std::string label,
                                              ProgressBar::Unit unit) {
  if (ctx.json || ctx.quiet || !isatty(STDERR_FILENO)) return nullptr;
  return std::make_shared<ProgressBar>(std::move(label), unit);
}

ProgressFn ProgressCallback(const std::shared_ptr<ProgressBar>& bar) {
  if (!bar) return nullptr;
  return [bar](uint64_t done, uint64_t total) { bar->Update(done, total); };
}

}  // namespace ckpt::cli
