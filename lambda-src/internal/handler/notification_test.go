package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

func TestSendNotification(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	inc := scheduled(t, &ScheduleExam{Store: store, Window: time.Hour, Now: now})
	var logs bytes.Buffer
	h := &SendNotification{
		Store:   store,
		Senders: []notify.Sender{notify.Log{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}},
		ExamURL: "https://exams.example.com/take",
	}

	payload := func(incident any, token string) json.RawMessage {
		return mustJSON(t, map[string]any{"Incident": incident, "TaskToken": token})
	}
	out, err := h.Handle(ctx, payload(inc, "token-1"))
	if err != nil {
		t.Fatal(err)
	}
	if string(mustJSON(t, out)) != "{}" {
		t.Errorf("output = %s, want {}", mustJSON(t, out))
	}
	for _, want := range []string{inc.IncidentId, inc.Exams[0].ExamId, h.ExamURL, "2026-04-01T10:00:00Z"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	stored, err := store.Load(ctx, inc.IncidentId)
	if err != nil || !stored.Exams[0].NotificationSent || stored.Version != inc.Version+1 {
		t.Errorf("stored after notification: %+v, %v", stored, err)
	}

	noExam := register(t)
	noExam.IncidentId = inc.IncidentId
	tests := []struct {
		name    string
		payload json.RawMessage
	}{
		{"no token", payload(inc, "")},
		{"blank token", payload(inc, "  ")},
		{"no incident", mustJSON(t, map[string]string{"TaskToken": "t"})},
		{"bad incident", payload(map[string]string{"IncidentId": "x"}, "t")},
		{"no exam", payload(noExam, "t")},
		{"not json", json.RawMessage(`"x"`)},
	}
	for _, tt := range tests {
		if _, err := h.Handle(ctx, tt.payload); errorType(err) != "InvalidIncident" {
			t.Errorf("%s: error %v (%s), want InvalidIncident", tt.name, err, errorType(err))
		}
	}
}

func TestNewSendNotificationModes(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		senders int
		wantErr string
	}{
		{"default log", map[string]string{}, 1, ""},
		{"log", map[string]string{"NOTIFICATION_MODE": "log"}, 1, ""},
		{"ses", map[string]string{"NOTIFICATION_MODE": "ses", "NOTIFICATION_FROM": "a@example.com", "NOTIFICATION_TO": "b@example.com"}, 2, ""},
		{"ses without addresses", map[string]string{"NOTIFICATION_MODE": "ses"}, 0, "NOTIFICATION_FROM"},
		{"sendgrid without secret", map[string]string{"NOTIFICATION_MODE": "sendgrid", "NOTIFICATION_FROM": "a@example.com", "NOTIFICATION_TO": "b@example.com"}, 0, "SENDGRID_SECRET_ARN"},
		{"unknown", map[string]string{"NOTIFICATION_MODE": "pigeon"}, 0, "NOTIFICATION_MODE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.vars["TABLE_NAME"] = "incidents"
			h, err := NewSendNotification(context.Background(), env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Senders) != tt.senders {
				t.Fatalf("senders = %d, want %d", len(h.Senders), tt.senders)
			}
			if _, ok := h.Senders[0].(notify.Log); !ok {
				t.Errorf("first sender is %T, want the log", h.Senders[0])
			}
		})
	}
}
