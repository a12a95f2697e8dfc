package asl

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// state is the part of an ASL state these tests look at.
type state struct {
	Type           string
	Resource       string
	Parameters     map[string]any
	OutputPath     string
	TimeoutSeconds *int64
	Next           string
	End            bool
	Default        string
	Choices        []struct {
		Variable      string
		NumericEquals *float64
		Next          string
	}
	Retry []struct {
		ErrorEquals     []string
		IntervalSeconds float64
		MaxAttempts     *int
		BackoffRate     float64
	}
	Catch []struct {
		ErrorEquals []string
		ResultPath  string
		Next        string
	}
}

type machine struct {
	StartAt string
	States  map[string]state
}

func parse(t *testing.T, def string) machine {
	t.Helper()
	var m machine
	if err := json.Unmarshal([]byte(def), &m); err != nil {
		t.Fatalf("parse %s: %v", File, err)
	}
	return m
}

var transientLambdaErrors = []string{
	"Lambda.ServiceException",
	"Lambda.AWSLambdaException",
	"Lambda.SdkClientException",
	"Lambda.TooManyRequestsException",
}

func TestDefinitionShape(t *testing.T) {
	m := parse(t, Definition())
	if m.StartAt != "RegisterIncident" {
		t.Errorf("StartAt = %q, want RegisterIncident", m.StartAt)
	}
	want := []string{"RegisterIncident", "ScheduleExam", "SendNotification", "HasStudentPassedExam", "ResolveIncident", "TakeAdministrativeAction"}
	var got []string
	for name := range m.States {
		got = append(got, name)
	}
	slices.Sort(got)
	sortedWant := slices.Sorted(slices.Values(want))
	if !slices.Equal(got, sortedWant) {
		t.Fatalf("states = %v, want %v", got, sortedWant)
	}
	for name, s := range m.States {
		for _, next := range append([]string{s.Next, s.Default}, choiceTargets(s)...) {
			if next != "" && m.States[next].Type == "" {
				t.Errorf("state %s goes to unknown state %q", name, next)
			}
		}
		for _, c := range s.Catch {
			if m.States[c.Next].Type == "" {
				t.Errorf("state %s catches into unknown state %q", name, c.Next)
			}
		}
	}
	for _, name := range []string{"ResolveIncident", "TakeAdministrativeAction"} {
		if !m.States[name].End {
			t.Errorf("state %s must end the execution", name)
		}
	}
}

func choiceTargets(s state) []string {
	var out []string
	for _, c := range s.Choices {
		out = append(out, c.Next)
	}
	return out
}

func TestTasksUseOptimizedLambdaIntegration(t *testing.T) {
	m := parse(t, Definition())
	arns := map[string]string{
		"RegisterIncident":         "${RegisterIncidentFunctionArn}",
		"ScheduleExam":             "${ScheduleExamFunctionArn}",
		"SendNotification":         "${SendNotificationFunctionArn}",
		"ResolveIncident":          "${ResolveIncidentFunctionArn}",
		"TakeAdministrativeAction": "${TakeAdministrativeActionFunctionArn}",
	}
	for name, s := range m.States {
		if s.Type != "Task" {
			continue
		}
		if got := s.Parameters["FunctionName"]; got != arns[name] {
			t.Errorf("%s: FunctionName = %v, want %s", name, got, arns[name])
		}
		if name == CallbackState {
			if s.Resource != "arn:aws:states:::lambda:invoke.waitForTaskToken" {
				t.Errorf("%s: Resource = %q, want the waitForTaskToken integration", name, s.Resource)
			}
			// The task's result is SubmitExam's SendTaskSuccess output, not a Lambda response.
			if s.OutputPath != "" {
				t.Errorf("%s: OutputPath = %q, want none", name, s.OutputPath)
			}
			payload, _ := s.Parameters["Payload"].(map[string]any)
			if payload["Incident.$"] != "$" || payload["TaskToken.$"] != "$$.Task.Token" {
				t.Errorf("%s: Payload = %v, want {Incident.$: $, TaskToken.$: $$.Task.Token}", name, payload)
			}
			continue
		}
		if s.Resource != "arn:aws:states:::lambda:invoke" || s.OutputPath != "$.Payload" || s.Parameters["Payload.$"] != "$" {
			t.Errorf("%s: Resource %q OutputPath %q Payload.$ %v, want lambda:invoke, $.Payload, $", name, s.Resource, s.OutputPath, s.Parameters["Payload.$"])
		}
	}
}

