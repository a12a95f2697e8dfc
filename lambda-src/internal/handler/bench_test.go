package handler

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// The benchmarks measure handler latency against DynamoDB Local on this
// machine: GetItem + UpdateItem over loopback HTTP per invocation, no X-Ray
// daemon. See docs/LAMBDAS.md for figures.

func BenchmarkRegisterIncident(b *testing.B) {
	h := &RegisterIncident{Now: time.Now}
	in := json.RawMessage(`{"StudentId":"bench"}`)
	for b.Loop() {
		if _, err := h.Handle(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScheduleExam(b *testing.B) {
	h := &ScheduleExam{Store: newTestStore(b), Window: domain.DefaultExamWindow, Now: time.Now}
	ctx := context.Background()
	inputs := make([]json.RawMessage, b.N)
	for i := range inputs {
		inputs[i] = mustJSON(b, register(b))
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
	schedule := &ScheduleExam{Store: store, Window: domain.DefaultExamWindow, Now: time.Now}
	h := &SendNotification{Store: store, Senders: []notify.Sender{notify.Log{Logger: slog.New(slog.DiscardHandler)}}}
	ctx := context.Background()
	inputs := make([]json.RawMessage, b.N)
	for i := range inputs {
		inputs[i] = mustJSON(b, map[string]any{"Incident": scheduled(b, schedule), "TaskToken": "token"})
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
	schedule := &ScheduleExam{Store: store, Window: domain.DefaultExamWindow, Now: time.Now}
	h := &SubmitExam{Store: store, SFN: &fakeSFN{}, Log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	requests := make([]events.APIGatewayProxyRequest, b.N)
	for i := range requests {
		inc := scheduled(b, schedule)
		body := mustJSON(b, map[string]any{"IncidentId": inc.IncidentId, "ExamId": inc.Exams[0].ExamId, "Score": "80", "TaskToken": "token"})
		requests[i] = events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: string(body)}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := h.Handle(ctx, requests[i])
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
		}
	}
}
