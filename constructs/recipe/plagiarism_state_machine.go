package recipe

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	sfn "github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/api"
	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/lambdabuild"
)

// Names the traces show, as upstream: the trace-based tests select spans by them.
const (
	DefaultApiName   = "DevelopingWithStepFunctionsApi"
	DefaultStageName = "v2"
)

// IncidentKey is the partition key (string) of the incidents table.
const IncidentKey = "IncidentId"

// NotificationMode selects how SendNotification reaches the student. Every mode logs the
// exam instructions and records the NotificationData trace subsegment.
type NotificationMode string

// Notification modes.
const (
	// NotificationLog only logs (no third-party account needed).
	NotificationLog NotificationMode = "log"
	// NotificationSES also sends an email with Amazon SES.
	NotificationSES NotificationMode = "ses"
	// NotificationSendGrid also sends an email with SendGrid; its API key is read from
	// Secrets Manager.
	NotificationSendGrid NotificationMode = "sendgrid"
)

// PlagiarismStateMachineProps configures a PlagiarismStateMachine. The zero value
// deploys the whole workflow with safe defaults.
type PlagiarismStateMachineProps struct {
	// Table stores incidents, keyed by the string attribute IncidentKey. Default: a new
	// on-demand table with point-in-time recovery, retained when removed from the stack.
	Table awsdynamodb.ITable
	// ExamWindow is how long a student has to sit an exam: the exam deadline and the time
	// the workflow waits for the result before it takes administrative action. Whole
	// seconds, from 1 minute to 365 days. Default: 7 days.
	ExamWindow awscdk.Duration
	// NotificationMode. Default: NotificationLog.
	NotificationMode NotificationMode
	// NotificationFrom and NotificationTo are the email addresses for NotificationSES and
	// NotificationSendGrid (required there). Default: none.
	NotificationFrom *string
	NotificationTo   *string
	// SendGridSecret holds the SendGrid API key (required for NotificationSendGrid).
	SendGridSecret awssecretsmanager.ISecret
	// ExamUrl is an https link included in the notification. Default: none.
	ExamUrl *string
	// ApiName of the REST API. Default: DefaultApiName.
	ApiName *string
	// StageName of the REST API. Default: DefaultStageName.
	StageName *string
	// ThrottlingRateLimit is the stage's steady request rate, per second. Default: 10.
	ThrottlingRateLimit *float64
	// ThrottlingBurstLimit is the stage's burst. Default: 20.
	ThrottlingBurstLimit *float64
	// CorsAllowOrigin is the Access-Control-Allow-Origin of every response. Default: "*".
	CorsAllowOrigin *string
	// LogRetention of the API access logs, the state machine and function logs.
	// Default: awslogs.RetentionDays_ONE_YEAR.
	LogRetention awslogs.RetentionDays
	// Architecture of the functions. Default: awslambda.Architecture_ARM_64().
	Architecture awslambda.Architecture
}

// PlagiarismFunctions are the workflow's Lambda functions.
type PlagiarismFunctions struct {
	RegisterIncident         awslambda.Function
	ScheduleExam             awslambda.Function
	SendNotification         awslambda.Function
	SubmitExam               awslambda.Function
	ResolveIncident          awslambda.Function
	TakeAdministrativeAction awslambda.Function
}

// PlagiarismStateMachine is the plagiarism workflow: POST /incident starts a Standard
// state machine that registers the incident, schedules an exam, notifies the student and
// waits (up to the exam window) for POST /exam to call back with the score; it then
// resolves the incident, schedules a retake, or takes administrative action. Traced with
// X-Ray from the API stage through the state machine to every function.
type PlagiarismStateMachine interface {
	constructs.Construct
	// StateMachine is the Standard state machine.
	StateMachine() sfn.StateMachine
	// Table holds the incidents.
	Table() awsdynamodb.ITable
	// Api is the REST API.
	Api() awsapigateway.RestApi
	// Url is the stage URL without a trailing slash, e.g. https://<id>.execute-api.<region>.amazonaws.com/v2.
	Url() *string
	// Functions are the six Lambda functions.
	Functions() *PlagiarismFunctions
}

