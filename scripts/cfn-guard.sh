#!/usr/bin/env bash
# Runs cfn-guard (3.1.1, from the pinned npm package @cdklabs/cdk-validator-cfnguard) with
# the AWS Control Tower proactive rules over a cloud assembly. Fails on every failure that
# is not justified in the "guard" table of docs/SECURITY.md, and on justifications that no
# longer match a failure (so the table cannot go stale).
#
# Usage: scripts/cfn-guard.sh [cdk.out]
#   GUARD_REPORT=<file>  also keeps cfn-guard's whole report there (nothing is written into
#                        the cloud assembly: cdk.out stays what the synth wrote)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-cdk.out}
pkg=node_modules/@cdklabs/cdk-validator-cfnguard

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) bin=$pkg/bin/ubuntu/x86_64/cfn-guard ;;
  Linux-aarch64) bin=$pkg/bin/ubuntu/aarch64/cfn-guard ;;
  Darwin-arm64) bin=$pkg/bin/macos/aarch64/cfn-guard ;;
  Darwin-x86_64) bin=$pkg/bin/macos/x86_64/cfn-guard ;;
  *) echo "cfn-guard: no binary for $(uname -sm) in $pkg" >&2; exit 1 ;;
esac
[ -x "$bin" ] || { echo "cfn-guard: $bin missing: run make tools" >&2; exit 1; }
ls "$out"/*.template.json >/dev/null 2>&1 || { echo "cfn-guard: no templates in $out: run make synth" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "cfn-guard: $("$bin" --version) with $(find "$pkg/rules/control-tower/cfn-guard" -name '*.guard' | wc -l) Control Tower rules over $out"

# One cfn-guard per template file, two at a time. Never --data on the whole directory: it
# would also parse every asset in it (the Lambda binaries), which takes minutes.
# Exit code 19 means "some rule failed"; anything else non-zero is an error of the tool.
export bin pkg work
ls "$out"/*.template.json | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c '
  f={}; r="$work/$(basename "$f").report"
  "$bin" validate --rules "$pkg/rules/control-tower/cfn-guard" --data "$f" \
    --output-format single-line-summary --show-summary fail >"$r" 2>&1
  rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 19 ]; then echo "cfn-guard failed on $f (exit $rc)" >>"$work/errors"; fi
  exit 0'
cat "$work"/*.report >"$work/report"
if [ -s "$work/errors" ]; then
  cat "$work/report" "$work/errors" >&2
  exit 1
fi

# One line per failure: <rule id> <construct path>, or the logical id where the report
# names no construct path (rules that point into a property).
awk '
  function flush() { if (id != "") { n++; rules[n] = rule; ids[n] = id }; id = "" }
  /^Evaluating data .* against rules / { flush(); rule = $NF; sub(/\.guard$/, "", rule) }
  /^Resource = / { flush(); id = $3; sub(/\/.*/, "", id) }
  /^[ ]+CDK-Path[ ]+= / { p = $NF; sub(/\/Resource$/, "", p); paths[id] = p }
  END { flush(); for (i = 1; i <= n; i++) print rules[i], (ids[i] in paths ? paths[ids[i]] : ids[i]) }
' "$work/report" | sort -u >"$work/failures"
if [ -n "${GUARD_REPORT:-}" ]; then
  cp "$work/report" "$GUARD_REPORT"
  echo "cfn-guard: the whole report is in $GUARD_REPORT"
fi

# Justified failures: rows "| `ct-...` | `<path>` | <reason> |" between the guard markers.
sed -n '/<!-- guard:begin -->/,/<!-- guard:end -->/p' docs/SECURITY.md |
  sed -n 's/^| `\(ct-[a-z0-9-]*\)` | `\([^`]*\)` |.*/\1 \2/p' | sort -u >"$work/justified"

unjustified=$(comm -23 "$work/failures" "$work/justified")
stale=$(comm -13 "$work/failures" "$work/justified")
echo "cfn-guard: $(wc -l <"$work/failures") failures, all but $(printf '%s' "$unjustified" | grep -c . || true) justified in docs/SECURITY.md"
status=0
if [ -n "$unjustified" ]; then
  echo "cfn-guard: FAILED, not justified in docs/SECURITY.md (fix them, or add a row with the reason):" >&2
  printf '  %s\n' "$unjustified" >&2
  grep -A12 -F "$(printf '%s' "$unjustified" | head -1 | cut -d' ' -f1)" "$work/report" | head -40 >&2 || true
  status=1
fi
if [ -n "$stale" ]; then
  echo "cfn-guard: FAILED, docs/SECURITY.md justifies failures that no longer happen (remove the rows):" >&2
  printf '  %s\n' "$stale" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "cfn-guard: ok"
exit "$status"
