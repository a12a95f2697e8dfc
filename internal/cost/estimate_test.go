package cost

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func defaultPrices(t *testing.T) *Prices {
	t.Helper()
	table, err := DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := table.Prices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fixture(t *testing.T) map[string]map[string]any {
	t.Helper()
	templates, err := LoadAssembly(filepath.Join("testdata", "assembly"))
	if err != nil {
		t.Fatal(err)
	}
	return templates
}

// TestEveryFigureHasSourceAndDate checks the embedded table beyond what ParseTable
// enforces: the table the command ships with has a dated, sourced figure for every price the
// rules use in us-east-1.
func TestEveryFigureHasSourceAndDate(t *testing.T) {
	table, err := DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	for code, region := range table.Regions {
		for key, f := range region.Figures {
			if _, err := time.Parse(time.DateOnly, f.Date); err != nil {
				t.Errorf("%s %s: date %q", code, key, f.Date)
			}
			if !strings.HasPrefix(f.Source, "https://") || !strings.HasPrefix(f.Page, "https://aws.amazon.com/") || f.Quote == "" {
				t.Errorf("%s %s: source %q, page %q, quote %q", code, key, f.Source, f.Page, f.Quote)
			}
			if f.Date > time.Now().Format(time.DateOnly) {
				t.Errorf("%s %s: date %s is in the future", code, key, f.Date)
			}
		}
	}
	p := defaultPrices(t)
	for _, key := range []string{
		"ec2.natGateway", "vpc.publicIpv4", "vpc.interfaceEndpoint", "elb.application",
		"fargate.linux.arm64.vcpu", "fargate.linux.arm64.memory", "fargate.linux.x86_64.vcpu", "fargate.linux.x86_64.memory",
		"fargate.ephemeralStorage", "rds.postgres.db.t4g.micro.single-az", "rds.storage.gp3", "rds.snapshot",
		"secretsmanager.secret", "kms.key", "cloudwatch.alarm.standard", "cloudwatch.alarm.high",
	} {
		if _, ok := p.Figure(key); !ok {
			t.Errorf("us-east-1 has no figure %s", key)
		}
	}
}

func TestParseTableRejectsFiguresWithoutProvenance(t *testing.T) {
	good := Figure{USD: 0.045, Per: "hour", What: "NAT gateway", Date: "2026-02-24", Source: "https://example.com/nat",
		Quote: "$0.045/hour", Page: "https://aws.amazon.com/vpc/pricing/"}
	tests := []struct {
		name string
		edit func(*Figure)
		want string
	}{
		{"no source", func(f *Figure) { f.Source = "" }, "source"},
		{"http source", func(f *Figure) { f.Source = "http://example.com" }, "source"},
		{"no date", func(f *Figure) { f.Date = "" }, "date"},
		{"bad date", func(f *Figure) { f.Date = "2026-13-01" }, "date"},
		{"not an AWS page", func(f *Figure) { f.Page = "https://example.com/pricing" }, "page"},
		{"zero price", func(f *Figure) { f.USD = 0 }, "usd"},
		{"unknown unit", func(f *Figure) { f.Per = "day" }, "per"},
		{"no quote", func(f *Figure) { f.Quote = " " }, "quote"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.edit(&f)
			table := Table{Currency: "USD", HoursPerMonth: 730, Regions: map[string]Region{"us-east-1": {Name: "N. Virginia", Figures: map[string]Figure{"ec2.natGateway": f}}}}
			data, _ := json.Marshal(table)
			_, err := ParseTable(data)
			if err == nil || !strings.Contains(err.Error(), "figure ec2.natGateway") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one naming the figure and %q", err, tc.want)
			}
		})
	}
	if _, err := ParseTable([]byte(`{"currency": "USD", "hoursPerMonth": 730, "regions": {}, "surprise": 1}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestMissingRegionIsAnErrorNotAZero(t *testing.T) {
	table, err := DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	_, err = table.Prices("eu-west-1")
	if err == nil {
		t.Fatal("no error for a region missing from the table")
	}
	for _, want := range []string{`"eu-west-1"`, "us-east-1", TableFile} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestEstimateFixture(t *testing.T) {
	r, err := Estimate(fixture(t), defaultPrices(t))
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ stack, id, item string }
	got := map[key]int64{}
	details := map[key]string{}
	for _, c := range r.Charges {
		k := key{c.Stack, c.LogicalID, c.Item}
		got[k] += c.Cents
		details[k] = c.Detail
	}
	want := map[key]int64{
		{"App-Net", "Nat1", "NAT gateway"}:                                                3285,
		{"App-Net", "Eip1", "Elastic IP (public IPv4 address)"}:                           365,
		{"App-Net", "Endpoint", "interface VPC endpoint"}:                                 2190, // 3 zones
		{"App-Svc", "Alb", "Application Load Balancer"}:                                   1643,
		{"App-Svc", "Alb", "public IPv4 addresses of the load balancer (one per subnet)"}: 730,  // subnets from two kinds of cross-stack reference
		{"App-Svc", "InternalNlb", "Network Load Balancer"}:                               1643, // internal: no public IPv4
		{"App-Svc", "Service", "Fargate vCPU (Linux/ARM64)"}:                              2364, // 2 tasks × 0.5 vCPU
		{"App-Svc", "Service", "Fargate memory (Linux/ARM64)"}:                            520,  // 2 tasks × "1 GB"
		{"App-Svc", "Service", "Fargate ephemeral storage above 20 GB"}:                   162,  // 2 tasks × 10 GB
		{"App-Svc", "X86Service", "Fargate vCPU (Linux/x86_64)"}:                          2955, // "1 vCPU", default count 1
		{"App-Svc", "X86Service", "Fargate memory (Linux/x86_64)"}:                        649,
		{"App-Svc", "Alarm", "CloudWatch alarm (high resolution)"}:                        30,
		{"App-Svc", "Key", "KMS customer managed key"}:                                    100,
		{"Stage-Data", "Db", "RDS instance"}:                                              4672, // db.t4g.small Multi-AZ
		{"Stage-Data", "Db", "RDS storage gp3"}:                                           1150, // 50 GB × 2
		{"Stage-Data", "Db", "Secrets Manager secret (RDS-managed master password)"}:      40,
		{"Stage-Data", "BigDb", "RDS storage gp3"}:                                        1150, // default storage type
		{"Stage-Data", "Secret", "Secrets Manager secret"}:                                80,   // with its replica
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("%v = %d cents, want %d", k, got[k], c)
		}
	}
	for k, c := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected charge %v = %d cents", k, c)
		}
	}
	if d := details[key{"Stage-Data", "Secret", "Secrets Manager secret"}]; !strings.Contains(d, "condition WithSecret") {
		t.Errorf("conditional secret detail = %q", d)
	}
	if r.TotalCents() != 23728 || r.StackCents("App-Net") != 5840 || r.StackCents("Stage-Data") != 7092 {
		t.Errorf("total %d, App-Net %d, Stage-Data %d", r.TotalCents(), r.StackCents("App-Net"), r.StackCents("Stage-Data"))
	}

	notPriced := map[string]string{}
	for _, e := range r.NotPriced {
		notPriced[e.LogicalID] = e.Reason
	}
	for id, reason := range map[string]string{
		"SpotService":     "Fargate Spot",
		"ImportedService": "task definition is not in this template",
		"Cache":           "no pricing rule for this type",
		"Provisioned":     "provisioned capacity",
		"BigDb":           "no price for RDS postgres db.r7g.4xlarge Single-AZ in region us-east-1",
	} {
		if !strings.Contains(notPriced[id], reason) {
			t.Errorf("%s not priced for %q, want %q", id, notPriced[id], reason)
		}
	}
	if len(notPriced) != 5 {
		t.Errorf("not priced: %v", notPriced)
	}
	idle := map[string]bool{}
	for _, e := range r.Idle {
		idle[e.LogicalID] = true
	}
	for _, id := range []string{"S3Endpoint", "FlowLogs", "Fn", "Table", "Db", "BigDb"} {
		if !idle[id] {
			t.Errorf("%s is not listed at $0 when idle", id)
		}
	}
	if r.NoCharge["App-Net"]["AWS::EC2::VPC"] != 1 || r.NoCharge["App-Net"]["Custom::VpcRestrictDefaultSG"] != 1 || r.NoCharge["App-Svc"]["AWS::IAM::Role"] != 1 {
		t.Errorf("no-charge counts: %v", r.NoCharge)
	}
	if len(r.Retained) != 2 || r.Retained[0].SnapshotGB != 50 || r.Retained[1].Policy != "Retain" {
		t.Errorf("retained: %+v", r.Retained)
	}
}

func TestEstimateHoursProratesMonthlyFigures(t *testing.T) {
	r, err := EstimateHours(fixture(t), defaultPrices(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Charges {
		switch c.LogicalID + "/" + c.Item {
		case "Nat1/NAT gateway":
			if c.Cents != 45 { // 10 h × $0.045
				t.Errorf("NAT gateway for 10 hours = %d cents", c.Cents)
			}
		case "Key/KMS customer managed key":
			if c.Cents != 1 { // $1 × 10/730
				t.Errorf("KMS key for 10 hours = %d cents", c.Cents)
			}
		}
	}
	if _, err := EstimateHours(fixture(t), defaultPrices(t), 0); err == nil {
		t.Error("0 hours accepted")
	}
}

func TestEstimateRejectsMalformedTemplates(t *testing.T) {
	for name, tpl := range map[string]map[string]any{
		"resources not an object": {"Resources": []any{}},
		"resource not an object":  {"Resources": map[string]any{"X": "y"}},
		"resource without type":   {"Resources": map[string]any{"X": map[string]any{"Properties": map[string]any{}}}},
	} {
		if _, err := Estimate(map[string]map[string]any{"S": tpl}, defaultPrices(t)); err == nil || !strings.Contains(err.Error(), "stack S") {
			t.Errorf("%s: error = %v", name, err)
		}
	}
}

func TestLoadAssembly(t *testing.T) {
	templates := fixture(t)
	for _, name := range []string{"App-Net", "App-Svc", "Stage-Data"} {
		if templates[name] == nil {
			t.Errorf("stack %s missing (nested assemblies and stackName included): %v", name, sortedKeys(templates))
		}
	}
	_, err := LoadAssembly(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "make synth") {
		t.Errorf("empty directory: error = %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"artifacts": {}}`), 0o644)
	if got, err := LoadAssembly(dir); err != nil || len(got) != 0 {
		t.Errorf("assembly without stacks: %v, %v", got, err)
	}
}

