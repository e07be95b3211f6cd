#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang into
# ${BUILD_DIR:-build-fuzz} and runs each for ${FUZZ_SECONDS:-20} seconds,
# one at a time, on a scratch copy of its seed corpus (the repository is not
# modified). Prints per harness the executions run and whether it found
# anything; exits non-zero on any crash, leak, timeout or sanitizer report,
# keeping the scratch directory with the inputs that caused them.
#   FUZZ_TARGETS="manifest config"   only these harnesses (default: all)
#   FUZZ_SECONDS=300                 longer runs
#   scripts/fuzz.sh --regen-corpus   rewrite tests/fuzz/corpus with make_corpus
# Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
regen=0
if [[ "${1:-}" == --regen-corpus ]]; then
  regen=1
  shift
fi
CKPT_SETUP_FUZZ=1 bash scripts/setup.sh
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCKPT_FUZZ=ON -DCKPT_BUILD_TESTS=OFF \
  -DCKPT_BUILD_TOOLS=OFF -DCKPT_BUILD_EXAMPLES=OFF -DCKPT_BUILD_BENCH=OFF "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ckpt_fuzzers make_corpus
if ((regen)); then
  "$BUILD_DIR/tests/fuzz/make_corpus" tests/fuzz/corpus
  echo "corpus regenerated in tests/fuzz/corpus"
  exit 0
fi

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
  read -ra targets <<<"$FUZZ_TARGETS"
else
  targets=()
  for f in tests/fuzz/*_fuzz.cc; do targets+=("$(basename "$f" _fuzz.cc)"); done
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-fuzz.XXXXXX")
# LeakSanitizer on; the harnesses' own checks abort, which counts as a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
printf '%-20s %12s %8s  %s\n' harness executions seconds result
for name in "${targets[@]}"; do
  bin="$BUILD_DIR/tests/fuzz/${name}_fuzz"
  [[ -x "$bin" ]] || { echo "no harness $bin" >&2; exit 2; }
  corpus="$scratch/corpus/$name"
  mkdir -p "$corpus" "$scratch/artifacts" "$scratch/tmp"
  if [[ -d "tests/fuzz/corpus/$name" ]]; then cp -R "tests/fuzz/corpus/$name/." "$corpus/"; fi
  args=(-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$scratch/artifacts/$name-")
  [[ -f "tests/fuzz/$name.dict" ]] && args+=(-dict="tests/fuzz/$name.dict")
  log="$scratch/$name.log"
  start=$SECONDS
  rc=0
  TMPDIR="$scratch/tmp" "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(ls "$scratch/artifacts" 2>/dev/null | grep -c "^$name-" || true)
  if ((rc != 0 || found != 0)) || grep -q -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:" "$log"; then
    result="FOUND (exit $rc, $found input(s); log $log)"
    failed+=("$name")
  else
    result="nothing found"
  fi
  printf '%-20s %12s %8s  %s\n' "$name" "${execs:-?}" "$((SECONDS - start))" "$result"
done
if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]}; inputs in $scratch/artifacts" >&2
  exit 1
fi
rm -rf "$scratch"
