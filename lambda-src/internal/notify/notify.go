// Package notify tells a student about an exam: by email through Amazon SES or
// SendGrid when configured, and always in the function's log with the task
// token redacted.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

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

// SESAPI is the part of the SES v2 client SES uses.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// SES sends the message with Amazon SES.
type SES struct {
	Client   SESAPI
	From, To string
}

// Send emails m.
func (s SES) Send(ctx context.Context, m Message) error {
	_, err := s.Client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &sestypes.Destination{ToAddresses: []string{s.To}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(m.Subject())},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(m.Body())}},
		}},
	})
	if err != nil {
		return fmt.Errorf("send exam %s notification with SES: %w", m.ExamId, err)
	}
	return nil
}

// SendGridEndpoint is SendGrid's v3 mail send API.
const SendGridEndpoint = "https://api.sendgrid.com/v3/mail/send"

// SendGrid sends the message through SendGrid's v3 HTTP API.
type SendGrid struct {
	HTTP     *http.Client
	Endpoint string
	APIKey   string
	From, To string
}

type sendGridAddress struct {
	Email string `json:"email"`
}

type sendGridPersonalization struct {
	To []sendGridAddress `json:"to"`
}

type sendGridContent struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type sendGridMail struct {
	Personalizations []sendGridPersonalization `json:"personalizations"`
	From             sendGridAddress           `json:"from"`
	Subject          string                    `json:"subject"`
	Content          []sendGridContent         `json:"content"`
}

// Send emails m; SendGrid answers 202 when it accepts the mail.
func (s SendGrid) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(sendGridMail{
		Personalizations: []sendGridPersonalization{{To: []sendGridAddress{{Email: s.To}}}},
		From:             sendGridAddress{Email: s.From},
		Subject:          m.Subject(),
		Content:          []sendGridContent{{Type: "text/plain", Value: m.Body()}},
	})
	if err != nil {
		return fmt.Errorf("send exam %s notification with SendGrid: %w", m.ExamId, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("send exam %s notification with SendGrid: %w", m.ExamId, err)
	}
	req.Header.Set("Authorization", "Bearer "+s.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("send exam %s notification with SendGrid: %w", m.ExamId, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		detail, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("send exam %s notification: %w", m.ExamId,
			&StatusError{Service: "SendGrid", Status: resp.StatusCode, Detail: string(bytes.TrimSpace(detail))})
	}
	return nil
}

// SecretsAPI is the part of the Secrets Manager client SendGridKey uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SendGridKey reads the SendGrid API key from the secret arn. The secret is
// either the bare key or a JSON object with an "apiKey" field.
func SendGridKey(ctx context.Context, client SecretsAPI, arn string) (string, error) {
	out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read SendGrid API key from %s: %w", arn, err)
	}
	value := strings.TrimSpace(aws.ToString(out.SecretString))
	if strings.HasPrefix(value, "{") {
		var doc struct {
			APIKey string `json:"apiKey"`
		}
		if err := json.Unmarshal([]byte(value), &doc); err != nil {
			return "", fmt.Errorf("read SendGrid API key from %s: %w", arn, err)
		}
		value = strings.TrimSpace(doc.APIKey)
	}
	if value == "" {
		return "", fmt.Errorf("read SendGrid API key from %s: the secret holds no key", arn)
	}
	return value, nil
}
