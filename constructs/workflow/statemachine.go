// Package workflow is the "plagiarism" workflow that this module's Tracetest tests
// exercise: a REST API, a Standard Step Functions state machine, six Go Lambda functions
// and a DynamoDB table, traced end to end with AWS X-Ray. Its construct is
// PlagiarismStateMachine.
//
// The Tracetest infrastructure that tests it is in the sibling package tracing; the two
// are separate so that a team wanting only Tracetest compiles none of this package's CDK
// modules (API Gateway, Step Functions, DynamoDB).
//
// Import it next to constructs-go's package; the names do not collide:
//
//	import (
//		"github.com/aws/constructs-go/constructs/v10"
//		"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow"
//	)
//
// The functions are built at synth from this module's source (package lambdabuild: the
// go command with your GOTOOLCHAIN, a content-addressed cache, offline once the modules
// are downloaded), or given prebuilt with PlagiarismStateMachineProps.Code.
//
// Every constructor has the CDK shape NewX(scope, id, props) and panics with a message
// naming the bad property and the fix when props are invalid; values that are tokens (a
// CfnParameter, an SSM parameter, an import) are checked when known and passed through
// otherwise. Construct IDs of stateful children (the table, the log groups, the state
// machine) are part of the API and do not change within a major version. The cdk-nag
// AwsSolutions findings on resources the construct creates are fixed or suppressed with
// their reason; documented props remove a suppression where a team can do better.
package workflow

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	sfn "github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/asl"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/nag"
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
// deploys the whole workflow.
//
// Numbers and strings may be tokens (a CfnParameter, an SSM parameter, an import): they
// are checked when known at synth and passed through otherwise.
type PlagiarismStateMachineProps struct {
	// Table stores incidents, keyed by the string attribute IncidentKey. When it is
	// encrypted with a customer managed key, the functions are granted that key too.
	// Default: a new on-demand table with point-in-time recovery, retained when removed
	// from the stack.
	Table awsdynamodb.ITable
	// ExamWindow is how long a student has to sit an exam: the exam deadline and the time
	// the workflow waits for the result before it takes administrative action. Whole
	// seconds, from 1 minute to 365 days, known at synth. Default: 7 days.
	ExamWindow awscdk.Duration
	// NotificationMode. Default: NotificationLog.
	NotificationMode NotificationMode
	// NotificationFrom and NotificationTo are the email addresses for NotificationSES and
	// NotificationSendGrid (required there). With NotificationSES, SendNotification may
	// send only from NotificationFrom, through the SES identity of that address or of
	// its domain. Default: none.
	NotificationFrom *string
	NotificationTo   *string
	// SendGridSecret holds the SendGrid API key (required for NotificationSendGrid).
	SendGridSecret awssecretsmanager.ISecret
	// ExamUrl is an https link included in the notification: the student's link is
	// ExamUrl with the query parameters IncidentId, ExamId and TaskToken, and the page
	// POSTs them with the score to Url()/exam (SendNotification gets that URL as
	// SUBMIT_URL). Default: none (the notification gives SUBMIT_URL and the values).
	ExamUrl *string
	// TraceTaskToken writes the task token into the metadata of SendNotification's
	// NotificationData trace subsegment, which is how trace-based tests (Tracetest) learn
	// it. Trade-off: anyone allowed xray:BatchGetTraces in the account can then read
	// tokens and submit scores for open exams until each token is spent or expires.
	// Default: false (the token goes only to the student).
	TraceTaskToken *bool
	// ApiName of the REST API. Default: DefaultApiName.
	ApiName *string
	// StageName of the REST API. Default: DefaultStageName.
	StageName *string
	// ThrottlingRateLimit is the stage's steady request rate per second, for every
	// method without a throttle of its own. Default: 10.
	ThrottlingRateLimit *float64
	// ThrottlingBurstLimit is the stage's burst. Default: 20.
	ThrottlingBurstLimit *float64
	// IncidentThrottling limits POST /incident, which opens a Standard execution that
	// waits up to ExamWindow: at RateLimit requests per second, up to RateLimit x 86400
	// executions a day and RateLimit x ExamWindow (in seconds) open at once, against an
	// account quota of 1,000,000 open executions (the synth warns when that is exceeded).
	// Default: 1 request per second, burst 5 (at most 604,800 open with the 7-day window).
	IncidentThrottling *awsapigateway.ThrottleSettings
	// ExamThrottling limits POST /exam. Default: the stage's limits.
	ExamThrottling *awsapigateway.ThrottleSettings
	// DefaultMethodOptions apply to POST /incident, POST /exam and any method you add
	// to Api() (not to the CORS preflight): an authorizer (Cognito, Lambda), IAM
	// authorization, or ApiKeyRequired (add a usage plan and key with
	// Api().AddUsagePlan). With an authorizer the construct suppresses no APIG4 (and with
	// Cognito no COG4). Default: none: the API is public, as the trace-based tests need,
	// and the construct tells cdk-nag why (AwsSolutions-APIG4, COG4).
	DefaultMethodOptions *awsapigateway.MethodOptions
	// CorsAllowOrigin is the Access-Control-Allow-Origin of every response: the
	// preflight, the gateway's own errors, POST /incident and POST /exam (SubmitExam gets
	// it as CORS_ALLOW_ORIGIN). "*" or one origin (scheme://host[:port]). Default: "*".
	CorsAllowOrigin *string
	// AlarmTopic receives the alarm on failed, timed-out and aborted executions (the
	// definition's catch-all path ends in a Fail state, so it counts). Default: none (the
	// alarm exists, without an action; see Alarm()).
	AlarmTopic awssns.ITopic
	// LoggingLevel turns on API Gateway execution logging for the stage. It needs the
	// account-wide API Gateway CloudWatch Logs role, which this construct does not create
	// (one per account and region, shared by every API). Default: off, and the construct
	// tells cdk-nag why (AwsSolutions-APIG6): the stage has access logs, X-Ray and metrics.
	LoggingLevel awsapigateway.MethodLoggingLevel
	// LogRetention of the API access logs, the state machine and function logs.
	// Default: awslogs.RetentionDays_ONE_YEAR.
	LogRetention awslogs.RetentionDays
	// LogRemovalPolicy of those log groups. Default: awscdk.RemovalPolicy_DESTROY (the
	// logs go with the workflow).
	LogRemovalPolicy awscdk.RemovalPolicy
	// Architecture of the functions. Default: awslambda.Architecture_ARM_64().
	Architecture awslambda.Architecture
	// MemorySize of each function, in MiB (128 to 10240). Default: 256.
	MemorySize *float64
	// Timeout of each function (1 second to 15 minutes). Default: 15 seconds.
	Timeout awscdk.Duration
	// Vpc puts the functions in a VPC (they call DynamoDB, Step Functions, X-Ray and,
	// with a notification mode, SES or SendGrid: give them a route, a NAT gateway or VPC
	// endpoints). Default: no VPC.
	Vpc awsec2.IVpc
	// VpcSubnets of the functions in Vpc. Default: the private subnets with egress.
	VpcSubnets *awsec2.SubnetSelection
	// SecurityGroups of the functions in Vpc. Default: one new group, all egress.
	SecurityGroups *[]awsec2.ISecurityGroup
	// Code of the functions. Default: built from this module's lambda-src at synth, for
	// Architecture, with the go command (see package lambdabuild). CodeFromDirectory
	// takes prebuilt binaries, e.g. from a CI step without Go at synth time.
	Code *PlagiarismCode
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

// all lists the functions in a fixed order.
func (f *PlagiarismFunctions) all() []awslambda.Function {
	return []awslambda.Function{f.RegisterIncident, f.ScheduleExam, f.SendNotification, f.SubmitExam, f.ResolveIncident, f.TakeAdministrativeAction}
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
	// LogGroups are the log groups the construct created, by name: "Api" (access logs),
	// "StateMachine", and one per function ("RegisterIncident", ...).
	LogGroups() map[string]awslogs.ILogGroup
	// ApiStartExecutionRole is the role API Gateway starts executions with.
	ApiStartExecutionRole() awsiam.IRole
	// Alarm fires when an execution fails, times out or is aborted.
	Alarm() awscloudwatch.Alarm
}

type plagiarismStateMachine struct {
	constructs.Construct
	props     PlagiarismStateMachineProps
	window    time.Duration
	sm        sfn.StateMachine
	table     awsdynamodb.ITable
	api       awsapigateway.RestApi
	url       *string
	fns       *PlagiarismFunctions
	logGroups map[string]awslogs.ILogGroup
	startRole awsiam.IRole
	alarm     awscloudwatch.Alarm
}

// NewPlagiarismStateMachine creates the workflow.
func NewPlagiarismStateMachine(scope constructs.Construct, id *string, props *PlagiarismStateMachineProps) PlagiarismStateMachine {
	p, window := validatePlagiarismProps(props)
	w := &plagiarismStateMachine{props: p, window: window, logGroups: map[string]awslogs.ILogGroup{}}
	constructs.NewConstruct_Override(w, scope, id)

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
	w.fns = w.newFunctions()

	// State machine.
	definition, err := asl.Render(asl.Options{ExamWindow: window})
	if err != nil {
		panic(fmt.Errorf("workflow.PlagiarismStateMachine: ExamWindow: %w", err))
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
			panic(fmt.Errorf("workflow.PlagiarismStateMachine: the definition in asl/ uses ${%s}, which the construct does not substitute", name))
		}
	}
	smLogs := w.newLogGroup("StateMachine")
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
	nag.Suppress(w.sm.Role().Node().TryFindChild(jsii.String("DefaultPolicy")).(constructs.IConstruct), "AwsSolutions-IAM5",
		nag.XRayWriteReason+"; so do the CloudWatch Logs delivery actions Step Functions needs for execution logging", "Resource::*")
	// SubmitExam checks the token with a heartbeat before it writes, then reports success;
	// it never fails a task.
	w.sm.Grant(w.fns.SubmitExam, jsii.String("states:SendTaskHeartbeat"), jsii.String("states:SendTaskSuccess"))

	w.api, w.url = w.newApi()
	// The notification tells the student where to submit; the URL names the API, which
	// does not depend on this function, so there is no cycle.
	w.fns.SendNotification.AddEnvironment(jsii.String("SUBMIT_URL"), jsii.String(*w.url+"/exam"), nil)
	w.alarm = w.newAlarm()
	return w
}

