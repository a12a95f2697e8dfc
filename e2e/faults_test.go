package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Faults a scenario arms before it drives the workflow, each injected at the narrowest
// boundary, never in the product's code:
//
//   - a Lambda error returned after the function really ran (the /task runner discards
//     the function's answer: Lambda.ServiceException after success);
//   - DynamoDB errors from a proxy in front of DynamoDB Local: every function instance gets
//     its own (AWS_ENDPOINT_URL_DYNAMODB), and a function instance runs one invocation at a
//     time, so each request is attributed to the invocation that made it;
//   - Step Functions faults on the harness's endpoint: StartExecution refused, and
//     SendTaskSuccess accepted but answered late.
//
// Faults are keyed by execution name, which a scenario chooses (the Idempotency-Key of
// POST /incident names the execution), or by task token.
type faults struct {
	mu       sync.Mutex
	lambda   []*lambdaFault
	dynamodb []*dynamoDBFault
	late     map[string]time.Duration // task token -> delay of the answer after accepting
	starts   map[string]*sfnError     // execution name -> StartExecution's answer
}

func newFaults() *faults {
	return &faults{late: map[string]time.Duration{}, starts: map[string]*sfnError{}}
}

// lambdaFault answers one invocation with a Lambda service error after the function ran.
type lambdaFault struct {
	at        invocationTag
	errorType string
	hit       chan faultHit // buffered: the invocation it replaced
}

// faultHit is what an invocation sent and what the function answered before the fault
// replaced its answer.
type faultHit struct {
	input, output json.RawMessage
}

// failAfterInvoke arms a Lambda.ServiceException for the n-th invocation from state in
// execution, returned after the function really ran (its work done, its answer lost).
func (h *harness) failAfterInvoke(execution, state string, n int) *lambdaFault {
	f := &lambdaFault{at: invocationTag{execution, state, n}, errorType: "Lambda.ServiceException", hit: make(chan faultHit, 1)}
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	h.faults.lambda = append(h.faults.lambda, f)
	return f
}

// afterInvoke returns the answer that replaces a successful invocation's, or nil.
func (fs *faults) afterInvoke(tag invocationTag, input, output json.RawMessage) *taskAnswer {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for i, f := range fs.lambda {
		if f.at == tag {
			fs.lambda = append(fs.lambda[:i], fs.lambda[i+1:]...)
			f.hit <- faultHit{input: input, output: output}
			// What Step Functions reports when the Lambda service fails the invoke.
			return &taskAnswer{Error: f.errorType, Cause: fmt.Sprintf(
				"Lambda.ServiceException: Internal server error (Service: Lambda, Status Code: 500, Request ID: %s) (fault injected by the e2e harness after the function ran)", uuid.NewString())}
		}
	}
	return nil
}

// dynamoDBFault answers a function's DynamoDB requests during some invocations with an
// error, as DynamoDB's AWS JSON 1.0 protocol does.
type dynamoDBFault struct {
	execution, state string
	invocations      map[int]bool // nil: every invocation
	status           int
	errorType        string // the __type, e.g. com.amazonaws.dynamodb.v20120810#ThrottlingException
	message          string

	mu   sync.Mutex
	hits []string // "<invocation> <operation>" of each request answered with the error
}

// The DynamoDB errors the scenarios inject, as DynamoDB sends them.
const (
	ddbThrottling   = "com.amazonaws.dynamodb.v20120810#ThrottlingException"
	ddbAccessDenied = "com.amazon.coral.service#AccessDeniedException"
)

// failDynamoDB arms a DynamoDB error for every request made by the invocations (1-based;
// none: all) from state in execution.
func (h *harness) failDynamoDB(execution, state, errorType, message string, invocations ...int) *dynamoDBFault {
	f := &dynamoDBFault{execution: execution, state: state, status: http.StatusBadRequest, errorType: errorType, message: message}
	if len(invocations) > 0 {
		f.invocations = map[int]bool{}
		for _, n := range invocations {
			f.invocations[n] = true
		}
	}
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	h.faults.dynamodb = append(h.faults.dynamodb, f)
	return f
}

// requests returns the requests the fault answered, in order.
func (f *dynamoDBFault) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hits...)
}

func (fs *faults) dynamoDB(tag invocationTag) *dynamoDBFault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.dynamodb {
		if f.execution == tag.execution && f.state == tag.state && (f.invocations == nil || f.invocations[tag.n]) {
			return f
		}
	}
	return nil
}

// dynamoDBProxy forwards an instance's DynamoDB requests to DynamoDB Local, or answers
// them with the fault armed for the invocation the instance is running.
func (h *harness) dynamoDBProxy(i *instance) http.Handler {
	forward := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target, _ := url.Parse(h.ddbEndpoint)
			r.SetURL(target)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tag := i.current()
		if f := h.faults.dynamoDB(tag); f != nil {
			op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
			f.mu.Lock()
			f.hits = append(f.hits, fmt.Sprintf("%d %s", tag.n, op))
			f.mu.Unlock()
			h.logf("DynamoDB proxy: %s %s answered %s", tag, op, f.errorType)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("x-amzn-RequestId", uuid.NewString())
			w.WriteHeader(f.status)
			json.NewEncoder(w).Encode(map[string]string{"__type": f.errorType, "message": f.message})
			return
		}
		forward.ServeHTTP(w, r)
	})
}

// answerLate makes SendTaskSuccess with token accept the callback, then answer only after
// delay (or when the caller gives up).
func (h *harness) answerLate(token string, delay time.Duration) {
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	h.faults.late[token] = delay
}

// lateAnswer returns the delay armed for an accepted callback with token, once.
func (fs *faults) lateAnswer(token string) time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	d := fs.late[token]
	delete(fs.late, token)
	return d
}

// failStart makes StartExecution of the execution named name answer with a Step
// Functions error.
func (h *harness) failStart(name string, status int, errorType, message string) {
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	h.faults.starts[name] = &sfnError{status, errorType, message}
}

func (fs *faults) start(name string) *sfnError {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.starts[name]
}

// --- what the functions log ---

// examMessage is one message SendNotification's log sender wrote: what a student would
// receive (its token redacted).
type examMessage struct {
	IncidentId, ExamId, SubmitURL, Message string
	Replaces                               bool
}

// functionLogLine records the exam instructions a function logs (JSON, slog).
func (h *harness) functionLogLine(line []byte) {
	var m struct {
		Msg                           string `json:"msg"`
		IncidentId, ExamId, SubmitURL string
		Body                          string `json:"message"`
		Replaces                      bool
	}
	if json.Unmarshal(line, &m) != nil || m.Msg != "exam instructions" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.messages = append(h.messages, examMessage{IncidentId: m.IncidentId, ExamId: m.ExamId, SubmitURL: m.SubmitURL, Message: m.Body, Replaces: m.Replaces})
}

// messagesAbout returns the exam messages about an exam, in the order they were sent.
func (h *harness) messagesAbout(examID string) []examMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []examMessage
	for _, m := range h.messages {
		if m.ExamId == examID {
			out = append(out, m)
		}
	}
	return out
}
