package workflow

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/nag"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

// PlagiarismCode is the code of the six functions, each a provided.al2023 `bootstrap`
// for the functions' Architecture.
type PlagiarismCode struct {
	RegisterIncident         awslambda.Code
	ScheduleExam             awslambda.Code
	SendNotification         awslambda.Code
	SubmitExam               awslambda.Code
	ResolveIncident          awslambda.Code
	TakeAdministrativeAction awslambda.Code
}

// functionDirs maps each function to its directory under lambda-src/cmd (and under a
// CodeFromDirectory directory).
var functionDirs = []struct {
	id, dir string
	code    func(*PlagiarismCode) *awslambda.Code
}{
	{"RegisterIncident", "registerincident", func(c *PlagiarismCode) *awslambda.Code { return &c.RegisterIncident }},
	{"ScheduleExam", "scheduleexam", func(c *PlagiarismCode) *awslambda.Code { return &c.ScheduleExam }},
	{"SendNotification", "sendnotification", func(c *PlagiarismCode) *awslambda.Code { return &c.SendNotification }},
	{"SubmitExam", "submitexam", func(c *PlagiarismCode) *awslambda.Code { return &c.SubmitExam }},
	{"ResolveIncident", "resolveincident", func(c *PlagiarismCode) *awslambda.Code { return &c.ResolveIncident }},
	{"TakeAdministrativeAction", "takeadministrativeaction", func(c *PlagiarismCode) *awslambda.Code { return &c.TakeAdministrativeAction }},
}

// CodeFromDirectory takes prebuilt binaries laid out as <dir>/<function>/bootstrap, with
// <function> one of registerincident, scheduleexam, sendnotification, submitexam,
// resolveincident, takeadministrativeaction: what lambdabuild.Build writes with
// Options.OutDir, or what `GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc
// -o <dir>/<function>/bootstrap ./lambda-src/cmd/<function>` gives. It panics when one is
// missing.
func CodeFromDirectory(dir string) *PlagiarismCode {
	code := &PlagiarismCode{}
	for _, f := range functionDirs {
		path := filepath.Join(dir, f.dir)
		if info, err := os.Stat(filepath.Join(path, "bootstrap")); err != nil || !info.Mode().IsRegular() {
			panic(fmt.Errorf("workflow.CodeFromDirectory: no %s/bootstrap in %s: build the functions into <dir>/<function>/bootstrap", f.dir, dir))
		}
		*f.code(code) = awslambda.Code_FromAsset(jsii.String(path), nil)
	}
	return code
}

// SendNotificationDir is the directory under lambda-src/cmd of the SendNotification
// binary the construct builds for mode: sendnotification-log, -ses or -sendgrid, each
// linking only the AWS clients of its mode. lambda-src/cmd/sendnotification serves every
// mode; CodeFromDirectory and prebuilt code use it.
func SendNotificationDir(mode NotificationMode) string {
	return "sendnotification-" + string(mode)
}

// builtCode builds the functions from this module's source for arch, SendNotification as
// the binary of mode (SendNotificationDir), which links only that mode's AWS clients.
func builtCode(arch awslambda.Architecture, mode NotificationMode) *PlagiarismCode {
	goarch := "arm64"
	if *arch.Name() == *awslambda.Architecture_X86_64().Name() {
		goarch = "amd64"
	}
	built, err := lambdabuild.Build(lambdabuild.Options{Arch: goarch})
	if err != nil {
		panic(fmt.Errorf("workflow.PlagiarismStateMachine: build the Lambda functions (or give prebuilt ones in Code): %w", err))
	}
	code := &PlagiarismCode{}
	for _, f := range functionDirs {
		name := f.dir
		if f.id == "SendNotification" {
			name = SendNotificationDir(mode)
		}
		dir, ok := built[name]
		if !ok {
			panic(fmt.Errorf("workflow.PlagiarismStateMachine: no function %q under %s", name, lambdabuild.SourceDir))
		}
		*f.code(code) = awslambda.Code_FromAsset(jsii.String(dir), nil)
	}
	return code
}

// tableActions are the only DynamoDB calls the functions make (storage package: GetItem
// to load, a conditional UpdateItem to save).
var tableActions = []string{"dynamodb:GetItem", "dynamodb:UpdateItem"}

// keyActions are what DynamoDB needs of a caller's permissions on a customer managed key
// to read and write items (no wildcard, unlike GrantReadWriteData's kms:GenerateDataKey*).
var keyActions = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}

