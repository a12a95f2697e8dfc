package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// h is the harness every test uses, started once by TestMain.
var h *harness

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// make test (the fast set): the end-to-end run needs the tools and cdk.out; make e2e and make test-all run it.
		fmt.Fprintln(os.Stderr, "e2e: skipped in -short mode (make e2e runs it)")
		os.Exit(0)
	}
	// make tracetest-local: the same tests, run again inside the rig's namespaces.
	if rigRequested() && !inRigNamespace() {
		os.Exit(runInRigNamespace())
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	code, err := run(ctx, m, start)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: could not start: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: total %.2fs\n", time.Since(start).Seconds())
	os.Exit(code)
}

// run starts the harness (and inside the rig's namespaces the rig), runs the tests and stops
// everything it started.
func run(ctx context.Context, m *testing.M, start time.Time) (int, error) {
	root, err := repoRoot()
	if err != nil {
		return 0, err
	}
	app, err := loadApp(root)
	if err != nil {
		return 0, err
	}
	var cfg *rigConfig
	if inRigNamespace() {
		if cfg, err = loadRigConfig(app); err != nil {
			return 0, err
		}
		dir, err := os.MkdirTemp("", "e2e-netns-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		if err := setUpRigNamespace(dir, cfg.api); err != nil {
			return 0, err
		}
	}
	if h, err = startHarness(ctx, app); err != nil {
		return 0, fmt.Errorf("the harness: %w", err)
	}
	defer h.stop()
	fmt.Fprintf(os.Stderr, "e2e: harness up in %.2fs (%s)\n", time.Since(start).Seconds(), strings.Join(h.timings, ", "))
	if cfg != nil {
		rigStart := time.Now()
		if rg, err = startRig(ctx, h, cfg, nil); err != nil {
			return 0, fmt.Errorf("the Tracetest rig: %w\n%s", err, h.logs())
		}
		defer rg.stop()
		fmt.Fprintf(os.Stderr, "e2e: Tracetest rig up in %.2fs (%s)\n", time.Since(rigStart).Seconds(), strings.Join(rg.timings, ", "))
		rigStart = time.Now()
		if rgLate, err = startRig(ctx, h, cfg, rg); err != nil {
			return 0, fmt.Errorf("the second Tracetest rig: %w\n%s", err, h.logs())
		}
		defer rgLate.stop()
		fmt.Fprintf(os.Stderr, "e2e: second Tracetest rig (port %d) up in %.2fs (%s)\n", rgLate.port, time.Since(rigStart).Seconds(), strings.Join(rgLate.timings, ", "))
	}
	return m.Run(), nil
}

// fatal stops a scenario with the step that failed, why, and the tails of every process's
// output (Lambdas through their emulators, DynamoDB Local, the driver).
func fatal(t *testing.T, step string, err error) {
	t.Helper()
	t.Fatalf("step %q failed: %v\n%s", step, err, h.logs())
}

