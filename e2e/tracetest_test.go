package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/tests/tracetest"
)

// The Tracetest rig (make tracetest-local): the real Tracetest server and CLI, built from the
// pinned module by make tools, run tests/suite.yaml through scripts/run-tracetest.sh (the
// path a user takes against AWS) against the harness's workflow. The server runs with the
// environment and provisioning of the synthesized task definition and a PostgreSQL of its
// own that accepts only TLS; it reads traces through its X-Ray data store from the X-Ray API
// stand-in, which serves what the functions sent to the X-Ray daemon and what the harness
// records for AWS. See docs/TRACETEST.md.

// tracetestPort is where the server listens: its default, which the task definition maps.
const tracetestPort = 11633

// rig is everything the Tracetest rig starts in addition to the harness: a Tracetest
// server with its database and X-Ray stand-in. Two run side by side on the one harness
// (see rg and rgLate); they share the rig's CA and the HTTPS edge of its AWS endpoints.
type rig struct {
	cfg         *rigConfig
	dir         string
	ca          *localCA
	caFile      string
	xray        *xrayAPI
	router      *xrayRouter // the X-Ray endpoint, shared by the rigs
	edge        *edge       // the AWS endpoints, shared by the rigs
	ownsEdge    bool
	pg          *postgres
	server      *proc
	port        int
	serverURL   string
	outputsFile string
	env         map[string]string // the server's environment from the task definition
	timings     []string
}

// rg is the rig, started by TestMain inside its namespaces; nil otherwise. rgLate is a
// second one for TestTracetestLateDocuments, which changes its server's polling profile and
// what its X-Ray stand-in answers for a minute: on a server of its own it runs alongside
// TestTracetestSuite and TestTracetestCatches, which take turns on rg (rgMu).
var (
	rg, rgLate *rig
	rgMu       sync.Mutex
)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *rig) timed(what string, start time.Time) {
	r.timings = append(r.timings, fmt.Sprintf("%s %.2fs", what, time.Since(start).Seconds()))
}

