#include "parse_args.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <utility>

namespace ckpt::cli {

Result<uint64_t> ParseStep(const std::string& text) {
  uint64_t step = 0;
  const char* end = text.data() + text.size();
  // from_chars alone would accept a leading '-' for nothing and stop early on
  // junk; insist on digits all the way.
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  auto [ptr, ec] = std::from_chars(text.data(), end, step);
  if (!digits || ec != std::errc() || ptr != end) {
    return Status::InvalidArgument(fmt::format("--step: '{}' is not a non-negative integer", text));
  }
  return step;
}

Result<uint64_t> ParseCount(const std::string& flag, const std::string& text, uint64_t max) {
  uint64_t n = 0;
  const char* end = text.data() + text.size();
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (!digits || ec != std::errc() || ptr != end || n == 0 || n > max) {
    return Status::InvalidArgument(
        fmt::format("{}: '{}' is not a whole number from 1 to {}", flag, text, max));
  }
  return n;
}

Result<double> ParseFraction(const std::string& flag, const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !(value >= 0 && value <= 1)) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not a number from 0 to 1", flag, text));
  }
  return value;
}

// Splits "KEY=VALUE" at the first '='.
static Result<std::pair<std::string, std::string>> SplitPair(const std::string& item,
                                                             const char* flag, const char* form) {
  size_t eq = item.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::InvalidArgument(fmt::format("{}: '{}' is not of the form {}", flag, item, form));
  }
  return std::make_pair(item.substr(0, eq), item.substr(eq + 1));
}

Result<std::map<std::string, std::string>> ParseMetaPairs(const std::vector<std::string>& items) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    CKPT_ASSIGN_OR_RETURN(auto kv, SplitPair(item, "--meta", "KEY=VALUE"));
    if (!out.emplace(kv.first, kv.second).second) {
      return Status::InvalidArgument(fmt::format("--meta: key '{}' given twice", kv.first));
    }
  }
  return out;
}

Result<std::map<std::string, double>> ParseMetricPairs(const std::vector<std::string>& items) {
  std::map<std::string, double> out;
  for (const auto& item : items) {
    CKPT_ASSIGN_OR_RETURN(auto kv, SplitPair(item, "--metric", "NAME=NUMBER"));
    const std::string& text = kv.second;
    double value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
      return Status::InvalidArgument(
          fmt::format("--metric: '{}' in '{}' is not a finite number", text, item));
    }
    if (!out.emplace(kv.first, value).second) {
      return Status::InvalidArgument(fmt::format("--metric: name '{}' given twice", kv.first));
    }
  }
  return out;
}

}  // namespace ckpt::cli
