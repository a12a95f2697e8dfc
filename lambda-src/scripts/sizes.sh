#!/usr/bin/env bash
# Prints every Lambda function binary's size, built exactly as for deployment, next to a
# hello-world Go Lambda built the same way: lambda-src/scripts/sizes (which takes the build
# flags from lambdabuild). Usage: bash lambda-src/scripts/sizes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./lambda-src/scripts/sizes
