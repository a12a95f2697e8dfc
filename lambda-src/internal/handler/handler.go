// Package handler holds what the workflow's Lambda handlers share (the AWS
// configuration, the incidents table, load-change-save with a version check,
// and how errors become Step Functions error names) and the three state tasks
// that need nothing but the table: ScheduleExam, ResolveIncident and
// TakeAdministrativeAction.
//
// SendNotification (package notification), SubmitExam (package submit) and
// RegisterIncident (package register) live in subpackages, so that each
// function's binary links only what it calls: RegisterIncident no AWS code,
// the three tasks here DynamoDB, SendNotification DynamoDB and its email
// modes, SubmitExam DynamoDB and Step Functions (all through awsapi).
//
// Every handler is safe to run twice with the same input, which Step
// Functions' Retry does when an invocation fails after the function ran
// (docs/WORKFLOW.md, "Retries").
package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

// Getenv reads an environment variable; os.Getenv in production.
type Getenv func(string) string

// saveAttempts bounds the load-change-save retries after a concurrent write.
const saveAttempts = 3

// AWSConfig builds the AWS configuration from Lambda's environment (which
// honours AWS_ENDPOINT_URL_<SERVICE>); every AWS call is traced. It is the
// only place a function creates its AWS configuration.
func AWSConfig(ctx context.Context) (awsapi.Config, error) {
	cfg, err := awsapi.Load(ctx)
	if err != nil {
		return awsapi.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// OpenStore loads the AWS configuration and opens the incidents table named
// by TABLE_NAME: the start of every constructor whose handler stores
// incidents. The configuration is returned for the other clients a handler
// needs.
func OpenStore(ctx context.Context, getenv Getenv) (awsapi.Config, *storage.Store, error) {
	table := strings.TrimSpace(getenv("TABLE_NAME"))
	if table == "" {
		return awsapi.Config{}, nil, errors.New("TABLE_NAME is not set")
	}
	cfg, err := AWSConfig(ctx)
	if err != nil {
		return awsapi.Config{}, nil, err
	}
	return cfg, storage.New(awsapi.New(cfg, awsapi.DynamoDB), table), nil
}

// NewLogger returns the JSON logger every function writes to CloudWatch.
func NewLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}

// DecodeIncident reads a state's input incident, checks it and normalizes its
// ids.
func DecodeIncident(in json.RawMessage) (domain.Incident, error) {
	var inc domain.Incident
	if err := json.Unmarshal(in, &inc); err != nil {
		return domain.Incident{}, &domain.InvalidIncident{Field: "input", Reason: err.Error()}
	}
	if err := inc.Normalize(); err != nil {
		return domain.Incident{}, err
	}
	return inc, nil
}

// Update loads incident id, applies change and saves it with a version check,
// reloading and reapplying after a concurrent write. When the incident is
// missing and create is not nil, create is saved as a new incident instead.
// A change that changes nothing saves nothing: the stored incident is
// returned as it is, so running the same change twice (a retried task, or a
// write that landed although its answer was lost) gives the same result.
// Errors from change are returned as they are.
func Update(ctx context.Context, store *storage.Store, id string, create *domain.Incident, change func(*domain.Incident) error) (domain.Incident, error) {
	for attempt := 1; ; attempt++ {
		inc, err := store.Load(ctx, id)
		if errors.Is(err, storage.ErrNotFound) && create != nil {
			inc, err = create.Clone(), nil
			inc.Version = 0
		}
		if err != nil {
			return domain.Incident{}, err
		}
		before := inc.Clone()
		if err := change(&inc); err != nil {
			return domain.Incident{}, err
		}
		if inc.Version != 0 && reflect.DeepEqual(before, inc) {
			return inc, nil
		}
		err = store.Save(ctx, &inc)
		if errors.Is(err, storage.ErrConflict) && attempt < saveAttempts {
			continue
		}
		if err != nil {
			return domain.Incident{}, err
		}
		return inc, nil
	}
}

// Transient reports whether err may well go away if the work is tried again
// later: what the AWS SDK's own retry policy retries (throttling, 5xx,
// timeouts, broken connections, and errors that say so through a
// RetryableError method, such as the email senders'), a deadline, or an
// incident that kept changing under concurrent writers.
func Transient(err error) bool {
	var transient *domain.TransientError
	if errors.As(err, &transient) || errors.Is(err, storage.ErrConflict) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// StateError turns a state task's error into what the state machine matches
// on: the domain's typed errors and *domain.TransientError unwrapped, so that
// their type names are the Step Functions error names; anything else wrapped
// with context (the state machine's catch-all records it on the incident).
func StateError(action, id string, err error) error {
	var (
		invalid   *domain.InvalidIncident
		exceeded  *domain.StudentExceededAllowableExamRetries
		notFound  *domain.ExamNotFound
		transient *domain.TransientError
	)
	switch {
	case errors.As(err, &invalid):
		return invalid
	case errors.As(err, &exceeded):
		return exceeded
	case errors.As(err, &notFound):
		return &domain.InvalidIncident{Field: "Exams", Reason: notFound.Error()}
	case errors.As(err, &transient):
		return transient
	case Transient(err):
		return &domain.TransientError{Op: fmt.Sprintf("%s for incident %s", action, id), Err: err}
	}
	return fmt.Errorf("%s for incident %s: %w", action, id, err)
}

// ScheduleExam adds an exam to an incident, saving the incident first if the
// table does not have it yet.
type ScheduleExam struct {
	Store  *storage.Store
	Window time.Duration
	Now    func() time.Time
}

// NewScheduleExam builds ScheduleExam from TABLE_NAME and EXAM_WINDOW.
func NewScheduleExam(ctx context.Context, getenv Getenv) (*ScheduleExam, error) {
	window := domain.DefaultExamWindow
	if v := getenv("EXAM_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("EXAM_WINDOW must be a positive Go duration such as 168h, got %q", v)
		}
		window = d
	}
	_, store, err := OpenStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &ScheduleExam{Store: store, Window: window, Now: time.Now}, nil
}

// Handle returns the saved incident with a new current exam. The exam's id
// comes from the incident id and the attempt number (the input's exams plus
// one), so a retry of the same input returns the exam the first run added
// instead of adding another. The stored incident, not the input, decides how
// many exams there were: a fourth is *domain.StudentExceededAllowableExamRetries.
func (h *ScheduleExam) Handle(ctx context.Context, in json.RawMessage) (domain.Incident, error) {
	input, err := DecodeIncident(in)
	if err != nil {
		return domain.Incident{}, err
	}
	attempt := len(input.Exams) + 1
	inc, err := Update(ctx, h.Store, input.IncidentId, &input, func(inc *domain.Incident) error {
		_, err := inc.ScheduleExam(attempt, h.Now(), h.Window)
		return err
	})
	if err != nil {
		return domain.Incident{}, StateError("schedule exam", input.IncidentId, err)
	}
	return inc, nil
}

// ResolveIncident closes an incident whose current exam was passed.
type ResolveIncident struct {
	Store *storage.Store
	Now   func() time.Time
}

// NewResolveIncident builds ResolveIncident from TABLE_NAME.
func NewResolveIncident(ctx context.Context, getenv Getenv) (*ResolveIncident, error) {
	_, store, err := OpenStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &ResolveIncident{Store: store, Now: time.Now}, nil
}

// Handle returns the resolved, saved incident; an incident already closed is
// returned as stored.
func (h *ResolveIncident) Handle(ctx context.Context, in json.RawMessage) (domain.Incident, error) {
	input, err := DecodeIncident(in)
	if err != nil {
		return domain.Incident{}, err
	}
	inc, err := Update(ctx, h.Store, input.IncidentId, nil, func(inc *domain.Incident) error {
		return inc.Resolve(h.Now())
	})
	if err != nil {
		return domain.Incident{}, StateError("resolve", input.IncidentId, err)
	}
	return inc, nil
}

// TakeAdministrativeAction closes an incident as needing an administrator:
// too many exams, a missed exam or a timed-out wait. It is also the state
// machine's failure recorder: when the input carries a Failure (what the
// catch-all caught), it records it on the incident.
type TakeAdministrativeAction struct {
	Store *storage.Store
	Now   func() time.Time
	Log   *slog.Logger
}

// NewTakeAdministrativeAction builds TakeAdministrativeAction from TABLE_NAME.
func NewTakeAdministrativeAction(ctx context.Context, getenv Getenv) (*TakeAdministrativeAction, error) {
	_, store, err := OpenStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &TakeAdministrativeAction{Store: store, Now: time.Now, Log: NewLogger()}, nil
}

// caughtError is the Error field a business Catch (ResultPath $.Error) adds.
type caughtError struct {
	Error *domain.Failure
}

// Handle returns the escalated, saved incident; an incident the table lacks
// is created, so an escalation is never lost, and one already closed keeps
// its closure. A Failure in the input is recorded on the incident.
func (h *TakeAdministrativeAction) Handle(ctx context.Context, in json.RawMessage) (domain.Incident, error) {
	input, err := DecodeIncident(in)
	if err != nil {
		return domain.Incident{}, err
	}
	var caught caughtError
	if err := json.Unmarshal(in, &caught); err == nil && caught.Error != nil {
		h.Log.InfoContext(ctx, "escalating after an error", "IncidentId", input.IncidentId,
			"error", caught.Error.Error, "cause", caught.Error.Cause)
	}
	failure := input.Failure
	if failure != nil {
		h.Log.ErrorContext(ctx, "recording a workflow failure", "IncidentId", input.IncidentId,
			"error", failure.Error, "cause", failure.Cause)
	}
	create := input.Clone()
	create.Failure = nil
	inc, err := Update(ctx, h.Store, input.IncidentId, &create, func(inc *domain.Incident) error {
		if failure != nil {
			inc.RecordFailure(*failure, h.Now())
		} else {
			inc.Escalate(h.Now())
		}
		return nil
	})
	if err != nil {
		return domain.Incident{}, StateError("take administrative action", input.IncidentId, err)
	}
	return inc, nil
}
