#!/usr/bin/env bash
# Synthesizes the working tree from two different checkout paths and fails unless both
# cloud assemblies (templates, asset hashes, asset contents, manifests) are byte-identical.
#
# Usage: check-determinism.sh [CDK_OUT]. Given the cloud assembly of a synth of this tree
# made elsewhere (CI passes the main job's cdk.out, synthesized in the repository itself),
# it synthesizes once, in a clone at another path, and compares with that; an assembly that
# is not this tree's fails the check rather than passing it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

base=${1:-}
if [ -n "$base" ]; then
  [ -f "$base/manifest.json" ] || { echo "determinism: $base is not a cloud assembly (no manifest.json); run make synth first" >&2; exit 1; }
  base=$(cd "$base" && pwd)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# synth DIR: clones the repository to DIR with the working tree's changes and synthesizes
# there into DIR/cdk.out.
synth() {
  local dir=$1
  mkdir -p "$(dirname "$dir")"
  git clone --quiet --no-hardlinks "$root" "$dir"
  # Include uncommitted changes so the check covers the working tree being tested.
  git -C "$root" diff HEAD --binary | (cd "$dir" && git apply --allow-empty 2>/dev/null || true)
  git -C "$root" ls-files --others --exclude-standard -z | (cd "$root" && xargs -0 -r cp --parents -t "$dir")
  ln -s "$root/node_modules" "$dir/node_modules"
  # A Lambda build cache of its own per checkout: a shared one would hand both synths the
  # same binaries and prove nothing about the builds.
  (cd "$dir" && PATH="$root/node_modules/.bin:$PATH" JSII_NODE="$root/node_modules/.bin/node" \
    LAMBDABUILD_CACHE="$dir.lambda-cache" \
    "$root/node_modules/.bin/cdk" synth --quiet --output "$dir/cdk.out" >/dev/null)
}

a=$base
if [ -z "$a" ]; then
  synth "$work/a"
  a=$work/a/cdk.out
fi
b=$work/b/deeper/checkout-path
synth "$b"
b=$b/cdk.out

if ! diff -rq "$a" "$b"; then
  { diff -rq "$a" "$b" || true; } | awk '/^Files/ { print $2, $4 }' | while read -r fa fb; do
    diff <(tr , "\n" <"$fa") <(tr , "\n" <"$fb") | head -20 >&2 || true # diff fails: they differ
  done
  echo "determinism: FAILED, $a and the synth at another checkout path differ" >&2
  [ -z "$base" ] || echo "determinism: (is $base a synth of this tree, by make synth with no CDK_ARGS, into an empty directory?)" >&2
  exit 1
fi
n=$(find "$a" -type f | wc -l)
echo "determinism: ok, $n files byte-identical across two checkout paths ($a and $b)"
