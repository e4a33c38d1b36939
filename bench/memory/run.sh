#!/usr/bin/env bash
# ddbload's bounded-memory measurement (issue 5, "Bounded memory"), one command, loopback only.
#
#   1. starts s3rver (tools/services.sh) and a capacity simulator with effectively unlimited
#      capacity (ddbsim --wcu 100000000) for DynamoDB;
#   2. generates a 4.4 GB prefix (bench/memory/gen.py, fixed seed): NDJSON and CSV objects of
#      0.05-500 MB and one 1.0 GB zip with a 700 MB entry; 3.6 M records of 1-2 KB, unique `pk`;
#   3. uploads it to s3://membench/ on s3rver with the aws CLI (the local copy is then deleted);
#   4. for each budget (default: 512M 256M and the default 1G) runs, against a fresh simulator,
#        /usr/bin/time -v ddbload run s3://membench/ --table Mem --memory B --quiet --report R.json
#      sampling VmRSS/VmHWM/RssAnon/RssFile and the open spill files every 0.5 s, and checks the
#      items written (simulator's items_written and the report) against the records generated;
#   5. stops everything it started and deletes the data (also on error or Ctrl-C).
# Prints a table; everything goes to bench/memory/results/<time>/ (summary.md, summary.json, and
# per budget time.txt, report.json, rss.csv, rss.peak.txt). ~10 minutes on a 2-core machine
# (~14 with --compare); needs ~10 GB free in $TMPDIR (data, s3rver's copy, spill files) and ~8 GB of RAM for ddbsim.
# A measurement, not a test: it exits 0 when every run completed, whatever the figures.
#
# usage: bench/memory/run.sh [--scale S] [--budgets "512M 256M default"] [--out DIR] [--compare BIN]
#   --scale S      multiply every object size (0.05 = a ~200 MB smoke run)
#   --compare BIN  also run every budget with another ddbload binary (e.g. a candidate fix), on
#                  the same uploaded data; its rows are labelled B-compare
# binaries: DDBLOAD=path DDBSIM=path, or BUILD=dir holding ddbload and tools/ddbsim/ddbsim
#   (e.g. one made with cmake -DCMAKE_BUILD_TYPE=Release); otherwise builds a Release build in
#   ${TMPDIR:-/tmp}/ddbload-membench-build from the working tree, or from commit MEM_BENCH_REV
#   (git archive, read-only) when that is set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

scale=1
budgets="512M 256M default"
out=""
compare=""
while [ $# -gt 0 ]; do
    case "$1" in
    --scale) scale=$2; shift 2 ;;
    --budgets) budgets=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
out=${out:-$here/results/$(date +%Y%m%d-%H%M%S)}
RUN_TIMEOUT=${RUN_TIMEOUT:-1200}   # seconds for one ddbload run

for tool in python3 aws curl /usr/bin/time timeout node; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 1; }
done

# ---------------------------------------------------------------- binaries
if [ -z "${DDBLOAD:-}" ] || [ -z "${DDBSIM:-}" ]; then
    if [ -z "${BUILD:-}" ]; then
        BUILD=${TMPDIR:-/tmp}/ddbload-membench-build
        src=$root
        if [ -n "${MEM_BENCH_REV:-}" ]; then
            rev=$(git -C "$root" rev-parse --verify "$MEM_BENCH_REV^{commit}")
            src=$BUILD.src-${rev:0:12}
            BUILD=$BUILD.rev-${rev:0:12}
            [ -d "$src" ] || { mkdir -p "$src.tmp" && git -C "$root" archive "$rev" | tar -x -C "$src.tmp" && mv "$src.tmp" "$src"; }
        fi
        echo "== building ddbload and ddbsim (Release) from $src in $BUILD"
        # GCC 12 -O3 reports false maybe-uninitialized warnings (item.c, manifest.c); see bench/pump/run.sh
        cmake -S "$src" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-Wno-error=maybe-uninitialized" \
            >"$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log" >&2; exit 1; }
        cmake --build "$BUILD" -j"$(nproc)" --target ddbload ddbsim >"$BUILD.build.log" 2>&1 ||
            { tail -30 "$BUILD.build.log" >&2; exit 1; }
    fi
    DDBLOAD=${DDBLOAD:-$BUILD/ddbload}
    DDBSIM=${DDBSIM:-$BUILD/tools/ddbsim/ddbsim}
fi
[ -x "$DDBLOAD" ] && [ -x "$DDBSIM" ] || { echo "run.sh: no ddbload/ddbsim binaries ($DDBLOAD, $DDBSIM)" >&2; exit 1; }
[ -z "$compare" ] || [ -x "$compare" ] || { echo "run.sh: --compare $compare is not executable" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup
work=$(mktemp -d "${TMPDIR:-/tmp}/ddbload-membench.XXXXXX")
mkdir -p "$out"
sim_pid=""
run_pid=""
cleanup() {
    set +e
    if [ -n "$run_pid" ] && kill -0 "$run_pid" 2>/dev/null; then kill "$run_pid"; wait "$run_pid" 2>/dev/null; fi
    if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then kill "$sim_pid"; wait "$sim_pid" 2>/dev/null; fi
    [ -d "$work/services" ] && "$root/tools/services.sh" stop "$work/services" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t_start ))s] $*"; }

