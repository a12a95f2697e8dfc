// Package submit is POST /exam (SubmitExam): it stores a score on the exam
// its task token was issued for and resumes the execution waiting on that
// token. It links DynamoDB and Step Functions.
package submit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

// SFNAPI calls Step Functions (SendTaskHeartbeat, SendTaskSuccess): an
// *awsapi.Client of awsapi.SFN.
type SFNAPI interface {
	Call(ctx context.Context, operation string, in, out any, opts ...awsapi.Option) error
}

// taskToken is SendTaskHeartbeat's input; taskSuccess SendTaskSuccess's.
type (
	taskToken struct {
		TaskToken string `json:"taskToken"`
	}
	taskSuccess struct {
		TaskToken string `json:"taskToken"`
		Output    string `json:"output"`
	}
)

// How SendTaskSuccess is retried by default: attempts of at most
// DefaultCallbackTimeout each, DefaultCallbackBackoff apart and doubling.
// Together (about 9 s) they stay inside the function's 15 s timeout and API
// Gateway's 29 s.
const (
	DefaultCallbackAttempts = 4
	DefaultCallbackTimeout  = 2 * time.Second
	DefaultCallbackBackoff  = 100 * time.Millisecond
)

// SubmitExam is POST /exam: it stores a score and resumes the execution
// waiting on the task token. See docs/LAMBDAS.md for the order of its steps
// and the status codes.
type SubmitExam struct {
	Store *storage.Store
	SFN   SFNAPI
	Log   *slog.Logger
	// AllowOrigin is the Access-Control-Allow-Origin of every response;
	// empty means "*".
	AllowOrigin string
	// CallbackAttempts, CallbackTimeout and CallbackBackoff shape the
	// retries of SendTaskSuccess; zero values mean the defaults.
	CallbackAttempts int
	CallbackTimeout  time.Duration
	CallbackBackoff  time.Duration
}

// NewSubmitExam builds SubmitExam from TABLE_NAME and CORS_ALLOW_ORIGIN
// ("*" by default, or one origin such as https://exams.example.com).
func NewSubmitExam(ctx context.Context, getenv handler.Getenv) (*SubmitExam, error) {
	origin, err := parseOrigin(strings.TrimSpace(getenv("CORS_ALLOW_ORIGIN")))
	if err != nil {
		return nil, err
	}
	cfg, store, err := handler.OpenStore(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return &SubmitExam{Store: store, SFN: awsapi.New(cfg, awsapi.SFN), Log: handler.NewLogger(), AllowOrigin: origin}, nil
}

// parseOrigin checks a CORS_ALLOW_ORIGIN value: "*" (the default) or a
// scheme://host[:port] origin.
func parseOrigin(value string) (string, error) {
	if value == "" || value == "*" {
		return "*", nil
	}
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("CORS_ALLOW_ORIGIN must be * or an origin such as https://exams.example.com, got %q", value)
	}
	return strings.TrimSuffix(value, "/"), nil
}

// Submission is the body of POST /exam.
type Submission struct {
	IncidentId string
	ExamId     string
	Score      int
	TaskToken  string
}

// message is the body of every response but 200 and 202.
type message struct {
	Message string `json:"message"`
}

