package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const sample = "testdata/cdk-outputs.json"

// sampleOutputs returns the sample outputs file, changed by edit, as a file in a temp dir.
func sampleOutputs(t *testing.T, edit func(Outputs)) string {
	t.Helper()
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOutputs(sample, raw)
	if err != nil {
		t.Fatal(err)
	}
	edit(o)
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cdk-outputs.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cdk-outputs.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunWritesVariableSet(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-outputs", sample}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, stderr.String())
	}
	want, err := os.ReadFile("testdata/cdk-outputs.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); got != string(want) {
		t.Errorf("variable set differs from testdata/cdk-outputs.golden.yaml:\n--- got\n%s--- want\n%s", got, want)
	}

	// The document must read back as the VariableSet shape the Tracetest CLI expects.
	var vs VariableSet
	if err := yaml.Unmarshal(stdout.Bytes(), &vs); err != nil {
		t.Fatalf("output is not YAML: %v", err)
	}
	if vs.Type != "VariableSet" || vs.Spec.ID == "" || vs.Spec.Name == "" || len(vs.Spec.Values) != 3 {
		t.Errorf("unexpected variable set %+v", vs)
	}
}

func TestRunWritesFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "vars.yaml")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-outputs", sample, "-o", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout should be empty with -o FILE, got %q", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "key: API_URL") {
		t.Errorf("%s lacks API_URL:\n%s", out, b)
	}
}

func TestRunPrintsTracetestURL(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-outputs", sample, "-print-tracetest-url"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	want := "http://Tracet-Load-1A2B3C4D5E6F-1234567890.eu-west-1.elb.amazonaws.com:11633\n"
	if stdout.String() != want {
		t.Errorf("got %q, want %q", stdout.String(), want)
	}
}

func TestRunPrefix(t *testing.T) {
	path := sampleOutputs(t, func(o Outputs) {
		for stack, v := range o {
			delete(o, stack)
			o[strings.Replace(stack, "TracetestSfn-", "TracetestSfnDev-", 1)] = v
		}
	})
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-outputs", path, "-prefix", "TracetestSfnDev"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(stdout.String(), "id: TracetestSfnDev-deployment") {
		t.Errorf("variable set id does not follow the prefix:\n%s", stdout.String())
	}
}

// TestRunErrors checks that each broken input fails with a message naming what is missing
// and how to fix it.
func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args func(t *testing.T) []string
		want []string
	}{
		{
			name: "missing file",
			args: func(t *testing.T) []string {
				return []string{"-outputs", filepath.Join(t.TempDir(), "cdk-outputs.json")}
			},
			want: []string{"not found", "make deploy"},
		},
		{
			name: "empty file",
			args: func(t *testing.T) []string { return []string{"-outputs", writeFile(t, "\n")} },
			want: []string{"is empty", "make deploy"},
		},
		{
			name: "not JSON",
			args: func(t *testing.T) []string { return []string{"-outputs", writeFile(t, "StepFunctionsAPIUrl = x")} },
			want: []string{"is not", "JSON", "make deploy"},
		},
		{
			name: "non-string output",
			args: func(t *testing.T) []string {
				return []string{"-outputs", writeFile(t, `{"TracetestSfn-Workflow": {"StepFunctionsAPIUrl": 3}}`)}
			},
			want: []string{"StepFunctionsAPIUrl", "want a string"},
		},
		{
			name: "missing workflow stack",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) { delete(o, "TracetestSfn-Workflow") })}
			},
			want: []string{"no stack TracetestSfn-Workflow", "TracetestSfn-Tracetest", "make deploy"},
		},
		{
			name: "other prefix deployed",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sample, "-prefix", "TracetestSfnDev"}
			},
			want: []string{"no stack TracetestSfnDev-Workflow", "-prefix TracetestSfn "},
		},
		{
			name: "missing API URL output",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) {
					delete(o["TracetestSfn-Workflow"], "StepFunctionsAPIUrl")
				})}
			},
			want: []string{"stack TracetestSfn-Workflow has no output StepFunctionsAPIUrl", "StateMachineArn", "make deploy"},
		},
		{
			name: "missing state machine output",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) {
					delete(o["TracetestSfn-Workflow"], "StateMachineArn")
				})}
			},
			want: []string{"has no output StateMachineArn", "make deploy"},
		},
		{
			name: "missing Tracetest URL output",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) { o["TracetestSfn-Tracetest"] = map[string]string{} })}
			},
			want: []string{"stack TracetestSfn-Tracetest has no output TracetestUrl", "outputs: none", "make deploy"},
		},
		{
			name: "empty output",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) { o["TracetestSfn-Tracetest"]["TracetestUrl"] = " " })}
			},
			want: []string{"TracetestUrl", "is empty"},
		},
		{
			name: "API URL without stage",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) {
					o["TracetestSfn-Workflow"]["StepFunctionsAPIUrl"] = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/"
				})}
			},
			want: []string{"StepFunctionsAPIUrl", "not the API stage URL", "/v2"},
		},
		{
			name: "API URL over plain HTTP",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) {
					o["TracetestSfn-Workflow"]["StepFunctionsAPIUrl"] = "http://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v2"
				})}
			},
			want: []string{"StepFunctionsAPIUrl", "want https://"},
		},
		{
			name: "unresolved token",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) {
					o["TracetestSfn-Tracetest"]["TracetestUrl"] = "${Token[TOKEN.123]}"
				})}
			},
			want: []string{"TracetestUrl", "not a base URL"},
		},
		{
			name: "bad state machine ARN",
			args: func(t *testing.T) []string {
				return []string{"-outputs", sampleOutputs(t, func(o Outputs) {
					o["TracetestSfn-Workflow"]["StateMachineArn"] = "arn:aws:lambda:eu-west-1:123456789012:function:x"
				})}
			},
			want: []string{"StateMachineArn", "not a state machine ARN"},
		},
		{
			name: "bad prefix",
			args: func(t *testing.T) []string { return []string{"-outputs", sample, "-prefix", "1 bad"} },
			want: []string{"invalid -prefix", "CDK context key prefix"},
		},
		{
			name: "positional argument",
			args: func(t *testing.T) []string { return []string{sample} },
			want: []string{"unexpected arguments"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(tc.args(t), &stdout, &stderr)
			if err == nil {
				t.Fatalf("run succeeded, want an error containing %q; stdout:\n%s", tc.want, stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("nothing should be written on error, got %q", stdout.String())
			}
		})
	}
}
