// Package notification is the SendNotification state task, a
// waitForTaskToken task: it binds the task token to the exam, tells the
// student how to submit the score, and the execution waits for SubmitExam's
// callback. It links DynamoDB, SES and Secrets Manager. Its tests are in
// ../ (package handler_test), with the other handlers against one DynamoDB
// Local.
package notification

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/tracing"
)

// SendNotification tells the student about the current exam. It runs as a
// waitForTaskToken task: the execution waits for SubmitExam to call back with
// the token, and only that token can score the exam.
type SendNotification struct {
	Store *storage.Store
	// Senders deliver the message in order; the first is always the log.
	Senders []notify.Sender
	// ExamURL is the exam page the student's link opens; may be empty.
	ExamURL string
	// SubmitURL is POST /exam of the workflow's API; may be empty.
	SubmitURL string
	// TraceTaskToken writes the task token into the NotificationData trace
	// metadata, where the trace-based tests read it. Whoever can read the
	// traces (xray:BatchGetTraces) can then score the exam: turn it on only
	// where that is acceptable (docs/WORKFLOW.md).
	TraceTaskToken bool
}

// Request is SendNotification's input.
type Request struct {
	Incident  json.RawMessage
	TaskToken string
}

// NewSendNotification builds SendNotification from TABLE_NAME, EXAM_URL,
// SUBMIT_URL, TRACE_TASK_TOKEN (true writes the token into the trace) and
// NOTIFICATION_MODE (log, ses or sendgrid, with NOTIFICATION_FROM,
// NOTIFICATION_TO and, for sendgrid, SENDGRID_SECRET_ARN).
func NewSendNotification(ctx context.Context, getenv handler.Getenv) (*SendNotification, error) {
	examURL, err := notify.ParseURL("EXAM_URL", strings.TrimSpace(getenv("EXAM_URL")))
	if err != nil {
		return nil, err
	}
	submitURL, err := notify.ParseURL("SUBMIT_URL", strings.TrimSpace(getenv("SUBMIT_URL")))
	if err != nil {
		return nil, err
	}
	mode := strings.ToLower(strings.TrimSpace(getenv("NOTIFICATION_MODE")))
	from, to := getenv("NOTIFICATION_FROM"), getenv("NOTIFICATION_TO")
	switch mode {
	case "", "log":
	case "ses", "sendgrid":
		if from == "" || to == "" {
			return nil, fmt.Errorf("NOTIFICATION_MODE %s needs NOTIFICATION_FROM and NOTIFICATION_TO", mode)
		}
		if mode == "sendgrid" && getenv("SENDGRID_SECRET_ARN") == "" {
			return nil, errors.New("NOTIFICATION_MODE sendgrid needs SENDGRID_SECRET_ARN")
		}
	default:
		return nil, fmt.Errorf("NOTIFICATION_MODE must be log, ses or sendgrid, got %q", mode)
	}

	cfg, store, err := handler.OpenStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	senders := []notify.Sender{notify.Log{Logger: handler.NewLogger()}}
	switch mode {
	case "ses":
		senders = append(senders, notify.SES{Client: sesv2.NewFromConfig(cfg), From: from, To: to})
	case "sendgrid":
		key, err := notify.SendGridKey(ctx, secretsmanager.NewFromConfig(cfg), getenv("SENDGRID_SECRET_ARN"))
		if err != nil {
			return nil, err
		}
		senders = append(senders, notify.SendGrid{
			HTTP: &http.Client{Timeout: 10 * time.Second}, Endpoint: notify.SendGridEndpoint, APIKey: key, From: from, To: to,
		})
	}
	return &SendNotification{
		Store: store, Senders: senders, ExamURL: examURL, SubmitURL: submitURL,
		TraceTaskToken: getenv("TRACE_TASK_TOKEN") == "true",
	}, nil
}

// Handle binds the task token to the current exam (its SHA-256 digest is
// stored, before anyone can have the token), sends the instructions inside
// the NotificationData trace subsegment, then records NotificationSent. Its
// output is {}: the state's result is the callback's.
//
// Run again with the same token (the answer of a completed run was lost), it
// sends nothing: the message with that token went out. Run with a new token
// (Step Functions' Retry gives each attempt its own, and only the newest can
// resume the execution), it rebinds the exam to the new token and sends a
// message that says it replaces the earlier one, whose link then answers 403.
func (h *SendNotification) Handle(ctx context.Context, in json.RawMessage) (struct{}, error) {
	var req Request
	if err := json.Unmarshal(in, &req); err != nil {
		return struct{}{}, &domain.InvalidIncident{Field: "input", Reason: err.Error()}
	}
	if strings.TrimSpace(req.TaskToken) == "" {
		return struct{}{}, &domain.InvalidIncident{Field: "TaskToken", Reason: "must not be empty"}
	}
	if err := domain.ValidateTaskToken(req.TaskToken); err != nil {
		return struct{}{}, err
	}
	input, err := handler.DecodeIncident(req.Incident)
	if err != nil {
		return struct{}{}, err
	}
	current, ok := input.CurrentExam()
	if !ok {
		return struct{}{}, &domain.InvalidIncident{Field: "Exams", Reason: "the incident has no exam to notify about"}
	}
	examID := current.ExamId

	bound, err := handler.Update(ctx, h.Store, input.IncidentId, nil, func(inc *domain.Incident) error {
		return inc.BindTaskToken(examID, req.TaskToken)
	})
	if err != nil {
		return struct{}{}, handler.StateError("bind the task token", input.IncidentId, err)
	}
	exam, _ := bound.CurrentExam()
	if exam.NotificationSent {
		return struct{}{}, nil
	}

	msg := notify.Message{
		IncidentId: bound.IncidentId, StudentId: bound.StudentId, ExamId: examID, Deadline: exam.ExamDeadline,
		TaskToken: req.TaskToken, ExamURL: h.ExamURL, SubmitURL: h.SubmitURL, Replaces: exam.EarlierMessageSent,
	}
	note := tracing.Notification{ExamId: examID, IncidentId: bound.IncidentId}
	if h.TraceTaskToken {
		note.TaskToken = req.TaskToken
	}
	err = tracing.RecordNotification(ctx, note, func(ctx context.Context) error {
		for _, s := range h.Senders {
			if err := s.Send(ctx, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return struct{}{}, handler.StateError("notify", input.IncidentId, err)
	}

	_, err = handler.Update(ctx, h.Store, input.IncidentId, nil, func(inc *domain.Incident) error {
		return inc.MarkNotified(examID, req.TaskToken)
	})
	if err != nil {
		return struct{}{}, handler.StateError("mark the exam notified", input.IncidentId, err)
	}
	return struct{}{}, nil
}
