// ckpt/ckpt.h: umbrella header; includes the whole public API.
#pragma once

#include "ckpt/backend.h"
#include "ckpt/checkpoint.h"
#include "ckpt/checkpoint_reader.h"
#include "ckpt/dtype.h"
#include "ckpt/manifest.h"
#include "ckpt/options.h"
#include "ckpt/result.h"
#include "ckpt/retention.h"
#include "ckpt/safetensors.h"
#include "ckpt/save_handle.h"
#include "ckpt/stats.h"
#include "ckpt/status.h"
#include "ckpt/store.h"
#include "ckpt/value_diff.h"
#include "ckpt/version.h"
