package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tracetest-aws/stepfunctions-cdk/api"
)

var (
	passPath = []string{"RegisterIncident", "ScheduleExam", "SendNotification", "HasStudentPassedExam", "ResolveIncident"}
	retry    = []string{"ScheduleExam", "SendNotification", "HasStudentPassedExam"}
)

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func scenarioContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// submit POSTs an exam result to /exam.
func submit(t *testing.T, ctx context.Context, machine, incidentID, examID string, score any, token string) apiResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"IncidentId": incidentID, "ExamId": examID, "Score": score, "TaskToken": token})
	resp, err := h.post(ctx, machine, "/exam", string(body))
	if err != nil {
		fatal(t, "POST /exam", err)
	}
	return resp
}

// submitOK POSTs the exam result and requires a 200.
func submitOK(t *testing.T, ctx context.Context, machine string, n notification, score any) {
	t.Helper()
	resp := submit(t, ctx, machine, n.Incident.IncidentId, n.Incident.Exams[0].ExamId, score, n.Token)
	if resp.Status != 200 {
		fatal(t, fmt.Sprintf("POST /exam score %v", score), fmt.Errorf("status %d, want 200: %s", resp.Status, resp.Body))
	}
	if h.callbacksAccepted(n.Token) == 0 {
		fatal(t, "POST /exam", fmt.Errorf("SubmitExam answered 200 but made no successful SendTaskSuccess with the token (calls: %+v)", h.sfnCallsFor(n.Token)))
	}
}

