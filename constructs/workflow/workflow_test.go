package workflow_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

// prebuilt is a directory of stand-in bootstraps: these tests are about the construct,
// not the functions, and need no build.
func prebuilt(t *testing.T) *workflow.PlagiarismCode {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"registerincident", "scheduleexam", "sendnotification", "submitexam", "resolveincident", "takeadministrativeaction"} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name, "bootstrap"), []byte(name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return workflow.CodeFromDirectory(dir)
}

func newStack() (awscdk.App, awscdk.Stack) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"aws:cdk:disable-stack-trace": true, "aws:cdk:enable-path-metadata": true,
	}})
	return app, awscdk.NewStack(app, jsii.String("Workflow"), nil)
}

func template(t *testing.T, stack awscdk.Stack) map[string]any {
	t.Helper()
	b, _ := json.Marshal(assertions.Template_FromStack(stack, nil).ToJSON())
	var tpl map[string]any
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// policyOf returns the policy documents attached to the role whose logical ID starts with
// prefix.
func policyOf(tpl map[string]any, prefix string) string {
	var docs []string
	for id, p := range resources(tpl, "AWS::IAM::Policy") {
		if strings.HasPrefix(id, prefix) {
			docs = append(docs, js(p["Properties"].(map[string]any)["PolicyDocument"]))
		}
	}
	return strings.Join(docs, "\n")
}

// nagErrors applies AwsSolutions to the whole app, as an importing team does.
func nagErrors(app awscdk.App, stack awscdk.Stack) []string {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	var out []string
	for _, e := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))) {
		out = append(out, fmt.Sprintf("%s: %v", *e.Id, e.Entry.Data))
	}
	return out
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Errorf("panic = %v, want a message containing %q", r, want)
		}
	}()
	f()
}

// TestEncryptedTableGrantsTheKey: with a customer managed key, every function that
// stores incidents may use the key for DynamoDB, with no wildcard action.
func TestEncryptedTableGrantsTheKey(t *testing.T) {
	_, stack := newStack()
	key := awskms.NewKey(stack, jsii.String("Key"), nil)
	table := awsdynamodb.NewTable(stack, jsii.String("Incidents"), &awsdynamodb.TableProps{
		PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String(workflow.IncidentKey), Type: awsdynamodb.AttributeType_STRING},
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: key,
	})
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{Table: table, Code: prebuilt(t)})
	tpl := template(t, stack)
	for _, fn := range []string{"ScheduleExam", "SendNotification", "SubmitExam", "ResolveIncident", "TakeAdministrativeAction"} {
		doc := policyOf(tpl, "Plagiarism"+fn+"Role")
		for _, want := range []string{`"kms:Decrypt"`, `"kms:Encrypt"`, `"kms:GenerateDataKey"`, `"Fn::GetAtt":["Key`} {
			if !strings.Contains(doc, want) {
				t.Errorf("%s: policy lacks %s: %s", fn, want, doc)
			}
		}
		if strings.Contains(doc, "kms:GenerateDataKey*") || strings.Contains(doc, "ReEncrypt") {
			t.Errorf("%s: wildcard or unneeded key actions: %s", fn, doc)
		}
	}
	if doc := policyOf(tpl, "PlagiarismRegisterIncidentRole"); strings.Contains(doc, "kms:") || strings.Contains(doc, "dynamodb:") {
		t.Errorf("RegisterIncident stores nothing but may: %s", doc)
	}
}

