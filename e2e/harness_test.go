package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/lambdabuild"
)

const (
	region    = "us-east-1"
	accountID = "000000000000"
	tableName = "e2e-incidents"

	// mainMachine runs with a window long enough that no scenario ever meets it;
	// shortMachine with a window the timeout scenario waits out.
	mainMachine  = "PlagiarismStateMachine"
	shortMachine = "PlagiarismStateMachineShortWindow"
	mainWindow   = 2 * time.Minute
	shortWindow  = 2 * time.Second
)

// stateFunctions maps the definition's placeholders to function directories under
// lambda-src/cmd (docs/WORKFLOW.md).
var stateFunctions = map[string]string{
	"RegisterIncidentFunctionArn":         "registerincident",
	"ScheduleExamFunctionArn":             "scheduleexam",
	"SendNotificationFunctionArn":         "sendnotification",
	"ResolveIncidentFunctionArn":          "resolveincident",
	"TakeAdministrativeActionFunctionArn": "takeadministrativeaction",
}

// harness is everything TestMain starts. Its methods are safe for concurrent scenarios.
type harness struct {
	root, tmp string
	procs     []*proc
	servers   []*http.Server
	timings   []string

	ddbServer   *ddblocal.Server
	ddbEndpoint string
	ddb         *dynamodb.Client

	functions map[string]*function // by function ARN

	sfnURL string // the harness's own endpoint: Step Functions API and the driver's /task

	apis map[string]string // machine name -> base URL of its REST API front door
	api  apiNames          // what the stage segment is named after

	// traced is true when the functions run in the emulator mode that passes the trace
	// header on to the runtime (see startFunction); traces and daemon hold what they send.
	traced   bool
	untraced string // why not, when not traced
	traces   *traceStore
	daemon   *xrayDaemon

	driverIn io.WriteCloser
	inMu     sync.Mutex

	log *tail // the harness's own notes, shown with the process logs

	mu         sync.Mutex
	executions map[string]*execution
	tokens     map[string]*taskToken
	sfnCalls   []sfnCall
	requests   map[string]bool // front-door request id -> started an execution
}

func (h *harness) timed(what string, start time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timings = append(h.timings, fmt.Sprintf("%s %.2fs", what, time.Since(start).Seconds()))
}

// startHarness starts every process and server. api names the REST API in the stage
// segments (the zero value: a name of the harness's own). On error it stops what it started.
func startHarness(ctx context.Context, api apiNames) (h *harness, err error) {
	h = &harness{
		functions:  map[string]*function{},
		apis:       map[string]string{},
		executions: map[string]*execution{},
		tokens:     map[string]*taskToken{},
		requests:   map[string]bool{},
		log:        newTail(8 << 10),
		api:        api,
	}
	if h.api == (apiNames{}) {
		h.api = apiNames{name: "e2e", stage: "test", id: "e2eapi0000"}
	}
	h.traces = newTraceStore(h.logf)
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, h.logs())
			h.stop()
		}
	}()
	if h.root, err = repoRoot(); err != nil {
		return h, err
	}
	if h.tmp, err = os.MkdirTemp("", "e2e-harness-"); err != nil {
		return h, fmt.Errorf("create temporary directory: %w", err)
	}
	if err := tracedModeWorks(h.tmp); err != nil {
		h.untraced = err.Error()
		h.logf("functions run untraced: %v", err)
	} else {
		h.traced = true
	}
	ddbDir, err := ddblocal.Dir()
	if err != nil {
		return h, err
	}
	for _, tool := range []string{
		filepath.Join(h.root, ".tools/bin/aws-lambda-rie"),
		filepath.Join(h.root, "node_modules/.bin/node"),
		filepath.Join(h.root, "node_modules/aws-local-stepfunctions/package.json"),
		filepath.Join(ddbDir, "DynamoDBLocal.jar"),
	} {
		if _, err := os.Stat(tool); err != nil {
			return h, fmt.Errorf("%s is missing: run `bash scripts/install-tools.sh` from the repository root first", tool)
		}
	}

	// The harness endpoint and the X-Ray daemon first: the Lambdas' environment needs them.
	if h.sfnURL, err = h.serve(http.HandlerFunc(h.serveSFN)); err != nil {
		return h, err
	}
	if h.daemon, err = startXRayDaemon(h.traces); err != nil {
		return h, err
	}

	// DynamoDB Local's JVM start and the Lambda build are the slow parts: overlap them.
	type built struct {
		dirs lambdabuild.Result
		err  error
	}
	buildDone := make(chan built, 1)
	go func() {
		start := time.Now()
		dirs, err := lambdabuild.Build(lambdabuild.Options{Arch: runtime.GOARCH, ModuleDir: h.root, OutDir: filepath.Join(h.tmp, "lambda")})
		h.timed("build Lambda binaries", start)
		buildDone <- built{dirs, err}
	}()
	// The driver needs only the harness endpoint: start it meanwhile too.
	driverDone := make(chan error, 1)
	go func() {
		start := time.Now()
		err := h.startDriver(ctx)
		h.timed("start state machine driver", start)
		driverDone <- err
	}()
	start := time.Now()
	ddbErr := h.startDynamoDB(ctx)
	h.timed("start DynamoDB Local + create table", start)
	b := <-buildDone
	driverErr := <-driverDone
	if err := errors.Join(ddbErr, driverErr); err != nil {
		return h, err
	}
	if b.err != nil {
		return h, fmt.Errorf("build the Lambda binaries: %w", b.err)
	}

	start = time.Now()
	if err := h.startFunctions(b.dirs); err != nil {
		return h, err
	}
	h.timed("start RIE x7", start)

	for _, m := range []string{mainMachine, shortMachine} {
		if h.apis[m], err = h.serve(h.frontDoor(m)); err != nil {
			return h, err
		}
	}
	return h, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find repository root: no go.mod above %s", dir)
		}
	}
}

