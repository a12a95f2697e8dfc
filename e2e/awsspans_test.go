package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// This file writes the segments AWS itself records in a traced request, in the shapes
// tests/aws-spans.json documents with its sources: the API Gateway stage segment and its
// integration subsegment, the Step Functions execution segment with one subsegment per
// state, and the Lambda service and function segments with Initialization, Invocation
// and Overhead. Everything else in a trace comes from the functions' own code over the
// X-Ray daemon protocol. The harness passes the trace on as AWS does: API Gateway to Step
// Functions or Lambda, Step Functions to Lambda, Lambda to the function's runtime (the
// Lambda-Runtime-Trace-Id header, whose Parent is the Invocation subsegment).

// segment is an X-Ray segment document, or an embedded subsegment, as the harness writes it.
type segment struct {
	Name        string         `json:"name"`
	ID          string         `json:"id"`
	TraceID     string         `json:"trace_id,omitempty"`
	ParentID    string         `json:"parent_id,omitempty"`
	StartTime   float64        `json:"start_time"`
	EndTime     float64        `json:"end_time,omitempty"`
	InProgress  bool           `json:"in_progress,omitempty"`
	Origin      string         `json:"origin,omitempty"`
	ResourceARN string         `json:"resource_arn,omitempty"`
	Namespace   string         `json:"namespace,omitempty"`
	HTTP        *segmentHTTP   `json:"http,omitempty"`
	AWS         map[string]any `json:"aws,omitempty"`
	Annotations map[string]any `json:"annotations,omitempty"`
	Error       bool           `json:"error,omitempty"`
	Fault       bool           `json:"fault,omitempty"`
	Subsegments []*segment     `json:"subsegments,omitempty"`
}

type segmentHTTP struct {
	Request  *segmentRequest  `json:"request,omitempty"`
	Response *segmentResponse `json:"response,omitempty"`
}

