package tracing

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/nag"
)

// TracetestImage is the default Tracetest server image: the v1.7.1 release (multi-arch).
const TracetestImage = "kubeshop/tracetest:v1.7.1"

// TracetestPort is where the Tracetest server serves its UI and API, in the container and
// on the load balancer.
const TracetestPort = 11633

// TracetestHealthPath answers 200 once the server is up (Tracetest has no dedicated
// health endpoint).
const TracetestHealthPath = "/api/version.json"

// TracetestServiceProps configures a TracetestService. Database is required, and one of
// Vpc or Cluster.
//
// Numbers and strings may be tokens (a CfnParameter, an SSM parameter, an import): they
// are checked when they are known at synth and passed through otherwise.
type TracetestServiceProps struct {
	// Vpc to run in. Default: the VPC of Cluster. When both are given they must be the
	// same VPC.
	Vpc awsec2.IVpc
	// Cluster to run the service in. Default: a new cluster in Vpc with Container
	// Insights enabled.
	Cluster awsecs.ICluster
	// Database is the Postgres database Tracetest stores its data in, e.g.
	// DatabaseFromInstance(db, nil) or DatabaseFromCluster(cluster, nil). Required.
	Database *Database
	// DatabaseName is the Postgres database Tracetest uses. Default: "tracetest".
	DatabaseName *string
	// DatabaseParams are the libpq connection parameters. Default: "sslmode=require"
	// (RDS for Postgres 15 and later refuses unencrypted connections).
	DatabaseParams *string
	// DataStore provisions X-Ray as Tracetest's trace data store and is granted to the
	// task role. Default: a new XRayDataStore with default props.
	DataStore XRayDataStore
	// Image is the container image. A registry image must be pinned by tag or digest
	// (latest is refused); an image from a private ECR repository
	// (awsecs.ContainerImage_FromEcrRepository) gets its pull permission on the execution
	// role. Default: awsecs.ContainerImage_FromRegistry(TracetestImage).
	Image awsecs.ContainerImage
	// Cpu is the task's CPU in units (1024 = 1 vCPU). Default: 1024.
	Cpu *float64
	// MemoryMiB is the task's memory in MiB; the pair with Cpu must be one Fargate
	// offers. Default: 2048.
	MemoryMiB *float64
	// CpuArchitecture of the task. Default: awsecs.CpuArchitecture_ARM64() (Graviton).
	CpuArchitecture awsecs.CpuArchitecture
	// DesiredCount of tasks. Default: 1.
	DesiredCount *float64
	// TaskSubnets are where the tasks run. Default: the private subnets with egress.
	TaskSubnets *awsec2.SubnetSelection
	// TaskRole is the role the server runs with; the data store's read grant is added to
	// it. Default: a new role.
	TaskRole awsiam.IRole
	// ExecutionRole pulls the image and reads the database secret. Default: a new role.
	ExecutionRole awsiam.IRole
	// SecurityGroups of the tasks. The service opens them to the database port (and the
	// load balancer to them). Default: one new group whose egress is limited to HTTPS and
	// the database port.
	SecurityGroups *[]awsec2.ISecurityGroup
	// LoadBalancer to add Tracetest's listeners to. Default: a new Application Load
	// Balancer with its own security group, in the public subnets when InternetFacing.
	LoadBalancer elb.IApplicationLoadBalancer
	// InternetFacing puts the new load balancer in the public subnets. Default: true.
	// Only for the load balancer the construct creates.
	InternetFacing *bool
	// AccessLogBucket receives the new load balancer's access logs; it needs a stack with
	// a region known at synth (Env.Region), as the bucket policy names that region's
	// Elastic Load Balancing account. Default: none (the construct then tells cdk-nag why:
	// AwsSolutions-ELB2).
	AccessLogBucket awss3.IBucket
	// AllowedPeers may reach the listeners, e.g. awsec2.Peer_Ipv4("203.0.113.0/24"), a
	// security group, or a prefix list. Tracetest has no login of its own, so this is its
	// access control; the whole internet (0.0.0.0/0, ::/0) is refused, and IPv6 ranges
	// need a dual-stack load balancer. Default: none; the synth warns and nothing reaches
	// Tracetest until peers are given (or until you open Connections() yourself).
	AllowedPeers *[]awsec2.IPeer
	// Certificate, when given, adds an HTTPS listener on port 443, and the plain HTTP
	// listener on TracetestPort redirects to it. Requires DomainName. Default: HTTP on
	// TracetestPort only.
	Certificate awscertificatemanager.ICertificate
	// DomainName is the name users and the CLI reach Tracetest by, which Certificate must
	// cover; Url() uses it. Default: the load balancer's DNS name (HTTP only).
	DomainName *string
	// DomainZone, when given, gets an alias record DomainName -> load balancer.
	// Default: none (create the record yourself).
	DomainZone awsroute53.IHostedZone
	// Oidc puts OpenID Connect sign-in (any OIDC identity provider, Amazon Cognito
	// included) in front of Tracetest on the HTTPS listener; requires Certificate.
	// Default: none.
	Oidc *TracetestOidc
	// LogGroup receives the container logs. Default: a new log group with LogRetention
	// and LogRemovalPolicy.
	LogGroup awslogs.ILogGroup
	// LogRetention of the new log group. Default: awslogs.RetentionDays_ONE_YEAR.
	LogRetention awslogs.RetentionDays
	// LogRemovalPolicy of the new log group. Default: awscdk.RemovalPolicy_DESTROY (the
	// logs go with the service).
	LogRemovalPolicy awscdk.RemovalPolicy
	// HealthCheckGracePeriod lets the first boot run its database migrations before
	// load balancer health checks count. Default: 3 minutes.
	HealthCheckGracePeriod awscdk.Duration
}

