package cost

import (
	"strings"
	"testing"
)

func resources(templates map[string]map[string]any, stack string) map[string]any {
	return templates[stack]["Resources"].(map[string]any)
}

func TestCompareNamesTheResourcesThatChangeTheCost(t *testing.T) {
	p := defaultPrices(t)
	base, err := Estimate(fixture(t), p)
	if err != nil {
		t.Fatal(err)
	}
	changed := fixture(t)
	net := resources(changed, "App-Net")
	net["Eip2"] = map[string]any{"Type": "AWS::EC2::EIP", "Metadata": map[string]any{"aws:cdk:path": "App-Net/Vpc/Public2/EIP"}}
	net["Nat2"] = map[string]any{"Type": "AWS::EC2::NatGateway", "Metadata": map[string]any{"aws:cdk:path": "App-Net/Vpc/Public2/NATGateway"}}
	svc := resources(changed, "App-Svc")
	svc["Service"].(map[string]any)["Properties"].(map[string]any)["DesiredCount"] = 3.0
	delete(svc, "Key")
	svc["Search"] = map[string]any{"Type": "AWS::OpenSearchService::Domain", "Metadata": map[string]any{"aws:cdk:path": "App-Svc/Search/Resource"}}
	head, err := Estimate(changed, p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Compare(base, head)
	if err != nil {
		t.Fatal(err)
	}
	// NAT gateway + its address: +$36.50; a third task: +$11.82 vCPU, +$2.60 memory, +$0.81
	// storage; the key: -$1.00.
	if d.Cents() != 3650+1182+260+81-100 {
		t.Errorf("delta = %d cents", d.Cents())
	}
	md := d.Render(Markdown)
	for _, want := range []string{
		"### Idle cost: +$50.73/month",
		"| `App-Net` | $58.40 | $94.90 | **+$36.50** |",
		"| `Stage-Data` | $70.92 | $70.92 | $0.00 |",
		"| **total** | **$237.28** | **$288.01** | **+$50.73** |",
		"- `App-Net` **+$36.50/month**: NAT gateway +$32.85 (added `Vpc/Public2/NATGateway`), Elastic IP (public IPv4 address) +$3.65 (added `Vpc/Public2/EIP`)",
		"Fargate vCPU (Linux/ARM64) +$11.82 (changed `Web/Service/Service`: 2 tasks × 0.5 vCPU → 3 tasks × 0.5 vCPU)",
		"KMS customer managed key -$1.00 (removed `Key`)",
		"`App-Svc` `Search` (AWS::OpenSearchService::Domain): no pricing rule for this type",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("delta lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Stage-Data` **") {
		t.Errorf("an unchanged stack is listed as changed:\n%s", md)
	}
}

func TestCompareUnchanged(t *testing.T) {
	p := defaultPrices(t)
	a, _ := Estimate(fixture(t), p)
	b, _ := Estimate(fixture(t), p)
	d, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	md := d.Render(Markdown)
	if !strings.HasPrefix(md, "### Idle cost: unchanged, $237.28/month\n") || strings.Contains(md, "| stack |") || strings.Contains(md, "Not priced") {
		t.Errorf("unchanged delta:\n%s", md)
	}
}

func TestCompareNewAndRemovedStacks(t *testing.T) {
	p := defaultPrices(t)
	full := fixture(t)
	partial := fixture(t)
	delete(partial, "App-Net")
	base, _ := Estimate(partial, p)
	head, _ := Estimate(full, p)
	d, _ := Compare(base, head)
	if md := d.Render(Markdown); !strings.Contains(md, "| `App-Net` | $0.00 | $58.40 | **+$58.40** |") {
		t.Errorf("new stack:\n%s", md)
	}
	d, _ = Compare(head, base)
	if md := d.Render(Markdown); !strings.Contains(md, "| `App-Net` | $58.40 | $0.00 | **-$58.40** |") || !strings.Contains(md, "(removed `Vpc/Public1/NATGateway`)") {
		t.Errorf("removed stack:\n%s", md)
	}
	monthly, _ := Estimate(full, p)
	hourly, _ := EstimateHours(full, p, 1)
	if _, err := Compare(monthly, hourly); err == nil {
		t.Error("compared a month with an hour")
	}
}

func TestCompareReadsAChangeOfClassAsOneChange(t *testing.T) {
	p := defaultPrices(t)
	base, _ := Estimate(fixture(t), p)
	changed := fixture(t)
	resources(changed, "Stage-Data")["Db"].(map[string]any)["Properties"].(map[string]any)["DBInstanceClass"] = "db.t4g.medium"
	head, _ := Estimate(changed, p)
	d, err := Compare(base, head)
	if err != nil {
		t.Fatal(err)
	}
	want := "- `Stage-Data` **+$48.18/month**: RDS instance +$48.18 (changed `Stage/Data/Db`: postgres db.t4g.small, Multi-AZ → postgres db.t4g.medium, Multi-AZ)"
	if md := d.Render(Markdown); !strings.Contains(md, want) {
		t.Errorf("delta lacks %q:\n%s", want, md)
	}
}