// TestNagCleanForImporters: a team applying AwsSolutions to its app gets no error from
// the construct's resources, in every notification mode and in a VPC.
func TestNagCleanForImporters(t *testing.T) {
	cases := map[string]func(awscdk.Stack, *workflow.PlagiarismStateMachineProps){
		"defaults": func(awscdk.Stack, *workflow.PlagiarismStateMachineProps) {},
		"ses in a vpc": func(s awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.NotificationMode = workflow.NotificationSES
			p.NotificationFrom, p.NotificationTo = jsii.String("exams@example.com"), jsii.String("student@example.com")
			p.Vpc = awsec2.NewVpc(s, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
		},
		"sendgrid with the team's key-encrypted secret": func(s awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.NotificationMode = workflow.NotificationSendGrid
			p.NotificationFrom, p.NotificationTo = jsii.String("exams@example.com"), jsii.String("student@example.com")
			key := awskms.NewKey(s, jsii.String("TeamKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
			p.SendGridSecret = awssecretsmanager.NewSecret(s, jsii.String("SendGrid"), &awssecretsmanager.SecretProps{EncryptionKey: key})
		},
		"cognito authorizer": func(s awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			pool := awscognito.NewUserPool(s, jsii.String("Pool"), &awscognito.UserPoolProps{
				AdvancedSecurityMode: awscognito.AdvancedSecurityMode_ENFORCED,
				Mfa:                  awscognito.Mfa_REQUIRED,
				MfaSecondFactor:      &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
				PasswordPolicy: &awscognito.PasswordPolicy{MinLength: jsii.Number(12), RequireDigits: jsii.Bool(true),
					RequireLowercase: jsii.Bool(true), RequireUppercase: jsii.Bool(true), RequireSymbols: jsii.Bool(true)},
			})
			p.DefaultMethodOptions = &awsapigateway.MethodOptions{
				AuthorizationType: awsapigateway.AuthorizationType_COGNITO,
				Authorizer: awsapigateway.NewCognitoUserPoolsAuthorizer(s, jsii.String("Authorizer"), &awsapigateway.CognitoUserPoolsAuthorizerProps{
					CognitoUserPools: &[]awscognito.IUserPool{pool},
				}),
			}
		},
		"iam authorization, own throttles": func(s awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.DefaultMethodOptions = &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_IAM}
			p.IncidentThrottling = &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(5), BurstLimit: jsii.Number(10)}
			p.ExamThrottling = &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(20), BurstLimit: jsii.Number(40)}
		},
		"api key required": func(s awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.DefaultMethodOptions = &awsapigateway.MethodOptions{ApiKeyRequired: jsii.Bool(true)}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			app, stack := newStack()
			p := &workflow.PlagiarismStateMachineProps{Code: prebuilt(t)}
			edit(stack, p)
			workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), p)
			var ours []string
			for _, e := range nagErrors(app, stack) {
				if strings.Contains(e, "/Plagiarism/") {
					ours = append(ours, e)
				}
			}
			if len(ours) > 0 {
				t.Errorf("cdk-nag errors on the construct's resources:\n%s", strings.Join(ours, "\n"))
			}
		})
	}
}

