package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/sendgrid"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/ses"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

const (
	examURL   = "https://exams.example.com/take"
	submitURL = "https://api.example.com/v2/exam"
)

func newSendNotification(store *storage.Store, senders ...notify.Sender) *notification.SendNotification {
	return &notification.SendNotification{Store: store, Senders: senders, ExamURL: examURL, SubmitURL: submitURL}
}

func TestSendNotification(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	inc := scheduled(t, store)
	var logs bytes.Buffer
	mail := &outbox{}
	h := newSendNotification(store, notify.Log{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, mail)

	const token = "AQCEAAAAKgAAAAMAAAAAAAAAAf+token/1"
	out, err := h.Handle(ctx, notifyPayload(t, inc, token))
	if err != nil {
		t.Fatal(err)
	}
	if string(mustJSON(t, out)) != "{}" {
		t.Errorf("output = %s, want {}", mustJSON(t, out))
	}
	for _, want := range []string{inc.IncidentId, inc.Exams[0].ExamId, examURL, submitURL, "2026-04-01T10:00:00Z"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "AQCEAAAAKgAAAAMAAAAAAAAAAf") {
		t.Errorf("the log carries the task token:\n%s", logs.String())
	}
	// The student's message has everything POST /exam needs.
	if len(mail.messages) != 1 {
		t.Fatalf("%d messages sent, want 1", len(mail.messages))
	}
	m := mail.messages[0]
	if m.TaskToken != token || m.IncidentId != inc.IncidentId || m.ExamId != inc.Exams[0].ExamId || m.SubmitURL != submitURL || m.Replaces ||
		!strings.Contains(m.ExamLink(), "TaskToken=") || !strings.Contains(m.Body(), "POST "+submitURL) {
		t.Errorf("message = %+v\n%s", m, m.Body())
	}
	stored := load(t, store, inc.IncidentId)
	if e := stored.Exams[0]; !e.NotificationSent || e.TaskTokenDigest != domain.TaskTokenDigest(token) || stored.Version != inc.Version+2 {
		t.Errorf("stored after notification: %+v", stored)
	}

	noExam := registerIncident(t)
	noExam.IncidentId = inc.IncidentId
	tests := []struct {
		name    string
		payload json.RawMessage
	}{
		{"no token", notifyPayload(t, inc, "")},
		{"blank token", notifyPayload(t, inc, "  ")},
		{"token over 1024 characters", notifyPayload(t, inc, strings.Repeat("t", 1025))},
		{"no incident", mustJSON(t, map[string]string{"TaskToken": "t"})},
		{"bad incident", notifyPayload(t, map[string]string{"IncidentId": "x"}, "t")},
		{"no exam", notifyPayload(t, noExam, "t")},
		{"not json", json.RawMessage(`"x"`)},
	}
	for _, tt := range tests {
		if _, err := h.Handle(ctx, tt.payload); errorType(err) != "InvalidIncident" {
			t.Errorf("%s: error %v (%s), want InvalidIncident", tt.name, err, errorType(err))
		}
	}
}

// TestSendNotificationRetried runs SendNotification again for the same exam:
// with the same token (a completed run whose answer was lost) it sends
// nothing; with a new token (Step Functions' Retry gives each attempt its
// own) it rebinds the exam and sends a message saying it replaces the first.
func TestSendNotificationRetried(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	inc := scheduled(t, store)
	mail := &outbox{}
	h := newSendNotification(store, mail)

	if _, err := h.Handle(ctx, notifyPayload(t, inc, "token-1")); err != nil {
		t.Fatal(err)
	}
	first := load(t, store, inc.IncidentId)
	if _, err := h.Handle(ctx, notifyPayload(t, inc, "token-1")); err != nil {
		t.Fatal(err)
	}
	if again := load(t, store, inc.IncidentId); len(mail.messages) != 1 || !reflect.DeepEqual(again, first) {
		t.Errorf("the same token again: %d messages, item %+v, want 1 message and no change", len(mail.messages), again)
	}

	if _, err := h.Handle(ctx, notifyPayload(t, inc, "token-2")); err != nil {
		t.Fatal(err)
	}
	second := load(t, store, inc.IncidentId)
	if len(second.Exams) != 1 || second.Exams[0].ExamId != inc.Exams[0].ExamId {
		t.Errorf("a retried notification changed the exams: %+v", second.Exams)
	}
	if e := second.Exams[0]; e.TaskTokenDigest != domain.TaskTokenDigest("token-2") || !e.NotificationSent || !e.EarlierMessageSent {
		t.Errorf("exam after the new token: %+v", e)
	}
	if len(mail.messages) != 2 || !mail.messages[1].Replaces || mail.messages[1].TaskToken != "token-2" ||
		!strings.Contains(mail.messages[1].Body(), "replaces an earlier one") {
		t.Errorf("messages = %+v, want a second one with token-2 that says it replaces the first", mail.messages)
	}
	// Only the newest token scores the exam.
	if err := second.CheckTaskToken(inc.Exams[0].ExamId, "token-1"); err == nil {
		t.Error("the replaced token still matches the exam")
	}
}

// TestSendNotificationFailures: the token is bound before the message goes
// out, a failed send leaves NotificationSent false, and the error type tells
// the state machine whether to retry.
func TestSendNotificationFailures(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		sendErr error
		setup   func(*testing.T, *storage.Store, domain.Incident)
		want    string
	}{
		{"email throttled", &notify.StatusError{Service: "SendGrid", Status: 429}, nil, "TransientError"},
		{"email provider down", &notify.StatusError{Service: "SendGrid", Status: 503}, nil, "TransientError"},
		{"email refused", &notify.StatusError{Service: "SendGrid", Status: 401}, nil, "wrapError"},
		{"exam already scored", nil, func(t *testing.T, store *storage.Store, inc domain.Incident) {
			inc.Exams[0].Score = intp(50)
			if err := store.Save(ctx, &inc); err != nil {
				t.Fatal(err)
			}
		}, "InvalidIncident"},
		{"incident closed", nil, func(t *testing.T, store *storage.Store, inc domain.Incident) {
			inc.AdminActionRequired = true
			if err := store.Save(ctx, &inc); err != nil {
				t.Fatal(err)
			}
		}, "InvalidIncident"},
		{"incident missing", nil, func(t *testing.T, store *storage.Store, inc domain.Incident) {}, "wrapError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newTestStore(t)
			inc := registerIncident(t)
			if tt.name != "incident missing" {
				inc = scheduled(t, store)
			} else if _, err := inc.ScheduleExam(1, clock, domain.DefaultExamWindow); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(t, store, inc)
			}
			mail := &outbox{err: tt.sendErr}
			_, err := newSendNotification(store, mail).Handle(ctx, notifyPayload(t, inc, "token"))
			if got := errorType(err); got != tt.want {
				t.Fatalf("error %v: type %s, want %s", err, got, tt.want)
			}
			if tt.sendErr != nil {
				stored := load(t, store, inc.IncidentId)
				if e := stored.Exams[0]; e.NotificationSent || e.TaskTokenDigest != domain.TaskTokenDigest("token") {
					t.Errorf("after a failed send: %+v, want the token bound and NotificationSent false", e)
				}
				var status *notify.StatusError
				if !errors.As(err, &status) {
					t.Errorf("error %v lost its cause", err)
				}
			}
		})
	}
}

