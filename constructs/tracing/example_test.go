package tracing_test

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
)

// Tracetest in your own VPC, storing its data in your own RDS Postgres instance,
// reachable from one office range.
func ExampleNewTracetestService() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracetest"), nil)

	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	db := awsrds.NewDatabaseInstance(stack, jsii.String("Db"), &awsrds.DatabaseInstanceProps{
		Engine: awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{
			Version: awsrds.PostgresEngineVersion_VER_17_9(),
		}),
		Vpc:              vpc,
		DatabaseName:     jsii.String("tracetest"),
		StorageEncrypted: jsii.Bool(true),
		// Tracetest does not escape the password in its connection URL; the construct
		// refuses a generator that could produce a character that needs escaping.
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
		}),
	})

	tracetest := tracing.NewTracetestService(stack, jsii.String("Tracetest"), &tracing.TracetestServiceProps{
		Vpc:          vpc,
		Database:     tracing.DatabaseFromInstance(db, nil),
		AllowedPeers: &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("203.0.113.0/24"))},
	})
	awscdk.NewCfnOutput(stack, jsii.String("TracetestUrl"), &awscdk.CfnOutputProps{Value: tracetest.Url()})

	tpl := assertions.Template_FromStack(stack, nil)
	fmt.Println("services:", len(*tpl.FindResources(jsii.String("AWS::ECS::Service"), nil)))
	fmt.Println("image:", tracing.TracetestImage)
	// Output:
	// services: 1
	// image: kubeshop/tracetest:v1.7.1
}

// Any Postgres works: here an Aurora Serverless v2 cluster, through its writer endpoint.
// For an RDS proxy, give a Database with the proxy's endpoint and connections.
func ExampleDatabaseFromCluster() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Tracetest"), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	cluster := awsrds.NewDatabaseCluster(stack, jsii.String("Aurora"), &awsrds.DatabaseClusterProps{
		Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{
			Version: awsrds.AuroraPostgresEngineVersion_VER_16_6(),
		}),
		Vpc:                     vpc,
		Writer:                  awsrds.ClusterInstance_ServerlessV2(jsii.String("Writer"), nil),
		ServerlessV2MinCapacity: jsii.Number(0.5),
		DefaultDatabaseName:     jsii.String("tracetest"),
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
		}),
	})
	tracing.NewTracetestService(stack, jsii.String("Tracetest"), &tracing.TracetestServiceProps{
		Vpc:      vpc,
		Database: tracing.DatabaseFromCluster(cluster, nil),
	})

	tpl := assertions.Template_FromStack(stack, nil)
	fmt.Println("clusters:", len(*tpl.FindResources(jsii.String("AWS::RDS::DBCluster"), nil)))
	// Output:
	// clusters: 1
}

// The X-Ray data store alone, for Tracetest running elsewhere (here: a role that an EKS
// pod or an EC2 instance would use). Put ProvisioningBase64 into the server's
// TRACETEST_PROVISIONING environment variable.
func ExampleNewXRayDataStore() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Traces"), nil)

	store := tracing.NewXRayDataStore(stack, jsii.String("XRay"), &tracing.XRayDataStoreProps{
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
