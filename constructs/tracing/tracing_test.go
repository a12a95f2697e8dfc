package tracing_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/cdktest"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// scratch is a stack with a VPC and an RDS instance whose password is URL-safe.
type scratch struct {
	app   awscdk.App
	stack awscdk.Stack
	vpc   awsec2.Vpc
	db    awsrds.DatabaseInstance
}

func newScratch() *scratch { return newScratchIn(nil) }

// newScratchIn is newScratch in a stack with the given environment.
func newScratchIn(env *awscdk.Environment) *scratch {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"aws:cdk:disable-stack-trace": true, "aws:cdk:enable-path-metadata": true,
	}})
	st := awscdk.NewStack(app, jsii.String("Scratch"), &awscdk.StackProps{Env: env})
	vpc := awsec2.NewVpc(st, jsii.String("Vpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1)})
	db := awsrds.NewDatabaseInstance(st, jsii.String("Db"), &awsrds.DatabaseInstanceProps{
		Engine: awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_17_9()}),
		Vpc:    vpc,
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
		}),
	})
	return &scratch{app: app, stack: st, vpc: vpc, db: db}
}

func (s *scratch) props() *tracing.TracetestServiceProps {
	return &tracing.TracetestServiceProps{Vpc: s.vpc, Database: tracing.DatabaseFromInstance(s.db, nil)}
}

func (s *scratch) template(t *testing.T) map[string]any {
	t.Helper()
	var tpl map[string]any
	raw := assertions.Template_FromStack(s.stack, nil).ToJSON()
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &tpl); err != nil {
		t.Fatal(err)
	}
	return tpl
}

// resources returns the resources of type typ by logical ID.
func resources(tpl map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range tpl["Resources"].(map[string]any) {
		if r := r.(map[string]any); r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// mustPanic runs f and returns its panic message, failing the test when it does not panic.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Errorf("panic = %v, want a message containing %q", r, want)
		}
	}()
	f()
}

// nagErrors applies the AwsSolutions rules to the whole app, as an importing team does,
// and returns the error findings of stack.
func nagErrors(app awscdk.App, stack awscdk.Stack) []string {
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	var out []string
	for _, e := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-"))) {
		out = append(out, fmt.Sprintf("%s: %v", *e.Id, e.Entry.Data))
	}
	return out
}

// checkNagCleanOnTracetest fails the test on any AwsSolutions error on the resources of
// the construct with id "Tracetest" in s (a team's own resources around it are not ours).
func checkNagCleanOnTracetest(t *testing.T, s *scratch) {
	t.Helper()
	var ours []string
	for _, e := range nagErrors(s.app, s.stack) {
		if strings.Contains(e, "/Tracetest/") {
			ours = append(ours, e)
		}
	}
	if len(ours) > 0 {
		t.Errorf("cdk-nag AwsSolutions errors on the construct's resources:\n%s", strings.Join(ours, "\n"))
	}
}

func TestDefaultServiceIsNagCleanAndClosed(t *testing.T) {
	s := newScratch()
	svc := tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), s.props())
	checkNagCleanOnTracetest(t, s)
	tpl := s.template(t)
	for id, sg := range resources(tpl, "AWS::EC2::SecurityGroup") {
		if strings.Contains(id, "LoadBalancerSecurityGroup") && sg["Properties"].(map[string]any)["SecurityGroupIngress"] != nil {
			t.Errorf("the load balancer is open without AllowedPeers: %s", js(sg))
		}
	}
	warnings := assertions.Annotations_FromStack(s.stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("no AllowedPeers")))
	if len(*warnings) != 1 {
		t.Errorf("warnings about a closed Tracetest = %d, want 1", len(*warnings))
	}
	if svc.TargetGroup() == nil || svc.Listener() == nil || svc.RedirectListener() != nil || svc.LoadBalancerSecurityGroup() == nil ||
		svc.ServiceSecurityGroup() == nil || svc.ExecutionRole() == nil || svc.TaskRole() == nil || svc.LogGroup() == nil {
		t.Error("a created resource is not exposed")
	}
	env := js(resources(tpl, "AWS::ECS::TaskDefinition"))
	for _, want := range []string{`"TRACETEST_POSTGRES_HOST","Value":{"Fn::GetAtt":["Db`, `"TRACETEST_POSTGRES_PORT","Value":{"Fn::GetAtt":["Db`, "kubeshop/tracetest:v1.7.1", "sslmode=require"} {
		if !strings.Contains(env, want) {
			t.Errorf("task definition lacks %s: %s", want, env)
		}
	}
}

