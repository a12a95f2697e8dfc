#!/usr/bin/env bash
# Measures what docs/BENCHMARKS.md reports, on this machine, in one run, and prints it as
# Markdown: a summary of the targets of issues 11, 13 and 14 with the figure measured for
# each, then the details behind them:
#   - make test (the fast set) warm, median of 3; make test-all (every test, as CI runs
#     them; with the local Tracetest run when run as root)
#   - make synth cold (empty Go build cache and Lambda build cache) and warm; the warm synth
#     of the app against a TypeScript app of the same stacks, and make synth's overhead
#     beyond the app (bench/synth.sh: medians of interleaved pairs)
#   - a Lambda build in a synth when nothing changed; the importing-module test
#   - the Lambda binary sizes and their cold start next to a hello-world Go Lambda under the
#     emulator; the handler benchmarks against DynamoDB Local
#   - a whole bash .ci/run in a fresh clone with every cache empty (Go build and module
#     caches, npm cache, Lambda build cache, .tools): BENCH_COLD_CI=0 skips it
#
# Usage: make bench, or bash scripts/bench.sh. About 25 minutes with the cold CI run.
#   BENCH_UPDATE_DOC=1  also writes the output into docs/BENCHMARKS.md, between
#                       <!-- bench:begin --> and <!-- bench:end -->
#   BENCH_COLD_CI=0     skips the cold CI run (about 10 minutes)
#   BENCH_SYNTH_RUNS=n  pairs per synth comparison (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:$PATH" JSII_NODE="$root/node_modules/.bin/node"

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
out=$work/bench.md

# seconds CMD...: the wall time of CMD (output discarded), one decimal; fails with CMD.
seconds() {
  local s log=$work/last.log
  s=$(date +%s.%N)
  if ! "$@" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "bench: $* failed (output above)" >&2
    return 1
  fi
  awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

make --no-print-directory tools >/dev/null

{
  echo "Run of $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)'); command: \`make bench\`"
  echo
  echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3), node $(node --version), load average at the start $(load)"
  echo
} >"$out"

# --- tests
echo "bench: make test x3" >&2
for _ in 1 2 3; do
  echo "$(seconds make --no-print-directory test)"
done >"$work/test.list"
test_med=$(median <"$work/test.list")
test_all_list=$(paste -sd, "$work/test.list" | sed 's/,/, /g')

echo "bench: make test-all" >&2
load_before=$(load)
s=$(date +%s.%N)
rig="not run (needs root)"
if make --no-print-directory test-all >"$work/test-all.log" 2>&1; then
  test_all=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
else
  tail -60 "$work/test-all.log" >&2
  echo "bench: make test-all failed (output above)" >&2
  exit 1
fi
if grep -q '== make tracetest-local:' "$work/test-all.log"; then
  rig=$(sed -n 's/.*local Tracetest run (scripts[^)]*): \([0-9.]*\)s$/\1/p' "$work/test-all.log" | tail -1)
  rig=${rig:+${rig}s}
  rig=${rig:-"(no timing line found)"}
  rig_late=$(sed -n "s/.*local Tracetest run with the functions' documents \(.*\) late: \([0-9.]*\)s$/\2 s with the documents \1 late/p" "$work/test-all.log" | tail -1)
fi

# --- synth
echo "bench: make synth cold and warm" >&2
rm -rf cdk.out
synth_cold=$(GOCACHE="$work/gocache" LAMBDABUILD_CACHE="$work/lambdacache" seconds make --no-print-directory synth)
chmod -R u+w "$work/gocache" && rm -rf "$work/gocache" "$work/lambdacache"
rm -rf cdk.out
synth_warm=$(seconds make --no-print-directory synth)
synth_off=$(CDK_VALIDATION=false seconds cdk synth --quiet -o "$work/cdk.out")
rm -rf "$work/cdk.out"
build_warm=$(go test -run '^$' -bench BuildWarm -benchtime 20x ./constructs/workflow/lambdabuild 2>&1 | awk '/^Benchmark/ { printf "%.1f", $3 / 1e6 }')
import_test=$(seconds go test -count=1 -run TestImportFromAnotherModule ./constructs/workflow)

echo "bench: bench/synth.sh" >&2
bash bench/synth.sh >"$work/synth.md"
# The figures of its tables (a missing row shows as "?" in the summary).
ratio_on=$(sed -n 's/^| warm synth, validation on .*| \*\*\([0-9.]*\)\*\* |.*/\1/p' "$work/synth.md")
ratio_off=$(sed -n 's/^| warm synth, validation off .*| \*\*\([0-9.]*\)\*\* |.*/\1/p' "$work/synth.md")
overhead=$(sed -n "s/^| \*\*overhead: median of the pairs' differences\*\* | \*\*\([0-9.-]*\)\*\* |$/\1/p" "$work/synth.md")
ratio_on=${ratio_on:-?} ratio_off=${ratio_off:-?} overhead=${overhead:-?}