// newFunctions creates the six functions, each with a role and log group of its own.
func (w *plagiarismStateMachine) newFunctions() *PlagiarismFunctions {
	p := w.props
	code := p.Code
	if code == nil {
		code = builtCode(p.Architecture, p.NotificationMode)
	}
	for _, f := range functionDirs {
		if *f.code(code) == nil {
			panic(fmt.Errorf("workflow.PlagiarismStateMachine: Code.%s is nil: give all six, or none to build them", f.id))
		}
	}
	stack := awscdk.Stack_Of(w)

	newFn := func(id, description string, code awslambda.Code, env map[string]*string) awslambda.Function {
		logs := w.newLogGroup(id)
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
		reason := nag.XRayWriteReason
		if p.Vpc != nil {
			// What AWSLambdaVPCAccessExecutionRole grants, which Lambda adds only to roles
			// it creates itself.
			role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions: jsii.Strings("ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
					"ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"),
				Resources: jsii.Strings("*"),
			}))
			reason += "; so do the network interface actions a function in a VPC needs (those of AWSLambdaVPCAccessExecutionRole)"
		}
		fn := awslambda.NewFunction(w, jsii.String(id), &awslambda.FunctionProps{
			Role:           role,
			Description:    jsii.String(description),
			Runtime:        awslambda.Runtime_PROVIDED_AL2023(),
			Architecture:   p.Architecture,
			Handler:        jsii.String("bootstrap"),
			Code:           code,
			MemorySize:     p.MemorySize,
			Timeout:        p.Timeout,
			Tracing:        awslambda.Tracing_ACTIVE,
			LoggingFormat:  awslambda.LoggingFormat_JSON,
			LogGroup:       logs,
			Environment:    &env,
			Vpc:            p.Vpc,
			VpcSubnets:     p.VpcSubnets,
			SecurityGroups: p.SecurityGroups,
		})
		nag.Suppress(role.Node().TryFindChild(jsii.String("DefaultPolicy")).(constructs.IConstruct), "AwsSolutions-IAM5", reason, "Resource::*")
		return fn
	}
	tableEnv := func(extra map[string]*string) map[string]*string {
		env := map[string]*string{"TABLE_NAME": w.table.TableName()}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	notifyEnv := tableEnv(map[string]*string{"NOTIFICATION_MODE": jsii.String(string(p.NotificationMode))})
	if p.NotificationMode != NotificationLog {
		notifyEnv["NOTIFICATION_FROM"], notifyEnv["NOTIFICATION_TO"] = p.NotificationFrom, p.NotificationTo
	}
	if p.SendGridSecret != nil {
		notifyEnv["SENDGRID_SECRET_ARN"] = p.SendGridSecret.SecretArn()
	}
	if p.ExamUrl != nil {
		notifyEnv["EXAM_URL"] = p.ExamUrl
	}
	if p.TraceTaskToken != nil && *p.TraceTaskToken {
		notifyEnv["TRACE_TASK_TOKEN"] = jsii.String("true")
	}
	fns := &PlagiarismFunctions{
		RegisterIncident: newFn("RegisterIncident", "Validates a new plagiarism incident and assigns its id", code.RegisterIncident, map[string]*string{}),
		ScheduleExam: newFn("ScheduleExam", "Schedules the next exam of an incident (at most three)", code.ScheduleExam, tableEnv(map[string]*string{
			"EXAM_WINDOW": jsii.String(fmt.Sprintf("%ds", int64(w.window/time.Second))),
		})),
		SendNotification: newFn("SendNotification", "Tells the student where to take the exam; the workflow waits for the result", code.SendNotification, notifyEnv),
		SubmitExam: newFn("SubmitExam", "POST /exam: records a score and resumes the workflow", code.SubmitExam, tableEnv(map[string]*string{
			"CORS_ALLOW_ORIGIN": p.CorsAllowOrigin,
		})),
		ResolveIncident:          newFn("ResolveIncident", "Marks an incident resolved", code.ResolveIncident, tableEnv(nil)),
		TakeAdministrativeAction: newFn("TakeAdministrativeAction", "Marks an incident as needing administrative action", code.TakeAdministrativeAction, tableEnv(nil)),
	}
	for _, fn := range fns.all()[1:] {
		w.grantTable(fn)
	}
	switch p.NotificationMode {
	case NotificationSES:
		// Sending is allowed through the identity of the From address or of its domain
		// (whichever SES verified), from that address only: no wildcard.
		domain := awscdk.Fn_Select(jsii.Number(1), awscdk.Fn_Split(jsii.String("@"), p.NotificationFrom, jsii.Number(2)))
		identity := func(name *string) *string {
			return jsii.String(fmt.Sprintf("arn:%s:ses:%s:%s:identity/%s", *stack.Partition(), *stack.Region(), *stack.Account(), *name))
		}
		fns.SendNotification.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:    jsii.Strings("ses:SendEmail"),
			Resources:  &[]*string{identity(p.NotificationFrom), identity(domain)},
			Conditions: &map[string]any{"StringEquals": map[string]any{"ses:FromAddress": p.NotificationFrom}},
		}))
	case NotificationSendGrid:
		p.SendGridSecret.GrantRead(fns.SendNotification, nil)
	}
	return fns
}

// grantTable lets fn load and save incidents: the two DynamoDB actions on the table, and
// the customer managed key the table is encrypted with, if any (Table.Grant alone covers
// only the table).
func (w *plagiarismStateMachine) grantTable(fn awslambda.Function) {
	w.table.Grant(fn, *jsii.Strings(tableActions...)...)
	if key := w.table.EncryptionKey(); key != nil {
		key.Grant(fn, *jsii.Strings(keyActions...)...)
	}
}
