#!/usr/bin/env bash
# Offline `cdk diff` of every stack of the working tree against the synth of a base commit:
# no AWS account, no credentials. Prints a per-stack report and writes it as Markdown (for
# a pull-request comment).
#
#   scripts/diff.sh BASE                       # e.g. origin/main, HEAD~3, a SHA
#   DIFF_AGAINST=deployed scripts/diff.sh      # plain `cdk diff` against the deployed stacks
#                                              # (needs AWS credentials)
#   DIFF_AGAINST=assemblies DIFF_BASE_OUT=a.out DIFF_HEAD_OUT=b.out scripts/diff.sh
#                                              # two cloud assemblies synthesized already
#
# The report starts with the idle monthly cost before and after, per stack, and the resources
# that change it (cmd/cost, priced from internal/cost/prices.json).
#
# Environment:
#   DIFF_REPORT   Markdown report to write (default: cdk-diff.md at the repository root)
#   DIFF_AGAINST  "base" (default), "deployed" or "assemblies"
#   COST_REGION   region the idle cost is priced in (default us-east-1; the stacks are
#                 environment-agnostic, so the templates do not say)
#
# Exit status: 0 when the diff ran (with or without differences), non-zero when a synth or
# a `cdk diff` failed. A stack only in the working tree is "new" (diffed against an empty
# template); a stack only in BASE is "removed".
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
against=${DIFF_AGAINST:-base}
report=${DIFF_REPORT:-$root/cdk-diff.md}
base=${1:-}
cost_region=${COST_REGION:-us-east-1}
case "$against" in
  base) [[ -n "$base" ]] || { echo "usage: scripts/diff.sh BASE (a commit, e.g. origin/main)" >&2; exit 2; } ;;
  deployed) base="" ;;
  assemblies)
    for v in DIFF_BASE_OUT DIFF_HEAD_OUT; do
      [[ -f "${!v:-}/manifest.json" ]] || { echo "diff: DIFF_AGAINST=assemblies needs $v, a cloud assembly directory (no manifest.json in '${!v:-}')" >&2; exit 2; }
    done ;;
  *) echo "diff: DIFF_AGAINST must be 'base', 'deployed' or 'assemblies', not '$against'" >&2; exit 2 ;;
esac