func TestSesMaySendOnlyFromTheGivenAddress(t *testing.T) {
	_, stack := newStack()
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		Code:             prebuilt(t),
		NotificationMode: workflow.NotificationSES,
		NotificationFrom: jsii.String("exams@example.com"),
		NotificationTo:   jsii.String("student@example.com"),
	})
	doc := policyOf(template(t, stack), "PlagiarismSendNotificationRole")
	for _, want := range []string{"ses:SendEmail", `:identity/exams@example.com"`, `:identity/example.com"`, `"ses:FromAddress":"exams@example.com"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("SendNotification policy lacks %s: %s", want, doc)
		}
	}
	if strings.Contains(doc, "identity/*") {
		t.Errorf("SendNotification may send through any identity: %s", doc)
	}
}

func TestFunctionsInAVpc(t *testing.T) {
	_, stack := newStack()
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		Code: prebuilt(t), Vpc: vpc, MemorySize: jsii.Number(512), Timeout: awscdk.Duration_Seconds(jsii.Number(20)),
	})
	tpl := template(t, stack)
	for id, fn := range resources(tpl, "AWS::Lambda::Function") {
		p := fn["Properties"].(map[string]any)
		if p["VpcConfig"] == nil || p["MemorySize"] != 512.0 || p["Timeout"] != 20.0 {
			t.Errorf("%s: VpcConfig %v, MemorySize %v, Timeout %v", id, p["VpcConfig"], p["MemorySize"], p["Timeout"])
		}
	}
	if doc := policyOf(tpl, "PlagiarismSubmitExamRole"); !strings.Contains(doc, "ec2:CreateNetworkInterface") {
		t.Errorf("a function in a VPC cannot create its network interfaces: %s", doc)
	}
}

// TestTokensAreCheckedOnlyWhenKnown builds the workflow from CloudFormation parameters.
func TestTokensAreCheckedOnlyWhenKnown(t *testing.T) {
	_, stack := newStack()
	text := func(name string) *string {
		return awscdk.NewCfnParameter(stack, jsii.String(name), nil).ValueAsString()
	}
	number := func(name string) *float64 {
		return awscdk.NewCfnParameter(stack, jsii.String(name), &awscdk.CfnParameterProps{Type: jsii.String("Number")}).ValueAsNumber()
	}
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		Code:                 prebuilt(t),
		NotificationMode:     workflow.NotificationSES,
		NotificationFrom:     text("From"),
		NotificationTo:       text("To"),
		ExamUrl:              text("ExamUrl"),
		ApiName:              text("ApiName"),
		MemorySize:           number("Memory"),
		ThrottlingRateLimit:  number("Rate"),
		ThrottlingBurstLimit: number("Burst"),
	})
	tpl := js(template(t, stack))
	for _, want := range []string{`"MemorySize":{"Ref":"Memory"}`, `"EXAM_URL":{"Ref":"ExamUrl"}`, `"Name":{"Ref":"ApiName"}`, `"ThrottlingRateLimit":{"Ref":"Rate"}`} {
		if !strings.Contains(tpl, want) {
			t.Errorf("template lacks %s", want)
		}
	}
}

func TestPlagiarismStateMachineRejectsBadProps(t *testing.T) {
	cases := []struct {
		name string
		edit func(awscdk.Stack, *workflow.PlagiarismStateMachineProps)
		want string
	}{
		{"window", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.ExamWindow = awscdk.Duration_Seconds(jsii.Number(30))
		}, "from 1 minute to 365 days"},
		{"mode", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) { p.NotificationMode = "sms" }, "not one of log, ses, sendgrid"},
		{"address", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.NotificationMode, p.NotificationFrom, p.NotificationTo = workflow.NotificationSES, jsii.String("exams"), jsii.String("a@b.c")
		}, "needs NotificationFrom, an email address"},
		{"sendgrid", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.NotificationMode, p.NotificationFrom, p.NotificationTo = workflow.NotificationSendGrid, jsii.String("a@b.c"), jsii.String("a@b.c")
		}, "needs SendGridSecret"},
		{"exam url", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.ExamUrl = jsii.String("http://exam.example.com")
		}, "must be an https URL"},
		{"stage", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) { p.StageName = jsii.String("v 2") }, "StageName"},
		{"cors", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) { p.CorsAllowOrigin = jsii.String("'") }, "CorsAllowOrigin"},
		{"cors path", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.CorsAllowOrigin = jsii.String("https://exams.example.com/take")
		}, "no path"},
		{"throttle", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.IncidentThrottling = &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(0), BurstLimit: jsii.Number(1)}
		}, "IncidentThrottling needs a positive RateLimit"},
		{"memory", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) { p.MemorySize = jsii.Number(64) }, "MemorySize 64"},
		{"timeout", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.Timeout = awscdk.Duration_Minutes(jsii.Number(20))
		}, "Timeout 20 minutes"},
		{"subnets without vpc", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) {
			p.VpcSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
		}, "need Vpc"},
		{"partial code", func(_ awscdk.Stack, p *workflow.PlagiarismStateMachineProps) { p.Code.SubmitExam = nil }, "Code.SubmitExam is nil"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stack := newStack()
			p := &workflow.PlagiarismStateMachineProps{Code: prebuilt(t)}
			c.edit(stack, p)
			mustPanic(t, c.want, func() { workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), p) })
		})
	}
	mustPanic(t, "no registerincident/bootstrap", func() { workflow.CodeFromDirectory(t.TempDir()) })
}

// TestExecutionLoggingReplacesTheSuppression: with LoggingLevel the stage logs and
// carries no APIG6 suppression.
func TestExecutionLoggingReplacesTheSuppression(t *testing.T) {
	for _, level := range []awsapigateway.MethodLoggingLevel{"", awsapigateway.MethodLoggingLevel_ERROR} {
		_, stack := newStack()
		workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{Code: prebuilt(t), LoggingLevel: level})
		stage := js(resources(template(t, stack), "AWS::ApiGateway::Stage"))
		suppressed, logging := strings.Contains(stage, "AwsSolutions-APIG6"), strings.Contains(stage, `"LoggingLevel":"ERROR"`)
		if suppressed == (level != "") || logging != (level != "") {
			t.Errorf("LoggingLevel %q: suppressed %v, logging %v", level, suppressed, logging)
		}
	}
}

// TestFunctionEnvironmentContract: the variables docs/CONTRACT.md fixes between the
// construct and the functions.
func TestFunctionEnvironmentContract(t *testing.T) {
	for _, trace := range []bool{false, true} {
		_, stack := newStack()
		workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
			Code: prebuilt(t), CorsAllowOrigin: jsii.String("https://exams.example.com"), TraceTaskToken: jsii.Bool(trace),
		})
		env := map[string]string{}
		for id, fn := range resources(template(t, stack), "AWS::Lambda::Function") {
			env[id] = js(fn["Properties"].(map[string]any)["Environment"])
		}
		var submit, notify string
		for id, e := range env {
			switch {
			case strings.HasPrefix(id, "PlagiarismSubmitExam"):
				submit = e
			case strings.HasPrefix(id, "PlagiarismSendNotification"):
				notify = e
			}
		}
		if !strings.Contains(submit, `"CORS_ALLOW_ORIGIN":"https://exams.example.com"`) {
			t.Errorf("SubmitExam environment: %s", submit)
		}
		// https://<api>.execute-api.<region>.<suffix>/v2/exam
		for _, want := range []string{`"SUBMIT_URL":{"Fn::Join":["",["https://",{"Ref":"PlagiarismApi`, `".execute-api.",{"Ref":"AWS::Region"},".",{"Ref":"AWS::URLSuffix"},"/v2/exam"]]}`} {
			if !strings.Contains(notify, want) {
				t.Errorf("SendNotification environment lacks %s: %s", want, notify)
			}
		}
		if got := strings.Contains(notify, `"TRACE_TASK_TOKEN":"true"`); got != trace {
			t.Errorf("TraceTaskToken %v: TRACE_TASK_TOKEN set %v (%s)", trace, got, notify)
		}
	}
}

// TestIncidentApiIsIdempotentAndAnswers4xx checks what the synthesized POST /incident
// does; the templates themselves run in the local end-to-end harness.
func TestIncidentApiIsIdempotentAndAnswers4xx(t *testing.T) {
	_, stack := newStack()
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{Code: prebuilt(t)})
	tpl := template(t, stack)
	var incident map[string]any
	for _, m := range resources(tpl, "AWS::ApiGateway::Method") {
		p := m["Properties"].(map[string]any)
		if strings.Contains(js(p["Integration"]), "StartExecution") {
			incident = p
		}
	}
	if incident == nil {
		t.Fatal("no POST /incident method")
	}
	integration := incident["Integration"].(map[string]any)
	request := flatten(integration["RequestTemplates"].(map[string]any)["application/json"])
	for _, want := range []string{"$input.params('Idempotency-Key')", "$key.matches('^[A-Za-z0-9_-]{1,80}$')", `"name": "$name"`, "#set($name = $context.requestId)"} {
		if !strings.Contains(request, want) {
			t.Errorf("request template lacks %s:\n%s", want, request)
		}
	}
	var errorTemplate string
	for _, r := range integration["IntegrationResponses"].([]any) {
		r := r.(map[string]any)
		if r["SelectionPattern"] == `4\d{2}` {
			errorTemplate = r["ResponseTemplates"].(map[string]any)["application/json"].(string)
			if !strings.Contains(js(r["ResponseParameters"]), "Access-Control-Allow-Origin") {
				t.Error("4xx answers carry no CORS header")
			}
		}
	}
	for _, want := range []string{"ExecutionAlreadyExists'))\n#set($context.responseOverride.status = 409)", "ExecutionLimitExceeded'))\n#set($context.responseOverride.status = 429)", "InvalidName"} {
		if !strings.Contains(errorTemplate, want) {
			t.Errorf("4xx template lacks %q:\n%s", want, errorTemplate)
		}
	}
	for _, vtl := range []string{request, errorTemplate} {
		if strings.Count(vtl, "#if(") != strings.Count(vtl, "#end") {
			t.Errorf("unbalanced #if/#end:\n%s", vtl)
		}
	}
	var codes []string
	for _, r := range incident["MethodResponses"].([]any) {
		codes = append(codes, r.(map[string]any)["StatusCode"].(string))
	}
	if strings.Join(codes, " ") != "200 400 409 429 500" {
		t.Errorf("POST /incident method responses %v", codes)
	}
	if js(incident["RequestParameters"]) != `{"method.request.header.Idempotency-Key":false}` {
		t.Errorf("request parameters %s", js(incident["RequestParameters"]))
	}
	stage := js(resources(tpl, "AWS::ApiGateway::Stage"))
	for _, want := range []string{`"HttpMethod":"POST","ResourcePath":"/~1incident","ThrottlingBurstLimit":5,"ThrottlingRateLimit":1`, `"HttpMethod":"*","MetricsEnabled":true,"ResourcePath":"/*","ThrottlingBurstLimit":20,"ThrottlingRateLimit":10`} {
		if !strings.Contains(stage, want) {
			t.Errorf("stage lacks method setting %s: %s", want, stage)
		}
	}
	preflight := js(resources(tpl, "AWS::ApiGateway::Method"))
	if !strings.Contains(preflight, `Access-Control-Allow-Headers":"'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amz-User-Agent,Idempotency-Key'`) {
		t.Error("the CORS preflight does not allow the Idempotency-Key header")
	}
}

// TestAuthorizationDecidesTheSuppressions: with a Cognito authorizer nothing is
// suppressed (and cdk-nag finds nothing), with IAM only COG4 is; the preflight stays open.
func TestAuthorizationDecidesTheSuppressions(t *testing.T) {
	cases := map[string]struct {
		options    func(awscdk.Stack) *awsapigateway.MethodOptions
		suppressed string
	}{
		"cognito": {func(s awscdk.Stack) *awsapigateway.MethodOptions {
			pool := awscognito.NewUserPool(s, jsii.String("Users"), &awscognito.UserPoolProps{
				PasswordPolicy: &awscognito.PasswordPolicy{MinLength: jsii.Number(12), RequireSymbols: jsii.Bool(true), RequireDigits: jsii.Bool(true),
					RequireLowercase: jsii.Bool(true), RequireUppercase: jsii.Bool(true)},
				Mfa: awscognito.Mfa_REQUIRED, MfaSecondFactor: &awscognito.MfaSecondFactor{Otp: jsii.Bool(true), Sms: jsii.Bool(false)},
				FeaturePlan:                  awscognito.FeaturePlan_PLUS,
				StandardThreatProtectionMode: awscognito.StandardThreatProtectionMode_FULL_FUNCTION,
			})
			return &awsapigateway.MethodOptions{Authorizer: awsapigateway.NewCognitoUserPoolsAuthorizer(s, jsii.String("Auth"),
				&awsapigateway.CognitoUserPoolsAuthorizerProps{CognitoUserPools: &[]awscognito.IUserPool{pool}})}
		}, ""},
		"iam": {func(awscdk.Stack) *awsapigateway.MethodOptions {
			return &awsapigateway.MethodOptions{AuthorizationType: awsapigateway.AuthorizationType_IAM}
		}, "AwsSolutions-COG4"},
		"public": {func(awscdk.Stack) *awsapigateway.MethodOptions { return nil }, "AwsSolutions-APIG4 AwsSolutions-COG4"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			app, stack := newStack()
			workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
				Code: prebuilt(t), DefaultMethodOptions: c.options(stack),
			})
			var ours []string
			for _, e := range nagErrors(app, stack) {
				if strings.Contains(e, "/Plagiarism/") {
					ours = append(ours, e)
				}
			}
			if len(ours) > 0 {
				t.Errorf("cdk-nag errors: %v", ours)
			}
			for _, m := range resources(template(t, stack), "AWS::ApiGateway::Method") {
				p := m["Properties"].(map[string]any)
				var rules []string
				if md, ok := m["Metadata"].(map[string]any)["cdk_nag"].(map[string]any); ok {
					for _, r := range md["rules_to_suppress"].([]any) {
						rules = append(rules, r.(map[string]any)["id"].(string))
					}
				}
				switch p["HttpMethod"] {
				case "OPTIONS":
					if p["AuthorizationType"] != "NONE" {
						t.Errorf("the CORS preflight needs authorization %v", p["AuthorizationType"])
					}
				case "POST":
					if got := strings.Join(rules, " "); got != c.suppressed {
						t.Errorf("POST suppresses %q, want %q", got, c.suppressed)
					}
				}
			}
		})
	}
}

