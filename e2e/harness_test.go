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

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
)

const (
	region    = "us-east-1"
	accountID = "000000000000"
	tableName = "e2e-incidents"

	// mainMachine runs the synthesized definition as it is (its 7-day exam window no
	// scenario meets); shortMachine the same with a window the timeout scenario waits out.
	mainMachine  = "PlagiarismStateMachine"
	shortMachine = "PlagiarismStateMachineShortWindow"
	shortWindow  = 2 * time.Second

	// examOrigin is the CORS_ALLOW_ORIGIN SubmitExam runs with here. The app deploys "*";
	// the harness gives one origin instead, so that the path a real deployment with an exam
	// page takes is the one tested.
	examOrigin = "https://exams.e2e.example"

	// retryInterval replaces every Retry interval of the definition (Step Functions waits
	// 1 to 60 s, with jitter): the fault scenarios retry quickly. asl/asl_test.go checks
	// the intervals themselves.
	retryInterval = 20 * time.Millisecond
)

// instances is how many execution environments each function has: Lambda runs concurrent
// requests in separate ones, and the emulator serves one invoke at a time. Two let two
// submissions race, and keep a scenario whose invocation waits out the SDK's backoff from
// holding up the others. Each environment runs one invocation at a time, which is what
// attributes a DynamoDB request to its invocation (faults_test.go).
const instances = 2

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

	app      *appConfig
	dep      *deployment              // the synthesized Workflow stack, resolved locally
	restAPIs map[string]*restAPI      // by state machine: its front door's API
	windows  map[string]time.Duration // by state machine: the exam window
	vtl      *vtl                     // the mapping template renderer
	faults   *faults

	ddbServer   *ddblocal.Server
	ddbEndpoint string
	ddb         *dynamodb.Client

	functions map[string]*function // by function ARN

	sfnURL string // the harness's own endpoint: Step Functions API and the driver's /task

	apis map[string]string // machine name -> base URL of its REST API front door
	api  apiNames          // the REST API's name and stage (the template's) and local id

	// traced is true when the functions run in the emulator mode that passes the trace
	// header on to the runtime (see startFunction); traces and daemon hold what they send.
	traced   bool
	untraced string // why not, when not traced
	traces   *traceStore
	daemon   *xrayDaemon

	driverIn io.WriteCloser
	inMu     sync.Mutex

	log *tail // the harness's own notes, shown with the process logs

	mu          sync.Mutex
	executions  map[string]*execution // by execution ARN
	tokens      map[string]*taskToken
	sfnCalls    []sfnCall
	requests    map[string]bool // front-door request id -> the integration was called
	invocations map[string]int  // "<execution name>/<state>" -> invocations so far
	// rolesByKey: the integrations signing with an access key, whose role policies the
	// Step Functions endpoint evaluates (iam_test.go).
	rolesByKey map[string][]*apiIntegration
	messages   []examMessage // what SendNotification's log sender wrote
}

func (h *harness) timed(what string, start time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.timings = append(h.timings, fmt.Sprintf("%s %.2fs", what, time.Since(start).Seconds()))
}

