package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow"
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
	Workflow workflow.PlagiarismStateMachine
}

// NewWorkflowStack creates the workflow with the upstream API and stage names, which the
// trace-based tests select spans by. Its API is public by design, as upstream: Tracetest
// triggers it without AWS credentials. The task token goes into the trace, because that
// is where the trace-based tests read it (docs/SECURITY.md says who else can).
func NewWorkflowStack(scope constructs.Construct, id string, props *WorkflowStackProps) *WorkflowStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	plagiarism := workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		TraceTaskToken: jsii.Bool(true),
	})

	awscdk.NewCfnOutput(stack, jsii.String(APIURLOutput), &awscdk.CfnOutputProps{
		Value:       plagiarism.Url(),
		Description: jsii.String("REST API stage URL: POST <this>/incident, POST <this>/exam"),
	})
	awscdk.NewCfnOutput(stack, jsii.String(StateMachineArnOutput), &awscdk.CfnOutputProps{
		Value:       plagiarism.StateMachine().StateMachineArn(),
		Description: jsii.String("Plagiarism state machine"),
	})
	return &WorkflowStack{Stack: stack, Workflow: plagiarism}
}
