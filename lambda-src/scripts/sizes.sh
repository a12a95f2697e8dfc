#!/usr/bin/env bash
# Builds every Lambda function binary (lambda-src/cmd/*) exactly as for deployment (provided.al2023,
# arm64, static, stripped, reproducible) into a temporary directory and prints
# each bootstrap's size, with a hello-world Go Lambda built the same way for
# reference. TestFunctionSizes (lambda-src/size_test.go) holds each function to
# 10 MB. Usage: bash lambda-src/scripts/sizes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -buildvcs=false -gcflags=all=-dwarf=false \
  -ldflags="-s -w -buildid=" -o "$out/" ./lambda-src/cmd/... ./lambda-src/scripts/coldstart/hello
printf '%-26s %12s %8s\n' function bytes MB
for f in "$out"/*; do
  name=$(basename "$f")
  [ "$name" = hello ] && name="hello (reference)"
  awk -v n="$name" -v b="$(stat -c %s "$f")" 'BEGIN { printf "%-26s %12d %8.2f\n", n, b, b / 1e6 }'
done
