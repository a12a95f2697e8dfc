package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

func TestScheduleExam(t *testing.T) {
	ctx := context.Background()
	h := &handler.ScheduleExam{Store: newTestStore(t), Window: time.Hour, Now: now}
	inc := registerIncident(t)

	for n := 1; n <= domain.MaxExams; n++ {
		out, err := h.Handle(ctx, mustJSON(t, inc))
		if err != nil {
			t.Fatalf("exam %d: %v", n, err)
		}
		want, _ := domain.ExamID(inc.IncidentId, n)
		if len(out.Exams) != n || out.Version != int64(n) || out.Exams[0].ExamId != want || !out.Exams[0].ExamDeadline.Equal(clock.Add(time.Hour)) {
			t.Fatalf("exam %d: output %+v", n, out)
		}
		if out.Exams[0].Scored() || !strings.Contains(string(mustJSON(t, out)), `"Score":null`) {
			t.Errorf("exam %d: a new exam must be unscored (Score null), not scored 0: %s", n, mustJSON(t, out))
		}
		if stored := load(t, h.Store, inc.IncidentId); stored.Version != out.Version || len(stored.Exams) != n {
			t.Fatalf("exam %d: stored %+v", n, stored)
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
	if stored := load(t, h.Store, inc.IncidentId); stored.Version != int64(domain.MaxExams) {
		t.Errorf("a refused exam changed the item: version %d", stored.Version)
	}

	// Ids are case-insensitive: an upper-case IncidentId names the same incident.
	upper := registerIncident(t)
	first, err := h.Handle(ctx, mustJSON(t, upper))
	if err != nil {
		t.Fatal(err)
	}
	first.IncidentId = strings.ToUpper(first.IncidentId)
	if second, err := h.Handle(ctx, mustJSON(t, first)); err != nil || second.IncidentId != upper.IncidentId || len(second.Exams) != 2 {
		t.Errorf("upper-case IncidentId: %+v, %v, want the second exam of %s", second, err, upper.IncidentId)
	}

	for name, input := range map[string]string{
		"no id":      `{"StudentId":"s","IncidentDate":"2026-01-01T00:00:00Z"}`,
		"bad json":   `{`,
		"bad date":   `{"IncidentId":"` + inc.IncidentId + `","StudentId":"s","IncidentDate":"soon"}`,
		"no student": `{"IncidentId":"` + inc.IncidentId + `","IncidentDate":"2026-01-01T00:00:00Z"}`,
		"braces id":  `{"IncidentId":"{` + inc.IncidentId + `}","StudentId":"s","IncidentDate":"2026-01-01T00:00:00Z"}`,
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
		h, err := handler.NewScheduleExam(context.Background(), env(map[string]string{"TABLE_NAME": "t", "EXAM_WINDOW": tt.window}))
		if (err == nil) != tt.ok {
			t.Errorf("EXAM_WINDOW=%q: error %v, want ok=%v", tt.window, err, tt.ok)
		}
		if err == nil && h.Window != tt.want {
			t.Errorf("EXAM_WINDOW=%q: window %s, want %s", tt.window, h.Window, tt.want)
		}
	}
	if _, err := handler.NewScheduleExam(context.Background(), env(nil)); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Errorf("no TABLE_NAME: %v", err)
	}
}

func intp(n int) *int { return &n }

func TestResolveAndTakeAdministrativeAction(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	resolve := &handler.ResolveIncident{Store: store, Now: now}
	escalate := &handler.TakeAdministrativeAction{Store: store, Now: now, Log: discard()}

	setScore := func(inc domain.Incident, score *int) domain.Incident {
		inc.Exams[0].Score = score
		if err := store.Save(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		return inc
	}

	passed := setScore(scheduled(t, store), intp(76))
	out, err := resolve.Handle(ctx, mustJSON(t, passed))
	if err != nil || !out.IncidentResolved || !out.ResolutionDate.Equal(clock) {
		t.Fatalf("resolve: %+v, %v", out, err)
	}
	if stored := load(t, store, passed.IncidentId); !stored.IncidentResolved || stored.Version != out.Version {
		t.Errorf("resolution not saved: %+v", stored)
	}
	// Closing a closed incident returns it as stored.
	if again, err := escalate.Handle(ctx, mustJSON(t, passed)); err != nil || !reflect.DeepEqual(again, out) {
		t.Errorf("escalating a resolved incident: %+v, %v, want it unchanged", again, err)
	}

	for name, score := range map[string]*int{"failed": intp(75), "did not sit": intp(0), "not scored": nil} {
		inc := setScore(scheduled(t, store), score)
		if _, err := resolve.Handle(ctx, mustJSON(t, inc)); errorType(err) != "InvalidIncident" {
			t.Errorf("resolving a %s exam: %v", name, err)
		}
	}

	// After a Catch the input carries Error; the stored version may be newer
	// than the input's (SendNotification saved in between).
	failed := setScore(scheduled(t, store), intp(75))
	caught := map[string]any{}
	if err := json.Unmarshal(mustJSON(t, failed), &caught); err != nil {
		t.Fatal(err)
	}
	caught["Error"] = map[string]string{"Error": "States.Timeout", "Cause": "the exam window closed"}
	caught["Version"] = 1
	out, err = escalate.Handle(ctx, mustJSON(t, caught))
	if err != nil || !out.AdminActionRequired || out.IncidentResolved || out.Failure != nil {
		t.Fatalf("take administrative action: %+v, %v", out, err)
	}
	if stored := load(t, store, failed.IncidentId); !stored.AdminActionRequired {
		t.Errorf("escalation not saved: %+v", stored)
	}
	if again, err := resolve.Handle(ctx, mustJSON(t, failed)); err != nil || !reflect.DeepEqual(again, out) {
		t.Errorf("resolving an escalated incident: %+v, %v, want it unchanged", again, err)
	}

	unsaved := registerIncident(t)
	if _, err := resolve.Handle(ctx, mustJSON(t, unsaved)); err == nil || errorType(err) == "InvalidIncident" || errorType(err) == "TransientError" {
		t.Errorf("resolving an unknown incident: %v, want a permanent not-found error", err)
	}
	if out, err := escalate.Handle(ctx, mustJSON(t, unsaved)); err != nil || out.Version != 1 {
		t.Errorf("escalating an unsaved incident: %+v, %v, want it created", out, err)
	}
	if _, err := escalate.Handle(ctx, json.RawMessage(`{"StudentId":""}`)); errorType(err) != "InvalidIncident" {
		t.Errorf("escalate bad input: %v", err)
	}
}

// withFailure returns inc as the state machine's catch-all hands it to
// TakeAdministrativeAction: with the caught error under Failure.
func withFailure(t testing.TB, inc domain.Incident, errName string) json.RawMessage {
	t.Helper()
	input := map[string]any{}
	if err := json.Unmarshal(mustJSON(t, inc), &input); err != nil {
		t.Fatal(err)
	}
	input["Failure"] = map[string]string{"Error": errName, "Cause": `{"errorMessage":"boom","errorType":"` + errName + `"}`}
	return mustJSON(t, input)
}

func TestTakeAdministrativeActionRecordsFailure(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	h := &handler.TakeAdministrativeAction{Store: store, Now: now, Log: discard()}
	resolved := func() domain.Incident {
		inc := scheduled(t, store)
		inc.Exams[0].Score = intp(90)
		if err := inc.Resolve(clock); err != nil {
			t.Fatal(err)
		}
		if err := store.Save(ctx, &inc); err != nil {
			t.Fatal(err)
		}
		return inc
	}
	tests := []struct {
		name          string
		incident      func() domain.Incident
		wantEscalated bool
	}{
		{"open incident", func() domain.Incident { return scheduled(t, store) }, true},
		{"incident never saved (ScheduleExam failed first)", func() domain.Incident { return registerIncident(t) }, true},
		{"resolved incident keeps its resolution", resolved, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := tt.incident()
			input := withFailure(t, inc, "wrapError")
			out, err := h.Handle(ctx, input)
			if err != nil {
				t.Fatal(err)
			}
			stored := load(t, store, inc.IncidentId)
			if stored.Failure == nil || stored.Failure.Error != "wrapError" || !strings.Contains(stored.Failure.Cause, "boom") {
				t.Errorf("failure not recorded: %+v", stored.Failure)
			}
			if stored.AdminActionRequired != tt.wantEscalated || !stored.Closed() || !reflect.DeepEqual(stored, out) {
				t.Errorf("stored %+v, output %+v, want escalated=%v", stored, out, tt.wantEscalated)
			}
			// Recording it again (a retried RecordFailure) changes nothing.
			again, err := h.Handle(ctx, input)
			if err != nil || !reflect.DeepEqual(again, out) || load(t, store, inc.IncidentId).Version != stored.Version {
				t.Errorf("recording twice: %+v, %v", again, err)
			}
		})
	}
}

// TestRetryAfterSuccess runs each state task twice with the same input, as
// Step Functions' Retry does when an invocation failed after the function
// ran (Lambda.ServiceException, a lost answer): the second run returns what
// the first did and writes nothing.
func TestRetryAfterSuccess(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	schedule := &handler.ScheduleExam{Store: store, Window: time.Hour, Now: now}
	later := func() time.Time { return clock.Add(time.Minute) }
	tests := []struct {
		name  string
		input func() json.RawMessage
		run   func(json.RawMessage) (any, error)
		// rerun runs the second time, with a later clock.
		rerun func(json.RawMessage) (any, error)
	}{
		{
			name:  "ScheduleExam (first exam, incident created)",
			input: func() json.RawMessage { return mustJSON(t, registerIncident(t)) },
			run:   func(in json.RawMessage) (any, error) { return schedule.Handle(ctx, in) },
			rerun: func(in json.RawMessage) (any, error) {
				return (&handler.ScheduleExam{Store: store, Window: time.Hour, Now: later}).Handle(ctx, in)
			},
		},
		{
			name: "ScheduleExam (second exam)",
			input: func() json.RawMessage {
				inc := scheduled(t, store)
				inc.Exams[0].Score = intp(10)
				if err := store.Save(ctx, &inc); err != nil {
					t.Fatal(err)
				}
				return mustJSON(t, inc)
			},
			run: func(in json.RawMessage) (any, error) { return schedule.Handle(ctx, in) },
			rerun: func(in json.RawMessage) (any, error) {
				return (&handler.ScheduleExam{Store: store, Window: time.Hour, Now: later}).Handle(ctx, in)
			},
		},
		{
			name: "ResolveIncident",
			input: func() json.RawMessage {
				inc := scheduled(t, store)
				inc.Exams[0].Score = intp(80)
				if err := store.Save(ctx, &inc); err != nil {
					t.Fatal(err)
				}
				return mustJSON(t, inc)
			},
			run: func(in json.RawMessage) (any, error) {
				return (&handler.ResolveIncident{Store: store, Now: now}).Handle(ctx, in)
			},
			rerun: func(in json.RawMessage) (any, error) {
				return (&handler.ResolveIncident{Store: store, Now: later}).Handle(ctx, in)
			},
		},
		{
			name:  "TakeAdministrativeAction",
			input: func() json.RawMessage { return mustJSON(t, scheduled(t, store)) },
			run: func(in json.RawMessage) (any, error) {
				return (&handler.TakeAdministrativeAction{Store: store, Now: now, Log: discard()}).Handle(ctx, in)
			},
			rerun: func(in json.RawMessage) (any, error) {
				return (&handler.TakeAdministrativeAction{Store: store, Now: later, Log: discard()}).Handle(ctx, in)
			},
		},
		{
			name:  "RecordFailure (TakeAdministrativeAction with a Failure)",
			input: func() json.RawMessage { return withFailure(t, scheduled(t, store), "TransientError") },
			run: func(in json.RawMessage) (any, error) {
				return (&handler.TakeAdministrativeAction{Store: store, Now: now, Log: discard()}).Handle(ctx, in)
			},
			rerun: func(in json.RawMessage) (any, error) {
				return (&handler.TakeAdministrativeAction{Store: store, Now: later, Log: discard()}).Handle(ctx, in)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.input()
			var id struct{ IncidentId string }
			json.Unmarshal(in, &id)
			first, err := tt.run(in)
			if err != nil {
				t.Fatal(err)
			}
			stored := load(t, store, id.IncidentId)
			second, err := tt.rerun(in)
			if err != nil {
				t.Fatalf("second run: %v", err)
			}
			if !reflect.DeepEqual(first, second) {
				t.Errorf("second run returned\n%s\nfirst returned\n%s", mustJSON(t, second), mustJSON(t, first))
			}
			if again := load(t, store, id.IncidentId); !reflect.DeepEqual(again, stored) {
				t.Errorf("the second run changed the item:\n%+v\n%+v", stored, again)
			}
		})
	}
}

// TestDynamoDBFaults puts a proxy that answers as a throttled or failing
// DynamoDB between each task and DynamoDB Local.
func TestDynamoDBFaults(t *testing.T) {
	ctx := context.Background()
	throttle := dynamoFault{Status: http.StatusBadRequest, Type: "ProvisionedThroughputExceededException"}
	serverError := dynamoFault{Status: http.StatusInternalServerError, Type: "InternalServerError"}
	unavailable := dynamoFault{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailable"}
	only := func(f dynamoFault, op string, times int) dynamoFault {
		f.Op, f.Times = op, times
		return f
	}
	after := func(f dynamoFault, times int) dynamoFault {
		f.Op, f.Times, f.After = "UpdateItem", times, true
		return f
	}

	type task struct {
		name string
		// prepare saves what the task needs and returns its input.
		prepare func(store *storage.Store) json.RawMessage
		run     func(store *storage.Store, in json.RawMessage) error
		// check looks at the item after a successful run.
		check func(t *testing.T, inc domain.Incident)
		// writes is how many changes a successful run saves.
		writes int64
	}
	tasks := []task{
		{
			name:    "ScheduleExam",
			prepare: func(*storage.Store) json.RawMessage { return mustJSON(t, registerIncident(t)) },
			run: func(store *storage.Store, in json.RawMessage) error {
				_, err := (&handler.ScheduleExam{Store: store, Window: time.Hour, Now: now}).Handle(ctx, in)
				return err
			},
			check: func(t *testing.T, inc domain.Incident) {
				if len(inc.Exams) != 1 {
					t.Errorf("exams = %d, want 1", len(inc.Exams))
				}
			},
			writes: 1,
		},
		{
			name:    "SendNotification",
			prepare: func(store *storage.Store) json.RawMessage { return notifyPayload(t, scheduled(t, store), "token") },
			run: func(store *storage.Store, in json.RawMessage) error {
				_, err := newSendNotification(store, &outbox{}).Handle(ctx, in)
				return err
			},
			check: func(t *testing.T, inc domain.Incident) {
				if e := inc.Exams[0]; !e.NotificationSent || e.TaskTokenDigest != domain.TaskTokenDigest("token") {
					t.Errorf("exam = %+v, want notified with the token bound", e)
				}
			},
			writes: 2, // the token bound, then NotificationSent
		},
		{
			name: "ResolveIncident",
			prepare: func(store *storage.Store) json.RawMessage {
				inc := scheduled(t, store)
				inc.Exams[0].Score = intp(90)
				if err := store.Save(ctx, &inc); err != nil {
					t.Fatal(err)
				}
				return mustJSON(t, inc)
			},
			run: func(store *storage.Store, in json.RawMessage) error {
				_, err := (&handler.ResolveIncident{Store: store, Now: now}).Handle(ctx, in)
				return err
			},
			check: func(t *testing.T, inc domain.Incident) {
				if !inc.IncidentResolved {
					t.Errorf("not resolved: %+v", inc)
				}
			},
			writes: 1,
		},
		{
			name:    "TakeAdministrativeAction",
			prepare: func(store *storage.Store) json.RawMessage { return withFailure(t, scheduled(t, store), "E") },
			run: func(store *storage.Store, in json.RawMessage) error {
				_, err := (&handler.TakeAdministrativeAction{Store: store, Now: now, Log: discard()}).Handle(ctx, in)
				return err
			},
			check: func(t *testing.T, inc domain.Incident) {
				if !inc.AdminActionRequired || inc.Failure == nil {
					t.Errorf("not escalated with the failure: %+v", inc)
				}
			},
			writes: 1,
		},
	}
	faults := []struct {
		name   string
		faults []dynamoFault
		// wantErr is the error type the task returns; "" means it succeeds.
		wantErr string
	}{
		{"throttled on every call", []dynamoFault{throttle}, "TransientError"},
		{"throttled on every write", []dynamoFault{only(throttle, "UpdateItem", 0)}, "TransientError"},
		{"500 on every read", []dynamoFault{only(serverError, "GetItem", 0)}, "TransientError"},
		{"503 on every call", []dynamoFault{unavailable}, "TransientError"},
		// The SDK retries these itself.
		{"throttled twice, then served", []dynamoFault{only(throttle, "", 2)}, ""},
		{"one 500 on a write", []dynamoFault{only(serverError, "UpdateItem", 1)}, ""},
		// The write lands but its answer is a 500: the SDK's retry of the
		// conditional write fails (the version moved), the handler reloads
		// and finds its own change already there.
		{"write landed, answer lost", []dynamoFault{after(serverError, 1)}, ""},
	}
	for _, tk := range tasks {
		for _, ft := range faults {
			t.Run(tk.name+"/"+ft.name, func(t *testing.T) {
				table := newTable(t)
				direct := storage.New(dynamo(), table)
				in := tk.prepare(direct)
				var id struct {
					IncidentId string
					Incident   struct{ IncidentId string }
				}
				json.Unmarshal(in, &id)
				if id.IncidentId == "" {
					id.IncidentId = id.Incident.IncidentId
				}
				before, beforeErr := direct.Load(ctx, id.IncidentId)

				proxy := newDynamoProxy(t, ft.faults...)
				err := tk.run(storeVia(proxy.URL, table), in)
				if got := errorType(err); got != ft.wantErr {
					t.Fatalf("error type %q (%v), want %q", got, err, ft.wantErr)
				}
				after, afterErr := direct.Load(ctx, id.IncidentId)
				if ft.wantErr != "" {
					var transient *domain.TransientError
					if !errors.As(err, &transient) || !strings.Contains(err.Error(), id.IncidentId) {
						t.Errorf("error %v: want a *domain.TransientError naming the incident", err)
					}
					if beforeErr != nil {
						if !errors.Is(afterErr, storage.ErrNotFound) {
							t.Errorf("a failed first write created the item: %+v", after)
						}
						return
					}
					// SendNotification binds the token before it sends; a
					// failure after that may leave the digest, nothing else.
					after.Exams = before.Exams
					after.Version = before.Version
					if !reflect.DeepEqual(before, after) {
						t.Errorf("a transient failure changed the item:\n%+v\n%+v", before, after)
					}
					return
				}
				if afterErr != nil {
					t.Fatal(afterErr)
				}
				tk.check(t, after)
				// Each change is saved once, even when its answer was lost
				// and the write was retried.
				if after.Version != before.Version+tk.writes {
					t.Errorf("version %d (from %d) after %d UpdateItem calls, want %d writes", after.Version, before.Version, proxy.writes(), tk.writes)
				}
			})
		}
	}
}

func TestTransientAndStateError(t *testing.T) {
	apiErr := func(status int, code string) error {
		return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "UpdateItem", Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
		}}
	}
	tests := []struct {
		name      string
		err       error
		transient bool
		typeName  string
	}{
		{"throughput exceeded", apiErr(400, "ProvisionedThroughputExceededException"), true, "TransientError"},
		{"throttling", apiErr(400, "ThrottlingException"), true, "TransientError"},
		{"SES too many requests", apiErr(429, "TooManyRequestsException"), true, "TransientError"},
		{"internal server error", apiErr(500, "InternalServerError"), true, "TransientError"},
		{"service unavailable", apiErr(503, "ServiceUnavailable"), true, "TransientError"},
		{"request timeout", apiErr(400, "RequestTimeout"), true, "TransientError"},
		{"exhausted SDK retries", &retry.MaxAttemptsError{Attempt: 3, Err: apiErr(500, "InternalServerError")}, true, "TransientError"},
		{"deadline", fmt.Errorf("load: %w", context.DeadlineExceeded), true, "TransientError"},
		{"conflict that outlived the retries", fmt.Errorf("save: %w", &storage.ConflictError{IncidentId: "i", Expected: 1, Stored: 2}), true, "TransientError"},
		{"SendGrid 429", &notify.StatusError{Service: "SendGrid", Status: 429}, true, "TransientError"},
		{"SendGrid 502", &notify.StatusError{Service: "SendGrid", Status: 502}, true, "TransientError"},
		{"SendGrid 401", &notify.StatusError{Service: "SendGrid", Status: 401}, false, "wrapError"},
		{"access denied", apiErr(400, "AccessDeniedException"), false, "wrapError"},
		{"validation", apiErr(400, "ValidationException"), false, "wrapError"},
		{"missing incident", fmt.Errorf("load: %w", storage.ErrNotFound), false, "wrapError"},
		{"canceled", fmt.Errorf("load: %w", context.Canceled), false, "wrapError"},
		{"invalid incident", fmt.Errorf("x: %w", &domain.InvalidIncident{Field: "f"}), false, "InvalidIncident"},
		{"exceeded", fmt.Errorf("x: %w", &domain.StudentExceededAllowableExamRetries{}), false, "StudentExceededAllowableExamRetries"},
		{"exam not found", &domain.ExamNotFound{}, false, "InvalidIncident"},
		{"already transient", fmt.Errorf("x: %w", &domain.TransientError{Op: "o", Err: errors.New("e")}), true, "TransientError"},
	}
	for _, tt := range tests {
		if got := handler.Transient(tt.err); got != tt.transient {
			t.Errorf("%s: Transient = %v, want %v", tt.name, got, tt.transient)
		}
		if got := errorType(handler.StateError("act", "id", tt.err)); got != tt.typeName {
			t.Errorf("%s: StateError type = %s, want %s", tt.name, got, tt.typeName)
		}
	}
}
