package tracetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The repository's definitions: they load, and nothing in them is lost on the way to the
// server. Whether their selectors and assertions hold is the real server's call, made by
// make tracetest-local (e2e/) on the local workflow and by make tracetest on AWS.

func TestRepositoryDefinitions(t *testing.T) {
	d, err := Load(filepath.Join("..", "suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range d.Steps {
		ids = append(ids, s.Test.Spec.ID)
		if hazards := ReencodingHazards(s.Test); len(hazards) > 0 {
			t.Errorf("%s: %s", s.File, strings.Join(hazards, "\n"))
		}
		if len(s.Test.Spec.Specs) == 0 {
			t.Errorf("%s has no specs", s.File)
		}
		// Tracetest adds its trigger span only when polling ends: a spec selector naming it
		// matches nothing while Tracetest polls, so every run spends all the selector-match
		// retries of the polling profile (docs/TRACETEST.md, "Time").
		// On AWS, X-Ray adds an inferred segment with the same name and aws block (so the
		// same aws.operation) under each AWS call our code records; only the call's own
		// subsegment has aws.service (tests/aws-spans.json).
		for _, spec := range s.Test.Spec.Specs {
			if strings.Contains(spec.Selector, "Tracetest trigger") {
				t.Errorf("%s: spec %q selects the trigger span by name (%s): select it as span[]:first", s.File, spec.Name, spec.Selector)
			}
			if strings.Contains(spec.Selector, "aws.operation=") && !strings.Contains(spec.Selector, "aws.service=") {
				t.Errorf("%s: spec %q selects an AWS call without aws.service (%s): on AWS it also selects X-Ray's inferred segment of that call", s.File, spec.Name, spec.Selector)
			}
		}
	}
	if strings.Join(ids, ",") != "sfn-incident,sfn-exam" {
		t.Errorf("suite steps %v, want the incident test, then the exam test that uses its outputs", ids)
	}
}

func TestReencodingHazards(t *testing.T) {
	// Outcomes measured with goccy/go-yaml v1.11.0 (what Tracetest v1.7.1 builds with):
	// encode the value in a mapping, decode it again, see whether the following keys survive.
	tests := []struct {
		value string
		lost  bool
	}{
		{`{"IncidentId": "${var:INCIDENT_ID}", "ExamId": "${var:EXAM_ID}", "Score": "80", "TaskToken": "${var:TASK_TOKEN}"}`, true},
		{`{"IncidentId": "${var:INCIDENT_ID}", "ExamId": "${var:EXAM_ID}", "TaskToken": "${var:TASK_TOKEN}", "Score": "80"}`, false},
		{`{"StudentId": "tracetest"}`, false},
		{`""":X`, true},
		{`"":X`, false},
		{`span[tracetest.span.type="general" name="SFN" aws.operation="SendTaskSuccess"]`, false}, // written plain, no escapes
		{`attr:tracetest.response.body | json_path '$.executionArn' contains ":execution:"`, false},
	}
	for _, tt := range tests {
		test := Test{Type: "Test", Spec: TestSpec{ID: "x", Name: "x", Trigger: Trigger{Type: "http", HTTPRequest: &HTTPRequest{Body: tt.value}}}}
		hazards := ReencodingHazards(test)
		if got := len(hazards) > 0; got != tt.lost {
			t.Errorf("%s: hazard %v, want %v (%v)", tt.value, got, tt.lost, hazards)
		}
		if tt.lost && (len(hazards) != 1 || !strings.Contains(hazards[0], "spec.trigger.httpRequest.body")) {
			t.Errorf("%s: the hazard does not name the field: %v", tt.value, hazards)
		}
	}
}

func TestLoadRejects(t *testing.T) {
	write := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return filepath.Join(dir, "suite.yaml")
	}
	test := "type: Test\nspec:\n  id: a\n  name: A\n"
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"step is a test id", map[string]string{"suite.yaml": "type: TestSuite\nspec:\n  id: s\n  steps:\n    - a.yaml\n"}, "not a file path"},
		{"misspelt key", map[string]string{"suite.yaml": "type: TestSuite\nspec:\n  id: s\n  steps:\n    - ./a.yaml\n", "a.yaml": test + "  spesc: []\n"}, "not a Tracetest Test"},
		{"old type name", map[string]string{"suite.yaml": "type: Transaction\nspec:\n  id: s\n  steps:\n    - ./a.yaml\n"}, "want TestSuite"},
		{"duplicate id", map[string]string{"suite.yaml": "type: TestSuite\nspec:\n  id: s\n  steps:\n    - ./a.yaml\n    - ./b.yaml\n", "a.yaml": test, "b.yaml": test}, "is also the id"},
		{"missing step", map[string]string{"suite.yaml": "type: TestSuite\nspec:\n  id: s\n  steps:\n    - ./a.yaml\n"}, "no such file"},
	}
	for _, tt := range tests {
		_, err := Load(write(t, tt.files))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// recorded returns the definitions and the server's answers recorded in testdata/.
func recorded(t *testing.T) (Definitions, map[string]Test, Suite, SuiteRun) {
	t.Helper()
	d, err := Load(filepath.Join("testdata", "suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string, v any) {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	stored := map[string]Test{}
	for _, id := range []string{"incident", "exam"} {
		var s Test
		read("stored-"+id+".json", &s)
		stored["sfn-"+id] = s
	}
	var suite struct {
		Type string `json:"type"`
		Spec struct {
			Steps []string `json:"steps"`
		} `json:"spec"`
	}
	read("stored-suite.json", &suite)
	var run SuiteRun
	read("suite-run.json", &run)
	return d, stored, Suite{Type: suite.Type, Spec: SuiteSpec{Steps: suite.Spec.Steps}}, run
}

func TestCompareStored(t *testing.T) {
	d, stored, suite, _ := recorded(t)
	for _, s := range d.Steps {
		if diffs := CompareStored(s.Test, stored[s.Test.Spec.ID]); len(diffs) > 0 {
			t.Errorf("%s: the recorded answer differs from the file: %v", s.File, diffs)
		}
	}
	if diffs := CompareSuite(d, suite); len(diffs) > 0 {
		t.Errorf("suite: %v", diffs)
	}

	exam := d.Steps[1].Test
	tests := []struct {
		name string
		edit func(*Test)
		want string
	}{
		{"specs dropped", func(s *Test) { s.Spec.Specs = nil }, "stored with 0 specs, the file has 5"},
		{"assertion changed", func(s *Test) { s.Spec.Specs[4].Assertions[0] = "attr:tracetest.selected_spans.count = 2" }, "spec 5 stored as"},
		{"body changed", func(s *Test) { s.Spec.Trigger.HTTPRequest.Body = "{}" }, "trigger stored as"},
		{"output dropped", func(s *Test) { s.Spec.Outputs = []Output{{Name: "X", Selector: "span", Value: "v"}} }, "stored with 1 outputs, the file has 0"},
	}
	for _, tt := range tests {
		s := clone(t, stored["sfn-exam"])
		tt.edit(&s)
		diffs := CompareStored(exam, s)
		if len(diffs) != 1 || !strings.Contains(diffs[0], tt.want) {
			t.Errorf("%s: diffs %v, want one containing %q", tt.name, diffs, tt.want)
		}
	}
	suite.Spec.Steps = []string{"sfn-exam", "sfn-incident"}
	if diffs := CompareSuite(d, suite); len(diffs) != 1 {
		t.Errorf("reordered suite steps: diffs %v, want one", diffs)
	}
}

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

func TestCheckRun(t *testing.T) {
	d, _, _, run := recorded(t)
	if problems := CheckRun(d, run); len(problems) > 0 {
		t.Fatalf("the recorded passing run has problems: %v", problems)
	}
	tests := []struct {
		name string
		edit func(*SuiteRun)
		want string
	}{
		{"spec never evaluated", func(r *SuiteRun) { r.Steps[1].Result.Results = r.Steps[1].Result.Results[:4] },
			`spec "SubmitExam resumed the execution once with SendTaskSuccess" was never evaluated`},
		{"selector matched nothing", func(r *SuiteRun) { r.Steps[0].Result.Results[2].Results[0].SpanResults[0].SpanID = "" },
			"matched nothing"},
		{"assertion failed", func(r *SuiteRun) {
			a := &r.Steps[0].Result.Results[2].Results[0]
			a.AllPassed, a.SpanResults[0].Passed, a.SpanResults[0].ObservedValue = false, false, "2"
		}, `"attr:tracetest.selected_spans.count = 1" failed (observed "2"`},
		{"exam trigger without the incident's outputs", func(r *SuiteRun) { r.Steps[0].Outputs[2].Value = "another-incident" },
			"sfn-exam (run #1): the trigger was sent as"},
		{"output empty", func(r *SuiteRun) { r.Steps[0].Outputs[0].Value = "" }, "output TASK_TOKEN is empty"},
		{"step failed", func(r *SuiteRun) { r.Steps[1].State, r.Steps[1].LastErrorState = "TRACE_FAILED", "timeout" },
			"state TRACE_FAILED, want FINISHED (timeout): none of its 5 specs was evaluated"},
		{"step missing", func(r *SuiteRun) { r.Steps = r.Steps[:1] }, "ran 1 of its 2 steps"},
		{"suite failed", func(r *SuiteRun) { r.State = "FAILED" }, "is in state FAILED"},
	}
	for _, tt := range tests {
		r := clone(t, run)
		tt.edit(&r)
		problems := CheckRun(d, r)
		found := false
		for _, p := range problems {
			found = found || strings.Contains(p, tt.want)
		}
		if !found {
			t.Errorf("%s: problems %v, want one containing %q", tt.name, problems, tt.want)
		}
	}
}