// TracetestOidc configures sign-in with an OpenID Connect identity provider at the load
// balancer. The endpoints are the provider's (see its /.well-known/openid-configuration).
type TracetestOidc struct {
	Issuer                *string
	AuthorizationEndpoint *string
	TokenEndpoint         *string
	UserInfoEndpoint      *string
	ClientId              *string
	// ClientSecret, e.g. awscdk.SecretValue_SecretsManager(name, nil): never a literal.
	ClientSecret awscdk.SecretValue
}

// TracetestService runs the Tracetest server on ECS Fargate behind an Application Load
// Balancer, with its data in Postgres and traces read from X-Ray.
type TracetestService interface {
	constructs.Construct
	// Connections of the service's tasks.
	awsec2.IConnectable
	// Service is the Fargate service.
	Service() awsecs.FargateService
	// TaskDefinition is the service's task definition.
	TaskDefinition() awsecs.FargateTaskDefinition
	// TaskRole is the role the Tracetest server runs with (it reads X-Ray with it).
	TaskRole() awsiam.IRole
	// ExecutionRole pulls the image and reads the database secret.
	ExecutionRole() awsiam.IRole
	// LoadBalancer in front of the service (the given one or the new one).
	LoadBalancer() elb.IApplicationLoadBalancer
	// LoadBalancerSecurityGroup is the new load balancer's security group; nil when
	// LoadBalancer was given.
	LoadBalancerSecurityGroup() awsec2.ISecurityGroup
	// ServiceSecurityGroup is the tasks' new security group; nil when SecurityGroups
	// were given.
	ServiceSecurityGroup() awsec2.ISecurityGroup
	// TargetGroup holds the tasks.
	TargetGroup() elb.ApplicationTargetGroup
	// Listener serves Tracetest: HTTPS on 443 with a certificate, HTTP on TracetestPort
	// without.
	Listener() elb.ApplicationListener
	// RedirectListener is the HTTP listener on TracetestPort that redirects to HTTPS;
	// nil without a certificate.
	RedirectListener() elb.ApplicationListener
	// Cluster the service runs in.
	Cluster() awsecs.ICluster
	// DataStore provisioned into Tracetest.
	DataStore() XRayDataStore
	// LogGroup receiving the container logs.
	LogGroup() awslogs.ILogGroup
	// Url is where users and the Tracetest CLI reach the server:
	// https://<DomainName> with a certificate, else http://<DomainName or load balancer
	// DNS name>:11633.
	Url() *string
}

