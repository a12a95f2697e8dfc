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
	ResultPath     *string
	HasResultPath  bool `json:"-"`
	TimeoutSeconds *int64
	Next           string
	End            bool
	Default        string
	ErrorPath      string
	CausePath      string
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
		MaxDelaySeconds float64
		JitterStrategy  string
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
	// ResultPath null (discard the result) and no ResultPath differ.
	var raw struct {
		States map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal([]byte(def), &raw); err != nil {
		t.Fatal(err)
	}
	for name, s := range m.States {
		_, s.HasResultPath = raw.States[name]["ResultPath"]
		m.States[name] = s
	}
	return m
}

// tasks are the Task states and the function each invokes.
var tasks = map[string]string{
	"RegisterIncident":         "${RegisterIncidentFunctionArn}",
	"ScheduleExam":             "${ScheduleExamFunctionArn}",
	"SendNotification":         "${SendNotificationFunctionArn}",
	"ResolveIncident":          "${ResolveIncidentFunctionArn}",
	"TakeAdministrativeAction": "${TakeAdministrativeActionFunctionArn}",
	// The catch-all's terminal path reuses TakeAdministrativeAction.
	"RecordFailure": "${TakeAdministrativeActionFunctionArn}",
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
	want := []string{"RegisterIncident", "ScheduleExam", "SendNotification", "HasStudentPassedExam", "ResolveIncident", "TakeAdministrativeAction", "RecordFailure", "WorkflowFailed"}
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
	// The terminal failure path ends the execution FAILED with the caught
	// error, which the failed-executions metric and alarm count.
	if f := m.States["WorkflowFailed"]; f.Type != "Fail" || f.ErrorPath != "$.Failure.Error" || f.CausePath != "$.Failure.Cause" {
		t.Errorf("WorkflowFailed = %+v, want a Fail state reporting $.Failure", f)
	}
	if r := m.States["RecordFailure"]; r.Next != "WorkflowFailed" || r.End {
		t.Errorf("RecordFailure goes to %q, want WorkflowFailed", r.Next)
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
	for name, s := range m.States {
		if s.Type != "Task" {
			continue
		}
		if got := s.Parameters["FunctionName"]; got != tasks[name] {
			t.Errorf("%s: FunctionName = %v, want %s", name, got, tasks[name])
		}
		switch name {
		case CallbackState:
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
		case "RecordFailure":
			// The result is dropped: WorkflowFailed reads the caught error from the input.
			if s.Resource != "arn:aws:states:::lambda:invoke" || !s.HasResultPath || s.ResultPath != nil || s.OutputPath != "" || s.Parameters["Payload.$"] != "$" {
				t.Errorf("%s: Resource %q ResultPath %v OutputPath %q, want lambda:invoke, ResultPath null, no OutputPath", name, s.Resource, s.ResultPath, s.OutputPath)
			}
		default:
			if s.Resource != "arn:aws:states:::lambda:invoke" || s.OutputPath != "$.Payload" || s.Parameters["Payload.$"] != "$" {
				t.Errorf("%s: Resource %q OutputPath %q Payload.$ %v, want lambda:invoke, $.Payload, $", name, s.Resource, s.OutputPath, s.Parameters["Payload.$"])
			}
		}
	}
}

func TestEveryTaskRetriesTransientErrors(t *testing.T) {
	m := parse(t, Definition())
	found := 0
	for name, s := range m.States {
		if s.Type != "Task" {
			continue
		}
		found++
		var covered []string
		for _, r := range s.Retry {
			if r.BackoffRate <= 1 {
				t.Errorf("%s: retrier %v has BackoffRate %v, want exponential backoff (> 1)", name, r.ErrorEquals, r.BackoffRate)
			}
			if r.IntervalSeconds < 1 || r.MaxAttempts == nil || *r.MaxAttempts < 2 || r.MaxDelaySeconds < r.IntervalSeconds || r.JitterStrategy != "FULL" {
				t.Errorf("%s: retrier %v must set IntervalSeconds >= 1, MaxAttempts >= 2, a MaxDelaySeconds and full jitter", name, r.ErrorEquals)
			}
			covered = append(covered, r.ErrorEquals...)
			if slices.Contains(r.ErrorEquals, "States.ALL") || slices.Contains(r.ErrorEquals, "States.Timeout") || slices.Contains(r.ErrorEquals, "States.TaskFailed") {
				t.Errorf("%s: retrier %v retries errors that are not transient", name, r.ErrorEquals)
			}
		}
		for _, e := range append([]string{"TransientError"}, transientLambdaErrors...) {
			if !slices.Contains(covered, e) {
				t.Errorf("%s: no Retry for %s", name, e)
			}
		}
	}
	if found != len(tasks) {
		t.Errorf("found %d Task states, want %d", found, len(tasks))
	}
}

func TestEveryTaskHasACatchAll(t *testing.T) {
	m := parse(t, Definition())
	// Business outcomes caught before the catch-all: they escalate the
	// incident and end the execution normally.
	business := map[string][]string{
		"ScheduleExam":     {"StudentExceededAllowableExamRetries"},
		"SendNotification": {"States.Timeout"},
	}
	// Where each task's catch-all goes: RecordFailure, except where there is
	// no incident to record on (RegisterIncident) or recording itself failed.
	terminal := map[string]string{"RegisterIncident": "WorkflowFailed", "RecordFailure": "WorkflowFailed"}
	for name, s := range m.States {
		if s.Type != "Task" {
			if len(s.Catch) != 0 {
				t.Errorf("%s (%s) has a Catch", name, s.Type)
			}
			continue
		}
		if len(s.Catch) == 0 {
			t.Errorf("%s: no Catch", name)
			continue
		}
		var caught []string
		for _, c := range s.Catch[:len(s.Catch)-1] {
			caught = append(caught, c.ErrorEquals...)
			if c.ResultPath != "$.Error" || c.Next != "TakeAdministrativeAction" {
				t.Errorf("%s: Catch %v -> %s with ResultPath %q, want TakeAdministrativeAction with $.Error so the incident survives", name, c.ErrorEquals, c.Next, c.ResultPath)
			}
		}
		if !slices.Equal(caught, business[name]) {
			t.Errorf("%s: catches %v before the catch-all, want %v", name, caught, business[name])
		}
		last := s.Catch[len(s.Catch)-1]
		wantNext, wantPath := terminal[name], "$.Failure"
		if wantNext == "" {
			wantNext = "RecordFailure"
		}
		if name == "RecordFailure" {
			wantPath = "$.RecordFailureError" // keep the original failure for WorkflowFailed
		}
		if !slices.Equal(last.ErrorEquals, []string{"States.ALL"}) || last.Next != wantNext || last.ResultPath != wantPath {
			t.Errorf("%s: last Catch %+v, want States.ALL -> %s with ResultPath %s", name, last, wantNext, wantPath)
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

// answer is how a scripted Task invocation ends (testdata/run.mjs).
type answer struct {
	Output any    `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
}

func ok(v any) answer         { return answer{Output: v} }
func fail(name string) answer { return answer{Error: name, Cause: name + " cause"} }
func repeat(a answer, n int) []answer {
	out := make([]answer, n)
	for i := range out {
		out[i] = a
	}
	return out
}

// localRun is what testdata/run.mjs reports.
type localRun struct {
	Status string
	Output map[string]any
	Error  string
	Cause  string
	Calls  []struct {
		State   string
		Payload map[string]any
	}
}

// TestRunsLocally runs the definition in aws-local-stepfunctions (npm
// aws-local-stepfunctions 3.0.0, the interpreter of the e2e harness) with
// scripted Task answers: Retry, the catch-all terminal path and the Choice's
// Default as Step Functions would take them.
func TestRunsLocally(t *testing.T) {
	root := repoRoot(t)
	node := filepath.Join(root, "node_modules", ".bin", "node")
	if _, err := os.Stat(filepath.Join(root, "node_modules", "aws-local-stepfunctions")); err != nil {
		t.Fatalf("aws-local-stepfunctions is missing: run `bash scripts/install-tools.sh` first (%v)", err)
	}
	incident := map[string]any{"IncidentId": "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", "Exams": []any{}}
	scored := func(result int) map[string]any {
		return map[string]any{"IncidentId": "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", "Exams": []any{map[string]any{"Result": result}}}
	}
	closed := map[string]any{"IncidentId": "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", "Closed": true}
	happy := map[string][]answer{
		"RegisterIncident": {ok(incident)},
		"ScheduleExam":     {ok(incident)},
		"SendNotification": {ok(scored(0))},
		"ResolveIncident":  {ok(closed)},
	}
	with := func(changes map[string][]answer) map[string][]answer {
		out := map[string][]answer{}
		for k, v := range happy {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		answers map[string][]answer
		status  string
		err     string
		calls   []string
		// recorded is the Failure.Error RecordFailure was given, if called.
		recorded string
	}{
		{name: "pass", answers: happy, status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "ResolveIncident"}},
		{name: "TransientError retried, then success", answers: with(map[string][]answer{
			"ScheduleExam": {fail("TransientError"), fail("TransientError"), ok(incident)},
		}), status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "ScheduleExam", "ScheduleExam", "SendNotification", "ResolveIncident"}},
		{name: "Lambda.ServiceException after SendNotification ran: retried", answers: with(map[string][]answer{
			"SendNotification": {fail("Lambda.ServiceException"), ok(scored(0))},
		}), status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "SendNotification", "ResolveIncident"}},
		{name: "TransientError for good: six retries, then recorded", answers: with(map[string][]answer{
			"ResolveIncident": repeat(fail("TransientError"), 7),
			"RecordFailure":   {ok(closed)},
		}), status: "FAILED", err: "TransientError", recorded: "TransientError",
			calls: slices.Concat([]string{"RegisterIncident", "ScheduleExam", "SendNotification"}, slices.Repeat([]string{"ResolveIncident"}, 7), []string{"RecordFailure"})},
		{name: "permanent error: not retried, recorded", answers: with(map[string][]answer{
			"ScheduleExam":  {fail("wrapError")},
			"RecordFailure": {ok(closed)},
		}), status: "FAILED", err: "wrapError", recorded: "wrapError",
			calls: []string{"RegisterIncident", "ScheduleExam", "RecordFailure"}},
		{name: "SendNotification refuses its input: recorded", answers: with(map[string][]answer{
			"SendNotification": {fail("InvalidIncident")},
			"RecordFailure":    {ok(closed)},
		}), status: "FAILED", err: "InvalidIncident", recorded: "InvalidIncident",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "RecordFailure"}},
		{name: "escalation fails: recorded by RecordFailure", answers: with(map[string][]answer{
			"SendNotification":         {ok(scored(2))},
			"TakeAdministrativeAction": {fail("wrapError")},
			"RecordFailure":            {ok(closed)},
		}), status: "FAILED", err: "wrapError", recorded: "wrapError",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "TakeAdministrativeAction", "RecordFailure"}},
		{name: "recording fails too: the execution fails with the original error", answers: with(map[string][]answer{
			"ScheduleExam":  {fail("wrapError")},
			"RecordFailure": {fail("InvalidIncident")},
		}), status: "FAILED", err: "wrapError", recorded: "wrapError",
			calls: []string{"RegisterIncident", "ScheduleExam", "RecordFailure"}},
		{name: "RegisterIncident fails: no incident to record on", answers: with(map[string][]answer{
			"RegisterIncident": {fail("InvalidIncident")},
		}), status: "FAILED", err: "InvalidIncident",
			calls: []string{"RegisterIncident"}},
		{name: "too many exams: escalated, not a failure", answers: with(map[string][]answer{
			"ScheduleExam":             {fail("StudentExceededAllowableExamRetries")},
			"TakeAdministrativeAction": {ok(closed)},
		}), status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "TakeAdministrativeAction"}},
		{name: "the exam window closes: escalated", answers: with(map[string][]answer{
			"SendNotification":         {fail("States.Timeout")},
			"TakeAdministrativeAction": {ok(closed)},
		}), status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "TakeAdministrativeAction"}},
		{name: "fail, then did not sit", answers: with(map[string][]answer{
			"ScheduleExam":             {ok(incident), ok(scored(1))},
			"SendNotification":         {ok(scored(1)), ok(scored(2))},
			"TakeAdministrativeAction": {ok(closed)},
		}), status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "ScheduleExam", "SendNotification", "TakeAdministrativeAction"}},
		{name: "Choice Default: an unknown result escalates", answers: with(map[string][]answer{
			"SendNotification":         {ok(scored(7))},
			"TakeAdministrativeAction": {ok(closed)},
		}), status: "SUCCEEDED",
			calls: []string{"RegisterIncident", "ScheduleExam", "SendNotification", "TakeAdministrativeAction"}},
	}
	dir := t.TempDir()
	definition := filepath.Join(dir, File)
	if err := os.WriteFile(definition, []byte(Definition()), 0o600); err != nil {
		t.Fatal(err)
	}
	var scenarios []map[string]any
	for _, tt := range tests {
		scenarios = append(scenarios, map[string]any{"input": map[string]any{"StudentId": "s"}, "answers": tt.answers})
	}
	data, _ := json.Marshal(map[string]any{"definitionFile": definition, "scenarios": scenarios})
	path := filepath.Join(dir, "scenarios.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, filepath.Join("testdata", "run.mjs"), path).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("run.mjs: %v\n%s", err, exit.Stderr)
		}
		t.Fatal(err)
	}
	var runs []localRun
	if err := json.Unmarshal(out, &runs); err != nil || len(runs) != len(tests) {
		t.Fatalf("run.mjs printed %s: %v, want %d results", out, err, len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := runs[i]
			var calls []string
			recorded := ""
			for _, c := range run.Calls {
				calls = append(calls, c.State)
				if c.State == "RecordFailure" {
					failure, _ := c.Payload["Failure"].(map[string]any)
					recorded, _ = failure["Error"].(string)
					if c.Payload["IncidentId"] == nil {
						t.Errorf("RecordFailure got no incident: %v", c.Payload)
					}
				}
			}
			if run.Status != tt.status || run.Error != tt.err || !slices.Equal(calls, tt.calls) || recorded != tt.recorded {
				t.Errorf("status %s error %q (%s), calls %v, recorded %q\nwant status %s error %q, calls %v, recorded %q",
					run.Status, run.Error, run.Cause, calls, recorded, tt.status, tt.err, tt.calls, tt.recorded)
			}
		})
	}
}
