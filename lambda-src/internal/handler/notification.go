package handler

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
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/tracing"
)

// SendNotification tells the student about the current exam and marks the
// exam as notified. It runs as a waitForTaskToken task: the execution waits
// for SubmitExam to call back with the token.
type SendNotification struct {
	Store *storage.Store
	// Senders deliver the message in order; the first is always the log.
	Senders []notify.Sender
	ExamURL string
}

// NotificationRequest is SendNotification's input.
type NotificationRequest struct {
	Incident  json.RawMessage
	TaskToken string
}

// NewSendNotification builds SendNotification from TABLE_NAME, EXAM_URL and
// NOTIFICATION_MODE (log, ses or sendgrid, with NOTIFICATION_FROM,
// NOTIFICATION_TO and, for sendgrid, SENDGRID_SECRET_ARN).
func NewSendNotification(ctx context.Context, getenv Getenv) (*SendNotification, error) {
	cfg, store, err := configAndStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	senders := []notify.Sender{notify.Log{Logger: newLogger()}}
	mode := strings.ToLower(strings.TrimSpace(getenv("NOTIFICATION_MODE")))
	from, to := getenv("NOTIFICATION_FROM"), getenv("NOTIFICATION_TO")
	if mode != "" && mode != "log" && (from == "" || to == "") {
		return nil, fmt.Errorf("NOTIFICATION_MODE %s needs NOTIFICATION_FROM and NOTIFICATION_TO", mode)
	}
	switch mode {
	case "", "log":
	case "ses":
		senders = append(senders, notify.SES{Client: sesv2.NewFromConfig(cfg), From: from, To: to})
	case "sendgrid":
		arn := getenv("SENDGRID_SECRET_ARN")
		if arn == "" {
			return nil, errors.New("NOTIFICATION_MODE sendgrid needs SENDGRID_SECRET_ARN")
		}
		key, err := notify.SendGridKey(ctx, secretsmanager.NewFromConfig(cfg), arn)
		if err != nil {
			return nil, err
		}
		senders = append(senders, notify.SendGrid{
			HTTP: &http.Client{Timeout: 10 * time.Second}, Endpoint: notify.SendGridEndpoint, APIKey: key, From: from, To: to,
		})
	default:
		return nil, fmt.Errorf("NOTIFICATION_MODE must be log, ses or sendgrid, got %q", mode)
	}
	return &SendNotification{Store: store, Senders: senders, ExamURL: getenv("EXAM_URL")}, nil
}

// Handle sends the instructions inside the NotificationData subsegment, which
// carries the task token for the trace-based test, then records
// NotificationSent. Its output is {}: the state's result is the callback's.
func (h *SendNotification) Handle(ctx context.Context, in json.RawMessage) (struct{}, error) {
	var req NotificationRequest
	if err := json.Unmarshal(in, &req); err != nil {
		return struct{}{}, &domain.InvalidIncident{Field: "input", Reason: err.Error()}
	}
	if strings.TrimSpace(req.TaskToken) == "" {
		return struct{}{}, &domain.InvalidIncident{Field: "TaskToken", Reason: "must not be empty"}
	}
	input, err := decodeIncident(req.Incident)
	if err != nil {
		return struct{}{}, err
	}
	exam, ok := input.CurrentExam()
	if !ok {
		return struct{}{}, &domain.InvalidIncident{Field: "Exams", Reason: "the incident has no exam to notify about"}
	}
	msg := notify.Message{
		IncidentId: input.IncidentId, StudentId: input.StudentId, ExamId: exam.ExamId,
		Deadline: exam.ExamDeadline, ExamURL: h.ExamURL,
	}
	note := tracing.Notification{TaskToken: req.TaskToken, ExamId: exam.ExamId, IncidentId: input.IncidentId}
	err = tracing.RecordNotification(ctx, note, func(ctx context.Context) error {
		for _, s := range h.Senders {
			if err := s.Send(ctx, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return struct{}{}, fmt.Errorf("notify incident %s: %w", input.IncidentId, err)
	}
	_, err = update(ctx, h.Store, input.IncidentId, nil, func(inc *domain.Incident) error {
		return inc.MarkNotified(exam.ExamId)
	})
	if err != nil {
		return struct{}{}, stateError("mark exam notified", input.IncidentId, err)
	}
	return struct{}{}, nil
}
