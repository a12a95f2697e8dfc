#!/usr/bin/env bash
# Installs every tool the build and the tests need, at pinned versions, into the
# repository itself (node_modules/ and .tools/), so nothing is installed system-wide
# and a fresh clone needs only Go, npm, Java 17 and make. The one exception is Debian's
# postgresql package (the local Tracetest server's database), installed with apt-get
# when missing and when running as root (CI); elsewhere the script says how.
#
# Idempotent: a tool already present at its pinned version is not fetched again.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

# Pinned versions. Change them here only.
DYNAMODB_LOCAL_NPM=amplify-dynamodb-simulator@2.9.30   # ships the real DynamoDB Local jar
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d         # aws-lambda-runtime-interface-emulator has no tags
ACTIONLINT_VERSION=v1.7.12                              # github.com/rhysd/actionlint, lints .github/workflows
TRACETEST_VERSION=v1.7.1                               # server and CLI; the module is tools/tracetest

tools="$root/.tools"
# The Makefile's build configuration (static, path-free, no DWARF), so that the tools, the
# Tracetest build and the rest share the build cache's standard library.
go_flags="-trimpath -gcflags=all=-dwarf=false -ldflags=-w"
mkdir -p "$tools/bin"

# Tracetest server and CLI, built from the Go module github.com/kubeshop/tracetest at
# $TRACETEST_VERSION through tools/tracetest (its own go.mod/go.sum: checksum-verified, and
# kept out of the root module's ./...). The ldflags are the ones upstream's .goreleaser.yaml
# sets in a release (VERSION = the tag, TRACETEST_ENV = main; no analytics keys); a release
# is stripped (-s -w), so the compiler generates no DWARF either (-gcflags=all=-dwarf=false:
# the same code, about 14% less CPU). The stamp holds the version and the tools module's
# checksums, so a warm run builds nothing.
#
# A cold build takes minutes of CPU, so it runs in the background, in a session of its own,
# and installs the binaries itself when done. TRACETEST_BUILD says what this script does
# about it: wait (the default) waits for it at the end; background (.ci/run) returns and
# leaves it running, so that the synth and the tests overlap it. The builder holds a lock
# on $tt_dir/lock until it has finished: a later run finds the build in progress rather
# than starting another, and waits for it by taking the lock, unless it is in background
# mode too (make tracetest-local and make tracetest, which run the binaries, always wait).
TRACETEST_BUILD=${TRACETEST_BUILD:-wait}
case $TRACETEST_BUILD in
  wait | background) ;;
  *) echo "install-tools: TRACETEST_BUILD=$TRACETEST_BUILD: want wait or background" >&2; exit 1 ;;
esac
tt_stamp="$TRACETEST_VERSION $(cat tools/tracetest/go.mod tools/tracetest/go.sum | sha256sum | cut -c1-16)"
tt_dir="$tools/tracetest-build"
tt_ready() {
  [ -x "$tools/bin/tracetest" ] && [ -x "$tools/bin/tracetest-server" ] &&
    [ "$(cat "$tools/bin/.tracetest-version" 2>/dev/null)" = "$tt_stamp" ]
}
tt_pid=""
# The Go tools below (the emulator first) and the Tracetest build would both compile the
# standard library when started together on a cold cache, neither finding the other's copy.
# So the Go tools hold this lock until the emulator is built, and the Tracetest build loads
# (downloads) its packages meanwhile and waits for the lock before compiling.
std_lock="$tools/.go-std.lock"
exec 9>>"$std_lock"
flock 9
if ! tt_ready; then
  mkdir -p "$tt_dir"
  exec 8>>"$tt_dir/lock"
  if flock -n 8; then
    echo "install-tools: tracetest@$TRACETEST_VERSION (server and CLI, from source, in the background; log: $tt_dir/build.log)"
    rm -rf "$tt_dir/out"
    # The builder inherits descriptor 8, and with it the lock.
    tt_out="$tt_dir/out" tt_bin="$tools/bin" tt_stamp="$tt_stamp" TRACETEST_VERSION="$TRACETEST_VERSION" \
      std_lock="$std_lock" setsid bash -c '
        set -e
        start=$SECONDS
        cd tools/tracetest
        CGO_ENABLED=0 go list -mod=readonly -trimpath -deps github.com/kubeshop/tracetest/server github.com/kubeshop/tracetest/cli >/dev/null
        flock "$std_lock" true
        CGO_ENABLED=0 go build -mod=readonly -trimpath -gcflags=all=-dwarf=false -o "$tt_out/" \
          -ldflags "-s -w \
            -X github.com/kubeshop/tracetest/server/version.Version=$TRACETEST_VERSION \
            -X github.com/kubeshop/tracetest/server/version.Env=main \
            -X github.com/kubeshop/tracetest/cli/config.Version=$TRACETEST_VERSION \
            -X github.com/kubeshop/tracetest/cli/config.Env=main" \
          github.com/kubeshop/tracetest/server github.com/kubeshop/tracetest/cli
        mv "$tt_out/server" "$tt_bin/tracetest-server"
        mv "$tt_out/cli" "$tt_bin/tracetest"
        echo "$tt_stamp" >"$tt_bin/.tracetest-version"
        times >"$tt_out/times" # not in a pipe: a subshell would count no children
        set -- $(tail -1 "$tt_out/times")
        echo "install-tools: tracetest built in $((SECONDS - start)) s (CPU: user $1, system $2)"' >"$tt_dir/build.log" 2>&1 9>&- &
    tt_pid=$!
    echo "$tt_pid" >"$tt_dir/pid"
    # An early exit of this script (a failed step) stops the build.
    trap 'rc=$?; if [ "$rc" != 0 ] && [ -n "$tt_pid" ]; then kill -- -"$tt_pid" 2>/dev/null || true; fi' EXIT
  else
    echo "install-tools: tracetest@$TRACETEST_VERSION is being built in the background (log: $tt_dir/build.log)"
  fi
  exec 8>&-