func TestEveryTaskRetriesTransientLambdaErrors(t *testing.T) {
	m := parse(t, Definition())
	tasks := 0
	for name, s := range m.States {
		if s.Type != "Task" {
			continue
		}
		tasks++
		var covered []string
		for _, r := range s.Retry {
			if r.BackoffRate <= 1 {
				t.Errorf("%s: retrier %v has BackoffRate %v, want exponential backoff (> 1)", name, r.ErrorEquals, r.BackoffRate)
			}
			if r.IntervalSeconds < 1 || r.MaxAttempts == nil || *r.MaxAttempts < 2 {
				t.Errorf("%s: retrier %v must set IntervalSeconds >= 1 and MaxAttempts >= 2", name, r.ErrorEquals)
			}
			covered = append(covered, r.ErrorEquals...)
			if slices.Contains(r.ErrorEquals, "States.ALL") || slices.Contains(r.ErrorEquals, "States.Timeout") {
				t.Errorf("%s: retrier %v retries errors that are not transient", name, r.ErrorEquals)
			}
		}
		for _, e := range transientLambdaErrors {
			if !slices.Contains(covered, e) {
				t.Errorf("%s: no Retry for %s", name, e)
			}
		}
	}
	if tasks != 5 {
		t.Errorf("found %d Task states, want 5", tasks)
	}
}

func TestCatchesKeepTheIncident(t *testing.T) {
	m := parse(t, Definition())
	want := map[string][]string{
		"ScheduleExam":     {"StudentExceededAllowableExamRetries"},
		"SendNotification": {"States.Timeout"},
	}
	for name, s := range m.States {
		var got []string
		for _, c := range s.Catch {
			got = append(got, c.ErrorEquals...)
			if c.ResultPath != "$.Error" {
				t.Errorf("%s: Catch %v has ResultPath %q, want $.Error so the incident survives", name, c.ErrorEquals, c.ResultPath)
			}
			if c.Next != "TakeAdministrativeAction" {
				t.Errorf("%s: Catch %v goes to %s, want TakeAdministrativeAction", name, c.ErrorEquals, c.Next)
			}
		}
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s: catches %v, want %v", name, got, want[name])
		}
	}
}

func TestChoiceReadsComputedResult(t *testing.T) {
	m := parse(t, Definition())
	c := m.States["HasStudentPassedExam"]
	if c.Type != "Choice" {
		t.Fatalf("HasStudentPassedExam is a %q, want Choice", c.Type)
	}
	if c.Default != "TakeAdministrativeAction" {
		t.Errorf("Default = %q, want TakeAdministrativeAction", c.Default)
	}
	want := map[float64]string{0: "ResolveIncident", 1: "ScheduleExam", 2: "TakeAdministrativeAction"}
	if len(c.Choices) != len(want) {
		t.Errorf("%d choices, want %d", len(c.Choices), len(want))
	}
	for _, ch := range c.Choices {
		if ch.Variable != "$.Exams[0].Result" || ch.NumericEquals == nil {
			t.Errorf("choice %+v: want NumericEquals on $.Exams[0].Result", ch)
			continue
		}
		if want[*ch.NumericEquals] != ch.Next {
			t.Errorf("Result %v goes to %s, want %s", *ch.NumericEquals, ch.Next, want[*ch.NumericEquals])
		}
	}
	// The pass mark lives in lambda-src/internal/domain only.
	if regexp.MustCompile(`\b(67|70|76)\b`).MatchString(Definition()) || strings.Contains(Definition(), "Score") {
		t.Error("the definition mentions a pass mark or the raw score; the Choice must read the computed Result only")
	}
}

