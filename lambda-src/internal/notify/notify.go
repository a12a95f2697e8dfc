// Package notify tells a student about an exam: always in the function's log,
// and by email through Amazon SES or SendGrid when configured.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

// Message is one exam notification.
type Message struct {
	IncidentId string
	StudentId  string
	ExamId     string
	Deadline   time.Time
	// ExamURL is where the exam is taken; may be empty.
	ExamURL string
}

// Subject returns the email subject.
func (m Message) Subject() string {
	return fmt.Sprintf("Plagiarism incident %s: exam %s", m.IncidentId, m.ExamId)
}

// Body returns the exam instructions.
func (m Message) Body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dear student %s,\n\n", m.StudentId)
	fmt.Fprintf(&b, "Plagiarism incident %s requires you to take exam %s before %s.\n",
		m.IncidentId, m.ExamId, m.Deadline.UTC().Format(time.RFC3339))
	if m.ExamURL != "" {
		fmt.Fprintf(&b, "Take the exam at %s.\n", m.ExamURL)
	}
	fmt.Fprintf(&b, "A score of %d or more resolves the incident.\n", domain.PassMark)
	return b.String()
}

// Sender delivers a message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Log writes the instructions to a structured log; it is the default sender
// and runs before any email sender.
type Log struct {
	Logger *slog.Logger
}

// Send logs m.
func (l Log) Send(ctx context.Context, m Message) error {
	l.Logger.InfoContext(ctx, "exam instructions",
		"IncidentId", m.IncidentId, "ExamId", m.ExamId, "ExamDeadline", m.Deadline.UTC().Format(time.RFC3339),
		"ExamURL", m.ExamURL, "message", m.Body())
	return nil
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
		return fmt.Errorf("send exam %s notification with SendGrid: %s: %s", m.ExamId, resp.Status, bytes.TrimSpace(detail))
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