// TestNagCleanInEveryShape: the construct's own resources give an importing team no
// cdk-nag error whatever the props turn on: HTTPS with a DNS name, OIDC sign-in, access
// logs, an Aurora cluster, and the team's own load balancer, groups and roles.
func TestNagCleanInEveryShape(t *testing.T) {
	cert := func(s *scratch) awscertificatemanager.ICertificate {
		return awscertificatemanager.Certificate_FromCertificateArn(s.stack, jsii.String("Cert"),
			jsii.String("arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"))
	}
	https := func(s *scratch, p *tracing.TracetestServiceProps) {
		p.Certificate, p.DomainName = cert(s), jsii.String("tracetest.example.com")
		p.DomainZone = awsroute53.HostedZone_FromHostedZoneId(s.stack, jsii.String("Zone"), jsii.String("Z0123456789ABCDEFGHIJ"))
		p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("198.51.100.0/24"))}
	}
	cases := map[string]func(*scratch, *tracing.TracetestServiceProps){
		"https with a domain": https,
		"oidc sign-in": func(s *scratch, p *tracing.TracetestServiceProps) {
			https(s, p)
			p.Oidc = &tracing.TracetestOidc{
				Issuer:                jsii.String("https://login.example.com"),
				AuthorizationEndpoint: jsii.String("https://login.example.com/authorize"),
				TokenEndpoint:         jsii.String("https://login.example.com/token"),
				UserInfoEndpoint:      jsii.String("https://login.example.com/userinfo"),
				ClientId:              jsii.String("tracetest"),
				ClientSecret:          awscdk.SecretValue_SecretsManager(jsii.String("tracetest-oidc"), nil),
			}
		},
		"access logs, open to a peer, internal": func(s *scratch, p *tracing.TracetestServiceProps) {
			p.AccessLogBucket = awss3.Bucket_FromBucketName(s.stack, jsii.String("Logs"), jsii.String("team-alb-logs"))
			p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("10.0.0.0/8"))}
			p.InternetFacing = jsii.Bool(false)
		},
		"aurora": func(s *scratch, p *tracing.TracetestServiceProps) {
			cluster := awsrds.NewDatabaseCluster(s.stack, jsii.String("Aurora"), &awsrds.DatabaseClusterProps{
				Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_6()}),
				Vpc:    s.vpc,
				Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("Writer"), nil),
				Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
					ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
				}),
			})
			p.Database = tracing.DatabaseFromCluster(cluster, nil)
		},
		"bring your own": func(s *scratch, p *tracing.TracetestServiceProps) {
			lbSG := awsec2.NewSecurityGroup(s.stack, jsii.String("TeamLbSG"), &awsec2.SecurityGroupProps{Vpc: s.vpc, AllowAllOutbound: jsii.Bool(false)})
			p.LoadBalancer = elb.NewApplicationLoadBalancer(s.stack, jsii.String("TeamLb"), &elb.ApplicationLoadBalancerProps{Vpc: s.vpc, SecurityGroup: lbSG})
			p.SecurityGroups = &[]awsec2.ISecurityGroup{awsec2.NewSecurityGroup(s.stack, jsii.String("TeamTaskSG"), &awsec2.SecurityGroupProps{Vpc: s.vpc})}
			p.TaskRole = awsiam.NewRole(s.stack, jsii.String("TeamTaskRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
			p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("198.51.100.0/24"))}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			// A region known at synth, as access logging needs (see TestAccessLogsNeedARegion).
			s := newScratchIn(&awscdk.Environment{Region: jsii.String("eu-west-1")})
			p := s.props()
			edit(s, p)
			tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), p)
			checkNagCleanOnTracetest(t, s)
		})
	}
}