func TestPlaceholders(t *testing.T) {
	want := []string{
		"RegisterIncidentFunctionArn",
		"ResolveIncidentFunctionArn",
		"ScheduleExamFunctionArn",
		"SendNotificationFunctionArn",
		"TakeAdministrativeActionFunctionArn",
	}
	if got := Placeholders(); !slices.Equal(got, want) {
		t.Errorf("Placeholders() = %v, want %v", got, want)
	}
}

func TestRender(t *testing.T) {
	tests := []struct {
		window  time.Duration
		timeout int64
		err     string
	}{
		{window: 0, timeout: 604800},
		{window: 168 * time.Hour, timeout: 604800},
		{window: 2 * time.Second, timeout: 2},
		{window: 48 * time.Hour, timeout: 172800},
		{window: MaxExamWindow, timeout: 31536000},
		{window: -time.Hour, err: "exam window -1h0m0s is negative"},
		{window: 1500 * time.Millisecond, err: "exam window 1.5s is not a whole number of seconds"},
		{window: time.Millisecond, err: "exam window 1ms is not a whole number of seconds"},
		{window: MaxExamWindow + time.Second, err: "exam window 8760h0m1s is longer than the maximum"},
	}
	for _, tt := range tests {
		t.Run(tt.window.String(), func(t *testing.T) {
			def, err := Render(Options{ExamWindow: tt.window})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Render(%s) error = %v, want %q", tt.window, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render(%s): %v", tt.window, err)
			}
			got, err := CallbackTimeout([]byte(def))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.timeout {
				t.Errorf("TimeoutSeconds = %d, want %d", got, tt.timeout)
			}
			// Nothing but the number changes: placeholders and every other byte stay.
			same := timeoutRE.ReplaceAllString(def, "T") == timeoutRE.ReplaceAllString(Definition(), "T")
			if !same {
				t.Error("Render changed more than the callback timeout")
			}
		})
	}
}

func TestCallbackTimeoutErrors(t *testing.T) {
	for _, def := range []string{
		`not json`,
		`{"States": {}}`,
		`{"States": {"SendNotification": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke"}}}`,
		`{"States": {"SendNotification": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken"}}}`,
	} {
		if _, err := CallbackTimeout([]byte(def)); err == nil {
			t.Errorf("CallbackTimeout(%s): no error", def)
		}
	}
}

// TestASLValidator runs the real asl-validator (npm asl-validator 4.0.0) on the file, on a
// rendered definition and on a broken one, which it must reject.
func TestASLValidator(t *testing.T) {
	root := repoRoot(t)
	node := filepath.Join(root, "node_modules", ".bin", "node")
	validator := filepath.Join(root, "node_modules", ".bin", "asl-validator")
	for _, p := range []string{node, validator} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `bash scripts/install-tools.sh` first (%v)", p, err)
		}
	}
	rendered, err := Render(Options{ExamWindow: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(Definition(), `"Default": "TakeAdministrativeAction"`, `"Default": "NoSuchState"`, 1)
	dir := t.TempDir()
	cases := []struct {
		name, def string
		valid     bool
	}{
		{"file", Definition(), true},
		{"rendered", rendered, true},
		{"broken", broken, false},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name+".asl.json")
		if err := os.WriteFile(path, []byte(c.def), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(node, validator, "--json-path", path).CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatalf("run asl-validator: %v", err)
		}
		if valid := err == nil; valid != c.valid {
			t.Errorf("asl-validator on the %s definition: valid = %v, want %v\n%s", c.name, valid, c.valid, out)
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}
