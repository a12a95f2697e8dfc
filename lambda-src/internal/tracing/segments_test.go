package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

var update = flag.Bool("update", false, "rewrite tests/spans/segments.json from the segment documents the functions emit")

// moduleRoot is where go.mod is, seen from this package's directory.
const moduleRoot = "../../.."

// segmentsPath is the record of the segment documents the functions send to
// the X-Ray daemon, normalized (ids, times and generated values replaced).
var segmentsPath = filepath.Join(moduleRoot, "tests", "spans", "segments.json")

// daemonHeader is the first line of every datagram of the X-Ray daemon
// protocol, as AWS documents it.
const daemonHeader = `{"format": "json", "version": 1}`

// Capture is the content of tests/spans/segments.json.
type Capture struct {
	Comment     string       `json:"comment"`
	Invocations []Invocation `json:"invocations"`
}

// Invocation is one invocation of a function binary and the segment
// documents it sent, normalized.
type Invocation struct {
	Case     string `json:"case"`
	Function string `json:"function"`
	// TraceHeader is the Lambda-Runtime-Trace-Id the runtime API handed the
	// function, with its trace and parent ids replaced by <trace> and <lambda>.
	TraceHeader string `json:"traceHeader"`
	Segments    []any  `json:"segments"`
	// Downstream are the X-Amzn-Trace-Id headers Step Functions and SES saw
	// (DynamoDB Local does not show them), normalized like the documents.
	Downstream []string `json:"downstreamTraceHeaders,omitempty"`
}

