#!/usr/bin/env bash
# ddbload's pump benchmark, one command: builds ddbload + ddbsim (Release) in a build dir of its
# own, installs the JS peer (npm ci, pinned lockfile), then runs bench_pump.py:
#   (a) the pump's ceiling against ddbsim with unlimited capacity (100 B and 1 KB items),
#   (b) the same loads through boto3's batch_writer and the AWS SDK for JavaScript v3,
#   (c) capacity adherence on 1,000 / 5,000 / 20,000 WCU tables with no burst.
# Prints figures and a table; results go to bench/pump/results/<time>/. Not a test: never gates
# anything on a time. About 23 minutes on a 2-core machine (--quick: ~1.5 min).
#
# usage: bench/pump/run.sh [--quick] [--only a,b,c] [other bench_pump.py options]
# env:   BENCH_PUMP_BUILD_DIR (default bench/pump/.build), BENCH_PUMP_OUT (default results/<time>),
#        BENCH_PUMP_REV: build ddbload and ddbsim from this commit (`git archive`, read-only)
#        instead of the working tree, e.g. BENCH_PUMP_REV=HEAD while src/ is being edited.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_PUMP_BUILD_DIR:-$here/.build}
out=${BENCH_PUMP_OUT:-$here/results/$(date +%Y%m%d-%H%M%S)}

for tool in cmake node npm python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done
python3 -c 'import boto3' 2>/dev/null || { echo "run.sh: boto3 is required (pip install boto3)" >&2; exit 1; }

src=$root
if [ -n "${BENCH_PUMP_REV:-}" ]; then
    rev=$(git -C "$root" rev-parse --verify "$BENCH_PUMP_REV^{commit}")
    src=$build.src-${rev:0:12}
    build=$build.rev-${rev:0:12}
    if [ ! -d "$src" ]; then
        mkdir -p "$src.tmp" && git -C "$root" archive "$rev" | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"
    fi
    echo "== sources: commit $rev (git archive)"
else
    echo "== sources: working tree of $root (commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')," \
        "$(git -C "$root" status --porcelain -- src tools 2>/dev/null | wc -l) changed files in src/ tools/)"
fi
echo "== building ddbload and ddbsim (Release) in $build"
# GCC 12 at -O3 reports a false maybe-uninitialized in src/item/item.c (dup_flags_json: refs is
# set whenever dup_begin returns 0); -Werror would stop the Release build on it.
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="-Wno-error=maybe-uninitialized" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target ddbload ddbsim >"$build.build.log" 2>&1 ||
    { tail -40 "$build.build.log" >&2; exit 1; }

echo "== installing the JS peer (npm ci) in $here/js"
(cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true)
node -e 'require.resolve("@aws-sdk/lib-dynamodb", {paths: [process.argv[1]]})' "$here/js" ||
    { echo "run.sh: npm ci did not install the JS peer" >&2; exit 1; }

mkdir -p "$out"
exec python3 "$here/bench_pump.py" --ddbload "$build/ddbload" --ddbsim "$build/tools/ddbsim/ddbsim" \
    --node "$(command -v node)" --out "$out" "$@"
