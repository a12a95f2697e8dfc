package main

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

// stateMachineDefinition returns the definition of the workflow's state machine, parsed,
// and its substitutions.
func stateMachineDefinition(t *testing.T) (map[string]any, map[string]any) {
	t.Helper()
	machines := synthed.resources(t, "Workflow", "AWS::StepFunctions::StateMachine")
	if len(machines) != 1 {
		t.Fatalf("state machines = %d, want 1", len(machines))
	}
	for _, m := range machines {
		p := m["Properties"].(map[string]any)
		s, ok := p["DefinitionString"].(string)
		if !ok {
			t.Fatalf("DefinitionString is not a plain string (substitutions must carry the tokens): %s", mustJSON(p["DefinitionString"]))
		}
		var def map[string]any
		if err := json.Unmarshal([]byte(s), &def); err != nil {
			t.Fatalf("definition: %v", err)
		}
		return def, p["DefinitionSubstitutions"].(map[string]any)
	}
	return nil, nil
}

func TestStateMachineIsTracedLoggedStandard(t *testing.T) {
	check(t, "state machine", func() {
		synthed.template(t, "Workflow").HasResourceProperties(jsii.String("AWS::StepFunctions::StateMachine"), props(map[string]any{
			"StateMachineType":     "STANDARD",
			"TracingConfiguration": map[string]any{"Enabled": true},
			"LoggingConfiguration": assertions.Match_ObjectLike(&map[string]any{"Level": "ALL", "IncludeExecutionData": false}),
		}))
	})
}

func TestStateMachineSubstitutesEveryFunction(t *testing.T) {
	def, subs := stateMachineDefinition(t)
	var names []string
	for name, v := range subs {
		names = append(names, name)
		fn := strings.TrimSuffix(name, "FunctionArn")
		if got := mustJSON(v); !containsAll(got, "Fn::GetAtt", "Plagiarism"+fn, "Arn") {
			t.Errorf("%s = %s, want the Arn of function %s", name, got, fn)
		}
	}
	sort.Strings(names)
	if want := asl.Placeholders(); strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("substitutions %v, placeholders in asl/ %v", names, want)
	}
	states := def["States"].(map[string]any)
	for _, name := range []string{"RegisterIncident", "ScheduleExam", "SendNotification", "HasStudentPassedExam", "ResolveIncident", "TakeAdministrativeAction"} {
		if _, ok := states[name]; !ok {
			t.Errorf("state %s missing", name)
		}
	}
}

func TestStateMachineRetriesCatchesAndTimesOut(t *testing.T) {
	def, _ := stateMachineDefinition(t)
	states := def["States"].(map[string]any)
	for name, s := range states {
		s := s.(map[string]any)
		if s["Type"] != "Task" {
			continue
		}
		retry := mustJSON(s["Retry"])
		if !containsAll(retry, "Lambda.ServiceException", "BackoffRate", "MaxAttempts") {
			t.Errorf("task %s has no backoff retry on transient Lambda errors: %s", name, retry)
		}
	}
	notify := states["SendNotification"].(map[string]any)
	if notify["TimeoutSeconds"] != float64(7*24*3600) {
		t.Errorf("SendNotification TimeoutSeconds = %v, want the 7-day exam window", notify["TimeoutSeconds"])
	}
	if !containsAll(mustJSON(notify["Catch"]), "States.Timeout", "TakeAdministrativeAction") {
		t.Errorf("SendNotification does not catch its timeout: %s", mustJSON(notify["Catch"]))
	}
	if !containsAll(mustJSON(states["ScheduleExam"].(map[string]any)["Catch"]), "StudentExceededAllowableExamRetries", "TakeAdministrativeAction") {
		t.Error("ScheduleExam does not catch StudentExceededAllowableExamRetries")
	}
	if states["HasStudentPassedExam"].(map[string]any)["Default"] != "TakeAdministrativeAction" {
		t.Error("the Choice has no Default")
	}
	// The exam window reaches the function that sets deadlines, in the same units.
	check(t, "exam window env", func() {
		synthed.template(t, "Workflow").HasResourceProperties(jsii.String("AWS::Lambda::Function"), props(map[string]any{
			"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{"EXAM_WINDOW": "604800s"})},
		}))
	})
}

