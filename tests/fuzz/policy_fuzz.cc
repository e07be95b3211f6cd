// Fuzzes the retention policy's stored form (DecodePolicy) and the CLI's
// policy values (ParseDurationSeconds, ParseKeepBest) with the input. A
// policy that decodes must re-encode to bytes that decode to the same
// policy; parsed values must be in range and print back to themselves.
#include <cstdint>
#include <string>

#include "ckpt/retention.h"
#include "fuzz_util.h"
#include "repo/policy_codec.h"

using namespace ckpt::internal;

namespace {

bool Same(const ckpt::RetentionPolicy& a, const ckpt::RetentionPolicy& b) {
  if (a.keep_last != b.keep_last || a.keep_every_steps != b.keep_every_steps ||
      a.keep_within_seconds != b.keep_within_seconds || a.keep_hourly != b.keep_hourly ||
      a.keep_daily != b.keep_daily || a.keep_weekly != b.keep_weekly ||
      a.keep_monthly != b.keep_monthly || a.keep_best.size() != b.keep_best.size())
    return false;
  for (size_t i = 0; i < a.keep_best.size(); ++i) {
    if (a.keep_best[i].count != b.keep_best[i].count ||
        a.keep_best[i].metric != b.keep_best[i].metric ||
        a.keep_best[i].minimize != b.keep_best[i].minimize)
      return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);

  ckpt::RetentionPolicy policy;
  ckpt::Status s = DecodePolicy(bytes, &policy);
  if (s.ok()) {
    FUZZ_CHECK(policy.keep_within_seconds >= 0 &&
               policy.keep_within_seconds <= INT64_MAX / 1000000000);
    const std::string encoded = EncodePolicy(policy);
    ckpt::RetentionPolicy back;
    FUZZ_CHECK(DecodePolicy(encoded, &back).ok());
    FUZZ_CHECK(Same(policy, back));
    FUZZ_CHECK(EncodePolicy(back) == encoded);
    (void)policy.ToString();
    (void)policy.empty();
  } else {
    FUZZ_CHECK(s.code() == ckpt::Code::kCorruption);
  }

  auto seconds = ckpt::ParseDurationSeconds(bytes);
  if (seconds.ok()) {
    FUZZ_CHECK(*seconds > 0 && *seconds <= INT64_MAX / 1000000000);
  } else {
    FUZZ_CHECK(seconds.status().code() == ckpt::Code::kInvalidArgument);
  }

  auto best = ckpt::ParseKeepBest(bytes);
  if (best.ok()) {
    FUZZ_CHECK(best->count > 0 && !best->metric.empty());
    const std::string text =
        std::to_string(best->count) + ":" + best->metric + (best->minimize ? ":min" : ":max");
    auto again = ckpt::ParseKeepBest(text);
    FUZZ_CHECK(again.ok() && again->count == best->count && again->metric == best->metric &&
               again->minimize == best->minimize);
  } else {
    FUZZ_CHECK(best.status().code() == ckpt::Code::kInvalidArgument);
  }
  return 0;
}
