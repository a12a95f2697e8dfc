// Command stepfunctions-cdk is the CDK app: Tracetest on ECS Fargate reading traces from
// AWS X-Ray, and the plagiarism workflow it tests (API Gateway, Step Functions, Go Lambdas,
// DynamoDB), in four stacks.
//
//	Network   VPC: public, private-with-egress and isolated subnets over 2 AZs, flow logs
//	Data      RDS Postgres for Tracetest, credentials in Secrets Manager
//	Tracetest TracetestService (Fargate + ALB :11633) + XRayDataStore
//	Workflow  PlagiarismStateMachine: REST API, state machine, Lambdas, table
//
// Run it with `make synth` (or `npx cdk synth`); it needs no AWS account.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(appProps(nil))
	if _, err := newApp(app); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	app.Synth(nil)
}

// appProps are the App settings every synth uses, in `cdk synth` and in the tests alike.
// context holds extra context (the tests pass cdk.json's; the CLI passes it itself).
//
// The same commit must synthesize to byte-identical output anywhere, so what would vary is
// off: stack traces in construct metadata (they carry temporary paths of the jsii runtime)
// and the performance report, a performance-counters.json of timings that aws-cdk-lib
// writes into cdk.out when a synth takes more than 10 s per stack (a synth with a cold Go
// build cache does). These keys live here rather than in cdk.json because the CLI reserves
// "aws:" keys there.
func appProps(context map[string]any) *awscdk.AppProps {
	ctx := map[string]any{
		"aws:cdk:disable-stack-trace":           true,
		"aws:cdk:disable-creation-stack-traces": true,
		// The CLI sets this itself; the tests need the same construct paths in templates.
		"aws:cdk:enable-path-metadata": true,
	}
	for k, v := range context {
		ctx[k] = v
	}
	return &awscdk.AppProps{
		Context:              &ctx,
		StackTraces:          jsii.Bool(false),
		AnalyticsReporting:   jsii.Bool(false),
		PerformanceReporting: jsii.Bool(false),
	}
}

// appStacks are the stacks of one app, returned for tests.
type appStacks struct {
	Config    stacks.Config
	Network   *stacks.NetworkStack
	Data      *stacks.DataStack
	Tracetest *stacks.TracetestStack
	Workflow  *stacks.WorkflowStack
	// CiRole is nil unless githubOidcRepo is set.
	CiRole *stacks.CiRoleStack
}

// newApp adds the stacks to app, wired the way the architecture diagram in the README draws
// them. Every stack is environment-agnostic: synth needs no account, region or lookup.
func newApp(app awscdk.App) (*appStacks, error) {
	cfg, err := stacks.ConfigFromContext(app)
	if err != nil {
		return nil, err
	}

	network := stacks.NewNetworkStack(app, cfg.StackName("Network"), &stacks.NetworkStackProps{
		StackProps:  awscdk.StackProps{Description: jsii.String("Tracetest + Step Functions: VPC")},
		NatGateways: cfg.NatGateways,
	})

	data := stacks.NewDataStack(app, cfg.StackName("Data"), &stacks.DataStackProps{
		StackProps:          awscdk.StackProps{Description: jsii.String("Tracetest + Step Functions: Tracetest's Postgres database")},
		Vpc:                 network.Vpc,
		InstanceType:        cfg.DBInstanceType,
		DeletionProtection:  cfg.DBDeletionProtection,
		RemovalPolicy:       cfg.DBRemovalPolicy,
		BackupRetentionDays: cfg.DBBackupRetentionDays,
	})

	tracetest := stacks.NewTracetestStack(app, cfg.StackName("Tracetest"), &stacks.TracetestStackProps{
		StackProps:     awscdk.StackProps{Description: jsii.String("Tracetest + Step Functions: Tracetest on Fargate with the X-Ray data store")},
		Vpc:            network.Vpc,
		Database:       data.Database,
		DatabaseSecret: data.Secret,
		AllowedCidrs:   cfg.TracetestAllowedCidrs,
		CertificateArn: cfg.TracetestCertificateArn,
		DomainName:     cfg.TracetestDomainName,
		HostedZoneId:   cfg.TracetestHostedZoneId,
		Oidc:           cfg.TracetestOidc,
	})

	workflow := stacks.NewWorkflowStack(app, cfg.StackName("Workflow"), &stacks.WorkflowStackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("Tracetest + Step Functions: the plagiarism workflow under test")},
	})

	// The GitHub Actions role (docs/PULL_REQUESTS.md) is opt-in: -c githubOidcRepo=owner/repo.
	ci, err := stacks.CiRoleConfigFromContext(app)
	if err != nil {
		return nil, err
	}
	var ciRole *stacks.CiRoleStack
	if ci != nil {
		ciRole = stacks.NewCiRoleStack(app, cfg.StackName("GitHubCi"), &stacks.CiRoleStackProps{
			StackProps:   awscdk.StackProps{Description: jsii.String("Tracetest + Step Functions: role for the GitHub Actions trace-based test workflow")},
			CiRoleConfig: *ci,
		})
	}

	stacks.AddComplianceChecks(app)

	return &appStacks{Config: cfg, Network: network, Data: data, Tracetest: tracetest, Workflow: workflow, CiRole: ciRole}, nil
}
