// repo/pack_sink: rolling packs shared by the workers of one save. Entries
// are appended under a lock; a full pack is sealed and stored on a thread of
// its own, so that every worker keeps hashing and encoding while the pack is
// written and fsynced. At most kMaxSealing packs are in flight at once (a
// worker that fills one more waits), which bounds the memory. The buffer of
// a stored pack is kept for a later one: a fresh 36 MiB buffer costs a page
// fault per 4 KiB, and a reused one none. A fresh buffer's pages are faulted
// in a little ahead of the appends, outside the lock.
#pragma once

#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "index/index_keys.h"
#include "pack/pack_writer.h"
#include "repo/in_flight_packs.h"

namespace ckpt::internal {

class PackSink {
 public:
  // `in_flight`, if given, lists each pack from before its file is created
  // until this sink is destroyed (after the save's commit).
  PackSink(Backend& backend, uint64_t target_size, InFlightPacks* in_flight = nullptr)
      : backend_(backend), target_(target_size), in_flight_(in_flight) {}
  // Waits for packs still being stored; their errors are lost (call Flush).
  ~PackSink();
  PackSink(const PackSink&) = delete;
  PackSink& operator=(const PackSink&) = delete;

  static constexpr size_t kMaxSealing = 2;

  // Appends an entry, sealing the current pack if it is full. On OK, *loc
  // says where the entry will be once Flush (or a later seal) succeeds.
  Status Add(EntryKind kind, uint8_t codec, const Digest& digest, std::string_view encoded,
             uint32_t raw_length, ChunkLocation* loc);
  // Seals and stores the open pack, if any, and waits for every pack in
  // flight. After OK every entry added so far is durable; otherwise the
  // first error of any pack.
  Status Flush();
  // Packs stored so far, with their records.
  const std::vector<std::pair<std::string, PackRecord>>& sealed() const { return sealed_; }

 private:
  Status Seal(std::unique_ptr<PackWriter> writer);
  // Starts sealing `writer` in the background, after waiting for the
  // oldest pack in flight if kMaxSealing are.
  Status SealInBackground(std::unique_ptr<PackWriter> writer);
  // Waits for every pack in flight; returns the first error.
  Status WaitAll();

  Backend& backend_;
  const uint64_t target_;
  InFlightPacks* const in_flight_;
  std::vector<std::string> listed_;  // in in_flight_; guarded by mu_
  std::mutex mu_;
  std::unique_ptr<PackWriter> current_;
  uint64_t populated_ = 0;                    // current_'s buffer is faulted in below this
  std::vector<AlignedBuffer> spare_buffers_;  // of stored packs, for new ones
  std::vector<std::pair<std::string, PackRecord>> sealed_;
  std::mutex sealing_mu_;  // guards sealing_ (never held with mu_)
  std::deque<std::future<Status>> sealing_;
};

}  // namespace ckpt::internal