type tracetestService struct {
	constructs.Construct
	service          awsecs.FargateService
	taskDef          awsecs.FargateTaskDefinition
	lb               elb.IApplicationLoadBalancer
	lbSG, serviceSG  awsec2.ISecurityGroup
	targets          elb.ApplicationTargetGroup
	listener         elb.ApplicationListener
	redirectListener elb.ApplicationListener
	cluster          awsecs.ICluster
	dataStore        XRayDataStore
	logGroup         awslogs.ILogGroup
	url              *string
}

var imagePattern = regexp.MustCompile(`^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$`)

// NewTracetestService creates the Tracetest server.
func NewTracetestService(scope constructs.Construct, id *string, props *TracetestServiceProps) TracetestService {
	p := validateTracetestProps(props)
	s := &tracetestService{}
	constructs.NewConstruct_Override(s, scope, id)
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("tracing.TracetestService: "+format, args...))
	}

	s.cluster = p.Cluster
	if s.cluster == nil {
		s.cluster = awsecs.NewCluster(s, jsii.String("Cluster"), &awsecs.ClusterProps{
			Vpc:                 p.Vpc,
			ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
		})
	}
	s.dataStore = p.DataStore
	if s.dataStore == nil {
		s.dataStore = NewXRayDataStore(s, jsii.String("DataStore"), nil)
	}
	s.logGroup = p.LogGroup
	if s.logGroup == nil {
		s.logGroup = awslogs.NewLogGroup(s, jsii.String("Logs"), &awslogs.LogGroupProps{
			Retention:     p.LogRetention,
			RemovalPolicy: p.LogRemovalPolicy,
		})
	}

	s.taskDef = awsecs.NewFargateTaskDefinition(s, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            p.Cpu,
		MemoryLimitMiB: p.MemoryMiB,
		TaskRole:       p.TaskRole,
		ExecutionRole:  p.ExecutionRole,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       p.CpuArchitecture,
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	db := p.Database
	container := s.taskDef.AddContainer(jsii.String("tracetest"), &awsecs.ContainerDefinitionOptions{
		Image:     p.Image,
		Essential: jsii.Bool(true),
		// A hard limit: the container is the task.
		MemoryLimitMiB: p.MemoryMiB,
		PortMappings: &[]*awsecs.PortMapping{{
			ContainerPort: jsii.Number(TracetestPort),
			Protocol:      awsecs.Protocol_TCP,
			Name:          jsii.String("http"),
		}},
		Environment: &map[string]*string{
			"TRACETEST_POSTGRES_HOST":   db.Endpoint.Hostname(),
			"TRACETEST_POSTGRES_PORT":   awscdk.Token_AsString(db.Endpoint.Port(), nil),
			"TRACETEST_POSTGRES_DBNAME": p.DatabaseName,
			"TRACETEST_POSTGRES_PARAMS": p.DatabaseParams,
			"TRACETEST_PROVISIONING":    s.dataStore.ProvisioningBase64(),
		},
		Secrets: &map[string]awsecs.Secret{
			"TRACETEST_POSTGRES_USER":     awsecs.Secret_FromSecretsManager(db.Secret, jsii.String("username")),
			"TRACETEST_POSTGRES_PASSWORD": awsecs.Secret_FromSecretsManager(db.Secret, jsii.String("password")),
		},
		// The image ships busybox wget; /api/version.json answers once the server is up.
		HealthCheck: &awsecs.HealthCheck{
			Command: jsii.Strings("CMD-SHELL",
				fmt.Sprintf("wget -q -O /dev/null http://127.0.0.1:%d%s || exit 1", TracetestPort, TracetestHealthPath)),
			Interval:    awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:     awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:     jsii.Number(3),
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(120)),
		},
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     s.logGroup,
			StreamPrefix: jsii.String("tracetest"),
		}),
		ReadonlyRootFilesystem: jsii.Bool(false),
	})
	// The image is only known once bound to the container: a registry name is checked
	// here, an ECR or asset image (a token) is pinned by its own construct.
	if name := container.ImageName(); known(name) {
		switch img := *name; {
		case !imagePattern.MatchString(img):
			fail("Image %q is not pinned: give a tag or a digest, e.g. %q", img, TracetestImage)
		case strings.HasSuffix(img, ":latest"):
			fail("Image %q uses the moving tag latest: pin a release, e.g. %q", img, TracetestImage)
		}
	}
	s.dataStore.GrantRead(s.taskDef.TaskRole())
	nag.Suppress(s.taskDef, "AwsSolutions-ECS2",
		"the environment holds only non-secret settings (database host, port, name, TLS mode, X-Ray provisioning without credentials); the database credentials are ECS secrets from Secrets Manager")

	var serviceSGs []awsec2.ISecurityGroup
	if p.SecurityGroups != nil {
		serviceSGs = *p.SecurityGroups
	} else {
		// Egress is closed but for HTTPS (image pulls, Secrets Manager, X-Ray, CloudWatch
		// Logs) and the database port, opened below.
		sg := awsec2.NewSecurityGroup(s, jsii.String("ServiceSecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc:              s.cluster.Vpc(),
			Description:      jsii.String("Tracetest tasks: ingress from the load balancer only"),
			AllowAllOutbound: jsii.Bool(false),
		})
		sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)),
			jsii.String("HTTPS to AWS APIs and the image registry"), jsii.Bool(false))
		s.serviceSG = sg
		serviceSGs = []awsec2.ISecurityGroup{sg}
	}

	s.service = awsecs.NewFargateService(s, jsii.String("Service"), &awsecs.FargateServiceProps{
		SecurityGroups:         &serviceSGs,
		Cluster:                s.cluster,
		TaskDefinition:         s.taskDef,
		DesiredCount:           p.DesiredCount,
		VpcSubnets:             p.TaskSubnets,
		AssignPublicIp:         jsii.Bool(false),
		HealthCheckGracePeriod: p.HealthCheckGracePeriod,
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		EnableExecuteCommand:   jsii.Bool(false),
	})
	// Opened from the service's side: opening it from the database's side makes a
	// database in another stack reference this one.
	if db.Connections != nil {
		s.service.Connections().AllowTo(db.Connections, awsec2.Port_Tcp(db.Endpoint.Port()), jsii.String("Tracetest to Postgres"))
	}

	s.lb = p.LoadBalancer
	if s.lb == nil {
		lbSG := awsec2.NewSecurityGroup(s, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
			Vpc:              s.cluster.Vpc(),
			Description:      jsii.String("Tracetest load balancer: ingress only from the allowed peers"),
			AllowAllOutbound: jsii.Bool(false),
		})
		lb := elb.NewApplicationLoadBalancer(s, jsii.String("LoadBalancer"), &elb.ApplicationLoadBalancerProps{
			Vpc:                     s.cluster.Vpc(),
			InternetFacing:          p.InternetFacing,
			SecurityGroup:           lbSG,
			DropInvalidHeaderFields: jsii.Bool(true),
		})
		if p.AccessLogBucket != nil {
			// The bucket policy names the Elastic Load Balancing account of the region, so
			// the CDK needs the region at synth: say which prop needs it, and the fix.
			if region := awscdk.Stack_Of(s).Region(); !known(region) {
				fail("AccessLogBucket needs a stack with a region known at synth (the bucket policy names the region's Elastic Load Balancing account): set Env.Region on the stack, or omit AccessLogBucket")
			}
			lb.LogAccessLogs(p.AccessLogBucket, jsii.String("tracetest"))
		} else {
			nag.Suppress(lb, "AwsSolutions-ELB2",
				"no access-log bucket given (TracetestServiceProps.AccessLogBucket): the load balancer serves only the allowed peers, and VPC flow logs, where enabled, record every connection")
		}
		s.lb, s.lbSG = lb, lbSG
	}

	s.targets = elb.NewApplicationTargetGroup(s, jsii.String("Targets"), &elb.ApplicationTargetGroupProps{
		Vpc:        s.cluster.Vpc(),
		Port:       jsii.Number(TracetestPort),
		Protocol:   elb.ApplicationProtocol_HTTP,
		TargetType: elb.TargetType_IP,
		Targets:    &[]elb.IApplicationLoadBalancerTarget{s.service},
		HealthCheck: &elb.HealthCheck{
			Path:                    jsii.String(TracetestHealthPath),
			HealthyHttpCodes:        jsii.String("200"),
			Interval:                awscdk.Duration_Seconds(jsii.Number(15)),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(3),
		},
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(30)),
	})
	action := elb.ListenerAction_Forward(&[]elb.IApplicationTargetGroup{s.targets}, nil)
	if o := p.Oidc; o != nil {
		// Users sign in with the identity provider before the load balancer forwards
		// anything to Tracetest (which has no login of its own).
		action = elb.ListenerAction_AuthenticateOidc(&elb.AuthenticateOidcOptions{
			Issuer:                o.Issuer,
			AuthorizationEndpoint: o.AuthorizationEndpoint,
			TokenEndpoint:         o.TokenEndpoint,
			UserInfoEndpoint:      o.UserInfoEndpoint,
			ClientId:              o.ClientId,
			ClientSecret:          o.ClientSecret,
			Next:                  action,
		})
	}

	// On the load balancer created here, listeners stay its children (as they always
	// were: a new logical ID would make CloudFormation create a second listener on the
	// same port before deleting the first). On a given load balancer they are children of
	// this construct, in this stack, so the load balancer's stack does not reference it.
	addListener := func(name string, props *elb.BaseApplicationListenerProps) elb.ApplicationListener {
		if s.lbSG != nil {
			return s.lb.AddListener(jsii.String(name), props)
		}
		return elb.NewApplicationListener(s, jsii.String(name), &elb.ApplicationListenerProps{
			LoadBalancer:  s.lb,
			Port:          props.Port,
			Protocol:      props.Protocol,
			Certificates:  props.Certificates,
			SslPolicy:     props.SslPolicy,
			Open:          props.Open,
			DefaultAction: props.DefaultAction,
		})
	}
	listenerPorts := []float64{TracetestPort}
	host := s.lb.LoadBalancerDnsName()
	if p.DomainName != nil {
		host = p.DomainName
	}
	if p.Certificate != nil {
		s.listener = addListener("Https", &elb.BaseApplicationListenerProps{
			Port:          jsii.Number(443),
			Protocol:      elb.ApplicationProtocol_HTTPS,
			Certificates:  &[]elb.IListenerCertificate{elb.ListenerCertificate_FromCertificateManager(p.Certificate)},
			SslPolicy:     elb.SslPolicy_RECOMMENDED_TLS,
			Open:          jsii.Bool(false),
			DefaultAction: action,
		})
		s.redirectListener = addListener("Http", &elb.BaseApplicationListenerProps{
			Port:     jsii.Number(TracetestPort),
			Protocol: elb.ApplicationProtocol_HTTP,
			Open:     jsii.Bool(false),
			DefaultAction: elb.ListenerAction_Redirect(&elb.RedirectOptions{
				Protocol: jsii.String("HTTPS"), Port: jsii.String("443"), Permanent: jsii.Bool(true),
			}),
		})
		listenerPorts = append(listenerPorts, 443)
		s.url = jsii.String("https://" + *host)
	} else {
		s.listener = addListener("Http", &elb.BaseApplicationListenerProps{
			Port:          jsii.Number(TracetestPort),
			Protocol:      elb.ApplicationProtocol_HTTP,
			Open:          jsii.Bool(false),
			DefaultAction: action,
		})
		s.url = jsii.String(fmt.Sprintf("http://%s:%d", *host, TracetestPort))
	}
	if p.DomainZone != nil {
		// The alias record awsroute53targets.LoadBalancerTarget would make, without that
		// package: it compiles the CDK modules of every alias target (API Gateway, Step
		// Functions, DynamoDB, ...) into every importer of this package.
		awsroute53.NewCfnRecordSet(s, jsii.String("DnsRecord"), &awsroute53.CfnRecordSetProps{
			HostedZoneId: p.DomainZone.HostedZoneId(),
			Name:         jsii.String(strings.TrimSuffix(*p.DomainName, ".") + "."),
			Type:         jsii.String("A"),
			AliasTarget: &awsroute53.CfnRecordSet_AliasTargetProperty{
				DnsName:      jsii.String("dualstack." + *s.lb.LoadBalancerDnsName()),
				HostedZoneId: s.lb.LoadBalancerCanonicalHostedZoneId(),
			},
		})
	}

	s.allowPeers(p, listenerPorts, fail)
	return s
}

