package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// This file is the Step Functions API of the harness (AWS JSON 1.0, what the SDK's SFN
// client and API Gateway's AWS integration speak) and its one fake: the task-token half of
// Step Functions, which aws-local-stepfunctions lacks. StartExecution starts a run in the
// driver. The driver hands every Task to /task, which invokes the function; for
// .waitForTaskToken the harness invokes it with the token in its payload and answers only
// when SendTaskSuccess / SendTaskFailure arrives, or with States.Timeout when the state's
// TimeoutSeconds (the exam window) passes. Faults armed by a scenario (faults_test.go) are
// applied here: a Lambda error after the real invoke, a refused StartExecution, a callback
// accepted but answered late.

const (
	lambdaInvoke       = "arn:aws:states:::lambda:invoke"
	lambdaInvokeWithCB = "arn:aws:states:::lambda:invoke.waitForTaskToken"
)

// taskToken is one token the harness gave a waitForTaskToken task.
type taskToken struct {
	execution, state string
	deadline         time.Time
	result           chan taskResult // buffered: the callback never blocks
	closed           bool            // answered (success, failure) or timed out
	timedOut         bool
}

type taskResult struct {
	output       json.RawMessage
	error, cause string
}

// sfnCall records one call to the Step Functions API endpoint.
type sfnCall struct {
	Operation, Token, ErrorType string
	Name                        string // StartExecution: the execution name
	Output                      json.RawMessage
	Late                        bool // answered after the fault's delay
}

func (h *harness) serveSFN(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/task" {
		h.serveTask(w, r)
		return
	}
	h.serveSFNAPI(w, r)
}

// --- /task: the driver's Task states ---

type taskRequest struct {
	Execution  string `json:"execution"`
	State      string `json:"state"`
	Resource   string `json:"resource"`
	Parameters struct {
		FunctionName string          `json:"FunctionName"`
		Payload      json.RawMessage `json:"Payload"`
	} `json:"parameters"`
}

