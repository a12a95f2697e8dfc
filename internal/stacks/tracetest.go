package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
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
	// AllowedCidrs (IPv4) may reach Tracetest. Default: none (synth warns).
	AllowedCidrs []string
	// CertificateArn, when set, adds an HTTPS listener for DomainName.
	CertificateArn string
	// DomainName is the name Tracetest is reached by; required with CertificateArn.
	DomainName string
	// HostedZoneId, when set, gets an alias record DomainName -> the load balancer.
	HostedZoneId string
	// Oidc, when set, requires OpenID Connect sign-in on the HTTPS listener.
	Oidc *OidcConfig
}

// TracetestStack runs Tracetest with X-Ray as its data store.
type TracetestStack struct {
	awscdk.Stack
	// Tracetest is the server.
	Tracetest tracing.TracetestService
	// DataStore is the X-Ray data store provisioned into it.
	DataStore tracing.XRayDataStore
}

// NewTracetestStack creates the Tracetest server and its X-Ray data store.
func NewTracetestStack(scope constructs.Construct, id string, props *TracetestStackProps) *TracetestStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	dataStore := tracing.NewXRayDataStore(stack, jsii.String("XRay"), nil)

	var cert awscertificatemanager.ICertificate
	if props.CertificateArn != "" {
		cert = awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Certificate"), &props.CertificateArn)
	}
	var domain *string
	if props.DomainName != "" {
		domain = jsii.String(props.DomainName)
	}
	var zone awsroute53.IHostedZone
	if props.HostedZoneId != "" {
		zone = awsroute53.HostedZone_FromHostedZoneId(stack, jsii.String("Zone"), &props.HostedZoneId)
	}
	var oidc *tracing.TracetestOidc
	if o := props.Oidc; o != nil {
		oidc = &tracing.TracetestOidc{
			Issuer:                jsii.String(o.Issuer),
			AuthorizationEndpoint: jsii.String(o.AuthorizationEndpoint),
			TokenEndpoint:         jsii.String(o.TokenEndpoint),
			UserInfoEndpoint:      jsii.String(o.UserInfoEndpoint),
			ClientId:              jsii.String(o.ClientID),
			ClientSecret:          awscdk.SecretValue_SecretsManager(jsii.String(o.ClientSecretName), nil),
		}
	}
	var peers []awsec2.IPeer
	for _, c := range props.AllowedCidrs {
		peers = append(peers, awsec2.Peer_Ipv4(jsii.String(c)))
	}
	tracetest := tracing.NewTracetestService(stack, jsii.String("Tracetest"), &tracing.TracetestServiceProps{
		Vpc:          props.Vpc,
		Database:     tracing.DatabaseFromInstance(props.Database, props.DatabaseSecret),
		DatabaseName: jsii.String(TracetestDatabaseName),
		DataStore:    dataStore,
		AllowedPeers: &peers,
		Certificate:  cert,
		DomainName:   domain,
		DomainZone:   zone,
		Oidc:         oidc,
	})

	awscdk.NewCfnOutput(stack, jsii.String(TracetestURLOutput), &awscdk.CfnOutputProps{
		Value:       tracetest.Url(),
		Description: jsii.String("Tracetest UI and API (tracetest configure --server-url <this>)"),
	})
	return &TracetestStack{Stack: stack, Tracetest: tracetest, DataStore: dataStore}
}
