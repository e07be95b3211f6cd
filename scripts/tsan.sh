#!/usr/bin/env bash
# Builds the tests under ThreadSanitizer into ${BUILD_DIR:-build-tsan} (the
# test binaries and the worker only) and runs those that run threads or
# processes side by side: the Catch2 tag [threads]. The first report fails
# the run. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-tsan}
bash scripts/setup.sh
# Optimized: ThreadSanitizer slows instrumented code 5-15 times over.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCKPT_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCKPT_BUILD_EXAMPLES=OFF -DCKPT_BUILD_BENCH=OFF "$@"
cmake --build "$BUILD_DIR" -j "$(nproc)" --target ckpt_tests ckpt_test_worker \
  ckpt_mount_tests
# The worker processes the tests start inherit these options: a report in
# one of them makes it exit with 66, which fails its test.
# ignore_noninstrumented_modules: RocksDB, OpenSSL and zstd come
# uninstrumented from Debian. TSan sees their locks (pthread calls) but not
# their atomics, so the memcmp, memcpy and free calls they make on their own
# memory look racy (e.g. RocksDB's background thread freeing a Version that
# a Get compared keys in, ordered by RocksDB's reference counts). With this
# option, such calls made from uninstrumented code are not checked; every
# access our own code makes still is, and those libraries' locks still
# order it. That is why there is no suppressions file.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1${TSAN_OPTIONS:+ $TSAN_OPTIONS}"
start=$SECONDS
# The [s3] tests need a server (scripts/test.sh runs them).
"$BUILD_DIR/tests/ckpt_tests" "[threads]~[s3]"
"$BUILD_DIR/tests/ckpt_mount_tests" "[threads]"
echo "tsan: the [threads] tests passed in $((SECONDS - start)) s"
