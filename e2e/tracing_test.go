package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tracedPost POSTs body to the front door of machine with an X-Amzn-Trace-Id header.
func tracedPost(t *testing.T, ctx context.Context, machine, path, body string, trace traceHeader) apiResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.apis[machine]+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Amzn-Trace-Id", trace.String())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fatal(t, "POST "+path, err)
	}
	defer resp.Body.Close()
	return apiResponse{Status: resp.StatusCode, RequestID: resp.Header.Get("x-amzn-RequestId"), Body: []byte(readAllClose(resp.Body))}
}

// node is a compiled segment or subsegment, with its children.
type node struct {
	Name        string                    `json:"name"`
	ID          string                    `json:"id"`
	ParentID    string                    `json:"parent_id"`
	Origin      string                    `json:"origin"`
	InProgress  bool                      `json:"in_progress"`
	Inferred    bool                      `json:"inferred"`
	Namespace   string                    `json:"namespace"`
	AWS         map[string]any            `json:"aws"`
	Metadata    map[string]map[string]any `json:"metadata"`
	Subsegments []*node                   `json:"subsegments"`
}

func (n *node) find(name string) []*node {
	var out []*node
	for _, s := range n.Subsegments {
		if s.Name == name {
			out = append(out, s)
		}
		out = append(out, s.find(name)...)
	}
	return out
}

// compiledTrace returns the trace's documents as BatchGetTraces serves them.
func compiledTrace(t *testing.T, root string) []*node {
	t.Helper()
	trace, ok := h.traces.compiled(root, 0)
	if !ok {
		return nil
	}
	var out []*node
	for _, d := range trace.docs {
		var n node
		if err := json.Unmarshal(d, &n); err != nil {
			t.Fatal(err)
		}
		out = append(out, &n)
	}
	return out
}