func TestFunctionsAreTracedGoOnGraviton(t *testing.T) {
	fns := synthed.resources(t, "Workflow", "AWS::Lambda::Function")
	if len(fns) != 6 {
		t.Fatalf("functions = %d, want 6", len(fns))
	}
	for id, fn := range fns {
		p := fn["Properties"].(map[string]any)
		if p["Runtime"] != "provided.al2023" || mustJSON(p["Architectures"]) != `[
  "arm64"
]` || p["Handler"] != "bootstrap" {
			t.Errorf("%s: runtime %v, architectures %v, handler %v", id, p["Runtime"], p["Architectures"], p["Handler"])
		}
		if mustJSON(p["TracingConfig"]) != `{
  "Mode": "Active"
}` {
			t.Errorf("%s: tracing %v", id, p["TracingConfig"])
		}
	}
}

// TestFunctionPermissionsAreLeastPrivilege lists, per function role, every action it is
// allowed: a new permission must be added here on purpose.
func TestFunctionPermissionsAreLeastPrivilege(t *testing.T) {
	xray := []string{"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTelemetryRecords", "xray:PutTraceSegments"}
	table := []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}
	want := map[string][]string{
		"RegisterIncident":         xray,
		"ScheduleExam":             append(append([]string{}, xray...), table...),
		"SendNotification":         append(append([]string{}, xray...), table...),
		"SubmitExam":               append(append(append([]string{}, xray...), table...), "states:SendTaskHeartbeat", "states:SendTaskSuccess"),
		"ResolveIncident":          append(append([]string{}, xray...), table...),
		"TakeAdministrativeAction": append(append([]string{}, xray...), table...),
		"ApiStartExecution":        {"states:StartExecution"},
	}
	got := map[string][]string{}
	for id, pol := range synthed.resources(t, "Workflow", "AWS::IAM::Policy") {
		for name := range want {
			if !strings.HasPrefix(id, "Plagiarism"+name) {
				continue
			}
			for _, st := range pol["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
				st := st.(map[string]any)
				actions, ok := st["Action"].([]any)
				if !ok {
					actions = []any{st["Action"]}
				}
				for _, a := range actions {
					got[name] = append(got[name], a.(string))
				}
				res, first := mustJSON(st["Resource"]), actions[0].(string)
				switch {
				case strings.HasPrefix(first, "dynamodb:") && !strings.Contains(res, "PlagiarismTable"):
					t.Errorf("%s: DynamoDB actions on %s, want only the incidents table", name, res)
				case strings.HasPrefix(first, "logs:") && !strings.Contains(res, "Plagiarism"+name+"Logs"):
					t.Errorf("%s: log actions on %s, want only its own log group", name, res)
				case strings.HasPrefix(first, "states:") && !strings.Contains(res, "PlagiarismStateMachine"):
					t.Errorf("%s: Step Functions actions on %s, want only the workflow's state machine", name, res)
				}
			}
		}
	}
	for name, actions := range want {
		sort.Strings(got[name])
		sort.Strings(actions)
		if strings.Join(got[name], " ") != strings.Join(actions, " ") {
			t.Errorf("%s may do %v, want exactly %v", name, got[name], actions)
		}
	}
	// Upstream attached AWSXrayWriteOnlyAccess; no role here uses a managed policy.
	for id, role := range synthed.resources(t, "Workflow", "AWS::IAM::Role") {
		if m, ok := role["Properties"].(map[string]any)["ManagedPolicyArns"]; ok {
			t.Errorf("role %s uses managed policies %s", id, mustJSON(m))
		}
	}
}