# ---------------------------------------------------------------- services
stamp "starting s3rver (tools/services.sh start $work/services)"
"$root/tools/services.sh" start "$work/services"
# shellcheck disable=SC1091
. "$work/services/env"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# the aws CLI reads only this config (64 MB multipart parts: fewer parts for s3rver to join)
cat >"$work/aws.config" <<'CFG'
[default]
region = us-east-1
s3 =
    multipart_threshold = 64MB
    multipart_chunksize = 64MB
    max_concurrent_requests = 4
CFG
export AWS_CONFIG_FILE=$work/aws.config AWS_SHARED_CREDENTIALS_FILE=/dev/null
s3=(aws --endpoint-url "$DDBLOAD_TEST_S3_ENDPOINT")

# ---------------------------------------------------------------- data
stamp "generating the prefix (scale $scale) in $work/data"
python3 "$here/gen.py" "$work/data" --scale "$scale" --manifest "$out/data.json" | tee "$work/gen.out"
expected=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' "$out/data.json")

stamp "uploading to s3://membench/ on s3rver"
"${s3[@]}" s3 mb s3://membench >/dev/null
timeout 1200 "${s3[@]}" s3 cp --recursive --only-show-errors "$work/data" s3://membench/
rm -rf "$work/data"   # s3rver keeps its own copy on disk
"${s3[@]}" s3 ls --recursive --summarize s3://membench/ | tail -2 | tee "$out/s3-listing.txt"
stamp "uploaded; $expected records expected per run"

# ---------------------------------------------------------------- runs
start_sim() {
    local log=$1
    "$DDBSIM" --port 0 --table Mem:pk:S --wcu 100000000 --max-lifetime 1800 >"$log" 2>"$log.err" &
    sim_pid=$!
    local line=""
    for _ in $(seq 1 100); do
        line=$(head -1 "$log" 2>/dev/null || true)
        [ -n "$line" ] && break
        sleep 0.1
    done
    sim_port=${line##*:}
    [ -n "$sim_port" ] || { echo "run.sh: ddbsim did not start: $(cat "$log.err")" >&2; exit 1; }
    sim_url=http://127.0.0.1:$sim_port
}

stop_sim() {
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=""
}

labels=""
for b in $budgets; do labels="$labels $b"; [ -z "$compare" ] || labels="$labels $b-compare"; done
{
    echo "ddbload: $DDBLOAD"
    "$DDBLOAD" --version 2>/dev/null || true
    [ -z "$compare" ] || echo "compare: $compare"
    echo "ddbsim:  $DDBSIM"
    echo "host: $(nproc) CPUs, $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(uname -r)"
} >"$out/binaries.txt"

for label in $labels; do
    b=${label%-compare}
    bin=$DDBLOAD
    [ "$label" = "$b" ] || bin=$compare
    d=$out/$label
    mkdir -p "$d" "$work/run-$label/tmp"
    start_sim "$work/sim-$label.log"
    mem_args=()
    [ "$b" = default ] || mem_args=(--memory "$b")
    stamp "run $label: $bin --memory $b (ddbsim on port $sim_port)"
    set +e
    (
        cd "$work/run-$label"
        exec env AWS_ENDPOINT_URL_S3="$DDBLOAD_TEST_S3_ENDPOINT" AWS_ENDPOINT_URL_DYNAMODB="$sim_url" \
            AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 \
            TMPDIR="$work/run-$label/tmp" \
            timeout "$RUN_TIMEOUT" /usr/bin/time -v -o "$d/time.txt" \
            "$bin" run s3://membench/ --table Mem "${mem_args[@]}" --quiet --report "$d/report.json"
    ) >"$d/stdout.txt" 2>"$d/stderr.txt" &
    run_pid=$!
    python3 "$here/sample.py" "$run_pid" "$d/rss" --sim "$sim_url" --interval 0.5 &
    sampler=$!
    wait "$run_pid"
    rc=$?
    run_pid=""
    wait "$sampler"
    set -e
    echo "$rc" >"$d/exit-status"
    curl -s --max-time 30 "$sim_url/_sim/stats" >"$d/sim-stats.json" || true
    stop_sim
    # the run's temp dir must be empty: spill files are unlinked at creation
    ls -A "$work/run-$label/tmp" >"$d/leftover-tmp.txt"
    rm -rf "$work/run-$label"
    stamp "  exit status $rc; $(grep -E 'Maximum resident|Elapsed' "$d/time.txt" 2>/dev/null | sed 's/^\s*//' | tr '\n' ';')"
done

python3 "$here/summarize.py" "$out" --budgets "$labels" --expected "$expected" | tee "$out/summary.md"
stamp "done; results in $out"
