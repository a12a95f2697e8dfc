package ses

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/notifytest"
)

// msg is an exam notification with a token that needs escaping.
var msg = notifytest.Message()

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
