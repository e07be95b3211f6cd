// repo/checkpoint_summary: the summary of a checkpoint (its 'I' key), which
// listings and gc's plan read instead of the whole manifest: at tens of
// thousands of chunks per checkpoint the manifest is 1000x larger.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "repo/store_context.h"

namespace ckpt::internal {

// The summary of the checkpoint of `record` and `manifest`, as its 'I' key
// holds it.
CheckpointSummary SummarizeCheckpoint(const CheckpointRecord& record, const Manifest& manifest);

// The public listing of `c`, with `tags`.
CheckpointInfo MakeInfo(const ResolvedCheckpoint& c, std::vector<std::string> tags);

// Adds the 'M' and 'I' keys of checkpoint `id` to `batch`.
void PutCheckpointRecord(IndexBatch* batch, const Digest& id, const CheckpointRecord& record,
                         const Manifest& manifest);
// Adds the deletion of the 'M', 'I' and 'R' keys of checkpoint `id`, which
// is RUN@STEP, to `batch`.
void DeleteCheckpointKeys(IndexBatch* batch, const Digest& id, const std::string& run,
                          uint64_t step);

// The listings of checkpoints `ids`, in order, each with its tags from
// `tags_by_id` (TagsById). A checkpoint without a summary (indexed before
// summaries existed) is read whole, and its id added to `unsummarized` if
// given. Errors: kNotFound, kCorruption.
Result<std::vector<CheckpointInfo>> LoadInfos(
    Index& index, const std::vector<Digest>& ids,
    const std::multimap<std::string, std::string>& tags_by_id,
    std::vector<Digest>* unsummarized = nullptr);

// Writes the summary of each checkpoint of `ids` that still exists and has
// none, in `index` (a writer session's), in one commit if there is any to
// write. Returns how many it wrote.
Result<uint64_t> WriteMissingSummaries(Index& index, const std::vector<Digest>& ids);

}  // namespace ckpt::internal