// newAlarm alarms on any failed, timed-out or aborted execution within 5 minutes.
func (w *plagiarismStateMachine) newAlarm() awscloudwatch.Alarm {
	period := awscdk.Duration_Minutes(jsii.Number(5))
	opts := &awscloudwatch.MetricOptions{Period: period, Statistic: jsii.String("Sum")}
	failures := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: jsii.String("failed + timedOut + aborted"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"failed":   w.sm.MetricFailed(opts),
			"timedOut": w.sm.MetricTimedOut(opts),
			"aborted":  w.sm.MetricAborted(opts),
		},
		Label:  jsii.String("Failed, timed-out and aborted executions"),
		Period: period,
	})
	alarm := awscloudwatch.NewAlarm(w, jsii.String("FailedExecutionsAlarm"), &awscloudwatch.AlarmProps{
		Metric:             failures,
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		AlarmDescription: jsii.String("A plagiarism workflow execution failed, timed out or was aborted: " +
			"the incident records why (RecordFailure); see the state machine's execution history"),
	})
	if w.props.AlarmTopic != nil {
		alarm.AddAlarmAction(awscloudwatchactions.NewSnsAction(w.props.AlarmTopic))
	}
	return alarm
}

func (w *plagiarismStateMachine) StateMachine() sfn.StateMachine      { return w.sm }
func (w *plagiarismStateMachine) Table() awsdynamodb.ITable           { return w.table }
func (w *plagiarismStateMachine) Api() awsapigateway.RestApi          { return w.api }
func (w *plagiarismStateMachine) Url() *string                        { return w.url }
func (w *plagiarismStateMachine) Functions() *PlagiarismFunctions     { return w.fns }
func (w *plagiarismStateMachine) ApiStartExecutionRole() awsiam.IRole { return w.startRole }
func (w *plagiarismStateMachine) Alarm() awscloudwatch.Alarm          { return w.alarm }
func (w *plagiarismStateMachine) LogGroups() map[string]awslogs.ILogGroup {
	out := make(map[string]awslogs.ILogGroup, len(w.logGroups))
	for k, v := range w.logGroups {
		out[k] = v
	}
	return out
}

