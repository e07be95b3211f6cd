// store/save_validation: checks a SaveRequest before any byte is written,
// so that bad input changes nothing.
#pragma once

#include "ckpt/checkpoint.h"
#include "ckpt/status.h"

namespace ckpt::internal {

Status ValidateSaveRequest(const SaveRequest& request);
bool IsValidUtf8(std::string_view text);

}  // namespace ckpt::internal
