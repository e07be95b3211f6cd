// ckpt/value_diff.h: how far the values of two checkpoints' tensors moved.
//
// Comparing chunk ids (what Store::Describe gives) says which bytes of a
// tensor differ; DiffValues says by how much. It compares every tensor that
// both checkpoints hold under one name with the same dtype and shape, in one
// streaming pass per tensor:
//
//   - A tensor whose chunk ids are all the same in both is not read at all:
//     it reports zero change.
//   - Otherwise the chunks whose ids differ are read from both checkpoints
//     and compared element by element. The chunks whose ids are the same
//     contribute no difference, but are read from `from` (only) for the
//     norm of the whole old tensor, which rel_l2 divides by.
//   - Sharded tensors (entries with pieces) whose chunks differ anywhere, and
//     tensors whose chunks are not cut as this store cuts them, are read and
//     compared whole.
//
// Every byte read is checked against its hash, as by Store::Load. Memory: two
// windows of kValueDiffWindowBytes, whatever the tensors' sizes.
//
// Values. Floats of every dtype (F8_E4M3, F8_E5M2, F16, BF16, F32, F64) are
// widened to double. An element is changed when old != new as numbers, so
// +0 and -0 are the same and two NaNs (of any payload) are the same.
// A changed element whose difference is not finite (a NaN or an infinity on
// either side, or an F64 difference beyond the range of double) is counted
// in elements_changed and in nonfinite_changed but left out of
// max_abs_diff, mean_abs_diff and the norms; ‖a‖₂ sums only the finite
// elements of the old tensor. Integers (and BOOL, as 0/1 bytes) are compared
// exactly: each difference is computed in 64-bit unsigned arithmetic, so
// max_abs_diff_exact is exact even for I64 and U64 extremes, and the sum of
// differences is kept in 128 bits; the norms are doubles.
//
// Blobs have no elements and are not compared here; Store::Describe's chunk
// ids tell which of their chunks differ.
//
// Thread-safety: as the Store passed in. Stability: as store.h (stable from
// 1.0 on); fields may be added.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/dtype.h"
#include "ckpt/export.h"
#include "ckpt/manifest.h"
#include "ckpt/result.h"

namespace ckpt {

class Store;

// The most bytes DiffValues reads from each checkpoint at once (rounded up
// to whole chunks).
inline constexpr uint64_t kValueDiffWindowBytes = 16 << 20;

// How tensor `name` moved from the old checkpoint (a) to the new one (b).
struct TensorValueDiff {
  std::string name;
  DType dtype = DType::kU8;
  std::vector<int64_t> shape;
  uint64_t elements = 0;
  uint64_t elements_changed = 0;
  // elements_changed / elements; 0 for a tensor without elements.
  double fraction_changed = 0;
  // Changed elements whose difference is NaN or infinite (floats only).
  uint64_t nonfinite_changed = 0;
  // Largest |b - a| over the elements with a finite difference.
  double max_abs_diff = 0;
  // Integer dtypes: the same, exact (max_abs_diff may round above 2^53).
  uint64_t max_abs_diff_exact = 0;
  // Mean of |b - a| over all elements with a finite difference (unchanged
  // elements count as 0).
  double mean_abs_diff = 0;
  double l2_diff = 0;  // ‖b - a‖₂ over the finite differences
  double l2_a = 0;     // ‖a‖₂ over the finite elements of a
  // l2_diff / l2_a: 0 when l2_diff is 0 (no finite difference), +inf when
  // l2_a is 0 and l2_diff is not.
  double rel_l2 = 0;
  uint32_t chunks = 0;          // chunk positions of the tensor
  uint32_t chunks_changed = 0;  // positions whose chunk ids differ
  uint64_t bytes_read = 0;      // from both checkpoints together
};

// A value diff of two checkpoints.
struct ValueDiff {
  CheckpointInfo from;
  CheckpointInfo to;
  // Tensors of both with the same dtype and shape, in `to`'s order.
  std::vector<TensorValueDiff> tensors;
  // Not compared: entries (tensors and blobs) only in `to`, only in
  // `from`, and in both but with another kind, dtype or shape.
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> retyped;
  uint64_t bytes_read = 0;  // over all tensors
};

// Compares the tensors of checkpoints `from` and `to` of `store` by value,
// as described above. Both checkpoints are pinned for the whole call.
// Errors: those of Store::OpenCheckpoint (kNotFound, kInvalidArgument for
// an ambiguous ref) and of CheckpointReader::ReadRange (kCorruption naming
// the checkpoint and tensor, kIOError; kNotFound for a changed sharded
// tensor with a region no piece covers, which cannot be read whole).
CKPT_EXPORT Result<ValueDiff> DiffValues(Store& store, const std::string& from,
                                         const std::string& to);

}  // namespace ckpt
