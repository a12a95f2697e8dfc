package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
)

// Tracetest's database and user in the RDS instance.
const (
	TracetestDatabaseName = "tracetest"
	TracetestDatabaseUser = "tracetest"
)

// DatabasePort is not Postgres' default, so scans for 5432 find nothing.
const DatabasePort = 5433

// DataStackProps configures NewDataStack.
type DataStackProps struct {
	awscdk.StackProps
	// Vpc is where the database lives, in its isolated subnets.
	Vpc awsec2.IVpc
	// InstanceType is the RDS instance class without "db.". Default: "t4g.micro".
	InstanceType string
	// DeletionProtection turns on RDS deletion protection. Default: false (the app's
	// context default is true).
	DeletionProtection bool
	// RemovalPolicy applies to the instance. Default: awscdk.RemovalPolicy_SNAPSHOT.
	RemovalPolicy awscdk.RemovalPolicy
	// BackupRetentionDays is how long automated backups are kept. Default: 7.
	BackupRetentionDays int
}

// DataStack holds the stateful resources: Tracetest's Postgres database and its secret.
type DataStack struct {
	awscdk.Stack
	// Database is Tracetest's Postgres instance.
	Database awsrds.DatabaseInstance
	// Secret holds the generated credentials (JSON keys username, password, host, port,
	// dbname, engine).
	Secret awssecretsmanager.ISecret
}

// NewDataStack creates an encrypted, backed-up Postgres instance that only accepts TLS.
func NewDataStack(scope constructs.Construct, id string, props *DataStackProps) *DataStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	instanceType := props.InstanceType
	if instanceType == "" {
		instanceType = "t4g.micro"
	}
	removal := props.RemovalPolicy
	if removal == "" {
		removal = awscdk.RemovalPolicy_SNAPSHOT
	}
	retention := props.BackupRetentionDays
	if retention == 0 {
		retention = 7
	}

	engine := awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{
		Version: awsrds.PostgresEngineVersion_VER_17_9(),
	})
	// rds.force_ssl=1 makes the server refuse unencrypted connections, whatever the client
	// asks for; Tracetest connects with sslmode=require.
	params := awsrds.NewParameterGroup(stack, jsii.String("Parameters"), &awsrds.ParameterGroupProps{
		Engine:      engine,
		Description: jsii.String("Tracetest Postgres: TLS only, connection logging"),
		Parameters: &map[string]*string{
			"rds.force_ssl":      jsii.String("1"),
			"log_connections":    jsii.String("1"),
			"log_disconnections": jsii.String("1"),
		},
	})
	db := awsrds.NewDatabaseInstance(stack, jsii.String("Database"), &awsrds.DatabaseInstanceProps{
		Engine:       engine,
		InstanceType: awsec2.NewInstanceType(jsii.String(instanceType)),
		Vpc:          props.Vpc,
		VpcSubnets:   &awsec2.SubnetSelection{SubnetGroupName: jsii.String(IsolatedSubnets)},
		DatabaseName: jsii.String(TracetestDatabaseName),
		Port:         jsii.Number(DatabasePort),
		// Tracetest puts the password into its connection URL unescaped: only characters
		// that need no escaping (the construct refuses any other generator).
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String(TracetestDatabaseUser), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
		}),
		ParameterGroup:             params,
		StorageEncrypted:           jsii.Bool(true),
		StorageType:                awsrds.StorageType_GP3,
		AllocatedStorage:           jsii.Number(20),
		MaxAllocatedStorage:        jsii.Number(100),
		BackupRetention:            awscdk.Duration_Days(jsii.Number(retention)),
		PreferredBackupWindow:      jsii.String("03:00-04:00"),
		PreferredMaintenanceWindow: jsii.String("sun:04:30-sun:05:30"),
		DeletionProtection:         jsii.Bool(props.DeletionProtection),
		RemovalPolicy:              removal,
		AutoMinorVersionUpgrade:    jsii.Bool(true),
		CopyTagsToSnapshot:         jsii.Bool(true),
		// RDS creates these log groups itself. Their retention is not set here: the
		// construct's CloudwatchLogsRetention puts a token into a construct id, which makes
		// tree.json differ between two synths of the same commit.
		CloudwatchLogsExports:     jsii.Strings("postgresql", "upgrade"),
		IamAuthentication:         jsii.Bool(true),
		EnablePerformanceInsights: jsii.Bool(false),
		PubliclyAccessible:        jsii.Bool(false),
		MultiAz:                   jsii.Bool(false),
	})
	if !props.DeletionProtection {
		suppressNag(db, "AwsSolutions-RDS10",
			"deletion protection turned off on purpose by the context key dbDeletionProtection=false (throwaway environments)")
	}
	suppressNag(db, "AwsSolutions-RDS3",
		"single-AZ by design: the database holds Tracetest's test runs, which can be re-run; Multi-AZ would double the largest idle cost (see docs/COST.md)")
	// db.Secret() is the attachment; the secret itself is the "Secret" child.
	suppressNag(db.Node().FindChild(jsii.String("Secret")), "AwsSolutions-SMG4",
		"not rotated automatically: Tracetest reads the password once at start, so a rotation would break the running server until its next deployment; rotate by redeploying (docs/SECURITY.md)")
	return &DataStack{Stack: stack, Database: db, Secret: db.Secret()}
}
