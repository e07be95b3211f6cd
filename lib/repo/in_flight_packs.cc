#include "repo/in_flight_packs.h"

namespace ckpt::internal {

void InFlightPacks::Add(const std::string& pack_id) {
  std::lock_guard<std::mutex> lock(mu_);
  packs_.insert(pack_id);
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
  return packs_;
}

}  // namespace ckpt::internal
