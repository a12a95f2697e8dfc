package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// assembly writes a minimal cloud assembly: a manifest naming two stacks (one by
// properties.stackName, one by artifact ID) and an asset manifest that must be ignored.
func assembly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"manifest.json": `{"version": "48.0.0", "artifacts": {
		  "Net": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Net.template.json", "stackName": "App-Net"}},
		  "App-Fn": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "App-Fn.template.json"}},
		  "App-Fn.assets": {"type": "cdk:asset-manifest", "properties": {"file": "App-Fn.assets.json"}}
		}}`,
		"Net.template.json":    `{"Resources": {"V": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}, "Metadata": {"aws:cdk:path": "App-Net/Vpc/Resource"}}}}`,
		"App-Fn.template.json": `{"Resources": {"F": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "provided.al2023"}, "Metadata": {"aws:cdk:path": "App-Fn/Fn/Resource"}}}}`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestWriteThenCheck(t *testing.T) {
	dir := assembly(t)
	out := filepath.Join(t.TempDir(), "ARCHITECTURE.md")
	var stdout, stderr bytes.Buffer

	if code := run([]string{"-cdk-out", dir, "-o", out, "-check"}, &stdout, &stderr); code != 1 {
		t.Fatalf("check of a missing file: exit %d, want 1 (%s)", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "is stale") || !strings.Contains(stderr.String(), "make diagrams") {
		t.Errorf("stale message does not say what to do: %s", stderr.String())
	}

	stderr.Reset()
	if code := run([]string{"-cdk-out", dir, "-o", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("write: exit %d: %s", code, stderr.String())
	}
	doc, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`subgraph stack_App_Net["App-Net"]`, `subgraph stack_App_Fn["App-Fn"]`, "stateDiagram-v2", "[*] --> RegisterIncident"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("written file lacks %q", want)
		}
	}

	if code := run([]string{"-cdk-out", dir, "-o", out, "-check"}, &stdout, &stderr); code != 0 {
		t.Fatalf("check right after write: exit %d: %s", code, stderr.String())
	}

	if err := os.WriteFile(out, append(doc, "edited by hand\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run([]string{"-cdk-out", dir, "-o", out, "-check"}, &stdout, &stderr); code != 1 {
		t.Fatalf("check of an edited file: exit %d, want 1", code)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no assembly", []string{"-cdk-out", t.TempDir()}, 1, "run `make synth` first"},
		{"bad flag", []string{"-nope"}, 2, "flag provided but not defined"},
		{"extra argument", []string{"x"}, 2, "unexpected arguments"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tc.name, code, stderr.String(), tc.code, tc.want)
		}
	}
}

func TestLoadTemplatesNoStacks(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"artifacts": {}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(dir); err == nil || !strings.Contains(err.Error(), "lists no CloudFormation stacks") {
		t.Errorf("error %v", err)
	}
}
