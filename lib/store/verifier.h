// store/verifier: checks that every committed checkpoint can be loaded:
// index entries, pack presence and sizes, and (read_data) every chunk's hash.
// Each problem names the checkpoints and tensors it touches.
#pragma once

#include "repo/store_context.h"

namespace ckpt::internal {

Result<VerifyReport> VerifyStore(StoreContext& ctx, const VerifyOptions& options);

}  // namespace ckpt::internal
