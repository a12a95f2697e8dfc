#!/usr/bin/env bash
# Builds the six Lambda functions exactly as for deployment (provided.al2023,
# arm64, static, stripped, reproducible) into a temporary directory and prints
# each bootstrap's size. Usage: bash lambda-src/scripts/sizes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '%-26s %12s %8s\n' function bytes MiB
for dir in lambda-src/cmd/*/; do
  name=$(basename "$dir")
  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -buildvcs=false \
    -ldflags="-s -w -buildid=" -o "$out/$name/bootstrap" "./$dir"
  bytes=$(stat -c %s "$out/$name/bootstrap")
  awk -v n="$name" -v b="$bytes" 'BEGIN { printf "%-26s %12d %8.1f\n", n, b, b / 1048576 }'
done
