#!/usr/bin/env bash
# Set up (idempotent), build twice (release with -Werror, and ASan+UBSan), and run the whole
# test suite in both builds: unit tests, corpus tests, and integration tests against s3rver +
# dynalite (started and stopped by ctest's services fixture on free loopback ports).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

tools/setup.sh

echo "== build (release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs" >/dev/null

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDDBLOAD_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
echo "== tests (ASan + UBSan build)"
ctest --test-dir build-asan --output-on-failure -j"$jobs" || status=1
echo "== tests (release build)"
ctest --test-dir build --output-on-failure -j"$jobs" || status=1
exit $status
