#include "repo/checkpoint_remover.h"

#include "repo/checkpoint_summary.h"
#include "repo/ref_resolver.h"

namespace ckpt::internal {

Result<std::vector<std::string>> TagsOfCheckpoint(Index& index, const Digest& id) {
  std::vector<std::string> tags;
  CKPT_ASSIGN_OR_RETURN(auto all, TagsById(index));
  auto [lo, hi] = all.equal_range(id.Hex());
  for (auto it = lo; it != hi; ++it) tags.push_back(it->second);
  return tags;
}

Status RemoveCheckpoint(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c) {
  const std::string what = "delete " + c.Label();
  // A durable tombstone first, so that repair does not bring it back; tag
  // refs go last, as repair restores only tags of restored checkpoints.
  std::string hex = c.id.Hex();
  // Read before anything is written: without the tags, the commit below
  // would leave tags pointing at nothing.
  auto tags_read = TagsOfCheckpoint(index, c.id);
  if (!tags_read.ok()) return tags_read.status().WithContext(what);
  const std::vector<std::string> tags = std::move(tags_read).value();
  CKPT_RETURN_IF_ERROR(
      ctx.backend->Put(DeletedRefName(hex), hex.data(), hex.size()).WithContext(what));
  IndexBatch batch;
  for (const auto& tag : tags) batch.Delete(TagKey(tag));
  DeleteCheckpointKeys(&batch, c.id, c.manifest.run, c.manifest.step);
  Status s = index.Commit(batch);
  if (!s.ok()) {
    // Still visible: withdraw the tombstone so that repair keeps it. If
    // that fails too, say so: repair would drop a checkpoint that exists.
    Status withdraw = ctx.backend->Remove(DeletedRefName(hex));
    if (!withdraw.ok())
      return s.WithContext(what + " (and its tombstone stays: " + withdraw.ToString() + ")");
    return s.WithContext(what);
  }
  // The checkpoint is gone; a tag ref left behind is harmless (repair
  // restores only tags of checkpoints it restores), so report it and go on.
  for (const auto& tag : tags) {
    Status r = ctx.backend->Remove(TagRefName(tag));
    if (!r.ok())
      return r.WithContext(what + ": checkpoint deleted, but its tag ref " + tag + " stays");
  }
  return Status::OK();
}

}  // namespace ckpt::internal
