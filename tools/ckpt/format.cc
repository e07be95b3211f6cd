#include "format.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace ckpt::cli {

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // Switch units at 1023.95 so that rounding never prints "1024.0 KiB".
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

static std::string FormatTime(int64_t wall_time_ns, bool utc, const char* pattern) {
  std::time_t seconds = static_cast<std::time_t>(wall_time_ns / 1'000'000'000);
  std::tm tm{};
  if (utc ? gmtime_r(&seconds, &tm) == nullptr : localtime_r(&seconds, &tm) == nullptr) {
    return fmt::format("@{}", seconds);
  }
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), pattern, &tm);
  return std::string(buf, n);
}

std::string LocalTime(int64_t wall_time_ns) {
  if (wall_time_ns == 0) return "-";
  return FormatTime(wall_time_ns, /*utc=*/false, "%Y-%m-%d %H:%M:%S");
}

std::string UtcTime(int64_t wall_time_ns) {
  if (wall_time_ns == 0) return "";
  return FormatTime(wall_time_ns, /*utc=*/true, "%Y-%m-%dT%H:%M:%SZ");
}

std::string ShortId(const std::string& id) { return id.substr(0, 12); }

std::string RunAtStep(const CheckpointInfo& info) {
  return fmt::format("{}@{}", info.run, info.step);
}

std::string Shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::string Metrics(const std::map<std::string, double>& metrics) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : metrics) parts.push_back(fmt::format("{}={:g}", name, value));
  return JoinOrDash(parts, " ");
}

std::string JoinOrDash(const std::vector<std::string>& items, const std::string& sep) {
  if (items.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

double DedupRatio(const CheckpointInfo& info) {
  return static_cast<double>(info.logical_bytes) /
         static_cast<double>(std::max<uint64_t>(info.new_raw_bytes, 1));
}

std::string SharedPercent(const CheckpointInfo& info) {
  if (info.logical_bytes == 0) return "-";
  // new_raw also drops chunks repeated inside this checkpoint, so this counts
  // every byte the save did not have to write, not only those of earlier saves.
  uint64_t fresh = std::min(info.new_raw_bytes, info.logical_bytes);
  double shared = 100.0 * static_cast<double>(info.logical_bytes - fresh) /
                  static_cast<double>(info.logical_bytes);
  return fmt::format("{:.1f}%", shared);
}

std::string Count(uint64_t n, const std::string& noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

std::string Ratio(double ratio) { return fmt::format("{:.1f}x", ratio); }

std::string BoxText(const std::vector<int64_t>& offsets, const std::vector<int64_t>& shape) {
  std::vector<std::string> dims;
  for (size_t d = 0; d < shape.size() && d < offsets.size(); ++d)
    dims.push_back(fmt::format("{}:{}", offsets[d], offsets[d] + shape[d]));
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

}  // namespace ckpt::cli
