package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

var clock = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func now() time.Time { return clock }

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func register(t testing.TB) domain.Incident {
	t.Helper()
	inc, err := (&RegisterIncident{Now: now}).Handle(context.Background(), json.RawMessage(`{"StudentId":"tracetest"}`))
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func TestRegisterIncident(t *testing.T) {
	tests := []struct {
		name, input string
		wantErr     string
		wantField   string
	}{
		{name: "student only", input: `{"StudentId":"tracetest"}`},
		{name: "with date", input: `{"StudentId":"s","IncidentDate":"2026-01-01T00:00:00Z"}`},
		{name: "no student", input: `{}`, wantErr: "InvalidIncident", wantField: "StudentId"},
		{name: "blank student", input: `{"StudentId":"   "}`, wantErr: "InvalidIncident", wantField: "StudentId"},
		{name: "bad date", input: `{"StudentId":"s","IncidentDate":"yesterday"}`, wantErr: "InvalidIncident", wantField: "IncidentDate"},
		{name: "not an object", input: `[1]`, wantErr: "InvalidIncident", wantField: "input"},
		{name: "student not a string", input: `{"StudentId":5}`, wantErr: "InvalidIncident", wantField: "input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc, err := (&RegisterIncident{Now: now}).Handle(context.Background(), json.RawMessage(tt.input))
			if got := errorType(err); got != tt.wantErr {
				t.Fatalf("error type = %q (%v), want %q", got, err, tt.wantErr)
			}
			if err != nil {
				if invalid := err.(*domain.InvalidIncident); invalid.Field != tt.wantField {
					t.Errorf("field = %s, want %s", invalid.Field, tt.wantField)
				}
				return
			}
			if inc.Version != 0 || len(inc.Exams) != 0 || inc.Validate() != nil {
				t.Errorf("registered incident = %+v, want valid, unsaved, no exams", inc)
			}
			out := string(mustJSON(t, inc))
			if !strings.Contains(out, `"Exams":[]`) {
				t.Errorf("output %s: Exams must be an empty list for the Choice state", out)
			}
		})
	}
}

func TestScheduleExam(t *testing.T) {
	ctx := context.Background()
	h := &ScheduleExam{Store: newTestStore(t), Window: time.Hour, Now: now}
	inc := register(t)

	for n := 1; n <= domain.MaxExams; n++ {
		out, err := h.Handle(ctx, mustJSON(t, inc))
		if err != nil {
			t.Fatalf("exam %d: %v", n, err)
		}
		if len(out.Exams) != n || out.Version != int64(n) || !out.Exams[0].ExamDeadline.Equal(clock.Add(time.Hour)) {
			t.Fatalf("exam %d: output %+v", n, out)
		}
		stored, err := h.Store.Load(ctx, inc.IncidentId)
		if err != nil || stored.Version != out.Version || len(stored.Exams) != n {
			t.Fatalf("exam %d: stored %+v, %v", n, stored, err)
		}
		inc = out
	}

	_, err := h.Handle(ctx, mustJSON(t, inc))
	if got := errorType(err); got != "StudentExceededAllowableExamRetries" {
		t.Fatalf("fourth exam: error type %q (%v)", got, err)
	}
	// A stale input with fewer exams must not get around the limit.
	stale := inc
	stale.Exams = stale.Exams[:1]
	stale.Version = 1
	if _, err := h.Handle(ctx, mustJSON(t, stale)); errorType(err) != "StudentExceededAllowableExamRetries" {
		t.Fatalf("stale input: %v", err)
	}
	stored, _ := h.Store.Load(ctx, inc.IncidentId)
	if stored.Version != int64(domain.MaxExams) {
		t.Errorf("a refused exam changed the item: version %d", stored.Version)
	}

	for name, input := range map[string]string{
		"no id":      `{"StudentId":"s","IncidentDate":"2026-01-01T00:00:00Z"}`,
		"bad json":   `{`,
		"bad date":   `{"IncidentId":"` + inc.IncidentId + `","StudentId":"s","IncidentDate":"soon"}`,
		"no student": `{"IncidentId":"` + inc.IncidentId + `","IncidentDate":"2026-01-01T00:00:00Z"}`,
	} {
		if _, err := h.Handle(ctx, json.RawMessage(input)); errorType(err) != "InvalidIncident" {
			t.Errorf("%s: error %v, want InvalidIncident", name, err)
		}
	}
}