func TestFailedExecutionsAlarm(t *testing.T) {
	_, stack := newStack()
	topic := awssns.NewTopic(stack, jsii.String("OnCall"), &awssns.TopicProps{EnforceSSL: jsii.Bool(true)})
	w := workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{Code: prebuilt(t), AlarmTopic: topic})
	alarms := resources(template(t, stack), "AWS::CloudWatch::Alarm")
	if len(alarms) != 1 || w.Alarm() == nil {
		t.Fatalf("alarms = %d", len(alarms))
	}
	for _, a := range alarms {
		s := js(a["Properties"])
		for _, want := range []string{"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", `"Threshold":1`, `"AlarmActions":[{"Ref":"OnCall`, `"TreatMissingData":"notBreaching"`} {
			if !strings.Contains(s, want) {
				t.Errorf("alarm lacks %s: %s", want, s)
			}
		}
	}
}

func TestExecutionBudgetWarning(t *testing.T) {
	for _, c := range []struct {
		rate float64
		warn bool
	}{{1, false}, {10, true}} {
		_, stack := newStack()
		workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
			Code: prebuilt(t), IncidentThrottling: &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(c.rate), BurstLimit: jsii.Number(20)},
		})
		warnings := assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("open Standard executions")))
		if got := len(*warnings) > 0; got != c.warn {
			t.Errorf("rate %v: warned %v, want %v", c.rate, got, c.warn)
		}
		if c.warn && !strings.Contains(fmt.Sprint((*warnings)[0].Entry.Data), "864000 executions a day") {
			t.Errorf("warning does not give the arithmetic: %v", (*warnings)[0].Entry.Data)
		}
	}
}