// taskAnswer is what the driver turns into the Task state's result or error.
type taskAnswer struct {
	Output any    `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
}

func (h *harness) serveTask(w http.ResponseWriter, r *http.Request) {
	var req taskRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, "bad /task request: "+err.Error(), http.StatusBadRequest)
		return
	}
	answer := h.runTask(r.Context(), req)
	if answer.Error != "" {
		h.logf("execution %s state %s: %s: %s", req.Execution, req.State, answer.Error, answer.Cause)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func (h *harness) runTask(ctx context.Context, req taskRequest) taskAnswer {
	f := h.functions[req.Parameters.FunctionName]
	if f == nil {
		return taskAnswer{Error: "Lambda.ResourceNotFoundException", Cause: fmt.Sprintf("Function not found: %s (state %s)", req.Parameters.FunctionName, req.State)}
	}
	tag := h.nextInvocation(req.Execution, req.State)
	switch req.Resource {
	case lambdaInvoke:
		payload, err := h.invokeFromState(ctx, f, req, req.Parameters.Payload, tag)
		if err != nil {
			return lambdaFailure(err)
		}
		if fault := h.faults.afterInvoke(tag, req.Parameters.Payload, payload); fault != nil {
			return *fault
		}
		// The optimized integration's result; the definition keeps only Payload.
		return taskAnswer{Output: map[string]any{
			"ExecutedVersion":     "$LATEST",
			"Payload":             json.RawMessage(payload),
			"StatusCode":          200,
			"SdkResponseMetadata": map[string]string{"RequestId": uuid.NewString()},
		}}
	case lambdaInvokeWithCB:
		return h.runCallbackTask(ctx, f, req, tag)
	default:
		return taskAnswer{Error: "States.Runtime", Cause: fmt.Sprintf("the harness does not run resource %q (state %s)", req.Resource, req.State)}
	}
}

// nextInvocation counts an invocation from state in the execution (by ARN) and names it.
func (h *harness) nextInvocation(executionARN, state string) invocationTag {
	name := executionARN[strings.LastIndex(executionARN, ":")+1:]
	h.mu.Lock()
	defer h.mu.Unlock()
	key := name + "/" + state
	h.invocations[key]++
	return invocationTag{execution: name, state: state, n: h.invocations[key]}
}

// invokeFromState invokes f for a Task state of an execution, continuing the execution's
// trace through the state's Lambda invoke subsegment.
func (h *harness) invokeFromState(ctx context.Context, f *function, req taskRequest, payload []byte, tag invocationTag) ([]byte, error) {
	var trace *executionTrace
	h.mu.Lock()
	if e := h.executions[req.Execution]; e != nil {
		trace = e.trace
	}
	h.mu.Unlock()
	header, done := trace.lambdaInvoke(req.State, f)
	out, err := h.invokeTraced(ctx, f, payload, header, tag)
	done(err)
	return out, err
}

func lambdaFailure(err error) taskAnswer {
	if fe, ok := err.(*lambdaError); ok {
		// Step Functions names the error after errorType; the cause is the error document.
		return taskAnswer{Error: fe.Type, Cause: string(fe.payload)}
	}
	return taskAnswer{Error: "Lambda.ServiceException", Cause: err.Error()}
}

// runCallbackTask issues a token, invokes the function with it and waits for the callback.
func (h *harness) runCallbackTask(ctx context.Context, f *function, req taskRequest, tag invocationTag) taskAnswer {
	var payload struct {
		Incident  incident
		TaskToken string
	}
	if err := json.Unmarshal(req.Parameters.Payload, &payload); err != nil || payload.TaskToken == "" {
		return taskAnswer{Error: "States.Runtime", Cause: fmt.Sprintf("state %s: the payload carries no TaskToken, so no callback could ever arrive: %s", req.State, req.Parameters.Payload)}
	}
	h.mu.Lock()
	e := h.executions[req.Execution]
	window := h.windows[mainMachine]
	if e != nil {
		window = h.windows[e.machine]
	}
	if _, dup := h.tokens[payload.TaskToken]; dup {
		h.mu.Unlock()
		return taskAnswer{Error: "States.Runtime", Cause: "task token issued twice"}
	}
	tok := &taskToken{
		execution: req.Execution, state: req.State,
		deadline: time.Now().Add(window),
		result:   make(chan taskResult, 1),
	}
	h.tokens[payload.TaskToken] = tok
	h.mu.Unlock()

	out, err := h.invokeFromState(ctx, f, req, req.Parameters.Payload, tag)
	if err != nil {
		h.closeToken(payload.TaskToken, false)
		return lambdaFailure(err)
	}
	// A failed attempt's task is over: its token can no longer complete it.
	if fault := h.faults.afterInvoke(tag, req.Parameters.Payload, out); fault != nil {
		h.closeToken(payload.TaskToken, false)
		return *fault
	}
	if e != nil {
		h.mu.Lock()
		e.notifications = append(e.notifications, notification{Token: payload.TaskToken, Incident: payload.Incident})
		close(e.notificationArrived)
		e.notificationArrived = make(chan struct{})
		h.mu.Unlock()
	}

	timer := time.NewTimer(time.Until(tok.deadline))
	defer timer.Stop()
	select {
	case res := <-tok.result:
		if res.error != "" || res.output == nil {
			return taskAnswer{Error: res.error, Cause: res.cause}
		}
		return taskAnswer{Output: res.output}
	case <-timer.C:
		if !h.closeToken(payload.TaskToken, true) {
			// The callback won the race with the deadline.
			res := <-tok.result
			if res.output == nil {
				return taskAnswer{Error: res.error, Cause: res.cause}
			}
			return taskAnswer{Output: res.output}
		}
		return taskAnswer{Error: "States.Timeout", Cause: fmt.Sprintf("no callback within %s", window)}
	case <-ctx.Done():
		// The driver gave up (its own timer or shutdown).
		h.closeToken(payload.TaskToken, time.Now().After(tok.deadline.Add(-100*time.Millisecond)))
		return taskAnswer{Error: "States.Runtime", Cause: ctx.Err().Error()}
	}
}

// closeToken marks an open token spent (or timed out). It reports whether it did.
func (h *harness) closeToken(token string, timedOut bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	tok := h.tokens[token]
	if tok == nil || tok.closed {
		return false
	}
	tok.closed, tok.timedOut = true, timedOut
	return true
}

// --- the Step Functions API: SendTaskSuccess, SendTaskFailure, SendTaskHeartbeat ---

// sfnError is an AWS JSON 1.0 error as Step Functions sends it.
type sfnError struct {
	status       int
	typ, message string
}

func (h *harness) serveSFNAPI(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", reqID)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSStepFunctions.")
	var result any
	var apiErr *sfnError
	var token, name string
	var output json.RawMessage
	var late time.Duration
	switch {
	case r.Method != http.MethodPost || !ok:
		apiErr = &sfnError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown operation %q", target)}
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 "):
		apiErr = &sfnError{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	default:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			apiErr = &sfnError{http.StatusBadRequest, "SerializationException", err.Error()}
			break
		}
		var in struct {
			TaskToken       string  `json:"taskToken"`
			Output          *string `json:"output"`
			Error           string  `json:"error"`
			Cause           string  `json:"cause"`
			StateMachineArn string  `json:"stateMachineArn"`
			Name            string  `json:"name"`
			Input           *string `json:"input"`
			TraceHeader     string  `json:"traceHeader"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			apiErr = &sfnError{http.StatusBadRequest, "SerializationException", err.Error()}
			break
		}
		token = in.TaskToken
		switch op {
		case "StartExecution":
			trace := in.TraceHeader
			if trace == "" {
				trace = r.Header.Get("X-Amzn-Trace-Id")
			}
			if in.Name == "" {
				in.Name = uuid.NewString()
			}
			name = in.Name
			if apiErr = h.authorize(r, "states:StartExecution", in.StateMachineArn); apiErr != nil {
				break
			}
			var e *execution
			if e, apiErr = h.apiStartExecution(in.StateMachineArn, in.Name, in.Input, trace); apiErr == nil {
				result = map[string]any{"executionArn": e.arn, "startDate": json.RawMessage(javaDouble(float64(e.startDate.UnixMilli()) / 1000))}
			}
		case "SendTaskSuccess":
			if in.Output == nil {
				apiErr = &sfnError{http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'output' failed to satisfy constraint: Member must not be null"}
				break
			}
			if !json.Valid([]byte(*in.Output)) {
				apiErr = &sfnError{http.StatusBadRequest, "InvalidOutput", "Invalid Output: 'Output must be a valid JSON'"}
				break
			}
			output = json.RawMessage(*in.Output)
			if apiErr = h.answerToken(in.TaskToken, taskResult{output: output}); apiErr == nil {
				late = h.faults.lateAnswer(in.TaskToken)
			}
		case "SendTaskFailure":
			apiErr = h.answerToken(in.TaskToken, taskResult{error: in.Error, cause: in.Cause})
		case "SendTaskHeartbeat":
			apiErr = h.checkToken(in.TaskToken)
		default:
			apiErr = &sfnError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("the harness does not implement %s", op)}
		}
		if result == nil {
			result = struct{}{}
		}
	}
	call := sfnCall{Operation: op, Token: token, Name: name, Output: output, Late: late > 0}
	if apiErr != nil {
		call.ErrorType = apiErr.typ
	}
	h.mu.Lock()
	h.sfnCalls = append(h.sfnCalls, call)
	h.mu.Unlock()
	if late > 0 {
		// Accepted, but the answer is held back past the caller's timeout.
		select {
		case <-time.After(late):
		case <-r.Context().Done():
		}
	}
	if apiErr != nil {
		h.logf("Step Functions API %s: %s: %s", op, apiErr.typ, apiErr.message)
		w.Header().Set("x-amzn-ErrorType", apiErr.typ)
		w.WriteHeader(apiErr.status)
		json.NewEncoder(w).Encode(map[string]string{
			"__type":  "com.amazonaws.swf.service.v2.model#" + apiErr.typ,
			"message": apiErr.message,
		})
		return
	}
	json.NewEncoder(w).Encode(result)
}

