package main

import (
	"os"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/diagram"
)

// TestDiagramsAreCurrent fails when docs/ARCHITECTURE.md no longer matches the app and the
// state machine definition.
func TestDiagramsAreCurrent(t *testing.T) {
	want, err := diagram.Document(synthed.templates, []byte(asl.Definition()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Error("docs/ARCHITECTURE.md is stale: run `make diagrams` and commit the result")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if wantReadme, err := diagram.WithReadme(string(readme), want); err != nil || wantReadme != string(readme) {
		t.Errorf("the diagrams in README.md are stale (%v): run `make diagrams` and commit the result", err)
	}
}