# --- Lambda functions
echo "bench: sizes, cold start, handlers" >&2
bash lambda-src/scripts/sizes.sh >"$work/sizes.txt"
max_size=$(awk '$1 != "function" && $1 != "hello" { if ($3 > m) m = $3 } END { printf "%.2f", m }' "$work/sizes.txt")
# Cheap (about 30 ms a run): many rounds, for medians that hold from one run to the next.
go run ./lambda-src/scripts/coldstart -n 101 >"$work/coldstart.md"
# The worst ratio of a function's own start-up (first invoke = init) to hello world's, over
# the binaries this app deploys (SendNotification: sendnotification-log, cdk.json's mode).
worst() { awk -F'|' -v k="$1" '$4 ~ k && $2 !~ /hello|sendnotification( |-ses|-sendgrid)/ { r = $6 + 0; if (r > m) { m = r; f = $2 } } END { gsub(/ /, "", f); printf "%.2f (%s)", m, f }' "$work/coldstart.md"; }
cold_ratio=$(worst init)
# The same for the other binaries, and hello world with the SDK's generated DynamoDB client:
# what that client costs (the functions call DynamoDB through awsapi instead).
ratio_of() { awk -F'|' -v f="$1" '$4 ~ /init/ { n = $2; gsub(/ /, "", n); if (n == f) printf "%.2f", $6 }' "$work/coldstart.md"; }
cold_floor=$(ratio_of hellodynamodb)
cold_modes="ses $(ratio_of sendnotification-ses)×, sendgrid $(ratio_of sendnotification-sendgrid)×, every mode $(ratio_of sendnotification)×"
# With a first invoke that does its work the answer waits for DynamoDB Local too, which
# hello world never calls: compared is what starting costs, cold minus warm.
# cold_call REF: the worst ratio of a function's cold minus warm, first invoke doing its work,
# to the reference REF's (hello, or hellocall: hello world making one plain DynamoDB request).
cold_call() {
  awk -F'|' -v ref="$1" '$4 ~ /call/ { n = $2; gsub(/ /, "", n); if (n == ref) h = $8 + 0; else if (n !~ /^hello/) v[n] = $8 + 0 }
    END { for (f in v) if (v[f] / h > m) { m = v[f] / h; w = f } printf "%.2f (%s)", m, w }' "$work/coldstart.md"
}
cold_ratio_call=$(cold_call hello)
cold_ratio_call_ref=$(cold_call hellocall)
go test -run '^$' -bench . -benchtime 300x -count 1 -benchmem ./lambda-src/internal/handler 2>&1 |
  grep -E '^(Benchmark|goos|goarch|cpu)' >"$work/handlers.txt"

# --- cold CI
cold_ci="not run (BENCH_COLD_CI=0)"
if [ "${BENCH_COLD_CI:-1}" != 0 ]; then
  echo "bench: bash .ci/run in a fresh clone, every cache empty" >&2
  git clone -q "$root" "$work/clone"
  mkdir -p "$work/cold"/{gocache,gomodcache,xdg,npm,lambda}
  s=$(date +%s.%N)
  if (cd "$work/clone" && CI=true GOCACHE="$work/cold/gocache" GOMODCACHE="$work/cold/gomodcache" \
    XDG_CACHE_HOME="$work/cold/xdg" npm_config_cache="$work/cold/npm" LAMBDABUILD_CACHE="$work/cold/lambda" \
    bash .ci/run) >"$work/cold-ci.log" 2>&1; then
    cold_ci=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
  else
    tail -60 "$work/cold-ci.log" >&2
    echo "bench: the cold CI run failed (output above)" >&2
    exit 1
  fi
  {
    grep -E '^== .*: ok in' "$work/cold-ci.log"
    # The background build's own timing, from its log.
    tail -1 "$work/clone/.tools/tracetest-build/build.log" 2>/dev/null | grep 'tracetest built in' || true
  } | sed 's/^/    /' >"$work/cold-ci.steps"
  chmod -R u+w "$work/cold" "$work/clone" 2>/dev/null || true
  rm -rf "$work/cold" "$work/clone"
fi

# verdict VALUE OP LIMIT: "met" or "**not met**"
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { ok = (op == "<=") ? (v + 0 <= l + 0) : 0; if (v !~ /^[0-9.-]+$/) print "-"; else print ok ? "met" : "**not met**" }'; }