type plagiarismStateMachine struct {
	constructs.Construct
	sm    sfn.StateMachine
	table awsdynamodb.ITable
	api   awsapigateway.RestApi
	url   *string
	fns   *PlagiarismFunctions
}

// tableActions are the only DynamoDB calls the functions make (storage package: GetItem
// to load, a conditional UpdateItem to save).
var tableActions = []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}

// NewPlagiarismStateMachine creates the workflow. It compiles the Go functions from this
// module's lambda-src with the local Go toolchain (see package lambdabuild).
func NewPlagiarismStateMachine(scope constructs.Construct, id *string, props *PlagiarismStateMachineProps) PlagiarismStateMachine {
	p, window := validatePlagiarismProps(props)
	w := &plagiarismStateMachine{}
	constructs.NewConstruct_Override(w, scope, id)
	stack := awscdk.Stack_Of(w)

	w.table = p.Table
	if w.table == nil {
		w.table = awsdynamodb.NewTableV2(w, jsii.String("Table"), &awsdynamodb.TablePropsV2{
			PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(IncidentKey), Type: awsdynamodb.AttributeType_STRING},
			Billing:      awsdynamodb.Billing_OnDemand(nil),
			PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: jsii.Bool(true),
			},
			RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		})
	}

	// Functions.
	arch := "arm64"
	if *p.Architecture.Name() == *awslambda.Architecture_X86_64().Name() {
		arch = "amd64"
	}
	built, err := lambdabuild.Build(lambdabuild.Options{Arch: arch})
	if err != nil {
		panic(fmt.Errorf("recipe.PlagiarismStateMachine: build the Lambda functions: %w", err))
	}
	newFn := func(id, dir, description string, env map[string]*string) awslambda.Function {
		code, ok := built[dir]
		if !ok {
			panic(fmt.Errorf("recipe.PlagiarismStateMachine: no function %q under %s", dir, lambdabuild.SourceDir))
		}
		logs := awslogs.NewLogGroup(w, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
			Retention:     p.LogRetention,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
		// A role of its own instead of AWSLambdaBasicExecutionRole: logs only to its own
		// log group.
		role := awsiam.NewRole(w, jsii.String(id+"Role"), &awsiam.RoleProps{
			AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
			Description: jsii.String(id + " function of the plagiarism workflow"),
		})
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: jsii.Strings(*logs.LogGroupArn()),
		}))
		fn := awslambda.NewFunction(w, jsii.String(id), &awslambda.FunctionProps{
			Role:          role,
			Description:   jsii.String(description),
			Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:  p.Architecture,
			Handler:       jsii.String("bootstrap"),
			Code:          awslambda.Code_FromAsset(jsii.String(code), nil),
			MemorySize:    jsii.Number(256),
			Timeout:       awscdk.Duration_Seconds(jsii.Number(15)),
			Tracing:       awslambda.Tracing_ACTIVE,
			LoggingFormat: awslambda.LoggingFormat_JSON,
			LogGroup:      logs,
			Environment:   &env,
		})
		suppress(role.Node().TryFindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), "AwsSolutions-IAM5", xrayWriteReason, "Resource::*")
		return fn
	}
	tableEnv := map[string]*string{"TABLE_NAME": w.table.TableName()}
	notifyEnv := map[string]*string{"TABLE_NAME": w.table.TableName(), "NOTIFICATION_MODE": jsii.String(string(p.NotificationMode))}
	if p.NotificationMode != NotificationLog {
		notifyEnv["NOTIFICATION_FROM"], notifyEnv["NOTIFICATION_TO"] = p.NotificationFrom, p.NotificationTo
	}
	if p.SendGridSecret != nil {
		notifyEnv["SENDGRID_SECRET_ARN"] = p.SendGridSecret.SecretArn()
	}
	if p.ExamUrl != nil {
		notifyEnv["EXAM_URL"] = p.ExamUrl
	}
	w.fns = &PlagiarismFunctions{
		RegisterIncident: newFn("RegisterIncident", "registerincident", "Validates a new plagiarism incident and assigns its id", map[string]*string{}),
		ScheduleExam: newFn("ScheduleExam", "scheduleexam", "Schedules the next exam of an incident (at most three)", map[string]*string{
			"TABLE_NAME": w.table.TableName(), "EXAM_WINDOW": jsii.String(fmt.Sprintf("%ds", int64(window/time.Second))),
		}),
		SendNotification:         newFn("SendNotification", "sendnotification", "Tells the student where to take the exam; the workflow waits for the result", notifyEnv),
		SubmitExam:               newFn("SubmitExam", "submitexam", "POST /exam: records a score and resumes the workflow", tableEnv),
		ResolveIncident:          newFn("ResolveIncident", "resolveincident", "Marks an incident resolved", tableEnv),
		TakeAdministrativeAction: newFn("TakeAdministrativeAction", "takeadministrativeaction", "Marks an incident as needing administrative action", tableEnv),
	}
	for _, fn := range []awslambda.Function{w.fns.ScheduleExam, w.fns.SendNotification, w.fns.SubmitExam, w.fns.ResolveIncident, w.fns.TakeAdministrativeAction} {
		w.table.Grant(fn, *jsii.Strings(tableActions...)...)
	}
	switch p.NotificationMode {
	case NotificationSES:
		w.fns.SendNotification.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("ses:SendEmail"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:ses:%s:%s:identity/*",
				*stack.Partition(), *stack.Region(), *stack.Account())),
			Conditions: &map[string]any{"StringEquals": map[string]any{"ses:FromAddress": *p.NotificationFrom}},
		}))
	case NotificationSendGrid:
		p.SendGridSecret.GrantRead(w.fns.SendNotification, nil)
	}

	// State machine.
	definition, err := asl.Render(asl.Options{ExamWindow: window})
	if err != nil {
		panic(fmt.Errorf("recipe.PlagiarismStateMachine: ExamWindow: %w", err))
	}
	substitutions := map[string]*string{
		"RegisterIncidentFunctionArn":         w.fns.RegisterIncident.FunctionArn(),
		"ScheduleExamFunctionArn":             w.fns.ScheduleExam.FunctionArn(),
		"SendNotificationFunctionArn":         w.fns.SendNotification.FunctionArn(),
		"ResolveIncidentFunctionArn":          w.fns.ResolveIncident.FunctionArn(),
		"TakeAdministrativeActionFunctionArn": w.fns.TakeAdministrativeAction.FunctionArn(),
	}
	for _, name := range asl.Placeholders() {
		if _, ok := substitutions[name]; !ok {
			panic(fmt.Errorf("recipe.PlagiarismStateMachine: the definition in asl/ uses ${%s}, which the construct does not substitute", name))
		}
	}
	smLogs := awslogs.NewLogGroup(w, jsii.String("StateMachineLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	w.sm = sfn.NewStateMachine(w, jsii.String("StateMachine"), &sfn.StateMachineProps{
		DefinitionBody:          sfn.DefinitionBody_FromString(jsii.String(definition)),
		DefinitionSubstitutions: &substitutions,
		StateMachineType:        sfn.StateMachineType_STANDARD,
		TracingEnabled:          jsii.Bool(true),
		// Execution data would put task tokens and student ids into the logs.
		Logs: &sfn.LogOptions{Destination: smLogs, Level: sfn.LogLevel_ALL, IncludeExecutionData: jsii.Bool(false)},
	})
	// Invoke exactly the functions the definition names (unqualified ARNs), not their
	// versions and aliases as GrantInvoke would.
	var invoked []*string
	for _, fn := range []awslambda.Function{w.fns.RegisterIncident, w.fns.ScheduleExam, w.fns.SendNotification, w.fns.ResolveIncident, w.fns.TakeAdministrativeAction} {
		invoked = append(invoked, fn.FunctionArn())
	}
	w.sm.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("lambda:InvokeFunction"),
		Resources: &invoked,
	}))
	suppress(w.sm.Role().Node().TryFindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), "AwsSolutions-IAM5",
		xrayWriteReason+"; so do the CloudWatch Logs delivery actions Step Functions needs for execution logging", "Resource::*")
	// SubmitExam checks the token with a heartbeat before it writes, then reports success;
	// it never fails a task.
	w.sm.Grant(w.fns.SubmitExam, jsii.String("states:SendTaskHeartbeat"), jsii.String("states:SendTaskSuccess"))

	w.api, w.url = newPlagiarismApi(w, p)
	return w
}

// newPlagiarismApi creates the REST API: POST /incident starts an execution directly
// (service integration, no Lambda), POST /exam calls SubmitExam.
func newPlagiarismApi(w *plagiarismStateMachine, p PlagiarismStateMachineProps) (awsapigateway.RestApi, *string) {
	stack := awscdk.Stack_Of(w)
	origin := "'" + *p.CorsAllowOrigin + "'"
	accessLogs := awslogs.NewLogGroup(w, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	restApi := awsapigateway.NewRestApi(w, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:    p.ApiName,
		Description:    jsii.String("Plagiarism workflow: POST /incident starts it, POST /exam submits a score"),
		EndpointTypes:  &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		CloudWatchRole: jsii.Bool(false),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            p.StageName,
			TracingEnabled:       jsii.Bool(true),
			MetricsEnabled:       jsii.Bool(true),
			ThrottlingRateLimit:  p.ThrottlingRateLimit,
			ThrottlingBurstLimit: p.ThrottlingBurstLimit,
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(false), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(false),
			}),
		},
		DefaultCorsPreflightOptions: &awsapigateway.CorsOptions{
			AllowOrigins: jsii.Strings(*p.CorsAllowOrigin),
			AllowMethods: jsii.Strings("POST", "OPTIONS"),
			AllowHeaders: awsapigateway.Cors_DEFAULT_HEADERS(),
		},
	})
	// The stack outputs the stage URL itself (without the trailing slash).
	restApi.Node().TryRemoveChild(jsii.String("Endpoint"))
	corsHeader := map[string]*string{"Access-Control-Allow-Origin": jsii.String(origin)}
	// Errors API Gateway answers itself (bad body, throttling, 5xx) carry CORS headers and
	// a JSON message too.
	restApi.AddGatewayResponse(jsii.String("BadRequestBody"), &awsapigateway.GatewayResponseOptions{
		Type:            awsapigateway.ResponseType_BAD_REQUEST_BODY(),
		ResponseHeaders: &corsHeader,
		Templates:       &map[string]*string{"application/json": jsii.String(`{"message": "` + api.IncidentValidationMessage + `"}`)},
	})
	for _, r := range []struct {
		id  string
		typ awsapigateway.ResponseType
	}{{"Default4xx", awsapigateway.ResponseType_DEFAULT_4XX()}, {"Default5xx", awsapigateway.ResponseType_DEFAULT_5XX()}} {
		restApi.AddGatewayResponse(jsii.String(r.id), &awsapigateway.GatewayResponseOptions{
			Type:            r.typ,
			ResponseHeaders: &corsHeader,
			Templates:       &map[string]*string{"application/json": jsii.String(`{"message": $context.error.messageString}`)},
		})
	}

	// POST /incident -> states:StartExecution, validated against the model first.
	var schema map[string]any
	if err := json.Unmarshal([]byte(api.IncidentSchema()), &schema); err != nil {
		panic(fmt.Errorf("recipe.PlagiarismStateMachine: api/%s: %w", api.IncidentSchemaFile, err))
	}
	model := awsapigateway.NewCfnModel(w, jsii.String("IncidentModel"), &awsapigateway.CfnModelProps{
		RestApiId:   restApi.RestApiId(),
		ContentType: jsii.String("application/json"),
		Name:        jsii.String(api.IncidentModelName),
		Description: jsii.String("POST /incident body"),
		Schema:      schema,
	})
	validator := restApi.AddRequestValidator(jsii.String("BodyValidator"), &awsapigateway.RequestValidatorOptions{
		ValidateRequestBody:       jsii.Bool(true),
		ValidateRequestParameters: jsii.Bool(true),
	})
	startRole := awsiam.NewRole(w, jsii.String("ApiStartExecutionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("apigateway.amazonaws.com"), nil),
		Description: jsii.String("API Gateway: start executions of the plagiarism state machine"),
	})
	w.sm.GrantStartExecution(startRole)
	corsParam := map[string]*string{"method.response.header.Access-Control-Allow-Origin": jsii.String(origin)}
	start := awsapigateway.NewAwsIntegration(&awsapigateway.AwsIntegrationProps{
		Service:               jsii.String("states"),
		Action:                jsii.String("StartExecution"),
		IntegrationHttpMethod: jsii.String("POST"),
		Options: &awsapigateway.IntegrationOptions{
			CredentialsRole:     startRole,
			PassthroughBehavior: awsapigateway.PassthroughBehavior_NEVER,
			RequestTemplates: &map[string]*string{"application/json": jsii.String(
				// escapeJavaScript also escapes ' as \', which is not JSON: undo that.
				`{"input": "$util.escapeJavaScript($input.json('$')).replaceAll("\\'", "'")", ` +
					`"name": "$context.requestId", "stateMachineArn": "` + *w.sm.StateMachineArn() + `"}`)},
			IntegrationResponses: &[]*awsapigateway.IntegrationResponse{
				{
					StatusCode:         jsii.String("200"),
					ResponseParameters: &corsParam,
					ResponseTemplates: &map[string]*string{"application/json": jsii.String(
						`{"executionArn": "$input.path('$.executionArn')", "startDate": $input.path('$.startDate')}`)},
				},
				{
					StatusCode:         jsii.String("500"),
					SelectionPattern:   jsii.String(`[45]\d{2}`),
					ResponseParameters: &corsParam,
					ResponseTemplates: &map[string]*string{"application/json": jsii.String(
						`{"message": "the workflow could not be started"}`)},
				},
			},
		},
	})
	corsMethodParam := map[string]*bool{"method.response.header.Access-Control-Allow-Origin": jsii.Bool(true)}
	restApi.Root().AddResource(jsii.String("incident"), nil).AddMethod(jsii.String("POST"), start, &awsapigateway.MethodOptions{
		RequestValidator: validator,
		RequestModels: &map[string]awsapigateway.IModel{
			"application/json": awsapigateway.Model_FromModelName(w, jsii.String("IncidentModelRef"), model.Ref()),
		},
		MethodResponses: &[]*awsapigateway.MethodResponse{
			{StatusCode: jsii.String("200"), ResponseParameters: &corsMethodParam},
			{StatusCode: jsii.String("500"), ResponseParameters: &corsMethodParam},
		},
	})

	// POST /exam -> SubmitExam, which validates and answers with CORS headers itself.
	examMethod := restApi.Root().AddResource(jsii.String("exam"), nil).AddMethod(jsii.String("POST"),
		awsapigateway.NewLambdaIntegration(w.fns.SubmitExam, nil), nil)
	// The permissions API Gateway gets to invoke SubmitExam name this account too, not only
	// the API's ARN (Control Tower rule CT.LAMBDA.PR.2).
	for _, child := range *examMethod.Node().Children() {
		if *awscdk.CfnResource_IsCfnResource(child) {
			if res := child.(awscdk.CfnResource); *res.CfnResourceType() == "AWS::Lambda::Permission" {
				res.AddPropertyOverride(jsii.String("SourceAccount"), stack.Account())
			}
		}
	}

	u := fmt.Sprintf("https://%s.execute-api.%s.%s/%s", *restApi.RestApiId(), *stack.Region(), *stack.UrlSuffix(), *p.StageName)
	return restApi, jsii.String(u)
}

func (w *plagiarismStateMachine) StateMachine() sfn.StateMachine  { return w.sm }
func (w *plagiarismStateMachine) Table() awsdynamodb.ITable       { return w.table }
func (w *plagiarismStateMachine) Api() awsapigateway.RestApi      { return w.api }
func (w *plagiarismStateMachine) Url() *string                    { return w.url }
func (w *plagiarismStateMachine) Functions() *PlagiarismFunctions { return w.fns }

var stageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// validatePlagiarismProps checks props and fills defaults, panicking with a message that
// names the bad property and the fix. It returns the exam window as a time.Duration.
func validatePlagiarismProps(props *PlagiarismStateMachineProps) (PlagiarismStateMachineProps, time.Duration) {
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("recipe.PlagiarismStateMachine: "+format, args...))
	}
	var p PlagiarismStateMachineProps
	if props != nil {
		p = *props
	}
	window := 7 * 24 * time.Hour
	if p.ExamWindow != nil {
		ms := *p.ExamWindow.ToMilliseconds(nil)
		window = time.Duration(ms) * time.Millisecond
		if ms != float64(int64(ms/1000))*1000 || window < time.Minute || window > asl.MaxExamWindow {
			fail("ExamWindow %s must be a whole number of seconds from 1 minute to 365 days", *p.ExamWindow.ToHumanString())
		}
	}
	if p.NotificationMode == "" {
		p.NotificationMode = NotificationLog
	}
	switch p.NotificationMode {
	case NotificationLog:
	case NotificationSES, NotificationSendGrid:
		for name, v := range map[string]*string{"NotificationFrom": p.NotificationFrom, "NotificationTo": p.NotificationTo} {
			if v == nil || !strings.Contains(*v, "@") {
				fail("NotificationMode %s needs %s, an email address", p.NotificationMode, name)
			}
		}
		if p.NotificationMode == NotificationSendGrid && p.SendGridSecret == nil {
			fail("NotificationMode sendgrid needs SendGridSecret, a secret holding the SendGrid API key")
		}
	default:
		fail("NotificationMode %q is not one of log, ses, sendgrid", p.NotificationMode)
	}
	if p.ExamUrl != nil {
		if u, err := url.Parse(*p.ExamUrl); err != nil || u.Scheme != "https" || u.Host == "" {
			fail("ExamUrl %q must be an https URL", *p.ExamUrl)
		}
	}
	if p.ApiName == nil {
		p.ApiName = jsii.String(DefaultApiName)
	} else if strings.TrimSpace(*p.ApiName) == "" {
		fail("ApiName is empty")
	}
	if p.StageName == nil {
		p.StageName = jsii.String(DefaultStageName)
	} else if !stageName.MatchString(*p.StageName) {
		fail("StageName %q must hold only letters, digits, hyphens and underscores", *p.StageName)
	}
	if p.ThrottlingRateLimit == nil {
		p.ThrottlingRateLimit = jsii.Number(10)
	}
	if p.ThrottlingBurstLimit == nil {
		p.ThrottlingBurstLimit = jsii.Number(20)
	}
	if *p.ThrottlingRateLimit <= 0 || *p.ThrottlingBurstLimit < 1 {
		fail("ThrottlingRateLimit %v and ThrottlingBurstLimit %v must be positive", *p.ThrottlingRateLimit, *p.ThrottlingBurstLimit)
	}
	if p.CorsAllowOrigin == nil {
		p.CorsAllowOrigin = jsii.String("*")
	} else if strings.ContainsAny(*p.CorsAllowOrigin, "'\"") || *p.CorsAllowOrigin == "" {
		fail("CorsAllowOrigin %q must be * or an origin such as https://example.com", *p.CorsAllowOrigin)
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.Architecture == nil {
		p.Architecture = awslambda.Architecture_ARM_64()
	}
	return p, window
}