func TestRenderIsDeterministicAndListsEveryResource(t *testing.T) {
	p := defaultPrices(t)
	var first string
	for i := range 5 {
		r, err := Estimate(fixture(t), p)
		if err != nil {
			t.Fatal(err)
		}
		md := r.Render(Markdown)
		if i == 0 {
			first = md
			continue
		}
		if md != first {
			t.Fatal("two renderings of the same templates differ")
		}
	}
	for _, want := range []string{
		"## Idle cost: $237.28/month",
		"| `App-Net` | $58.40 |",
		"| **total** | **$237.28** |",
		"| NAT gateway | 1 | $0.045/hour | $32.85 | `Vpc/Public1/NATGateway` |",
		"| Fargate vCPU (Linux/ARM64) | 1 vCPU | $0.03238/vCPU-hour | $23.64 | `Web/Service/Service` (2 tasks × 0.5 vCPU) |",
		"| Network Load Balancer | 1 | $0.0225/hour (unconfirmed) | $16.43 | `InternalNlb` |",
		"AWS::ElastiCache::CacheCluster ×1, no pricing rule for this type",
		"5 resources not priced",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("markdown lacks %q:\n%s", want, first)
		}
	}
	r, _ := Estimate(fixture(t), p)
	text := r.Render(Text)
	if strings.Contains(text, "`") || strings.Contains(text, "| ") || !strings.Contains(text, "Vpc/Public1/NATGateway") {
		t.Errorf("text output:\n%s", text)
	}
	var decoded struct {
		USD float64 `json:"usd"`
	}
	if err := json.Unmarshal([]byte(r.Render(JSON)), &decoded); err != nil || decoded.USD != 237.28 {
		t.Errorf("json: %v, usd %v", err, decoded.USD)
	}
}

