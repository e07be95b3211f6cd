#include "mount/store_tree.h"

#include <algorithm>

#include "mount/file_names.h"

namespace ckpt::mount {

Result<std::shared_ptr<const TreeSnapshot>> StoreTree::Current() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (snapshot_ != nullptr && now - taken_ < max_age_) return snapshot_;
  CKPT_ASSIGN_OR_RETURN(snapshot_, List());
  taken_ = now;
  return snapshot_;
}

Result<std::shared_ptr<const TreeSnapshot>> StoreTree::List() {
  auto tree = std::make_shared<TreeSnapshot>();
  CKPT_ASSIGN_OR_RETURN(auto runs, store_.ListRuns());
  for (const RunInfo& run : runs) {
    CKPT_ASSIGN_OR_RETURN(auto checkpoints, store_.ListCheckpoints(run.name));
    if (checkpoints.empty()) continue;
    const std::string run_file = EscapeName(run.name);
    RunNode& node = tree->runs[run_file];
    node.name = run.name;
    for (CheckpointInfo& info : checkpoints) {
      node.latest_wall_time_ns = std::max(node.latest_wall_time_ns, info.meta.wall_time_ns);
      for (const std::string& tag : info.tags) {
        tree->tags[EscapeName(tag)] = {run_file, info.step};
      }
      node.steps.emplace(info.step, std::move(info));
    }
    tree->newest_wall_time_ns = std::max(tree->newest_wall_time_ns, node.latest_wall_time_ns);
  }
  return std::shared_ptr<const TreeSnapshot>(std::move(tree));
}

}  // namespace ckpt::mount
