#!/usr/bin/env bash
# Synth speed of the Go app against bench/typescript, a TypeScript CDK app of the same four
# stacks (issue 14: warm app synth <= 1.5x the TypeScript app with validation on, and
# `make synth` overhead beyond the app <= 1 s). Prints a Markdown section for
# docs/BENCHMARKS.md; scripts/bench.sh (make bench) runs it, or run it alone:
#
#   bash bench/synth.sh            # needs `make tools` once; installs bench/typescript on demand
#   BENCH_SYNTH_RUNS=9 bash bench/synth.sh
#
# Both apps run under the same CDK CLI and Node 22 (the project's node_modules/.bin), from
# the repository root, so both read the root cdk.json: the same context and feature flags.
# The Go app is cdk.json's "app"; the TypeScript app is compiled once with tsc and run as
# `node bench/typescript/bin/app.js`, with the Go synth's own Lambda binaries as its assets
# (the same bytes to fingerprint). Every figure is a median of BENCH_SYNTH_RUNS runs taken
# in interleaved pairs (the order alternates from pair to pair), after one warm-up of each.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
ts=bench/typescript
runs=${BENCH_SYNTH_RUNS:-5}
export PATH="$root/node_modules/.bin:$PATH" JSII_NODE="$root/node_modules/.bin/node"
export CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true
unset CDK_VALIDATION

if [ ! -x node_modules/.bin/cdk ] || [ ! -x node_modules/.bin/node ]; then
  echo "bench/synth.sh: no pinned CDK CLI or Node in node_modules: run make tools first" >&2
  exit 1
fi
if ! [[ $runs =~ ^[0-9]+$ ]] || [ "$runs" -lt 1 ]; then
  echo "bench/synth.sh: BENCH_SYNTH_RUNS=$runs is not a positive whole number" >&2
  exit 1
fi