// newLogGroup creates the log group <name>Logs (ApiAccessLogs for "Api"), whose logical
// ID is pinned.
func (w *plagiarismStateMachine) newLogGroup(name string) awslogs.ILogGroup {
	id := name + "Logs"
	if name == "Api" {
		id = "ApiAccessLogs"
	}
	lg := awslogs.NewLogGroup(w, jsii.String(id), &awslogs.LogGroupProps{
		Retention:     w.props.LogRetention,
		RemovalPolicy: w.props.LogRemovalPolicy,
	})
	w.logGroups[name] = lg
	return lg
}

var stageName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// known reports whether v is set and resolved at synth: only such values are checked.
func known[T any](v *T) bool { return v != nil && !*awscdk.Token_IsUnresolved(v) }

// validatePlagiarismProps checks props and fills defaults, panicking with a message that
// names the bad property and the fix. It returns the exam window as a time.Duration.
func validatePlagiarismProps(props *PlagiarismStateMachineProps) (PlagiarismStateMachineProps, time.Duration) {
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("workflow.PlagiarismStateMachine: "+format, args...))
	}
	var p PlagiarismStateMachineProps
	if props != nil {
		p = *props
	}
	window := 7 * 24 * time.Hour
	if p.ExamWindow != nil {
		if *p.ExamWindow.IsUnresolved() {
			fail("ExamWindow must be known at synth: it is written into the state machine definition")
		}
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
		for _, f := range []struct {
			name string
			v    *string
		}{{"NotificationFrom", p.NotificationFrom}, {"NotificationTo", p.NotificationTo}} {
			if f.v == nil || (known(f.v) && !email.MatchString(*f.v)) {
				fail("NotificationMode %s needs %s, an email address such as exams@example.com", p.NotificationMode, f.name)
			}
		}
		if p.NotificationMode == NotificationSendGrid && p.SendGridSecret == nil {
			fail("NotificationMode sendgrid needs SendGridSecret, a secret holding the SendGrid API key")
		}
	default:
		fail("NotificationMode %q is not one of log, ses, sendgrid", p.NotificationMode)
	}
	if known(p.ExamUrl) {
		if u, err := url.Parse(*p.ExamUrl); err != nil || u.Scheme != "https" || u.Host == "" {
			fail("ExamUrl %q must be an https URL", *p.ExamUrl)
		}
	}
	if p.ApiName == nil {
		p.ApiName = jsii.String(DefaultApiName)
	} else if known(p.ApiName) && strings.TrimSpace(*p.ApiName) == "" {
		fail("ApiName is empty")
	}
	if p.StageName == nil {
		p.StageName = jsii.String(DefaultStageName)
	} else if !known(p.StageName) || !stageName.MatchString(*p.StageName) {
		// The stage name is part of Url() and of the trace names: it must be known.
		fail("StageName %q must be known at synth and hold only letters, digits, hyphens and underscores", *p.StageName)
	}
	if p.ThrottlingRateLimit == nil {
		p.ThrottlingRateLimit = jsii.Number(10)
	}
	if p.ThrottlingBurstLimit == nil {
		p.ThrottlingBurstLimit = jsii.Number(20)
	}
	if (known(p.ThrottlingRateLimit) && *p.ThrottlingRateLimit <= 0) || (known(p.ThrottlingBurstLimit) && *p.ThrottlingBurstLimit < 1) {
		fail("ThrottlingRateLimit %v and ThrottlingBurstLimit %v must be positive", *p.ThrottlingRateLimit, *p.ThrottlingBurstLimit)
	}
	if p.CorsAllowOrigin == nil {
		p.CorsAllowOrigin = jsii.String("*")
	} else if !known(p.CorsAllowOrigin) || (*p.CorsAllowOrigin != "*" && !origin.MatchString(*p.CorsAllowOrigin)) {
		// It is quoted into header mappings, so it must be known.
		fail("CorsAllowOrigin %q must be * or one origin such as https://exams.example.com (no path), known at synth", *p.CorsAllowOrigin)
	}
	if p.IncidentThrottling == nil {
		p.IncidentThrottling = &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(1), BurstLimit: jsii.Number(5)}
	}
	for _, t := range []struct {
		name string
		v    *awsapigateway.ThrottleSettings
	}{{"IncidentThrottling", p.IncidentThrottling}, {"ExamThrottling", p.ExamThrottling}} {
		if t.v != nil && ((t.v.RateLimit == nil || t.v.BurstLimit == nil) ||
			(known(t.v.RateLimit) && *t.v.RateLimit <= 0) || (known(t.v.BurstLimit) && *t.v.BurstLimit < 1)) {
			fail("%s needs a positive RateLimit and a BurstLimit of at least 1", t.name)
		}
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.LogRemovalPolicy == "" {
		p.LogRemovalPolicy = awscdk.RemovalPolicy_DESTROY
	}
	if p.Architecture == nil {
		p.Architecture = awslambda.Architecture_ARM_64()
	}
	if p.MemorySize == nil {
		p.MemorySize = jsii.Number(256)
	} else if known(p.MemorySize) && (*p.MemorySize < 128 || *p.MemorySize > 10240 || *p.MemorySize != float64(int(*p.MemorySize))) {
		fail("MemorySize %v must be a whole number of MiB from 128 to 10240", *p.MemorySize)
	}
	if p.Timeout == nil {
		p.Timeout = awscdk.Duration_Seconds(jsii.Number(15))
	} else if !*p.Timeout.IsUnresolved() {
		if s := *p.Timeout.ToSeconds(nil); s < 1 || s > 900 {
			fail("Timeout %s must be from 1 second to 15 minutes", *p.Timeout.ToHumanString())
		}
	}
	if p.Vpc == nil && (p.VpcSubnets != nil || p.SecurityGroups != nil) {
		fail("VpcSubnets and SecurityGroups need Vpc")
	}
	return p, window
}

var (
	email  = regexp.MustCompile(`^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$`)
	origin = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$`)
)
