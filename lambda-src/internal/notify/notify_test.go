package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

const token = "AQCEAAAAKgAAAAMAAAAA+token/with=chars&more"

var msg = Message{
	IncidentId: "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", StudentId: "s1",
	ExamId: "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b", Deadline: time.Date(2026, 4, 8, 9, 0, 0, 0, time.UTC),
	TaskToken: token,
}

func TestBody(t *testing.T) {
	tests := []struct {
		name      string
		examURL   string
		submitURL string
		replaces  bool
		link      string
	}{
		{name: "nothing configured"},
		{name: "submit URL", submitURL: "https://api.example.com/v2/exam"},
		{name: "exam page", examURL: "https://exams.example.com/take", submitURL: "https://api.example.com/v2/exam",
			link: "https://exams.example.com/take?ExamId=0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b&IncidentId=6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f&TaskToken=AQCEAAAAKgAAAAMAAAAA%2Btoken%2Fwith%3Dchars%26more"},
		{name: "exam page with a query", examURL: "https://exams.example.com/take?lang=en",
			link: "https://exams.example.com/take?ExamId=0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b&IncidentId=6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f&TaskToken=AQCEAAAAKgAAAAMAAAAA%2Btoken%2Fwith%3Dchars%26more&lang=en"},
		{name: "replacement", submitURL: "https://api.example.com/v2/exam", replaces: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msg
			m.ExamURL, m.SubmitURL, m.Replaces = tt.examURL, tt.submitURL, tt.replaces
			if got := m.ExamLink(); got != tt.link {
				t.Errorf("ExamLink() = %q, want %q", got, tt.link)
			}
			body := m.Body()
			for _, want := range []string{m.IncidentId, m.ExamId, "2026-04-08T09:00:00Z", "76", m.Submission()} {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			if tt.link != "" && !strings.Contains(body, tt.link) {
				t.Errorf("body lacks the link %s:\n%s", tt.link, body)
			}
			if tt.submitURL != "" && !strings.Contains(body, "POST "+tt.submitURL) {
				t.Errorf("body lacks POST %s:\n%s", tt.submitURL, body)
			}
			if got := strings.Contains(body, "replaces an earlier one"); got != tt.replaces {
				t.Errorf("body says it replaces an earlier message: %v, want %v", got, tt.replaces)
			}
			if got := strings.Contains(m.Subject(), "updated"); got != tt.replaces {
				t.Errorf("subject %q", m.Subject())
			}
			// The submission JSON is what POST /exam takes, the token exactly.
			var sub struct{ IncidentId, ExamId, TaskToken string }
			if err := json.Unmarshal([]byte(strings.Replace(m.Submission(), "<score from 0 to 100>", "80", 1)), &sub); err != nil ||
				sub.TaskToken != token || sub.IncidentId != m.IncidentId || sub.ExamId != m.ExamId {
				t.Errorf("Submission() = %s: %+v, %v", m.Submission(), sub, err)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	for value, ok := range map[string]bool{
		"":                                true,
		"https://api.example.com/v2/exam": true,
		"http://127.0.0.1:8080/exam":      true,
		"api.example.com/exam":            false,
		"ftp://example.com/x":             false,
		"https://":                        false,
		"https://example.com/%zz":         false,
		"/v2/exam":                        false,
	} {
		if got, err := ParseURL("SUBMIT_URL", value); (err == nil) != ok || (ok && got != value) {
			t.Errorf("ParseURL(%q) = %q, %v, want ok=%v", value, got, err, ok)
		} else if err != nil && !strings.Contains(err.Error(), "SUBMIT_URL") {
			t.Errorf("ParseURL(%q) error %v does not name the setting", value, err)
		}
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	m := msg
	m.ExamURL, m.SubmitURL = "https://exams.example.com/take", "https://api.example.com/v2/exam"
	if err := (Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}).Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	var entry map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["ExamId"] != m.ExamId || entry["IncidentId"] != m.IncidentId || entry["ExamDeadline"] != "2026-04-08T09:00:00Z" ||
		entry["SubmitURL"] != m.SubmitURL || !strings.Contains(entry["message"].(string), redactedToken) {
		t.Errorf("log entry = %v", entry)
	}
	// The token, in any encoding, stays out of the log.
	for _, s := range []string{token, "AQCEAAAAKgAAAAMAAAAA", url.QueryEscape(token)} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("the log carries the task token (%s): %s", s, buf.String())
		}
	}
}
