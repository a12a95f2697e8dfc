package ses

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// msg is an exam notification with a token that needs escaping.
var msg = notify.Message{
	IncidentId: "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", StudentId: "s1",
	ExamId: "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b", Deadline: time.Date(2026, 4, 8, 9, 0, 0, 0, time.UTC),
	TaskToken: "AQCEAAAAKgAAAAMAAAAA+token/with=chars&more",
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
	s := Sender{Client: fake, From: "from@example.com", To: "to@example.com"}
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