// startHarness starts every process and server for the synthesized app. On error it stops
// what it started.
func startHarness(ctx context.Context, app *appConfig) (h *harness, err error) {
	h = &harness{
		app:         app,
		api:         app.api,
		functions:   map[string]*function{},
		apis:        map[string]string{},
		restAPIs:    map[string]*restAPI{},
		executions:  map[string]*execution{},
		tokens:      map[string]*taskToken{},
		requests:    map[string]bool{},
		invocations: map[string]int{},
		rolesByKey:  map[string][]*apiIntegration{},
		faults:      newFaults(),
		log:         newTail(8 << 10),
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
		filepath.Join(h.root, "node_modules/velocityjs/package.json"),
		filepath.Join(ddbDir, "DynamoDBLocal.jar"),
	} {
		if _, err := os.Stat(tool); err != nil {
			return h, fmt.Errorf("%s is missing: run `bash scripts/install-tools.sh` from the repository root first", tool)
		}
	}

	// The harness endpoint, the X-Ray daemon and the front doors' addresses first: the
	// functions' environment names them.
	if h.sfnURL, err = h.serve(http.HandlerFunc(h.serveSFN)); err != nil {
		return h, err
	}
	if h.daemon, err = startXRayDaemon(h.traces); err != nil {
		return h, err
	}
	doors := map[string]net.Listener{}
	for _, m := range []string{mainMachine, shortMachine} {
		if doors[m], err = listenLocal(); err != nil {
			return h, err
		}
		h.apis[m] = "http://" + doors[m].Addr().String()
	}
	defer func() {
		if err != nil { // else the servers own them
			for _, l := range doors {
				l.Close()
			}
		}
	}()
	if h.dep, err = loadDeployment(app.workflow, app.api, h.apis[mainMachine]); err != nil {
		return h, err
	}
	h.windows = map[string]time.Duration{mainMachine: h.dep.window, shortMachine: shortWindow}
	for _, m := range []string{mainMachine, shortMachine} {
		if h.restAPIs[m], err = loadRestAPI(app.workflow, app.api, h.dep.resolverFor(machineARN(m))); err != nil {
			return h, err
		}
		for _, method := range h.restAPIs[m].methods {
			if in := method.integration; in.typ == "AWS" {
				h.rolesByKey[accessKeyOf(in.role)] = append(h.rolesByKey[accessKeyOf(in.role)], in)
			}
		}
	}

	// DynamoDB Local's JVM start and the Lambda build are the slow parts: overlap them,
	// and the two Node processes.
	type built struct {
		dirs lambdabuild.Result
		err  error
	}
	buildDone := make(chan built, 1)
	go func() {
		start := time.Now()
		err := h.dep.findBinaries(h.root)
		h.timed("find the deployed binaries", start)
		var dirs lambdabuild.Result
		if err == nil {
			start = time.Now()
			dirs, err = lambdabuild.Build(lambdabuild.Options{Arch: runtime.GOARCH, ModuleDir: h.root, OutDir: filepath.Join(h.tmp, "lambda")})
			h.timed("build Lambda binaries", start)
		}
		buildDone <- built{dirs, err}
	}()
	driverDone := make(chan error, 1)
	go func() {
		start := time.Now()
		err := h.startDriver(ctx)
		h.timed("start state machine driver", start)
		driverDone <- err
	}()
	vtlDone := make(chan error, 1)
	go func() {
		start := time.Now()
		v, err := startVTL(ctx, h.root, h.addProc)
		h.vtl = v
		h.timed("start mapping template renderer", start)
		vtlDone <- err
	}()
	start := time.Now()
	ddbErr := h.startDynamoDB(ctx)
	h.timed("start DynamoDB Local + create table", start)
	b := <-buildDone
	if err := errors.Join(ddbErr, <-driverDone, <-vtlDone); err != nil {
		return h, err
	}
	if b.err != nil {
		return h, fmt.Errorf("build the Lambda binaries: %w", b.err)
	}

	start = time.Now()
	if err := h.startFunctions(b.dirs); err != nil {
		return h, err
	}
	h.timed(fmt.Sprintf("start RIE x%d", h.instanceCount()), start)

	for m, l := range doors {
		h.serveOn(l, h.frontDoor(m))
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
	l, err := listenLocal()
	if err != nil {
		return "", err
	}
	h.serveOn(l, handler)
	return "http://" + l.Addr().String(), nil
}

// serveOn serves handler on l until stop; instances start their proxies concurrently.
func (h *harness) serveOn(l net.Listener, handler http.Handler) {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	h.mu.Lock()
	h.servers = append(h.servers, srv)
	h.mu.Unlock()
	go srv.Serve(l)
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

// function is one Lambda function: one or more execution environments, each an emulator.
type function struct {
	name, arn string
	spec      *functionSpec
	instances []*instance
	idle      chan *instance
}

// instance is one execution environment: a Runtime Interface Emulator with the function,
// and the DynamoDB endpoint it was given (a fault-injecting proxy of the harness).
type instance struct {
	f              *function
	url            string
	proc           *proc
	started, ready time.Time // the emulator's start and the runtime's first answer: its cold start
	invoked        bool      // a later invoke is warm; only the holder of the instance reads it

	mu  sync.Mutex
	tag invocationTag // the invocation running now
}

// invocationTag names an invocation from a state: the execution's name, the state, and
// the how-manieth invocation from that state in the execution it is (1-based). The
// zero value is an invocation from the API.
type invocationTag struct {
	execution, state string
	n                int
}

func (t invocationTag) String() string {
	if t.execution == "" {
		return "API"
	}
	return fmt.Sprintf("%s/%s#%d", t.execution, t.state, t.n)
}

func (i *instance) current() invocationTag {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.tag
}

// acquire takes an idle execution environment of f, waiting as Lambda queues a request
// when none is free.
func (f *function) acquire(ctx context.Context, tag invocationTag) (*instance, error) {
	select {
	case i := <-f.idle:
		i.mu.Lock()
		i.tag = tag
		i.mu.Unlock()
		return i, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: %w", f.name, ctx.Err())
	}
}

func (f *function) release(i *instance) {
	i.mu.Lock()
	i.tag = invocationTag{}
	i.mu.Unlock()
	f.idle <- i
}

func functionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, accountID, name)
}

