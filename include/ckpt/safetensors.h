// ckpt/safetensors.h: import and export of safetensors files.
//
// Import maps the file, validates its header strictly (see docs/design.md,
// "Safetensors import") and saves its tensors without copying them, together
// with the file's original header, so that Export writes a file byte-identical
// to the imported one. The header's "__metadata__" pairs also become the
// checkpoint's attributes.
//
// Thread-safety: as the Store passed in. Stability: stable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ckpt/checkpoint.h"
#include "ckpt/checkpoint_reader.h"
#include "ckpt/export.h"
#include "ckpt/manifest.h"
#include "ckpt/options.h"
#include "ckpt/result.h"
#include "ckpt/status.h"

namespace ckpt {

class Store;

// Name of the blob holding the original safetensors header (its 8-byte length
// prefix and JSON text) of an imported checkpoint.
inline constexpr const char* kSafetensorsHeaderBlob = "safetensors.header";

// Saves the tensors of safetensors file `path` as checkpoint request.run @
// request.step; request.tensors and request.blobs must be empty, request.meta
// and request.parent are used as given. Errors: kInvalidArgument for a
// malformed file (the message names the problem and nothing is stored),
// kNotFound for a missing file, and the errors of Store::Save.
CKPT_EXPORT Result<CheckpointInfo> ImportSafetensors(Store& store, const std::string& path,
                                                     SaveRequest request,
                                                     const SaveOptions& options = {});

struct ExportOptions {
  // Progress in logical bytes written. May be null.
  ProgressFn progress;
  // fsync the file and its directory before returning, so that the export
  // survives a power loss. Off by default, as with most copying tools: the
  // store keeps the durable original, and the fsync can cost as much as the
  // export itself.
  bool sync = false;
};

// Writes checkpoint `ref` as safetensors file `out_path` (via a temporary file
// renamed into place, so the name never shows a partial file). A checkpoint
// that was imported is written byte-identical to its source; any other gets
// a canonical header. Errors: those of Load, kIOError/kNoSpace for the
// output file.
CKPT_EXPORT Status ExportSafetensors(Store& store, const std::string& ref,
                                     const std::string& out_path,
                                     const ExportOptions& options = {});

// Where ExportSafetensors puts each byte of a checkpoint's file: the header,
// then every tensor at its offset, in ascending order and contiguous to the
// end of the file. Lets a program serve the file lazily, reading only the
// ranges asked for (as `ckpt mount` does), and still match an export byte
// for byte.
struct SafetensorsLayout {
  struct Tensor {
    std::string name;     // the checkpoint's entry name
    uint64_t offset = 0;  // of its first byte in the file
    uint64_t length = 0;  // its byte length
  };
  std::string header;  // the file's first header.size() bytes: length prefix and JSON
  std::vector<Tensor> tensors;
  uint64_t file_size = 0;
};

// Plans the file ExportSafetensors would write for the checkpoint `reader`
// pins; reads at most the stored header blob. Errors: kCorruption for a
// stored header that does not match the checkpoint's tensors, those of
// CheckpointReader::ReadEntry.
CKPT_EXPORT Result<SafetensorsLayout> PlanSafetensorsExport(CheckpointReader& reader);

}  // namespace ckpt