// allowPeers opens the listener ports to the allowed peers, refusing what would open
// Tracetest to the internet or what the load balancer cannot serve.
func (s *tracetestService) allowPeers(p TracetestServiceProps, ports []float64, fail func(string, ...any)) {
	if p.AllowedPeers == nil || len(*p.AllowedPeers) == 0 {
		if s.lbSG != nil {
			awscdk.Annotations_Of(s).AddWarningV2(jsii.String("tracing:tracetestClosed"), jsii.String(
				"Tracetest accepts no traffic: no AllowedPeers are set. Tracetest has no login, so open it only to "+
					"networks you trust, e.g. `cdk deploy -c tracetestAllowedCidrs=203.0.113.0/24` (app) or "+
					"TracetestServiceProps.AllowedPeers (construct)."))
		}
		return
	}
	ipv6OK := s.lb.IpAddressType() != elb.IpAddressType_IPV4
	if s.lbSG != nil {
		ipv6OK = false // the new load balancer is IPv4 only
	}
	for i, peer := range *p.AllowedPeers {
		if peer == nil {
			fail("AllowedPeers[%d] is nil", i)
		}
		cfg := peer.ToIngressRuleConfig()
		for _, c := range []struct {
			cidr *string
			v6   bool
		}{{cfg.CidrIp, false}, {cfg.CidrIpv6, true}} {
			if c.cidr == nil {
				continue
			}
			if c.v6 && !ipv6OK {
				fail("AllowedPeers[%d] %s is an IPv6 range, but the load balancer is IPv4 only: give a dual-stack LoadBalancer "+
					"(IpAddressType DUAL_STACK, in a VPC with IPv6) or leave the IPv6 range out", i, *peer.UniqueId())
			}
			if !known(c.cidr) {
				continue
			}
			prefix, err := netip.ParsePrefix(*c.cidr)
			switch {
			case err != nil:
				fail("AllowedPeers[%d] %q is not a CIDR range: use e.g. 203.0.113.0/24 or 2001:db8::/32", i, *c.cidr)
			case prefix.Masked() != prefix:
				fail("AllowedPeers[%d] %q has host bits set: use %s", i, *c.cidr, prefix.Masked())
			case prefix.Bits() == 0:
				fail("AllowedPeers[%d] %q opens Tracetest, which has no login, to the whole internet: list the ranges that need it", i, *c.cidr)
			}
		}
		for _, port := range ports {
			description := jsii.String(fmt.Sprintf("Tracetest from %s", *peer.UniqueId()))
			if s.lbSG != nil {
				s.lbSG.AddIngressRule(peer, awsec2.Port_Tcp(jsii.Number(port)), description, jsii.Bool(false))
			} else {
				s.lb.Connections().AllowFrom(peer, awsec2.Port_Tcp(jsii.Number(port)), description)
			}
		}
	}
}