// TestTraceReachesTheFunctions follows one traced request through the harness: the stage
// segment continues the caller's trace, the execution segment continues the stage's
// integration, each Task's Lambda segments continue its state, and each function's own
// subsegments (sent by its code to the X-Ray daemon) land under its Invocation, which
// proves the trace header reached the function's runtime.
func TestTraceReachesTheFunctions(t *testing.T) {
	if !h.traced {
		t.Skip("functions run untraced here: " + h.untraced)
	}
	t.Parallel()
	ctx := scenarioContext(t)
	caller := traceHeader{root: newTraceID(), parent: newSegmentID(), sampled: true}
	resp := tracedPost(t, ctx, mainMachine, "/incident", `{"StudentId": "traced"}`, caller)
	if resp.Status != 200 {
		fatal(t, "POST /incident", fmt.Errorf("status %d: %s", resp.Status, resp.Body))
	}
	e := h.execution(resp.RequestID)
	n := waitNotification(t, ctx, e, 1)

	// The functions send their documents when they return; the daemon may lag a little.
	var docs []*node
	var functions []*node
	deadline := time.Now().Add(5 * time.Second)
	for {
		docs = compiledTrace(t, caller.root)
		functions = nil
		for _, d := range docs {
			if d.Origin == "AWS::Lambda::Function" {
				functions = append(functions, d)
			}
		}
		// RegisterIncident makes no call its code would record.
		ready := len(functions) == 3
		for _, f := range functions {
			for _, inv := range f.find("Invocation") {
				ready = ready && (f.Name == "registerincident" || len(inv.Subsegments) > 0)
			}
		}
		if ready || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	byID := map[string]*node{}
	var index func(n *node)
	index = func(n *node) {
		byID[n.ID] = n
		for _, s := range n.Subsegments {
			index(s)
		}
	}
	for _, d := range docs {
		index(d)
	}

	var stage, execution *node
	for _, d := range docs {
		switch d.Origin {
		case "AWS::ApiGateway::Stage":
			stage = d
		case "AWS::StepFunctions::StateMachine":
			execution = d
		}
	}
	if stage == nil || stage.ParentID != caller.parent || stage.Name != h.api.name+"/"+h.api.stage {
		t.Fatalf("no stage segment %s/%s continuing the caller's segment %s: %+v", h.api.name, h.api.stage, caller.parent, stage)
	}
	if execution == nil || byID[execution.ParentID] == nil || byID[execution.ParentID].Name != "STEPFUNCTIONS" || !execution.InProgress {
		t.Fatalf("no in-progress execution segment under the stage's integration subsegment: %+v", execution)
	}
	for _, state := range []string{"RegisterIncident", "ScheduleExam", "SendNotification"} {
		if got := len(execution.find(state)); got != 1 {
			t.Errorf("execution segment has %d %s subsegments, want 1", got, state)
		}
	}
	if len(functions) != 3 {
		t.Fatalf("%d function segments, want 3 (RegisterIncident, ScheduleExam, SendNotification); execution events:\n%s\n%s",
			len(functions), e.lastEvents(20), h.logs())
	}
	for _, f := range functions {
		service := byID[f.ParentID]
		if service == nil || service.Origin != "AWS::Lambda" || byID[service.ParentID] == nil || byID[service.ParentID].Name != "Lambda" {
			t.Errorf("function segment %s is not under a Lambda service segment under a state's Lambda invoke", f.Name)
		}
		inv := f.find("Invocation")
		if len(inv) != 1 {
			t.Errorf("function segment %s has %d Invocation subsegments, want 1", f.Name, len(inv))
			continue
		}
		if f.Name != "registerincident" && len(inv[0].Subsegments) == 0 {
			t.Errorf("function %s: nothing its code sent reached its Invocation subsegment: the trace header did not reach the runtime", f.Name)
		}
	}
	notes := functions[0].find("NotificationData")
	for _, f := range functions[1:] {
		notes = append(notes, f.find("NotificationData")...)
	}
	if len(notes) != 1 || notes[0].Metadata["default"]["ExamId"] != n.Incident.Exams[0].ExamId {
		t.Errorf("want one NotificationData subsegment with the exam id %s in its default metadata, got %d", n.Incident.Exams[0].ExamId, len(notes))
	}

	checkDocumented(t, docs)
	checkInferred(t, docs, byID)

	// The callback resumes the execution in its own trace: the end of the workflow joins it.
	submitOK(t, ctx, mainMachine, n, 80)
	waitDone(t, ctx, e)
	for _, d := range compiledTrace(t, caller.root) {
		if d.Origin == "AWS::StepFunctions::StateMachine" && (d.InProgress || len(d.find("ResolveIncident")) != 1) {
			t.Errorf("after the callback the execution segment is in progress=%v with %d ResolveIncident subsegments, want ended with 1",
				d.InProgress, len(d.find("ResolveIncident")))
		}
	}

	// A request the caller did not sample records nothing.
	unsampled := traceHeader{root: newTraceID(), parent: newSegmentID()}
	resp = tracedPost(t, ctx, mainMachine, "/incident", `{"StudentId": "untraced"}`, unsampled)
	waitNotification(t, ctx, h.execution(resp.RequestID), 1)
	if docs := compiledTrace(t, unsampled.root); len(docs) > 0 {
		t.Errorf("an unsampled request recorded %d documents", len(docs))
	}
}

// checkInferred requires X-Ray's inferred segments in the trace: exactly one for each AWS
// call the functions recorded (DynamoDB and Step Functions send no segments of their own),
// named after the call, with its aws block and no namespace (so Tracetest gives it no
// aws.service), and none for the Lambda invokes and the StartExecution integration, whose
// services' own segments replace them (tests/aws-spans.json).
func checkInferred(t *testing.T, docs []*node, byID map[string]*node) {
	t.Helper()
	inferred := map[string]int{} // call id -> inferred segments under it
	for _, d := range docs {
		if !d.Inferred {
			continue
		}
		call := byID[d.ParentID]
		switch {
		case call == nil:
			t.Errorf("inferred segment %s (%s) has no parent in the trace", d.Name, d.ID)
		case call.Namespace != "aws" || call.Name != d.Name || fmt.Sprint(call.AWS) != fmt.Sprint(d.AWS):
			t.Errorf("inferred segment %s %v is not a copy of its parent %s (namespace %q) %v", d.Name, d.AWS, call.Name, call.Namespace, call.AWS)
		case d.Namespace != "" || len(d.Subsegments) > 0:
			t.Errorf("inferred segment %s has namespace %q and %d subsegments, want neither", d.Name, d.Namespace, len(d.Subsegments))
		}
		inferred[d.ParentID]++
	}
	calls := 0
	var walk func(n *node)
	walk = func(n *node) {
		for _, s := range n.Subsegments {
			walk(s)
		}
		if n.Namespace != "aws" || n.Inferred {
			return
		}
		want := 1
		if n.Name == "Lambda" || n.Name == "STEPFUNCTIONS" {
			want = 0
		} else {
			calls++
		}
		if inferred[n.ID] != want {
			t.Errorf("%d inferred segments under the %s %v subsegment %s, want %d", inferred[n.ID], n.Name, n.AWS["operation"], n.ID, want)
		}
	}
	for _, d := range docs {
		walk(d)
	}
	// ScheduleExam and SendNotification each read and save the incident.
	if calls < 4 {
		t.Errorf("%d AWS calls recorded by the functions, want at least their 4 DynamoDB calls", calls)
	}
}

// checkDocumented requires every span name in the trace to be documented: in
// tests/spans/emitted.json (the functions' code) or tests/aws-spans.json (AWS; <state
// machine name> and <function name> stand for the names the harness gives those).
func checkDocumented(t *testing.T, docs []*node) {
	t.Helper()
	known := map[string]bool{}
	for _, file := range []string{"tests/spans/emitted.json", "tests/aws-spans.json"} {
		var catalog struct {
			Spans []struct {
				Name string `json:"name"`
			} `json:"spans"`
		}
		b, err := os.ReadFile(filepath.Join(h.root, file))
		if err == nil {
			err = json.Unmarshal(b, &catalog)
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, s := range catalog.Spans {
			known[s.Name] = true
		}
	}
	if known["<state machine name>"] {
		known[mainMachine] = true
	}
	if known["<function name>"] {
		for _, f := range h.functions {
			known[f.name] = true
		}
	}
	known[h.api.name+"/"+h.api.stage] = known["DevelopingWithStepFunctionsApi/v2"]
	var walk func(n *node)
	walk = func(n *node) {
		if !known[n.Name] {
			t.Errorf("span %q is in neither tests/spans/emitted.json nor tests/aws-spans.json", n.Name)
		}
		for _, s := range n.Subsegments {
			walk(s)
		}
	}
	for _, d := range docs {
		walk(d)
	}
}
