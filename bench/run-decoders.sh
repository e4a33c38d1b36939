#!/bin/sh
# Decoder benchmarks in one command: builds (Release, -O2) in a build dir of its own,
# generates the inputs if missing (bench/gen_inputs.py, fixed seeds, >= 100 MB each), runs
# every measurement (median of RUNS runs, after a warm-up run) and prints a table.
#
#   bench/run-decoders.sh            # everything (about 5 minutes; the first run also
#                                    # builds and generates ~330 MB + a 1.1 GB file)
#   RUNS=7 bench/run-decoders.sh     # more runs per figure
#   SKIP_RSS=1 bench/run-decoders.sh # without the 1 GB `ddbload convert` peak-RSS check
#
# Directories (outside the repository): BENCH_DIR (default ${TMPDIR:-/tmp}/ddbload-bench)
# holds build/, data/ and results.txt (the raw RESULT lines) and results.md (the table).
# Benchmarks are never ctest tests: nothing here fails on a time.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
bench_dir=${BENCH_DIR:-${TMPDIR:-/tmp}/ddbload-bench}
build=$bench_dir/build
data=$bench_dir/data
runs=${RUNS:-5}
mkdir -p "$build" "$data"

echo "== build ($build)" >&2
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" >"$build/cmake.log" 2>&1 ||
  { cat "$build/cmake.log" >&2; exit 1; }
jobs=$(nproc 2>/dev/null || echo 2)
cmake --build "$build" -j "$jobs" --target bench_decoders >"$build/build.log" 2>&1 ||
  { tail -40 "$build/build.log" >&2; exit 1; }
# the simdjson peer needs a C++ compiler and libsimdjson-dev: without them it is left out
cmake --build "$build" -j "$jobs" --target bench_simdjson >"$build/build-simdjson.log" 2>&1 ||
  echo "warning: bench_simdjson did not build (see $build/build-simdjson.log); no simdjson figures" >&2
# the CLI only for the peak-RSS check: a failure there skips that check, not the benchmarks
have_cli=1
cmake --build "$build" -j "$jobs" --target ddbload >"$build/build-cli.log" 2>&1 || {
  have_cli=0
  echo "warning: ddbload did not build (see $build/build-cli.log); skipping the RSS check" >&2
}

echo "== inputs ($data)" >&2
python3 "$repo/bench/gen_inputs.py" "$data"

B=$build/bench/bench_decoders
S=$build/bench/bench_simdjson
results=$bench_dir/results.txt
: >"$results"
levels=$("$B" levels 2>/dev/null || true)
[ -n "$levels" ] || levels="scalar sse42 avx2 avx512 neon"

run() { # a measurement; its RESULT (or SKIP) line goes to results.txt
  echo "   $*" >&2
  "$@" --runs "$runs" | tee -a "$results" | sed 's/^/     /' >&2
}

echo "== measurements (median of $runs runs; load average now: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for l in $levels; do
  run "$B" csv-items "$data/wide.csv" --level "$l" --key id:S,seq:N
  run "$B" csv-items "$data/numeric.csv" --level "$l" --key id:N
  run "$B" csv-rows "$data/wide.csv" --level "$l"
  run "$B" csv-rows "$data/numeric.csv" --level "$l"
  run "$B" json-items "$data/records.ndjson" --level "$l" --key id:S
done
# every record as a row + the prepared builder, and the per-call builder (dl_item_from_csv),
# with the best kernel: what building plain records straight to items and the prepared header
# each gain, in the same run
best=${levels##* }
run "$B" csv-items-rows "$data/wide.csv" --level "$best" --key id:S,seq:N
run "$B" csv-items-rows "$data/numeric.csv" --level "$best" --key id:N
run "$B" csv-items-call "$data/wide.csv" --level "$best" --key id:S,seq:N
run "$B" csv-items-call "$data/numeric.csv" --level "$best" --key id:N
run "$B" csv-items-ref "$data/wide.csv" --key id:S,seq:N
run "$B" csv-items-ref "$data/numeric.csv" --key id:N
run "$B" json-items-ref "$data/records.ndjson" --key id:S
for t in 1 2; do
  run "$B" chunked-csv "$data/wide.csv" --threads "$t" --key id:S,seq:N
  run "$B" chunked-csv "$data/numeric.csv" --threads "$t" --key id:N
  run "$B" chunked-ndjson "$data/records.ndjson" --threads "$t" --key id:S
done
run "$B" libcsv "$data/wide.csv"
run "$B" libcsv "$data/numeric.csv"
run "$B" jansson "$data/records.ndjson"
run "$B" json-c "$data/records.ndjson"
if [ -x "$S" ]; then
  run "$S" "$data/records.ndjson"
  run "$S" "$data/records.ndjson" --many
fi

if [ "$have_cli" = 0 ]; then
  echo "SKIP RSS: ddbload did not build (see $build/build-cli.log)" >>"$results"
elif [ "${SKIP_RSS:-0}" != 1 ]; then
  big=$data/records-1g.ndjson
  if [ ! -s "$big" ]; then
    echo "== making $big (records.ndjson x 10)" >&2
    for _ in 1 2 3 4 5 6 7 8 9 10; do cat "$data/records.ndjson"; done >"$big.tmp"
    mv "$big.tmp" "$big"
  fi
  echo "== ddbload convert peak RSS on $(du -h "$big" | cut -f1) of NDJSON" >&2
  if [ -x /usr/bin/time ]; then
    start=$(date +%s)
    /usr/bin/time -v "$build/ddbload" convert "$big" --format ndjson --key id --quiet \
      >/dev/null 2>"$bench_dir/rss.log" || true
    secs=$(( $(date +%s) - start ))
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$bench_dir/rss.log")
    echo "RSS convert records-1g.ndjson kb ${rss:-?} bytes $(stat -c %s "$big") seconds $secs" | tee -a "$results" >&2
  else
    echo "SKIP RSS: /usr/bin/time not installed (apt-get install time)" | tee -a "$results" >&2
  fi
fi

python3 "$repo/bench/report.py" "$results" "$(nproc 2>/dev/null || echo ?)" | tee "$bench_dir/results.md"