# Same tools as the Makefile: the pinned CDK CLI and Node 22 from node_modules.
export PATH="$root/node_modules/.bin:$root/.tools/bin:$PATH"
export JSII_NODE="$root/node_modules/.bin/node"
export CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true
cdk="$root/node_modules/.bin/cdk"
[[ -x "$cdk" ]] || { echo "diff: $cdk missing; run 'make tools'" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cdk-diff.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# offline runs a command with no way to reach AWS credentials: the offline diff must never
# depend on them (and must not pick up a developer's profile by accident).
offline() {
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
    -u AWS_DEFAULT_PROFILE -u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_ROLE_ARN \
    -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$@"
}

# stacks DIR prints "artifactID<TAB>templateFile" for every stack of a cloud assembly, sorted.
stacks() {
  [[ -f "$1/manifest.json" ]] || return 0
  node -e '
    const m = require(process.argv[1]);
    const out = [];
    for (const [id, a] of Object.entries(m.artifacts || {}))
      if (a.type === "aws:cloudformation:stack") out.push(id + "\t" + a.properties.templateFile);
    out.sort().forEach(l => console.log(l));' "$1/manifest.json"
}

synth() { # synth SRC OUT LABEL
  echo "diff: synthesizing $3..." >&2
  if ! (cd "$1" && offline "$cdk" synth --quiet --no-color --output "$2" >"$tmp/synth.log" 2>&1); then
    cat "$tmp/synth.log" >&2
    echo "diff: synth of $3 failed" >&2
    exit 1
  fi
}

# The cost command reads the templates only; building it first fails fast on a broken tree.
go build -o "$tmp/cost" ./cmd/cost

head_out="$tmp/head.out"
base_out="$tmp/base.out"
base_label=""
if [[ "$against" == assemblies ]]; then
  head_out=$(cd "$DIFF_HEAD_OUT" && pwd)
  base_out=$(cd "$DIFF_BASE_OUT" && pwd)
  base_label="$DIFF_BASE_OUT"
else
  synth "$root" "$head_out" "the working tree"
fi
if [[ "$against" == base ]]; then
  sha=$(git rev-parse --verify --quiet "$base^{commit}") || { echo "diff: '$base' is not a commit (fetch it first: git fetch origin)" >&2; exit 2; }
  base_label="$base ($(git rev-parse --short "$sha"))"
  # An export, not a worktree: it leaves the shared repository's metadata alone.
  mkdir -p "$tmp/base"
  git archive "$sha" | tar -x -C "$tmp/base"
  ln -s "$root/node_modules" "$tmp/base/node_modules"
  if [[ -f "$tmp/base/cdk.json" ]]; then
    synth "$tmp/base" "$base_out" "$base_label"
  else
    echo "diff: $base_label has no cdk.json: every stack is new" >&2
    mkdir -p "$base_out"
    echo '{"artifacts": {}}' >"$base_out/manifest.json"
  fi
fi

declare -A head_tpl base_tpl
while IFS=$'\t' read -r id file; do head_tpl[$id]=$file; done < <(stacks "$head_out")
if [[ "$against" != deployed ]]; then
  while IFS=$'\t' read -r id file; do base_tpl[$id]=$file; done < <(stacks "$base_out")
fi
mapfile -t all < <(printf '%s\n' "${!head_tpl[@]}" "${!base_tpl[@]}" | sed '/^$/d' | sort -u)
echo '{}' >"$tmp/empty.template.json"

changed=0
summary=""
details=""
for stack in "${all[@]}"; do
  status="" out=""
  if [[ -z "${head_tpl[$stack]:-}" ]]; then
    status="removed"
    out="The stack is in $base_label but no longer in the app; it is not deleted by 'cdk deploy' (run 'cdk destroy $stack' if that is the intent). Resources it had:
$(node -e '
  const t = require(process.argv[1]);
  for (const [id, r] of Object.entries(t.Resources || {}).sort())
    console.log("[-] " + r.Type + " " + ((r.Metadata || {})["aws:cdk:path"] || id));' "$base_out/${base_tpl[$stack]}")"
  else
    args=(diff --no-color --app "$head_out" --exclusively)
    if [[ "$against" != deployed ]]; then
      template="$tmp/empty.template.json"
      [[ -n "${base_tpl[$stack]:-}" ]] && template="$base_out/${base_tpl[$stack]}"
      if ! out=$(cd "$tmp" && offline "$cdk" "${args[@]}" --template "$template" "$stack" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "diff: cdk diff of $stack failed" >&2
        exit 1
      fi
    else
      if ! out=$(cd "$tmp" && "$cdk" "${args[@]}" "$stack" 2>&1); then
        printf '%s\n' "$out" >&2
        echo "diff: cdk diff of $stack against the deployed stack failed (credentials?)" >&2
        exit 1
      fi
    fi
    # Keep the diff itself: drop the CLI's banner lines and trailing blank lines.
    out=$(printf '%s\n' "$out" | sed -e '/Number of stacks with differences/d' -e '/^Stack /d' \
      -e '/^Hold on while we create a read-only change set/d' | sed -e '/./,$!d' | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')
    if grep -q '^There were no differences' <<<"$out"; then
      status="no differences"
    elif [[ "$against" != deployed && -z "${base_tpl[$stack]:-}" ]]; then
      status="new"
    else
      status="changed"
    fi
  fi
  [[ "$status" == "no differences" ]] || changed=$((changed + 1))
  replace=$(grep -cE '^\[[~-]\] .*(replace|may be replaced)$|^\[-\] ' <<<"$out" || true)
  security=$(grep -qE '^(IAM Statement Changes|IAM Policy Changes|Security Group Changes)' <<<"$out" && echo yes || echo no)
  [[ "$status" == "no differences" ]] && { replace=0; security=no; }
  summary+="| \`$stack\` | $status | $replace | $security |"$'\n'
  details+="### \`$stack\`: $status"$'\n\n'
  if [[ "$status" != "no differences" ]]; then
    details+='```'$'\n'"$out"$'\n''```'$'\n\n'
  fi
done

# The idle cost before and after (or, against the deployed stacks, of the working tree).
if [[ "$against" == deployed ]]; then
  cost_args=(-cdk-out "$head_out")
else
  cost_args=(-base "$base_out" -cdk-out "$head_out")
fi
if ! "$tmp/cost" "${cost_args[@]}" -region "$cost_region" -format markdown >"$tmp/cost.md" 2>"$tmp/cost.err"; then
  cat "$tmp/cost.err" >&2
  echo "diff: pricing the idle cost failed (set COST_REGION to a region of internal/cost/prices.json)" >&2
  exit 1
fi

{
  if [[ "$against" == base ]]; then
    echo "## cdk diff against $base_label"
    echo
    echo "Offline: both sides synthesized from source; \`cdk diff --template\` compares the templates, no AWS account involved."
  elif [[ "$against" == assemblies ]]; then
    echo "## cdk diff against $base_label"
    echo
    echo "Offline: two cloud assemblies; \`cdk diff --template\` compares the templates, no AWS account involved."
  else
    echo "## cdk diff against the deployed stacks"
  fi
  echo
  cat "$tmp/cost.md"
  echo
  if [[ "$changed" -eq 0 ]]; then
    echo "**No differences** in ${#all[@]} stacks."
  else
    echo "**$changed of ${#all[@]} stacks differ.** Check replacements (a replaced database or table loses its data) and security changes first."
    echo
    echo "| stack | status | resources replaced or removed | IAM / security group changes |"
    echo "|---|---|---|---|"
    printf '%s' "$summary"
    echo
    printf '%s' "$details"
  fi
} >"$report"

cat "$report"
if [[ "$changed" -eq 0 ]]; then
  echo "diff: no differences" >&2
fi
echo "diff: report written to $report" >&2
