#include "store/save_validation.h"

#include <limits>
#include <map>
#include <set>

#include "manifest/box.h"
#include "manifest/entry_view.h"
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

// A piece of a global tensor: inside it, and apart from the rank's other
// pieces of it (`earlier`).
Status CheckPiece(const TensorView& t, const std::vector<const TensorView*>& earlier) {
  const std::string what = "piece of '" + t.name + "'";
  if (t.rank_local) return Status::InvalidArgument(what + " cannot be rank-local");
  if (t.shape.empty())
    return Status::InvalidArgument(what + ": a scalar cannot be split into pieces");
  if (t.global_shape.size() != t.shape.size())
    return Status::InvalidArgument(what + ": global shape and box differ in rank");
  if (!ElementCount(t.global_shape, DTypeSize(t.dtype)))
    return Status::InvalidArgument(what + ": global shape is negative or overflows");
  std::string why;
  const Box box{t.offsets, t.shape};
  if (!BoxInside(box, t.global_shape, &why)) return Status::InvalidArgument(what + ": " + why);
  for (const TensorView* e : earlier) {
    if (e->dtype != t.dtype || e->global_shape != t.global_shape)
      return Status::InvalidArgument("pieces of '" + t.name +
                                     "' disagree on dtype or global shape");
    if (BoxesOverlap(box, {e->offsets, e->shape}))
      return Status::InvalidArgument("pieces " + BoxToString({e->offsets, e->shape}) + " and " +
                                     BoxToString(box) + " of '" + t.name + "' overlap");
  }
  return Status::OK();
}

}  // namespace

Status ValidateSaveRequest(const SaveRequest& r) {
  if (!IsValidName(r.run))
    return Status::InvalidArgument("run name '" + r.run +
                                   "' is invalid (use 1..128 of [A-Za-z0-9._-])");
  if (r.world_size == 0 || r.world_size > kMaxWorldSize || r.rank >= r.world_size)
    return Status::InvalidArgument("rank " + std::to_string(r.rank) + " of world size " +
                                   std::to_string(r.world_size) + " is out of range");
  std::set<std::string> seen, seen_local;
  std::map<std::string, std::vector<const TensorView*>> pieces;
  for (const auto& t : r.tensors) {
    CKPT_RETURN_IF_ERROR(CheckTensor(t));
    if (!t.global_shape.empty() || !t.offsets.empty()) {
      CKPT_RETURN_IF_ERROR(CheckPiece(t, pieces[t.name]));
      pieces[t.name].push_back(&t);
      continue;
    }
    CKPT_RETURN_IF_ERROR(CheckEntryName(t.name, t.rank_local ? &seen_local : &seen));
  }
  for (const auto& [name, list] : pieces) {
    std::set<std::string> once;
    CKPT_RETURN_IF_ERROR(CheckEntryName(name, &once));
    if (seen.count(name))
      return Status::InvalidArgument("'" + name + "' is saved both whole and in pieces");
    seen.insert(name);
  }
  for (const auto& b : r.blobs) {
    CKPT_RETURN_IF_ERROR(CheckEntryName(b.name, b.rank_local ? &seen_local : &seen));
    if (b.size > 0 && b.data == nullptr)
      return Status::InvalidArgument("blob '" + b.name + "' has no data pointer");
  }
  // Readers name rank-local entries "rank<R>/<name>": a global name of that
  // form would collide with one.
  const bool sharded = r.world_size > 1 || !pieces.empty() || !seen_local.empty();
  for (const auto& name : seen)
    if (sharded && LooksLikeLocalEntryName(name))
      return Status::InvalidArgument("'" + name + "' is reserved for rank-local entries in a " +
                                     "sharded checkpoint (rank<R>/...)");
  for (const auto& [k, v] : r.meta.attributes)
    if (!IsValidUtf8(k) || !IsValidUtf8(v))
      return Status::InvalidArgument("attribute '" + k + "' is not valid UTF-8");
  for (const auto& [k, v] : r.meta.metrics)
    if (k.empty() || !IsValidUtf8(k)) return Status::InvalidArgument("metric name is invalid");
  return Status::OK();
}

}  // namespace ckpt::internal