// openIncident POSTs body to /incident of machine and returns the execution it started.
func openIncident(t *testing.T, ctx context.Context, machine, body string) *execution {
	t.Helper()
	resp, err := h.post(ctx, machine, "/incident", body)
	if err != nil {
		fatal(t, "POST /incident", err)
	}
	if resp.Status != 200 {
		fatal(t, "POST /incident", fmt.Errorf("status %d, want 200: %s", resp.Status, resp.Body))
	}
	var out struct {
		ExecutionArn string  `json:"executionArn"`
		StartDate    float64 `json:"startDate"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || !strings.HasSuffix(out.ExecutionArn, ":"+resp.RequestID) || out.StartDate == 0 {
		fatal(t, "POST /incident", fmt.Errorf("answer %s: want executionArn ending with the request id %s and a startDate (%v)", resp.Body, resp.RequestID, err))
	}
	e := h.execution(resp.RequestID)
	if e == nil {
		fatal(t, "POST /incident", fmt.Errorf("no execution named after request %s", resp.RequestID))
	}
	return e
}

// waitNotification waits for the execution's n-th SendNotification (1-based) to have
// been sent and returns its token and incident.
func waitNotification(t *testing.T, ctx context.Context, e *execution, n int) notification {
	t.Helper()
	step := fmt.Sprintf("wait for notification %d", n)
	for {
		h.mu.Lock()
		if len(e.notifications) >= n {
			got := e.notifications[n-1]
			h.mu.Unlock()
			if got.Incident.IncidentId == "" || len(got.Incident.Exams) != n || got.Incident.Exams[0].ExamId == "" {
				fatal(t, step, fmt.Errorf("SendNotification payload has incident %+v, want an IncidentId and %d exams, newest with an ExamId", got.Incident, n))
			}
			return got
		}
		arrived := e.notificationArrived
		h.mu.Unlock()
		select {
		case <-arrived:
		case <-e.done:
			fatal(t, step, fmt.Errorf("execution ended first: %s, path %v", e.summary(), e.path()))
		case <-ctx.Done():
			fatal(t, step, fmt.Errorf("%w; execution path so far %v", ctx.Err(), e.path()))
		}
	}
}

// waitDone waits for the execution to end and requires it to have succeeded.
func waitDone(t *testing.T, ctx context.Context, e *execution) json.RawMessage {
	t.Helper()
	select {
	case <-e.done:
	case <-ctx.Done():
		fatal(t, "wait for the execution to end", fmt.Errorf("%w; path so far %v", ctx.Err(), e.path()))
	}
	if e.status != "SUCCEEDED" {
		fatal(t, "execution", fmt.Errorf("%s; path %v; last events:\n%s", e.summary(), e.path(), e.lastEvents(4)))
	}
	return e.output
}

func (e *execution) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.status == "SUCCEEDED" {
		return "SUCCEEDED"
	}
	return fmt.Sprintf("%s with %s: %s", e.status, e.err, e.cause)
}

// path is the names of the states the execution entered, in order.
func (e *execution) path() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.Type == "StateEntered" {
			out = append(out, ev.State.Name)
		}
	}
	return out
}

// lastEvents formats the execution's last n events for a failure message.
func (e *execution) lastEvents(n int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.events[max(0, len(e.events)-n):] {
		line, _ := json.Marshal(ev)
		b.WriteString("    " + string(line) + "\n")
	}
	return b.String()
}

// enteredWith returns the input of the first time the execution entered state.
func (e *execution) enteredWith(state string) (json.RawMessage, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range e.events {
		if ev.Type == "StateEntered" && ev.State.Name == state {
			return ev.State.Input, true
		}
	}
	return nil, false
}

// item reads an incident straight from DynamoDB Local (strongly consistent).
func (h *harness) item(ctx context.Context, id string) (incident, bool, error) {
	out, err := h.ddb.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(tableName),
		Key:            map[string]types.AttributeValue{"IncidentId": &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return incident{}, false, fmt.Errorf("get incident %s from DynamoDB Local: %w", id, err)
	}
	if out.Item == nil {
		return incident{}, false, nil
	}
	var inc incident
	if err := attributevalue.UnmarshalMap(out.Item, &inc); err != nil {
		return incident{}, false, fmt.Errorf("decode incident %s: %w", id, err)
	}
	return inc, true, nil
}

func mustItem(t *testing.T, ctx context.Context, step, id string) incident {
	t.Helper()
	inc, ok, err := h.item(ctx, id)
	if err != nil {
		fatal(t, step, err)
	}
	if !ok {
		fatal(t, step, fmt.Errorf("no item for incident %s in table %s", id, tableName))
	}
	return inc
}

// unscored stands for an exam without a score in outcome.scores.
const unscored = -1

func scoreOf(ex exam) int {
	if ex.Score == nil {
		return unscored
	}
	return *ex.Score
}

// outcome is what a scenario expects at the end.
type outcome struct {
	path     []string
	resolved bool  // else AdminActionRequired
	scores   []int // newest first; unscored for an exam with no score
	results  []int
	caught   string // error TakeAdministrativeAction received in $.Error, if any
}

func checkOutcome(t *testing.T, ctx context.Context, e *execution, studentID, incidentID string, want outcome) {
	t.Helper()
	output := waitDone(t, ctx, e)
	if got := e.path(); !slices.Equal(got, want.path) {
		fatal(t, "execution path", fmt.Errorf("got %v, want %v", got, want.path))
	}
	var final incident
	if err := json.Unmarshal(output, &final); err != nil {
		fatal(t, "execution output", fmt.Errorf("%s: %w", output, err))
	}
	if final.IncidentId != incidentID || final.IncidentResolved != want.resolved || final.AdminActionRequired == want.resolved {
		fatal(t, "execution output", fmt.Errorf("got %s, want incident %s resolved=%v admin=%v", output, incidentID, want.resolved, !want.resolved))
	}

	inc := mustItem(t, ctx, "read the final item", incidentID)
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	check(inc.StudentId == studentID, "StudentId = %q, want %q", inc.StudentId, studentID)
	check(inc.IncidentResolved == want.resolved, "IncidentResolved = %v, want %v", inc.IncidentResolved, want.resolved)
	check(inc.AdminActionRequired == !want.resolved, "AdminActionRequired = %v, want %v", inc.AdminActionRequired, !want.resolved)
	_, err := time.Parse(time.RFC3339Nano, inc.ResolutionDate)
	check(err == nil, "ResolutionDate = %q, want an RFC 3339 time", inc.ResolutionDate)
	_, err = time.Parse(time.RFC3339Nano, inc.IncidentDate)
	check(err == nil, "IncidentDate = %q, want an RFC 3339 time", inc.IncidentDate)
	var scores, results []int
	ids := map[string]bool{}
	for i, ex := range inc.Exams {
		scores = append(scores, scoreOf(ex))
		results = append(results, ex.Result)
		check(ex.NotificationSent, "Exams[%d].NotificationSent = false, want true", i)
		check(ex.ExamId != "" && !ids[ex.ExamId], "Exams[%d].ExamId = %q, want a new id", i, ex.ExamId)
		ids[ex.ExamId] = true
		_, err := time.Parse(time.RFC3339Nano, ex.ExamDeadline)
		check(err == nil, "Exams[%d].ExamDeadline = %q, want an RFC 3339 time", i, ex.ExamDeadline)
	}
	check(slices.Equal(scores, want.scores), "exam scores (newest first) = %v, want %v", scores, want.scores)
	check(slices.Equal(results, want.results), "exam results (newest first) = %v, want %v", results, want.results)

	if input, ok := e.enteredWith("TakeAdministrativeAction"); ok {
		var in struct {
			Error *struct{ Error, Cause string }
		}
		json.Unmarshal(input, &in)
		got := ""
		if in.Error != nil {
			got = in.Error.Error
		}
		check(got == want.caught, "TakeAdministrativeAction got Error %q, want %q (input %s)", got, want.caught, input)
	}
	if len(problems) > 0 {
		fatal(t, "check the final DynamoDB item", fmt.Errorf("incident %s:\n  %s\nitem: %+v", incidentID, strings.Join(problems, "\n  "), inc))
	}
}
