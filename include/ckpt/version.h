// ckpt/version.h: library version and the on-disk format versions.
//
// Stability: stable. A store records the format version it was created with;
// this library opens stores of formats kOldestFormatVersion ..
// kFormatVersion and refuses any other with Code::kVersionMismatch.
#pragma once

namespace ckpt {

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
inline constexpr const char* kVersionString = "0.1.0";

// Store layout and config format: the one this library creates stores in
// (docs/format.md). Format 5 adds sharded checkpoints (version-2 manifests
// and pending-shard index keys) to format 4, and format 6 adds shards staged
// as objects in object storage to format 5. This library reads and writes
// all three: a store becomes format 5 at its first sharded save (format 6 in
// object storage), so that a library that knows only an older format, whose
// gc would not see the pending shards, refuses it from then on.
// Numbers 1 to 3 were development formats, never released; stores of
// theirs are refused with kVersionMismatch.
inline constexpr int kFormatVersion = 6;
inline constexpr int kOldestFormatVersion = 4;
// Pack file format written by this library.
inline constexpr int kPackFormatVersion = 1;
// Manifest encoding written by this library: 1, and 2 for sharded checkpoints.
inline constexpr int kManifestFormatVersion = 2;

}  // namespace ckpt
