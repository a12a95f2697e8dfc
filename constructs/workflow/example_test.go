package workflow_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow"
)

// The plagiarism workflow with a table of your own, encrypted with your own KMS key: the
// functions that store incidents are granted the table and the key. The construct builds
// the six Go functions from this module's source with your Go toolchain at synth time
// (cached: an unchanged build costs milliseconds).
func ExampleNewPlagiarismStateMachine() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Workflow"), nil)

	key := awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
	table := awsdynamodb.NewTable(stack, jsii.String("Incidents"), &awsdynamodb.TableProps{
		PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String(workflow.IncidentKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: key,
	})
	plagiarism := workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		Table:      table,
		ExamWindow: awscdk.Duration_Days(jsii.Number(3)),
		MemorySize: jsii.Number(512),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: plagiarism.Url()})

	tpl := assertions.Template_FromStack(stack, nil)
	fmt.Println("functions:", len(*tpl.FindResources(jsii.String("AWS::Lambda::Function"), nil)))
	fmt.Println("state machines:", len(*tpl.FindResources(jsii.String("AWS::StepFunctions::StateMachine"), nil)))
	// Output:
	// functions: 6
	// state machines: 1
}

// Prebuilt functions, e.g. from a CI step, instead of a build at synth: one
// <function>/bootstrap per function.
func ExampleCodeFromDirectory() {
	dir, _ := os.MkdirTemp("", "functions-")
	defer os.RemoveAll(dir)
	for _, name := range []string{"registerincident", "scheduleexam", "sendnotification", "submitexam", "resolveincident", "takeadministrativeaction"} {
		os.MkdirAll(filepath.Join(dir, name), 0o755)
		os.WriteFile(filepath.Join(dir, name, "bootstrap"), []byte("prebuilt "+name), 0o755)
	}

	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Workflow"), nil)
	workflow.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{
		Code: workflow.CodeFromDirectory(dir),
	})
	fmt.Println("functions:", len(*assertions.Template_FromStack(stack, nil).FindResources(jsii.String("AWS::Lambda::Function"), nil)))
	// Output:
	// functions: 6
}