func (s *tracetestService) Connections() awsec2.Connections                  { return s.service.Connections() }
func (s *tracetestService) Service() awsecs.FargateService                   { return s.service }
func (s *tracetestService) TaskDefinition() awsecs.FargateTaskDefinition     { return s.taskDef }
func (s *tracetestService) TaskRole() awsiam.IRole                           { return s.taskDef.TaskRole() }
func (s *tracetestService) ExecutionRole() awsiam.IRole                      { return s.taskDef.ExecutionRole() }
func (s *tracetestService) LoadBalancer() elb.IApplicationLoadBalancer       { return s.lb }
func (s *tracetestService) LoadBalancerSecurityGroup() awsec2.ISecurityGroup { return s.lbSG }
func (s *tracetestService) ServiceSecurityGroup() awsec2.ISecurityGroup      { return s.serviceSG }
func (s *tracetestService) TargetGroup() elb.ApplicationTargetGroup          { return s.targets }
func (s *tracetestService) Listener() elb.ApplicationListener                { return s.listener }
func (s *tracetestService) RedirectListener() elb.ApplicationListener        { return s.redirectListener }
func (s *tracetestService) Cluster() awsecs.ICluster                         { return s.cluster }
func (s *tracetestService) DataStore() XRayDataStore                         { return s.dataStore }
func (s *tracetestService) LogGroup() awslogs.ILogGroup                      { return s.logGroup }
func (s *tracetestService) Url() *string                                     { return s.url }

