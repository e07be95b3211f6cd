// JSON forms of the library's values, for --json output. Field names are
// snake_case like the C++ fields; sizes are bytes; ids are full hex.
#pragma once

#include <nlohmann/json.hpp>

#include "ckpt/gc.h"
#include "ckpt/manifest.h"
#include "ckpt/retention.h"
#include "ckpt/stats.h"
#include "ckpt/status.h"
#include "ckpt/store.h"

namespace ckpt::cli {

// {"error": {"code": 1, "name": "not found", "message": "..."}}
nlohmann::json ErrorJson(const Status& status);
// {"code", "name", "message"} of a non-OK status.
nlohmann::json StatusJson(const Status& status);

nlohmann::json InfoJson(const CheckpointInfo& info);
nlohmann::json EntryJson(const EntryInfo& entry);
nlohmann::json DetailJson(const CheckpointDetail& detail);
nlohmann::json ConfigJson(const StoreConfig& config);
nlohmann::json StatsJson(const StoreStats& stats);
nlohmann::json VerifyJson(const VerifyReport& report);
nlohmann::json RepairJson(const RepairReport& report);
// Every rule field (0 or [] if unset), plus "flags": policy.ToString().
nlohmann::json PolicyJson(const RetentionPolicy& policy);
// {"run", "step", "id", "keep", "reasons"}
nlohmann::json DecisionJson(const RetentionDecision& decision);
// "dry_run", "decisions", "runs_without_policy" and every counter.
nlohmann::json GcJson(const GcReport& report);

}  // namespace ckpt::cli
