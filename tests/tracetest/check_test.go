package tracetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	testsDir    = ".."
	emittedPath = "../spans/emitted.json"
	awsPath     = "../aws-spans.json"
	aslPath     = "../../asl/plagiarism.asl.json"
)

// traceFunctions says which Lambdas run in the trace of each test's trigger (docs/WORKFLOW.md):
// POST /incident starts the execution, whose trace runs RegisterIncident, ScheduleExam and
// SendNotification up to the callback wait; POST /exam runs SubmitExam, whose SendTaskSuccess
// resumes the execution in the execution's own (incident) trace.
var traceFunctions = map[string][]string{
	"sfn-incident": {"RegisterIncident", "ScheduleExam", "SendNotification"},
	"sfn-exam":     {"SubmitExam"},
}

var (
	varsOnce sync.Once
	varsKeys []string
	varsErr  error
)

// variableSetKeys runs cmd/tracetest-vars on its sample outputs file and returns the keys of
// the variable set it writes: the variables the deployment provides.
func variableSetKeys(t *testing.T) []string {
	t.Helper()
	varsOnce.Do(func() {
		cmd := exec.Command("go", "run", "./cmd/tracetest-vars", "-outputs", "cmd/tracetest-vars/testdata/cdk-outputs.json")
		cmd.Dir = "../.."
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			varsErr = fmt.Errorf("%w: %s", err, stderr.String())
			return
		}
		var vs struct {
			Type string `yaml:"type"`
			Spec struct {
				Values []struct {
					Key string `yaml:"key"`
				} `yaml:"values"`
			} `yaml:"spec"`
		}
		if varsErr = yaml.Unmarshal(out, &vs); varsErr != nil {
			return
		}
		for _, v := range vs.Spec.Values {
			varsKeys = append(varsKeys, v.Key)
		}
	})
	if varsErr != nil {
		t.Fatalf("run cmd/tracetest-vars: %v", varsErr)
	}
	if len(varsKeys) == 0 {
		t.Fatal("cmd/tracetest-vars wrote a variable set without values")
	}
	return varsKeys
}

