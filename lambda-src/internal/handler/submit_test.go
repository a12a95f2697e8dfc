package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/submit"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

const (
	origin = "https://exams.example.com"
	token  = "AQCEAAAAKgAAAAMAAAAAAAAAAf+submit-token"
)

type submitFixture struct {
	h     *submit.SubmitExam
	sfn   *fakeStepFunctions
	store *storage.Store
	inc   domain.Incident
}

// newSubmitFixture saves an incident whose exam waits for a score with the
// task token token, open in a fake Step Functions.
func newSubmitFixture(t testing.TB) *submitFixture {
	t.Helper()
	store := newTestStore(t)
	return newSubmitFixtureOn(t, store, notified(t, store, token))
}

func newSubmitFixtureOn(t testing.TB, store *storage.Store, inc domain.Incident) *submitFixture {
	t.Helper()
	fake := newFakeStepFunctions(t, token)
	h := &submit.SubmitExam{
		Store: store, SFN: fake.client(), Log: discard(), AllowOrigin: origin,
		// A generous attempt timeout: on a loaded machine a slow answer must
		// not pass for the lost answer some cases inject.
		CallbackAttempts: 3, CallbackTimeout: time.Second, CallbackBackoff: time.Millisecond,
	}
	return &submitFixture{h: h, sfn: fake, store: store, inc: inc}
}

func (f *submitFixture) body(score any) string {
	return submission(f.inc.IncidentId, f.inc.Exams[0].ExamId, score, token)
}

func submission(incident, exam string, score any, token string) string {
	data, _ := json.Marshal(map[string]any{"IncidentId": incident, "ExamId": exam, "Score": score, "TaskToken": token})
	return string(data)
}

// submit posts body and checks what every answer must have: JSON and the
// CORS headers with the configured origin.
func (f *submitFixture) submit(t testing.TB, body string) (events.APIGatewayProxyResponse, string) {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: body})
	if err != nil {
		t.Fatalf("the Lambda failed instead of answering: %v", err)
	}
	checkHeaders(t, resp, origin)
	var msg struct{ Message string }
	json.Unmarshal([]byte(resp.Body), &msg)
	return resp, msg.Message
}

func checkHeaders(t testing.TB, resp events.APIGatewayProxyResponse, origin string) {
	t.Helper()
	if got := resp.Headers["Access-Control-Allow-Origin"]; got != origin {
		t.Errorf("%d response: Access-Control-Allow-Origin = %q, want %q", resp.StatusCode, got, origin)
	}
	for _, h := range []string{"Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
		if resp.Headers[h] == "" {
			t.Errorf("%d response lacks CORS header %s", resp.StatusCode, h)
		}
	}
	if resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
		t.Errorf("response is not JSON: %v %s", resp.Headers, resp.Body)
	}
}

func (f *submitFixture) stored(t testing.TB) domain.Incident {
	t.Helper()
	return load(t, f.store, f.inc.IncidentId)
}

func TestSubmitExamSuccess(t *testing.T) {
	for _, score := range []any{80, "80", 0} {
		t.Run(fmt.Sprint(score), func(t *testing.T) {
			f := newSubmitFixture(t)
			resp, _ := f.submit(t, f.body(score))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, resp.Body)
			}
			want := 80
			if score == 0 {
				want = 0
			}
			stored := f.stored(t)
			if e := stored.Exams[0]; !e.Scored() || *e.Score != want || stored.Version != f.inc.Version+1 {
				t.Errorf("stored = %+v", stored)
			}
			outputs := f.sfn.completed()
			if len(outputs) != 1 || f.sfn.state(token) != "done" {
				t.Fatalf("callbacks = %v, want one", outputs)
			}
			var output domain.Incident
			if err := json.Unmarshal([]byte(outputs[0]), &output); err != nil {
				t.Fatal(err)
			}
			// The state machine's next step saves with this version: it must
			// be the stored one.
			wantResult := fmt.Sprintf(`"Result":%d`, domain.ResultOf(want))
			if output.Version != stored.Version || *output.Exams[0].Score != want || !strings.Contains(outputs[0], wantResult) {
				t.Errorf("callback output = %s, stored version %d", outputs[0], stored.Version)
			}
			if strings.Contains(outputs[0], "Digest") || strings.Contains(outputs[0], token) {
				t.Errorf("the callback output carries the token or its digest: %s", outputs[0])
			}
		})
	}
}

