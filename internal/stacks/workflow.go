package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/recipe"
)

// Outputs of the workflow stack, read by cmd/tracetest-vars after `cdk deploy --outputs-file`.
const (
	APIURLOutput          = "StepFunctionsAPIUrl"
	StateMachineArnOutput = "StateMachineArn"
)

// WorkflowStackProps configures NewWorkflowStack.
type WorkflowStackProps struct {
	awscdk.StackProps
}

// WorkflowStack holds the plagiarism workflow under test.
type WorkflowStack struct {
	awscdk.Stack
	// Workflow is the API, state machine, functions and table.
	Workflow recipe.PlagiarismStateMachine
}

// NewWorkflowStack creates the workflow with the upstream API and stage names, which the
// trace-based tests select spans by.
func NewWorkflowStack(scope constructs.Construct, id string, props *WorkflowStackProps) *WorkflowStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	workflow := recipe.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &recipe.PlagiarismStateMachineProps{})

	// The workflow's API is public by design, as upstream: Tracetest triggers it without AWS
	// credentials. Request validation, throttling and CORS are its protection.
	api := workflow.Api()
	for _, path := range []string{"/incident", "/exam"} {
		method := api.Root().ResourceForPath(jsii.String(path)).Node().TryFindChild(jsii.String("POST")).(constructs.IConstruct)
		suppressNag(method, "AwsSolutions-APIG4",
			"public by design: Tracetest triggers the workflow without AWS credentials; bodies are validated and the stage is throttled")
		suppressNag(method, "AwsSolutions-COG4",
			"public by design: no Cognito user pool, for the same reason as APIG4")
	}
	suppressNag(api.DeploymentStage(), "AwsSolutions-APIG6",
		"execution logging needs the account-wide API Gateway CloudWatch role (a singleton shared by every API in the account); the stage has access logs, X-Ray tracing and metrics")

	awscdk.NewCfnOutput(stack, jsii.String(APIURLOutput), &awscdk.CfnOutputProps{
		Value:       workflow.Url(),
		Description: jsii.String("REST API stage URL: POST <this>/incident, POST <this>/exam"),
	})
	awscdk.NewCfnOutput(stack, jsii.String(StateMachineArnOutput), &awscdk.CfnOutputProps{
		Value:       workflow.StateMachine().StateMachineArn(),
		Description: jsii.String("Plagiarism state machine"),
	})
	return &WorkflowStack{Stack: stack, Workflow: workflow}
}
