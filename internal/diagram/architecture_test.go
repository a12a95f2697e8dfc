package diagram

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fixture loads the hand-written templates of testdata: three stacks wired the way CDK
// wires them (Fn::GetStackOutput, Fn::ImportValue, Ref, Fn::GetAtt).
func fixture(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for stack, file := range map[string]string{"App-Net": "net", "App-Data": "data", "App-Svc": "app"} {
		raw, err := os.ReadFile(filepath.Join("testdata", file+".template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out[stack] = tmpl
	}
	return out
}

func TestArchitectureFixture(t *testing.T) {
	got, err := Architecture(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, line string
	}{
		{"header", "flowchart LR"},
		{"subgraph per stack", `    subgraph stack_App_Data["App-Data"]`},
		{"vpc summary", `n_App_Net_Vpc["Vpc<br/>VPC 10.0.0.0/16 · 1 AZ · 1 private / 1 public subnets · 1 NAT gateway"]`},
		{"rds", `n_App_Data_Db["Db<br/>RDS postgres · db.t4g.micro · 20 GiB gp3 · single-AZ"]`},
		{"secret", `n_App_Data_Db_Secret["Db/Secret<br/>Secrets Manager secret"]`},
		{"lambda without asset hash", `n_App_Svc_Fn["Fn<br/>Lambda provided.al2023 · arm64"]`},
		{"api with stage and methods, no MOCK", `n_App_Svc_Api["Api<br/>API Gateway REST API Api · stage prod · POST /run"]`},
		{"table", `n_App_Svc_Table["Table<br/>DynamoDB · on-demand · key Id"]`},
		{"rds uses secret", `n_App_Data_Db -->|"credentials"| n_App_Data_Db_Secret`},
		{"placement is dotted, from ImportValue", `n_App_Data_Db -.->|"VPC"| n_App_Net_Vpc`},
		{"cross-stack env var and sg rule with engine port", `n_App_Svc_Fn -->|"DB_HOST, tcp 5432"| n_App_Data_Db`},
		{"subnet type from tag via GetStackOutput", `n_App_Svc_Fn -.->|"private subnets"| n_App_Net_Vpc`},
		{"env var beats IAM actions", `n_App_Svc_Fn -->|"TABLE_NAME"| n_App_Svc_Table`},
		{"substitution", `n_App_Svc_Machine -->|"invokes"| n_App_Svc_Fn`},
		{"api integration", `n_App_Svc_Api -->|"POST /run"| n_App_Svc_Machine`},
		{"cidr ingress", `cidr_0_0_0_0_0 -->|"tcp 8080"| n_App_Svc_Fn`},
		{"cidr node", `cidr_0_0_0_0_0(["0.0.0.0/0 (anyone)<br/>clients"])`},
	}
	for _, tc := range tests {
		if !strings.Contains(got, tc.line+"\n") {
			t.Errorf("%s: missing line\n%s\nin:\n%s", tc.name, tc.line, got)
		}
	}
	for _, bad := range []string{
		"Custom::", "CustomProviderHandler1", // CDK plumbing
		"0123456789abcdef",                // asset hash
		"DbB269", "FnC0FFEE", "VpcABC123", // logical IDs
		"xray", // writing segments is not reading traces
		"OPTIONS",
	} {
		if strings.Contains(got, bad) {
			t.Errorf("output contains %q:\n%s", bad, got)
		}
	}
}

func TestArchitectureDeterministic(t *testing.T) {
	first, err := Architecture(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	// Map iteration order differs between runs; the output must not.
	for i := 0; i < 20; i++ {
		again, err := Architecture(fixture(t))
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("run %d differs:\n%s\n---\n%s", i, first, again)
		}
	}
	// Lines after the header come in sorted groups: edges sorted by (from, to).
	var edges []string
	for _, l := range strings.Split(first, "\n") {
		if regexp.MustCompile(` -(->|\.->)`).MatchString(l) {
			edges = append(edges, strings.Fields(l)[0]+" "+strings.Fields(l)[len(strings.Fields(l))-1])
		}
	}
	for i := 1; i < len(edges); i++ {
		if edges[i-1] > edges[i] {
			t.Errorf("edges not sorted: %q before %q", edges[i-1], edges[i])
		}
	}
}

func TestArchitectureTaskRoleReadsXRay(t *testing.T) {
	tmpl := map[string]any{"Resources": map[string]any{
		"Svc": map[string]any{"Type": "AWS::ECS::Service", "Properties": map[string]any{
			"LaunchType": "FARGATE", "DesiredCount": 1.0, "TaskDefinition": map[string]any{"Ref": "Task"}},
			"Metadata": map[string]any{"aws:cdk:path": "S/Svc/Service/Service"}},
		"Task": map[string]any{"Type": "AWS::ECS::TaskDefinition", "Properties": map[string]any{
			"Cpu": "1024", "Memory": "2048", "RuntimePlatform": map[string]any{"CpuArchitecture": "ARM64"},
			"TaskRoleArn":          map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}},
			"ContainerDefinitions": []any{map[string]any{"Name": "app", "Image": "example/app:v1"}}},
			"Metadata": map[string]any{"aws:cdk:path": "S/Task/Resource"}},
		"Role": map[string]any{"Type": "AWS::IAM::Role", "Metadata": map[string]any{"aws:cdk:path": "S/Task/TaskRole/Resource"}},
		"Policy": map[string]any{"Type": "AWS::IAM::Policy", "Properties": map[string]any{
			"Roles": []any{map[string]any{"Ref": "Role"}},
			"PolicyDocument": map[string]any{"Statement": []any{
				map[string]any{"Effect": "Allow", "Action": "xray:BatchGetTraces", "Resource": "*"}}}},
			"Metadata": map[string]any{"aws:cdk:path": "S/Task/TaskRole/DefaultPolicy/Resource"}},
	}}
	got, err := Architecture(map[string]map[string]any{"S": tmpl})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`n_S_Svc_Service_Service["Svc/Service<br/>ECS service Fargate · 1 task · 1 vCPU / 2 GiB / ARM64 · example/app:v1"]`,
		`n_S_Task_TaskRole["Task/TaskRole<br/>IAM role (ECS task role)"]`,
		`n_S_Svc_Service_Service -->|"task role"| n_S_Task_TaskRole`,
		`n_S_Task_TaskRole -->|"xray:BatchGetTraces"| aws_xray`,
		`aws_xray(["AWS X-Ray<br/>AWS service"])`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

func TestArchitectureErrors(t *testing.T) {
	tests := []struct {
		name      string
		templates map[string]map[string]any
		want      string
	}{
		{"none", nil, "no templates"},
		{"no resources", map[string]map[string]any{"S": {}}, "stack S: template has no Resources"},
		{"no type", map[string]map[string]any{"S": {"Resources": map[string]any{"X": map[string]any{}}}}, "resource X has no Type"},
	}
	for _, tc := range tests {
		_, err := Architecture(tc.templates)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