// serve runs handler on a new 127.0.0.1 port and returns its base URL.
func (h *harness) serve(handler http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen on 127.0.0.1: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	h.servers = append(h.servers, srv)
	go srv.Serve(l)
	return "http://" + l.Addr().String(), nil
}

// addProc records a process for stop and logs; startup runs in several goroutines.
func (h *harness) addProc(p *proc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.procs = append(h.procs, p)
}

// stop stops every server and process and removes the temporary directory.
func (h *harness) stop() {
	for _, s := range h.servers {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.Shutdown(ctx)
		cancel()
		_ = s.Close()
	}
	if h.driverIn != nil {
		h.driverIn.Close()
	}
	if h.daemon != nil {
		h.daemon.stop()
	}
	var wg sync.WaitGroup
	for _, p := range h.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop()
		}()
	}
	if h.ddbServer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.ddbServer.Stop(); err != nil {
				h.logf("%v", err)
			}
		}()
	}
	wg.Wait()
	if h.tmp != "" {
		os.RemoveAll(h.tmp)
	}
}

// logf notes something for failure messages.
func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

// logs returns the output tails of every process, for failure messages.
func (h *harness) logs() string {
	var b strings.Builder
	b.WriteString("--- harness:\n" + indent(lastBytes(h.log.String(), 3000)) + "\n")
	if h.ddbServer != nil {
		b.WriteString("--- DynamoDB Local at " + h.ddbEndpoint + "; last output:\n" + indent(lastBytes(h.ddbServer.Logs(), 3000)) + "\n")
	}
	for _, p := range h.procs {
		b.WriteString(p.report())
		b.WriteString("\n")
	}
	return b.String()
}

// --- DynamoDB Local ---

// startDynamoDB starts DynamoDB Local on 127.0.0.1 through internal/ddblocal, the
// launcher the Lambda tests use too, and creates the incidents table. h.stop stops it.
func (h *harness) startDynamoDB(ctx context.Context) error {
	server, err := ddblocal.Start(ctx)
	if err != nil {
		return err
	}
	h.ddbServer = server
	h.ddbEndpoint = server.Endpoint
	h.ddb = server.Client()
	if err := server.CreateTable(ctx, tableName, "IncidentId"); err != nil {
		return fmt.Errorf("DynamoDB Local at %s: %w", h.ddbEndpoint, err)
	}
	return nil
}

// --- Lambda functions behind the Runtime Interface Emulator ---

// function is one Lambda function served by its own Runtime Interface Emulator.
type function struct {
	name, arn, url string
	proc           *proc
	started, ready time.Time // the emulator's start and the runtime's first answer: its cold start
	// The emulator serves one invoke at a time and crashes on a concurrent one.
	mu      sync.Mutex
	invoked bool // under mu: a later invoke is warm
}

func functionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, accountID, name)
}

