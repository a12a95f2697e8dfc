#!/usr/bin/env bash
# Measures what docs/BENCHMARKS.md reports, on this machine, and prints a Markdown table:
#   - make synth, cold (empty Go build cache and Lambda build cache) and warm
#   - the warm synth of the app against a TypeScript app of the same stacks, validation on
#     and off, and the Makefile's overhead beyond the app (bench/synth.sh: medians of
#     interleaved pairs, with the load average)
#   - go test ./... warm (unit, integration, end to end)
#   - the Lambda handler benchmarks against DynamoDB Local, the binary sizes, and the
#     functions' cold start next to a hello-world Go Lambda under the emulator
# Usage: bash scripts/bench.sh   (or make bench). Takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" JSII_NODE="$PWD/node_modules/.bin/node"

seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

cold_cache=$(mktemp -d)
cold_lambda=$(mktemp -d)
trap 'rm -rf "$cold_cache" "$cold_lambda"' EXIT

echo "## Benchmarks: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
echo
echo "Machine: $(nproc) cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB, $(go version | cut -d' ' -f3), node $(node --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| what | command | seconds |"
echo "|---|---|---|"
rm -rf cdk.out
t=$(GOCACHE="$cold_cache" XDG_CACHE_HOME="$cold_lambda" seconds make synth)
echo "| synth, cold (empty Go build cache, Lambdas rebuilt) | \`make synth\` | $t |"
rm -rf cdk.out
t=$(seconds make synth)
echo "| synth, warm | \`make synth\` | $t |"
t=$(CDK_VALIDATION=false seconds node_modules/.bin/cdk synth --quiet -o "$cold_lambda/out")
echo "| synth, warm, built-in validation off | \`CDK_VALIDATION=false cdk synth\` | $t |"
t=$(seconds go test -count=1 .)
echo "| CDK tests (one synth shared by all tests + 9 variant synths) | \`go test -count=1 .\` | $t |"
t=$(seconds go test -count=1 ./...)
echo "| all tests, warm (incl. DynamoDB Local, e2e, importing module) | \`go test -count=1 ./...\` | $t |"
t=$(seconds go test -count=1 -run TestImportFromAnotherModule ./constructs/workflow)
echo "| importing-module test, warm (separate module, offline, read-only copy, cdk-nag) | \`go test -run TestImportFromAnotherModule ./constructs/workflow\` | $t |"
echo
bash bench/synth.sh
echo
echo "### Lambda build at synth, nothing changed (cache hit: no compiler, no linker)"
echo
echo '```'
go test -run '^$' -bench BuildWarm -benchtime 20x ./constructs/workflow/lambdabuild 2>&1 | grep -E '^Benchmark'
echo '```'
echo
echo "### Lambda handlers against DynamoDB Local"
echo
echo '```'
go test -run '^$' -bench . -benchtime 300x -count 1 -benchmem ./lambda-src/internal/handler 2>&1 | grep -E '^(Benchmark|goos|goarch|cpu)'
echo '```'
echo
echo "### Lambda binary sizes (linux/arm64, stripped)"
echo
echo '```'
bash lambda-src/scripts/sizes.sh 2>&1 | tail -8
echo '```'
echo
echo "### Lambda cold start under aws-lambda-rie (first invoke to answer, vs hello world)"
echo
go run ./lambda-src/scripts/coldstart -n 15