func TestTableIsOnDemandWithPointInTimeRecovery(t *testing.T) {
	check(t, "table", func() {
		synthed.template(t, "Workflow").HasResource(jsii.String("AWS::DynamoDB::GlobalTable"), props(map[string]any{
			"DeletionPolicy": "Retain",
			"Properties": assertions.Match_ObjectLike(&map[string]any{
				"BillingMode": "PAY_PER_REQUEST",
				"KeySchema":   []any{map[string]any{"AttributeName": workflow.IncidentKey, "KeyType": "HASH"}},
				"Replicas": []any{assertions.Match_ObjectLike(&map[string]any{
					"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
				})},
			}),
		}))
	})
}

func TestApiStartsExecutionsAndValidatesBodies(t *testing.T) {
	tpl := synthed.template(t, "Workflow")
	check(t, "api name", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::RestApi"), props(map[string]any{"Name": workflow.DefaultApiName}))
	})
	check(t, "stage", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), props(map[string]any{
			"StageName":        workflow.DefaultStageName,
			"TracingEnabled":   true,
			"AccessLogSetting": assertions.Match_ObjectLike(&map[string]any{}),
			"MethodSettings": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"HttpMethod": "*", "ThrottlingRateLimit": 10, "ThrottlingBurstLimit": 20}),
				assertions.Match_ObjectLike(&map[string]any{"HttpMethod": "POST", "ResourcePath": "/~1incident", "ThrottlingRateLimit": 1, "ThrottlingBurstLimit": 5}),
			}),
		}))
	})
	check(t, "incident model", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Model"), props(map[string]any{
			"Name":   "Incident",
			"Schema": assertions.Match_ObjectLike(&map[string]any{"required": []any{"StudentId"}}),
		}))
	})
	check(t, "POST /incident -> StartExecution, validated", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Method"), props(map[string]any{
			"HttpMethod":         "POST",
			"RequestValidatorId": assertions.Match_AnyValue(),
			"RequestModels":      map[string]any{"application/json": assertions.Match_AnyValue()},
			"Integration":        assertions.Match_ObjectLike(&map[string]any{"Type": "AWS", "PassthroughBehavior": "NEVER"}),
		}))
	})
	methods := synthed.resources(t, "Workflow", "AWS::ApiGateway::Method")
	var incident, exam string
	for _, m := range methods {
		p := m["Properties"].(map[string]any)
		if p["HttpMethod"] != "POST" {
			continue
		}
		s := mustJSON(p["Integration"])
		switch {
		case strings.Contains(s, "states:action/StartExecution"):
			incident = s
		case strings.Contains(s, "AWS_PROXY"):
			exam = s
		}
	}
	if !containsAll(incident, `#set($name = $context.requestId)`, `\"name\": \"$name\"`, "Idempotency-Key", "stateMachineArn", "Credentials", "Access-Control-Allow-Origin") {
		t.Errorf("POST /incident integration: %s", incident)
	}
	if !containsAll(exam, "PlagiarismSubmitExam") {
		t.Errorf("POST /exam integration: %s", exam)
	}
	responses := synthed.resources(t, "Workflow", "AWS::ApiGateway::GatewayResponse")
	for _, typ := range []string{"BAD_REQUEST_BODY", "DEFAULT_4XX", "DEFAULT_5XX"} {
		found := false
		for _, r := range responses {
			p := r["Properties"].(map[string]any)
			if p["ResponseType"] == typ && strings.Contains(mustJSON(p["ResponseParameters"]), "Access-Control-Allow-Origin") {
				found = true
			}
		}
		if !found {
			t.Errorf("no gateway response %s with CORS headers", typ)
		}
	}
	out := synthed.templates[synthed.stacks.Config.StackName("Workflow")]["Outputs"].(map[string]any)
	if u := mustJSON(out[stacks.APIURLOutput]); !strings.Contains(u, `"/v2"`) {
		t.Errorf("%s does not end in /v2: %s", stacks.APIURLOutput, u)
	}
	if _, ok := out[stacks.StateMachineArnOutput]; !ok {
		t.Errorf("no %s output", stacks.StateMachineArnOutput)
	}
}
