#include "repo/policy_codec.h"

#include <cstdint>

#include "util/bytes.h"

namespace ckpt::internal {

std::string EncodePolicy(const RetentionPolicy& p) {
  std::string out;
  PutVarint(&out, 1);
  PutVarint(&out, p.keep_last);
  PutVarint(&out, p.keep_every_steps);
  PutVarint(&out, static_cast<uint64_t>(p.keep_within_seconds));
  PutVarint(&out, p.keep_hourly);
  PutVarint(&out, p.keep_daily);
  PutVarint(&out, p.keep_weekly);
  PutVarint(&out, p.keep_monthly);
  PutVarint(&out, p.keep_best.size());
  for (const auto& b : p.keep_best) {
    PutVarint(&out, b.count);
    PutLengthPrefixed(&out, b.metric);
    out.push_back(b.minimize ? 1 : 0);
  }
  return out;
}

Status DecodePolicy(std::string_view bytes, RetentionPolicy* out) {
  ByteReader r(bytes);
  uint64_t version = 0, v[7] = {}, best = 0;
  bool ok = r.GetVarint(&version) && version == 1;
  for (auto& x : v) ok = ok && r.GetVarint(&x);
  ok = ok && r.GetVarint(&best) && best <= r.remaining();
  // Counts are 32-bit; a duration must still fit in nanoseconds.
  for (int i : {0, 3, 4, 5, 6}) ok = ok && v[i] <= UINT32_MAX;
  ok = ok && v[2] <= static_cast<uint64_t>(INT64_MAX / 1000000000);
  if (!ok) return Status::Corruption("malformed retention policy");
  *out = RetentionPolicy();
  out->keep_last = static_cast<uint32_t>(v[0]);
  out->keep_every_steps = v[1];
  out->keep_within_seconds = static_cast<int64_t>(v[2]);
  out->keep_hourly = static_cast<uint32_t>(v[3]);
  out->keep_daily = static_cast<uint32_t>(v[4]);
  out->keep_weekly = static_cast<uint32_t>(v[5]);
  out->keep_monthly = static_cast<uint32_t>(v[6]);
  for (uint64_t i = 0; i < best; ++i) {
    KeepBest b;
    uint64_t count;
    std::string_view metric;
    uint8_t minimize;
    if (!r.GetVarint(&count) || count > UINT32_MAX || !r.GetLengthPrefixed(&metric) ||
        !r.GetByte(&minimize))
      return Status::Corruption("malformed retention policy");
    b.count = static_cast<uint32_t>(count);
    b.metric = std::string(metric);
    b.minimize = minimize != 0;
    out->keep_best.push_back(std::move(b));
  }
  if (!r.AtEnd()) return Status::Corruption("retention policy has trailing bytes");
  return Status::OK();
}

std::string PolicyRefName(const std::string& run) {
  return "refs/policies/" + (run.empty() ? std::string("=default") : run);
}

}  // namespace ckpt::internal
