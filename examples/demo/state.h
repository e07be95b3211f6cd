// state.h: the trainer's full state as a ckpt checkpoint, and back.
//
// A checkpoint holds, by name:
//   <param>                       F32 weights, e.g. "embedding.weight"
//   optim.<param>.exp_avg         F32 Adam moments of each trained parameter
//   optim.<param>.exp_avg_sq
//   optim.step                    I64 scalar, optimizer steps taken
//   head.0.weight.bf16            BF16 copies of the head's weights, as a
//   head.2.weight.bf16            trainer exports them for serving
// and blobs "rng.dropout" (the dropout RNG's 32 state bytes) and
// "data.position" (index of the next example, 8 bytes little-endian).
#pragma once

#include <ckpt/ckpt.h>

#include <cstdint>
#include <string>
#include <vector>

#include "trainer.h"

namespace demo {

// The bytes a SaveRequest points at that do not live in the Trainer.
struct SaveBuffers {
  std::vector<std::vector<uint16_t>> bf16;
  std::vector<uint8_t> rng;
  std::vector<uint8_t> position;
  std::vector<int64_t> step;
};

// Returns a request saving `trainer` as `run` at its current step. The views
// borrow the trainer's memory and `*buffers`; both must outlive the Save.
ckpt::SaveRequest MakeSaveRequest(const Trainer& trainer, const std::string& run,
                                  SaveBuffers* buffers);

// Overwrites the whole state of `trainer` from `checkpoint`. Returns
// kNotFound for a missing entry and kInvalidArgument for one whose dtype,
// shape or size does not match the trainer's; `trainer` may then be partly
// restored.
ckpt::Status RestoreTrainer(const ckpt::LoadedCheckpoint& checkpoint, Trainer* trainer);

// Compares everything a checkpoint holds, bit for bit. Returns the name of
// the first entry that differs, or "" if none does; adds the bytes compared
// to `*bytes_compared`.
std::string FirstDifference(const Trainer& a, const Trainer& b, uint64_t* bytes_compared);

}  // namespace demo
