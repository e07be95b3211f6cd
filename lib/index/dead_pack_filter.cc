#include "index/dead_pack_filter.h"

namespace ckpt::internal {
namespace {

class DeadPackFilter : public rocksdb::CompactionFilter {
 public:
  explicit DeadPackFilter(std::shared_ptr<const PackIdSet> packs) : packs_(std::move(packs)) {}

  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    constexpr size_t kChunkKeySize = 33, kPackIdSize = 16;
    if (key.size() != kChunkKeySize || key[0] != 'C' || value.size() < kPackIdSize) return false;
    return packs_->contains(std::string_view(value.data(), kPackIdSize));
  }
  const char* Name() const override { return "ckpt.DeadPackFilter"; }

 private:
  std::shared_ptr<const PackIdSet> packs_;
};

}  // namespace

void DeadPackFilterFactory::SetDeadPacks(std::shared_ptr<const PackIdSet> packs) {
  std::lock_guard<std::mutex> lock(mu_);
  packs_ = std::move(packs);
}

std::shared_ptr<const PackIdSet> DeadPackFilterFactory::dead_packs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return packs_;
}

std::unique_ptr<rocksdb::CompactionFilter> DeadPackFilterFactory::CreateCompactionFilter(
    const rocksdb::CompactionFilter::Context&) {
  auto packs = dead_packs();
  if (!packs || packs->empty()) return nullptr;  // keep everything
  return std::make_unique<DeadPackFilter>(std::move(packs));
}

}  // namespace ckpt::internal
