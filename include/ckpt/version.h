// ckpt/version.h: library version and the on-disk format versions.
//
// Stability: stable. A store records the format version it was created with;
// this library opens stores of format kFormatVersion and refuses any other
// with Code::kVersionMismatch.
#pragma once

namespace ckpt {

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
inline constexpr const char* kVersionString = "0.1.0";

// Store layout and config format: the one this library writes and the only
// one it reads (docs/format.md). Numbers 1 to 3 were development formats,
// never released; stores of theirs are refused with kVersionMismatch.
inline constexpr int kFormatVersion = 4;
// Pack file format written by this library.
inline constexpr int kPackFormatVersion = 1;
// Manifest encoding written by this library.
inline constexpr int kManifestFormatVersion = 1;

}  // namespace ckpt