# The TypeScript app's pinned packages, installed only here (not by make tools or CI).
if [ ! -x $ts/node_modules/.bin/tsc ] || ! cmp -s $ts/package-lock.json $ts/node_modules/.package-lock-ci 2>/dev/null; then
  echo "bench/synth.sh: npm ci in $ts" >&2
  (cd $ts && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp $ts/package-lock.json $ts/node_modules/.package-lock-ci
fi
# Keeps node_modules out of the Go module's ./... (as scripts/install-tools.sh does).
[ -f $ts/node_modules/go.mod ] || printf 'module ignored/node_modules\n\ngo 1.26\n' > $ts/node_modules/go.mod

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LAMBDA_ASSETS="$work/lambda"
go_app=(cdk synth --quiet --output "$work/go.out")
ts_app=(cdk synth --quiet --app "node $ts/bin/app.js" --output "$work/ts.out")

# measure prints "<wall seconds> <CPU seconds (user + sys of every process)>" of one run
# and stops the benchmark, showing the output, when the run fails.
measure() {
  local t TIMEFORMAT='%R %U %S'
  if ! t=$( { time "$@" >"$work/run.log" 2>&1; } 2>&1 ); then
    echo "bench/synth.sh: failed: $*" >&2
    tail -30 "$work/run.log" >&2
    return 1
  fi
  awk '{ printf "%.2f %.2f", $1, $2 + $3 }' <<<"$t"
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# pairs A B: runs the commands in arrays A and B in $runs interleaved pairs; sets
# wall_a, cpu_a, wall_b, cpu_b to the space-separated samples and diff to B - A per pair.
pairs() {
  local -n a=$1 b=$2
  local i ra rb
  wall_a= cpu_a= wall_b= cpu_b= diff=
  for ((i = 1; i <= runs; i++)); do
    if ((i % 2)); then
      ra=$(measure "${a[@]}") && rb=$(measure "${b[@]}") || exit 1
    else
      rb=$(measure "${b[@]}") && ra=$(measure "${a[@]}") || exit 1
    fi
    wall_a+=" ${ra% *}" cpu_a+=" ${ra#* }" wall_b+=" ${rb% *}" cpu_b+=" ${rb#* }"
    diff+=" $(awk -v x="${ra% *}" -v y="${rb% *}" 'BEGIN { printf "%.2f", y - x }')"
  done
}
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }

load_start=$(load)
# Compiled once, as a TypeScript CDK app normally is before `cdk synth`.
tsc_time=$(measure $ts/node_modules/.bin/tsc -p $ts) || exit 1
# Warm-up: the Go app's `go run` and Lambda build caches, the staged assets of both.
measure "${go_app[@]}" >/dev/null || exit 1
node $ts/lambda-assets.mjs "$work/go.out" "$LAMBDA_ASSETS"
measure "${ts_app[@]}" >/dev/null || exit 1
counts=$(node $ts/compare.mjs "$work/go.out" "$work/ts.out") || {
  echo "$counts" >&2
  exit 1
}

echo "### Synth against a TypeScript app: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
echo
echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3), node $(node --version), cdk $(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' node_modules/aws-cdk/package.json)."
echo "Medians of $runs interleaved pairs per row, after one warm-up run of each app; wall-clock and CPU (user + sys of all processes) seconds."
[ "$runs" -ge 5 ] || echo "**Only $runs runs: a quick look, not a benchmark figure (use 5 or more).**"
echo
echo "| what | Go app | TypeScript app | ratio wall | ratio CPU | load average (1, 5, 15 min) before → after |"
echo "|---|---|---|---|---|---|"
raw=()
for mode in on off; do
  before=$(load)
  if [ $mode = off ]; then export CDK_VALIDATION=false; fi
  pairs go_app ts_app
  unset CDK_VALIDATION
  gw=$(median <<<"$wall_a") gc=$(median <<<"$cpu_a") tw=$(median <<<"$wall_b") tc=$(median <<<"$cpu_b")
  echo "| warm synth, validation $mode | $gw s (CPU $gc) | $tw s (CPU $tc) | **$(ratio "$gw" "$tw")** | $(ratio "$gc" "$tc") | $before → $(load) |"
  raw+=("validation $mode, wall: Go$wall_a; TypeScript$wall_b")
done
# The Makefile's part of `make synth`: the same synth into the same directory, with and
# without make (pinned-tools check, the template count).
make_synth=(make --no-print-directory synth)
cdk_synth=(cdk synth --quiet --output cdk.out)
measure "${cdk_synth[@]}" >/dev/null || exit 1
before=$(load)
pairs cdk_synth make_synth
raw+=("make synth vs its cdk synth, wall: cdk$wall_a; make$wall_b")
# What make adds before the app, alone: a figure the noise of two 6-second synths hides.
tools=
for ((i = 1; i <= runs; i++)); do
  r=$(measure make --no-print-directory tools) || exit 1
  tools+=" ${r% *}"
done
echo
echo "| \`make synth\` overhead beyond the app (validation on) | seconds |"
echo "|---|---|"
echo "| \`make synth\`, median | $(median <<<"$wall_b") |"
echo "| its \`cdk synth --quiet --output cdk.out\`, median | $(median <<<"$wall_a") |"
echo "| **overhead: median of the pairs' differences** | **$(median <<<"$diff")** |"
echo "| \`make tools\` alone (what \`make synth\` runs before the app), median | $(median <<<"$tools") |"
echo "| load average before → after | $before → $(load) |"
echo
echo "Commands, from the repository root: Go app \`${go_app[*]:0:4} <dir>\` (cdk.json's app: \`$(sed -n 's/^  "app": "\(.*\)",$/\1/p' cdk.json)\`);"
echo "TypeScript app \`LAMBDA_ASSETS=<the Go synth's Lambda binaries> ${ts_app[0]} ${ts_app[1]} ${ts_app[2]} --app \"${ts_app[4]}\" ${ts_app[5]} <dir>\`,"
echo "compiled once before (\`tsc -p $ts\`: ${tsc_time% *} s). Load average at the start: $load_start, at the end: $(load)."
echo
echo "Every run (wall seconds, in order):"
echo
for r in "${raw[@]}"; do echo "- $r"; done
echo
echo "Resources per stack in the two synth outputs (\`node $ts/compare.mjs\`):"
echo
echo "$counts"