// TestSegments runs the six real function binaries, built from lambda-src/cmd,
// through a workflow like the state machine's, each invocation in its own
// trace, and records the X-Ray segment documents they send over UDP.
//
// The binaries run under a small Lambda Runtime API served by this test: the
// Runtime Interface Emulator drops the invocation's trace header (it never
// sends Lambda-Runtime-Trace-Id), and that header is what aws-lambda-go puts
// in the handler's context, so under the emulator nothing is ever traced.
// DynamoDB is DynamoDB Local; Step Functions and SES v2, which have no local
// implementation, are httptest servers answering the few calls made.
func TestSegments(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions and runs DynamoDB Local")
	}
	data := encode(t, captureWorkflow(t))
	if *update {
		if err := os.WriteFile(segmentsPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(segmentsPath)
	if err != nil {
		t.Fatalf("%v: run go test ./lambda-src/internal/tracing -run TestSegments -update", err)
	}
	if !bytes.Equal(want, data) {
		t.Errorf("%s differs from the documents the functions emit; if the change is intended, run\n"+
			"go test ./lambda-src/internal/tracing -run TestSegments -update\nand review the diff. Got:\n%s", segmentsPath, data)
	}
}

// The task tokens the stand-in Step Functions answers differently.
const (
	tokenAccepted    = "offline-trace-task-token"
	tokenRefused     = "spent-task-token"       // 400 TaskTimedOut
	tokenUnavailable = "unavailable-task-token" // 500, retried
)

func captureWorkflow(t *testing.T) Capture {
	start := time.Now()
	bin := buildFunctions(t)
	t.Logf("built the functions in %v", time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	ddb, err := ddblocal.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ddb.Stop(); err != nil {
			t.Error(err)
		}
	})
	const table = "incidents"
	if err := ddb.CreateTable(ctx, table, storage.KeyAttribute); err != nil {
		t.Fatal(err)
	}

	daemon := listenDaemon(t)
	seen := &traceHeaders{}
	stepFunctions := httptest.NewServer(seen.record(serveStepFunctions))
	t.Cleanup(stepFunctions.Close)
	ses := httptest.NewServer(seen.record(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/email/outbound-emails" {
			http.Error(w, "unexpected SES call "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Requestid", "ses-request-1")
		io.WriteString(w, `{"MessageId":"ses-message-1"}`)
	}))
	t.Cleanup(ses.Close)

	env := map[string]string{
		"AWS_REGION":                       ddblocal.Region,
		"AWS_ACCESS_KEY_ID":                "local",
		"AWS_SECRET_ACCESS_KEY":            "local",
		"AWS_SESSION_TOKEN":                "local",
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_CONFIG_FILE":                  os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":      os.DevNull,
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"AWS_ENDPOINT_URL_DYNAMODB":        ddb.Endpoint,
		"AWS_ENDPOINT_URL_SFN":             stepFunctions.URL,
		"AWS_ENDPOINT_URL_SESV2":           ses.URL,
		"AWS_XRAY_DAEMON_ADDRESS":          daemon.addr,
		"TABLE_NAME":                       table,
		"TRACE_TASK_TOKEN":                 "true",
		"NOTIFICATION_MODE":                "log",
	}
	w := &workflow{t: t, bin: bin, env: env, daemon: daemon, seen: seen}

	// The state machine's happy path, each state in its own trace.
	registered := w.invoke("RegisterIncident registers an incident (no AWS call)", "registerincident", sampled, nil, `{"StudentId":"tracetest"}`)
	scheduled := w.invoke("ScheduleExam loads the new incident (absent) and saves it with an exam", "scheduleexam", sampled, nil, string(registered))
	w.invoke("SendNotification records NotificationData, then marks the exam notified", "sendnotification", sampled, nil,
		notification(t, scheduled, tokenAccepted))
	scored := w.invoke("SubmitExam checks the token, stores the score and resumes the execution", "submitexam", sampled, nil,
		submission(t, scheduled, tokenAccepted, "80"))
	w.invoke("ResolveIncident closes the incident", "resolveincident", sampled, nil, apiBody(t, scored))

	// No trace: what the emulator sends (no header) and an unsampled request.
	other := w.invoke("without a trace header (the emulator) nothing is sent", "registerincident", "", nil, `{"StudentId":"tracetest"}`)
	other = w.invoke("an unsampled trace (Sampled=0) sends nothing", "scheduleexam", notSampled, nil, string(other))

	// Failures and the other notification mode.
	w.invoke("SendNotification in ses mode: the SESv2 call is nested in NotificationData", "sendnotification", sampled,
		map[string]string{"NOTIFICATION_MODE": "ses", "NOTIFICATION_FROM": "exams@example.com", "NOTIFICATION_TO": "student@example.com"},
		notification(t, other, tokenAccepted))
	// A Retry of SendNotification comes with a new task token; the exam is
	// bound to the newest, so each refusal below reaches Step Functions.
	w.invoke("SendNotification again with a new token rebinds the exam", "sendnotification", sampled, nil,
		notification(t, other, tokenRefused))
	w.invoke("SubmitExam with a token Step Functions refuses (400 TaskTimedOut): 409", "submitexam", sampled, nil,
		submission(t, other, tokenRefused, "50"))
	w.invoke("SendNotification with a third token rebinds the exam again", "sendnotification", sampled, nil,
		notification(t, other, tokenUnavailable))
	w.invoke("SubmitExam while Step Functions fails (500 on every attempt): the score is kept, 202", "submitexam", sampled, nil,
		submission(t, other, tokenUnavailable, "50"))
	w.invoke("TakeAdministrativeAction escalates the incident", "takeadministrativeaction", sampled, nil, string(other))

	t.Logf("ran the workflow in %v", time.Since(start).Round(time.Millisecond))
	return w.capture()
}

// Trace header shapes: %s is the trace id, %s the parent (the function's
// segment in Lambda).
const (
	sampled    = "Root=%s;Parent=%s;Sampled=1;Lineage=a87bd80c:0"
	notSampled = "Root=%s;Parent=%s;Sampled=0"
)

// buildFunctions compiles every lambda-src/cmd function for this machine, with
// the deployment's tags and flags, and returns the directory of the binaries.
func buildFunctions(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", lambdabuild.GoBuildArgs(dir, "./lambda-src/cmd/...")...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./lambda-src/cmd/...: %v\n%s", err, out)
	}
	return dir
}

// daemon is a UDP socket on 127.0.0.1 standing where Lambda's X-Ray daemon listens.
type daemon struct {
	addr  string
	mu    sync.Mutex
	grams [][]byte
}

func listenDaemon(t *testing.T) *daemon {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d := &daemon{addr: conn.LocalAddr().String()}
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			d.mu.Lock()
			d.grams = append(d.grams, bytes.Clone(buf[:n]))
			d.mu.Unlock()
		}
	}()
	return d
}

// received waits until no datagram has arrived for a while and returns them all.
func (d *daemon) received() [][]byte {
	last := -1
	for {
		time.Sleep(150 * time.Millisecond)
		d.mu.Lock()
		n := len(d.grams)
		d.mu.Unlock()
		if n == last {
			d.mu.Lock()
			defer d.mu.Unlock()
			return append([][]byte(nil), d.grams...)
		}
		last = n
	}
}

