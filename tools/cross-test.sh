#!/usr/bin/env bash
# Cross-compile the decode subset for aarch64 (so the NEON kernels are built and used) and run
# its unit tests under qemu-user. Prints PASS/FAIL per test; exits 1 if any test fails or
# cannot be built, 77 (ctest's "skipped") when the cross compiler or qemu is not installed.
# Needs Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (or
# qemu-user-static); tools/setup.sh installs them. No CMake, no network. ctest runs it as the
# test cross.aarch64 (label cross; about a minute on 2 cores).
#
#   tools/cross-test.sh                 # build in a temporary directory of its own, run, clean up
#   CROSS_OUT=/tmp/x tools/cross-test.sh   # keep the binaries there
#   CROSS_TESTS="test_json test_jsonfast" tools/cross-test.sh   # a subset of the tests
#   CROSS_CC=... QEMU=... DDBLOAD_SHARED_DIR=... CROSS_TIMEOUT=secs override the tools, corpora, limit
#
# The subset: src/core/{err,buf,arena,json,cpu}.c, src/decode/{jsonrec,jsonfast,csv,csvfast}.c
# (csvfast when present), src/item/*.c, src/decode/arch/*_scalar.c and *_neon.c; the tests are
# test_json, test_jsonrec, test_item, test_number, test_jsonfast, test_csv, test_csvfast and test_csvitem
# (those whose source exists), linked statically. DL_TEST_QUICK=1 is set: tests that loop over
# generated inputs run a smaller count under emulation.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${DDBLOAD_SHARED_DIR:-$ROOT/../shared}
CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
if [ -z "${QEMU:-}" ]; then
    QEMU=qemu-aarch64
    command -v "$QEMU" >/dev/null 2>&1 || ! command -v qemu-aarch64-static >/dev/null 2>&1 || QEMU=qemu-aarch64-static
fi
TIMEOUT=${CROSS_TIMEOUT:-300}

for tool in "$CC" "$QEMU"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "cross-test: $tool not found (tools/setup.sh, or apt-get install gcc-aarch64-linux-gnu" \
             "libc6-dev-arm64-cross qemu-user); skipped" >&2
        exit 77
    fi
done
if ! echo '#include <stdio.h>' | "$CC" -E -x c - >/dev/null 2>&1; then
    echo "cross-test: $CC has no C library headers (apt-get install libc6-dev-arm64-cross); skipped" >&2
    exit 77
fi
AR=${CC%gcc}ar
command -v "$AR" >/dev/null 2>&1 || AR=ar

# A directory of its own (never one shared with another run: ctest may run this next to other
# tests, and two checkouts' runs may overlap), removed however the script ends.
if [ -n "${CROSS_OUT:-}" ]; then
    OUT=$CROSS_OUT
    mkdir -p "$OUT"
else
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/ddbload-cross.XXXXXX")
    trap 'rm -rf "$OUT"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
fi

CFLAGS=(-std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -I"$ROOT/src")
NEON_FLAGS=(-march=armv8-a+crypto)

sources=()
for f in src/core/err.c src/core/buf.c src/core/arena.c src/core/json.c src/core/cpu.c \
         src/decode/jsonrec.c src/decode/jsonfast.c src/decode/csv.c src/decode/csvfast.c; do
    [ -f "$ROOT/$f" ] && sources+=("$f")
done
for f in "$ROOT"/src/item/*.c "$ROOT"/src/decode/arch/*_scalar.c "$ROOT"/src/decode/arch/*_neon.c; do
    [ -f "$f" ] && sources+=("${f#$ROOT/}")
done

# Compile each source on its own, so a broken file only fails the tests that need it.
objs=()
broken=()
compile() {
    local f=$1 o="$OUT/obj/$(echo "$1" | tr / _).o" extra=()
    case "$f" in *_neon.c) extra=("${NEON_FLAGS[@]}") ;; esac
    mkdir -p "$OUT/obj"
    if "$CC" "${CFLAGS[@]}" "${extra[@]}" -c "$ROOT/$f" -o "$o" 2>"$o.log"; then
        objs+=("$o")
    else
        broken+=("$f")
        echo "cross-test: cannot compile $f:" >&2
        sed 's/^/    /' "$o.log" | head -20 >&2
    fi
}
for f in "${sources[@]}"; do
    compile "$f"
done
rm -f "$OUT/libdecode.a"
"$AR" rcs "$OUT/libdecode.a" "${objs[@]}"

fail=0
tests=()
for t in ${CROSS_TESTS:-test_json test_jsonrec test_item test_number test_jsonfast test_csv test_csvfast test_csvitem}; do
    src="$ROOT/tests/unit/$t.c"
    [ -f "$src" ] || continue
    if "$CC" "${CFLAGS[@]}" -static \
        -DDL_TESTDATA_DIR="\"$SHARED/testdata\"" -DDL_TEST_DATA_DIR="\"$ROOT/tests/data\"" \
        -DDL_PROJECT_DIR="\"$ROOT\"" "$src" "$OUT/libdecode.a" -lpthread -lm -o "$OUT/$t" 2>"$OUT/$t.build.log"; then
        tests+=("$t")
    else
        tests+=("$t:build")
    fi
done

# Run the tests side by side (one per core), then report in order.
jobs_max=$(nproc 2>/dev/null || echo 2)
run_one() {
    local t=$1 start
    start=$(date +%s)
    if DL_TEST_QUICK=1 timeout "$TIMEOUT" "$QEMU" "$OUT/$t" >"$OUT/$t.log" 2>&1; then
        echo "PASS $(( $(date +%s) - start ))" >"$OUT/$t.result"
    else
        echo "FAIL $(( $(date +%s) - start ))" >"$OUT/$t.result"
    fi
}
for t in "${tests[@]}"; do
    case "$t" in *:build) continue ;; esac
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do sleep 0.2; done
    run_one "$t" &
done
wait

printf '%-16s %s\n' "test" "result (aarch64 under $(basename "$QEMU"))"
for t in "${tests[@]}"; do
    case "$t" in
    *:build)
        t=${t%:build}
        printf '%-16s FAIL (build)\n' "$t"
        sed 's/^/    /' "$OUT/$t.build.log" | head -20
        fail=1
        continue
        ;;
    esac
    read -r res secs <"$OUT/$t.result"
    if [ "$res" = PASS ]; then
        printf '%-16s PASS  (%ss; %s)\n' "$t" "$secs" "$(tail -1 "$OUT/$t.log")"
    else
        printf '%-16s FAIL  (%ss)\n' "$t" "$secs"
        grep -v '^kernel available' "$OUT/$t.log" | tail -25 | sed 's/^/    /'
        fail=1
    fi
done
if [ ${#broken[@]} -gt 0 ]; then
    echo "cross-test: sources that did not compile: ${broken[*]}"
fi
[ $fail -eq 0 ] && echo "cross-test: all passed" || echo "cross-test: FAILED"
exit $fail
