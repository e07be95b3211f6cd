#include "index/pack_lifecycle.h"

#include "index/index_keys.h"
#include "util/bytes.h"

namespace ckpt::internal {

Result<uint64_t> ReadGcGeneration(Index& index) {
  CKPT_ASSIGN_OR_RETURN(auto value, index.Get(kGcGenerationKey));
  if (!value) return uint64_t{0};
  if (value->size() != 8) return Status::Corruption("index: malformed gc generation");
  return DecodeFixed64(value->data());
}

void BumpGcGeneration(uint64_t current, IndexBatch* batch) {
  std::string value;
  PutFixed64(&value, current + 1);
  batch->Put(kGcGenerationKey, value);
}

Status AddGcGenerationBump(Index& index, IndexBatch* batch) {
  CKPT_ASSIGN_OR_RETURN(uint64_t generation, ReadGcGeneration(index));
  BumpGcGeneration(generation, batch);
  return Status::OK();
}

void CondemnPack(const std::string& pack_id, int64_t now_ns, IndexBatch* batch) {
  std::string condemned_at;
  PutFixed64(&condemned_at, static_cast<uint64_t>(now_ns));
  batch->Delete(PackKey(pack_id));
  batch->Put(CondemnedKey(pack_id), condemned_at);
}

}  // namespace ckpt::internal
