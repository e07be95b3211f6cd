// mount/file_names: how run, tag and entry names become file names in the
// mounted tree, reversibly.
//
// A name may hold any byte, but a file name may not hold '/' or NUL, may not
// be "." or "..", and may not exceed 255 bytes. Escaping writes '%', '/' and
// NUL as %XX (two upper-case hex digits) and spells "", "." and ".." as
// "%", "%2E" and "%2E%2E"; every other byte is kept, so most names are
// unchanged, and UnescapeFileName undoes EscapeName. A
// name whose escaped form (plus `suffix`) would pass 255 bytes is cut and
// marked "%~" followed by 16 hex digits of a hash of the whole name: "%~"
// never occurs in an escaped name, so the mark is unambiguous, and
// meta.json lists every entry with its file name for the way back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ckpt::mount {

// The longest file name Linux accepts.
inline constexpr size_t kMaxFileName = 255;

// `name` as a file name that, with `suffix` appended, fits kMaxFileName.
std::string EscapeName(std::string_view name, std::string_view suffix = {});

// The name EscapeName escaped; nullopt for a malformed escape or a cut
// (hashed) name, which cannot be reversed.
std::optional<std::string> UnescapeFileName(std::string_view file_name);

}  // namespace ckpt::mount
