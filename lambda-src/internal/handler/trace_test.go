package handler_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/register"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/submit"
)

var updateGolden = flag.Bool("update", false, "rewrite tests/spans/emitted.json from the spans the handlers emit")

// traceChildEnv marks the child process of TestEmittedSpans: package tracing
// reads AWS_XRAY_DAEMON_ADDRESS once per process, so the handlers run in a
// process started with it.
const traceChildEnv = "LAMBDA_SRC_TRACE_CHILD"

// goldenPath is the record of emitted spans the Tracetest definitions are
// checked against.
var goldenPath = filepath.Join("..", "..", "..", "tests", "spans", "emitted.json")

// Span is one entry of tests/spans/emitted.json.
type Span struct {
	Function     string              `json:"function"`
	Name         string              `json:"name"`
	Attributes   map[string]string   `json:"attributes"`
	MetadataKeys map[string][]string `json:"metadataKeys"`
}

// Emitted is the content of tests/spans/emitted.json.
type Emitted struct {
	Comment string `json:"comment"`
	Spans   []Span `json:"spans"`
}

// segment is the part of an X-Ray segment document the test reads.
type segment struct {
	Name        string                    `json:"name"`
	TraceID     string                    `json:"trace_id"`
	Type        string                    `json:"type"`
	AWS         map[string]any            `json:"aws"`
	Metadata    map[string]map[string]any `json:"metadata"`
	Subsegments []segment                 `json:"subsegments"`
}

func TestEmittedSpans(t *testing.T) {
	if server == nil {
		t.Skip("DynamoDB Local is not started under -short")
	}
	table := newTable(t)

	daemon, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer daemon.Close()
	var mu sync.Mutex
	var docs [][]byte
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := daemon.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			docs = append(docs, bytes.Clone(buf[:n]))
			mu.Unlock()
		}
	}()

	// Step Functions has no local implementation of callbacks: this answers
	// SendTaskHeartbeat and SendTaskSuccess over HTTP, so the real, traced
	// SDK client makes the calls.
	var sfnCalls []string
	stepFunctions := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sfnCalls = append(sfnCalls, r.Header.Get("X-Amz-Target"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte("{}"))
	}))
	defer stepFunctions.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestTraceChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(),
		traceChildEnv+"=1",
		"TABLE_NAME="+table,
		"AWS_XRAY_DAEMON_ADDRESS="+daemon.LocalAddr().String(),
		"AWS_ENDPOINT_URL_SFN="+stepFunctions.URL,
		"EXAM_URL=https://exams.example.com",
		"SUBMIT_URL=https://api.example.com/v2/exam",
		// As the project's app deploys it: the trace-based tests read the
		// token from NotificationData.
		"TRACE_TASK_TOKEN=true",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	traces := map[string]string{} // trace id -> function
	scanner := bufio.NewScanner(bytes.NewReader(out))
	for scanner.Scan() {
		if fields := strings.Fields(scanner.Text()); len(fields) == 3 && fields[0] == "TRACE" {
			traces[fields[2]] = fields[1]
		}
	}
	// The SDK sends each subsegment when it closes, before the handler
	// returns; give the last datagrams time to arrive.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()

	var all []segment
	for _, doc := range docs {
		_, body, ok := bytes.Cut(doc, []byte("\n"))
		if !ok {
			t.Fatalf("datagram without the X-Ray header line: %s", doc)
		}
		var seg segment
		if err := json.Unmarshal(body, &seg); err != nil {
			t.Fatalf("segment document %s: %v", body, err)
		}
		all = append(all, flatten(seg)...)
	}

	spans := map[string]Span{}
	tokens := map[string]bool{}
	untracedNotification := false
	for _, seg := range all {
		function, ok := traces[seg.TraceID]
		if !ok {
			t.Errorf("segment %s in unknown trace %s", seg.Name, seg.TraceID)
			continue
		}
		if function == untracedFunction {
			// SendNotification with TRACE_TASK_TOKEN unset: the token
			// stays out of the trace.
			if seg.Name == "NotificationData" {
				untracedNotification = true
				if token, _ := seg.Metadata["default"]["TaskToken"].(string); token != "" {
					t.Errorf("NotificationData carries the task token %q although TRACE_TASK_TOKEN is not true", token)
				}
				if seg.Metadata["default"]["ExamId"] == nil {
					t.Errorf("untraced NotificationData lacks ExamId: %v", seg.Metadata)
				}
			}
			continue
		}
		span := Span{Function: function, Name: seg.Name, Attributes: map[string]string{}, MetadataKeys: map[string][]string{}}
		if op, ok := seg.AWS["operation"].(string); ok {
			span.Attributes["aws.operation"] = op
		}
		for ns, values := range seg.Metadata {
			for key, value := range values {
				span.MetadataKeys[ns] = append(span.MetadataKeys[ns], key)
				if s, _ := value.(string); s == "" {
					t.Errorf("%s %s metadata %s.%s is empty", function, seg.Name, ns, key)
				}
				if key == "TaskToken" {
					tokens[value.(string)] = true
				}
			}
			sort.Strings(span.MetadataKeys[ns])
		}
		spans[function+"\x00"+seg.Name+"\x00"+span.Attributes["aws.operation"]] = span
	}

	got := Emitted{
		Comment: "Spans the Lambda code emits, per function (state or route name), recorded by the offline trace test: " +
			"go test ./lambda-src/internal/handler -run TestEmittedSpans -update",
	}
	for _, key := range slices.Sorted(maps.Keys(spans)) {
		got.Spans = append(got.Spans, spans[key])
	}

	has := func(function, name, op string) bool {
		_, ok := spans[function+"\x00"+name+"\x00"+op]
		return ok
	}
	notification, ok := spans["SendNotification\x00NotificationData\x00"]
	if !ok || !slices.Equal(notification.MetadataKeys["default"], []string{"ExamId", "IncidentId", "TaskToken"}) {
		t.Errorf("SendNotification must emit NotificationData with default metadata ExamId, IncidentId, TaskToken; got %+v", notification)
	}
	if !tokens[childTaskToken] {
		t.Errorf("NotificationData does not carry the task token %q: %v", childTaskToken, tokens)
	}
	if !untracedNotification {
		t.Error("the SendNotification without TRACE_TASK_TOKEN emitted no NotificationData")
	}
	for _, want := range []struct{ function, name, op string }{
		{"ScheduleExam", "DynamoDB", "GetItem"},
		{"ScheduleExam", "DynamoDB", "UpdateItem"},
		{"SendNotification", "DynamoDB", "UpdateItem"},
		{"SubmitExam", "DynamoDB", "UpdateItem"},
		{"SubmitExam", "SFN", "SendTaskSuccess"},
		{"ResolveIncident", "DynamoDB", "UpdateItem"},
		{"TakeAdministrativeAction", "DynamoDB", "UpdateItem"},
	} {
		if !has(want.function, want.name, want.op) {
			t.Errorf("%s emitted no %s span with aws.operation %s", want.function, want.name, want.op)
		}
	}
	if !slices.Contains(sfnCalls, "AWSStepFunctions.SendTaskSuccess") {
		t.Errorf("Step Functions calls = %v, want SendTaskSuccess", sfnCalls)
	}

	data, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v: run go test ./lambda-src/internal/handler -run TestEmittedSpans -update", err)
	}
	if !bytes.Equal(want, data) {
		t.Errorf("%s differs from the spans the code emits; if the change is intended run\n"+
			"go test ./lambda-src/internal/handler -run TestEmittedSpans -update\ngot:\n%s", goldenPath, data)
	}
}

