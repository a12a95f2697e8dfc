#!/usr/bin/env bash
# Synthesizes the committed tree from two different checkout paths and fails unless both
# cloud assemblies (templates, asset hashes, asset contents, manifests) are byte-identical.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for dir in "$work/a" "$work/b/deeper/checkout-path"; do
  mkdir -p "$(dirname "$dir")"
  git clone --quiet --no-hardlinks "$root" "$dir"
  # Include uncommitted changes so the check covers the working tree being tested.
  git -C "$root" diff HEAD --binary | (cd "$dir" && git apply --allow-empty 2>/dev/null || true)
  git -C "$root" ls-files --others --exclude-standard -z | (cd "$root" && xargs -0 -r cp --parents -t "$dir")
  ln -s "$root/node_modules" "$dir/node_modules"
  # A Lambda build cache of its own per checkout: the shared one would hand both the same
  # binaries and prove nothing about the builds.
  (cd "$dir" && PATH="$root/node_modules/.bin:$PATH" JSII_NODE="$root/node_modules/.bin/node" \
    LAMBDABUILD_CACHE="$dir.lambda-cache" \
    "$root/node_modules/.bin/cdk" synth --quiet --output "$dir/cdk.out" >/dev/null)
done

if ! diff -rq "$work/a/cdk.out" "$work/b/deeper/checkout-path/cdk.out"; then
  for f in $(diff -rq "$work/a/cdk.out" "$work/b/deeper/checkout-path/cdk.out" | awk '/^Files/ {print $2}'); do
    diff <(tr , "\n" < "$f") <(tr , "\n" < "${f/\/a\//\/b\/deeper\/checkout-path\/}") | head -20 >&2
  done
  echo "determinism: FAILED, the two checkouts synthesized different cloud assemblies" >&2
  exit 1
fi
n=$(find "$work/a/cdk.out" -type f | wc -l)
echo "determinism: ok, $n files byte-identical across two checkout paths"
