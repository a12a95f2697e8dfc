// Package ses is SendNotification's ses mode: the exam instructions by email
// through Amazon SES (v2 API), from NOTIFICATION_FROM to NOTIFICATION_TO. It
// links the SES v2 client, and only the binaries that serve the mode link it.
package ses

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// Mode is NOTIFICATION_MODE=ses.
var Mode = notify.Mode{
	Name: "ses",
	NewSender: func(_ context.Context, cfg aws.Config, from, to string, _ func(string) string) (notify.Sender, error) {
		return Sender{Client: sesv2.NewFromConfig(cfg), From: from, To: to}, nil
	},
}

// API is the part of the SES v2 client Sender uses.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender sends the message with Amazon SES.
type Sender struct {
	Client   API
	From, To string
}

// Send emails m.
func (s Sender) Send(ctx context.Context, m notify.Message) error {
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
