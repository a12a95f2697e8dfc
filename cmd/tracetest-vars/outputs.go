package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// DefaultPrefix is the stack name prefix the app uses when the CDK context sets none.
const DefaultPrefix = "TracetestSfn"

// Stack name suffixes and output keys this command reads: the contract with app.go.
const (
	WorkflowStack  = "Workflow"
	TracetestStack = "Tracetest"

	OutputAPIURL          = "StepFunctionsAPIUrl"
	OutputStateMachineARN = "StateMachineArn"
	OutputTracetestURL    = "TracetestUrl"
)

// Variable names of the generated variable set: what tests/*.yaml may use as ${var:NAME}
// besides the outputs of earlier tests in the suite.
const (
	KeyAPIURL          = "API_URL"
	KeyStateMachineARN = "STATE_MACHINE_ARN"
	KeyTracetestURL    = "TRACETEST_URL"
)

// apiStage is the stage the workflow API is deployed to; the tests append routes to it.
const apiStage = "v2"

// prefixPattern mirrors the check the app applies to the `prefix` context key.
var prefixPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)

// Outputs is the content of a `cdk deploy --outputs-file` file: stack name -> output key ->
// value.
type Outputs map[string]map[string]string

// ReadOutputs reads and parses a CDK outputs file. Its errors say how to produce the file.
func ReadOutputs(path string) (Outputs, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cdk outputs file %s not found: run \"make deploy\" first "+
			"(it runs cdk deploy --all --outputs-file cdk-outputs.json), or pass -outputs PATH", path)
	}
	if err != nil {
		return nil, fmt.Errorf("read cdk outputs file: %w", err)
	}
	return ParseOutputs(path, raw)
}

// ParseOutputs parses the content of a CDK outputs file; name only labels errors.
func ParseOutputs(name string, raw []byte) (Outputs, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("cdk outputs file %s is empty: a deploy was probably interrupted; "+
			"run \"make deploy\" again", name)
	}
	var stacks map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &stacks); err != nil {
		return nil, fmt.Errorf("cdk outputs file %s is not {\"<stack>\": {\"<output>\": \"<value>\"}} JSON (%v): "+
			"run \"make deploy\" again to rewrite it", name, err)
	}
	out := make(Outputs, len(stacks))
	for stack, values := range stacks {
		out[stack] = make(map[string]string, len(values))
		for key, v := range values {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("cdk outputs file %s: output %s of stack %s is %s, want a string",
					name, key, stack, v)
			}
			out[stack][key] = s
		}
	}
	return out, nil
}

// Deployment is what the trace-based tests need to know about one deployment of the app.
type Deployment struct {
	// APIURL is the workflow API's stage URL without a trailing slash, ending in /v2.
	APIURL string
	// StateMachineARN is the ARN of the plagiarism state machine.
	StateMachineARN string
	// TracetestURL is the Tracetest server's base URL (UI and /api) without a trailing slash.
	TracetestURL string
}

// Resolve finds and checks the outputs of the stacks named prefix-Workflow and
// prefix-Tracetest.
func Resolve(o Outputs, prefix string) (Deployment, error) {
	if !prefixPattern.MatchString(prefix) {
		return Deployment{}, fmt.Errorf("invalid -prefix %q: use a letter then up to 63 letters, digits or hyphens, "+
			"the same value as the CDK context key prefix (default %s)", prefix, DefaultPrefix)
	}
	apiURL, err := o.get(prefix, WorkflowStack, OutputAPIURL)
	if err != nil {
		return Deployment{}, err
	}
	arn, err := o.get(prefix, WorkflowStack, OutputStateMachineARN)
	if err != nil {
		return Deployment{}, err
	}
	ttURL, err := o.get(prefix, TracetestStack, OutputTracetestURL)
	if err != nil {
		return Deployment{}, err
	}

	var d Deployment
	workflow, tracetest := prefix+"-"+WorkflowStack, prefix+"-"+TracetestStack
	if d.APIURL, err = checkAPIURL(apiURL); err != nil {
		return Deployment{}, fmt.Errorf("output %s of stack %s: %w", OutputAPIURL, workflow, err)
	}
	if d.StateMachineARN, err = checkStateMachineARN(arn); err != nil {
		return Deployment{}, fmt.Errorf("output %s of stack %s: %w", OutputStateMachineARN, workflow, err)
	}
	if d.TracetestURL, err = checkTracetestURL(ttURL); err != nil {
		return Deployment{}, fmt.Errorf("output %s of stack %s: %w", OutputTracetestURL, tracetest, err)
	}
	return d, nil
}