func (h *harness) instanceCount() int {
	n := 0
	for _, f := range h.functions {
		n += len(f.instances)
	}
	return n
}

// startFunctions starts the emulators of every function of the template, plus a second
// ScheduleExam for the short-window state machine: in AWS one construct prop sets both the
// callback timeout and ScheduleExam's EXAM_WINDOW, so each machine gets a ScheduleExam with
// its own window.
func (h *harness) startFunctions(dirs lambdabuild.Result) error {
	type spec struct {
		name string
		fs   *functionSpec
	}
	var specs []spec
	for _, dir := range sortedKeys(h.dep.functions) {
		if binary := h.dep.functions[dir].binary; dirs[binary] == "" {
			return fmt.Errorf("lambdabuild built no %s (built: %v): is lambda-src/cmd/%s missing?", binary, sortedKeys(dirs), binary)
		}
		specs = append(specs, spec{dir, h.dep.functions[dir]})
	}
	short := *h.dep.functions["scheduleexam"]
	short.env = merge(short.env, map[string]string{"EXAM_WINDOW": shortWindow.String()})
	specs = append(specs, spec{"scheduleexam-short", &short})

	type started struct {
		i   *instance
		err error
	}
	var results []chan started
	for _, s := range specs {
		f := &function{name: s.name, arn: functionARN(s.name), spec: s.fs}
		n := instances
		f.idle = make(chan *instance, n)
		h.functions[f.arn] = f
		for range n {
			ch := make(chan started, 1)
			results = append(results, ch)
			go func() {
				i, err := h.startInstance(f, dirs[s.fs.binary])
				ch <- started{i, err}
			}()
		}
	}
	var all []error
	for _, ch := range results {
		r := <-ch
		if r.err != nil {
			all = append(all, r.err)
			continue
		}
		r.i.f.instances = append(r.i.f.instances, r.i)
		r.i.f.idle <- r.i
	}
	return errors.Join(all...)
}