func TestSubmitExamBase64AndUpperCaseIds(t *testing.T) {
	f := newSubmitFixture(t)
	body := submission(strings.ToUpper(f.inc.IncidentId), strings.ToUpper(f.inc.Exams[0].ExamId), 10, token)
	resp, err := f.h.Handle(context.Background(), events.APIGatewayProxyRequest{
		Body: base64.StdEncoding.EncodeToString([]byte(body)), IsBase64Encoded: true,
	})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
	}
	if got := f.stored(t).Exams[0].Score; got == nil || *got != 10 {
		t.Errorf("score = %v, want 10", got)
	}
}

// TestSubmitExamRejections: every refusal answers with the field at fault
// and leaves the incident and the execution as they were.
func TestSubmitExamRejections(t *testing.T) {
	other := func(t *testing.T, f *submitFixture) domain.Incident {
		// Another student's incident, waiting with its own token.
		inc := scheduled(t, f.store)
		h := newSendNotification(f.store, &outbox{})
		if _, err := h.Handle(context.Background(), notifyPayload(t, inc, "other-token")); err != nil {
			t.Fatal(err)
		}
		f.sfn.set("other-token", "open")
		return inc
	}
	tests := []struct {
		name      string
		setup     func(*testing.T, *submitFixture) string
		status    int
		inMessage string
	}{
		{"bad score", func(t *testing.T, f *submitFixture) string { return f.body(120) }, 400, "Score"},
		{"bad json", func(t *testing.T, f *submitFixture) string { return "{" }, 400, "body"},
		{"token over 1024 characters", func(t *testing.T, f *submitFixture) string {
			return submission(f.inc.IncidentId, f.inc.Exams[0].ExamId, 80, strings.Repeat("t", 1025))
		}, 400, "TaskToken"},
		{"id in braces", func(t *testing.T, f *submitFixture) string {
			return submission("{"+f.inc.IncidentId+"}", f.inc.Exams[0].ExamId, 80, token)
		}, 400, "IncidentId"},
		{"unknown incident", func(t *testing.T, f *submitFixture) string {
			return submission("11111111-2222-4333-8444-555555555555", f.inc.Exams[0].ExamId, 80, token)
		}, 404, "IncidentId"},
		{"unknown exam", func(t *testing.T, f *submitFixture) string {
			return submission(f.inc.IncidentId, "11111111-2222-4333-8444-555555555555", 80, token)
		}, 404, "ExamId"},
		{"forged token", func(t *testing.T, f *submitFixture) string {
			f.sfn.set("forged", "open") // even a token Step Functions would take
			return submission(f.inc.IncidentId, f.inc.Exams[0].ExamId, 80, "forged")
		}, 403, "TaskToken"},
		{"another incident's token", func(t *testing.T, f *submitFixture) string {
			other(t, f)
			return submission(f.inc.IncidentId, f.inc.Exams[0].ExamId, 80, "other-token")
		}, 403, "TaskToken"},
		{"this token for another incident", func(t *testing.T, f *submitFixture) string {
			inc := other(t, f)
			return submission(inc.IncidentId, inc.Exams[0].ExamId, 80, token)
		}, 403, "TaskToken"},
		{"token of a message since replaced", func(t *testing.T, f *submitFixture) string {
			h := newSendNotification(f.store, &outbox{})
			if _, err := h.Handle(context.Background(), notifyPayload(t, f.inc, "newer-token")); err != nil {
				t.Fatal(err)
			}
			return f.body(80)
		}, 403, "TaskToken"},
		{"token already used", func(t *testing.T, f *submitFixture) string {
			f.sfn.set(token, "done")
			return f.body(80)
		}, 409, "TaskToken"},
		{"token timed out", func(t *testing.T, f *submitFixture) string {
			f.sfn.set(token, "timedout")
			return f.body(80)
		}, 409, "TaskToken"},
		{"token unknown to Step Functions", func(t *testing.T, f *submitFixture) string {
			f.sfn.set(token, "")
			return f.body(80)
		}, 409, "TaskToken"},
		{"callback refused after the write", func(t *testing.T, f *submitFixture) string {
			f.sfn.faults = []sfnFault{sfnNormal}
			f.sfn.set(token, "open")
			// The window closes between the heartbeat and the callback.
			f.h.SFN = &closingWindow{SFNAPI: f.h.SFN, fake: f.sfn}
			return f.body(80)
		}, 409, "TaskToken"},
		{"exam already scored", func(t *testing.T, f *submitFixture) string {
			inc := f.stored(t)
			inc.Exams[0].Score, inc.Exams[0].ScoredBy = intp(50), "earlier"
			if err := f.store.Save(context.Background(), &inc); err != nil {
				t.Fatal(err)
			}
			return f.body(80)
		}, 409, "ExamId"},
		{"incident closed", func(t *testing.T, f *submitFixture) string {
			inc := f.stored(t)
			inc.Escalate(clock)
			if err := f.store.Save(context.Background(), &inc); err != nil {
				t.Fatal(err)
			}
			return f.body(80)
		}, 409, "ExamId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSubmitFixture(t)
			body := tt.setup(t, f)
			before := f.stored(t)
			resp, msg := f.submit(t, body)
			if resp.StatusCode != tt.status || !strings.HasPrefix(msg, tt.inMessage) {
				t.Fatalf("got %d %s, want %d naming %s", resp.StatusCode, resp.Body, tt.status, tt.inMessage)
			}
			after := f.stored(t)
			// A refused callback withdraws the score: only Version moves.
			before.Version, after.Version = 0, 0
			if !reflect.DeepEqual(before, after) {
				t.Errorf("a %d changed the incident:\n%+v\n%+v", resp.StatusCode, before, after)
			}
			if len(f.sfn.completed()) != 0 {
				t.Errorf("a %d resumed the execution", resp.StatusCode)
			}
		})
	}
}

