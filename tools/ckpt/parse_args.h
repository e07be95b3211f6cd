// Strict parsers for command-line values that CLI11 cannot check alone.
// Each returns kInvalidArgument naming the flag and the offending text.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ckpt/result.h"

namespace ckpt::cli {

// A step: decimal digits only (no sign, no spaces), fitting in 64 bits.
Result<uint64_t> ParseStep(const std::string& text);

// A count given to `flag`: decimal digits only, at least 1 and at most `max`
// ("0", "-3", "3x" and "" are errors naming the flag).
Result<uint64_t> ParseCount(const std::string& flag, const std::string& text, uint64_t max);

// A fraction given to `flag`: a finite number in [0, 1], consumed whole.
Result<double> ParseFraction(const std::string& flag, const std::string& text);

// --meta KEY=VALUE pairs: KEY non-empty, VALUE may be empty, keys unique.
Result<std::map<std::string, std::string>> ParseMetaPairs(const std::vector<std::string>& items);

// --metric NAME=NUMBER pairs: NAME non-empty and unique, NUMBER a finite
// decimal or exponent number consumed whole ("0.41", "-3", "1e-5").
Result<std::map<std::string, double>> ParseMetricPairs(const std::vector<std::string>& items);

}  // namespace ckpt::cli
