package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

// What the harness runs of the synthesized Workflow stack besides its REST API
// (restapi_test.go): each function's environment, timeout and memory size, the state
// machine's definition with its DefinitionSubstitutions, and the statuses the
// failed-executions alarm counts. Only what has no local meaning is replaced: the table's
// name, the function ARNs, and the API's stage URL (an endpoint), which becomes the front
// door's. What is tested is what is deployed.

// functionSpec is one function of the template, as the harness runs it.
type functionSpec struct {
	logicalID string
	dir       string            // its name in the harness: the state's function (stateFunctions)
	env       map[string]string // the template's Environment, resolved locally
	timeout   int               // seconds
	memory    int               // MB
	// asset is the deployed bootstrap in cdk.out and arch its GOARCH (the template's
	// Architectures); binary is the directory under lambda-src/cmd whose build for arch
	// is that asset, byte for byte (findBinaries): the harness runs its build for this
	// machine.
	asset, arch, binary string
}

// deployment is the synthesized Workflow stack, resolved for the harness.
type deployment struct {
	functions map[string]*functionSpec // by directory
	// definition is the state machine's DefinitionString with the local function ARNs.
	definition string
	// window is the callback state's TimeoutSeconds: the exam window.
	window time.Duration
	// alarmStatuses are the execution statuses whose metrics the failed-executions alarm
	// adds up.
	alarmStatuses []string
	// base resolves the template's references locally; machineID is the state machine's
	// logical id, which each front door resolves to its own machine.
	base      resolver
	machineID string
}

// examFunction is the directory of the function behind POST /exam, the template's one
// Lambda proxy integration (docs/WORKFLOW.md).
const examFunction = "submitexam"