// closingWindow times the task out right after the heartbeat passed.
type closingWindow struct {
	submit.SFNAPI
	fake *fakeStepFunctions
}

func (c *closingWindow) Call(ctx context.Context, operation string, in, out any, opts ...awsapi.Option) error {
	err := c.SFNAPI.Call(ctx, operation, in, out, opts...)
	if operation == "SendTaskHeartbeat" {
		c.fake.set(token, "timedout")
	}
	return err
}

// TestSubmitExamCallbackFaults: SubmitExam keeps the score unless Step
// Functions definitely refused the callback.
func TestSubmitExamCallbackFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults []sfnFault
		// tokenState, if set, is the token's state after the first attempt.
		tokenState string
		status     int
		kept       bool
		resumed    bool
	}{
		{"accepted, the answer timed out, the retry finds the task done", []sfnFault{sfnHangAfter}, "", 200, true, true},
		{"accepted, 500, the retry finds the task done", []sfnFault{sfn500After}, "", 200, true, true},
		{"one 500 before processing, then accepted", []sfnFault{sfn500Before}, "", 200, true, true},
		{"throttled, then accepted", []sfnFault{sfnThrottle, sfnThrottle}, "", 200, true, true},
		{"every attempt unanswered", []sfnFault{sfn500Before, sfn500Before, sfn500Before}, "", 202, true, false},
		{"a timeout, then the window closed", []sfnFault{sfn500Before}, "timedout", 409, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSubmitFixture(t)
			f.sfn.faults = tt.faults
			if tt.tokenState != "" {
				f.h.SFN = &afterFirstSuccess{SFNAPI: f.h.SFN, then: func() { f.sfn.set(token, tt.tokenState) }}
			}
			resp, _ := f.submit(t, f.body(90))
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, tt.status)
			}
			stored := f.stored(t)
			if kept := stored.Exams[0].Scored(); kept != tt.kept {
				t.Errorf("score kept = %v, want %v: %+v", kept, tt.kept, stored.Exams[0])
			}
			if resumed := len(f.sfn.completed()) == 1; resumed != tt.resumed {
				t.Errorf("execution resumed = %v, want %v", resumed, tt.resumed)
			}
			if resp.StatusCode == 200 || resp.StatusCode == 202 {
				var out domain.Incident
				if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || out.Version != stored.Version {
					t.Errorf("body %s is not the stored incident", resp.Body)
				}
			}
		})
	}
}

// afterFirstSuccess runs then after the first SendTaskSuccess attempt.
type afterFirstSuccess struct {
	submit.SFNAPI
	then func()
	done bool
}

func (a *afterFirstSuccess) Call(ctx context.Context, operation string, in, out any, opts ...awsapi.Option) error {
	err := a.SFNAPI.Call(ctx, operation, in, out, opts...)
	if operation == "SendTaskSuccess" && !a.done {
		a.done = true
		a.then()
	}
	return err
}