type segmentRequest struct {
	Method    string `json:"method,omitempty"`
	URL       string `json:"url,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
}

type segmentResponse struct {
	Status int `json:"status,omitempty"`
}

func (s *segment) end(t time.Time) {
	s.EndTime = epoch(t)
	s.InProgress = false
}

// copyTree returns a deep copy of the segment tree, so a document is marshalled from a
// snapshot while the live tree keeps changing under its owner's lock.
func (s *segment) copyTree() *segment {
	c := *s
	c.Subsegments = nil
	for _, sub := range s.Subsegments {
		c.Subsegments = append(c.Subsegments, sub.copyTree())
	}
	return &c
}

// apiNames is what the stage segment is named after: the REST API's name and stage, and
// its id in the stage's URL and ARN.
type apiNames struct {
	name, stage, id string
}

// --- API Gateway ---

// stageCall is one request through the REST API stage.
type stageCall struct {
	store       *traceStore
	header      traceHeader // the trace as it continues downstream of the integration
	stage       *segment
	integration *segment
}

// beginStage starts the stage segment of a request, continuing the trace of its
// X-Amzn-Trace-Id header or starting one (API Gateway's default sampling rule records the
// first request each second, which every request of the harness is). integration names
// the integration's subsegment and its aws block; "" records none (a mock integration, or
// a request API Gateway answers itself).
func (h *harness) beginStage(r *http.Request, integration string, aws map[string]any, requestID string) *stageCall {
	in, ok := parseTraceHeader(r.Header.Get("X-Amzn-Trace-Id"))
	if !ok {
		in = traceHeader{root: newTraceID(), sampled: true}
	}
	c := &stageCall{store: h.traces}
	if !in.sampled {
		c.header = in
		return c
	}
	now := time.Now()
	api := h.api
	c.stage = &segment{
		Name:        api.name + "/" + api.stage,
		ID:          newSegmentID(),
		TraceID:     in.root,
		ParentID:    in.parent,
		StartTime:   epoch(now),
		Origin:      "AWS::ApiGateway::Stage",
		ResourceARN: fmt.Sprintf("arn:aws:apigateway:%s::/restapis/%s/stages/%s", region, api.id, api.stage),
		HTTP: &segmentHTTP{Request: &segmentRequest{
			Method:    r.Method,
			URL:       fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s%s", api.id, region, api.stage, r.URL.Path),
			UserAgent: r.UserAgent(),
			ClientIP:  hostOnly(r.RemoteAddr),
		}},
		AWS: map[string]any{"api_gateway": map[string]any{
			"account_id": accountID, "rest_api_id": api.id, "stage": api.stage, "request_id": requestID,
		}},
		Annotations: map[string]any{"aws:api_id": api.id, "aws:api_stage": api.stage},
	}
	c.header = in.child(c.stage.ID)
	if integration != "" {
		c.integration = &segment{
			Name:      integration,
			ID:        newSegmentID(),
			StartTime: epoch(now),
			Namespace: "aws",
			AWS:       aws,
		}
		c.stage.Subsegments = []*segment{c.integration}
		c.header = in.child(c.integration.ID)
	}
	return c
}

// end records the stage's answer and sends its segment.
func (c *stageCall) end(status int) {
	if c.stage == nil {
		return
	}
	now := time.Now()
	if c.integration != nil {
		c.integration.end(now)
	}
	c.stage.end(now)
	c.stage.HTTP.Response = &segmentResponse{Status: status}
	c.stage.Error = status >= 400 && status < 500
	c.stage.Fault = status >= 500
	c.store.putSegment(c.stage)
}

// statusRecorder remembers the status a handler wrote, for the stage segment.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// --- Step Functions ---

// executionTrace is the execution segment of one traced execution: in progress until the
// execution ends, with one subsegment per state entered, and under each Task state's
// subsegment the Lambda invoke that continues the trace into the function.
type executionTrace struct {
	mu    sync.Mutex
	store *traceStore
	seg   *segment
	open  map[string]*segment // state name -> its subsegment while the state runs
}

func (h *harness) beginExecution(machineName, executionARN, machineARN string, in traceHeader) *executionTrace {
	if in.root == "" || !in.sampled {
		return nil
	}
	t := &executionTrace{store: h.traces, open: map[string]*segment{}, seg: &segment{
		Name:        machineName,
		ID:          newSegmentID(),
		TraceID:     in.root,
		ParentID:    in.parent,
		StartTime:   epoch(time.Now()),
		InProgress:  true,
		Origin:      "AWS::StepFunctions::StateMachine",
		ResourceARN: executionARN,
		AWS:         map[string]any{"execution_arn": executionARN, "state_machine_arn": machineARN},
	}}
	t.send()
	return t
}

// send stores the current version of the execution segment.
func (t *executionTrace) send() {
	t.store.putSegment(t.seg.copyTree())
}

// stateAt returns the running subsegment of state, starting one at time at if there is
// none (the driver's event and the task it runs arrive in either order).
func (t *executionTrace) stateAt(state string, at time.Time) *segment {
	s := t.open[state]
	if s == nil {
		s = &segment{Name: state, ID: newSegmentID(), StartTime: epoch(at), InProgress: true}
		t.open[state] = s
		t.seg.Subsegments = append(t.seg.Subsegments, s)
	}
	return s
}

// event follows the interpreter's events: states entered and left, the execution's end.
func (t *executionTrace) event(ev event) {
	if t == nil {
		return
	}
	at := time.Now()
	if ev.Timestamp > 0 {
		at = time.UnixMilli(ev.Timestamp)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case ev.State != nil && ev.Type == "StateEntered":
		s := t.stateAt(ev.State.Name, at)
		if s.StartTime > epoch(at) {
			s.StartTime = epoch(at)
		}
	case ev.State != nil && (ev.Type == "StateExited" || ev.Type == "StateFailed"):
		s := t.stateAt(ev.State.Name, at)
		s.end(at)
		s.Fault = ev.Type == "StateFailed"
		delete(t.open, ev.State.Name)
	default:
		return
	}
	t.send()
}

// finish ends the execution segment.
func (t *executionTrace) finish(status string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for name, s := range t.open {
		s.end(now)
		delete(t.open, name)
	}
	t.seg.end(now)
	t.seg.Fault = status != "SUCCEEDED"
	t.send()
}

// lambdaInvoke starts the Lambda invoke subsegment under the running state and returns the
// trace header the invoke carries, and the function that ends the subsegment.
func (t *executionTrace) lambdaInvoke(state string, f *function) (traceHeader, func(err error)) {
	if t == nil {
		return traceHeader{}, func(error) {}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	sub := &segment{
		Name:       "Lambda",
		ID:         newSegmentID(),
		StartTime:  epoch(now),
		InProgress: true,
		Namespace:  "aws",
		AWS:        map[string]any{"operation": "Invoke", "function_name": f.name, "region": region, "resource_names": []string{f.name}},
	}
	st := t.stateAt(state, now)
	st.Subsegments = append(st.Subsegments, sub)
	t.send()
	return traceHeader{root: t.seg.TraceID, parent: sub.ID, sampled: true}, func(err error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		sub.end(time.Now())
		sub.Error = err != nil
		t.send()
	}
}

// --- Lambda ---

// invokeTraced is a synchronous invoke through the Lambda service, in an idle execution
// environment of f: with a sampled trace it records the service segment and the function
// segment (Initialization on the first invoke of an environment, Invocation, Overhead) and
// hands the function a trace header whose Parent is the Invocation subsegment, as Lambda
// does with active tracing. tag names the invocation for the faults.
func (h *harness) invokeTraced(ctx context.Context, f *function, payload []byte, in traceHeader, tag invocationTag) ([]byte, error) {
	i, err := f.acquire(ctx, tag)
	if err != nil {
		return nil, err
	}
	defer f.release(i)
	cold := !i.invoked
	i.invoked = true
	if in.root == "" || !in.sampled {
		return i.invoke(ctx, payload, "")
	}

	start := time.Now()
	service := &segment{
		Name:        f.name,
		ID:          newSegmentID(),
		TraceID:     in.root,
		ParentID:    in.parent,
		StartTime:   epoch(start),
		Origin:      "AWS::Lambda",
		ResourceARN: f.arn,
	}
	function := &segment{
		Name:        f.name,
		ID:          newSegmentID(),
		TraceID:     in.root,
		ParentID:    service.ID,
		StartTime:   epoch(start),
		Origin:      "AWS::Lambda::Function",
		ResourceARN: f.arn,
		AWS:         map[string]any{"account_id": accountID, "function_arn": f.arn, "resource_names": []string{f.name}},
	}
	if cold {
		// The emulator starts the runtime when it starts, Lambda when the first invoke
		// arrives: the init the emulator measured is recorded just before this invoke.
		init := start.Add(-i.ready.Sub(i.started))
		function.StartTime = epoch(init)
		function.Subsegments = append(function.Subsegments, &segment{
			Name: "Initialization", ID: newSegmentID(), StartTime: epoch(init), EndTime: epoch(start),
		})
	}
	invocation := &segment{Name: "Invocation", ID: newSegmentID(), StartTime: epoch(start)}
	function.Subsegments = append(function.Subsegments, invocation)

	out, err := i.invoke(ctx, payload, traceHeader{root: in.root, parent: invocation.ID, sampled: true}.String())

	end := time.Now()
	invocation.end(end)
	// Overhead is the runtime's time between its response and its next request; the
	// emulator does not report it, so it is recorded as the moment after the response.
	function.Subsegments = append(function.Subsegments, &segment{
		Name: "Overhead", ID: newSegmentID(), StartTime: epoch(end), EndTime: epoch(end.Add(time.Microsecond)),
	})
	function.end(end.Add(time.Microsecond))
	service.end(end.Add(time.Microsecond))
	if _, failed := err.(*lambdaError); failed {
		function.Fault, invocation.Fault = true, true
	} else if err != nil {
		service.Fault = true
	}
	service.HTTP = &segmentHTTP{Response: &segmentResponse{Status: http.StatusOK}}
	if err != nil && !function.Fault {
		service.HTTP.Response.Status = http.StatusInternalServerError
	}
	h.traces.putSegment(service)
	h.traces.putSegment(function)
	return out, err
}
