#!/usr/bin/env bash
# Runs the trace-based tests (tests/suite.yaml) against the deployed stacks: `make tracetest`.
#
# 1. cmd/tracetest-vars turns the cdk deploy outputs file into a Tracetest variable set
#    (API_URL, STATE_MACHINE_ARN, TRACETEST_URL) and prints the Tracetest server URL;
# 2. the Tracetest CLI is pointed at that server (tracetest configure --server-url);
# 3. the suite runs with that variable set (tracetest run testsuite -f ... --vars ...).
# It stops early, saying what to do, when the CLI is missing, the outputs file is missing or
# the server does not answer GET /api/version.json.
#
# Environment:
#   CDK_OUTPUTS  outputs file of `cdk deploy --all --outputs-file` (default cdk-outputs.json)
#   PREFIX       stack name prefix, the CDK context key `prefix` (default TracetestSfn)
#   TRACETEST    Tracetest CLI to run (default tracetest, found on PATH)
set -euo pipefail

cd "$(dirname "$0")/.."

outputs="${CDK_OUTPUTS:-cdk-outputs.json}"
prefix="${PREFIX:-TracetestSfn}"
tracetest="${TRACETEST:-tracetest}"

die() {
	printf 'run-tracetest: %s\n' "$*" >&2
	exit 1
}

command -v "$tracetest" >/dev/null 2>&1 || die "the Tracetest CLI ($tracetest) is not on PATH.
Install the v1.7.1 CLI, the same version as the server:
  https://docs.tracetest.io/getting-started/install-cli
  or a binary from https://github.com/kubeshop/tracetest/releases/tag/v1.7.1
then rerun make tracetest (or set TRACETEST=/path/to/tracetest)."
command -v go >/dev/null 2>&1 || die "go is not on PATH: it builds cmd/tracetest-vars (see go.mod for the version)."
[ -f "$outputs" ] || die "$outputs not found: run make deploy first (it writes the file with
cdk deploy --all --outputs-file $outputs), or set CDK_OUTPUTS to the outputs file."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

go build -o "$work/tracetest-vars" ./cmd/tracetest-vars
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

echo "run-tracetest: Tracetest server $server"
"$tracetest" --config "$work/config.yml" configure --server-url "$server"
"$tracetest" --config "$work/config.yml" run testsuite -f tests/suite.yaml --vars "$work/vars.yaml"
