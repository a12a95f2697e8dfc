// Package tracetest reads the Tracetest definitions in tests/ and checks a Tracetest server
// against them: that the server stores every test exactly as its file says (the CLI
// re-encodes files before sending them, and Tracetest v1.7.1 can silently drop parts of
// what it receives), and that a run of the suite evaluated and passed every spec, exported
// every output and fed the outputs of each step to the next. The judgement of spans and
// assertions is the real Tracetest server's; this package only reads its answers back.
// Command tests/verify runs these checks after `make tracetest` and `make tracetest-local`.
package tracetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Test is a Tracetest `type: Test` resource, as far as these definitions use it. Decoding
// a file is strict: a misspelt key is an error instead of a silently ignored field. The
// server answers GET /api/tests/{id} with the same document in JSON.
type Test struct {
	Type string   `yaml:"type" json:"type"`
	Spec TestSpec `yaml:"spec" json:"spec"`
}

// TestSpec is the spec of a Test.
type TestSpec struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description"`
	Trigger     Trigger  `yaml:"trigger" json:"trigger"`
	Specs       []Spec   `yaml:"specs" json:"specs"`
	Outputs     []Output `yaml:"outputs" json:"outputs"`
}

// Trigger is how Tracetest starts the traced operation.
type Trigger struct {
	Type        string       `yaml:"type" json:"type"`
	HTTPRequest *HTTPRequest `yaml:"httpRequest" json:"httpRequest"`
}

// HTTPRequest is an http trigger.
type HTTPRequest struct {
	Method  string   `yaml:"method" json:"method"`
	URL     string   `yaml:"url" json:"url"`
	Headers []Header `yaml:"headers" json:"headers"`
	Body    string   `yaml:"body" json:"body"`
}

// Header is one HTTP request header.
type Header struct {
	Key   string `yaml:"key" json:"key"`
	Value string `yaml:"value" json:"value"`
}

// Spec is a selector with the assertions every selected span must pass.
type Spec struct {
	Name       string   `yaml:"name" json:"name"`
	Selector   string   `yaml:"selector" json:"selector"`
	Assertions []string `yaml:"assertions" json:"assertions"`
}

// Output exports a value from the trace as a variable for the later steps of a suite.
type Output struct {
	Name     string `yaml:"name" json:"name"`
	Selector string `yaml:"selector" json:"selector"`
	Value    string `yaml:"value" json:"value"`
}

// Suite is a Tracetest `type: TestSuite` resource.
type Suite struct {
	Type string    `yaml:"type" json:"type"`
	Spec SuiteSpec `yaml:"spec" json:"spec"`
}

// SuiteSpec is the spec of a TestSuite. In a file, each step is a test definition file
// (./x.yaml, relative to the suite file: the CLI reads a step as a file only when it
// starts with ./, ../ or /, and takes anything else as a test id).
type SuiteSpec struct {
	ID          string   `yaml:"id" json:"id"`
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description"`
	Steps       []string `yaml:"steps" json:"steps"`
}

// Step is one test of a suite, with the file it was read from.
type Step struct {
	File string
	Test Test
}

// Definitions are a suite file and the test files of its steps, in step order.
type Definitions struct {
	File  string
	Suite Suite
	Steps []Step
}

// decodeStrict decodes one YAML document into v, rejecting unknown keys and extra documents.
func decodeStrict(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document: keep one resource per file")
	}
	return nil
}

// Load reads a TestSuite file and the Test files of its steps.
func Load(suiteFile string) (Definitions, error) {
	raw, err := os.ReadFile(suiteFile)
	if err != nil {
		return Definitions{}, fmt.Errorf("read the suite: %w", err)
	}
	d := Definitions{File: suiteFile}
	if err := decodeStrict(raw, &d.Suite); err != nil {
		return Definitions{}, fmt.Errorf("%s: not a Tracetest TestSuite: %w", suiteFile, err)
	}
	if d.Suite.Type != "TestSuite" {
		return Definitions{}, fmt.Errorf("%s: type %q, want TestSuite (Transaction is the pre-v0.13 name)", suiteFile, d.Suite.Type)
	}
	if d.Suite.Spec.ID == "" || len(d.Suite.Spec.Steps) == 0 {
		return Definitions{}, fmt.Errorf("%s: a suite needs spec.id and at least one step", suiteFile)
	}
	ids := map[string]string{d.Suite.Spec.ID: suiteFile}
	for _, step := range d.Suite.Spec.Steps {
		if !strings.HasPrefix(step, "./") && !strings.HasPrefix(step, "../") && !strings.HasPrefix(step, "/") {
			return Definitions{}, fmt.Errorf("%s: step %q is not a file path: the CLI reads a step as a file only when it starts "+
				"with ./, ../ or / and takes anything else as the id of a test already on the server", suiteFile, step)
		}
		file := step
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(suiteFile), step)
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return Definitions{}, fmt.Errorf("%s: step %s: %w", suiteFile, step, err)
		}
		var t Test
		if err := decodeStrict(raw, &t); err != nil {
			return Definitions{}, fmt.Errorf("%s: not a Tracetest Test: %w", file, err)
		}
		if t.Type != "Test" || t.Spec.ID == "" || t.Spec.Name == "" {
			return Definitions{}, fmt.Errorf("%s: want type Test with spec.id and spec.name (the id keeps reruns on the same test)", file)
		}
		if other, dup := ids[t.Spec.ID]; dup {
			return Definitions{}, fmt.Errorf("%s: spec.id %q is also the id of %s: ids must be unique on the server", file, t.Spec.ID, other)
		}
		ids[t.Spec.ID] = file
		d.Steps = append(d.Steps, Step{File: file, Test: t})
	}
	return d, nil
}
