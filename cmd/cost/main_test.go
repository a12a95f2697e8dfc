package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixture = "../../internal/cost/testdata/assembly"

func runCost(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestReport(t *testing.T) {
	code, out, errOut := runCost("-cdk-out", fixture)
	if code != 0 || !strings.Contains(out, "Idle cost: $237.28/month") || !strings.Contains(out, "Vpc/Public1/NATGateway") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCost("-cdk-out", fixture, "-hours", "1", "-format", "markdown")
	if code != 0 || !strings.HasPrefix(out, "## Cost of 1 hour: $0.3") || !strings.Contains(out, "| stack | cost |") {
		t.Errorf("one hour: exit %d\n%s", code, out)
	}
	code, out, _ = runCost("-base", fixture, "-cdk-out", fixture, "-format", "markdown")
	if code != 0 || !strings.HasPrefix(out, "### Idle cost: unchanged, $237.28/month") {
		t.Errorf("delta: exit %d\n%s", code, out)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-cdk-out", fixture, "-region", "eu-west-1"}, 1, `no prices for region "eu-west-1" (it has us-east-1)`},
		{[]string{"-cdk-out", t.TempDir()}, 1, "is not a cloud assembly"},
		{[]string{"-format", "yaml"}, 2, `format "yaml"`},
		{[]string{"-check"}, 2, "-check needs -doc"},
		{[]string{"-doc", "x.md", "-hours", "1"}, 2, "-doc prices the default deployment"},
		{[]string{"-base", fixture, "-format", "json"}, 2, "-base writes text or markdown"},
		{[]string{"-hours", "-3"}, 2, "negative"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-cdk-out", fixture, "-base", t.TempDir()}, 1, "base: "},
	}
	for _, tc := range tests {
		code, _, errOut := runCost(tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}

func TestOwnPriceTable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "prices.json")
	os.WriteFile(file, []byte(`{"currency": "USD", "hoursPerMonth": 730, "basis": "test prices",
	  "regions": {"eu-west-1": {"name": "Europe (Ireland)", "figures": {
	    "ec2.natGateway": {"usd": 0.048, "per": "hour", "what": "NAT gateway", "date": "2026-01-01",
	      "source": "https://example.com/nat", "quote": "$0.048 per hour", "page": "https://aws.amazon.com/vpc/pricing/"}}}}}`), 0o644)
	code, out, errOut := runCost("-cdk-out", fixture, "-prices", file, "-region", "eu-west-1")
	if code != 0 || !strings.Contains(out, "NAT gateway") || !strings.Contains(out, "$35.04") ||
		!strings.Contains(out, "Elastic IP (public IPv4 address): no price in the table for region eu-west-1") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestDocCheck(t *testing.T) {
	file := filepath.Join(t.TempDir(), "COST.md")
	if code, _, errOut := runCost("-cdk-out", fixture, "-doc", file, "-check"); code != 1 || !strings.Contains(errOut, "is stale") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runCost("-cdk-out", fixture, "-doc", file); code != 0 {
		t.Fatalf("write: exit %d, %s", code, errOut)
	}
	if code, out, errOut := runCost("-cdk-out", fixture, "-doc", file, "-check"); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("fresh file: exit %d, %s%s", code, out, errOut)
	}
	os.WriteFile(file, []byte("# edited by hand\n"), 0o644)
	if code, _, _ := runCost("-cdk-out", fixture, "-doc", file, "-check"); code != 1 {
		t.Errorf("edited file passes the check")
	}
}