// submitRejected POSTs an exam result that must be refused with status and leave the
// incident's item exactly as it was.
// checkID names the item that must not change (the incident the submission is about, or
// the real one when the submission names an unknown incident).
func submitRejected(t *testing.T, ctx context.Context, step, machine, checkID, incidentID, examID string, score any, token string, status int, message string) {
	t.Helper()
	before := mustItem(t, ctx, step+": read the item before", checkID)
	resp := submit(t, ctx, machine, incidentID, examID, score, token)
	var body struct{ Message string }
	json.Unmarshal(resp.Body, &body)
	if resp.Status != status || !strings.Contains(strings.ToLower(body.Message), strings.ToLower(message)) {
		fatal(t, step, fmt.Errorf("status %d body %s, want %d with a message mentioning %q", resp.Status, resp.Body, status, message))
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != examOrigin {
		fatal(t, step, fmt.Errorf("%d answer has CORS origin %q, want SubmitExam's CORS_ALLOW_ORIGIN %s: %v", resp.Status, got, examOrigin, resp.Header))
	}
	after := mustItem(t, ctx, step+": read the item after", checkID)
	if !reflect.DeepEqual(before, after) {
		fatal(t, step, fmt.Errorf("a %d changed the item:\nbefore %+v\nafter  %+v", status, before, after))
	}
}

func TestPassAtFirstAttempt(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncident(t, ctx, mainMachine, `{"StudentId": "student-pass", "IncidentDate": "2026-11-20T10:00:00Z"}`)
	n := waitNotification(t, ctx, e, 1)
	submitOK(t, ctx, mainMachine, n, 80)
	checkOutcome(t, ctx, e, "student-pass", n.Incident.IncidentId, outcome{
		path: passPath, resolved: true, scores: []int{80}, results: []int{0},
	})
	if inc := mustItem(t, ctx, "IncidentDate kept", n.Incident.IncidentId); !strings.HasPrefix(inc.IncidentDate, "2026-11-20T10:00:00") {
		fatal(t, "IncidentDate kept", fmt.Errorf("IncidentDate = %q, want the one posted, 2026-11-20T10:00:00Z", inc.IncidentDate))
	}
}

func TestFailFailPass(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncident(t, ctx, mainMachine, `{"StudentId": "student-ffp"}`)
	// Scores as upstream's exam.yaml sends them (a string) and as numbers.
	var id string
	for i, score := range []any{50, "60", 90} {
		n := waitNotification(t, ctx, e, i+1)
		id = n.Incident.IncidentId
		submitOK(t, ctx, mainMachine, n, score)
	}
	checkOutcome(t, ctx, e, "student-ffp", id, outcome{
		path:     concat(passPath[:4], retry, retry, passPath[4:]),
		resolved: true, scores: []int{90, 60, 50}, results: []int{0, 1, 1},
	})
}

func TestThreeFailsTakeAdministrativeAction(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncident(t, ctx, mainMachine, `{"StudentId": "student-fff"}`)
	var id string
	for i, score := range []int{10, 20, 75} { // 75: one under the pass mark
		n := waitNotification(t, ctx, e, i+1)
		id = n.Incident.IncidentId
		submitOK(t, ctx, mainMachine, n, score)
	}
	checkOutcome(t, ctx, e, "student-fff", id, outcome{
		path:     concat(passPath[:4], retry, retry, []string{"ScheduleExam", "TakeAdministrativeAction"}),
		resolved: false, scores: []int{75, 20, 10}, results: []int{1, 1, 1},
		caught: "StudentExceededAllowableExamRetries",
	})
}

func TestDidNotSitTakesAdministrativeAction(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncident(t, ctx, mainMachine, `{"StudentId": "student-absent"}`)
	n := waitNotification(t, ctx, e, 1)
	submitOK(t, ctx, mainMachine, n, 0)
	checkOutcome(t, ctx, e, "student-absent", n.Incident.IncidentId, outcome{
		path:     concat(passPath[:4], []string{"TakeAdministrativeAction"}),
		resolved: false, scores: []int{0}, results: []int{2},
	})
}

func TestBadIncidentIsRejectedWithoutExecution(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	for _, body := range []string{
		`{}`,
		`{"IncidentDate": "2026-11-20T10:00:00Z"}`,
		`{"StudentId": "   "}`,
		`{"StudentId": 7}`,
		`{"StudentId": "s", "IncidentDate": "last tuesday"}`,
		`{"StudentId": "s", "Score": 80}`,
		`not json`,
		``,
		`[{"StudentId": "s"}]`,
	} {
		resp, err := h.post(ctx, mainMachine, "/incident", body)
		if err != nil {
			fatal(t, "POST /incident "+body, err)
		}
		var msg struct{ Message string }
		json.Unmarshal(resp.Body, &msg)
		if resp.Status != 400 || msg.Message != api.IncidentValidationMessage || resp.Header.Get("Access-Control-Allow-Origin") != incidentOrigin() {
			fatal(t, "POST /incident "+body, fmt.Errorf("status %d headers %v body %s, want 400 with CORS origin %q and the message %q (the BAD_REQUEST_BODY gateway response)",
				resp.Status, resp.Header, resp.Body, incidentOrigin(), api.IncidentValidationMessage))
		}
		h.mu.Lock()
		started, seen := h.requests[resp.RequestID]
		h.mu.Unlock()
		if !seen || started || h.execution(resp.RequestID) != nil {
			fatal(t, "POST /incident "+body, fmt.Errorf("request %s (seen %v) started an execution", resp.RequestID, seen))
		}
	}
}

func TestCallbackNeverArrivesTimesOut(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	start := time.Now()
	e := openIncident(t, ctx, shortMachine, `{"StudentId": "student-silent"}`)
	n := waitNotification(t, ctx, e, 1)
	checkOutcome(t, ctx, e, "student-silent", n.Incident.IncidentId, outcome{
		path:     []string{"RegisterIncident", "ScheduleExam", "SendNotification", "TakeAdministrativeAction"},
		resolved: false, scores: []int{unscored}, results: []int{2},
		caught: "States.Timeout",
	})
	if took := time.Since(start); took < shortWindow {
		fatal(t, "deadline", fmt.Errorf("execution ended after %s, before the %s exam window", took, shortWindow))
	}
	// The student answers after the deadline: the token has timed out, nothing changes.
	submitRejected(t, ctx, "late POST /exam", shortMachine, n.Incident.IncidentId, n.Incident.IncidentId, n.Incident.Exams[0].ExamId, 95, n.Token, 409, "")
	// SubmitExam may refuse on the exam deadline itself; if it asked Step Functions, the
	// answer must have been TaskTimedOut.
	for _, c := range h.sfnCallsFor(n.Token) {
		if c.ErrorType != "TaskTimedOut" {
			fatal(t, "late POST /exam", fmt.Errorf("a Step Functions call with the timed-out token got %+v, want TaskTimedOut", c))
		}
	}
}

func TestSubmitExamRejectsWrongExamAndSpentToken(t *testing.T) {
	t.Parallel()
	ctx := scenarioContext(t)
	e := openIncident(t, ctx, mainMachine, `{"StudentId": "student-wrong"}`)
	n := waitNotification(t, ctx, e, 1)
	id, examID := n.Incident.IncidentId, n.Incident.Exams[0].ExamId

	submitRejected(t, ctx, "wrong ExamId", mainMachine, id, id, uuid.NewString(), 80, n.Token, 404, "exam")
	submitRejected(t, ctx, "wrong IncidentId", mainMachine, id, uuid.NewString(), examID, 80, n.Token, 404, "incident")
	submitRejected(t, ctx, "score out of range", mainMachine, id, id, examID, 101, n.Token, 400, "Score")
	submitRejected(t, ctx, "missing token", mainMachine, id, id, examID, 80, "", 400, "TaskToken")
	submitRejected(t, ctx, "unknown token", mainMachine, id, id, examID, 80, "AAAA"+n.Token[4:], 403, "")

	submitOK(t, ctx, mainMachine, n, 80)
	checkOutcome(t, ctx, e, "student-wrong", id, outcome{path: passPath, resolved: true, scores: []int{80}, results: []int{0}})

	// The same token again, after the execution moved on.
	submitRejected(t, ctx, "spent token", mainMachine, id, id, examID, 80, n.Token, 409, "")
	if got := h.callbacksAccepted(n.Token); got != 1 {
		fatal(t, "spent token", fmt.Errorf("%d successful SendTaskSuccess calls with the token, want 1", got))
	}
}