fi

# The Go tools, built from source by the Go toolchain (checked against the Go checksum
# database), build while npm installs: AWS Lambda Runtime Interface Emulator and actionlint.
# Static and path-free, like every Go build of the Makefile, so they share the build cache's
# standard library with the Tracetest build.
go_tools() {
  if [ ! -x "$tools/bin/aws-lambda-rie" ] || [ "$(cat "$tools/bin/.rie-version" 2>/dev/null)" != "$RIE_VERSION" ]; then
    echo "install-tools: aws-lambda-rie@$RIE_VERSION"
    GOBIN="$tools/bin" CGO_ENABLED=0 GOFLAGS="-mod=mod $go_flags" go install \
      "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
    echo "$RIE_VERSION" > "$tools/bin/.rie-version"
  fi
  flock -u 9 # the standard library is in the build cache: the Tracetest build may start
  if [ ! -x "$tools/bin/actionlint" ] || [ "$(cat "$tools/bin/.actionlint-version" 2>/dev/null)" != "$ACTIONLINT_VERSION" ]; then
    echo "install-tools: actionlint@$ACTIONLINT_VERSION"
    GOBIN="$tools/bin" CGO_ENABLED=0 GOFLAGS="-mod=mod $go_flags" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
    echo "$ACTIONLINT_VERSION" > "$tools/bin/.actionlint-version"
  fi
}
go_tools_log=$(mktemp)
go_tools >"$go_tools_log" 2>&1 &
go_tools_pid=$!
exec 9>&- # go_tools holds the lock now, and releases it (or exits) when the emulator is built

# npm tools: CDK CLI, Node 22 (for the CLI and jsii), asl-validator,
# aws-local-stepfunctions, cfn-guard with the Control Tower rules. All in package-lock.json.
if [ ! -x node_modules/.bin/cdk ] || ! cmp -s package-lock.json node_modules/.package-lock-ci 2>/dev/null; then
  echo "install-tools: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock-ci
fi
# The CDK CLI ships Go template files; a go.mod here keeps node_modules out of `./...`.
[ -f node_modules/go.mod ] || printf 'module ignored/node_modules\n\ngo 1.26\n' > node_modules/go.mod

# DynamoDB Local: only the tarball (npm pack), not the package with its dependencies.
ddb="$tools/dynamodb-local"
if [ ! -f "$ddb/.version" ] || [ "$(cat "$ddb/.version")" != "$DYNAMODB_LOCAL_NPM" ]; then
  echo "install-tools: $DYNAMODB_LOCAL_NPM (DynamoDB Local)"
  tmp=$(mktemp -d)
  # npm's errors on stderr (--silent would hide them); a failed download is tried again.
  for attempt in 1 2 3; do
    if (cd "$tmp" && npm pack --loglevel=error "$DYNAMODB_LOCAL_NPM" >/dev/null); then break; fi
    if [ "$attempt" = 3 ]; then
      echo "install-tools: npm pack $DYNAMODB_LOCAL_NPM failed 3 times (errors above)" >&2
      exit 1
    fi
    echo "install-tools: npm pack $DYNAMODB_LOCAL_NPM failed; trying again" >&2
    sleep 2
  done
  (cd "$tmp" && tar -xzf ./*.tgz)
  rm -rf "$ddb"
  mv "$tmp/package/emulator" "$ddb"
  rm -rf "$tmp"
  echo "$DYNAMODB_LOCAL_NPM" > "$ddb/.version"
fi

go_tools_status=0
wait "$go_tools_pid" || go_tools_status=$?
cat "$go_tools_log"
rm -f "$go_tools_log"
if [ "$go_tools_status" != 0 ]; then
  echo "install-tools: building the Go tools failed (output above)" >&2
  exit 1
fi

# PostgreSQL for the local Tracetest server (make tracetest-local starts its own cluster in a
# temporary directory). Debian's package; any major version the server supports will do.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-tools: postgresql (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "install-tools: PostgreSQL is missing; make tracetest-local needs it: sudo apt-get install postgresql" >&2
  fi
fi

# The Tracetest build, started above or by an earlier run.
if ! tt_ready; then
  if [ "$TRACETEST_BUILD" = background ]; then
    echo "install-tools: the Tracetest build goes on in the background; make tracetest-local waits for it"
  else
    flock "$tt_dir/lock" true
    tt_pid=""
    if ! tt_ready; then
      cat "$tt_dir/build.log" >&2
      echo "install-tools: the Tracetest build failed (log above)" >&2
      exit 1
    fi
    tail -1 "$tt_dir/build.log"
  fi
fi

# Versions read from the installed packages: asking the CDK CLI (`cdk --version`) starts
# Node and loads the CLI, half a second on every `make synth`.
version() { sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "node_modules/$1/package.json"; }
echo "install-tools: ok (node v$(version node), cdk $(version aws-cdk))"