// TestAccessLogsNeedARegion: in a stack whose region is unknown at synth, AccessLogBucket
// fails at the construct, naming the prop and the fix, not deep inside the CDK.
func TestAccessLogsNeedARegion(t *testing.T) {
	s := newScratch()
	p := s.props()
	p.AccessLogBucket = awss3.Bucket_FromBucketName(s.stack, jsii.String("Logs"), jsii.String("team-alb-logs"))
	mustPanic(t, "AccessLogBucket needs a stack with a region known at synth", func() {
		tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), p)
	})
}

func TestAuroraClusterIsADatabase(t *testing.T) {
	s := newScratch()
	cluster := awsrds.NewDatabaseCluster(s.stack, jsii.String("Aurora"), &awsrds.DatabaseClusterProps{
		Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_6()}),
		Vpc:    s.vpc,
		Writer: awsrds.ClusterInstance_ServerlessV2(jsii.String("Writer"), nil),
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
		}),
		ServerlessV2MinCapacity: jsii.Number(0.5),
	})
	tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), &tracing.TracetestServiceProps{
		Vpc: s.vpc, Database: tracing.DatabaseFromCluster(cluster, nil),
	})
	tpl := s.template(t)
	env := js(resources(tpl, "AWS::ECS::TaskDefinition"))
	if !strings.Contains(env, `"TRACETEST_POSTGRES_HOST","Value":{"Fn::GetAtt":["Aurora`) || !strings.Contains(env, "Endpoint.Address") {
		t.Errorf("host is not the cluster's writer endpoint: %s", env)
	}
	if !strings.Contains(env, "AuroraSecretAttachment") {
		t.Errorf("credentials are not the cluster's secret: %s", env)
	}
	var ingress []string
	for _, r := range resources(tpl, "AWS::EC2::SecurityGroupIngress") {
		if p := r["Properties"].(map[string]any); strings.Contains(js(p["GroupId"]), "Aurora") {
			ingress = append(ingress, js(p))
		}
	}
	if len(ingress) != 1 || !strings.Contains(ingress[0], "ServiceSecurityGroup") || !strings.Contains(ingress[0], "Endpoint.Port") {
		t.Errorf("cluster ingress = %v, want one rule from the service on the cluster port", ingress)
	}
}

func TestUrlUnsafeGeneratedPasswordIsRefused(t *testing.T) {
	for name, creds := range map[string]awsrds.Credentials{
		"rds default generator":  awsrds.Credentials_FromGeneratedSecret(jsii.String("tt"), nil),
		"some characters missed": awsrds.Credentials_FromGeneratedSecret(jsii.String("tt"), &awsrds.CredentialsBaseOptions{ExcludeCharacters: jsii.String("@/\"^")}),
	} {
		t.Run(name, func(t *testing.T) {
			s := newScratch()
			db := awsrds.NewDatabaseInstance(s.stack, jsii.String("Unsafe"), &awsrds.DatabaseInstanceProps{
				Engine:      awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_17_9()}),
				Vpc:         s.vpc,
				Credentials: creds,
			})
			mustPanic(t, "ExcludeCharacters: tracing.PasswordExcludeCharacters", func() {
				tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), &tracing.TracetestServiceProps{
					Vpc: s.vpc, Database: tracing.DatabaseFromInstance(db, nil),
				})
			})
		})
	}
	// ExcludePunctuation is safe too, and an imported secret cannot be checked at synth.
	s := newScratch()
	generated := awssecretsmanager.NewSecret(s.stack, jsii.String("Generated"), &awssecretsmanager.SecretProps{
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation:   jsii.Bool(true),
			GenerateStringKey:    jsii.String("password"),
			SecretStringTemplate: jsii.String(`{"username":"tt"}`),
		},
	})
	imported := awssecretsmanager.Secret_FromSecretNameV2(s.stack, jsii.String("Imported"), jsii.String("team/tracetest"))
	for i, secret := range []awssecretsmanager.ISecret{generated, imported} {
		tracing.NewTracetestService(s.stack, jsii.String(fmt.Sprint("Tracetest", i)), &tracing.TracetestServiceProps{
			Vpc: s.vpc, Database: &tracing.Database{Endpoint: s.db.InstanceEndpoint(), Secret: secret},
		})
	}
}

