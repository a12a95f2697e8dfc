package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

// fakeSFN stands in for Step Functions, which has no local implementation of
// callback tasks.
type fakeSFN struct {
	mu           sync.Mutex
	heartbeatErr error
	successErr   error
	heartbeats   int
	outputs      []string
}

func (f *fakeSFN) SendTaskHeartbeat(_ context.Context, in *sfn.SendTaskHeartbeatInput, _ ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heartbeats++
	if f.heartbeatErr != nil {
		return nil, f.heartbeatErr
	}
	return &sfn.SendTaskHeartbeatOutput{}, nil
}

func (f *fakeSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.successErr != nil {
		return nil, f.successErr
	}
	f.outputs = append(f.outputs, aws.ToString(in.Output))
	return &sfn.SendTaskSuccessOutput{}, nil
}

func TestParseSubmission(t *testing.T) {
	const id, exam = "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b"
	body := func(fields map[string]any) string {
		base := map[string]any{"IncidentId": id, "ExamId": exam, "Score": 80, "TaskToken": "tok"}
		for k, v := range fields {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		data, _ := json.Marshal(base)
		return string(data)
	}
	tests := []struct {
		name      string
		body      string
		wantScore int
		wantField string
	}{
		{"number", body(nil), 80, ""},
		{"numeric string as upstream sends", body(map[string]any{"Score": "80"}), 80, ""},
		{"zero", body(map[string]any{"Score": 0}), 0, ""},
		{"hundred as string", body(map[string]any{"Score": " 100 "}), 100, ""},
		{"above range", body(map[string]any{"Score": 101}), 0, "Score"},
		{"negative", body(map[string]any{"Score": "-1"}), 0, "Score"},
		{"fraction", body(map[string]any{"Score": 80.5}), 0, "Score"},
		{"word", body(map[string]any{"Score": "eighty"}), 0, "Score"},
		{"bool", body(map[string]any{"Score": true}), 0, "Score"},
		{"missing score", body(map[string]any{"Score": nil}), 0, "Score"},
		{"missing incident", body(map[string]any{"IncidentId": nil}), 0, "IncidentId"},
		{"incident not uuid", body(map[string]any{"IncidentId": "123"}), 0, "IncidentId"},
		{"incident a number", body(map[string]any{"IncidentId": 5}), 0, "IncidentId"},
		{"exam not uuid", body(map[string]any{"ExamId": "x"}), 0, "ExamId"},
		{"missing token", body(map[string]any{"TaskToken": nil}), 0, "TaskToken"},
		{"blank token", body(map[string]any{"TaskToken": " "}), 0, "TaskToken"},
		{"empty body", "", 0, "body"},
		{"array", "[]", 0, "body"},
		{"null", "null", 0, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := ParseSubmission(tt.body)
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				if sub.Score != tt.wantScore || sub.IncidentId != id || sub.ExamId != exam || sub.TaskToken != "tok" {
					t.Errorf("submission = %+v", sub)
				}
				return
			}
			var invalid *domain.InvalidIncident
			if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
				t.Fatalf("error %v, want InvalidIncident on %s", err, tt.wantField)
			}
		})
	}
}

type submitFixture struct {
	h     *SubmitExam
	sfn   *fakeSFN
	store *storage.Store
	inc   domain.Incident
}

func newSubmitFixture(t testing.TB) *submitFixture {
	t.Helper()
	store := newTestStore(t)
	inc := scheduled(t, &ScheduleExam{Store: store, Window: time.Hour, Now: now})
	fake := &fakeSFN{}
	return &submitFixture{h: &SubmitExam{Store: store, SFN: fake, Log: slog.New(slog.DiscardHandler)}, sfn: fake, store: store, inc: inc}
}

func (f *submitFixture) body(score any) string {
	data, _ := json.Marshal(map[string]any{"IncidentId": f.inc.IncidentId, "ExamId": f.inc.Exams[0].ExamId, "Score": score, "TaskToken": "token"})
	return string(data)
}

func (f *submitFixture) submit(t testing.TB, body string) (events.APIGatewayProxyResponse, string) {
	t.Helper()
	resp, err := f.h.Handle(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: body})
	if err != nil {
		t.Fatalf("the Lambda failed instead of answering: %v", err)
	}
	for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
		if resp.Headers[h] == "" {
			t.Errorf("%d response lacks CORS header %s", resp.StatusCode, h)
		}
	}
	if resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
		t.Errorf("response is not JSON: %v %s", resp.Headers, resp.Body)
	}
	var msg struct{ Message string }
	json.Unmarshal([]byte(resp.Body), &msg)
	return resp, msg.Message
}

