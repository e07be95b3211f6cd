#include "store/checkpoint_remover.h"

#include "store/ref_resolver.h"

namespace ckpt::internal {

std::vector<std::string> TagsOfCheckpoint(Index& index, const Digest& id) {
  std::vector<std::string> tags;
  auto all = TagsById(index);
  if (!all.ok()) return tags;
  auto [lo, hi] = all->equal_range(id.Hex());
  for (auto it = lo; it != hi; ++it) tags.push_back(it->second);
  return tags;
}

Status RemoveCheckpoint(StoreContext& ctx, Index& index, const ResolvedCheckpoint& c) {
  const std::string what = "delete " + c.Label();
  // A durable tombstone first, so that repair does not bring it back; tag
  // refs go last, as repair restores only tags of restored checkpoints.
  std::string hex = c.id.Hex();
  CKPT_RETURN_IF_ERROR(
      ctx.backend->Put(DeletedRefName(hex), hex.data(), hex.size()).WithContext(what));
  const std::vector<std::string> tags = TagsOfCheckpoint(index, c.id);
  IndexBatch batch;
  for (const auto& tag : tags) batch.Delete(TagKey(tag));
  batch.Delete(CheckpointKey(c.id));
  batch.Delete(RunStepKey(c.manifest.run, c.manifest.step));
  Status s = index.Commit(batch);
  if (!s.ok()) {
    (void)ctx.backend->Remove(DeletedRefName(hex));  // still visible: keep it repairable
    return s.WithContext(what);
  }
  for (const auto& tag : tags) (void)ctx.backend->Remove(TagRefName(tag));
  return Status::OK();
}

}  // namespace ckpt::internal