// taskStates reads the Task state names of the state machine definition.
func taskStates(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(aslPath)
	if err != nil {
		t.Fatalf("read state machine: %v", err)
	}
	var asl struct {
		States map[string]struct {
			Type string `json:"Type"`
		} `json:"States"`
	}
	if err := json.Unmarshal(raw, &asl); err != nil {
		t.Fatalf("%s: %v", aslPath, err)
	}
	var out []string
	for name, s := range asl.States {
		if s.Type == "Task" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// load returns the repository's definitions, span catalog and rules.
func load(t *testing.T) (Definitions, Catalog, Rules) {
	t.Helper()
	d, err := LoadDefinitions(testsDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadCatalog(emittedPath, awsPath)
	if err != nil {
		t.Fatal(err)
	}
	return d, c, Rules{Variables: variableSetKeys(t), TraceFunctions: traceFunctions, TaskStates: taskStates(t)}
}

func TestDefinitions(t *testing.T) {
	d, c, r := load(t)
	for _, want := range []string{"incident.yaml", "exam.yaml"} {
		if _, ok := d.Tests[want]; !ok {
			t.Errorf("tests/%s is missing or not a Test", want)
		}
	}
	if _, ok := d.Suites["suite.yaml"]; !ok {
		t.Error("tests/suite.yaml is missing or not a TestSuite")
	}
	for _, err := range Check(testsDir, d, c, r) {
		t.Error(err)
	}
}

// TestSuiteOrder pins what the issue asks for: the suite runs incident then exam, and exam
// sends back the three values incident outputs.
func TestSuiteOrder(t *testing.T) {
	d, _, _ := load(t)
	if got := d.Suites["suite.yaml"].Spec.Steps; !slices.Equal(got, []string{"./incident.yaml", "./exam.yaml"}) {
		t.Errorf("suite steps = %q, want incident then exam", got)
	}
	var outputs []string
	for _, o := range d.Tests["incident.yaml"].Spec.Outputs {
		outputs = append(outputs, o.Name)
	}
	slices.Sort(outputs)
	if !slices.Equal(outputs, []string{"EXAM_ID", "INCIDENT_ID", "TASK_TOKEN"}) {
		t.Errorf("incident outputs = %q", outputs)
	}
	body := d.Tests["exam.yaml"].Spec.Trigger.HTTPRequest.Body
	for _, want := range []string{`"IncidentId": "${var:INCIDENT_ID}"`, `"ExamId": "${var:EXAM_ID}"`,
		`"TaskToken": "${var:TASK_TOKEN}"`, `"Score": "80"`} {
		if !strings.Contains(body, want) {
			t.Errorf("exam body %s lacks %s", body, want)
		}
	}
}

// clone deep-copies definitions and catalog so a case can break them.
func clone[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// editSelectors applies f to every selector of every spec and output of the test.
func editSelectors(d *Definitions, file string, f func(string) string) {
	t := d.Tests[file]
	for i := range t.Spec.Specs {
		t.Spec.Specs[i].Selector = f(t.Spec.Specs[i].Selector)
	}
	for i := range t.Spec.Outputs {
		t.Spec.Outputs[i].Selector = f(t.Spec.Outputs[i].Selector)
	}
	d.Tests[file] = t
}

// TestCheckCatches breaks one thing at a time and expects Check to name it: the checker is
// strict enough that a renamed span, operation or variable cannot slip through.
func TestCheckCatches(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, d *Definitions, c *Catalog, r *Rules)
		want   string
	}{
		{
			name: "span renamed in emitted.json",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				for i := range c.Emitted {
					if c.Emitted[i].Name == "NotificationData" {
						c.Emitted[i].Name = "NotificationPayload"
					}
				}
			},
			want: `unknown span name "NotificationData"`,
		},
		{
			name: "DynamoDB operation renamed in emitted.json",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				for i := range c.Emitted {
					if c.Emitted[i].Name == "DynamoDB" {
						c.Emitted[i].Attributes["aws.operation"] = "TransactWriteItems"
					}
				}
			},
			want: "no DynamoDB span with aws.operation",
		},
		{
			name: "SendTaskSuccess no longer emitted",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				for i := range c.Emitted {
					if c.Emitted[i].Name == "SFN" {
						c.Emitted[i].Attributes["aws.operation"] = "SendTaskFailure"
					}
				}
			},
			want: `no SFN span with aws.operation "SendTaskSuccess"`,
		},
		{
			name: "metadata key dropped from NotificationData",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				for i := range c.Emitted {
					if c.Emitted[i].Name == "NotificationData" {
						c.Emitted[i].MetadataKeys["default"] = slices.DeleteFunc(c.Emitted[i].MetadataKeys["default"],
							func(k string) bool { return k == "TaskToken" })
					}
				}
			},
			want: `no metadata key "TaskToken"`,
		},
		{
			name: "unknown span name in a selector",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				editSelectors(d, "exam.yaml", func(s string) string {
					return strings.Replace(s, `name="SFN"`, `name="StepFunctions"`, 1)
				})
			},
			want: `unknown span name "StepFunctions"`,
		},
		{
			name: "span of a Lambda outside this trace",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				editSelectors(d, "exam.yaml", func(s string) string {
					return strings.Replace(s, `name="SFN"`, `name="NotificationData"`, 1)
				})
			},
			want: "none of which runs in this trace",
		},
		{
			name: "wrong span type",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				editSelectors(d, "incident.yaml", func(s string) string {
					return strings.Replace(s, `tracetest.span.type="general" name="RegisterIncident"`,
						`tracetest.span.type="http" name="RegisterIncident"`, 1)
				})
			},
			want: `span "RegisterIncident" has tracetest.span.type "general", not "http"`,
		},
		{
			name: "undefined variable",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				x := d.Tests["exam.yaml"]
				x.Spec.Trigger.HTTPRequest.Body = strings.Replace(x.Spec.Trigger.HTTPRequest.Body, `"80"`, `"${var:SCORE}"`, 1)
				d.Tests["exam.yaml"] = x
			},
			want: "uses ${var:SCORE}, which neither",
		},
		{
			name: "variable set no longer provides API_URL",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				r.Variables = slices.DeleteFunc(slices.Clone(r.Variables), func(k string) bool { return k == "API_URL" })
			},
			want: "uses ${var:API_URL}, which neither",
		},
		{
			name: "deprecated env variable",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				x := d.Tests["incident.yaml"]
				x.Spec.Trigger.HTTPRequest.Headers = append(x.Spec.Trigger.HTTPRequest.Headers, Header{"X-Env", "${env:STAGE}"})
				d.Tests["incident.yaml"] = x
			},
			want: "write ${var:STAGE}",
		},
		{
			name: "suite runs exam before incident",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				s := d.Suites["suite.yaml"]
				slices.Reverse(s.Spec.Steps)
				d.Suites["suite.yaml"] = s
			},
			want: "uses ${var:TASK_TOKEN}, which neither",
		},
		{
			name: "suite step without ./ is read as an id",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				s := d.Suites["suite.yaml"]
				s.Spec.Steps[0] = "incident.yaml"
				d.Suites["suite.yaml"] = s
			},
			want: `"incident.yaml": not a test here`,
		},
		{
			name: "test in no suite",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				s := d.Suites["suite.yaml"]
				s.Spec.Steps = s.Spec.Steps[:1]
				d.Suites["suite.yaml"] = s
			},
			want: "exam.yaml: not a step of any TestSuite",
		},
		{
			name: "hard-coded endpoint",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				x := d.Tests["incident.yaml"]
				x.Spec.Trigger.HTTPRequest.URL = "<your_api_endpoint>/incident"
				d.Tests["incident.yaml"] = x
			},
			want: "must start with ${var:API_URL}/",
		},
		{
			name: "output from a json_path key the span does not record",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				x := d.Tests["incident.yaml"]
				x.Spec.Outputs[0].Value = "attr:aws.xray.metadata.default | json_path '$.Token'"
				d.Tests["incident.yaml"] = x
			},
			want: `no metadata key "Token"`,
		},
		{
			name: "response attribute on a trace span",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				x := d.Tests["exam.yaml"]
				x.Spec.Specs[len(x.Spec.Specs)-1].Assertions = append(x.Spec.Specs[len(x.Spec.Specs)-1].Assertions,
					"attr:tracetest.response.status = 200")
				d.Tests["exam.yaml"] = x
			},
			want: "exists only on the \"Tracetest trigger\" span",
		},
		{
			name: "spec without assertions",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				x := d.Tests["exam.yaml"]
				x.Spec.Specs[0].Assertions = nil
				d.Tests["exam.yaml"] = x
			},
			want: "no assertions",
		},
		{
			name: "AWS span that is not a state of the state machine",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				c.AWS = append(c.AWS, AWSSpan{Name: "HasStudentPassedExam", Type: "general", EmittedBy: "Step Functions",
					Justification: "x", Source: "https://docs.aws.amazon.com/step-functions/"})
			},
			want: `"HasStudentPassedExam" is not a Task state`,
		},
		{
			name: "span name in both catalogs",
			mutate: func(t *testing.T, d *Definitions, c *Catalog, r *Rules) {
				c.AWS = append(c.AWS, AWSSpan{Name: "DynamoDB", Type: "general", EmittedBy: "Lambda",
					Justification: "x", Source: "https://docs.aws.amazon.com/lambda/"})
			},
			want: `"DynamoDB" is also in emitted.json`,
		},
	}
	d0, c0, r0 := load(t)
	if errs := Check(testsDir, d0, c0, r0); len(errs) > 0 {
		t.Fatalf("the repository's definitions must pass before breaking them: %v", errs)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, c, r := clone(t, d0), clone(t, c0), clone(t, r0)
			tc.mutate(t, &d, &c, &r)
			errs := Check(testsDir, d, c, r)
			for _, err := range errs {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
			}
			t.Errorf("no error contains %q; got %v", tc.want, errs)
		})
	}
}

// TestLoadRejects checks the parsing rules: strict keys, known types, one document a file.
func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"misspelt key", "type: Test\nspec:\n  id: x\n  name: x\n  trigger:\n    type: http\n    httpRequests: {}\n", "field httpRequests not found"},
		{"old transaction type", "type: Transaction\nspec:\n  steps: [a]\n", "pre-v0.13 names"},
		{"two documents", "type: TestSuite\nspec:\n  id: a\n---\ntype: TestSuite\n", "more than one YAML document"},
		{"not YAML", "type: [", "not YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Definitions{Tests: map[string]Test{}, Suites: map[string]Suite{}}
			err := d.add("x.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadCatalog(filepath.Join(t.TempDir(), "emitted.json"), awsPath); err == nil ||
		!strings.Contains(err.Error(), "offline trace test in lambda-src/") {
		t.Errorf("missing emitted.json: got %v, want an error saying who writes it", err)
	}
}
