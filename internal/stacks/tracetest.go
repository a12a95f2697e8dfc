package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/recipe"
)

// TracetestURLOutput is the stack output holding the Tracetest URL.
const TracetestURLOutput = "TracetestUrl"

// TracetestStackProps configures NewTracetestStack.
type TracetestStackProps struct {
	awscdk.StackProps
	// Vpc to run in (from the network stack).
	Vpc awsec2.IVpc
	// Database and DatabaseSecret come from the data stack.
	Database       awsrds.IDatabaseInstance
	DatabaseSecret awssecretsmanager.ISecret
	// AllowedCidrs may reach Tracetest. Default: none (synth warns).
	AllowedCidrs []string
	// CertificateArn, when set, adds an HTTPS listener.
	CertificateArn string
	// Oidc, when set, requires OpenID Connect sign-in on the HTTPS listener.
	Oidc *OidcConfig
}

// TracetestStack runs Tracetest with X-Ray as its data store.
type TracetestStack struct {
	awscdk.Stack
	// Tracetest is the server.
	Tracetest recipe.TracetestService
	// DataStore is the X-Ray data store provisioned into it.
	DataStore recipe.XRayDataStore
}

// NewTracetestStack creates the Tracetest server and its X-Ray data store.
func NewTracetestStack(scope constructs.Construct, id string, props *TracetestStackProps) *TracetestStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	dataStore := recipe.NewXRayDataStore(stack, jsii.String("XRay"), nil)

	var cert awscertificatemanager.ICertificate
	if props.CertificateArn != "" {
		cert = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), &props.CertificateArn)
	}
	var oidc *recipe.TracetestOidc
	if o := props.Oidc; o != nil {
		oidc = &recipe.TracetestOidc{
			Issuer:                jsii.String(o.Issuer),
			AuthorizationEndpoint: jsii.String(o.AuthorizationEndpoint),
			TokenEndpoint:         jsii.String(o.TokenEndpoint),
			UserInfoEndpoint:      jsii.String(o.UserInfoEndpoint),
			ClientId:              jsii.String(o.ClientID),
			ClientSecret:          awscdk.SecretValue_SecretsManager(jsii.String(o.ClientSecretName), nil),
		}
	}
	tracetest := recipe.NewTracetestService(stack, jsii.String("Tracetest"), &recipe.TracetestServiceProps{
		Vpc:            props.Vpc,
		Database:       props.Database,
		DatabaseSecret: props.DatabaseSecret,
		DatabaseName:   jsii.String(TracetestDatabaseName),
		DataStore:      dataStore,
		AllowedCidrs:   jsii.Strings(props.AllowedCidrs...),
		Certificate:    cert,
		Oidc:           oidc,
	})

	suppressNag(tracetest.LoadBalancer(), "AwsSolutions-ELB2",
		"no access-log bucket by default: the load balancer only serves the allowed CIDR ranges, and the flow logs of the network stack record every connection")

	awscdk.NewCfnOutput(stack, jsii.String(TracetestURLOutput), &awscdk.CfnOutputProps{
		Value:       tracetest.Url(),
		Description: jsii.String("Tracetest UI and API (tracetest configure --server-url <this>)"),
	})
	return &TracetestStack{Stack: stack, Tracetest: tracetest, DataStore: dataStore}
}
