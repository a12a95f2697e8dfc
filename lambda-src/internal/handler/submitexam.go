package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

// SFNAPI is the part of the Step Functions client SubmitExam uses.
type SFNAPI interface {
	SendTaskHeartbeat(ctx context.Context, in *sfn.SendTaskHeartbeatInput, opts ...func(*sfn.Options)) (*sfn.SendTaskHeartbeatOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, opts ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
}

// SubmitExam is POST /exam: it stores a score and resumes the execution
// waiting on the task token.
//
// Order, so that a 4xx changes nothing and the state machine's next saves
// (version-checked) see the score: validate the body; load the incident and
// apply the score in memory (404, 409); SendTaskHeartbeat, which fails for a
// spent, expired or invalid token without consuming it (409); save with a
// version check; SendTaskSuccess with the saved incident as output. If that
// last call fails, the previous content is written back before answering.
type SubmitExam struct {
	Store *storage.Store
	SFN   SFNAPI
	Log   *slog.Logger
}

// NewSubmitExam builds SubmitExam from TABLE_NAME.
func NewSubmitExam(ctx context.Context, getenv Getenv) (*SubmitExam, error) {
	cfg, store, err := configAndStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &SubmitExam{Store: store, SFN: sfn.NewFromConfig(cfg), Log: newLogger()}, nil
}

// Submission is the body of POST /exam.
type Submission struct {
	IncidentId string
	ExamId     string
	Score      int
	TaskToken  string
}

// corsHeaders go on every response, errors included.
var corsHeaders = map[string]string{
	"Access-Control-Allow-Origin":  "*",
	"Access-Control-Allow-Methods": "OPTIONS,POST",
	"Access-Control-Allow-Headers": "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amzn-Trace-Id,traceparent,tracestate",
}

// message is the body of every non-200 response.
type message struct {
	Message string `json:"message"`
}

func respond(status int, body any) events.APIGatewayProxyResponse {
	headers := map[string]string{"Content-Type": "application/json"}
	for k, v := range corsHeaders {
		headers[k] = v
	}
	data, err := json.Marshal(body)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"message":"internal error"}`)
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(data)}
}

func fail(status int, format string, args ...any) events.APIGatewayProxyResponse {
	return respond(status, message{Message: fmt.Sprintf(format, args...)})
}

// ParseSubmission reads and checks a POST /exam body. Score is an integer
// from 0 to 100, given as a JSON number or a numeric string ("80"). The error
// is a *domain.InvalidIncident naming the first bad field.
func ParseSubmission(body string) (Submission, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil || raw == nil {
		return Submission{}, &domain.InvalidIncident{Field: "body", Reason: "must be a JSON object with IncidentId, ExamId, Score and TaskToken"}
	}
	var s Submission
	var err error
	if s.IncidentId, err = stringField(raw, "IncidentId"); err != nil {
		return Submission{}, err
	}
	if err := domain.ValidateID("IncidentId", s.IncidentId); err != nil {
		return Submission{}, err
	}
	if s.ExamId, err = stringField(raw, "ExamId"); err != nil {
		return Submission{}, err
	}
	if err := domain.ValidateID("ExamId", s.ExamId); err != nil {
		return Submission{}, err
	}
	if s.Score, err = parseScore(raw["Score"]); err != nil {
		return Submission{}, err
	}
	if s.TaskToken, err = stringField(raw, "TaskToken"); err != nil {
		return Submission{}, err
	}
	return s, nil
}

func stringField(raw map[string]json.RawMessage, field string) (string, error) {
	value, ok := raw[field]
	if !ok || string(value) == "null" {
		return "", &domain.InvalidIncident{Field: field, Reason: "is required"}
	}
	var s string
	if err := json.Unmarshal(value, &s); err != nil {
		return "", &domain.InvalidIncident{Field: field, Reason: "must be a string"}
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", &domain.InvalidIncident{Field: field, Reason: "must not be empty"}
	}
	return s, nil
}

func parseScore(raw json.RawMessage) (int, error) {
	if raw == nil || string(raw) == "null" {
		return 0, &domain.InvalidIncident{Field: "Score", Reason: "is required"}
	}
	text := string(raw)
	var quoted string
	if json.Unmarshal(raw, &quoted) == nil {
		text = strings.TrimSpace(quoted)
	}
	score, err := strconv.Atoi(text)
	if err != nil {
		return 0, &domain.InvalidIncident{Field: "Score", Reason: fmt.Sprintf("must be an integer from 0 to %d, got %s", domain.MaxScore, raw)}
	}
	if err := domain.ValidateScore(score); err != nil {
		return 0, err
	}
	return score, nil
}

// errCallback marks a failed Step Functions callback call.
var errCallback = errors.New("task token refused")

// Handle answers 200 with the updated incident, or 400, 404, 409 or 500 with
// {"message": ...}; the Lambda itself never fails.
func (h *SubmitExam) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body := req.Body
	if req.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return fail(http.StatusBadRequest, "body: is not valid base64"), nil
		}
		body = string(decoded)
	}
	sub, err := ParseSubmission(body)
	if err != nil {
		return fail(http.StatusBadRequest, "%s", invalidMessage(err)), nil
	}

	var before domain.Incident
	checked := false
	saved, err := update(ctx, h.Store, sub.IncidentId, nil, func(inc *domain.Incident) error {
		before = *inc
		before.Exams = append([]domain.Exam{}, inc.Exams...)
		if err := inc.RecordScore(sub.ExamId, sub.Score); err != nil {
			return err
		}
		if checked {
			return nil
		}
		checked = true
		if _, err := h.SFN.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(sub.TaskToken)}); err != nil {
			return fmt.Errorf("%w: %w", errCallback, err)
		}
		return nil
	})
	if err != nil {
		return h.failure(ctx, sub, err), nil
	}

	output, err := json.Marshal(saved)
	if err != nil {
		return h.failure(ctx, sub, err), nil
	}
	_, err = h.SFN.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(sub.TaskToken), Output: aws.String(string(output))})
	if err != nil {
		restore := before
		restore.Version = saved.Version
		if rerr := h.Store.Save(ctx, &restore); rerr != nil {
			h.Log.ErrorContext(ctx, "restore incident after a failed callback", "IncidentId", sub.IncidentId, "error", rerr)
			return fail(http.StatusInternalServerError, "internal error"), nil
		}
		return h.failure(ctx, sub, fmt.Errorf("%w: %w", errCallback, err)), nil
	}
	return respond(http.StatusOK, saved), nil
}

// failure maps an error to its response and logs the unexpected ones.
func (h *SubmitExam) failure(ctx context.Context, sub Submission, err error) events.APIGatewayProxyResponse {
	var (
		invalid      *domain.InvalidIncident
		examNotFound *domain.ExamNotFound
		closed       *domain.ExamClosed
	)
	switch {
	case errors.As(err, &invalid):
		return fail(http.StatusBadRequest, "%s", invalidMessage(invalid))
	case errors.Is(err, storage.ErrNotFound):
		return fail(http.StatusNotFound, "IncidentId: no incident %s", sub.IncidentId)
	case errors.As(err, &examNotFound):
		return fail(http.StatusNotFound, "ExamId: incident %s has no exam %s", sub.IncidentId, sub.ExamId)
	case errors.As(err, &closed):
		return fail(http.StatusConflict, "ExamId: %s", closed.Error())
	case errors.Is(err, storage.ErrConflict):
		return fail(http.StatusConflict, "IncidentId: incident %s keeps changing, retry", sub.IncidentId)
	case errors.Is(err, errCallback) && tokenRefused(err):
		return fail(http.StatusConflict, "TaskToken: %s", tokenReason(err))
	}
	h.Log.ErrorContext(ctx, "submit exam", "IncidentId", sub.IncidentId, "ExamId", sub.ExamId, "error", err)
	return fail(http.StatusInternalServerError, "internal error")
}

func invalidMessage(err error) string {
	var invalid *domain.InvalidIncident
	if errors.As(err, &invalid) {
		return invalid.Field + ": " + invalid.Reason
	}
	return err.Error()
}

// tokenRefused reports whether Step Functions refused the token itself:
// spent, expired or malformed.
func tokenRefused(err error) bool {
	var (
		gone    *sfntypes.TaskDoesNotExist
		timeout *sfntypes.TaskTimedOut
		invalid *sfntypes.InvalidToken
	)
	return errors.As(err, &gone) || errors.As(err, &timeout) || errors.As(err, &invalid)
}

func tokenReason(err error) string {
	var (
		gone    *sfntypes.TaskDoesNotExist
		timeout *sfntypes.TaskTimedOut
	)
	switch {
	case errors.As(err, &gone):
		return "the task does not exist or was already completed"
	case errors.As(err, &timeout):
		return "the exam window has closed"
	}
	return "the token is not valid"
}