func TestUpstreamIsPricedCompletely(t *testing.T) {
	up, err := LoadUpstream()
	if err != nil {
		t.Fatal(err)
	}
	r, err := up.Estimate(defaultPrices(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.NotPriced) > 0 {
		t.Errorf("upstream resources not priced: %+v", r.NotPriced)
	}
	nat := 0
	for _, c := range r.Charges {
		if c.Figure == "ec2.natGateway" {
			nat++
		}
	}
	if nat != 4 || r.CategoryCents(CatNAT) != 4*3285 || r.CategoryCents(CatIPv4) != 8*365 {
		t.Errorf("upstream: %d NAT gateways, NAT %d cents, IPv4 %d cents", nat, r.CategoryCents(CatNAT), r.CategoryCents(CatIPv4))
	}
}

// TestValuesOnlyKnownAtDeployTimeAreNotPriced: parameters, imports and other intrinsics
// leave a resource unpriced with the reason, never priced with a guess or silently dropped.
func TestValuesOnlyKnownAtDeployTimeAreNotPriced(t *testing.T) {
	ref := map[string]any{"Ref": "Param"}
	tests := []struct {
		res  map[string]any
		want string
	}{
		{map[string]any{"Type": "AWS::RDS::DBInstance", "Properties": map[string]any{"Engine": "postgres", "DBInstanceClass": ref, "AllocatedStorage": "20"}}, "DBInstanceClass is not a literal"},
		{map[string]any{"Type": "AWS::RDS::DBInstance", "Properties": map[string]any{"Engine": "postgres", "DBInstanceClass": "db.t4g.micro", "AllocatedStorage": ref}}, "AllocatedStorage is not a literal"},
		{map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{"LaunchType": "FARGATE", "DesiredCount": ref, "TaskDefinition": map[string]any{"Ref": "Task"}}}, "DesiredCount is not a literal"},
		{map[string]any{"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": map[string]any{"Subnets": map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::ImportValue": "Subnets"}}}}}, "subnets are not a list"},
		{map[string]any{"Type": "AWS::EC2::VPCEndpoint", "Properties": map[string]any{"VpcEndpointType": "Interface", "SubnetIds": ref}}, "subnets are not a list"},
		{map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{"LaunchType": "FARGATE"}}, "task definition is not in this template"},
		{map[string]any{"Type": "AWS::RDS::DBInstance", "Properties": map[string]any{"DBClusterIdentifier": "c", "DBInstanceClass": "db.r7g.large", "Engine": "aurora-postgresql"}}, "Aurora"},
	}
	for _, tc := range tests {
		tpl := map[string]any{"Resources": map[string]any{
			"X":    tc.res,
			"Task": map[string]any{"Type": "AWS::ECS::TaskDefinition", "Properties": map[string]any{"Cpu": "256", "Memory": "512"}},
		}}
		r, err := Estimate(map[string]map[string]any{"S": tpl}, defaultPrices(t))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range r.NotPriced {
			found = found || (e.LogicalID == "X" && strings.Contains(e.Reason, tc.want))
		}
		if !found {
			t.Errorf("%v: not priced = %+v, want one for X saying %q", tc.res, r.NotPriced, tc.want)
		}
	}
}