// startFunctions starts one emulator per function, plus a second ScheduleExam for the
// short-window state machine: in AWS one construct prop sets both the state machine's
// callback timeout and ScheduleExam's EXAM_WINDOW, so each machine gets a ScheduleExam
// with its own window.
func (h *harness) startFunctions(dirs lambdabuild.Result) error {
	for _, name := range append(sortedValues(stateFunctions), "submitexam") {
		if dirs[name] == "" {
			return fmt.Errorf("lambdabuild built no %s (built: %v): is lambda-src/cmd/%s missing?", name, sortedKeys(dirs), name)
		}
	}
	type spec struct {
		name, dir string
		window    time.Duration
	}
	var specs []spec
	for name, dir := range dirs {
		specs = append(specs, spec{name, dir, mainWindow})
	}
	specs = append(specs, spec{"scheduleexam-short", dirs["scheduleexam"], shortWindow})
	errs := make(chan error, len(specs))
	var mu sync.Mutex
	for _, s := range specs {
		go func() {
			f, err := h.startFunction(s.name, s.dir, s.window)
			if err == nil {
				mu.Lock()
				h.functions[f.arn] = f
				mu.Unlock()
			}
			errs <- err
		}()
	}
	var all []error
	for range specs {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (h *harness) startFunction(name, dir string, window time.Duration) (*function, error) {
	// The emulator cannot report a port it picked, so the harness picks free ones; another
	// program may take one first, hence the retries.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var f *function
		if f, err = h.tryStartFunction(name, dir, window); err == nil {
			return f, nil
		}
	}
	return nil, err
}

// The emulator's default mode never hands the runtime the invoke's X-Amzn-Trace-Id (its
// tracer is a no-op), so functions would run untraced. Its Lambda Managed Instances mode
// (AWS_LAMBDA_MAX_CONCURRENCY set) passes the header through as Lambda-Runtime-Trace-Id,
// which aws-lambda-go turns into the invocation's trace context and _X_AMZN_TRACE_ID. That
// mode runs the runtime as Lambda does: the bootstrap from /var/task, under uid 993, so it
// needs root; each emulator gets a private mount namespace in which the function's
// directory is mounted at /var/task (over a tmpfs /var, which the host never sees). Without
// root the harness runs the default mode and the functions send no segments.
const lmiScript = `mount -t tmpfs -o mode=0755 tmpfs /var && mkdir /var/task && mount --bind "$1" /var/task && shift && exec "$@"`

// tracedModeWorks tells whether this machine lets the harness run emulators in that mode:
// root, and a mount namespace in which tmpfs and bind mounts work (a container without
// CAP_SYS_ADMIN refuses them).
func tracedModeWorks(dir string) error {
	if os.Geteuid() != 0 {
		return errors.New("the emulator mode that passes trace headers runs functions as uid 993 and needs root")
	}
	cmd := exec.Command("sh", "-c", lmiScript, "sh", dir, "true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("no private mount namespace with /var/task here (%v: %s)", err, bytes.TrimSpace(out))
	}
	// The emulator starts the runtime as uid 993, gid 990, as Lambda does.
	cmd = exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 993, Gid: 990}}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot start a process as uid 993 here, as the emulator does: %v", err)
	}
	return nil
}

