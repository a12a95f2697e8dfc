package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The app is synthesized once, with cdk.json's context, and every test reads the same
// templates. jsii is not goroutine-safe: no t.Parallel() in this package.
var synthed *synthResult

type synthResult struct {
	stacks    *appStacks
	dir       string
	templates map[string]map[string]any // stack name -> template as JSON
}

func TestMain(m *testing.M) {
	flag.Parse()
	// The jsii runtime reads the environment when the CDK packages initialize, before
	// TestMain: what it should see is set here and the binary re-executed.
	env := map[string]string{}
	// The project's Node 22 for jsii when the test runs outside make.
	if os.Getenv("JSII_NODE") == "" {
		if node, err := filepath.Abs("node_modules/.bin/node"); err == nil {
			if _, err := os.Stat(node); err == nil {
				env["JSII_NODE"] = node
			}
		}
	}
	// The fast set (-short, `make test`) leaves the built-in CloudFormation validation,
	// half of every synth, to `make synth` and to the full set (`make test-all`, CI),
	// which validates the app's templates and every variant's.
	if _, ok := os.LookupEnv("CDK_VALIDATION"); !ok && testing.Short() {
		env["CDK_VALIDATION"] = "false"
	}
	// Where the CDK CLI asks the app for its performance report (cdk.out/
	// performance-counters.json); TestSlowSynthWritesNoTimings checks nothing is written.
	if _, ok := os.LookupEnv(perfCountersEnv); !ok {
		if dir, err := os.MkdirTemp("", "cdk-perf-"); err == nil {
			env[perfCountersEnv] = filepath.Join(dir, "performance-counters.json")
		}
	}
	if len(env) > 0 {
		for k, v := range env {
			os.Setenv(k, v)
		}
		if exe, err := os.Executable(); err == nil {
			_ = syscall.Exec(exe, os.Args, os.Environ())
		}
	}
	code := func() int {
		defer jsii.Close()
		dir, err := os.MkdirTemp("", "cdk-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if f := os.Getenv(perfCountersEnv); strings.HasPrefix(filepath.Base(filepath.Dir(f)), "cdk-perf-") {
			defer os.RemoveAll(filepath.Dir(f))
		}
		r, err := synth(dir, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "synth with cdk.json context:", err)
			return 1
		}
		synthed = r
		return m.Run()
	}()
	os.Exit(code)
}

// perfCountersEnv is the variable through which the CDK CLI asks aws-cdk-lib's App for a
// performance report (cx-api's PERF_COUNTERS_FILE_ENV).
const perfCountersEnv = "CDK_PERF_COUNTERS_FILE"

// A synth slower than the report's threshold (10 s per stack; a cold Go build cache makes
// one) must not write timings into the assembly, which has to be byte-identical whatever
// the synth took. The threshold is set to 0 here, so every synth is slow enough.
func TestSlowSynthWritesNoTimings(t *testing.T) {
	file := os.Getenv(perfCountersEnv)
	if file == "" {
		t.Fatalf("%s is not set: TestMain sets it", perfCountersEnv)
	}
	os.Remove(file)
	props := appProps(map[string]any{"@aws-cdk/core.slowSynthThreshold": 0})
	props.Outdir = jsii.String(t.TempDir())
	app := awscdk.NewApp(props)
	awscdk.NewCfnWaitConditionHandle(awscdk.NewStack(app, jsii.String("Slow"), nil), jsii.String("H"), nil)
	app.Synth(nil)
	if b, err := os.ReadFile(file); err == nil {
		t.Errorf("the app wrote a performance report to %s (PerformanceReporting must stay off):\n%.300s", file, b)
	}
}

// cdkJSONContext returns the "context" object of cdk.json, which `cdk synth` passes to the app.
func cdkJSONContext() (map[string]any, error) {
	b, err := os.ReadFile("cdk.json")
	if err != nil {
		return nil, err
	}
	var f struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("cdk.json: %w", err)
	}
	return f.Context, nil
}

// synth builds the app with cdk.json's context plus overrides into outdir.
func synth(outdir string, overrides map[string]any) (*synthResult, error) {
	ctx, err := cdkJSONContext()
	if err != nil {
		return nil, err
	}
	for k, v := range overrides {
		ctx[k] = v
	}
	props := appProps(ctx)
	props.Outdir = jsii.String(outdir)
	app := awscdk.NewApp(props)
	s, err := newApp(app)
	if err != nil {
		return nil, err
	}
	asm := app.Synth(nil)
	r := &synthResult{stacks: s, dir: *asm.Directory(), templates: map[string]map[string]any{}}
	for _, st := range *asm.Stacks() {
		b, err := os.ReadFile(filepath.Join(r.dir, *st.TemplateFile()))
		if err != nil {
			return nil, err
		}
		var tpl map[string]any
		if err := json.Unmarshal(b, &tpl); err != nil {
			return nil, err
		}
		r.templates[*st.StackName()] = tpl
	}
	return r, nil
}

// synthWith synthesizes a separate app with context overrides, failing the test on error.
func synthWith(t *testing.T, overrides map[string]any) *synthResult {
	t.Helper()
	r, err := synth(t.TempDir(), overrides)
	if err != nil {
		t.Fatalf("synth with %v: %v", overrides, err)
	}
	return r
}

func (r *synthResult) template(t *testing.T, part string) assertions.Template {
	t.Helper()
	name := r.stacks.Config.StackName(part)
	tpl, ok := r.templates[name]
	if !ok {
		t.Fatalf("no stack %s in the assembly", name)
	}
	return assertions.Template_FromJSON(&tpl, nil)
}

// resources returns the resources of type typ in a stack's template, by logical ID.
func (r *synthResult) resources(t *testing.T, part, typ string) map[string]map[string]any {
	t.Helper()
	tpl := r.templates[r.stacks.Config.StackName(part)]
	out := map[string]map[string]any{}
	res, _ := tpl["Resources"].(map[string]any)
	for id, v := range res {
		m := v.(map[string]any)
		if m["Type"] == typ {
			out[id] = m
		}
	}
	return out
}

// check runs a CDK assertion; a failed match panics inside jsii and would abort the whole
// test binary, so it is turned into a test failure here.
func check(t *testing.T, what string, assertion func()) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Errorf("%s: %v", what, p)
		}
	}()
	assertion()
}

func props(p map[string]any) *map[string]any { return &p }

// mustJSON re-encodes v for error messages.
func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