// flatten renders a string that may be an Fn::Join with references as <ref>.
func flatten(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if j, ok := x["Fn::Join"].([]any); ok {
			var b strings.Builder
			for _, part := range j[1].([]any) {
				b.WriteString(flatten(part))
			}
			return b.String()
		}
	}
	return "<ref>"
}

// TestSendGridSecretAndItsKeyAreGranted: in sendgrid mode SendNotification may read the
// team's secret and decrypt it with the secret's customer managed key, and nothing else
// may.
func TestSendGridSecretAndItsKeyAreGranted(t *testing.T) {
	_, stack := newStack()
	key := awskms.NewKey(stack, jsii.String("TeamKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		Code:             prebuilt(t),
		NotificationMode: workflow.NotificationSendGrid,
		NotificationFrom: jsii.String("exams@example.com"),
		NotificationTo:   jsii.String("student@example.com"),
		SendGridSecret:   awssecretsmanager.NewSecret(stack, jsii.String("SendGrid"), &awssecretsmanager.SecretProps{EncryptionKey: key}),
	})
	tpl := template(t, stack)
	doc := policyOf(tpl, "PlagiarismSendNotificationRole")
	for _, want := range []string{"secretsmanager:GetSecretValue", `"Ref":"SendGrid`} {
		if !strings.Contains(doc, want) {
			t.Errorf("SendNotification policy lacks %s: %s", want, doc)
		}
	}
	// The CDK grants a key in the same account through the key policy, to the role, via
	// Secrets Manager only.
	var keyPolicy map[string]any
	for _, k := range resources(tpl, "AWS::KMS::Key") {
		keyPolicy = k["Properties"].(map[string]any)["KeyPolicy"].(map[string]any)
	}
	granted := false
	for _, st := range keyPolicy["Statement"].([]any) {
		st := js(st)
		if strings.Contains(st, `"kms:Decrypt"`) && strings.Contains(st, `"secretsmanager."`) &&
			strings.Contains(st, `"Principal":{"AWS":{"Fn::GetAtt":["PlagiarismSendNotificationRole`) {
			granted = true
		}
	}
	if !granted {
		t.Errorf("the key policy does not let SendNotification's role decrypt via Secrets Manager: %s", js(keyPolicy))
	}
	for _, fn := range []string{"RegisterIncident", "ScheduleExam", "SubmitExam", "ResolveIncident", "TakeAdministrativeAction"} {
		if doc := policyOf(tpl, "Plagiarism"+fn+"Role"); strings.Contains(doc, "SendGrid") || strings.Contains(doc, "TeamKey") {
			t.Errorf("%s may use the SendGrid secret or its key: %s", fn, doc)
		}
	}
}

