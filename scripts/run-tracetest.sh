#!/usr/bin/env bash
# Runs the trace-based tests (tests/suite.yaml) against a deployment: `make tracetest`, and
# `make tracetest-local`, which points it at the local rig (e2e/, docs/TRACETEST.md).
#
# 1. cmd/tracetest-vars turns the cdk deploy outputs file into a Tracetest variable set
#    (API_URL, STATE_MACHINE_ARN, TRACETEST_URL) and prints the Tracetest server URL;
# 2. the Tracetest CLI is pointed at that server and runs the suite with that variable set;
# 3. tests/verify reads the run back from the server's API: every test stored as written,
#    every spec evaluated and passed, the outputs passed on; on a failure it prints the
#    runs' event logs, which say why (the CLI alone says only "timeout" for a missing trace).
# It stops early, saying what to do, when the CLI is missing, the outputs file is missing or
# the server does not answer GET /api/version.json.
#
# The CLI saves its configuration to ./config.yml or ~/.tracetest/config.yml whatever
# --config says, so it runs in a temporary directory with HOME pointing there: your own
# Tracetest configuration is never read or overwritten.
#
# Environment:
#   CDK_OUTPUTS  outputs file of `cdk deploy --all --outputs-file` (default cdk-outputs.json)
#   PREFIX       stack name prefix, the CDK context key `prefix` (default TracetestSfn)
#   TRACETEST    Tracetest CLI (default .tools/bin/tracetest from make tools, else tracetest on PATH)
#   SUITE        the TestSuite file to run (default tests/suite.yaml)
#   JUNIT        if set, a JUnit XML report of the run is written to this file (by tests/verify,
#                from the server's report of each test run: the v1.7.1 CLI's --junit fails for
#                a test suite with "junit report is not supported for this resource type")
#   RUN_TIMEOUT  seconds the CLI may wait for the suite (default 600). Tracetest v1.7.1 can
#                leave a suite run EXECUTING for ever when a step fails at once, before the
#                suite runner listens for it (server/executor/test_suite_runner.go: "this will
#                block indefinitely"), and the CLI then waits for ever.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

outputs="${CDK_OUTPUTS:-cdk-outputs.json}"
prefix="${PREFIX:-TracetestSfn}"
suite="${SUITE:-tests/suite.yaml}"
tracetest="${TRACETEST:-}"
if [ -z "$tracetest" ]; then
	if [ -x "$root/.tools/bin/tracetest" ]; then
		tracetest="$root/.tools/bin/tracetest"
	else
		tracetest=tracetest
	fi
fi

die() {
	printf 'run-tracetest: %s\n' "$*" >&2
	exit 1
}

abs() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$root/$1" ;;
	esac
}

command -v "$tracetest" >/dev/null 2>&1 || die "the Tracetest CLI ($tracetest) is not there.
Run make tools: it builds the pinned v1.7.1 CLI (the server's version) into .tools/bin
(or set TRACETEST=/path/to/tracetest)."
command -v go >/dev/null 2>&1 || die "go is not on PATH: it builds cmd/tracetest-vars and tests/verify (see go.mod for the version)."
[ -f "$outputs" ] || die "$outputs not found: run make deploy first (it writes the file with
cdk deploy --all --outputs-file $outputs), or set CDK_OUTPUTS to the outputs file."
[ -f "$suite" ] || die "$suite not found (SUITE)."
suite=$(abs "$suite")
junit=""
if [ -n "${JUNIT:-}" ]; then
	junit=$(abs "$JUNIT")
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

go build -o "$work/tracetest-vars" ./cmd/tracetest-vars
go build -o "$work/verify" ./tests/verify
"$work/tracetest-vars" -outputs "$outputs" -prefix "$prefix" -o "$work/vars.yaml"
server="$("$work/tracetest-vars" -outputs "$outputs" -prefix "$prefix" -print-tracetest-url)"

# The server has no health endpoint; /api/version.json answers 200 once it serves the API.
if command -v curl >/dev/null 2>&1; then
	probe=(curl -fsS --max-time 10 -o /dev/null "$server/api/version.json")
else
	probe=(wget -q -T 10 -O /dev/null "$server/api/version.json")
fi
"${probe[@]}" || die "the Tracetest server at $server does not answer GET /api/version.json.
Check that the Tracetest ECS service of $prefix-Tracetest is running and healthy, and that
your address is allowed: deploy with -c tracetestAllowedCidrs=<your IP>/32 (see docs/TRACETEST.md)."

# Runs a command (the CLI) confined to the temporary directory (see above).
cli() {
	(cd "$work" && HOME="$work" "$@")
}

echo "run-tracetest: Tracetest server $server"
cli "$tracetest" configure --server-url "$server" >/dev/null
before=$("$work/verify" -server "$server" -suite "$suite" -latest)
status=0
run_timeout="${RUN_TIMEOUT:-600}"
cli timeout "$run_timeout" "$tracetest" run testsuite -f "$suite" --vars "$work/vars.yaml" || status=$?
if [ "$status" = 124 ]; then
	echo "run-tracetest: the CLI did not see the suite finish in ${run_timeout}s (RUN_TIMEOUT). A step that fails at" >&2
	echo "once can leave a Tracetest v1.7.1 suite run EXECUTING for ever; the read-back below shows the steps." >&2
fi
"$work/verify" -server "$server" -suite "$suite" -after "$before" ${junit:+-junit "$junit"} || status=1
exit "$status"