// startRig starts a rig's endpoints, database and Tracetest server for harness h. The first
// rig (shared nil) starts the CA and the edge of the AWS endpoints and its server listens on
// tracetestPort, as the task definition says; a second one (shared: the first) uses the
// first's CA and edge, and its server listens on the next port, the one setting the task
// definition does not make (TRACETEST_SERVER_HTTPPORT), because both share the namespace.
func startRig(ctx context.Context, h *harness, cfg *rigConfig, shared *rig) (r *rig, err error) {
	r = &rig{cfg: cfg, port: tracetestPort}
	defer func() {
		if err != nil {
			r.stop()
		}
	}()
	if !h.traced {
		return r, fmt.Errorf("the functions run untraced here, so no trace would reach Tracetest: %s", h.untraced)
	}
	if r.dir, err = os.MkdirTemp("", "e2e-tracetest-"); err != nil {
		return r, err
	}
	if err := r.checkToolVersion(h.root); err != nil {
		return r, err
	}
	if shared != nil {
		r.ca, r.router, r.edge, r.port = shared.ca, shared.router, shared.edge, shared.port+1
	} else if r.ca, err = newLocalCA(); err != nil {
		return r, err
	}
	r.caFile = filepath.Join(r.dir, "ca.pem")
	if err := os.WriteFile(r.caFile, r.ca.pem, 0o644); err != nil {
		return r, err
	}

	// The AWS endpoints the server and the CLI reach by name: X-Ray, and the API's stage.
	accessKey, secretKey := "AKIA"+strings.ToUpper(randomHex(8)), randomHex(20)
	r.xray = newXRayAPI(h.traces, accessKey, secretKey)
	if shared == nil {
		r.router = &xrayRouter{}
		r.edge, err = startEdge(r.ca, map[string]http.Handler{
			xrayHost():       r.router,
			apiHost(cfg.api): http.StripPrefix("/"+cfg.api.stage, h.frontDoor(mainMachine)),
		}, h.logf)
		if err != nil {
			return r, err
		}
		r.ownsEdge = true
	}
	r.router.add(accessKey, r.xray)

	// The database, named as the task definition names it.
	start := time.Now()
	dbname, err := cfg.databaseName()
	if err != nil {
		return r, err
	}
	pgDir, err := os.MkdirTemp("", "e2e-postgres-")
	if err != nil {
		return r, err
	}
	certPEM, keyPEM, err := r.ca.issue("127.0.0.1")
	if err != nil {
		return r, err
	}
	// The server builds its connection URL without escaping: keep the password plain.
	r.pg, err = startPostgres(ctx, pgDir, certPEM, keyPEM, "tracetest", randomHex(16), dbname)
	if err != nil {
		os.RemoveAll(pgDir)
		return r, err
	}
	r.timed("start PostgreSQL", start)

	// The server, as the task definition runs it; its credentials stand for the task role's.
	start = time.Now()
	if r.env, err = cfg.serverEnvironment(r.pg); err != nil {
		return r, err
	}
	serverDir := filepath.Join(r.dir, "server")
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return r, err
	}
	env := merge(r.env, map[string]string{
		"PATH":                        os.Getenv("PATH"),
		"HOME":                        serverDir,
		"AWS_ACCESS_KEY_ID":           accessKey,
		"AWS_SECRET_ACCESS_KEY":       secretKey,
		"AWS_CA_BUNDLE":               r.caFile,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	})
	if r.port != tracetestPort {
		env["TRACETEST_SERVER_HTTPPORT"] = fmt.Sprint(r.port)
	}
	cmd := exec.Command(filepath.Join(h.root, ".tools", "bin", "tracetest-server"), "serve")
	cmd.Dir = serverDir
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	sort.Strings(cmd.Env)
	if r.server, err = startProc("tracetest-server", cmd); err != nil {
		return r, err
	}
	r.serverURL = fmt.Sprintf("http://127.0.0.1:%d", r.port)
	if err := r.waitServer(ctx); err != nil {
		return r, err
	}
	r.timed("start Tracetest server", start)

	outputs, skipped, err := cfg.outputs("127.0.0.1")
	if err != nil {
		return r, err
	}
	if len(skipped) > 0 {
		h.logf("rig: outputs left out of the local outputs file: %s", strings.Join(skipped, "; "))
	}
	b, _ := json.MarshalIndent(outputs, "", "  ")
	if r.port != tracetestPort {
		deployed := fmt.Sprintf("127.0.0.1:%d", tracetestPort)
		if !bytes.Contains(b, []byte(deployed)) {
			return r, fmt.Errorf("no output of the stacks names the Tracetest URL (%s):\n%s", deployed, b)
		}
		b = bytes.ReplaceAll(b, []byte(deployed), []byte(fmt.Sprintf("127.0.0.1:%d", r.port)))
	}
	r.outputsFile = filepath.Join(r.dir, "cdk-outputs.json")
	return r, os.WriteFile(r.outputsFile, b, 0o644)
}

// checkToolVersion requires the server image of the task definition to be the version
// make tools built.
func (r *rig) checkToolVersion(root string) error {
	for _, bin := range []string{"tracetest", "tracetest-server"} {
		if _, err := os.Stat(filepath.Join(root, ".tools", "bin", bin)); err != nil {
			return fmt.Errorf(".tools/bin/%s is missing: run make tools", bin)
		}
	}
	stamp, err := os.ReadFile(filepath.Join(root, ".tools", "bin", ".tracetest-version"))
	if err != nil {
		return fmt.Errorf("read .tools/bin/.tracetest-version: run make tools")
	}
	_, image, err := r.cfg.container()
	if err != nil {
		return err
	}
	built := strings.Fields(string(stamp))[0]
	if !strings.HasSuffix(image, ":"+built) {
		return fmt.Errorf("the task definition runs %s but make tools built Tracetest %s: change TRACETEST_VERSION in scripts/install-tools.sh (and tools/tracetest) to the image's version", image, built)
	}
	return nil
}

