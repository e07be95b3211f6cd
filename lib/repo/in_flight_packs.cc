#include "repo/in_flight_packs.h"

#include <algorithm>

#include "util/clock.h"

namespace ckpt::internal {

void InFlightPacks::Add(const std::string& pack_id) {
  std::lock_guard<std::mutex> lock(mu_);
  packs_.emplace(pack_id, NowNs());
}

void InFlightPacks::Remove(const std::vector<std::string>& pack_ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& id : pack_ids) {
    auto it = packs_.find(id);
    if (it != packs_.end()) packs_.erase(it);
  }
}

std::multiset<std::string> InFlightPacks::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::multiset<std::string> ids;
  for (const auto& [id, added] : packs_) ids.insert(id);
  return ids;
}

int64_t InFlightPacks::OldestAddedNs(int64_t now_ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t oldest = now_ns;
  for (const auto& [id, added] : packs_) oldest = std::min(oldest, added);
  return oldest;
}

}  // namespace ckpt::internal
