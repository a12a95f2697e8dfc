// Package notification is the SendNotification state task, a
// waitForTaskToken task: it binds the task token to the exam, tells the
// student how to submit the score, and the execution waits for SubmitExam's
// callback. It links DynamoDB, and the AWS clients of the email modes its
// binary's main package passes (notify/ses: SES v2; notify/sendgrid: Secrets
// Manager). Its tests are in ../ (package handler_test), with the other
// handlers against one DynamoDB Local.
package notification

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

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

// EmailModes are the NOTIFICATION_MODE values besides log, each provided by a
// subpackage of notify.
var EmailModes = []string{"ses", "sendgrid"}

// NewSendNotification builds SendNotification from TABLE_NAME, EXAM_URL,
// SUBMIT_URL, TRACE_TASK_TOKEN (true writes the token into the trace) and
// NOTIFICATION_MODE: log, or one of modes (with NOTIFICATION_FROM,
// NOTIFICATION_TO and the mode's own settings). A mode of EmailModes that is
// not in modes is refused, naming the binary that serves it.
func NewSendNotification(ctx context.Context, getenv handler.Getenv, modes ...notify.Mode) (*SendNotification, error) {
	examURL, err := notify.ParseURL("EXAM_URL", strings.TrimSpace(getenv("EXAM_URL")))
	if err != nil {
		return nil, err
	}
	submitURL, err := notify.ParseURL("SUBMIT_URL", strings.TrimSpace(getenv("SUBMIT_URL")))
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(strings.TrimSpace(getenv("NOTIFICATION_MODE")))
	var email *notify.Mode
	if name != "" && name != "log" {
		for i := range modes {
			if modes[i].Name == name {
				email = &modes[i]
			}
		}
		switch {
		case email == nil && slices.Contains(EmailModes, name):
			return nil, fmt.Errorf("NOTIFICATION_MODE %s: this SendNotification binary serves %s; deploy lambda-src/cmd/sendnotification-%s or lambda-src/cmd/sendnotification (every mode)",
				name, strings.Join(served(modes), ", "), name)
		case email == nil:
			return nil, fmt.Errorf("NOTIFICATION_MODE must be log, %s, got %q", strings.Join(EmailModes, " or "), name)
		}
	}
	from, to := getenv("NOTIFICATION_FROM"), getenv("NOTIFICATION_TO")
	if email != nil && (from == "" || to == "") {
		return nil, fmt.Errorf("NOTIFICATION_MODE %s needs NOTIFICATION_FROM and NOTIFICATION_TO", name)
	}

	cfg, store, err := handler.OpenStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	senders := []notify.Sender{notify.Log{Logger: handler.NewLogger()}}
	if email != nil {
		sender, err := email.NewSender(ctx, cfg, from, to, getenv)
		if err != nil {
			return nil, err
		}
		senders = append(senders, sender)
	}
	return &SendNotification{
		Store: store, Senders: senders, ExamURL: examURL, SubmitURL: submitURL,
		TraceTaskToken: getenv("TRACE_TASK_TOKEN") == "true",
	}, nil
}

// served lists the modes a binary with modes serves.
func served(modes []notify.Mode) []string {
	names := []string{"log"}
	for _, m := range modes {
		names = append(names, m.Name)
	}
	return names
}

// Main is the main function of a SendNotification binary that serves the log
// mode and modes: it builds the handler from the environment and starts the
// Lambda runtime, or exits naming what is wrong.
func Main(modes ...notify.Mode) {
	h, err := NewSendNotification(context.Background(), os.Getenv, modes...)
	if err != nil {
		log.Fatalf("sendnotification: %v", err)
	}
	lambda.Start(h.Handle)
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