// get returns one output, or an error naming the missing stack or output and the fix.
func (o Outputs) get(prefix, part, key string) (string, error) {
	stack := prefix + "-" + part
	values, ok := o[stack]
	if !ok {
		msg := fmt.Sprintf("no stack %s in the outputs file (stacks: %s): deploy it with \"make deploy\"",
			stack, list(keys(o)))
		if others := o.prefixesWith(part); len(others) > 0 {
			msg += fmt.Sprintf(", or pass -prefix %s to test the deployment that is there", others[0])
		}
		return "", errors.New(msg)
	}
	v, ok := values[key]
	if !ok {
		return "", fmt.Errorf("stack %s has no output %s (outputs: %s): deploy the current app with "+
			"\"make deploy\" so the outputs file is rewritten", stack, key, list(keys(values)))
	}
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("output %s of stack %s is empty: redeploy with \"make deploy\"", key, stack)
	}
	return strings.TrimSpace(v), nil
}

// prefixesWith lists the prefixes of the stacks named <prefix>-<part>, sorted.
func (o Outputs) prefixesWith(part string) []string {
	var out []string
	for stack := range o {
		if p, ok := strings.CutSuffix(stack, "-"+part); ok && p != "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func checkAPIURL(s string) (string, error) {
	u, err := parseBaseURL(s, "https")
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(u, "/"+apiStage) {
		return "", fmt.Errorf("%q is not the API stage URL: want https://<api-id>.execute-api.<region>.amazonaws.com/%s "+
			"(the stage the tests call); redeploy with \"make deploy\"", s, apiStage)
	}
	return u, nil
}

func checkTracetestURL(s string) (string, error) {
	return parseBaseURL(s, "http", "https")
}

func checkStateMachineARN(s string) (string, error) {
	parts := strings.SplitN(s, ":", 7)
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "stateMachine" || parts[6] == "" {
		return "", fmt.Errorf("%q is not a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>)", s)
	}
	return s, nil
}

// parseBaseURL checks that s is an absolute URL with one of the schemes, a host and no query
// or fragment, and returns it without a trailing slash.
func parseBaseURL(s string, schemes ...string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", s, err)
	}
	okScheme := false
	for _, sc := range schemes {
		okScheme = okScheme || u.Scheme == sc
	}
	if !okScheme || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not a base URL: want %s://<host>[/path] with no query", s, strings.Join(schemes, " or "))
	}
	return strings.TrimRight(s, "/"), nil
}

// VariableSet is a Tracetest `type: VariableSet` resource.
type VariableSet struct {
	Type string          `yaml:"type"`
	Spec VariableSetSpec `yaml:"spec"`
}

// VariableSetSpec is the spec of a variable set.
type VariableSetSpec struct {
	ID          string     `yaml:"id"`
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Values      []Variable `yaml:"values"`
}

// Variable is one key/value of a variable set.
type Variable struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// VariableSet returns the variable set for this deployment. Its id is derived from the
// prefix, so each deploy updates the same set on the server instead of adding one.
func (d Deployment) VariableSet(prefix string) VariableSet {
	return VariableSet{
		Type: "VariableSet",
		Spec: VariableSetSpec{
			ID:          prefix + "-deployment",
			Name:        prefix + " deployment",
			Description: "Generated by cmd/tracetest-vars from the cdk deploy outputs file; regenerate, do not edit.",
			Values: []Variable{
				{Key: KeyAPIURL, Value: d.APIURL},
				{Key: KeyStateMachineARN, Value: d.StateMachineARN},
				{Key: KeyTracetestURL, Value: d.TracetestURL},
			},
		},
	}
}

// YAML encodes the variable set as the YAML the Tracetest CLI reads (--vars FILE).
func (v VariableSet) YAML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by cmd/tracetest-vars from the cdk deploy outputs file. Do not edit: rerun make tracetest.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode variable set: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode variable set: %w", err)
	}
	return b.Bytes(), nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func list(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
