// Package handler holds the six Lambda handlers of the plagiarism workflow.
// They decode input, call the domain rules and the storage, and return the
// domain's typed errors unwrapped where the state machine matches their type
// name. Each cmd/<name> main package builds one of them from the environment.
package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/tracing"
)

// Getenv reads an environment variable; os.Getenv in production.
type Getenv func(string) string

// saveAttempts bounds the load-change-save retries after a concurrent write.
const saveAttempts = 3

// AWSConfig loads the default AWS configuration (which honours
// AWS_ENDPOINT_URL_<SERVICE>) and traces every AWS call with X-Ray.
func AWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	tracing.Instrument(&cfg)
	return cfg, nil
}

// newStore opens the table named by TABLE_NAME.
// configAndStore loads the SDK configuration and opens the incidents table named by
// TABLE_NAME: the start of every constructor whose handler stores incidents.
func configAndStore(ctx context.Context, getenv Getenv) (aws.Config, *storage.Store, error) {
	cfg, err := AWSConfig(ctx)
	if err != nil {
		return aws.Config{}, nil, err
	}
	store, err := newStore(cfg, getenv)
	return cfg, store, err
}

func newStore(cfg aws.Config, getenv Getenv) (*storage.Store, error) {
	table := strings.TrimSpace(getenv("TABLE_NAME"))
	if table == "" {
		return nil, errors.New("TABLE_NAME is not set")
	}
	return storage.New(dynamodb.NewFromConfig(cfg), table), nil
}

// newLogger returns the JSON logger every function writes to CloudWatch.
func newLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}

// decodeIncident reads a state's input incident and checks it.
func decodeIncident(in json.RawMessage) (domain.Incident, error) {
	var inc domain.Incident
	if err := json.Unmarshal(in, &inc); err != nil {
		return domain.Incident{}, &domain.InvalidIncident{Field: "input", Reason: err.Error()}
	}
	if err := inc.Validate(); err != nil {
		return domain.Incident{}, err
	}
	return inc, nil
}

// update loads incident id, applies change and saves it with a version check,
// reloading and reapplying after a concurrent write. When the incident is
// missing and create is not nil, create is saved as a new incident instead.
// Errors from change are returned as they are.
func update(ctx context.Context, store *storage.Store, id string, create *domain.Incident, change func(*domain.Incident) error) (domain.Incident, error) {
	for attempt := 1; ; attempt++ {
		inc, err := store.Load(ctx, id)
		if errors.Is(err, storage.ErrNotFound) && create != nil {
			inc, err = *create, nil
			inc.Exams = append([]domain.Exam{}, create.Exams...)
			inc.Version = 0
		}
		if err != nil {
			return domain.Incident{}, err
		}
		if err := change(&inc); err != nil {
			return domain.Incident{}, err
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

// RegisterIncident opens an incident; it writes nothing.
type RegisterIncident struct {
	Now func() time.Time
}

// Registration is RegisterIncident's input.
type Registration struct {
	StudentId string
	// IncidentDate is an RFC 3339 time; empty means now.
	IncidentDate string
}

// Handle returns a new incident with a fresh IncidentId and no exams, or
// *domain.InvalidIncident.
func (h *RegisterIncident) Handle(_ context.Context, in json.RawMessage) (domain.Incident, error) {
	var r Registration
	if err := json.Unmarshal(in, &r); err != nil {
		return domain.Incident{}, &domain.InvalidIncident{Field: "input", Reason: err.Error()}
	}
	return domain.NewIncident(r.StudentId, r.IncidentDate, h.Now())
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
	_, store, err := configAndStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &ScheduleExam{Store: store, Window: window, Now: time.Now}, nil
}

// Handle returns the saved incident with a new current exam. The stored
// incident, not the input, decides how many exams there were: a fourth is
// *domain.StudentExceededAllowableExamRetries.
func (h *ScheduleExam) Handle(ctx context.Context, in json.RawMessage) (domain.Incident, error) {
	input, err := decodeIncident(in)
	if err != nil {
		return domain.Incident{}, err
	}
	inc, err := update(ctx, h.Store, input.IncidentId, &input, func(inc *domain.Incident) error {
		_, err := inc.ScheduleExam(h.Now(), h.Window)
		return err
	})
	if err != nil {
		return domain.Incident{}, stateError("schedule exam", input.IncidentId, err)
	}
	return inc, nil
}

// stateError returns the domain's typed errors unwrapped, so the state
// machine sees their type names, and wraps anything else with context.
func stateError(action, id string, err error) error {
	var (
		invalid  *domain.InvalidIncident
		exceeded *domain.StudentExceededAllowableExamRetries
		notFound *domain.ExamNotFound
	)
	switch {
	case errors.As(err, &invalid):
		return invalid
	case errors.As(err, &exceeded):
		return exceeded
	case errors.As(err, &notFound):
		return &domain.InvalidIncident{Field: "Exams", Reason: notFound.Error()}
	}
	return fmt.Errorf("%s for incident %s: %w", action, id, err)
}

// ResolveIncident closes an incident whose current exam was passed.
type ResolveIncident struct {
	Store *storage.Store
	Now   func() time.Time
}

// NewResolveIncident builds ResolveIncident from TABLE_NAME.
func NewResolveIncident(ctx context.Context, getenv Getenv) (*ResolveIncident, error) {
	_, store, err := configAndStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &ResolveIncident{Store: store, Now: time.Now}, nil
}

// Handle returns the resolved, saved incident.
func (h *ResolveIncident) Handle(ctx context.Context, in json.RawMessage) (domain.Incident, error) {
	input, err := decodeIncident(in)
	if err != nil {
		return domain.Incident{}, err
	}
	inc, err := update(ctx, h.Store, input.IncidentId, nil, func(inc *domain.Incident) error {
		return inc.Resolve(h.Now())
	})
	if err != nil {
		return domain.Incident{}, stateError("resolve", input.IncidentId, err)
	}
	return inc, nil
}

// TakeAdministrativeAction closes an incident as needing an administrator:
// too many exams, a missed exam or a timed-out wait.
type TakeAdministrativeAction struct {
	Store *storage.Store
	Now   func() time.Time
	Log   *slog.Logger
}

// NewTakeAdministrativeAction builds TakeAdministrativeAction from TABLE_NAME.
func NewTakeAdministrativeAction(ctx context.Context, getenv Getenv) (*TakeAdministrativeAction, error) {
	_, store, err := configAndStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &TakeAdministrativeAction{Store: store, Now: time.Now, Log: newLogger()}, nil
}

// caughtError is the Error field a Catch with ResultPath $.Error adds.
type caughtError struct {
	Error *struct {
		Error string
		Cause string
	}
}

// Handle returns the escalated, saved incident; an incident the table lacks
// is created, so an escalation is never lost.
func (h *TakeAdministrativeAction) Handle(ctx context.Context, in json.RawMessage) (domain.Incident, error) {
	input, err := decodeIncident(in)
	if err != nil {
		return domain.Incident{}, err
	}
	var caught caughtError
	if err := json.Unmarshal(in, &caught); err == nil && caught.Error != nil {
		h.Log.InfoContext(ctx, "escalating after an error", "IncidentId", input.IncidentId,
			"error", caught.Error.Error, "cause", caught.Error.Cause)
	}
	inc, err := update(ctx, h.Store, input.IncidentId, &input, func(inc *domain.Incident) error {
		return inc.Escalate(h.Now())
	})
	if err != nil {
		return domain.Incident{}, stateError("take administrative action", input.IncidentId, err)
	}
	return inc, nil
}