// TestTokensAreCheckedOnlyWhenKnown builds the service from CloudFormation parameters and
// an SSM value: nothing can be validated at synth, and the construct must still synthesize.
func TestTokensAreCheckedOnlyWhenKnown(t *testing.T) {
	s := newScratch()
	number := func(name string) *float64 {
		return awscdk.NewCfnParameter(s.stack, jsii.String(name), &awscdk.CfnParameterProps{Type: jsii.String("Number")}).ValueAsNumber()
	}
	text := func(name string) *string {
		return awscdk.NewCfnParameter(s.stack, jsii.String(name), nil).ValueAsString()
	}
	p := s.props()
	p.Cpu, p.MemoryMiB, p.DesiredCount = number("Cpu"), number("Memory"), number("Count")
	p.DatabaseName, p.DatabaseParams = text("DbName"), text("DbParams")
	p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv4(text("Cidr")), awsec2.Peer_PrefixList(text("PrefixList"))}
	p.Database = &tracing.Database{
		Endpoint: awsrds.NewEndpoint(text("DbHost"), number("DbPort")),
		Secret:   s.db.Secret(),
	}
	tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), p)
	tpl := js(s.template(t))
	for _, want := range []string{`"Cpu":{"Ref":"Cpu"}`, `"Ref":"Cidr"`, `"Ref":"PrefixList"`, `"Ref":"DbName"`, `"DesiredCount":{"Ref":"Count"}`} {
		if !strings.Contains(tpl, want) {
			t.Errorf("template lacks %s", want)
		}
	}
}

func TestTracetestServiceRejectsBadProps(t *testing.T) {
	cases := []struct {
		name string
		edit func(*scratch, *tracing.TracetestServiceProps)
		want string
	}{
		{"untagged image", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.Image = awsecs.ContainerImage_FromRegistry(jsii.String("kubeshop/tracetest"), nil)
		}, "is not pinned"},
		{"latest", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.Image = awsecs.ContainerImage_FromRegistry(jsii.String("kubeshop/tracetest:latest"), nil)
		}, "moving tag latest"},
		{"cpu", func(_ *scratch, p *tracing.TracetestServiceProps) { p.Cpu = jsii.Number(1000) }, "Cpu 1000 is not a Fargate size"},
		{"memory", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.Cpu, p.MemoryMiB = jsii.Number(256), jsii.Number(4096)
		},
			"MemoryMiB 4096 is not offered by Fargate with Cpu 256"},
		{"count", func(_ *scratch, p *tracing.TracetestServiceProps) { p.DesiredCount = jsii.Number(1.5) }, "whole number"},
		{"database name", func(_ *scratch, p *tracing.TracetestServiceProps) { p.DatabaseName = jsii.String("trace-test") }, "not a Postgres identifier"},
		{"host bits", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("10.1.2.3/8"))}
		}, "host bits set: use 10.0.0.0/8"},
		{"world", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_AnyIpv4()}
		}, "whole internet"},
		{"ipv6 on an ipv4 load balancer", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv6(jsii.String("2001:db8::/32"))}
		}, "IPv4 only"},
		{"ssl", func(_ *scratch, p *tracing.TracetestServiceProps) { p.DatabaseParams = jsii.String("sslmode=disable") }, "must set sslmode"},
		{"no database", func(_ *scratch, p *tracing.TracetestServiceProps) { p.Database = nil }, "Database is required"},
		{"no secret", func(_ *scratch, p *tracing.TracetestServiceProps) { p.Database.Secret = nil }, "Database.Secret is required"},
		{"cluster in another vpc", func(s *scratch, p *tracing.TracetestServiceProps) {
			other := awsec2.NewVpc(s.stack, jsii.String("Other"), &awsec2.VpcProps{MaxAzs: jsii.Number(1), NatGateways: jsii.Number(0)})
			p.Cluster = awsecs.NewCluster(s.stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: other})
		}, "is not the VPC of Cluster"},
		{"certificate without a name", func(s *scratch, p *tracing.TracetestServiceProps) {
			p.Certificate = awscertificatemanager.Certificate_FromCertificateArn(s.stack, jsii.String("Cert"),
				jsii.String("arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"))
		}, "Certificate needs DomainName"},
		{"oidc without https", func(_ *scratch, p *tracing.TracetestServiceProps) {
			p.Oidc = &tracing.TracetestOidc{Issuer: jsii.String("https://login.example.com")}
		}, "Oidc needs Certificate"},
		{"log retention with a log group", func(s *scratch, p *tracing.TracetestServiceProps) {
			p.LogGroup = awslogs.NewLogGroup(s.stack, jsii.String("Logs"), nil)
			p.LogRetention = awslogs.RetentionDays_ONE_WEEK
		}, "set them on your LogGroup"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newScratch()
			p := s.props()
			c.edit(s, p)
			mustPanic(t, c.want, func() { tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), p) })
		})
	}
}

