// Package ses is SendNotification's ses mode: the exam instructions by email
// through Amazon SES (v2 API), from NOTIFICATION_FROM to NOTIFICATION_TO.
package ses

import (
	"context"
	"fmt"
	"net/http"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// Mode is NOTIFICATION_MODE=ses.
var Mode = notify.Mode{
	Name: "ses",
	NewSender: func(_ context.Context, cfg awsapi.Config, from, to string, _ func(string) string) (notify.Sender, error) {
		return Sender{Client: awsapi.New(cfg, awsapi.SESv2), From: from, To: to}, nil
	},
}

// API calls SES v2: an *awsapi.Client of awsapi.SESv2.
type API interface {
	CallREST(ctx context.Context, operation, method, path string, in, out any, opts ...awsapi.Option) error
}

// Sender sends the message with Amazon SES.
type Sender struct {
	Client   API
	From, To string
}

// sendEmailInput is the part of SES v2's SendEmail request Sender sends
// (POST /v2/email/outbound-emails).
type sendEmailInput struct {
	FromEmailAddress string
	Destination      struct{ ToAddresses []string }
	Content          struct {
		Simple struct {
			Subject struct{ Data string }
			Body    struct{ Text struct{ Data string } }
		}
	}
}

// Send emails m.
func (s Sender) Send(ctx context.Context, m notify.Message) error {
	in := sendEmailInput{FromEmailAddress: s.From}
	in.Destination.ToAddresses = []string{s.To}
	in.Content.Simple.Subject.Data = m.Subject()
	in.Content.Simple.Body.Text.Data = m.Body()
	var out struct{ MessageId string }
	if err := s.Client.CallREST(ctx, "SendEmail", http.MethodPost, "/v2/email/outbound-emails", in, &out); err != nil {
		return fmt.Errorf("send exam %s notification with SES: %w", m.ExamId, err)
	}
	return nil
}