{
  echo "| target (issue) | measured | limit | |"
  echo "|---|---|---|---|"
  echo "| \`make test\` warm, the fast set (14) | ${test_med} s (median of ${test_all_list}) | 25 s | $(verdict "$test_med" "<=" 25) |"
  echo "| every test still run by \`.ci/run\` (14): \`make test-all\` warm, as $(id -un) | ${test_all} s (load before: ${load_before}) | - | - |"
  echo "| the local Tracetest run: the suite through \`scripts/run-tracetest.sh\` (11) | ${rig}${rig_late:+ (${rig_late})} | 60 s | $(verdict "${rig%s}" "<=" 60) |"
  echo "| \`bash .ci/run\` in a fresh clone, every cache empty (14) | ${cold_ci}$([[ $cold_ci =~ ^[0-9]+$ ]] && echo ' s') | 360 s | $(verdict "$cold_ci" "<=" 360) |"
  echo "| warm app synth / TypeScript app of the same stacks, validation on (14) | ${ratio_on}× (off: ${ratio_off}×) | 1.5× | $(verdict "$ratio_on" "<=" 1.5) |"
  echo "| \`make synth\` beyond the app (14) | ${overhead} s | 1 s | $(verdict "$overhead" "<=" 1) |"
  echo "| largest Lambda binary, linux/arm64, stripped (14) | ${max_size} MB | 10 MB | $(verdict "$max_size" "<=" 10) |"
  echo "| slowest deployed function's own cold start (first invoke rejected before any AWS call) / hello world's, under the emulator (14) | ${cold_ratio%% *}× ${cold_ratio#* } | 1.3× | $(verdict "${cold_ratio%% *}" "<=" 1.3) |"
  echo "| the same for hello world with the SDK's generated DynamoDB client (which no function links) and SendNotification's other binaries (14) | ${cold_floor}×; ${cold_modes} | - | - |"
  echo "| the same, first invoke doing its work against DynamoDB Local: cold minus warm / hello world's (14) | ${cold_ratio_call%% *}× ${cold_ratio_call#* } | 1.3× | $(verdict "${cold_ratio_call%% *}" "<=" 1.3) |"
  echo "| the same, against hello world making one plain DynamoDB request: what a process's first connection and request cost (14) | ${cold_ratio_call_ref%% *}× ${cold_ratio_call_ref#* } | - | - |"
  echo "| Lambda build in a synth, nothing changed (13, 14) | ${build_warm} ms | no build | $(awk -v v="$build_warm" 'BEGIN { print (v + 0 < 100) ? "met" : "**not met**" }') |"
  echo
  echo "| other figures | command | seconds |"
  echo "|---|---|---|"
  echo "| synth, cold (empty Go build cache and Lambda build cache) | \`make synth\` | $synth_cold |"
  echo "| synth, warm | \`make synth\` | $synth_warm |"
  echo "| synth, warm, built-in validation off | \`CDK_VALIDATION=false cdk synth\` | $synth_off |"
  echo "| importing-module test, warm (separate module, offline, read-only copy, cdk-nag) | \`go test -run TestImportFromAnotherModule ./constructs/workflow\` | $import_test |"
  echo
  if [ -f "$work/cold-ci.steps" ]; then
    echo "The cold CI run's steps (wall and CPU seconds; the Tracetest build runs in the background"
    echo "from the first step to \`make tracetest-local\` in the last):"
    echo
    cat "$work/cold-ci.steps"
    echo
  fi
  sed 's/^## /#### /; s/^### /#### /' "$work/synth.md"
  echo
  echo "#### Lambda binary sizes (linux/arm64, stripped; \`bash lambda-src/scripts/sizes.sh\`)"
  echo
  echo '```'
  cat "$work/sizes.txt"
  echo '```'
  echo
  echo "#### Lambda cold start under aws-lambda-rie (\`go run ./lambda-src/scripts/coldstart -n 101\`)"
  echo
  cat "$work/coldstart.md"
  echo
  echo "#### Lambda handlers against DynamoDB Local (\`go test -bench . -benchtime 300x ./lambda-src/internal/handler\`)"
  echo
  echo '```'
  cat "$work/handlers.txt"
  echo '```'
} >>"$out"

cat "$out"
if [ "${BENCH_UPDATE_DOC:-0}" = 1 ]; then
  doc=docs/BENCHMARKS.md
  grep -q '<!-- bench:begin -->' $doc && grep -q '<!-- bench:end -->' $doc || {
    echo "bench: $doc has no <!-- bench:begin --> / <!-- bench:end --> markers" >&2
    exit 1
  }
  awk -v f="$out" '
    /<!-- bench:begin -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- bench:end -->/ { skip = 0 }
    !skip' $doc >"$work/doc" && cp "$work/doc" $doc
  echo "bench: $doc updated" >&2
fi
