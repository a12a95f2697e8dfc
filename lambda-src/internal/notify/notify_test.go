package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

var msg = Message{
	IncidentId: "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", StudentId: "s1",
	ExamId: "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b", Deadline: time.Date(2026, 4, 8, 9, 0, 0, 0, time.UTC),
}

func TestBody(t *testing.T) {
	withURL := msg
	withURL.ExamURL = "https://exams.example.com"
	for _, m := range []Message{msg, withURL} {
		body := m.Body()
		for _, want := range []string{m.IncidentId, m.ExamId, "2026-04-08T09:00:00Z", "76"} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
		}
		if got := strings.Contains(body, "https://"); got != (m.ExamURL != "") {
			t.Errorf("exam URL in body = %v, want %v", got, m.ExamURL != "")
		}
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	if err := (Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}).Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	var entry map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["ExamId"] != msg.ExamId || entry["IncidentId"] != msg.IncidentId || entry["ExamDeadline"] != "2026-04-08T09:00:00Z" {
		t.Errorf("log entry = %v", entry)
	}
}

// fakeSES stands in for Amazon SES, which has no local implementation.
type fakeSES struct {
	in  *sesv2.SendEmailInput
	err error
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.in = in
	return &sesv2.SendEmailOutput{}, f.err
}

func TestSES(t *testing.T) {
	fake := &fakeSES{}
	s := SES{Client: fake, From: "from@example.com", To: "to@example.com"}
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(fake.in.FromEmailAddress) != s.From || fake.in.Destination.ToAddresses[0] != s.To ||
		aws.ToString(fake.in.Content.Simple.Body.Text.Data) != msg.Body() {
		t.Errorf("SendEmail input = %+v", fake.in)
	}
	fake.err = errors.New("throttled")
	if err := s.Send(context.Background(), msg); err == nil || !strings.Contains(err.Error(), msg.ExamId) {
		t.Errorf("error = %v, want context naming the exam", err)
	}
}

func TestSendGrid(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ok     bool
	}{{"accepted", http.StatusAccepted, true}, {"unauthorized", http.StatusUnauthorized, false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got sendGridMail
			var auth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth = r.Header.Get("Authorization")
				data, _ := io.ReadAll(r.Body)
				json.Unmarshal(data, &got)
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			s := SendGrid{HTTP: srv.Client(), Endpoint: srv.URL, APIKey: "SG.key", From: "from@example.com", To: "to@example.com"}
			err := s.Send(context.Background(), msg)
			if (err == nil) != tt.ok {
				t.Fatalf("error = %v, want ok=%v", err, tt.ok)
			}
			if auth != "Bearer SG.key" || got.From.Email != s.From || got.Personalizations[0].To[0].Email != s.To ||
				got.Subject != msg.Subject() || got.Content[0].Value != msg.Body() {
				t.Errorf("request: auth %q mail %+v", auth, got)
			}
		})
	}
}

// fakeSecrets stands in for Secrets Manager, which has no local implementation.
type fakeSecrets struct {
	value string
	err   error
}

func (f fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, f.err
}

func TestSendGridKey(t *testing.T) {
	tests := []struct {
		name    string
		secrets fakeSecrets
		want    string
	}{
		{"bare key", fakeSecrets{value: " SG.abc \n"}, "SG.abc"},
		{"json", fakeSecrets{value: `{"apiKey":"SG.json"}`}, "SG.json"},
		{"json without key", fakeSecrets{value: `{"other":"x"}`}, ""},
		{"empty", fakeSecrets{value: ""}, ""},
		{"bad json", fakeSecrets{value: `{`}, ""},
		{"denied", fakeSecrets{err: errors.New("AccessDenied")}, ""},
	}
	for _, tt := range tests {
		key, err := SendGridKey(context.Background(), tt.secrets, "arn:aws:secretsmanager:us-east-1:1:secret:sg")
		if key != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: key %q err %v, want %q", tt.name, key, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "secret:sg") {
			t.Errorf("%s: error %v does not name the secret", tt.name, err)
		}
	}
}