// authorize evaluates the policy of the role whose session signed r, when it is an
// integration role of the template (the functions' roles are not evaluated): IAM's answer
// to an action the policy does not allow on the resource is AccessDeniedException.
func (h *harness) authorize(r *http.Request, action, resource string) *sfnError {
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	key, _, _ := strings.Cut(cred, "/")
	integrations := h.rolesByKey[key]
	if len(integrations) == 0 {
		return nil
	}
	for _, in := range integrations {
		if allows(in.policy, action, resource) {
			return nil
		}
	}
	return &sfnError{http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
		"User: arn:aws:sts::%s:assumed-role/%s/BackplaneAssumeRoleSession is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		accountID, integrations[0].role, action, resource, action)}
}

// apiStartExecution checks a StartExecution request as Step Functions does and starts
// the execution (or answers an armed fault).
func (h *harness) apiStartExecution(machineArn, name string, input *string, traceHeader string) (*execution, *sfnError) {
	machine := ""
	for _, m := range []string{mainMachine, shortMachine} {
		if machineARN(m) == machineArn {
			machine = m
		}
	}
	switch {
	case machine == "" && !strings.HasPrefix(machineArn, "arn:aws:states:"):
		return nil, &sfnError{http.StatusBadRequest, "InvalidArn", fmt.Sprintf("Invalid Arn: 'Resource type not valid in this context: %s'", machineArn)}
	case machine == "":
		return nil, &sfnError{http.StatusBadRequest, "StateMachineDoesNotExist", fmt.Sprintf("State Machine Does Not Exist: '%s'", machineArn)}
	case !validExecutionName(name):
		return nil, &sfnError{http.StatusBadRequest, "InvalidName", fmt.Sprintf("Invalid Name: '%s'", name)}
	}
	in := "{}"
	if input != nil {
		in = *input
	}
	if len(in) > maxExecutionInput {
		return nil, &sfnError{http.StatusBadRequest, "InvalidExecutionInput", fmt.Sprintf("Invalid State Machine Execution Input: 'The input is %d bytes, more than the maximum of %d'", len(in), maxExecutionInput)}
	}
	if !json.Valid([]byte(in)) {
		return nil, &sfnError{http.StatusBadRequest, "InvalidExecutionInput", "Invalid State Machine Execution Input: 'Input is not a valid JSON text'"}
	}
	if err := h.faults.start(name); err != nil {
		return nil, err
	}
	trace, _ := parseTraceHeader(traceHeader)
	return h.startExecution(machine, name, in, trace)
}

// maxExecutionInput is Step Functions' limit on an execution's input: 256 KiB.
const maxExecutionInput = 256 << 10

// validExecutionName is Step Functions' rule for execution names: 1 to 80 characters,
// none of them white space, brackets, wildcards, the listed punctuation or a control
// character.
func validExecutionName(name string) bool {
	if n := utf8.RuneCountInString(name); n < 1 || n > 80 {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) || r < 0x20 || (r >= 0x7f && r <= 0x9f) {
			return false
		}
	}
	return true
}