// traceHeaders records the X-Amzn-Trace-Id header of every request.
type traceHeaders struct {
	mu   sync.Mutex
	seen []string
}

func (h *traceHeaders) record(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Get("X-Amzn-Trace-Id"))
		h.mu.Unlock()
		next(w, r)
	}
}

// serveStepFunctions answers SendTaskHeartbeat and SendTaskSuccess as Step
// Functions does for an open task, a spent one and an outage.
func serveStepFunctions(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TaskToken string `json:"taskToken"`
	}
	target := r.Header.Get("X-Amz-Target")
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil ||
		(target != "AWSStepFunctions.SendTaskHeartbeat" && target != "AWSStepFunctions.SendTaskSuccess") {
		http.Error(w, "unexpected Step Functions call "+target, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Requestid", "sfn-request-1")
	switch in.TaskToken {
	case tokenRefused:
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out"}`)
	case tokenUnavailable:
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"__type":"com.amazonaws.swf.service.v2.model#InternalFailure","message":"Internal Failure"}`)
	default:
		io.WriteString(w, `{}`)
	}
}

// workflow runs the invocations and remembers their traces.
type workflow struct {
	t      *testing.T
	bin    string
	env    map[string]string
	daemon *daemon
	seen   *traceHeaders
	runs   []run
}

type run struct {
	Invocation
	traceID, parentID string
}

// invoke runs function once with event under the given trace header shape
// ("" for none) and returns its response; a function error fails the test.
func (w *workflow) invoke(what, function, header string, env map[string]string, event string) []byte {
	t := w.t
	t.Helper()
	n := len(w.runs) + 1
	r := run{
		Invocation: Invocation{Case: what, Function: function},
		traceID:    fmt.Sprintf("1-%08x-%024x", time.Now().Unix(), n),
		parentID:   fmt.Sprintf("%016x", 0xfacade00+n),
	}
	var traceHeader string
	if header != "" {
		traceHeader = fmt.Sprintf(header, r.traceID, r.parentID)
		r.TraceHeader = fmt.Sprintf(header, "<trace>", "<lambda>")
	}
	merged := map[string]string{}
	for k, v := range w.env {
		merged[k] = v
	}
	for k, v := range env {
		merged[k] = v
	}
	merged["AWS_LAMBDA_FUNCTION_NAME"] = function
	binary := function
	if function == "sendnotification" {
		// The binary the construct deploys for the mode, which links only its clients.
		binary += "-" + merged["NOTIFICATION_MODE"]
	}
	out, err := runOnce(filepath.Join(w.bin, binary), merged, traceHeader, []byte(event))
	if err != nil {
		t.Fatalf("%s (%s): %v", function, what, err)
	}
	w.runs = append(w.runs, r)
	return out
}

// capture groups the received documents by invocation and normalizes them.
func (w *workflow) capture() Capture {
	t := w.t
	byTrace := map[string][][]byte{}
	for _, gram := range w.daemon.received() {
		head, body, ok := bytes.Cut(gram, []byte("\n"))
		if !ok || string(head) != daemonHeader {
			t.Fatalf("datagram is not the daemon protocol (%q, a newline, a document): %q", daemonHeader, gram)
		}
		var top struct {
			TraceID string `json:"trace_id"`
		}
		if err := json.Unmarshal(body, &top); err != nil {
			t.Fatalf("segment document %s: %v", body, err)
		}
		if _, err := readSegment(body, readOptions{}); err != nil {
			t.Errorf("Tracetest v1.7.1 cannot read %s: %v", body, err)
		}
		byTrace[top.TraceID] = append(byTrace[top.TraceID], body)
	}
	downstream := map[string][]string{}
	w.seen.mu.Lock()
	for _, h := range w.seen.seen {
		root, _, _ := strings.Cut(strings.TrimPrefix(h, "Root="), ";")
		downstream[root] = append(downstream[root], h)
	}
	w.seen.mu.Unlock()
	c := Capture{Comment: "The X-Ray segment documents the functions send to the daemon (UDP), per invocation, " +
		"normalized: ids, times, request ids, byte counts and generated UUIDs replaced. " +
		"Recorded by go test ./lambda-src/internal/tracing -run TestSegments -update"}
	for _, r := range w.runs {
		segs, ids, err := normalize(byTrace[r.traceID], r.traceID, r.parentID)
		if err != nil {
			t.Fatalf("%s (%s): %v", r.Function, r.Case, err)
		}
		for _, h := range downstream[r.traceID] {
			h = strings.Replace(h, "Root="+r.traceID, "Root=<trace>", 1)
			for id, name := range ids {
				h = strings.Replace(h, "Parent="+id+";", "Parent="+name+";", 1)
			}
			r.Downstream = append(r.Downstream, h)
		}
		delete(byTrace, r.traceID)
		r.Segments = segs
		if r.Segments == nil {
			r.Segments = []any{}
		}
		c.Invocations = append(c.Invocations, r.Invocation)
	}
	for id, docs := range byTrace {
		t.Errorf("%d documents in trace %s, which no invocation had: %s", len(docs), id, docs)
	}
	return c
}

// runOnce starts the function binary against a Runtime API that hands it one
// event, and returns what the function answered.
func runOnce(binary string, env map[string]string, traceHeader string, event []byte) ([]byte, error) {
	api := newRuntimeAPI(traceHeader, event)
	defer api.close()
	cmd := exec.Command(binary)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(api.srv.URL, "http://"), "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	select {
	case res := <-api.result:
		if res.err != "" {
			return nil, fmt.Errorf("%s\nlogs:\n%s", res.err, logs.String())
		}
		return res.body, nil
	case err := <-exited:
		exited <- err
		return nil, fmt.Errorf("exited before answering: %v\nlogs:\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("no answer in 60 s\nlogs:\n%s", logs.String())
	}
}

// runtimeAPI serves the Lambda Runtime API (2018-06-01) for one invocation;
// later /next calls wait until the process is stopped, as in Lambda.
type runtimeAPI struct {
	srv    *httptest.Server
	result chan apiResult
	done   chan struct{}
}

type apiResult struct {
	body []byte
	err  string
}

const requestID = "8f5a1c3e-0000-4000-8000-000000000001"

func newRuntimeAPI(traceHeader string, event []byte) *runtimeAPI {
	api := &runtimeAPI{result: make(chan apiResult, 1), done: make(chan struct{})}
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		first := false
		once.Do(func() { first = true })
		if !first {
			select {
			case <-api.done:
			case <-r.Context().Done():
			}
			return
		}
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", requestID)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:f")
		if traceHeader != "" {
			h.Set("Lambda-Runtime-Trace-Id", traceHeader)
		}
		w.Write(event)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		api.result <- apiResult{body: body}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		api.result <- apiResult{err: "function error: " + string(body)}
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		api.result <- apiResult{err: "init error: " + string(body)}
	})
	api.srv = httptest.NewServer(mux)
	return api
}

func (api *runtimeAPI) close() {
	close(api.done)
	api.srv.Close()
}

func notification(t *testing.T, incident []byte, token string) string {
	return string(mustJSON(t, map[string]any{"Incident": json.RawMessage(incident), "TaskToken": token}))
}

func submission(t *testing.T, incident []byte, token, score string) string {
	var inc struct {
		IncidentId string
		Exams      []struct{ ExamId string }
	}
	if err := json.Unmarshal(incident, &inc); err != nil || len(inc.Exams) == 0 {
		t.Fatalf("incident without exam %s: %v", incident, err)
	}
	body := mustJSON(t, map[string]any{"IncidentId": inc.IncidentId, "ExamId": inc.Exams[0].ExamId, "Score": score, "TaskToken": token})
	return string(mustJSON(t, map[string]any{"httpMethod": "POST", "path": "/exam", "body": string(body)}))
}

// apiBody returns the body of SubmitExam's API Gateway response, which must be 200.
func apiBody(t *testing.T, response []byte) string {
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(response, &resp); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SubmitExam answered %s (%v), want 200", response, err)
	}
	return resp.Body
}

// encode is v as indented JSON, with <placeholders> left readable.
func encode(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustJSON(t *testing.T, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalize parses the documents of one trace and replaces what changes from
// run to run: ids become <id:N> in document order (the function's segment,
// the trace header's Parent, is <lambda>), times <time>, request ids
// <request-id>, byte counts <bytes>, UUIDs <uuid>, exception ids and stacks
// and the working directory placeholders. It checks the ids and times first,
// and returns the id map too.
func normalize(docs [][]byte, traceID, lambdaID string) ([]any, map[string]string, error) {
	var segs []map[string]any
	for _, doc := range docs {
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var seg map[string]any
		if err := dec.Decode(&seg); err != nil {
			return nil, nil, fmt.Errorf("document %s: %w", doc, err)
		}
		if seg["trace_id"] != traceID {
			return nil, nil, fmt.Errorf("document %s: trace_id is not %s", doc, traceID)
		}
		segs = append(segs, seg)
	}
	sort.SliceStable(segs, func(i, j int) bool { return startTime(segs[i]) < startTime(segs[j]) })

	ids := map[string]string{lambdaID: "<lambda>"}
	var number func(seg map[string]any) error
	number = func(seg map[string]any) error {
		id, _ := seg["id"].(string)
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
			return fmt.Errorf("segment %v: id %q is not 16 hexadecimal digits", seg["name"], id)
		}
		ids[id] = fmt.Sprintf("<id:%d>", len(ids))
		for _, sub := range subsegments(seg) {
			if err := number(sub); err != nil {
				return err
			}
		}
		return nil
	}
	for _, seg := range segs {
		if err := number(seg); err != nil {
			return nil, nil, err
		}
	}
	var out []any
	for _, seg := range segs {
		if err := rewrite(seg, traceID, ids); err != nil {
			return nil, nil, err
		}
		out = append(out, seg)
	}
	return out, ids, nil
}

func subsegments(seg map[string]any) []map[string]any {
	var subs []map[string]any
	list, _ := seg["subsegments"].([]any)
	for _, s := range list {
		if m, ok := s.(map[string]any); ok {
			subs = append(subs, m)
		}
	}
	return subs
}

func startTime(seg map[string]any) float64 { return seconds(seg["start_time"]) }

// seconds is a document's time; 0 when it is missing or not a number.
func seconds(v any) float64 {
	n, _ := v.(json.Number)
	f, _ := n.Float64()
	return f
}

func rewrite(seg map[string]any, traceID string, ids map[string]string) error {
	name := seg["name"]
	start, end := seconds(seg["start_time"]), seconds(seg["end_time"])
	if start <= 1e9 || end < start {
		return fmt.Errorf("segment %v: start_time %v, end_time %v: want epoch seconds, end >= start", name, seg["start_time"], seg["end_time"])
	}
	seg["start_time"], seg["end_time"] = "<time>", "<time>"
	seg["id"] = ids[seg["id"].(string)]
	if p, ok := seg["parent_id"].(string); ok {
		mapped, known := ids[p]
		if !known {
			return fmt.Errorf("segment %v: parent_id %s is neither the function's segment nor a document of this trace", name, p)
		}
		seg["parent_id"] = mapped
	}
	if _, ok := seg["trace_id"]; ok {
		seg["trace_id"] = "<trace>"
	}
	if aws, ok := seg["aws"].(map[string]any); ok {
		if _, ok := aws["request_id"]; ok {
			aws["request_id"] = "<request-id>"
		}
	}
	if h, ok := seg["http"].(map[string]any); ok {
		if resp, ok := h["response"].(map[string]any); ok {
			if _, ok := resp["content_length"]; ok {
				resp["content_length"] = "<bytes>"
			}
		}
	}
	if cause, ok := seg["cause"].(map[string]any); ok {
		if _, ok := cause["working_directory"]; ok {
			cause["working_directory"] = "<cwd>"
		}
		exceptions, _ := cause["exceptions"].([]any)
		for _, e := range exceptions {
			if e, ok := e.(map[string]any); ok {
				if _, ok := e["id"]; ok {
					e["id"] = "<id>"
				}
				if _, ok := e["stack"]; ok {
					e["stack"] = "<stack>"
				}
			}
		}
	}
	replaceUUIDs(seg)
	for _, sub := range subsegments(seg) {
		if err := rewrite(sub, traceID, ids); err != nil {
			return err
		}
	}
	return nil
}

// replaceUUIDs replaces UUIDs in every string value of v (incident and exam
// ids, DynamoDB Local's request ids inside error messages).
func replaceUUIDs(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok {
				v[k] = uuidPattern.ReplaceAllString(s, "<uuid>")
			} else if k != "subsegments" {
				replaceUUIDs(x)
			}
		}
	case []any:
		for i, x := range v {
			if s, ok := x.(string); ok {
				v[i] = uuidPattern.ReplaceAllString(s, "<uuid>")
			} else {
				replaceUUIDs(x)
			}
		}
	}
}