// loadDeployment resolves the template for the harness: api names the REST API locally and
// frontDoor is the base URL that stands for its stage URL.
func loadDeployment(t *cfnTemplate, api apiNames, frontDoor string) (*deployment, error) {
	d := &deployment{functions: map[string]*functionSpec{}}
	// TableV2 synthesizes a GlobalTable; Table a Table.
	tables := append(t.ofType("AWS::DynamoDB::Table"), t.ofType("AWS::DynamoDB::GlobalTable")...)
	if len(tables) != 1 {
		return nil, fmt.Errorf("%s: want exactly one DynamoDB table, found %v", t.path, tables)
	}
	tableID := tables[0]
	machineID, machine, err := t.only("AWS::StepFunctions::StateMachine")
	if err != nil {
		return nil, err
	}
	restAPIID, _, err := t.only("AWS::ApiGateway::RestApi")
	if err != nil {
		return nil, err
	}
	stageID, _, err := t.only("AWS::ApiGateway::Stage")
	if err != nil {
		return nil, err
	}

	// Which function is which: the definition's substitutions name five, the /exam
	// integration the sixth.
	subst, _ := machine["DefinitionSubstitutions"].(map[string]any)
	for placeholder, v := range subst {
		dir, ok := stateFunctions[placeholder]
		if !ok {
			return nil, fmt.Errorf("%s: DefinitionSubstitutions has %s, which the harness does not know (stateFunctions)", t.path, placeholder)
		}
		id := getAttID(v, "Arn")
		if id == "" {
			return nil, fmt.Errorf("%s: DefinitionSubstitutions.%s is not a function's Fn::GetAtt Arn", t.path, placeholder)
		}
		d.functions[dir] = &functionSpec{logicalID: id, dir: dir}
	}
	var proxied []string
	for _, id := range t.ofType("AWS::ApiGateway::Method") {
		integration, _ := t.Resources[id].Properties["Integration"].(map[string]any)
		if integration["Type"] == "AWS_PROXY" {
			walk(integration["Uri"], func(v any) {
				if fn := getAttID(v, "Arn"); fn != "" {
					proxied = append(proxied, fn)
				}
			})
		}
	}
	if len(proxied) != 1 {
		return nil, fmt.Errorf("%s: want one Lambda proxy integration (POST /exam), found functions %v", t.path, proxied)
	}
	d.functions[examFunction] = &functionSpec{logicalID: proxied[0], dir: examFunction}

	byID := map[string]*functionSpec{}
	getAtts := map[string]string{}
	for dir, f := range d.functions {
		if t.Resources[f.logicalID].Type != "AWS::Lambda::Function" {
			return nil, fmt.Errorf("%s: %s (%s) is not an AWS::Lambda::Function", t.path, f.logicalID, dir)
		}
		byID[f.logicalID] = f
		getAtts[f.logicalID+".Arn"] = functionARN(dir)
	}
	for _, id := range t.ofType("AWS::Lambda::Function") {
		if byID[id] == nil {
			return nil, fmt.Errorf("%s: function %s is neither in the state machine nor behind POST /exam: the harness would not run it", t.path, id)
		}
	}

	refs := pseudoParameters()
	refs[tableID] = tableName
	refs[restAPIID] = api.id
	refs[stageID] = api.stage
	res := resolver{refs: refs, getAtts: getAtts}
	d.base, d.machineID = res, machineID
	stageURL := fmt.Sprintf("https://%s.execute-api.%s.amazonaws.com/%s", api.id, region, api.stage)
	for _, f := range d.functions {
		props := t.Resources[f.logicalID].Properties
		f.timeout, f.memory = intProp(props, "Timeout", 3), intProp(props, "MemorySize", 128)
		asset, _ := t.Resources[f.logicalID].Metadata["aws:asset:path"].(string)
		if asset == "" {
			return nil, fmt.Errorf("%s: function %s has no aws:asset:path metadata: the harness finds which binary is deployed from it", t.path, f.logicalID)
		}
		f.asset = filepath.Join(filepath.Dir(t.path), asset, "bootstrap")
		f.arch = "x86_64"
		if archs, _ := props["Architectures"].([]any); len(archs) == 1 {
			f.arch, _ = archs[0].(string)
		}
		if f.arch = map[string]string{"arm64": "arm64", "x86_64": "amd64"}[f.arch]; f.arch == "" {
			return nil, fmt.Errorf("%s: function %s's Architectures %v: want [arm64] or [x86_64]", t.path, f.logicalID, props["Architectures"])
		}
		f.env = map[string]string{}
		env, _ := props["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		for name, v := range vars {
			value, err := res.resolve(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %s's environment variable %s: %w (tell the harness what it is locally)", t.path, f.dir, name, err)
			}
			f.env[name] = strings.ReplaceAll(value, stageURL, frontDoor)
		}
	}

	// The definition, with its substitutions filled in as CloudFormation does.
	def, ok := machine["DefinitionString"].(string)
	if !ok {
		return nil, fmt.Errorf("%s: the state machine's DefinitionString is not a literal string", t.path)
	}
	for placeholder, v := range subst {
		arn, err := res.resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s: DefinitionSubstitutions.%s: %w", t.path, placeholder, err)
		}
		def = strings.ReplaceAll(def, "${"+placeholder+"}", arn)
	}
	if left := regexp.MustCompile(`\$\{[A-Za-z0-9_]+\}`).FindAllString(def, -1); len(left) > 0 {
		return nil, fmt.Errorf("%s: the definition has placeholders without a substitution: %v", t.path, left)
	}
	d.definition = def
	seconds, err := asl.CallbackTimeout([]byte(def))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	d.window = time.Duration(seconds) * time.Second

	if d.alarmStatuses, err = alarmStatuses(t, machineID); err != nil {
		return nil, err
	}
	return d, nil
}

// findBinaries sets each function's binary: the directory under lambda-src/cmd whose
// build for the function's architecture (lambdabuild, the synth's own cache) is the
// template's asset byte for byte. So the harness runs what is deployed, SendNotification's
// per-mode binary included, and a cdk.out older than the functions' source is an error.
func (d *deployment) findBinaries(root string) error {
	builds := map[string]lambdabuild.Result{}
	for _, f := range d.functions {
		deployed, err := os.ReadFile(f.asset)
		if err != nil {
			return fmt.Errorf("%s's deployed code: %w (run make synth)", f.dir, err)
		}
		if builds[f.arch] == nil {
			if builds[f.arch], err = lambdabuild.Build(lambdabuild.Options{Arch: f.arch, ModuleDir: root}); err != nil {
				return err
			}
		}
		for _, name := range sortedKeys(builds[f.arch]) {
			built, err := os.ReadFile(filepath.Join(builds[f.arch][name], "bootstrap"))
			if err != nil {
				return err
			}
			if bytes.Equal(built, deployed) {
				f.binary = name
				break
			}
		}
		if f.binary == "" {
			return fmt.Errorf("%s's deployed code %s is no build of lambda-src/cmd/* from this checkout: cdk.out is older than the functions' source (run make synth)", f.dir, f.asset)
		}
	}
	return nil
}

