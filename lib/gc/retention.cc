// gc/: what garbage collection keeps and reclaims. This file: the retention
// rules, a pure function from a run's checkpoints to keep/remove decisions
// (no I/O, unit-tested on its own, like restic's forget policy).
#include "ckpt/retention.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>

#include "util/clock.h"

namespace ckpt {
namespace {

using internal::kNsPerSecond;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Calendar month index (year * 12 + month - 1) of a day count since
// 1970-01-01 (UTC), by Howard Hinnant's civil-from-days algorithm.
int64_t MonthIndex(int64_t days) {
  int64_t z = days + 719468;
  int64_t era = FloorDiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 12 + month - 1;
}

using Bucket = std::function<int64_t(int64_t seconds)>;

// Keeps the newest checkpoint of each of the last `count` buckets.
void KeepPerBucket(const std::vector<size_t>& newest_first, const std::vector<CheckpointInfo>& cps,
                   uint32_t count, const Bucket& bucket, const std::string& reason,
                   std::vector<RetentionDecision>& out) {
  if (count == 0) return;
  uint32_t kept = 0;
  bool have_last = false;
  int64_t last = 0;
  for (size_t i : newest_first) {
    if (kept == count) break;
    int64_t b = bucket(FloorDiv(cps[i].meta.wall_time_ns, kNsPerSecond));
    if (have_last && b == last) continue;
    out[i].reasons.push_back(reason);
    have_last = true;
    last = b;
    ++kept;
  }
}

void KeepBestBy(const KeepBest& rule, const std::vector<CheckpointInfo>& cps,
                std::vector<RetentionDecision>& out) {
  std::vector<size_t> with_metric;
  for (size_t i = 0; i < cps.size(); ++i) {
    auto it = cps[i].meta.metrics.find(rule.metric);
    if (it != cps[i].meta.metrics.end() && !std::isnan(it->second)) with_metric.push_back(i);
  }
  auto value = [&](size_t i) { return cps[i].meta.metrics.at(rule.metric); };
  std::stable_sort(with_metric.begin(), with_metric.end(), [&](size_t a, size_t b) {
    if (value(a) != value(b)) return rule.minimize ? value(a) < value(b) : value(a) > value(b);
    return cps[a].step > cps[b].step;  // on a tie, the later checkpoint
  });
  std::string reason = "best " + std::to_string(rule.count) + " by " + rule.metric +
                       (rule.minimize ? " (min)" : " (max)");
  for (size_t k = 0; k < with_metric.size() && k < rule.count; ++k)
    out[with_metric[k]].reasons.push_back(reason);
}

}  // namespace

bool RetentionPolicy::empty() const {
  return keep_last == 0 && keep_every_steps == 0 && keep_within_seconds == 0 && keep_hourly == 0 &&
         keep_daily == 0 && keep_weekly == 0 && keep_monthly == 0 && keep_best.empty();
}

std::string RetentionPolicy::ToString() const {
  std::string s;
  auto add = [&](const std::string& flag, const std::string& value) {
    s += (s.empty() ? "" : " ") + flag + " " + value;
  };
  if (keep_last) add("--keep-last", std::to_string(keep_last));
  if (keep_every_steps) add("--keep-every", std::to_string(keep_every_steps));
  if (keep_within_seconds) add("--keep-within", std::to_string(keep_within_seconds) + "s");
  if (keep_hourly) add("--keep-hourly", std::to_string(keep_hourly));
  if (keep_daily) add("--keep-daily", std::to_string(keep_daily));
  if (keep_weekly) add("--keep-weekly", std::to_string(keep_weekly));
  if (keep_monthly) add("--keep-monthly", std::to_string(keep_monthly));
  for (const auto& b : keep_best)
    add("--keep-best",
        std::to_string(b.count) + ":" + b.metric + ":" + (b.minimize ? "min" : "max"));
  return s.empty() ? "(none: only tagged checkpoints are kept)" : s;
}

Result<int64_t> ParseDurationSeconds(const std::string& text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  std::string unit(end, text.data() + text.size());
  static const std::map<std::string, int64_t> kUnits = {
      {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 7 * 86400}};
  auto it = kUnits.find(unit);
  if (ec != std::errc() || end == text.data() || n <= 0 || it == kUnits.end() ||
      n > INT64_MAX / it->second / kNsPerSecond)
    return Status::InvalidArgument("bad duration '" + text +
                                   "': expected a positive number and a unit s, m, h, d or w, "
                                   "e.g. 48h");
  return n * it->second;
}

Result<KeepBest> ParseKeepBest(const std::string& text) {
  const std::string usage =
      "bad keep-best rule '" + text + "': expected N:METRIC:min or N:METRIC:max";
  size_t first = text.find(':'), last = text.rfind(':');
  if (first == std::string::npos || first == last) return Status::InvalidArgument(usage);
  KeepBest rule;
  auto [end, ec] = std::from_chars(text.data(), text.data() + first, rule.count);
  if (ec != std::errc() || end != text.data() + first || rule.count == 0)
    return Status::InvalidArgument(usage + " (N must be a positive whole number)");
  rule.metric = text.substr(first + 1, last - first - 1);
  std::string direction = text.substr(last + 1);
  if (rule.metric.empty() || (direction != "min" && direction != "max"))
    return Status::InvalidArgument(usage);
  rule.minimize = direction == "min";
  return rule;
}

std::vector<RetentionDecision> ApplyRetention(const RetentionPolicy& policy,
                                              const std::vector<CheckpointInfo>& cps,
                                              int64_t now_ns) {
  std::vector<RetentionDecision> out(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) out[i].checkpoint = cps[i];
  std::vector<size_t> by_step(cps.size()), newest_first(cps.size());
  std::iota(by_step.begin(), by_step.end(), 0);
  std::iota(newest_first.begin(), newest_first.end(), 0);
  std::stable_sort(by_step.begin(), by_step.end(),
                   [&](size_t a, size_t b) { return cps[a].step > cps[b].step; });
  std::stable_sort(newest_first.begin(), newest_first.end(), [&](size_t a, size_t b) {
    if (cps[a].meta.wall_time_ns != cps[b].meta.wall_time_ns)
      return cps[a].meta.wall_time_ns > cps[b].meta.wall_time_ns;
    return cps[a].step > cps[b].step;  // same second (e.g. an import): the later step
  });

  for (size_t i = 0; i < cps.size(); ++i)
    for (const auto& tag : cps[i].tags) out[i].reasons.push_back("tag " + tag);
  for (size_t k = 0; k < by_step.size() && k < policy.keep_last; ++k)
    out[by_step[k]].reasons.push_back("last " + std::to_string(policy.keep_last));
  if (policy.keep_every_steps)
    for (size_t i = 0; i < cps.size(); ++i)
      if (cps[i].step % policy.keep_every_steps == 0)
        out[i].reasons.push_back("every " + std::to_string(policy.keep_every_steps) + " steps");
  if (policy.keep_within_seconds) {
    int64_t cutoff = now_ns - policy.keep_within_seconds * kNsPerSecond;
    for (size_t i = 0; i < cps.size(); ++i)
      if (cps[i].meta.wall_time_ns >= cutoff)
        out[i].reasons.push_back("within " + std::to_string(policy.keep_within_seconds) + "s");
  }
  KeepPerBucket(
      newest_first, cps, policy.keep_hourly, [](int64_t s) { return FloorDiv(s, 3600); }, "hourly",
      out);
  KeepPerBucket(
      newest_first, cps, policy.keep_daily, [](int64_t s) { return FloorDiv(s, 86400); }, "daily",
      out);
  // 1970-01-01 was a Thursday; shifting by 3 days makes weeks start on Monday.
  KeepPerBucket(
      newest_first, cps, policy.keep_weekly,
      [](int64_t s) { return FloorDiv(FloorDiv(s, 86400) + 3, 7); }, "weekly", out);
  KeepPerBucket(
      newest_first, cps, policy.keep_monthly,
      [](int64_t s) { return MonthIndex(FloorDiv(s, 86400)); }, "monthly", out);
  for (const auto& rule : policy.keep_best) KeepBestBy(rule, cps, out);
  return out;
}

}  // namespace ckpt
