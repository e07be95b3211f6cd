#include "store/save_validation.h"

#include <limits>
#include <set>

#include "repo/ref_resolver.h"

namespace ckpt::internal {

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n;
    if (c < 0x80)
      n = 0;
    else if ((c >> 5) == 6 && c >= 0xC2)
      n = 1;
    else if ((c >> 4) == 14)
      n = 2;
    else if ((c >> 3) == 30 && c <= 0xF4)
      n = 3;
    else
      return false;
    if (s.size() - i - 1 < n) return false;
    for (size_t k = 1; k <= n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) >> 6) != 2) return false;
    i += n + 1;
  }
  return true;
}

namespace {

Status CheckEntryName(const std::string& name, std::set<std::string>* seen) {
  if (name.empty() || name.size() > 4096)
    return Status::InvalidArgument("entry names must be 1..4096 bytes");
  if (!IsValidUtf8(name)) return Status::InvalidArgument("entry name is not valid UTF-8");
  if (!seen->insert(name).second)
    return Status::InvalidArgument("duplicate entry name '" + name + "'");
  return Status::OK();
}

Status CheckTensor(const TensorView& t) {
  uint64_t elements = 1;
  for (int64_t d : t.shape) {
    if (d < 0) return Status::InvalidArgument("tensor '" + t.name + "' has a negative dimension");
    if (d != 0 && elements > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))
      return Status::InvalidArgument("tensor '" + t.name + "' shape overflows");
    elements *= static_cast<uint64_t>(d);
  }
  if (!DTypeFromValue(static_cast<uint8_t>(t.dtype)))
    return Status::InvalidArgument("tensor '" + t.name + "' has an unknown dtype");
  uint64_t expected = elements * DTypeSize(t.dtype);
  if (expected != t.size)
    return Status::InvalidArgument("tensor '" + t.name + "': shape and dtype give " +
                                   std::to_string(expected) + " bytes but " +
                                   std::to_string(t.size) + " were given");
  if (t.size > 0 && t.data == nullptr && !t.unchanged_since_parent)
    return Status::InvalidArgument("tensor '" + t.name + "' has no data pointer");
  return Status::OK();
}

}  // namespace

Status ValidateSaveRequest(const SaveRequest& r) {
  if (!IsValidName(r.run))
    return Status::InvalidArgument("run name '" + r.run +
                                   "' is invalid (use 1..128 of [A-Za-z0-9._-])");
  // Sharded saves are not wired into the saver yet.
  bool sharded = r.world_size != 1 || r.rank != 0;
  for (const auto& t : r.tensors) sharded |= t.rank_local || !t.global_shape.empty();
  for (const auto& b : r.blobs) sharded |= b.rank_local;
  if (sharded) return Status::NotSupported("sharded saves are not supported yet");
  std::set<std::string> seen;
  for (const auto& t : r.tensors) {
    CKPT_RETURN_IF_ERROR(CheckEntryName(t.name, &seen));
    CKPT_RETURN_IF_ERROR(CheckTensor(t));
  }
  for (const auto& b : r.blobs) {
    CKPT_RETURN_IF_ERROR(CheckEntryName(b.name, &seen));
    if (b.size > 0 && b.data == nullptr)
      return Status::InvalidArgument("blob '" + b.name + "' has no data pointer");
  }
  for (const auto& [k, v] : r.meta.attributes)
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return Status::InvalidArgument("attribute '" + k + "' is not valid UTF-8");
  for (const auto& [k, v] : r.meta.metrics)
    if (k.empty() || !IsValidUtf8(k)) return Status::InvalidArgument("metric name is invalid");
  return Status::OK();
}

}  // namespace ckpt::internal