// resolverFor resolves the template for the front door of the machine with ARN machineARN.
func (d *deployment) resolverFor(machineARN string) resolver {
	refs := map[string]string{d.machineID: machineARN}
	for k, v := range d.base.refs {
		refs[k] = v
	}
	return resolver{refs: refs, getAtts: d.base.getAtts}
}

// withWindow returns the definition with the callback state's timeout set to window and
// ScheduleExam's function replaced by scheduleExamARN: the short-window machine, for which
// one construct prop would set both.
func (d *deployment) withWindow(window time.Duration, scheduleExamARN string) (string, error) {
	var def map[string]any
	if err := json.Unmarshal([]byte(d.definition), &def); err != nil {
		return "", err
	}
	states, _ := def["States"].(map[string]any)
	callback, _ := states[asl.CallbackState].(map[string]any)
	if callback == nil {
		return "", fmt.Errorf("the definition has no %s state", asl.CallbackState)
	}
	callback["TimeoutSeconds"] = int64(window / time.Second)
	b, err := json.Marshal(def)
	if err != nil {
		return "", err
	}
	long := strconv.Quote(functionARN(stateFunctions["ScheduleExamFunctionArn"]))
	if !strings.Contains(string(b), long) {
		return "", fmt.Errorf("the definition never invokes %s", long)
	}
	return strings.ReplaceAll(string(b), long, strconv.Quote(scheduleExamARN)), nil
}

// alarmStatuses reads the alarm on the state machine's execution metrics and returns the
// execution statuses those metrics count.
func alarmStatuses(t *cfnTemplate, machineID string) ([]string, error) {
	status := map[string]string{"ExecutionsFailed": "FAILED", "ExecutionsTimedOut": "TIMED_OUT", "ExecutionsAborted": "ABORTED"}
	var out []string
	for _, id := range t.ofType("AWS::CloudWatch::Alarm") {
		metrics, _ := t.Resources[id].Properties["Metrics"].([]any)
		for _, m := range metrics {
			stat, _ := m.(map[string]any)["MetricStat"].(map[string]any)
			metric, _ := stat["Metric"].(map[string]any)
			if metric["Namespace"] != "AWS/States" {
				continue
			}
			onMachine := false
			dims, _ := metric["Dimensions"].([]any)
			for _, dim := range dims {
				dm, _ := dim.(map[string]any)
				ref, _ := dm["Value"].(map[string]any)
				onMachine = onMachine || (dm["Name"] == "StateMachineArn" && ref["Ref"] == machineID)
			}
			name, _ := metric["MetricName"].(string)
			if onMachine && status[name] != "" {
				out = append(out, status[name])
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no alarm on the state machine's ExecutionsFailed/TimedOut/Aborted metrics", t.path)
	}
	sort.Strings(out)
	return out, nil
}

// getAttID returns the logical id of {"Fn::GetAtt": [id, attribute]}, or "".
func getAttID(v any, attribute string) string {
	m, _ := v.(map[string]any)
	a, _ := m["Fn::GetAtt"].([]any)
	if len(a) == 2 && a[1] == attribute {
		id, _ := a[0].(string)
		return id
	}
	return ""
}

// walk calls fn on v and on every value nested in it.
func walk(v any, fn func(any)) {
	fn(v)
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			walk(e, fn)
		}
	case []any:
		for _, e := range x {
			walk(e, fn)
		}
	}
}

func intProp(props map[string]any, name string, def int) int {
	if f, ok := props[name].(float64); ok {
		return int(f)
	}
	return def
}