func (h *harness) tryStartFunction(name, dir string, window time.Duration) (*function, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	rieAddr, apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	rie := filepath.Join(h.root, ".tools", "bin", "aws-lambda-rie")
	args := []string{"--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr}
	// What Lambda sets with active tracing: the daemon's address, and what to do when a call
	// has no trace (the default emulator mode passes none).
	_, daemonPort, _ := net.SplitHostPort(h.daemon.addr())
	contextMissing := "IGNORE_ERROR"
	if h.traced {
		contextMissing = "LOG_ERROR"
	}
	extra := map[string]string{}
	var cmd *exec.Cmd
	if h.traced {
		cmd = exec.Command("sh", append([]string{"-c", lmiScript, "sh", dir, rie}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		extra["AWS_LAMBDA_MAX_CONCURRENCY"] = "1"
	} else {
		cmd = exec.Command(rie, append(args, filepath.Join(dir, "bootstrap"))...)
	}
	cmd.Dir = dir
	cmd.Env = envWith(merge(extra, map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":    name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
		"AWS_REGION":                  region,
		"AWS_DEFAULT_REGION":          region,
		"AWS_ACCESS_KEY_ID":           "e2e",
		"AWS_SECRET_ACCESS_KEY":       "e2e",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_ENDPOINT_URL_DYNAMODB":   h.ddbEndpoint,
		"AWS_ENDPOINT_URL_SFN":        h.sfnURL,
		"AWS_XRAY_DAEMON_ADDRESS":     h.daemon.addr(),
		"_AWS_XRAY_DAEMON_ADDRESS":    "127.0.0.1",
		"_AWS_XRAY_DAEMON_PORT":       daemonPort,
		"AWS_XRAY_CONTEXT_MISSING":    contextMissing,
		"TABLE_NAME":                  tableName,
		"EXAM_WINDOW":                 window.String(),
		"NOTIFICATION_MODE":           "log",
		// SendNotification records the task token in its NotificationData subsegment only
		// when told to (the trace-based test reads it there); the others ignore it.
		"TRACE_TASK_TOKEN": "true",
		"LOG_LEVEL":        "warn",
	}))
	started := time.Now()
	p, err := startProc("lambda "+name, cmd)
	if err != nil {
		return nil, err
	}
	h.addProc(p)
	if err := waitTCP(p, rieAddr, 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return &function{
		name:    name,
		arn:     functionARN(name),
		url:     "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		proc:    p,
		started: started,
		ready:   time.Now(),
	}, nil
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// lambdaError is a function error: what Lambda reports with X-Amz-Function-Error.
type lambdaError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	payload []byte
}

func (e *lambdaError) Error() string { return e.Type + ": " + e.Message }

// invoke calls the function synchronously (RequestResponse) and returns its result. A
// *lambdaError means the function failed; any other error means the invoke did. A
// non-empty trace is the X-Amzn-Trace-Id the function's runtime receives.
func (f *function) invoke(ctx context.Context, payload []byte, trace string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var body []byte
	for wait := time.Millisecond; ; wait *= 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("invoke %s: %w", f.name, err)
		}
		req.Header.Set("Content-Type", "application/json")
		if trace != "" {
			req.Header.Set("X-Amzn-Trace-Id", trace)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("invoke %s through its emulator: %w", f.name, err)
		}
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("invoke %s: read response: %w", f.name, err)
		}
		// In the mode that passes trace headers the emulator refuses an invoke that arrives
		// before the runtime asked for the next one, where Lambda would queue it: wait.
		if resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("Runtime.Unavailable")) && wait < 2*time.Second {
			select {
			case <-time.After(wait):
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("invoke %s: %w", f.name, ctx.Err())
			}
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("invoke %s: emulator answered %s: %s", f.name, resp.Status, body)
		}
		break
	}
	// The emulator omits X-Amz-Function-Error: a failed invoke is a 200 whose payload is
	// the runtime's error document, {"errorType": ..., "errorMessage": ...}.
	if e := asLambdaError(body); e != nil {
		return nil, e
	}
	return body, nil
}

func asLambdaError(body []byte) *lambdaError {
	var doc map[string]json.RawMessage
	if json.Unmarshal(body, &doc) != nil {
		return nil
	}
	for k := range doc {
		if k != "errorType" && k != "errorMessage" && k != "stackTrace" {
			return nil
		}
	}
	var e lambdaError
	if json.Unmarshal(body, &e) != nil || (e.Type == "" && e.Message == "") {
		return nil
	}
	if e.Type == "" {
		e.Type = "Lambda.Unknown"
	}
	e.payload = body
	return &e
}

