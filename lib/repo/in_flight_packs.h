// repo/in_flight_packs: the packs this process's saves are writing and have
// not committed yet. To gc a pack file that no key names is an orphan once
// it is older than the grace period; a save in this process may hold one
// for longer than that (a grace of 0 s, a slow save), so gc in the same
// process leaves the packs listed here alone, whatever its grace period.
// Saves in other processes and on other hosts have only the grace period.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ckpt::internal {

class InFlightPacks {
 public:
  // Before the pack's file is created.
  void Add(const std::string& pack_id);
  // After the save that wrote them committed, or gave up.
  void Remove(const std::vector<std::string>& pack_ids);
  // The packs in flight now. gc takes this before it opens the view it
  // judges packs by: a pack that left the set before then was committed
  // before the view, which therefore names it (or it is a real orphan).
  std::multiset<std::string> Snapshot() const;
  // When the oldest pack in flight was added (wall-clock ns), or `now_ns`
  // if none is: the temporary files of their Puts are no older than that.
  int64_t OldestAddedNs(int64_t now_ns) const;

 private:
  mutable std::mutex mu_;
  std::multimap<std::string, int64_t> packs_;  // pack id -> added at (ns)
};

}  // namespace ckpt::internal