// fargateMemory lists, per CPU units, the memory sizes (MiB) Fargate offers.
func fargateMemory(cpu int) []int {
	span := func(from, to, step int) []int {
		var out []int
		for m := from; m <= to; m += step {
			out = append(out, m)
		}
		return out
	}
	switch cpu {
	case 256:
		return []int{512, 1024, 2048}
	case 512:
		return span(1024, 4096, 1024)
	case 1024:
		return span(2048, 8192, 1024)
	case 2048:
		return span(4096, 16384, 1024)
	case 4096:
		return span(8192, 30720, 1024)
	case 8192:
		return span(16384, 61440, 4096)
	case 16384:
		return span(32768, 122880, 8192)
	}
	return nil
}

var postgresIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// known reports whether v is set and resolved at synth: only such values are checked.
func known[T any](v *T) bool { return v != nil && !*awscdk.Token_IsUnresolved(v) }

// sameVpc reports whether a and b are certainly the same VPC: the same construct, or the
// same resolved VPC id.
func sameVpc(a, b awsec2.IVpc) bool {
	if *a.Node().Path() == *b.Node().Path() {
		return true
	}
	return known(a.VpcId()) && known(b.VpcId()) && *a.VpcId() == *b.VpcId()
}

// validateTracetestProps checks props and fills defaults, panicking with a message that
// names the bad property and the fix.
func validateTracetestProps(props *TracetestServiceProps) TracetestServiceProps {
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("tracing.TracetestService: "+format, args...))
	}
	if props == nil {
		fail("props are required (Database, and Vpc or Cluster)")
	}
	p := *props
	switch {
	case p.Vpc == nil && p.Cluster == nil:
		fail("set Vpc or Cluster")
	case p.Vpc == nil:
		p.Vpc = p.Cluster.Vpc()
	case p.Cluster != nil && !sameVpc(p.Vpc, p.Cluster.Vpc()):
		fail("Vpc %s is not the VPC of Cluster (%s): the tasks run in the cluster's VPC; leave Vpc unset or give the cluster's VPC",
			*p.Vpc.Node().Path(), *p.Cluster.Vpc().Node().Path())
	}
	if p.LoadBalancer != nil && p.LoadBalancer.Vpc() != nil && !sameVpc(p.Vpc, p.LoadBalancer.Vpc()) {
		fail("LoadBalancer is in VPC %s, the tasks in %s: a load balancer reaches IP targets in its own VPC only",
			*p.LoadBalancer.Vpc().Node().Path(), *p.Vpc.Node().Path())
	}
	db := p.Database
	switch {
	case db == nil:
		fail("Database is required: e.g. tracing.DatabaseFromInstance(db, nil) or tracing.DatabaseFromCluster(cluster, nil)")
	case db.Endpoint == nil:
		fail("Database.Endpoint is required: the host and port Tracetest connects to")
	case db.Secret == nil:
		fail("Database.Secret is required: a secret with the keys username and password (the database has no generated secret to default to)")
	}
	if why := unsafePassword(db.Secret); why != "" {
		fail("Database.Secret %s: %s", *db.Secret.Node().Path(), why)
	}
	if p.DatabaseName == nil {
		p.DatabaseName = jsii.String("tracetest")
	} else if known(p.DatabaseName) && !postgresIdentifier.MatchString(*p.DatabaseName) {
		fail("DatabaseName %q is not a Postgres identifier: use letters, digits and underscores", *p.DatabaseName)
	}
	if p.DatabaseParams == nil {
		p.DatabaseParams = jsii.String("sslmode=require")
	} else if known(p.DatabaseParams) && (!strings.Contains(*p.DatabaseParams, "sslmode=") || strings.Contains(*p.DatabaseParams, "sslmode=disable")) {
		fail("DatabaseParams %q must set sslmode to require, verify-ca or verify-full: RDS Postgres refuses unencrypted connections", *p.DatabaseParams)
	}
	if p.Image == nil {
		p.Image = awsecs.ContainerImage_FromRegistry(jsii.String(TracetestImage), nil)
	}
	if p.Cpu == nil {
		p.Cpu = jsii.Number(1024)
	}
	if p.MemoryMiB == nil {
		p.MemoryMiB = jsii.Number(2048)
	}
	if known(p.Cpu) {
		cpu := int(*p.Cpu)
		allowed := fargateMemory(cpu)
		if allowed == nil || float64(cpu) != *p.Cpu {
			fail("Cpu %v is not a Fargate size: use 256, 512, 1024, 2048, 4096, 8192 or 16384", *p.Cpu)
		}
		if known(p.MemoryMiB) {
			ok := false
			for _, m := range allowed {
				ok = ok || float64(m) == *p.MemoryMiB
			}
			if !ok {
				fail("MemoryMiB %v is not offered by Fargate with Cpu %d: use one of %v", *p.MemoryMiB, cpu, allowed)
			}
		}
	}
	if p.CpuArchitecture == nil {
		p.CpuArchitecture = awsecs.CpuArchitecture_ARM64()
	}
	if p.DesiredCount == nil {
		p.DesiredCount = jsii.Number(1)
	} else if known(p.DesiredCount) && (*p.DesiredCount < 0 || *p.DesiredCount != float64(int(*p.DesiredCount))) {
		fail("DesiredCount %v must be a whole number, 0 or more", *p.DesiredCount)
	}
	if p.TaskSubnets == nil {
		p.TaskSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	}
	if p.LoadBalancer != nil && (p.InternetFacing != nil || p.AccessLogBucket != nil) {
		fail("InternetFacing and AccessLogBucket configure the load balancer the construct creates: set them on your LoadBalancer instead")
	}
	if p.InternetFacing == nil {
		p.InternetFacing = jsii.Bool(true)
	}
	if p.Certificate != nil && p.DomainName == nil {
		fail("Certificate needs DomainName, the name the certificate covers: browsers and the Tracetest CLI check it, " +
			"and the load balancer's own DNS name is not on your certificate")
	}
	if p.DomainName != nil && known(p.DomainName) && !hostname.MatchString(strings.TrimSuffix(*p.DomainName, ".")) {
		fail("DomainName %q is not a DNS name such as tracetest.example.com", *p.DomainName)
	}
	if p.DomainZone != nil && p.DomainName == nil {
		fail("DomainZone needs DomainName, the record to create in it")
	}
	if o := p.Oidc; o != nil {
		if p.Certificate == nil {
			fail("Oidc needs Certificate: the load balancer authenticates only on an HTTPS listener")
		}
		for _, f := range []struct {
			name string
			v    *string
		}{{"Issuer", o.Issuer}, {"AuthorizationEndpoint", o.AuthorizationEndpoint}, {"TokenEndpoint", o.TokenEndpoint}, {"UserInfoEndpoint", o.UserInfoEndpoint}} {
			if f.v == nil || (known(f.v) && !strings.HasPrefix(*f.v, "https://")) {
				fail("Oidc.%s must be an https URL from the provider's openid-configuration", f.name)
			}
		}
		if o.ClientId == nil || (known(o.ClientId) && *o.ClientId == "") || o.ClientSecret == nil {
			fail("Oidc needs ClientId and ClientSecret (a SecretValue from Secrets Manager)")
		}
	}
	if p.LogGroup != nil && (p.LogRetention != "" || p.LogRemovalPolicy != "") {
		fail("LogRetention and LogRemovalPolicy configure the log group the construct creates: set them on your LogGroup instead")
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.LogRemovalPolicy == "" {
		p.LogRemovalPolicy = awscdk.RemovalPolicy_DESTROY
	}
	if p.HealthCheckGracePeriod == nil {
		p.HealthCheckGracePeriod = awscdk.Duration_Minutes(jsii.Number(3))
	}
	return p
}

var hostname = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
