// repo/ref_resolver: turns a ref (RUN@STEP, TAG, RUN, id prefix) into a
// checkpoint, and checkpoints into the public CheckpointInfo.
#pragma once

#include <string>
#include <vector>

#include "repo/store_context.h"

namespace ckpt::internal {

// Valid run and tag names: [A-Za-z0-9._-]+, at most 128 bytes.
bool IsValidName(std::string_view name);

// Resolves `ref`; order of lookup: RUN@STEP, tag, run (latest), id prefix.
Result<ResolvedCheckpoint> ResolveRef(Index& index, const std::string& ref);
// Loads the checkpoint with id `id`. Errors: kNotFound.
Result<ResolvedCheckpoint> LoadCheckpoint(Index& index, const Digest& id);
// Latest checkpoint id of `run`, if any.
Result<std::optional<Digest>> LatestOfRun(Index& index, const std::string& run);
// Tags pointing at each checkpoint id (hex).
Result<std::multimap<std::string, std::string>> TagsById(Index& index);

// Errors: kCorruption if the pieces of a sharded checkpoint do not fit.
Result<CheckpointDetail> MakeDetail(const ResolvedCheckpoint& c, std::vector<std::string> tags);

}  // namespace ckpt::internal
