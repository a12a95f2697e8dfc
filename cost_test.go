package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/cost"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

func usEast1(t *testing.T) *cost.Prices {
	t.Helper()
	table, err := cost.DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := table.Prices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCostPageIsCurrent fails when docs/COST.md no longer matches what cmd/cost derives from
// the app (synthesized with cdk.json's context, as `make synth` does) and the price table.
func TestCostPageIsCurrent(t *testing.T) {
	want, err := cost.Document(synthed.templates, usEast1(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("docs/COST.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/COST.md is stale: run `%s` and commit the result", cost.DocCommand)
	}
}

// TestEveryResourceOfTheAppIsPriced keeps the cost page honest: a resource type added to a
// stack must get a pricing rule or a place in the table's lists, not drop out of the total.
func TestEveryResourceOfTheAppIsPriced(t *testing.T) {
	r, err := cost.Estimate(synthed.templates, usEast1(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.NotPriced {
		t.Errorf("%s %s (%s) is not priced: %s", e.Stack, e.Resource, e.Type, e.Reason)
	}
}

// TestDiffCommentStatesTheCostDelta synthesizes the app twice (cdk.json's context, and one
// more NAT gateway), runs the real scripts/diff.sh on the two cloud assemblies and checks the
// Markdown it writes, which is what the pull-request workflow posts as the comment.
func TestDiffCommentStatesTheCostDelta(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the CDK CLI once per stack")
	}
	if _, err := os.Stat("node_modules/.bin/cdk"); err != nil {
		t.Fatal("the pinned CDK CLI is missing: run `make tools` first")
	}
	changed := synthWith(t, map[string]any{stacks.CtxNatGateways: 2})
	report := filepath.Join(t.TempDir(), "cdk-diff.md")
	cmd := exec.Command("bash", "scripts/diff.sh")
	cmd.Env = append(os.Environ(), "DIFF_AGAINST=assemblies", "DIFF_BASE_OUT="+synthed.dir, "DIFF_HEAD_OUT="+changed.dir,
		"DIFF_REPORT="+report, "COST_REGION=us-east-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/diff.sh: %v\n%s", err, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	comment := string(b)
	network := synthed.stacks.Config.StackName("Network")
	for _, want := range []string{
		"### Idle cost: +$36.50/month",
		"| `" + network + "` | $36.50 | $73.00 | **+$36.50** |",
		"| `" + synthed.stacks.Config.StackName("Data") + "` | $14.38 | $14.38 | $0.00 |",
		"- `" + network + "` **+$36.50/month**: NAT gateway +$32.85 (added `Vpc/PublicSubnet2/NATGateway`), Elastic IP (public IPv4 address) +$3.65 (added `Vpc/PublicSubnet2/EIP`)",
		"**1 of 4 stacks differ.**",
		"[+] AWS::EC2::NatGateway Vpc/PublicSubnet2/NATGateway",
	} {
		if !strings.Contains(comment, want) {
			t.Errorf("the diff comment lacks %q:\n%s", want, comment)
		}
	}
	// The cost comes before the per-stack diff, so it survives the comment's truncation.
	if strings.Index(comment, "### Idle cost") > strings.Index(comment, "| stack | status |") {
		t.Errorf("the idle cost is not at the top of the comment:\n%s", comment)
	}
}
