package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/register"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/submit"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// The benchmarks measure handler latency against DynamoDB Local on this
// machine over loopback HTTP, no X-Ray daemon; SubmitExam's Step Functions is
// the HTTP fake. See docs/LAMBDAS.md for figures.

func BenchmarkRegisterIncident(b *testing.B) {
	h := &register.RegisterIncident{Now: time.Now}
	in := json.RawMessage(`{"StudentId":"bench"}`)
	for b.Loop() {
		if _, err := h.Handle(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScheduleExam(b *testing.B) {
	h := &handler.ScheduleExam{Store: newTestStore(b), Window: domain.DefaultExamWindow, Now: time.Now}
	ctx := context.Background()
	inputs := make([]json.RawMessage, b.N)
	for i := range inputs {
		inputs[i] = mustJSON(b, registerIncident(b))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Handle(ctx, inputs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSendNotification(b *testing.B) {
	store := newTestStore(b)
	h := &notification.SendNotification{Store: store, Senders: []notify.Sender{notify.Log{Logger: slog.New(slog.DiscardHandler)}}}
	ctx := context.Background()
	inputs := make([]json.RawMessage, b.N)
	for i := range inputs {
		inputs[i] = notifyPayload(b, scheduled(b, store), "token")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Handle(ctx, inputs[i]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSubmitExam(b *testing.B) {
	store := newTestStore(b)
	ctx := context.Background()
	requests := make([]events.APIGatewayProxyRequest, b.N)
	tokens := make([]string, b.N)
	for i := range requests {
		tokens[i] = fmt.Sprintf("token-%d", i)
		inc := notified(b, store, tokens[i])
		requests[i] = events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: submission(inc.IncidentId, inc.Exams[0].ExamId, "80", tokens[i])}
	}
	fake := newFakeStepFunctions(b, tokens...)
	h := &submit.SubmitExam{Store: store, SFN: fake.client(), Log: slog.New(slog.DiscardHandler)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := h.Handle(ctx, requests[i])
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
}
