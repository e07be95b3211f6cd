#!/usr/bin/env bash
# Checks that the C++ sources and headers follow .clang-format, as Debian 12's
# clang-format 14 reads it (other versions format some constructs
# differently). Lists the files that deviate and fails if any does; changes
# nothing. To fix a file: clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
[[ -f .clang-format ]] || { echo "check_format: no .clang-format at the top of the tree" >&2; exit 2; }
version=$("$CLANG_FORMAT" --version | grep -o 'version [0-9]*' | cut -d' ' -f2)
[[ "$version" == 14 ]] || echo "check_format: clang-format $version, not 14: results may differ" >&2
dirs=()
for d in lib include tools tests bench examples python; do
  [[ -d $d ]] && dirs+=("$d")
done
mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.cc' -o -name '*.h' \) | LC_ALL=C sort)
bad=0
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "$f"
    bad=$((bad + 1))
  fi
done
echo "check_format: $bad of ${#files[@]} files deviate from .clang-format" >&2
((bad == 0))
