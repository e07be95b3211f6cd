// repo/policy_codec: the stored form of a retention policy, kept in the index
// ('Y' keys) and mirrored as refs/policies/<run> objects so repair restores
// it. Grammar (varint = LEB128):
//   policy := version:varint (=1) keep_last:varint keep_every_steps:varint
//             keep_within_seconds:varint keep_hourly:varint keep_daily:varint
//             keep_weekly:varint keep_monthly:varint best_count:varint
//             (count:varint metric:lstr minimize:u8){best_count}
#pragma once

#include <string>
#include <string_view>

#include "ckpt/retention.h"
#include "ckpt/status.h"

namespace ckpt::internal {

std::string EncodePolicy(const RetentionPolicy& policy);
Status DecodePolicy(std::string_view bytes, RetentionPolicy* out);

// Backend object of the policy of `run`: "refs/policies/<run>", and for the
// default "refs/policies/=default" ('=' cannot occur in a run name).
std::string PolicyRefName(const std::string& run);

}  // namespace ckpt::internal