func TestNewScheduleExamWindow(t *testing.T) {
	tests := []struct {
		window string
		want   time.Duration
		ok     bool
	}{{"", domain.DefaultExamWindow, true}, {"2h", 2 * time.Hour, true}, {"7", 0, false}, {"-1h", 0, false}}
	for _, tt := range tests {
		h, err := NewScheduleExam(context.Background(), env(map[string]string{"TABLE_NAME": "t", "EXAM_WINDOW": tt.window}))
		if (err == nil) != tt.ok {
			t.Errorf("EXAM_WINDOW=%q: error %v, want ok=%v", tt.window, err, tt.ok)
		}
		if err == nil && h.Window != tt.want {
			t.Errorf("EXAM_WINDOW=%q: window %s, want %s", tt.window, h.Window, tt.want)
		}
	}
	if _, err := NewScheduleExam(context.Background(), env(nil)); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("no TABLE_NAME: %v", err)
	}
}

// scheduled returns an incident saved with one exam.
func scheduled(t testing.TB, h *ScheduleExam) domain.Incident {
	t.Helper()
	inc, err := h.Handle(context.Background(), mustJSON(t, register(t)))
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func TestResolveAndTakeAdministrativeAction(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	schedule := &ScheduleExam{Store: store, Window: time.Hour, Now: now}
	resolve := &ResolveIncident{Store: store, Now: now}
	escalate := &TakeAdministrativeAction{Store: store, Now: now, Log: slog.New(slog.DiscardHandler)}

	setScore := func(inc domain.Incident, score int) domain.Incident {
		inc.Exams[0].Score = score
		if err := store.Save(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		return inc
	}

	passed := setScore(scheduled(t, schedule), 76)
	out, err := resolve.Handle(ctx, mustJSON(t, passed))
	if err != nil || !out.IncidentResolved || !out.ResolutionDate.Equal(clock) {
		t.Fatalf("resolve: %+v, %v", out, err)
	}
	if stored, _ := store.Load(ctx, passed.IncidentId); !stored.IncidentResolved || stored.Version != out.Version {
		t.Errorf("resolution not saved: %+v", stored)
	}
	if _, err := resolve.Handle(ctx, mustJSON(t, passed)); errorType(err) != "InvalidIncident" {
		t.Errorf("resolving twice: %v", err)
	}

	failed := setScore(scheduled(t, schedule), 75)
	if _, err := resolve.Handle(ctx, mustJSON(t, failed)); errorType(err) != "InvalidIncident" {
		t.Errorf("resolving a failed exam: %v", err)
	}

	// After a Catch the input carries Error; the stored version may be newer
	// than the input's (SendNotification saved in between).
	caught := map[string]any{}
	if err := json.Unmarshal(mustJSON(t, failed), &caught); err != nil {
		t.Fatal(err)
	}
	caught["Error"] = map[string]string{"Error": "States.Timeout", "Cause": "the exam window closed"}
	caught["Version"] = 1
	out, err = escalate.Handle(ctx, mustJSON(t, caught))
	if err != nil || !out.AdminActionRequired || out.IncidentResolved {
		t.Fatalf("take administrative action: %+v, %v", out, err)
	}
	if stored, _ := store.Load(ctx, failed.IncidentId); !stored.AdminActionRequired {
		t.Errorf("escalation not saved: %+v", stored)
	}

	unsaved := register(t)
	if _, err := resolve.Handle(ctx, mustJSON(t, unsaved)); err == nil || errorType(err) == "InvalidIncident" {
		t.Errorf("resolving an unknown incident: %v, want a not-found error", err)
	}
	if out, err := escalate.Handle(ctx, mustJSON(t, unsaved)); err != nil || out.Version != 1 {
		t.Errorf("escalating an unsaved incident: %+v, %v, want it created", out, err)
	}
	if _, err := escalate.Handle(ctx, json.RawMessage(`{"StudentId":""}`)); errorType(err) != "InvalidIncident" {
		t.Errorf("escalate bad input: %v", err)
	}
}
