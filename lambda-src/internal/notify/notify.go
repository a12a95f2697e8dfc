// Package notify tells a student about an exam: always in the function's log
// with the task token redacted, and by email in the modes its subpackages
// provide (ses: Amazon SES; sendgrid: SendGrid). Each SendNotification binary
// links only the modes its main package names, and with them only their AWS
// clients (docs/LAMBDAS.md).
package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

// Message is one exam notification. It carries the task token the student's
// submission must present: the message itself is the credential, so it goes
// only to the student (email), never to a log.
type Message struct {
	IncidentId string
	StudentId  string
	ExamId     string
	Deadline   time.Time
	// TaskToken resumes the execution waiting for this exam's score.
	TaskToken string
	// ExamURL is the exam page; the student's link is ExamURL with the query
	// parameters IncidentId, ExamId and TaskToken. May be empty.
	ExamURL string
	// SubmitURL is POST /exam of the workflow's API. May be empty.
	SubmitURL string
	// Replaces is true when an earlier message about the same exam carried
	// an older token, which no longer works.
	Replaces bool
}

// redactedToken stands for the task token wherever a message is logged.
const redactedToken = "REDACTED"

// Subject returns the email subject.
func (m Message) Subject() string {
	subject := fmt.Sprintf("Plagiarism incident %s: exam %s", m.IncidentId, m.ExamId)
	if m.Replaces {
		subject += " (updated link)"
	}
	return subject
}

// ExamLink returns the student's link to the exam page: ExamURL with the
// query parameters IncidentId, ExamId and TaskToken added to any it has, or
// "" without an ExamURL.
func (m Message) ExamLink() string {
	if m.ExamURL == "" {
		return ""
	}
	u, err := url.Parse(m.ExamURL)
	if err != nil {
		// ParseURL checked it at start-up; keep the text rather than lose the message.
		return m.ExamURL
	}
	q := u.Query()
	q.Set("IncidentId", m.IncidentId)
	q.Set("ExamId", m.ExamId)
	q.Set("TaskToken", m.TaskToken)
	u.RawQuery = q.Encode()
	return u.String()
}

// Submission returns the JSON body of POST /exam for this exam, with a
// placeholder for the score.
func (m Message) Submission() string {
	token, _ := json.Marshal(m.TaskToken)
	return fmt.Sprintf(`{"IncidentId": %q, "ExamId": %q, "Score": <score from 0 to %d>, "TaskToken": %s}`,
		m.IncidentId, m.ExamId, domain.MaxScore, token)
}

// Body returns the exam instructions: the link to the exam page and what to
// POST to submit a score.
func (m Message) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dear student %s,\n\n", m.StudentId)
	fmt.Fprintf(&b, "Plagiarism incident %s requires you to take exam %s before %s.\n",
		m.IncidentId, m.ExamId, m.Deadline.UTC().Format(time.RFC3339))
	if m.Replaces {
		b.WriteString("This message replaces an earlier one about the same exam: the link in that one no longer works, use this one.\n")
	}
	if link := m.ExamLink(); link != "" {
		fmt.Fprintf(&b, "Take the exam at %s\n", link)
	}
	target := "POST /exam of the plagiarism workflow's API"
	if m.SubmitURL != "" {
		target = "POST " + m.SubmitURL
	}
	fmt.Fprintf(&b, "The score is submitted with %s and this JSON body:\n%s\n", target, m.Submission())
	fmt.Fprintf(&b, "A score of %d or more resolves the incident. Do not forward this message: the token in it submits the score.\n", domain.PassMark)
	return b.String()
}

// Redacted returns m with the task token replaced, for logs.
func (m Message) Redacted() Message {
	m.TaskToken = redactedToken
	return m
}

// ParseURL checks a URL setting (EXAM_URL, SUBMIT_URL): empty, or an
// absolute http(s) URL.
func ParseURL(name, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%s must be an absolute http(s) URL, got %q", name, value)
	}
	return value, nil
}

// Sender delivers a message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Log writes the instructions to a structured log, with the task token
// redacted: it is the default sender and runs before any email sender.
type Log struct {
	Logger *slog.Logger
}

// Send logs m without its task token.
func (l Log) Send(ctx context.Context, m Message) error {
	r := m.Redacted()
	l.Logger.InfoContext(ctx, "exam instructions",
		"IncidentId", r.IncidentId, "ExamId", r.ExamId, "ExamDeadline", r.Deadline.UTC().Format(time.RFC3339),
		"ExamURL", r.ExamURL, "SubmitURL", r.SubmitURL, "Replaces", r.Replaces, "message", r.Body())
	return nil
}

// StatusError is a non-2xx answer of an email API. Throttling (429) and
// server errors (5xx) are worth retrying: it says so to the AWS SDK's retry
// classifier (RetryableError), which the handlers use to tell transient
// failures.
type StatusError struct {
	// Service names the API.
	Service string
	// Status is the HTTP status code.
	Status int
	// Detail is the start of the answer's body.
	Detail string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.Service, e.Status, http.StatusText(e.Status), e.Detail)
}

// RetryableError reports whether the answer is throttling or a server error.
func (e *StatusError) RetryableError() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Mode is an email NOTIFICATION_MODE (ses, sendgrid): it builds the sender
// that runs after the log. A SendNotification binary serves the log mode and
// the modes its main package passes to notification.NewSendNotification.
type Mode struct {
	// Name is the NOTIFICATION_MODE value.
	Name string
	// NewSender builds the sender from the function's AWS configuration, the
	// addresses (NOTIFICATION_FROM, NOTIFICATION_TO, both set) and the
	// environment; it may read settings of its own from getenv.
	NewSender func(ctx context.Context, cfg awsapi.Config, from, to string, getenv func(string) string) (Sender, error)
}