func (h *harness) startInstance(f *function, dir string) (*instance, error) {
	// The emulator cannot report a port it picked, so the harness picks free ones; another
	// program may take one first, hence the retries.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var i *instance
		if i, err = h.tryStartInstance(f, dir); err == nil {
			return i, nil
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

// environment is what the function's runtime gets: the template's environment (resolved,
// endpoints replaced), what Lambda sets, and the harness's endpoints. ddbEndpoint is the
// instance's DynamoDB proxy.
func (h *harness) environment(f *function, ddbEndpoint string) map[string]string {
	// What Lambda sets with active tracing: the daemon's address, and what to do when a call
	// has no trace (the default emulator mode passes none).
	_, daemonPort, _ := net.SplitHostPort(h.daemon.addr())
	contextMissing := "IGNORE_ERROR"
	if h.traced {
		contextMissing = "LOG_ERROR"
	}
	env := merge(f.spec.env, map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":        f.name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     fmt.Sprint(f.spec.timeout),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": fmt.Sprint(f.spec.memory),
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_ACCESS_KEY_ID":               "e2e",
		"AWS_SECRET_ACCESS_KEY":           "e2e",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_CONFIG_FILE":                 os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":     os.DevNull,
		"AWS_ENDPOINT_URL_DYNAMODB":       ddbEndpoint,
		"AWS_ENDPOINT_URL_SFN":            h.sfnURL,
		"AWS_XRAY_DAEMON_ADDRESS":         h.daemon.addr(),
		"_AWS_XRAY_DAEMON_ADDRESS":        "127.0.0.1",
		"_AWS_XRAY_DAEMON_PORT":           daemonPort,
		"AWS_XRAY_CONTEXT_MISSING":        contextMissing,
	})
	if f.name == examFunction {
		env["CORS_ALLOW_ORIGIN"] = examOrigin
	}
	return env
}

func (h *harness) tryStartInstance(f *function, dir string) (*instance, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	rieAddr, apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	i := &instance{f: f, url: "http://" + rieAddr + "/2015-03-31/functions/function/invocations"}
	proxy, err := h.serve(h.dynamoDBProxy(i))
	if err != nil {
		return nil, err
	}
	rie := filepath.Join(h.root, ".tools", "bin", "aws-lambda-rie")
	args := []string{"--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr}
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
	cmd.Env = envWith(merge(h.environment(f, proxy), extra))
	// The function's log lines go to the process's tail; the exam instructions the log
	// sender writes are recorded too, as what the student would receive.
	out := newTail(16 << 10)
	cmd.Stdout = &lineWriter{copy: out, fn: h.functionLogLine}
	cmd.Stderr = out
	i.started = time.Now()
	p, err := startProc("lambda "+f.name, cmd)
	if err != nil {
		return nil, err
	}
	p.out = out
	h.addProc(p)
	if err := waitTCP(p, rieAddr, 10*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	// A program of another test binary may have taken the port between freePorts and the
	// emulator's bind: then the emulator exits at once ("address already in use") and what
	// answered waitTCP is that program, not the function. startInstance retries.
	time.Sleep(50 * time.Millisecond)
	if exited, perr := p.exited(); exited {
		p.stop()
		return nil, fmt.Errorf("%s exited after starting (%v): another program holds %s", p.name, perr, rieAddr)
	}
	i.proc, i.ready = p, time.Now()
	return i, nil
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

// invoke calls the function in this environment synchronously (RequestResponse) and
// returns its result. A *lambdaError means the function failed; any other error means the
// invoke did. A non-empty trace is the X-Amzn-Trace-Id the function's runtime receives.
// The caller holds the instance (function.acquire).
func (i *instance) invoke(ctx context.Context, payload []byte, trace string) ([]byte, error) {
	f := i.f
	var body []byte
	for wait := time.Millisecond; ; wait *= 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.url, bytes.NewReader(payload))
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

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// --- the state machine driver ---

// startDriver writes both definitions (the synthesized one, and the same with the short
// window) and starts driver.mjs with them.
func (h *harness) startDriver(ctx context.Context) error {
	type machineConfig struct {
		ARN            string `json:"arn"`
		DefinitionFile string `json:"definitionFile"`
	}
	config := struct {
		Harness         string                   `json:"harness"`
		RetryIntervalMs int64                    `json:"retryIntervalMs"`
		Machines        map[string]machineConfig `json:"machines"`
	}{Harness: h.sfnURL, RetryIntervalMs: retryInterval.Milliseconds(), Machines: map[string]machineConfig{}}
	short, err := h.dep.withWindow(shortWindow, functionARN("scheduleexam-short"))
	if err != nil {
		return fmt.Errorf("the short-window state machine: %w", err)
	}
	for machine, def := range map[string]string{mainMachine: h.dep.definition, shortMachine: short} {
		file := filepath.Join(h.tmp, machine+".asl.json")
		if err := os.WriteFile(file, []byte(def), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", file, err)
		}
		config.Machines[machine] = machineConfig{ARN: machineARN(machine), DefinitionFile: file}
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
	Retry *struct {
		Retrier struct {
			ErrorEquals []string `json:"ErrorEquals"`
		} `json:"retrier"`
		Attempt int `json:"attempt"`
	} `json:"retry"`
}

// execution is one state machine execution as the driver reports it.
type execution struct {
	name, machine, arn string
	input              string // as StartExecution got it
	startDate          time.Time
	done               chan struct{}

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

// startExecution is StartExecution of a Standard state machine: it asks the driver to run
// machine with input under name, or, when an execution of that name runs with the same
// input, returns it (Step Functions' idempotency); the same name with another input, or of
// a closed execution, is ExecutionAlreadyExists. A sampled trace header continues into the
// execution's segment, as Step Functions does with tracing.
func (h *harness) startExecution(machine, name, input string, trace traceHeader) (*execution, *sfnError) {
	arn := executionARN(machine, name)
	h.mu.Lock()
	if e := h.executions[arn]; e != nil {
		running := e.status == ""
		h.mu.Unlock()
		if running && e.input == input {
			return e, nil
		}
		return nil, &sfnError{http.StatusBadRequest, "ExecutionAlreadyExists", "Execution Already Exists: '" + arn + "'"}
	}
	e := &execution{name: name, machine: machine, arn: arn, input: input, startDate: time.Now(), done: make(chan struct{}), notificationArrived: make(chan struct{})}
	e.trace = h.beginExecution(machine, arn, machineARN(machine), trace)
	h.executions[arn] = e
	h.mu.Unlock()
	cmd, err := json.Marshal(map[string]any{"machine": machine, "name": name, "input": json.RawMessage(input)})
	if err == nil {
		h.inMu.Lock()
		_, err = h.driverIn.Write(append(cmd, '\n'))
		h.inMu.Unlock()
	}
	if err != nil {
		return nil, &sfnError{http.StatusInternalServerError, "InternalFailure", fmt.Sprintf("start execution %s: write to the driver: %v", name, err)}
	}
	return e, nil
}

// execution returns the execution named name, of either machine.
func (h *harness) execution(name string) *execution {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []string{mainMachine, shortMachine} {
		if e := h.executions[executionARN(m, name)]; e != nil {
			return e
		}
	}
	return nil
}
