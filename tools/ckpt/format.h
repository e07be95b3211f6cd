// Formatting of values for human output: sizes, times, ids, shapes, metrics.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ckpt/manifest.h"

namespace ckpt::cli {

// "512 B", "1.5 KiB", "3.0 MiB", "1.2 GiB", "2.0 TiB".
std::string HumanBytes(uint64_t bytes);

// Local time as "2024-05-01 12:34:56"; "-" for 0.
std::string LocalTime(int64_t wall_time_ns);
// UTC RFC 3339 time "2024-05-01T10:34:56Z", for JSON; "" for 0.
std::string UtcTime(int64_t wall_time_ns);

// The first 12 hex digits of a checkpoint id: unique enough to use as a ref.
std::string ShortId(const std::string& id);

// "RUN@STEP", the canonical ref of a checkpoint.
std::string RunAtStep(const CheckpointInfo& info);

// "[2, 3]"; "[]" for a scalar.
std::string Shape(const std::vector<int64_t>& shape);
// A box of a tensor as "[0:4, 8:16]" (offset:end per dimension).
std::string BoxText(const std::vector<int64_t>& offsets, const std::vector<int64_t>& shape);

// "loss=0.41 acc=0.9"; "-" if empty.
std::string Metrics(const std::map<std::string, double>& metrics);

// Elements joined by `sep`; "-" if empty.
std::string JoinOrDash(const std::vector<std::string>& items, const std::string& sep);

// logical / max(new_raw, 1): how many times smaller the save was than a full copy.
double DedupRatio(const CheckpointInfo& info);
// Share of the logical bytes that the save did not have to store, as "87.5%".
std::string SharedPercent(const CheckpointInfo& info);

// "1 tensor", "3 tensors": `noun` gets an "s" unless n is 1.
std::string Count(uint64_t n, const std::string& noun);

// "12.3x".
std::string Ratio(double ratio);

}  // namespace ckpt::cli
