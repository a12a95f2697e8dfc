package recipe_test

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/recipe"
)

// Tracetest in your own VPC, storing its data in your own Postgres database, reachable
// from one office range.
func ExampleNewTracetestService() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracetest"), nil)

	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	db := awsrds.NewDatabaseInstance(stack, jsii.String("Db"), &awsrds.DatabaseInstanceProps{
		Engine: awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{
			Version: awsrds.PostgresEngineVersion_VER_17_9(),
		}),
		Vpc:          vpc,
		DatabaseName: jsii.String("tracetest"),
		// Tracetest does not escape the password in its connection URL.
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}~"),
		}),
	})

	tracetest := recipe.NewTracetestService(stack, jsii.String("Tracetest"), &recipe.TracetestServiceProps{
		Vpc:            vpc,
		Database:       db,
		DatabaseSecret: db.Secret(),
		AllowedCidrs:   jsii.Strings("203.0.113.0/24"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("TracetestUrl"), &awscdk.CfnOutputProps{Value: tracetest.Url()})

	tpl := assertions.Template_FromStack(stack, nil)
	fmt.Println("services:", len(*tpl.FindResources(jsii.String("AWS::ECS::Service"), nil)))
	fmt.Println("image:", recipe.TracetestImage)
	// Output:
	// services: 1
	// image: kubeshop/tracetest:v1.7.1
}

// The X-Ray data store alone, for Tracetest running elsewhere (here: a role that an EKS
// pod or an EC2 instance would use). Put ProvisioningBase64 into the server's
// TRACETEST_PROVISIONING environment variable.
func ExampleNewXRayDataStore() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Traces"), nil)

	store := recipe.NewXRayDataStore(stack, jsii.String("XRay"), &recipe.XRayDataStoreProps{
		PollingTimeout: awscdk.Duration_Minutes(jsii.Number(3)),
	})
	role := awsiam.NewRole(stack, jsii.String("TracetestRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
	})
	store.GrantRead(role)
	awscdk.NewCfnOutput(stack, jsii.String("Provisioning"), &awscdk.CfnOutputProps{Value: store.ProvisioningBase64()})

	tpl := assertions.Template_FromStack(stack, nil)
	for _, p := range *tpl.FindResources(jsii.String("AWS::IAM::Policy"), nil) {
		statement := (*p)["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any)[0]
		fmt.Println("granted:", statement.(map[string]any)["Action"])
	}
	// Output:
	// granted: xray:BatchGetTraces
}

// The plagiarism workflow with a table of your own. The construct compiles the six Go
// functions from this module's source with your Go toolchain at synth time.
func ExampleNewPlagiarismStateMachine() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Workflow"), nil)

	table := awsdynamodb.NewTableV2(stack, jsii.String("Incidents"), &awsdynamodb.TablePropsV2{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(recipe.IncidentKey), Type: awsdynamodb.AttributeType_STRING},
	})
	workflow := recipe.NewPlagiarismStateMachine(stack, jsii.String("Plagiarism"), &recipe.PlagiarismStateMachineProps{
		Table:      table,
		ExamWindow: awscdk.Duration_Days(jsii.Number(3)),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: workflow.Url()})

	tpl := assertions.Template_FromStack(stack, nil)
	fmt.Println("functions:", len(*tpl.FindResources(jsii.String("AWS::Lambda::Function"), nil)))
	fmt.Println("state machines:", len(*tpl.FindResources(jsii.String("AWS::StepFunctions::StateMachine"), nil)))
	// Output:
	// functions: 6
	// state machines: 1
}