// javaDouble writes a number as Step Functions' JSON does (Java's Double.toString):
// 1.733037646123E9 for an epoch time in seconds.
func javaDouble(x float64) string {
	if x == 0 {
		return "0.0"
	}
	if a := math.Abs(x); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(x, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mantissa, exp, _ := strings.Cut(strconv.FormatFloat(x, 'E', -1, 64), "E")
	if !strings.Contains(mantissa, ".") {
		mantissa += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mantissa + "E" + strconv.Itoa(e)
}

// checkToken returns the error Step Functions gives for a token that cannot be answered.
// Called with h.mu held or not: it takes the lock itself.
func (h *harness) checkToken(token string) *sfnError {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokenStateLocked(token)
}

func (h *harness) tokenStateLocked(token string) *sfnError {
	if token == "" || len(token) > 2048 {
		return &sfnError{http.StatusBadRequest, "InvalidToken", "Invalid Token: 'Invalid token'"}
	}
	tok := h.tokens[token]
	switch {
	case tok == nil:
		return &sfnError{http.StatusBadRequest, "TaskDoesNotExist", "Task Does Not Exist: 'Provided task does not exist anymore'"}
	case tok.timedOut || (!tok.closed && time.Now().After(tok.deadline)):
		return &sfnError{http.StatusBadRequest, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"}
	case tok.closed:
		return &sfnError{http.StatusBadRequest, "TaskDoesNotExist", "Task Does Not Exist: 'Provided task does not exist anymore'"}
	}
	return nil
}

// answerToken closes an open token with the callback's result.
func (h *harness) answerToken(token string, res taskResult) *sfnError {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.tokenStateLocked(token); err != nil {
		return err
	}
	tok := h.tokens[token]
	tok.closed = true
	tok.result <- res
	return nil
}

// callbacksAccepted counts the SendTaskSuccess calls with token that Step Functions accepted.
func (h *harness) callbacksAccepted(token string) int {
	n := 0
	for _, c := range h.sfnCallsFor(token) {
		if c.Operation == "SendTaskSuccess" && c.ErrorType == "" {
			n++
		}
	}
	return n
}

// sfnCallsFor returns the Step Functions API calls made with token.
func (h *harness) sfnCallsFor(token string) []sfnCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []sfnCall
	for _, c := range h.sfnCalls {
		if c.Token == token {
			out = append(out, c)
		}
	}
	return out
}