func (h *SubmitExam) respond(status int, body any) events.APIGatewayProxyResponse {
	origin := h.AllowOrigin
	if origin == "" {
		origin = "*"
	}
	headers := map[string]string{
		"Content-Type":                 "application/json",
		"Access-Control-Allow-Origin":  origin,
		"Access-Control-Allow-Methods": "OPTIONS,POST",
		"Access-Control-Allow-Headers": "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amzn-Trace-Id,traceparent,tracestate",
	}
	if status == http.StatusServiceUnavailable {
		headers["Retry-After"] = "1"
	}
	data, err := json.Marshal(body)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"message":"internal error"}`)
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Headers: headers, Body: string(data)}
}

func (h *SubmitExam) fail(status int, format string, args ...any) events.APIGatewayProxyResponse {
	return h.respond(status, message{Message: fmt.Sprintf(format, args...)})
}

// ParseSubmission reads and checks a POST /exam body. IncidentId and ExamId
// are UUIDs in either case, returned in lower case; Score is an integer from
// 0 to 100, given as a JSON number or a numeric string ("80"); TaskToken has
// 1 to 1024 characters. The error is a *domain.InvalidIncident naming the
// first bad field.
func ParseSubmission(body string) (Submission, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &raw); err != nil || raw == nil {
		return Submission{}, &domain.InvalidIncident{Field: "body", Reason: "must be a JSON object with IncidentId, ExamId, Score and TaskToken"}
	}
	var s Submission
	var err error
	for _, id := range []struct {
		field string
		dst   *string
	}{{"IncidentId", &s.IncidentId}, {"ExamId", &s.ExamId}} {
		value, err := stringField(raw, id.field)
		if err != nil {
			return Submission{}, err
		}
		if *id.dst, err = domain.NormalizeID(id.field, value); err != nil {
			return Submission{}, err
		}
	}
	if s.Score, err = parseScore(raw["Score"]); err != nil {
		return Submission{}, err
	}
	if s.TaskToken, err = stringField(raw, "TaskToken"); err != nil {
		return Submission{}, err
	}
	if err := domain.ValidateTaskToken(s.TaskToken); err != nil {
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

// heartbeatError is a failed SendTaskHeartbeat: nothing was written yet.
type heartbeatError struct{ err error }

func (e *heartbeatError) Error() string { return "check the task token: " + e.err.Error() }
func (e *heartbeatError) Unwrap() error { return e.err }

// Handle answers 200 with the updated incident, 202 with it when the score is
// stored but Step Functions did not confirm the callback, or 400, 403, 404,
// 409, 500 or 503 with {"message": ...}; the Lambda itself never fails.
//
// Steps: validate the body (400); load the incident and, in memory, check
// that the token was issued for the exam (404, 403) and that the exam awaits
// a score (409); SendTaskHeartbeat, which fails for a spent, expired or
// invalid token without consuming it (409); save the score with a version
// check, so that of two concurrent submissions exactly one is stored;
// SendTaskSuccess with the saved incident as output, retried. Only when Step
// Functions definitely refused the callback (TaskDoesNotExist, TaskTimedOut,
// InvalidToken, with no earlier attempt that might have been accepted) is the
// score withdrawn again (409); otherwise it is kept.
func (h *SubmitExam) Handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body := req.Body
	if req.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return h.fail(http.StatusBadRequest, "body: is not valid base64"), nil
		}
		body = string(decoded)
	}
	sub, err := ParseSubmission(body)
	if err != nil {
		return h.fail(http.StatusBadRequest, "%s", invalidMessage(err)), nil
	}

	// The submission's own id: if its write lands but the answer is lost,
	// the reload after the conflict recognizes the score as its own.
	submission := uuid.NewString()
	checked := false
	saved, err := handler.Update(ctx, h.Store, sub.IncidentId, nil, func(inc *domain.Incident) error {
		if err := inc.RecordScore(sub.ExamId, sub.TaskToken, sub.Score, submission); err != nil {
			return err
		}
		if checked {
			return nil
		}
		checked = true
		if err := h.SFN.Call(ctx, "SendTaskHeartbeat", taskToken{sub.TaskToken}, nil); err != nil {
			return &heartbeatError{err: err}
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
	outcome, err := h.callback(ctx, sub.TaskToken, string(output))
	switch outcome {
	case accepted:
		return h.respond(http.StatusOK, saved), nil
	case refused:
		if _, werr := handler.Update(ctx, h.Store, sub.IncidentId, nil, func(inc *domain.Incident) error {
			return inc.WithdrawScore(sub.ExamId, submission)
		}); werr != nil {
			h.Log.ErrorContext(ctx, "withdraw a score whose callback Step Functions refused", "IncidentId", sub.IncidentId, "ExamId", sub.ExamId, "error", werr)
			return h.fail(http.StatusInternalServerError, "internal error"), nil
		}
		return h.fail(http.StatusConflict, "TaskToken: %s", tokenReason(err)), nil
	case refusedAfterUncertain:
		if awsapi.ErrorCode(err) == "TaskDoesNotExist" {
			// The attempt that timed out completed the task: nothing else
			// holds the token.
			return h.respond(http.StatusOK, saved), nil
		}
		return h.fail(http.StatusConflict, "TaskToken: %s; the score is kept, as an earlier attempt may have been accepted", tokenReason(err)), nil
	case unconfirmed:
		h.Log.WarnContext(ctx, "Step Functions did not confirm the callback; the score is kept", "IncidentId", sub.IncidentId, "ExamId", sub.ExamId, "error", err)
		return h.respond(http.StatusAccepted, saved), nil
	}
	h.Log.ErrorContext(ctx, "callback failed; the score is kept", "IncidentId", sub.IncidentId, "ExamId", sub.ExamId, "error", err)
	return h.fail(http.StatusInternalServerError, "internal error"), nil
}

// callbackOutcome is what became of SendTaskSuccess.
type callbackOutcome int

const (
	// accepted: Step Functions accepted the callback.
	accepted callbackOutcome = iota
	// refused: Step Functions refused the token, and no earlier attempt
	// can have been accepted.
	refused
	// refusedAfterUncertain: refused, after an attempt whose outcome is
	// unknown (a timeout or a 5xx), which may have completed the task.
	refusedAfterUncertain
	// unconfirmed: every attempt's outcome is unknown.
	unconfirmed
	// failed: any other error (permissions, a malformed request).
	failed
)

// callback calls SendTaskSuccess, retrying transient failures itself with the
// SDK's own retries off: a retry after a timed-out attempt that Step
// Functions in fact accepted answers TaskDoesNotExist, and only a loop that
// saw the timeout can tell that from a token refused outright.
func (h *SubmitExam) callback(ctx context.Context, token, output string) (callbackOutcome, error) {
	attempts, timeout, delay := h.CallbackAttempts, h.CallbackTimeout, h.CallbackBackoff
	if attempts <= 0 {
		attempts = DefaultCallbackAttempts
	}
	if timeout <= 0 {
		timeout = DefaultCallbackTimeout
	}
	if delay <= 0 {
		delay = DefaultCallbackBackoff
	}
	in := taskSuccess{TaskToken: token, Output: output}
	uncertain := false
	var last error
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay+timeout {
				break // keep time to answer before the function times out
			}
			select {
			case <-ctx.Done():
				return unconfirmed, ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := h.SFN.Call(actx, "SendTaskSuccess", in, nil, awsapi.MaxAttempts(1))
		attemptTimedOut := actx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			return accepted, nil
		case tokenRefused(err) && uncertain:
			return refusedAfterUncertain, err
		case tokenRefused(err):
			return refused, err
		case attemptTimedOut || handler.Transient(err):
			// A timeout or a 5xx may come after Step Functions accepted
			// the call; throttling is treated alike, to err on the side of
			// keeping the score.
			uncertain, last = true, err
		default:
			return failed, err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return unconfirmed, last
}

// failure maps an error of the load-check-save step to its response, in
// which nothing was written, and logs the unexpected ones.
func (h *SubmitExam) failure(ctx context.Context, sub Submission, err error) events.APIGatewayProxyResponse {
	var (
		invalid      *domain.InvalidIncident
		examNotFound *domain.ExamNotFound
		mismatch     *domain.TaskTokenMismatch
		closed       *domain.ExamClosed
		heartbeat    *heartbeatError
	)
	switch {
	case errors.As(err, &invalid):
		return h.fail(http.StatusBadRequest, "%s", invalidMessage(invalid))
	case errors.Is(err, storage.ErrNotFound):
		return h.fail(http.StatusNotFound, "IncidentId: no incident %s", sub.IncidentId)
	case errors.As(err, &examNotFound):
		return h.fail(http.StatusNotFound, "ExamId: incident %s has no exam %s", sub.IncidentId, sub.ExamId)
	case errors.As(err, &mismatch):
		return h.fail(http.StatusForbidden, "TaskToken: not the token issued for exam %s of incident %s (after a newer message about the exam, only its link works)", sub.ExamId, sub.IncidentId)
	case errors.As(err, &closed):
		return h.fail(http.StatusConflict, "ExamId: %s", closed.Error())
	case errors.As(err, &heartbeat) && tokenRefused(err):
		return h.fail(http.StatusConflict, "TaskToken: %s", tokenReason(err))
	case handler.Transient(err):
		h.Log.WarnContext(ctx, "submit exam: transient failure, nothing changed", "IncidentId", sub.IncidentId, "ExamId", sub.ExamId, "error", err)
		return h.fail(http.StatusServiceUnavailable, "temporarily unavailable, nothing was changed: try again")
	}
	h.Log.ErrorContext(ctx, "submit exam", "IncidentId", sub.IncidentId, "ExamId", sub.ExamId, "error", err)
	return h.fail(http.StatusInternalServerError, "internal error")
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
	switch awsapi.ErrorCode(err) {
	case "TaskDoesNotExist", "TaskTimedOut", "InvalidToken":
		return true
	}
	return false
}

func tokenReason(err error) string {
	switch awsapi.ErrorCode(err) {
	case "TaskDoesNotExist":
		return "the task does not exist or was already completed"
	case "TaskTimedOut":
		return "the exam window has closed"
	}
	return "the token is not valid"
}