func (f *submitFixture) stored(t testing.TB) domain.Incident {
	t.Helper()
	inc, err := f.store.Load(context.Background(), f.inc.IncidentId)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func TestSubmitExamSuccess(t *testing.T) {
	for _, score := range []any{80, "80"} {
		f := newSubmitFixture(t)
		resp, _ := f.submit(t, f.body(score))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("score %v: %d %s", score, resp.StatusCode, resp.Body)
		}
		stored := f.stored(t)
		if stored.Exams[0].Score != 80 || stored.Version != f.inc.Version+1 {
			t.Errorf("stored = %+v", stored)
		}
		if f.sfn.heartbeats != 1 || len(f.sfn.outputs) != 1 {
			t.Fatalf("heartbeats=%d successes=%d, want 1 and 1", f.sfn.heartbeats, len(f.sfn.outputs))
		}
		var output domain.Incident
		if err := json.Unmarshal([]byte(f.sfn.outputs[0]), &output); err != nil {
			t.Fatal(err)
		}
		// The state machine's next step saves with this version: it must
		// be the stored one.
		if output.Version != stored.Version || output.Exams[0].Score != 80 || !strings.Contains(f.sfn.outputs[0], `"Result":0`) {
			t.Errorf("callback output = %s, stored version %d", f.sfn.outputs[0], stored.Version)
		}
	}
}

func TestSubmitExamBase64Body(t *testing.T) {
	f := newSubmitFixture(t)
	resp, err := f.h.Handle(context.Background(), events.APIGatewayProxyRequest{
		Body: base64.StdEncoding.EncodeToString([]byte(f.body(10))), IsBase64Encoded: true,
	})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
	}
}

func TestSubmitExamRejections(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*testing.T, *submitFixture) string
		status    int
		inMessage string
	}{
		{"bad score", func(t *testing.T, f *submitFixture) string { return f.body(120) }, 400, "Score"},
		{"bad json", func(t *testing.T, f *submitFixture) string { return "{" }, 400, "body"},
		{"unknown incident", func(t *testing.T, f *submitFixture) string {
			f.inc.IncidentId = "11111111-2222-4333-8444-555555555555"
			return f.body(80)
		}, 404, "IncidentId"},
		{"unknown exam", func(t *testing.T, f *submitFixture) string {
			return strings.Replace(f.body(80), f.inc.Exams[0].ExamId, "11111111-2222-4333-8444-555555555555", 1)
		}, 404, "ExamId"},
		{"token already used", func(t *testing.T, f *submitFixture) string {
			f.sfn.heartbeatErr = &sfntypes.TaskDoesNotExist{Message: aws.String("gone")}
			return f.body(80)
		}, 409, "TaskToken"},
		{"token timed out", func(t *testing.T, f *submitFixture) string {
			f.sfn.heartbeatErr = &sfntypes.TaskTimedOut{Message: aws.String("late")}
			return f.body(80)
		}, 409, "TaskToken"},
		{"token invalid", func(t *testing.T, f *submitFixture) string {
			f.sfn.heartbeatErr = &sfntypes.InvalidToken{Message: aws.String("bad")}
			return f.body(80)
		}, 409, "TaskToken"},
		{"callback refused after the write", func(t *testing.T, f *submitFixture) string {
			f.sfn.successErr = &sfntypes.TaskTimedOut{Message: aws.String("late")}
			return f.body(80)
		}, 409, "TaskToken"},
		{"step functions down", func(t *testing.T, f *submitFixture) string {
			f.sfn.heartbeatErr = errors.New("connection reset")
			return f.body(80)
		}, 500, "internal error"},
		{"exam already scored", func(t *testing.T, f *submitFixture) string {
			inc := f.stored(t)
			inc.Exams[0].Score = 50
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
			before, beforeErr := f.store.Load(context.Background(), f.inc.IncidentId)
			resp, msg := f.submit(t, body)
			if resp.StatusCode != tt.status || !strings.Contains(msg, tt.inMessage) {
				t.Fatalf("got %d %s, want %d naming %s", resp.StatusCode, resp.Body, tt.status, tt.inMessage)
			}
			after, afterErr := f.store.Load(context.Background(), f.inc.IncidentId)
			if beforeErr != nil || afterErr != nil {
				return // unknown incident: nothing to compare
			}
			before.Version, after.Version = 0, 0
			if string(mustJSON(t, before)) != string(mustJSON(t, after)) {
				t.Errorf("a %d changed the incident:\n%s\n%s", resp.StatusCode, mustJSON(t, before), mustJSON(t, after))
			}
			if len(f.sfn.outputs) != 0 {
				t.Errorf("a %d resumed the execution", resp.StatusCode)
			}
		})
	}
}

func TestSubmitExamTwice(t *testing.T) {
	f := newSubmitFixture(t)
	if resp, _ := f.submit(t, f.body(80)); resp.StatusCode != http.StatusOK {
		t.Fatalf("first: %d %s", resp.StatusCode, resp.Body)
	}
	// Step Functions refuses a spent token.
	f.sfn.heartbeatErr = &sfntypes.TaskDoesNotExist{Message: aws.String("done")}
	resp, msg := f.submit(t, f.body(90))
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("second: %d %s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(msg, "ExamId") && !strings.Contains(msg, "TaskToken") {
		t.Errorf("message %q names no field", msg)
	}
	if got := f.stored(t).Exams[0].Score; got != 80 {
		t.Errorf("score after a refused resubmission = %d, want 80", got)
	}
}