// TestBringYourOwn gives the construct a load balancer, security groups, roles, a log
// group, a private ECR image and a DNS name, and checks each is used.
func TestBringYourOwn(t *testing.T) {
	s := newScratch()
	lbSG := awsec2.NewSecurityGroup(s.stack, jsii.String("TeamLbSG"), &awsec2.SecurityGroupProps{Vpc: s.vpc, AllowAllOutbound: jsii.Bool(false)})
	lb := elb.NewApplicationLoadBalancer(s.stack, jsii.String("TeamLb"), &elb.ApplicationLoadBalancerProps{Vpc: s.vpc, SecurityGroup: lbSG})
	taskSG := awsec2.NewSecurityGroup(s.stack, jsii.String("TeamTaskSG"), &awsec2.SecurityGroupProps{Vpc: s.vpc})
	role := awsiam.NewRole(s.stack, jsii.String("TeamTaskRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil)})
	logs := awslogs.NewLogGroup(s.stack, jsii.String("TeamLogs"), nil)
	repo := awsecr.NewRepository(s.stack, jsii.String("Mirror"), nil)
	zone := awsroute53.HostedZone_FromHostedZoneId(s.stack, jsii.String("Zone"), jsii.String("Z0123456789ABCDEFGHIJ"))
	cert := awscertificatemanager.Certificate_FromCertificateArn(s.stack, jsii.String("Cert"),
		jsii.String("arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"))

	p := s.props()
	p.LoadBalancer, p.SecurityGroups, p.TaskRole, p.LogGroup = lb, &[]awsec2.ISecurityGroup{taskSG}, role, logs
	p.Image = awsecs.ContainerImage_FromEcrRepository(repo, jsii.String("v1.7.1"))
	p.Certificate, p.DomainName, p.DomainZone = cert, jsii.String("tracetest.example.com"), zone
	p.AllowedPeers = &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("198.51.100.0/24"))}
	svc := tracing.NewTracetestService(s.stack, jsii.String("Tracetest"), p)

	if *svc.Url() != "https://tracetest.example.com" {
		t.Errorf("Url() = %s, want the certificate's name", *svc.Url())
	}
	if svc.LoadBalancerSecurityGroup() != nil || svc.ServiceSecurityGroup() != nil {
		t.Error("the construct created security groups although they were given")
	}
	tpl := s.template(t)
	if n := len(resources(tpl, "AWS::ElasticLoadBalancingV2::LoadBalancer")); n != 1 {
		t.Errorf("load balancers = %d, want only the team's", n)
	}
	if n := len(resources(tpl, "AWS::Logs::LogGroup")); n != 1 {
		t.Errorf("log groups = %d, want only the team's", n)
	}
	all := js(tpl)
	for _, want := range []string{
		`"TaskRoleArn":{"Fn::GetAtt":["TeamTaskRole`,
		`"awslogs-group":{"Ref":"TeamLogs`,
		`"SecurityGroups":[{"Fn::GetAtt":["TeamTaskSG`,
		`"Name":"tracetest.example.com."`,
		"ecr:BatchGetImage",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("template lacks %s", want)
		}
	}
	var lbIngress []string
	for _, sg := range resources(tpl, "AWS::EC2::SecurityGroup") {
		ingress, _ := sg["Properties"].(map[string]any)["SecurityGroupIngress"].([]any)
		for _, in := range ingress {
			lbIngress = append(lbIngress, js(in))
		}
	}
	for _, r := range resources(tpl, "AWS::EC2::SecurityGroupIngress") {
		lbIngress = append(lbIngress, js(r["Properties"]))
	}
	if !strings.Contains(strings.Join(lbIngress, " "), `"CidrIp":"198.51.100.0/24"`) {
		t.Errorf("the team's load balancer is not opened to the allowed peer: %v", lbIngress)
	}
}

