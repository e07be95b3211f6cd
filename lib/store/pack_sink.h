// store/pack_sink: rolling packs shared by the workers of one save. Entries
// are appended under a lock; a full pack is sealed and stored outside it so
// that other workers keep encoding while it is written and fsynced.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "index/index_keys.h"
#include "pack/pack_writer.h"

namespace ckpt::internal {

class PackSink {
 public:
  PackSink(Backend& backend, uint64_t target_size) : backend_(backend), target_(target_size) {}

  // Appends an entry, sealing the current pack if it is full. On OK, *loc
  // says where the entry will be once Flush (or a later seal) succeeds.
  Status Add(EntryKind kind, uint8_t codec, const Digest& digest, std::string_view encoded,
             uint32_t raw_length, ChunkLocation* loc);
  // Seals and stores the open pack, if any. After OK every entry added so
  // far is durable.
  Status Flush();
  // Packs stored so far, with their records.
  const std::vector<std::pair<std::string, PackRecord>>& sealed() const { return sealed_; }

 private:
  Status Seal(std::unique_ptr<PackWriter> writer);

  Backend& backend_;
  const uint64_t target_;
  std::mutex mu_;
  std::unique_ptr<PackWriter> current_;
  std::vector<std::pair<std::string, PackRecord>> sealed_;
};

}  // namespace ckpt::internal