func TestNewSendNotification(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		senders int
		trace   bool
		wantErr string
		// logOnly builds the handler as sendnotification-log does (no email mode).
		logOnly bool
	}{
		{"default log", map[string]string{}, 1, false, "", false},
		{"log", map[string]string{"NOTIFICATION_MODE": "log"}, 1, false, "", false},
		{"ses", map[string]string{"NOTIFICATION_MODE": "ses", "NOTIFICATION_FROM": "a@example.com", "NOTIFICATION_TO": "b@example.com"}, 2, false, "", false},
		{"urls", map[string]string{"EXAM_URL": examURL, "SUBMIT_URL": submitURL}, 1, false, "", false},
		{"trace the token", map[string]string{"TRACE_TASK_TOKEN": "true"}, 1, true, "", false},
		{"anything but true leaves the token out", map[string]string{"TRACE_TASK_TOKEN": "yes"}, 1, false, "", false},
		{"ses without addresses", map[string]string{"NOTIFICATION_MODE": "ses"}, 0, false, "NOTIFICATION_FROM", false},
		{"sendgrid without secret", map[string]string{"NOTIFICATION_MODE": "sendgrid", "NOTIFICATION_FROM": "a@example.com", "NOTIFICATION_TO": "b@example.com"}, 0, false, "SENDGRID_SECRET_ARN", false},
		{"unknown", map[string]string{"NOTIFICATION_MODE": "pigeon"}, 0, false, "NOTIFICATION_MODE", false},
		{"ses in the log-only binary", map[string]string{"NOTIFICATION_MODE": "ses", "NOTIFICATION_FROM": "a@example.com", "NOTIFICATION_TO": "b@example.com"}, 0, false, "deploy lambda-src/cmd/sendnotification-ses", true},
		{"log in the log-only binary", map[string]string{"NOTIFICATION_MODE": "log"}, 1, false, "", true},
		{"relative submit URL", map[string]string{"SUBMIT_URL": "/v2/exam"}, 0, false, "SUBMIT_URL", false},
		{"exam URL without scheme", map[string]string{"EXAM_URL": "exams.example.com"}, 0, false, "EXAM_URL", false},
		{"no table", map[string]string{"TABLE_NAME": ""}, 0, false, "TABLE_NAME", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"TABLE_NAME": "incidents"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			modes := []notify.Mode{ses.Mode, sendgrid.Mode}
			if tt.logOnly {
				modes = nil
			}
			h, err := notification.NewSendNotification(context.Background(), env(vars), modes...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Senders) != tt.senders || h.TraceTaskToken != tt.trace || h.ExamURL != vars["EXAM_URL"] || h.SubmitURL != vars["SUBMIT_URL"] {
				t.Fatalf("handler = %+v", h)
			}
			if _, ok := h.Senders[0].(notify.Log); !ok {
				t.Errorf("first sender is %T, want the log", h.Senders[0])
			}
		})
	}
}