func flatten(seg segment) []segment {
	out := []segment{seg}
	for _, sub := range seg.Subsegments {
		sub.TraceID = seg.TraceID
		out = append(out, flatten(sub)...)
	}
	return out
}

// childTaskToken is the token the child hands SendNotification and SubmitExam.
const childTaskToken = "offline-trace-task-token"

// untracedFunction labels the child's SendNotification built without
// TRACE_TASK_TOKEN; its spans are checked, not recorded.
const untracedFunction = "SendNotification/TRACE_TASK_TOKEN=unset"

// TestTraceChild runs the workflow's handlers, built from the environment as
// the Lambda main packages build them, each invocation in its own trace. It
// only runs as TestEmittedSpans' child.
func TestTraceChild(t *testing.T) {
	if os.Getenv(traceChildEnv) == "" {
		t.Skip("runs only as the child process of TestEmittedSpans")
	}
	invocation := 0
	// invoke returns a context like the one aws-lambda-go builds, whose
	// trace header is what package tracing records the subsegments under.
	invoke := func(function string) context.Context {
		invocation++
		traceID := fmt.Sprintf("1-%08x-%024x", time.Now().Unix(), invocation)
		fmt.Printf("\nTRACE %s %s\n", function, traceID)
		header := fmt.Sprintf("Root=%s;Parent=%016x;Sampled=1", traceID, invocation)
		return context.WithValue(context.Background(), "x-amzn-trace-id", header)
	}
	ctx := context.Background()
	schedule, err := handler.NewScheduleExam(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := notification.NewSendNotification(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	untraced, err := notification.NewSendNotification(ctx, func(k string) string {
		if k == "TRACE_TASK_TOKEN" {
			return ""
		}
		return os.Getenv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	submitExam, err := submit.NewSubmitExam(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	resolve, err := handler.NewResolveIncident(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	escalate, err := handler.NewTakeAdministrativeAction(ctx, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}

	registered, err := (&register.RegisterIncident{Now: time.Now}).Handle(invoke("RegisterIncident"), json.RawMessage(`{"StudentId":"tracetest"}`))
	if err != nil {
		t.Fatal(err)
	}
	inc, err := schedule.Handle(invoke("ScheduleExam"), mustJSON(t, registered))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notifier.Handle(invoke("SendNotification"), mustJSON(t, map[string]any{"Incident": inc, "TaskToken": childTaskToken})); err != nil {
		t.Fatal(err)
	}
	body := mustJSON(t, map[string]any{"IncidentId": inc.IncidentId, "ExamId": inc.Exams[0].ExamId, "Score": "80", "TaskToken": childTaskToken})
	resp, err := submitExam.Handle(invoke("SubmitExam"), events.APIGatewayProxyRequest{HTTPMethod: "POST", Body: string(body)})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("submit exam: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	var scored json.RawMessage = []byte(resp.Body)
	if _, err := resolve.Handle(invoke("ResolveIncident"), scored); err != nil {
		t.Fatal(err)
	}

	other, err := schedule.Handle(ctx, mustJSON(t, registerIncident(t)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untraced.Handle(invoke(untracedFunction), mustJSON(t, map[string]any{"Incident": other, "TaskToken": childTaskToken + "-untraced"})); err != nil {
		t.Fatal(err)
	}
	if _, err := escalate.Handle(invoke("TakeAdministrativeAction"), mustJSON(t, other)); err != nil {
		t.Fatal(err)
	}
}