// TestGrantReadUsesAPolicyOfItsOwn: the IAM5 suppression of X-Ray's "*" covers only the
// data store's statement, never what else the team puts on its role.
func TestGrantReadUsesAPolicyOfItsOwn(t *testing.T) {
	s := newScratch()
	store := tracing.NewXRayDataStore(s.stack, jsii.String("XRay"), nil)
	role := awsiam.NewRole(s.stack, jsii.String("TeamRole"), &awsiam.RoleProps{AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil)})
	grant := store.GrantRead(role)
	store.GrantRead(role) // idempotent: one policy
	if !*grant.Success() {
		t.Error("grant did not succeed")
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:GetObject"), Resources: jsii.Strings("*"),
	}))
	errs := nagErrors(s.app, s.stack)
	joined := strings.Join(errs, "\n")
	if !strings.Contains(joined, "TeamRole/DefaultPolicy") {
		t.Errorf("the team's own s3:GetObject on * was not reported by cdk-nag: %v", errs)
	}
	if strings.Contains(joined, "TracetestXRayRead") {
		t.Errorf("the data store's grant is reported: %v", errs)
	}
	policies := resources(s.template(t), "AWS::IAM::Policy")
	found := 0
	for id, p := range policies {
		if strings.HasPrefix(id, "TeamRoleTracetestXRayRead") {
			found++
			if doc := js(p["Properties"]); !strings.Contains(doc, `"Action":"xray:BatchGetTraces","Effect":"Allow","Resource":"*"`) || strings.Contains(doc, "s3:") {
				t.Errorf("policy %s = %s", id, doc)
			}
		}
	}
	if found != 1 {
		t.Errorf("X-Ray read policies = %d, want 1 (%v)", found, policies)
	}
	if got := tracing.XRayReadActions(); len(got) != 1 || got[0] != "xray:BatchGetTraces" {
		t.Errorf("XRayReadActions() = %v", got)
	}
	a := tracing.XRayReadActions()
	a[0] = "xray:*"
	if tracing.XRayReadActions()[0] != "xray:BatchGetTraces" {
		t.Error("XRayReadActions can be changed by a caller")
	}
}