func (h *harness) function(name string) *function {
	return h.functions[functionARN(name)]
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// --- the state machine driver ---

// startDriver renders both definitions, fills in their DefinitionSubstitutions as
// CloudFormation would, and starts driver.mjs with them.
func (h *harness) startDriver(ctx context.Context) error {
	type machineConfig struct {
		ARN            string `json:"arn"`
		DefinitionFile string `json:"definitionFile"`
	}
	config := struct {
		Harness  string                   `json:"harness"`
		Machines map[string]machineConfig `json:"machines"`
	}{Harness: h.sfnURL, Machines: map[string]machineConfig{}}
	for machine, window := range map[string]time.Duration{mainMachine: mainWindow, shortMachine: shortWindow} {
		def, err := asl.Render(asl.Options{ExamWindow: window})
		if err != nil {
			return fmt.Errorf("render the state machine definition for %s: %w", machine, err)
		}
		subst := map[string]string{}
		for placeholder, fn := range stateFunctions {
			if machine == shortMachine && fn == "scheduleexam" {
				fn = "scheduleexam-short"
			}
			subst[placeholder] = functionARN(fn)
		}
		for _, p := range asl.Placeholders() {
			if subst[p] == "" {
				return fmt.Errorf("definition placeholder ${%s} has no function in the harness", p)
			}
			def = strings.ReplaceAll(def, "${"+p+"}", subst[p])
		}
		file := filepath.Join(h.tmp, machine+".asl.json")
		if err := os.WriteFile(file, []byte(def), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		config.Machines[machine] = machineConfig{
			ARN:            machineARN(machine),
			DefinitionFile: file,
		}
	}
	configFile := filepath.Join(h.tmp, "driver.json")
	b, _ := json.Marshal(config)
	if err := os.WriteFile(configFile, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", configFile, err)
	}

	cmd := exec.Command(filepath.Join(h.root, "node_modules", ".bin", "node"), filepath.Join(h.root, "e2e", "driver.mjs"), configFile)
	cmd.Dir = h.root
	cmd.Env = envWith(nil)
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("start the driver: %w", err)
	}
	ready := make(chan struct{})
	var once sync.Once
	stderr := newTail(16 << 10)
	cmd.Stderr = stderr
	cmd.Stdout = &lineWriter{fn: func(line []byte) {
		if h.driverLine(line, stderr) {
			once.Do(func() { close(ready) })
		}
	}}
	p, err := startProc("state machine driver (aws-local-stepfunctions)", cmd)
	if err != nil {
		return err
	}
	p.out = stderr
	h.mu.Lock()
	h.driverIn = in
	h.mu.Unlock()
	h.addProc(p)
	select {
	case <-ready:
		return nil
	case <-p.done:
		return fmt.Errorf("the state machine driver exited at start (%v): the definition may be invalid for aws-local-stepfunctions", p.err)
	case <-time.After(30 * time.Second):
		return errors.New("the state machine driver did not get ready in 30s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// event is one aws-local-stepfunctions execution event.
type event struct {
	Type      string `json:"type"`
	Timestamp int64  `json:"timestamp"` // milliseconds since the epoch
	State     *struct {
		Name   string          `json:"name"`
		Type   string          `json:"type"`
		Input  json.RawMessage `json:"input"`
		Output json.RawMessage `json:"output"`
	} `json:"state"`
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// execution is one state machine execution as the driver reports it.
type execution struct {
	name, machine string
	done          chan struct{}

	trace *executionTrace // nil when the execution is not traced

	// Set by the driver's reports, under harness.mu.
	events              []event
	status, err, cause  string
	output              json.RawMessage
	notifications       []notification
	notificationArrived chan struct{} // closed and replaced on each notification
}

// notification is one successful SendNotification: the token the harness gave the task
// and the incident it was sent with. In AWS the trace-based test reads the same from the
// NotificationData X-Ray subsegment.
type notification struct {
	Token    string
	Incident incident
}

// driverLine handles one line of the driver's stdout; it reports whether it was the
// ready line. Lines it cannot read go to diag, the driver's log.
func (h *harness) driverLine(line []byte, diag io.Writer) bool {
	var msg struct {
		Ready     bool            `json:"ready"`
		Execution string          `json:"execution"`
		Event     *event          `json:"event"`
		Status    string          `json:"status"`
		Output    json.RawMessage `json:"output"`
		Error     string          `json:"error"`
		Cause     string          `json:"cause"`
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		fmt.Fprintf(diag, "harness: unreadable driver line %q: %v\n", line, err)
		return false
	}
	if msg.Ready {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.executions[msg.Execution]
	if e == nil {
		return false
	}
	if msg.Event != nil {
		e.events = append(e.events, *msg.Event)
		e.trace.event(*msg.Event)
		return false
	}
	if msg.Status != "" {
		e.status, e.output, e.err, e.cause = msg.Status, msg.Output, msg.Error, msg.Cause
		e.trace.finish(msg.Status)
		close(e.done)
	}
	return false
}

// executionARN and machineARN are the ARNs Step Functions gives an execution and a machine.
func executionARN(machine, name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", region, accountID, machine, name)
}

func machineARN(machine string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, accountID, machine)
}

// startExecution is StartExecution: it asks the driver to run machine with input. A sampled
// trace header continues into the execution's segment, as Step Functions does with tracing.
func (h *harness) startExecution(machine, name string, input json.RawMessage, trace traceHeader) (*execution, error) {
	e := &execution{name: name, machine: machine, done: make(chan struct{}), notificationArrived: make(chan struct{})}
	e.trace = h.beginExecution(machine, executionARN(machine, name), machineARN(machine), trace)
	h.mu.Lock()
	if h.executions[name] != nil {
		h.mu.Unlock()
		return nil, fmt.Errorf("execution %s already exists", name)
	}
	h.executions[name] = e
	h.mu.Unlock()
	cmd, err := json.Marshal(map[string]any{"machine": machine, "name": name, "input": input})
	if err != nil {
		return nil, fmt.Errorf("start execution %s: %w", name, err)
	}
	h.inMu.Lock()
	defer h.inMu.Unlock()
	if _, err := h.driverIn.Write(append(cmd, '\n')); err != nil {
		return nil, fmt.Errorf("start execution %s: write to the driver: %w", name, err)
	}
	return e, nil
}

func (h *harness) execution(name string) *execution {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.executions[name]
}