// TestEachModeDeploysItsOwnSendNotification: built from source, SendNotification's asset
// is the binary of the notification mode, which links only that mode's AWS clients
// (lambda-src/internal/handler's TestFunctionDependencies lists them), byte for byte the
// build of lambda-src/cmd/sendnotification-<mode>.
func TestEachModeDeploysItsOwnSendNotification(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions")
	}
	built, err := lambdabuild.Build(lambdabuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, mode := range []workflow.NotificationMode{workflow.NotificationLog, workflow.NotificationSES, workflow.NotificationSendGrid} {
		outdir := t.TempDir()
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir), Context: &map[string]any{"aws:cdk:enable-asset-metadata": true}})
		stack := awscdk.NewStack(app, jsii.String("Workflow"), nil)
		p := &workflow.PlagiarismStateMachineProps{NotificationMode: mode}
		if mode != workflow.NotificationLog {
			p.NotificationFrom, p.NotificationTo = jsii.String("exams@example.com"), jsii.String("student@example.com")
		}
		if mode == workflow.NotificationSendGrid {
			p.SendGridSecret = awssecretsmanager.NewSecret(stack, jsii.String("SendGrid"), nil)
		}
		workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), p)
		app.Synth(nil)
		data, err := os.ReadFile(filepath.Join(outdir, "Workflow.template.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tpl map[string]any
		if err := json.Unmarshal(data, &tpl); err != nil {
			t.Fatal(err)
		}
		var asset string
		for id, r := range resources(tpl, "AWS::Lambda::Function") {
			if strings.HasPrefix(id, "PlagiarismSendNotification") {
				meta, _ := r["Metadata"].(map[string]any)
				asset, _ = meta["aws:asset:path"].(string)
			}
		}
		deployed, err := os.ReadFile(filepath.Join(outdir, asset, "bootstrap"))
		if asset == "" || err != nil {
			t.Fatalf("%s: SendNotification's asset %q: %v", mode, asset, err)
		}
		dir := workflow.SendNotificationDir(mode)
		want, err := os.ReadFile(filepath.Join(built[dir], "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(deployed, want) {
			t.Errorf("%s: SendNotification's asset is not the build of lambda-src/cmd/%s", mode, dir)
		}
		if other, ok := seen[string(deployed)]; ok {
			t.Errorf("%s deploys the same binary as %s", mode, other)
		}
		seen[string(deployed)] = string(mode)
	}
}
