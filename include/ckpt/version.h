// ckpt/version.h: library version and the on-disk format versions.
//
// Stability: stable. A store records the format version it was created with;
// this library opens stores of format <= kFormatVersion and refuses newer ones
// with Code::kVersionMismatch.
#pragma once

namespace ckpt {

inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
inline constexpr const char* kVersionString = "0.1.0";

// Store layout and config format written by this library. Format 2 added
// delta chunks (codecs 16..19) and delta_max_depth. Format 3 changed how the
// index is read (a chunk entry counts only while its pack is indexed), so
// that gc can drop a whole pack in one write; it adds no new data. Format 4
// added codecs that code each byte plane of a floating-point chunk on its
// own (rANS, zstd or stored; 5..7), and float deltas as integer differences
// (20..22). Opening a store of an
// older format read-write upgrades it to 4 (format 1 stores keep
// delta_max_depth=0); read-only opens leave it as it is.
inline constexpr int kFormatVersion = 4;
// Pack file format written by this library.
inline constexpr int kPackFormatVersion = 1;
// Manifest encoding written by this library.
inline constexpr int kManifestFormatVersion = 1;

}  // namespace ckpt
