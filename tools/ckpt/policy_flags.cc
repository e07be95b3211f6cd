#include "policy_flags.h"

#include <cstdint>
#include <limits>

#include "parse_args.h"

namespace ckpt::cli {

namespace {

void AddCount(CLI::App* cmd, KeepFlags::Count& count, const std::string& help) {
  count.option = cmd->add_option(count.flag, count.text, help)->type_name("N");
}

// Parses `count` into `out` if it was given; leaves `out` at 0 otherwise.
template <typename T>
Status ParseCountInto(const KeepFlags::Count& count, T* out) {
  if (count.option == nullptr || count.option->count() == 0) return Status::OK();
  CKPT_ASSIGN_OR_RETURN(uint64_t n,
                        ParseCount(count.flag, count.text, std::numeric_limits<T>::max()));
  *out = static_cast<T>(n);
  return Status::OK();
}

}  // namespace

void AddKeepFlags(CLI::App* cmd, KeepFlags& flags) {
  AddCount(cmd, flags.last, "Keep the N highest steps");
  AddCount(cmd, flags.every, "Keep steps that are multiples of N");
  flags.within_option =
      cmd->add_option("--keep-within", flags.within,
                      "Keep checkpoints saved within DURATION (90s, 15m, 48h, 7d, 2w)")
          ->type_name("DURATION");
  AddCount(cmd, flags.hourly,
           "Keep the newest checkpoint in each of the last N hours that have one");
  AddCount(cmd, flags.daily, "... of each of the last N days (UTC)");
  AddCount(cmd, flags.weekly, "... of each of the last N ISO weeks (UTC)");
  AddCount(cmd, flags.monthly, "... of each of the last N months (UTC)");
  // One value per flag, like --meta, so that a positional may follow.
  cmd->add_option("--keep-best", flags.best,
                  "Keep the N best by METRIC: N:METRIC:min or N:METRIC:max (repeatable)")
      ->allow_extra_args(false)
      ->type_name("N:METRIC:min|max");
}

Result<RetentionPolicy> ParseKeepFlags(const KeepFlags& flags) {
  RetentionPolicy policy;
  CKPT_RETURN_IF_ERROR(ParseCountInto(flags.last, &policy.keep_last));
  CKPT_RETURN_IF_ERROR(ParseCountInto(flags.every, &policy.keep_every_steps));
  CKPT_RETURN_IF_ERROR(ParseCountInto(flags.hourly, &policy.keep_hourly));
  CKPT_RETURN_IF_ERROR(ParseCountInto(flags.daily, &policy.keep_daily));
  CKPT_RETURN_IF_ERROR(ParseCountInto(flags.weekly, &policy.keep_weekly));
  CKPT_RETURN_IF_ERROR(ParseCountInto(flags.monthly, &policy.keep_monthly));
  if (flags.within_option != nullptr && flags.within_option->count() > 0) {
    auto seconds = ParseDurationSeconds(flags.within);
    if (!seconds.ok()) return seconds.status().WithContext("--keep-within");
    policy.keep_within_seconds = *seconds;
  }
  for (const auto& text : flags.best) {
    auto rule = ParseKeepBest(text);
    if (!rule.ok()) return rule.status().WithContext("--keep-best");
    policy.keep_best.push_back(std::move(*rule));
  }
  return policy;
}

}  // namespace ckpt::cli