// waitServer waits for GET /api/version.json, as the task's health check does.
func (r *rig) waitServer(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(r.serverURL + "/api/version.json")
		if err == nil {
			body := readAllClose(resp.Body)
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		if ok, perr := r.server.exited(); ok {
			return fmt.Errorf("the Tracetest server exited at start (%v)\n%s", perr, r.server.report())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the Tracetest server did not answer GET /api/version.json in 60s: %v\n%s", err, r.server.report())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *rig) stop() {
	if r == nil {
		return
	}
	if r.server != nil {
		r.server.stop()
	}
	if r.pg != nil {
		r.pg.stop()
		os.RemoveAll(r.pg.dir)
	}
	if r.edge != nil && r.ownsEdge {
		r.edge.stop()
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// noRig is why a Tracetest test skips outside the rig.
const noRig = "the Tracetest rig runs with make tracetest-local (E2E_TRACETEST=1, as root, after make synth)"

// needRig returns rg, or skips: the rig runs only under make tracetest-local. The test runs
// in parallel with TestTracetestLateDocuments (on rgLate) and has rg to itself until it ends.
func needRig(t *testing.T) *rig {
	t.Helper()
	if rg == nil {
		t.Skip(noRig)
	}
	t.Parallel()
	rgMu.Lock()
	t.Cleanup(rgMu.Unlock)
	return rg
}

// needLateRig returns rgLate, or skips, and runs the test in parallel with those on rg.
func needLateRig(t *testing.T) *rig {
	t.Helper()
	if rgLate == nil {
		t.Skip(noRig)
	}
	t.Parallel()
	return rgLate
}

// runScript runs scripts/run-tracetest.sh against the rig, as make tracetest does against
// AWS, and returns its output.
func (r *rig) runScript(t *testing.T, env map[string]string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(h.root, "scripts", "run-tracetest.sh"))
	cmd.Dir = h.root
	cmd.Env = envWith(merge(map[string]string{
		"CDK_OUTPUTS": r.outputsFile,
		"PREFIX":      r.cfg.prefix,
		"TRACETEST":   filepath.Join(h.root, ".tools", "bin", "tracetest"),
		"SUITE":       "",
		"JUNIT":       "",
	}, env))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// api calls the server's API with a JSON body (nil for none) and decodes the answer into v.
func (r *rig) api(method, path string, body, v any) error {
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		in = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.serverURL+"/api"+path, in)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s /api%s: %s: %s", method, path, resp.Status, b)
	}
	if v != nil {
		return json.Unmarshal(b, v)
	}
	return nil
}

// xrayTraceID is Tracetest's conversion of a run's trace id to X-Ray's form.
func xrayTraceID(hexID string) string {
	if len(hexID) != 32 {
		return ""
	}
	return "1-" + hexID[:8] + "-" + hexID[8:]
}

func TestTracetestSuite(t *testing.T) {
	r := needRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("database accepts TLS only", func(t *testing.T) {
		if out, err := r.pg.psql(ctx, "disable", "select 1"); err == nil || !strings.Contains(out, "no encryption") {
			t.Errorf("a connection without TLS got %q (%v), want pg_hba.conf's rejection", out, err)
		}
		if out, err := r.pg.psql(ctx, "require", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"); err != nil || out != "t" {
			t.Errorf("a TLS connection got %q (%v), want ssl = t", out, err)
		}
		if got := r.env["TRACETEST_POSTGRES_PARAMS"]; !strings.Contains(got, "sslmode=require") && !strings.Contains(got, "sslmode=verify") {
			t.Errorf("the task definition's TRACETEST_POSTGRES_PARAMS is %q: the server would connect without TLS", got)
		}
	})

	client := &tracetest.Client{BaseURL: r.serverURL}
	defs, err := tracetest.Load(filepath.Join(h.root, "tests", "suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := client.LatestSuiteRun(defs.Suite.Spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(r.dir, "junit.xml")
	start := time.Now()
	out, err := r.runScript(t, map[string]string{"JUNIT": junit})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("scripts/run-tracetest.sh against the local workflow failed (%v) after %.1fs:\n%s\n%s", err, elapsed.Seconds(), out, h.logs())
	}
	t.Logf("scripts/run-tracetest.sh passed in %.1fs:\n%s", elapsed.Seconds(), out)
	fmt.Fprintf(os.Stderr, "e2e: local Tracetest run (scripts/run-tracetest.sh, tests/suite.yaml): %.1fs\n", elapsed.Seconds())

	if b, err := os.ReadFile(junit); err != nil || !bytes.Contains(b, []byte("<testcase")) {
		t.Errorf("JUNIT=%s: no JUnit report with test cases (%v): %.300s", junit, err, b)
	}

	// The traces the runs judged were the ones the trigger started: each run's trace id is
	// one the X-Ray stand-in was asked for and holds segments the functions sent.
	runID, err := client.LatestSuiteRun(defs.Suite.Spec.ID)
	if err != nil || runID <= before {
		t.Fatalf("no new suite run (latest #%d, before #%d): %v", runID, before, err)
	}
	run, err := client.SuiteRun(defs.Suite.Spec.ID, runID)
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range run.Steps {
		id := xrayTraceID(step.TraceID)
		if r.xray.timesQueried(id) == 0 {
			t.Errorf("step %d: the server never asked X-Ray for its trace %s", i+1, id)
		}
		if n := h.traces.fromDaemon(id); n == 0 {
			t.Errorf("step %d: no segment document from the functions reached the daemon under trace %s", i+1, id)
		}
		// The specs were judged on X-Ray's full trace, inferred segments included, so
		// no selector counted an AWS call twice.
		if reads := r.xray.readsOf(id); len(reads) == 0 || reads[len(reads)-1].inferred == 0 {
			t.Errorf("step %d: the last read of trace %s had no inferred segments (%s)", i+1, id, r.traceTimeline(id))
		}
	}
}

// traceTimeline describes when the trace's documents arrived and what each BatchGetTraces
// read of it returned, in seconds after its first document arrived.
func (r *rig) traceTimeline(traceID string) string {
	first, daemon := h.traces.arrivals(traceID)
	since := func(t time.Time) float64 { return t.Sub(first).Seconds() }
	var b strings.Builder
	if len(daemon) > 0 {
		fmt.Fprintf(&b, "the functions' %d documents arrived at +%.1fs to +%.1fs; ", len(daemon), since(daemon[0]), since(daemon[len(daemon)-1]))
	}
	b.WriteString("reads:")
	for _, rd := range r.xray.readsOf(traceID) {
		fmt.Fprintf(&b, " +%.1fs %d spans (%d inferred, %d held back);", since(rd.at), rd.spans, rd.inferred, rd.heldBack)
	}
	return b.String()
}

// latestRun returns the server's newest run of the suite in suiteFile, with the suite's
// definitions, and requires it to be newer than run before.
func (r *rig) latestRun(t *testing.T, suiteFile string, before int) (tracetest.Definitions, tracetest.SuiteRun) {
	t.Helper()
	defs, err := tracetest.Load(suiteFile)
	if err != nil {
		t.Fatal(err)
	}
	client := &tracetest.Client{BaseURL: r.serverURL}
	id, err := client.LatestSuiteRun(defs.Suite.Spec.ID)
	if err != nil || id <= before {
		t.Fatalf("no new run of suite %s (latest #%d, before #%d): %v", defs.Suite.Spec.ID, id, before, err)
	}
	run, err := client.SuiteRun(defs.Suite.Spec.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return defs, run
}

// latestRunID returns the id of the server's newest run of tests/suite.yaml's suite.
func (r *rig) latestRunID(t *testing.T) int {
	t.Helper()
	defs, err := tracetest.Load(filepath.Join(h.root, "tests", "suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := (&tracetest.Client{BaseURL: r.serverURL}).LatestSuiteRun(defs.Suite.Spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// specOutcome is how the server judged one spec of a test run.
type specOutcome struct {
	spanIDs []string // the spans its selector matched
	passed  bool     // every assertion passed
}

// outcomes reads each spec's outcome from a test run's result, by spec name; a spec the
// server did not evaluate has none.
func outcomes(specs []tracetest.Spec, res tracetest.RunResult) map[string]specOutcome {
	out := map[string]specOutcome{}
	for i, spec := range specs {
		if i >= len(res.Results) || res.Results[i].Selector.Query != spec.Selector {
			continue
		}
		o := specOutcome{passed: len(res.Results[i].Results) > 0}
		for j, a := range res.Results[i].Results {
			for _, sr := range a.SpanResults {
				if j == 0 && sr.SpanID != "" {
					o.spanIDs = append(o.spanIDs, sr.SpanID)
				}
				o.passed = o.passed && sr.Passed
			}
			o.passed = o.passed && a.AllPassed
		}
		out[spec.Name] = o
	}
	return out
}

// periodicPolling is the part of a polling profile that decides when a test is judged
// (docs/TRACETEST.md, "Time").
type periodicPolling struct {
	RetryDelay           string `json:"retryDelay"`
	Timeout              string `json:"timeout"`
	SelectorMatchRetries int    `json:"selectorMatchRetries"`
}

// polling returns the server's current polling profile.
func (r *rig) polling(t *testing.T) periodicPolling {
	t.Helper()
	var current struct {
		Spec struct {
			Strategy string          `json:"strategy"`
			Periodic periodicPolling `json:"periodic"`
		} `json:"spec"`
	}
	if err := r.api(http.MethodGet, "/pollingprofiles/current", nil, &current); err != nil {
		t.Fatal(err)
	}
	if current.Spec.Strategy != "periodic" {
		t.Fatalf("the server's polling profile has strategy %q, want periodic", current.Spec.Strategy)
	}
	return current.Spec.Periodic
}

// setPolling makes p the server's polling profile; the previous one is restored when t
// ends.
func (r *rig) setPolling(t *testing.T, p periodicPolling) {
	t.Helper()
	var saved map[string]any
	if err := r.api(http.MethodGet, "/pollingprofiles/current", nil, &saved); err != nil {
		t.Fatal(err)
	}
	profile := map[string]any{"type": "PollingProfile", "spec": map[string]any{
		"id": "current", "name": "rig", "default": true, "strategy": "periodic", "periodic": p,
	}}
	if err := r.api(http.MethodPut, "/pollingprofiles/current", profile, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.api(http.MethodPut, "/pollingprofiles/current", saved, nil); err != nil {
			t.Errorf("restore the polling profile: %v", err)
		}
	})
}

// fastPolling makes the server poll X-Ray every second, give up after timeout and not wait
// for selectors that match nothing; the previous profile is restored when t ends. The
// negative cases use it to fail in seconds; the suite itself runs with the provisioned one.
func (r *rig) fastPolling(t *testing.T, timeout time.Duration) {
	t.Helper()
	r.setPolling(t, periodicPolling{RetryDelay: "1s", Timeout: timeout.String(), SelectorMatchRetries: 0})
}

// editedSuite copies tests/ to a temporary directory, applies edit to the named file and
// returns the copy's suite file.
func editedSuite(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"suite.yaml", "incident.yaml", "exam.yaml"} {
		b, err := os.ReadFile(filepath.Join(h.root, "tests", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		if name == file {
			edited := edit(s)
			if edited == s {
				t.Fatalf("the edit of %s changed nothing: update the test to the current file", file)
			}
			s = edited
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "suite.yaml")
}

func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q is not in the file: update the test to the current file", old)
	}
	return strings.Replace(s, old, new, 1)
}

// TestTracetestCatches breaks one thing at a time and requires the run to fail, saying why:
// the rig and the checks after the CLI cannot pass vacuously.
func TestTracetestCatches(t *testing.T) {
	r := needRig(t)

	t.Run("a broken selector and a broken assertion fail the run", func(t *testing.T) {
		r.fastPolling(t, 20*time.Second)
		suite := editedSuite(t, "incident.yaml", func(s string) string {
			s = mustReplace(t, s, `name="RegisterIncident"]`, `name="RegisterIncidents"]`)
			return mustReplace(t, s, "name=\"Invocation\"]\n      assertions:\n        - attr:tracetest.selected_spans.count = 3",
				"name=\"Invocation\"]\n      assertions:\n        - attr:tracetest.selected_spans.count = 4")
		})
		out, err := r.runScript(t, map[string]string{"SUITE": suite})
		if err == nil {
			t.Fatalf("the run passed with a broken selector and a broken assertion:\n%s", out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		for _, want := range []string{`spec "RegisterIncident ran once"`, `spec "Three Lambda invocations, so no Task was retried after an error"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the report does not name %s:\n%s", want, out)
			}
		}
		// Only the two broken specs fail: every other spec of the step still passes.
		failed := regexp.MustCompile(`spec "([^"]+)"`).FindAllStringSubmatch(out, -1)
		for _, f := range failed {
			if f[1] != "RegisterIncident ran once" && f[1] != "Three Lambda invocations, so no Task was retried after an error" {
				t.Errorf("spec %q failed too:\n%s", f[1], out)
			}
		}
	})

	t.Run("a selector without aws.service counts X-Ray's inferred segment too", func(t *testing.T) {
		r.fastPolling(t, 20*time.Second)
		const spec = "SubmitExam resumed the execution once with SendTaskSuccess"
		suite := editedSuite(t, "exam.yaml", func(s string) string {
			return mustReplace(t, s, `name="SFN" aws.service="SFN" aws.operation="SendTaskSuccess"]`, `name="SFN" aws.operation="SendTaskSuccess"]`)
		})
		before := r.latestRunID(t)
		out, err := r.runScript(t, map[string]string{"SUITE": suite})
		if err == nil {
			t.Fatalf("the run passed although the SFN selector without aws.service also selects the inferred segment:\n%s", out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		defs, run := r.latestRun(t, suite, before)
		if len(run.Steps) != 2 {
			t.Fatalf("the suite run has %d steps, want 2:\n%s", len(run.Steps), out)
		}
		// Only that spec fails, and on exactly two spans: the SendTaskSuccess call and the
		// segment X-Ray inferred for it.
		got := outcomes(defs.Steps[1].Test.Spec.Specs, run.Steps[1].Result)
		for name, o := range got {
			if name != spec && !o.passed {
				t.Errorf("spec %q failed too:\n%s", name, out)
			}
		}
		o := got[spec]
		trace, _ := h.traces.compiled(xrayTraceID(run.Steps[1].TraceID), 0)
		inferred := map[string]string{} // inferred segment id -> the call's id
		for _, d := range trace.docs {
			var n node
			if json.Unmarshal(d, &n) == nil && n.Inferred {
				inferred[n.ID] = n.ParentID
			}
		}
		if o.passed || len(o.spanIDs) != 2 || !(inferred[o.spanIDs[0]] == o.spanIDs[1] || inferred[o.spanIDs[1]] == o.spanIDs[0]) {
			t.Errorf("spec %q selected spans %v (passed %v), want a failure on a call and the segment X-Ray inferred for it (inferred -> call: %v)",
				spec, o.spanIDs, o.passed, inferred)
		}
		if !strings.Contains(out, `"attr:tracetest.selected_spans.count = 1" failed (observed "2"`) {
			t.Errorf("the report does not say the count was 2:\n%s", out)
		}
	})

	t.Run("a spec dropped on the way to the server fails the read-back", func(t *testing.T) {
		r.fastPolling(t, 20*time.Second)
		// The exam body as it was: the CLI's re-encoding makes the server drop the specs.
		suite := editedSuite(t, "exam.yaml", func(s string) string {
			return mustReplace(t, s, `"TaskToken": "${var:TASK_TOKEN}", "Score": "80"}`, `"Score": "80", "TaskToken": "${var:TASK_TOKEN}"}`)
		})
		out, err := r.runScript(t, map[string]string{"SUITE": suite})
		if err == nil {
			t.Fatalf("the run passed although the server stored the exam test without its specs:\n%s", out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		if !strings.Contains(out, "stored with 0 specs, the file has") {
			t.Errorf("the report does not say the specs were dropped:\n%s", out)
		}
	})

	t.Run("X-Ray access denied fails the run at once and says so", func(t *testing.T) {
		r.fastPolling(t, 60*time.Second)
		r.xray.setDenied(true)
		defer r.xray.setDenied(false)
		// A user's own CLI configuration, which the script must neither read nor overwrite.
		home := t.TempDir()
		userConfig := filepath.Join(home, ".tracetest", "config.yml")
		const sentinel = "scheme: https\nendpoint: tracetest.example.com\n"
		if err := os.MkdirAll(filepath.Dir(userConfig), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(userConfig, []byte(sentinel), 0o600); err != nil {
			t.Fatal(err)
		}
		// The run fails within a second; the limit covers the v1.7.1 race in which the
		// suite run is never marked failed and the CLI waits for ever.
		env := map[string]string{"HOME": home, "RUN_TIMEOUT": "20"}
		for _, name := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
			v, err := exec.Command("go", "env", name).Output()
			if err != nil {
				t.Fatal(err)
			}
			env[name] = strings.TrimSpace(string(v))
		}
		start := time.Now()
		out, err := r.runScript(t, env)
		if b, _ := os.ReadFile(userConfig); string(b) != sentinel {
			t.Errorf("the script changed ~/.tracetest/config.yml to %q", b)
		}
		if _, statErr := os.Stat(filepath.Join(h.root, "config.yml")); statErr == nil {
			t.Errorf("the script left a config.yml in the repository")
		}
		if err == nil {
			t.Fatalf("the run passed although X-Ray denied every read:\n%s", out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		if time.Since(start) > 45*time.Second {
			t.Errorf("the denied run took %s: it should fail at once, not wait for the polling timeout", time.Since(start))
		}
		for _, want := range []string{"AccessDeniedException", "xray:BatchGetTraces"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report does not mention %s:\n%s", want, out)
			}
		}
	})

	t.Run("a trace never found prints the run's events", func(t *testing.T) {
		r.fastPolling(t, 8*time.Second)
		r.xray.setHidden(true)
		defer r.xray.setHidden(false)
		out, err := r.runScript(t, nil)
		if err == nil {
			t.Fatalf("the run passed although X-Ray had no trace:\n%s", out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		for _, want := range []string{"verify: events of sfn-incident", "Timed out without finding trace", "Transaction Search"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report does not mention %q:\n%s", want, out)
			}
		}
	})

	t.Run("a run that outlasts RUN_TIMEOUT is stopped and read back", func(t *testing.T) {
		r.fastPolling(t, 20*time.Second)
		out, err := r.runScript(t, map[string]string{"RUN_TIMEOUT": "1"})
		if err == nil {
			t.Fatalf("the run passed although the CLI was stopped after 1 s:\n%s", out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		for _, want := range []string{"did not see the suite finish in 1s", "is in state EXECUTING"} {
			if !strings.Contains(out, want) {
				t.Errorf("the report does not say %q:\n%s", want, out)
			}
		}
		// The server goes on with the run: let it end before the next case.
		client := &tracetest.Client{BaseURL: r.serverURL}
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
			id, err := client.LatestSuiteRun("sfn-plagiarism")
			if err != nil {
				t.Fatal(err)
			}
			if run, err := client.SuiteRun("sfn-plagiarism", id); err == nil && run.State != "EXECUTING" {
				return
			}
		}
		t.Error("the stopped suite run did not end on the server within 60 s")
	})

	t.Run("no deployment, no CLI, no server", func(t *testing.T) {
		unreachable := filepath.Join(t.TempDir(), "outputs.json")
		b, _ := os.ReadFile(r.outputsFile)
		b = bytes.ReplaceAll(b, []byte(fmt.Sprintf("127.0.0.1:%d", tracetestPort)), []byte("127.0.0.1:9"))
		if err := os.WriteFile(unreachable, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			env  map[string]string
			want string
		}{
			{"no outputs file", map[string]string{"CDK_OUTPUTS": filepath.Join(t.TempDir(), "cdk-outputs.json")}, "run make deploy first"},
			{"no CLI", map[string]string{"TRACETEST": filepath.Join(t.TempDir(), "tracetest")}, "Run make tools"},
			{"server unreachable", map[string]string{"CDK_OUTPUTS": unreachable}, "does not answer GET /api/version.json"},
		} {
			out, err := r.runScript(t, c.env)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(out, c.want) {
				t.Errorf("%s: exit %v, output:\n%s\nwant a failure saying %q", c.name, err, out, c.want)
			}
		}
	})
}

// TestTracetestLateDocuments runs the suite with the provisioned polling profile while the
// X-Ray stand-in holds back every document the functions sent, as if X-Ray ingested them
// late, so that each trace looks complete (unchanged for one retryDelay) before any span
// of the functions' code is in it: the suite must pass, because the profile's selector
// retries wait for the spans the specs select; without them (selectorMatchRetries 0) the
// same run must fail, judged before the spans arrived (docs/TRACETEST.md, "Time").
func TestTracetestLateDocuments(t *testing.T) {
	r := needLateRig(t)
	profile := r.polling(t)
	retryDelay, err := time.ParseDuration(profile.RetryDelay)
	if err != nil {
		t.Fatalf("the polling profile's retryDelay %q: %v", profile.RetryDelay, err)
	}
	// Tracetest reads a trace when the trigger's answer is in and every retryDelay after,
	// and takes it as complete when two reads in a row find the same spans. The segments
	// the harness records for AWS are all in about a second after the trigger, so the
	// trace stops changing by the third read, 2 x retryDelay after the first. A lag of one
	// retryDelay more (and a second) keeps the functions' documents out of it until after
	// that read, even when the functions take a whole retryDelay longer than usual.
	lag := 3*retryDelay + time.Second
	if wait := time.Duration(profile.SelectorMatchRetries) * retryDelay; wait < lag {
		t.Fatalf("the provisioned profile (%+v) waits %s for selectors that match nothing: documents %s late would be missed", profile, wait, lag)
	}
	r.xray.setLag(lag)
	defer r.xray.setLag(0)
	t.Logf("polling profile %+v; the functions' documents held back %s", profile, lag)

	// lateReads checks that the server read each step's trace twice with the same spans
	// while the functions' documents were held back: the trace looked complete before
	// they arrived, so only the selector retries can have waited for them.
	lateReads := func(t *testing.T, run tracetest.SuiteRun, steps int) [][]traceRead {
		t.Helper()
		if len(run.Steps) < steps {
			t.Fatalf("the suite run has %d steps, want at least %d", len(run.Steps), steps)
		}
		var all [][]traceRead
		for i, step := range run.Steps[:steps] {
			id := xrayTraceID(step.TraceID)
			reads := r.xray.readsOf(id)
			t.Logf("step %d, trace %s: %s", i+1, id, r.traceTimeline(id))
			looked := false
			for j := 1; j < len(reads); j++ {
				looked = looked || (reads[j].heldBack > 0 && reads[j].spans > 0 && reads[j].spans == reads[j-1].spans)
			}
			if !looked {
				t.Errorf("step %d: the trace never looked complete while the functions' documents were held back, so this run does not show what it is for; raise the lag (%s)", i+1, lag)
			}
			all = append(all, reads)
		}
		return all
	}

	t.Run("the provisioned profile waits for them", func(t *testing.T) {
		before := r.latestRunID(t)
		start := time.Now()
		out, err := r.runScript(t, nil)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("with the functions' documents %s late the suite failed (%v) after %.1fs:\n%s\n%s", lag, err, elapsed.Seconds(), out, h.logs())
		}
		fmt.Fprintf(os.Stderr, "e2e: local Tracetest run with the functions' documents %s late: %.1fs\n", lag, elapsed.Seconds())
		_, run := r.latestRun(t, filepath.Join(h.root, "tests", "suite.yaml"), before)
		for i, reads := range lateReads(t, run, 2) {
			if last := reads[len(reads)-1]; last.heldBack > 0 {
				t.Errorf("step %d passed although its last read still lacked %d of the functions' documents", i+1, last.heldBack)
			}
		}
	})

	t.Run("without selector retries the specs are judged before the spans arrive", func(t *testing.T) {
		p := profile
		p.SelectorMatchRetries = 0
		r.setPolling(t, p)
		// The incident test alone: the exam test would only fail on its empty variables.
		suite := editedSuite(t, "suite.yaml", func(s string) string { return mustReplace(t, s, "    - ./exam.yaml\n", "") })
		before := r.latestRunID(t)
		out, err := r.runScript(t, map[string]string{"SUITE": suite})
		if err == nil {
			t.Fatalf("the incident test passed with selectorMatchRetries 0 although the functions' documents came %s late:\n%s", lag, out)
		}
		t.Logf("scripts/run-tracetest.sh failed as it should (%v):\n%s", err, out)
		defs, run := r.latestRun(t, suite, before)
		reads := lateReads(t, run, 1)[0]
		if last := reads[len(reads)-1]; last.heldBack == 0 {
			t.Errorf("the incident test was judged on a read that had every document: %s", r.traceTimeline(xrayTraceID(run.Steps[0].TraceID)))
		}
		// Exactly the specs on spans of the functions' code failed, each because its
		// selector matched nothing; the specs on the segments AWS records passed.
		emitted := emittedSpanNames(t)
		failedFunctionSpec := false
		specs := defs.Steps[0].Test.Spec.Specs
		judged := outcomes(specs, run.Steps[0].Result)
		for _, spec := range specs {
			got, ok := judged[spec.Name]
			m := selectorName.FindStringSubmatch(spec.Selector)
			switch {
			case !ok:
				t.Errorf("spec %q was not evaluated", spec.Name)
			case m != nil && emitted[m[1]]:
				failedFunctionSpec = true
				if len(got.spanIDs) != 0 || got.passed {
					t.Errorf("spec %q on the functions' span %s selected spans %v (passed %v), want none", spec.Name, m[1], got.spanIDs, got.passed)
				}
			case !got.passed:
				t.Errorf("spec %q failed too, though AWS's segments were in:\n%s", spec.Name, out)
			}
		}
		if !failedFunctionSpec {
			t.Errorf("no spec of the incident test selects a span of the functions' code (tests/spans/emitted.json)")
		}
	})
}

// selectorName finds the span name a selector asks for.
var selectorName = regexp.MustCompile(`\bname="([^"]+)"`)

// emittedSpanNames returns the names of the spans the functions' code emits.
func emittedSpanNames(t *testing.T) map[string]bool {
	t.Helper()
	var catalog struct {
		Spans []struct {
			Name string `json:"name"`
		} `json:"spans"`
	}
	b, err := os.ReadFile(filepath.Join(h.root, "tests", "spans", "emitted.json"))
	if err == nil {
		err = json.Unmarshal(b, &catalog)
	}
	if err != nil {
		t.Fatalf("tests/spans/emitted.json: %v", err)
	}
	names := map[string]bool{}
	for _, s := range catalog.Spans {
		names[s.Name] = true
	}
	return names
}
