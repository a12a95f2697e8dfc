// Package sendgrid is SendNotification's sendgrid mode: the exam instructions
// by email through SendGrid's v3 HTTP API, with the API key read once, at
// start-up, from the Secrets Manager secret SENDGRID_SECRET_ARN.
package sendgrid

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// Endpoint is SendGrid's v3 mail send API.
const Endpoint = "https://api.sendgrid.com/v3/mail/send"

// Mode is NOTIFICATION_MODE=sendgrid.
var Mode = notify.Mode{
	Name: "sendgrid",
	NewSender: func(ctx context.Context, cfg awsapi.Config, from, to string, getenv func(string) string) (notify.Sender, error) {
		arn := getenv("SENDGRID_SECRET_ARN")
		if arn == "" {
			return nil, errors.New("NOTIFICATION_MODE sendgrid needs SENDGRID_SECRET_ARN")
		}
		key, err := Key(ctx, awsapi.New(cfg, awsapi.SecretsManager), arn)
		if err != nil {
			return nil, err
		}
		return Sender{HTTP: &http.Client{Timeout: 10 * time.Second}, Endpoint: Endpoint, APIKey: key, From: from, To: to}, nil
	},
}

// Sender sends the message through SendGrid's v3 HTTP API.
type Sender struct {
	HTTP     *http.Client
	Endpoint string
	APIKey   string
	From, To string
}

type address struct {
	Email string `json:"email"`
}

type personalization struct {
	To []address `json:"to"`
}

type content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type mail struct {
	Personalizations []personalization `json:"personalizations"`
	From             address           `json:"from"`
	Subject          string            `json:"subject"`
	Content          []content         `json:"content"`
}

// Send emails m; SendGrid answers 202 when it accepts the mail. A non-2xx
// answer is a *notify.StatusError.
func (s Sender) Send(ctx context.Context, m notify.Message) error {
	body, err := json.Marshal(mail{
		Personalizations: []personalization{{To: []address{{Email: s.To}}}},
		From:             address{Email: s.From},
		Subject:          m.Subject(),
		Content:          []content{{Type: "text/plain", Value: m.Body()}},
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
			&notify.StatusError{Service: "SendGrid", Status: resp.StatusCode, Detail: string(bytes.TrimSpace(detail))})
	}
	return nil
}

// SecretsAPI calls Secrets Manager: an *awsapi.Client of
// awsapi.SecretsManager.
type SecretsAPI interface {
	Call(ctx context.Context, operation string, in, out any, opts ...awsapi.Option) error
}

// Key reads the SendGrid API key from the secret arn. The secret is either the
// bare key or a JSON object with an "apiKey" field.
func Key(ctx context.Context, client SecretsAPI, arn string) (string, error) {
	var out struct{ SecretString string }
	if err := client.Call(ctx, "GetSecretValue", struct{ SecretId string }{arn}, &out); err != nil {
		return "", fmt.Errorf("read SendGrid API key from %s: %w", arn, err)
	}
	value := strings.TrimSpace(out.SecretString)
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
