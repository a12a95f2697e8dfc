// Package tracetest checks the Tracetest definitions in tests/ offline, without a Tracetest
// server or an AWS account: that every file is a valid Tracetest v1.7.1 Test or TestSuite,
// that every ${var:NAME} is defined before it is used, and that every span a selector names
// is one the deployment really emits (tests/spans/emitted.json for our Lambda code,
// tests/aws-spans.json for AWS itself). The checks live in Check; the tests run them on the
// repository's files and on broken copies, to prove each check can fail.
package tracetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Test is a Tracetest `type: Test` resource, as far as these definitions use it. Decoding
// is strict: a misspelt key is an error instead of a silently ignored field.
type Test struct {
	Type string   `yaml:"type"`
	Spec TestSpec `yaml:"spec"`
}

// TestSpec is the spec of a Test.
type TestSpec struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Trigger     Trigger  `yaml:"trigger"`
	Specs       []Spec   `yaml:"specs"`
	Outputs     []Output `yaml:"outputs"`
}

// Trigger is how Tracetest starts the traced operation.
type Trigger struct {
	Type        string       `yaml:"type"`
	HTTPRequest *HTTPRequest `yaml:"httpRequest"`
}

// HTTPRequest is an http trigger.
type HTTPRequest struct {
	Method  string   `yaml:"method"`
	URL     string   `yaml:"url"`
	Headers []Header `yaml:"headers"`
	Body    string   `yaml:"body"`
}

// Header is one HTTP request header.
type Header struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// Spec is a selector with the assertions every selected span must pass.
type Spec struct {
	Name       string   `yaml:"name"`
	Selector   string   `yaml:"selector"`
	Assertions []string `yaml:"assertions"`
}

// Output exports a value from the trace as a variable for later tests of a suite.
type Output struct {
	Name     string `yaml:"name"`
	Selector string `yaml:"selector"`
	Value    string `yaml:"value"`
}

// Suite is a Tracetest `type: TestSuite` resource.
type Suite struct {
	Type string    `yaml:"type"`
	Spec SuiteSpec `yaml:"spec"`
}

// SuiteSpec is the spec of a TestSuite: its steps are test definition files (./x.yaml,
// resolved relative to the suite file, as the CLI does) or test ids.
type SuiteSpec struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Steps       []string `yaml:"steps"`
}

// Definitions are the YAML files of one tests/ directory.
type Definitions struct {
	// Tests by file name (e.g. "incident.yaml").
	Tests map[string]Test
	// Suites by file name.
	Suites map[string]Suite
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

// LoadDefinitions reads every *.yaml file of dir as a Test or a TestSuite.
func LoadDefinitions(dir string) (Definitions, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return Definitions{}, fmt.Errorf("list definitions: %w", err)
	}
	if len(paths) == 0 {
		return Definitions{}, fmt.Errorf("no *.yaml definitions in %s", dir)
	}
	d := Definitions{Tests: map[string]Test{}, Suites: map[string]Suite{}}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return Definitions{}, fmt.Errorf("read definition: %w", err)
		}
		if err := d.add(filepath.Base(p), raw); err != nil {
			return Definitions{}, err
		}
	}
	return d, nil
}

// add parses one definition file by its type.
func (d *Definitions) add(name string, raw []byte) error {
	var head struct {
		Type string `yaml:"type"`
	}
	if err := yaml.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("%s: not YAML: %w", name, err)
	}
	switch head.Type {
	case "Test":
		var t Test
		if err := decodeStrict(raw, &t); err != nil {
			return fmt.Errorf("%s: not a Tracetest Test: %w", name, err)
		}
		d.Tests[name] = t
	case "TestSuite":
		var s Suite
		if err := decodeStrict(raw, &s); err != nil {
			return fmt.Errorf("%s: not a Tracetest TestSuite: %w", name, err)
		}
		d.Suites[name] = s
	default:
		return fmt.Errorf("%s: type %q: want Test or TestSuite (Transaction and Environment are the "+
			"pre-v0.13 names)", name, head.Type)
	}
	return nil
}

// EmittedSpan is one span the Lambda code emits, as recorded by the offline trace test in
// lambda-src/ (tests/spans/emitted.json).
type EmittedSpan struct {
	Function     string              `json:"function"`
	Name         string              `json:"name"`
	Attributes   map[string]string   `json:"attributes"`
	MetadataKeys map[string][]string `json:"metadataKeys"`
}

// AWSSpan is one span AWS itself emits, with why its name is right (tests/aws-spans.json).
type AWSSpan struct {
	Name string `json:"name"`
	// Type is the tracetest.span.type Tracetest gives the span: "http" when the X-Ray
	// (sub)segment carries an http block, else "general".
	Type string `json:"type"`
	// EmittedBy is the AWS service that emits it: "API Gateway", "Step Functions" or "Lambda".
	EmittedBy     string `json:"emittedBy"`
	Justification string `json:"justification"`
	Source        string `json:"source"`
}

// Catalog is every span name a selector may use.
type Catalog struct {
	Emitted []EmittedSpan
	AWS     []AWSSpan
}

// LoadCatalog reads tests/spans/emitted.json and tests/aws-spans.json.
func LoadCatalog(emittedPath, awsPath string) (Catalog, error) {
	var c Catalog
	var emitted struct {
		Spans []EmittedSpan `json:"spans"`
	}
	if err := readJSON(emittedPath, &emitted, "it is written by the offline trace test in lambda-src/"); err != nil {
		return Catalog{}, err
	}
	var aws struct {
		Spans []AWSSpan `json:"spans"`
	}
	if err := readJSON(awsPath, &aws, "it lists the spans AWS emits"); err != nil {
		return Catalog{}, err
	}
	c.Emitted, c.AWS = emitted.Spans, aws.Spans
	if len(c.Emitted) == 0 {
		return Catalog{}, fmt.Errorf("%s lists no spans", emittedPath)
	}
	return c, nil
}

func readJSON(path string, v any, what string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing (%s)", path, what)
	}
	if err != nil {
		return fmt.Errorf("read span catalog: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// names returns the sorted, de-duplicated span names of the catalog.
func (c Catalog) names() []string {
	set := map[string]bool{}
	for _, s := range c.Emitted {
		set[s.Name] = true
	}
	for _, s := range c.AWS {
		set[s.Name] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// list joins items for an error message.
func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
