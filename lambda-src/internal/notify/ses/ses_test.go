package ses

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/notifytest"
)

// msg is an exam notification with a token that needs escaping.
var msg = notifytest.Message()

// fakeSES stands in for Amazon SES, which has no local implementation, at
// the HTTP boundary: it records each request and answers with status.
type fakeSES struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // method, path and body (as a JSON value)
	status   int
}

func newFakeSES(t *testing.T) *fakeSES {
	f := &fakeSES{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body any
		json.Unmarshal(data, &body)
		canonical, _ := json.Marshal(body)
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+string(canonical))
		status := f.status
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if status != 0 {
			w.Header().Set("X-Amzn-ErrorType", "MessageRejected")
			w.WriteHeader(status)
			io.WriteString(w, `{"message":"Email address is not verified."}`)
			return
		}
		io.WriteString(w, `{"MessageId":"m-1"}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSES) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.requests
	f.requests = nil
	return r
}

// TestSES: the request is the one aws-sdk-go-v2's SES v2 client sends for
// the same email; a refusal is an error naming the exam.
func TestSES(t *testing.T) {
	ses := newFakeSES(t)
	ctx := context.Background()
	cfg := awsapi.Config{Region: "eu-west-1", Credentials: aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, BaseEndpoint: ses.URL}
	s := Sender{Client: awsapi.New(cfg, awsapi.SESv2), From: "from@example.com", To: "to@example.com"}
	if err := s.Send(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got := ses.take()

	sdk := sesv2.New(sesv2.Options{Region: cfg.Region, BaseEndpoint: aws.String(ses.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return cfg.Credentials, nil })})
	if _, err := sdk.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.From),
		Destination:      &sestypes.Destination{ToAddresses: []string{s.To}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(msg.Subject())},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(msg.Body())}},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	if want := ses.take(); !reflect.DeepEqual(got, want) {
		t.Errorf("request\n got %v\nwant %v (the SDK's)", got, want)
	}
	if !strings.Contains(got[0], msg.ExamId) {
		t.Errorf("request %v does not carry the message", got)
	}

	ses.status = http.StatusBadRequest
	err := s.Send(ctx, msg)
	if err == nil || !strings.Contains(err.Error(), msg.ExamId) || awsapi.ErrorCode(err) != "MessageRejected" {
		t.Errorf("error = %v, want MessageRejected naming the exam", err)
	}
}
