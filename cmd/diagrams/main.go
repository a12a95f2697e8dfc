// Command diagrams writes docs/ARCHITECTURE.md: Mermaid diagrams of the synthesized stacks
// (read from cdk.out) and of the plagiarism state machine (asl/plagiarism.asl.json).
//
//	go run ./cmd/diagrams -cdk-out cdk.out -o docs/ARCHITECTURE.md
//	go run ./cmd/diagrams -cdk-out cdk.out -o docs/ARCHITECTURE.md -check
//
// With -check it writes nothing and exits 1 when the file differs from what it would write.
// Run `make synth` first: it only reads cdk.out.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/diagram"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and outputs, returning the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("diagrams", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cdkOut := fl.String("cdk-out", "cdk.out", "cloud assembly directory written by `cdk synth`")
	out := fl.String("o", "docs/ARCHITECTURE.md", "Markdown file to write")
	readme := fl.String("readme", "", "also update the diagrams section of this README")
	check := fl.Bool("check", false, "write nothing; exit 1 if the file is stale")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "diagrams: unexpected arguments %q\n", fl.Args())
		return 2
	}
	templates, err := LoadTemplates(*cdkOut)
	if err != nil {
		fmt.Fprintf(stderr, "diagrams: %v\n", err)
		return 1
	}
	doc, err := diagram.Document(templates, []byte(asl.Definition()))
	if err != nil {
		fmt.Fprintf(stderr, "diagrams: %v\n", err)
		return 1
	}
	files := map[string]string{*out: doc}
	if *readme != "" {
		old, err := os.ReadFile(*readme)
		if err != nil {
			fmt.Fprintf(stderr, "diagrams: %v\n", err)
			return 1
		}
		updated, err := diagram.WithReadme(string(old), doc)
		if err != nil {
			fmt.Fprintf(stderr, "diagrams: %s: %v\n", *readme, err)
			return 1
		}
		files[*readme] = updated
	}
	if *readme != "" && !*check {
		if err := os.WriteFile(*readme, []byte(files[*readme]), 0o644); err != nil {
			fmt.Fprintf(stderr, "diagrams: %v\n", err)
			return 1
		}
	}
	if *check && *readme != "" {
		if old, _ := os.ReadFile(*readme); !bytes.Equal(old, []byte(files[*readme])) {
			fmt.Fprintf(stderr, "diagrams: %s is stale; run `%s` and commit the result\n", *readme, diagram.Command)
			return 1
		}
	}
	if *check {
		old, err := os.ReadFile(*out)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "diagrams: %v\n", err)
			return 1
		}
		if !bytes.Equal(old, []byte(doc)) {
			fmt.Fprintf(stderr, "diagrams: %s is stale: it does not match %s and %s; run `%s` and commit the result\n",
				*out, *cdkOut, asl.File, diagram.Command)
			return 1
		}
		fmt.Fprintf(stdout, "diagrams: %s is up to date\n", *out)
		return 0
	}
	if err := os.WriteFile(*out, []byte(doc), 0o644); err != nil {
		fmt.Fprintf(stderr, "diagrams: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "diagrams: wrote %s (%d stacks)\n", *out, len(templates))
	return 0
}

// LoadTemplates reads manifest.json of the cloud assembly in dir and returns every
// CloudFormation stack's template, keyed by stack name.
func LoadTemplates(dir string) (map[string]map[string]any, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read cloud assembly (run `make synth` first): %w", err)
	}
	var manifest struct {
		Artifacts map[string]struct {
			Type        string `json:"type"`
			DisplayName string `json:"displayName"`
			Properties  struct {
				TemplateFile string `json:"templateFile"`
				StackName    string `json:"stackName"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	templates := map[string]map[string]any{}
	for id, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		name := a.Properties.StackName
		if name == "" {
			name = id
		}
		file := filepath.Join(dir, a.Properties.TemplateFile)
		body, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", name, err)
		}
		var t map[string]any
		if err := json.Unmarshal(body, &t); err != nil {
			return nil, fmt.Errorf("stack %s: parse %s: %w", name, file, err)
		}
		templates[name] = t
	}
	if len(templates) == 0 {
		return nil, fmt.Errorf("%s lists no CloudFormation stacks", filepath.Join(dir, "manifest.json"))
	}
	return templates, nil
}