// TestSubmitExamDynamoDBFaults: a throttled table answers 503 and changes
// nothing; a score whose write landed but whose answer was lost is found on
// the reload and the execution resumed once.
func TestSubmitExamDynamoDBFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   dynamoFault
		status  int
		resumed bool
	}{
		{"throttled", dynamoFault{Status: 400, Type: "ProvisionedThroughputExceededException"}, 503, false},
		{"write throttled", dynamoFault{Op: "UpdateItem", Status: 400, Type: "ThrottlingException"}, 503, false},
		{"write landed, answer lost", dynamoFault{Op: "UpdateItem", Status: 500, Type: "InternalServerError", After: true, Times: 1}, 200, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := newTable(t)
			direct := storage.New(dynamo(), table)
			f := newSubmitFixtureOn(t, direct, notified(t, direct, token))
			before := f.stored(t)
			proxy := newDynamoProxy(t, tt.fault)
			f.h.Store = storeVia(proxy.URL, table)
			resp, _ := f.submit(t, f.body(77))
			if resp.StatusCode != tt.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, tt.status)
			}
			after := f.stored(t)
			if resumed := len(f.sfn.completed()) == 1; resumed != tt.resumed {
				t.Errorf("resumed = %v, want %v", resumed, tt.resumed)
			}
			if !tt.resumed {
				if !reflect.DeepEqual(before, after) || resp.Headers["Retry-After"] == "" {
					t.Errorf("a 503 changed the item or lacks Retry-After: %+v", after)
				}
				return
			}
			if after.Version != before.Version+1 || *after.Exams[0].Score != 77 {
				t.Errorf("stored %+v, want the score written once", after)
			}
		})
	}
}

// TestSubmitExamConcurrent: of submissions racing for one exam with the
// exam's token, exactly one is stored and resumes the execution; the others
// answer 409. Scores of 0 race like any other: an unscored exam is not one
// scored 0.
func TestSubmitExamConcurrent(t *testing.T) {
	for name, scores := range map[string][]int{
		"different scores": {10, 20, 30, 40, 50, 60},
		"all zero":         {0, 0, 0, 0, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			f := newSubmitFixture(t)
			var wg sync.WaitGroup
			statuses := make([]int, len(scores))
			for i, score := range scores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := f.h.Handle(context.Background(), events.APIGatewayProxyRequest{Body: f.body(score)})
					if err != nil {
						t.Error(err)
					}
					statuses[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			winners := 0
			var winner int
			for i, s := range statuses {
				switch s {
				case http.StatusOK:
					winners++
					winner = scores[i]
				case http.StatusConflict, http.StatusServiceUnavailable:
				default:
					t.Errorf("submission %d answered %d", i, s)
				}
			}
			stored := f.stored(t)
			if winners != 1 || stored.Exams[0].Score == nil || *stored.Exams[0].Score != winner || len(f.sfn.completed()) != 1 {
				t.Errorf("statuses %v, stored %+v, %d callbacks: want exactly one winner", statuses, stored.Exams[0], len(f.sfn.completed()))
			}
		})
	}
}

func TestNewSubmitExam(t *testing.T) {
	tests := []struct {
		value, want, err string
	}{
		{"", "*", ""},
		{"*", "*", ""},
		{"https://exams.example.com", "https://exams.example.com", ""},
		{"https://exams.example.com/", "https://exams.example.com", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080", ""},
		{"exams.example.com", "", "CORS_ALLOW_ORIGIN"},
		{"https://exams.example.com/take", "", "CORS_ALLOW_ORIGIN"},
		{"https://a.example.com, https://b.example.com", "", "CORS_ALLOW_ORIGIN"},
	}
	for _, tt := range tests {
		h, err := submit.NewSubmitExam(context.Background(), env(map[string]string{"TABLE_NAME": "t", "CORS_ALLOW_ORIGIN": tt.value}))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("CORS_ALLOW_ORIGIN=%q: %v, want an error naming %s", tt.value, err, tt.err)
			}
			continue
		}
		if err != nil || h.AllowOrigin != tt.want {
			t.Errorf("CORS_ALLOW_ORIGIN=%q: %+v, %v, want origin %s", tt.value, h, err, tt.want)
			continue
		}
		// Every answer, a 400 included, carries it.
		resp, _ := h.Handle(context.Background(), events.APIGatewayProxyRequest{Body: "{"})
		checkHeaders(t, resp, tt.want)
	}
	if _, err := submit.NewSubmitExam(context.Background(), env(nil)); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("no TABLE_NAME: %v", err)
	}
}