// TestXRayDataStorePolling: the polling props reach the PollingProfile document Tracetest
// applies on first boot, and SelectorMatchRetries 0 (no wait for late X-Ray segments)
// warns at synth.
func TestXRayDataStorePolling(t *testing.T) {
	cases := []struct {
		name    string
		props   *tracing.XRayDataStoreProps
		want    string
		warning bool
	}{
		{"defaults", nil, "retryDelay: 5s\n    timeout: 120s\n    selectorMatchRetries: 6\n", false},
		{"set", &tracing.XRayDataStoreProps{
			PollingRetryDelay:    awscdk.Duration_Seconds(jsii.Number(2)),
			PollingTimeout:       awscdk.Duration_Minutes(jsii.Number(5)),
			SelectorMatchRetries: jsii.Number(10),
		}, "retryDelay: 2s\n    timeout: 300s\n    selectorMatchRetries: 10\n", false},
		{"no selector retries", &tracing.XRayDataStoreProps{SelectorMatchRetries: jsii.Number(0)}, "retryDelay: 5s\n    timeout: 120s\n    selectorMatchRetries: 0\n", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Traces"), nil)
			store := tracing.NewXRayDataStore(stack, jsii.String("XRay"), c.props)
			doc := *store.ProvisioningYAML()
			if !strings.Contains(doc, "---\ntype: PollingProfile\n") || !strings.Contains(doc, "  strategy: periodic\n  periodic:\n    "+c.want) {
				t.Errorf("provisioning lacks %q:\n%s", c.want, doc)
			}
			warnings := assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("SelectorMatchRetries is 0")))
			if got := len(*warnings) > 0; got != c.warning {
				t.Errorf("warning about SelectorMatchRetries 0: %v, want %v", got, c.warning)
			}
		})
	}
}

func TestXRayDataStoreRejectsBadPolling(t *testing.T) {
	cases := []struct {
		name  string
		props func(awscdk.Stack) *tracing.XRayDataStoreProps
		want  string
	}{
		{"delay not whole seconds", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{PollingRetryDelay: awscdk.Duration_Millis(jsii.Number(1500))}
		}, "PollingRetryDelay 1 second 500 millis must be a whole number of seconds from 1 to 60"},
		{"delay too long", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{PollingRetryDelay: awscdk.Duration_Minutes(jsii.Number(2))}
		}, "PollingRetryDelay 2 minutes must be"},
		{"timeout too short", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{PollingTimeout: awscdk.Duration_Seconds(jsii.Number(5))}
		}, "PollingTimeout 5 seconds must be a whole number of seconds from 10 to 3600"},
		{"timeout not past the delay", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{PollingRetryDelay: awscdk.Duration_Seconds(jsii.Number(30)), PollingTimeout: awscdk.Duration_Seconds(jsii.Number(30))}
		}, "PollingTimeout (30s) must be longer than PollingRetryDelay (30s)"},
		{"delay from a parameter", func(st awscdk.Stack) *tracing.XRayDataStoreProps {
			p := awscdk.NewCfnParameter(st, jsii.String("Delay"), &awscdk.CfnParameterProps{Type: jsii.String("Number")})
			return &tracing.XRayDataStoreProps{PollingRetryDelay: awscdk.Duration_Seconds(p.ValueAsNumber())}
		}, "PollingRetryDelay must be known at synth"},
		{"retries not whole", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{SelectorMatchRetries: jsii.Number(2.5)}
		}, "SelectorMatchRetries 2.5 must be a whole number from 0 to 100"},
		{"retries negative", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{SelectorMatchRetries: jsii.Number(-1)}
		}, "SelectorMatchRetries -1 must be"},
		{"retries too many", func(awscdk.Stack) *tracing.XRayDataStoreProps {
			return &tracing.XRayDataStoreProps{SelectorMatchRetries: jsii.Number(101)}
		}, "SelectorMatchRetries 101 must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Traces"), nil)
			props := c.props(stack)
			mustPanic(t, c.want, func() { tracing.NewXRayDataStore(stack, jsii.String("XRay"), props) })
		})
	}
}

// TestPackageImportsNoWorkflowAndNoApp keeps the layout's promise: importing tracing
// compiles none of the workflow's CDK modules, and the library imports nothing from the
// app's internal/ packages.
func TestPackageImportsNoWorkflowAndNoApp(t *testing.T) {
	for pkg, forbidden := range map[string][]string{
		".":           {"/awsapigateway", "/awsstepfunctions", "/awsdynamodb", "/constructs/workflow", "stepfunctions-cdk/internal/"},
		"../workflow": {"/constructs/tracing", "stepfunctions-cdk/internal/"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, f := range forbidden {
				if strings.HasSuffix(dep, f) || strings.Contains(dep, f+"/") || (strings.HasSuffix(f, "/") && strings.Contains(dep, f)) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
