package recipe

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
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// TracetestImage is the default Tracetest server image: the v1.7.1 release (multi-arch).
const TracetestImage = "kubeshop/tracetest:v1.7.1"

// TracetestPort is where the Tracetest server serves its UI and API, in the container and
// on the load balancer.
const TracetestPort = 11633

// TracetestHealthPath answers 200 once the server is up (Tracetest has no dedicated
// health endpoint).
const TracetestHealthPath = "/api/version.json"

// TracetestServiceProps configures a TracetestService. Database and DatabaseSecret are
// required, and one of Vpc or Cluster.
type TracetestServiceProps struct {
	// Vpc to run in. Default: the VPC of Cluster (one of the two is required).
	Vpc awsec2.IVpc
	// Cluster to run the service in. Default: a new cluster in Vpc with Container
	// Insights enabled.
	Cluster awsecs.ICluster
	// Database is the Postgres instance Tracetest stores its data in. The service opens
	// its security group to it on the database port.
	Database awsrds.IDatabaseInstance
	// DatabaseSecret holds the credentials as JSON with the keys "username" and
	// "password" (the format of RDS-generated secrets). They reach the container as ECS
	// secrets, never as plain environment values. The password must hold only characters
	// that need no escaping in a URL: Tracetest does not escape it.
	DatabaseSecret awssecretsmanager.ISecret
	// DatabaseName is the Postgres database Tracetest uses. Default: "tracetest".
	DatabaseName *string
	// DatabaseParams are the libpq connection parameters. Default: "sslmode=require"
	// (RDS for Postgres 15 and later refuses unencrypted connections).
	DatabaseParams *string
	// DataStore provisions X-Ray as Tracetest's trace data store and is granted to the
	// task role. Default: a new XRayDataStore with default props.
	DataStore XRayDataStore
	// Image is the container image, pinned by tag or digest. Default: TracetestImage.
	Image *string
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
	// InternetFacing puts the load balancer in the public subnets. Default: true.
	InternetFacing *bool
	// AllowedCidrs may reach the load balancer (IPv4 or IPv6 CIDR ranges). Tracetest has
	// no login of its own, so this is its access control. Default: none; the synth warns
	// and nothing can reach Tracetest until ranges are given.
	AllowedCidrs *[]*string
	// Certificate, when given, adds an HTTPS listener on port 443, and the plain HTTP
	// listener on TracetestPort redirects to it. Default: HTTP on TracetestPort only.
	Certificate awscertificatemanager.ICertificate
	// Oidc puts OpenID Connect sign-in (any OIDC identity provider, Amazon Cognito
	// included) in front of Tracetest on the HTTPS listener; requires Certificate.
	// Default: none.
	Oidc *TracetestOidc
	// LogRetention of the container logs. Default: awslogs.RetentionDays_ONE_YEAR.
	LogRetention awslogs.RetentionDays
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
// Balancer on port 11633, with its data in Postgres and traces read from X-Ray.
type TracetestService interface {
	constructs.Construct
	awsec2.IConnectable
	// Service is the Fargate service.
	Service() awsecs.FargateService
	// TaskDefinition is the service's task definition.
	TaskDefinition() awsecs.FargateTaskDefinition
	// TaskRole is the role the Tracetest server runs with (it reads X-Ray with it).
	TaskRole() awsiam.IRole
	// LoadBalancer in front of the service.
	LoadBalancer() elb.ApplicationLoadBalancer
	// Cluster the service runs in.
	Cluster() awsecs.ICluster
	// DataStore provisioned into Tracetest.
	DataStore() XRayDataStore
	// LogGroup receiving the container logs.
	LogGroup() awslogs.ILogGroup
	// Url is where users and the Tracetest CLI reach the server, e.g.
	// http://<alb-dns>:11633, or https://<alb-dns> with a certificate.
	Url() *string
}

type tracetestService struct {
	constructs.Construct
	service   awsecs.FargateService
	taskDef   awsecs.FargateTaskDefinition
	lb        elb.ApplicationLoadBalancer
	cluster   awsecs.ICluster
	dataStore XRayDataStore
	logGroup  awslogs.ILogGroup
	url       *string
}

var imagePattern = regexp.MustCompile(`^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$`)

// NewTracetestService creates the Tracetest server.
func NewTracetestService(scope constructs.Construct, id *string, props *TracetestServiceProps) TracetestService {
	p := validateTracetestProps(props)
	s := &tracetestService{}
	constructs.NewConstruct_Override(s, scope, id)
	c := s

	s.cluster = p.Cluster
	if s.cluster == nil {
		s.cluster = awsecs.NewCluster(c, jsii.String("Cluster"), &awsecs.ClusterProps{
			Vpc:                 p.Vpc,
			ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
		})
	}
	s.dataStore = p.DataStore
	if s.dataStore == nil {
		s.dataStore = NewXRayDataStore(c, jsii.String("DataStore"), nil)
	}
	s.logGroup = awslogs.NewLogGroup(c, jsii.String("Logs"), &awslogs.LogGroupProps{
		Retention:     p.LogRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	s.taskDef = awsecs.NewFargateTaskDefinition(c, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            p.Cpu,
		MemoryLimitMiB: p.MemoryMiB,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       p.CpuArchitecture,
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	s.taskDef.AddContainer(jsii.String("tracetest"), &awsecs.ContainerDefinitionOptions{
		Image:     awsecs.ContainerImage_FromRegistry(p.Image, nil),
		Essential: jsii.Bool(true),
		// A hard limit: the container is the task.
		MemoryLimitMiB: p.MemoryMiB,
		PortMappings: &[]*awsecs.PortMapping{{
			ContainerPort: jsii.Number(TracetestPort),
			Protocol:      awsecs.Protocol_TCP,
			Name:          jsii.String("http"),
		}},
		Environment: &map[string]*string{
			"TRACETEST_POSTGRES_HOST":   p.Database.DbInstanceEndpointAddress(),
			"TRACETEST_POSTGRES_PORT":   p.Database.DbInstanceEndpointPort(),
			"TRACETEST_POSTGRES_DBNAME": p.DatabaseName,
			"TRACETEST_POSTGRES_PARAMS": p.DatabaseParams,
			"TRACETEST_PROVISIONING":    s.dataStore.ProvisioningBase64(),
		},
		Secrets: &map[string]awsecs.Secret{
			"TRACETEST_POSTGRES_USER":     awsecs.Secret_FromSecretsManager(p.DatabaseSecret, jsii.String("username")),
			"TRACETEST_POSTGRES_PASSWORD": awsecs.Secret_FromSecretsManager(p.DatabaseSecret, jsii.String("password")),
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
	s.dataStore.GrantRead(s.taskDef.TaskRole())
	suppress(s.taskDef.TaskRole().Node().TryFindChild(jsii.String("DefaultPolicy")).Node().DefaultChild(), "AwsSolutions-IAM5",
		"xray:BatchGetTraces has no resource-level permissions: AWS requires Resource \"*\"; it is the only X-Ray action granted", "Resource::*")
	suppress(s.taskDef.Node().DefaultChild(), "AwsSolutions-ECS2",
		"the environment holds only non-secret settings (database host, port, name, TLS mode, X-Ray provisioning without credentials); the database credentials are ECS secrets from Secrets Manager")

	// Egress is closed but for HTTPS (image pulls, Secrets Manager, X-Ray, CloudWatch Logs)
	// and the database port, opened below.
	serviceSG := awsec2.NewSecurityGroup(c, jsii.String("ServiceSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              s.cluster.Vpc(),
		Description:      jsii.String("Tracetest tasks: ingress from the load balancer only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	serviceSG.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)),
		jsii.String("HTTPS to AWS APIs and the image registry"), jsii.Bool(false))

	s.service = awsecs.NewFargateService(c, jsii.String("Service"), &awsecs.FargateServiceProps{
		SecurityGroups:         &[]awsec2.ISecurityGroup{serviceSG},
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
	// Opened from the service's side: opening it from the database's side makes the two
	// stacks reference each other.
	s.service.Connections().AllowToDefaultPort(p.Database, jsii.String("Tracetest to Postgres"))

	lbSG := awsec2.NewSecurityGroup(c, jsii.String("LoadBalancerSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              s.cluster.Vpc(),
		Description:      jsii.String("Tracetest load balancer: ingress only from the allowed CIDR ranges"),
		AllowAllOutbound: jsii.Bool(false),
	})
	s.lb = elb.NewApplicationLoadBalancer(c, jsii.String("LoadBalancer"), &elb.ApplicationLoadBalancerProps{
		Vpc:                     s.cluster.Vpc(),
		InternetFacing:          p.InternetFacing,
		SecurityGroup:           lbSG,
		DropInvalidHeaderFields: jsii.Bool(true),
	})

	targets := elb.NewApplicationTargetGroup(c, jsii.String("Targets"), &elb.ApplicationTargetGroupProps{
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
	action := elb.ListenerAction_Forward(&[]elb.IApplicationTargetGroup{targets}, nil)
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

	listenerPorts := []int{TracetestPort}
	if p.Certificate != nil {
		s.lb.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
			Port:          jsii.Number(443),
			Protocol:      elb.ApplicationProtocol_HTTPS,
			Certificates:  &[]elb.IListenerCertificate{elb.ListenerCertificate_FromCertificateManager(p.Certificate)},
			SslPolicy:     elb.SslPolicy_RECOMMENDED_TLS,
			Open:          jsii.Bool(false),
			DefaultAction: action,
		})
		s.lb.AddListener(jsii.String("Http"), &elb.BaseApplicationListenerProps{
			Port:     jsii.Number(TracetestPort),
			Protocol: elb.ApplicationProtocol_HTTP,
			Open:     jsii.Bool(false),
			DefaultAction: elb.ListenerAction_Redirect(&elb.RedirectOptions{
				Protocol: jsii.String("HTTPS"), Port: jsii.String("443"), Permanent: jsii.Bool(true),
			}),
		})
		listenerPorts = append(listenerPorts, 443)
		s.url = jsii.String("https://" + *s.lb.LoadBalancerDnsName())
	} else {
		s.lb.AddListener(jsii.String("Http"), &elb.BaseApplicationListenerProps{
			Port:          jsii.Number(TracetestPort),
			Protocol:      elb.ApplicationProtocol_HTTP,
			Open:          jsii.Bool(false),
			DefaultAction: action,
		})
		s.url = jsii.String(fmt.Sprintf("http://%s:%d", *s.lb.LoadBalancerDnsName(), TracetestPort))
	}

	if p.AllowedCidrs == nil || len(*p.AllowedCidrs) == 0 {
		awscdk.Annotations_Of(c).AddWarningV2(jsii.String("recipe:tracetestClosed"), jsii.String(
			"Tracetest accepts no traffic: no AllowedCidrs are set. Tracetest has no login, so open it only to "+
				"ranges you trust, e.g. `cdk deploy -c tracetestAllowedCidrs=203.0.113.0/24` (app) or "+
				"TracetestServiceProps.AllowedCidrs (construct)."))
	} else {
		for _, cidr := range *p.AllowedCidrs {
			var peer awsec2.IPeer
			if strings.Contains(*cidr, ":") {
				peer = awsec2.Peer_Ipv6(cidr)
			} else {
				peer = awsec2.Peer_Ipv4(cidr)
			}
			for _, port := range listenerPorts {
				lbSG.AddIngressRule(peer, awsec2.Port_Tcp(jsii.Number(port)),
					jsii.String(fmt.Sprintf("Tracetest from %s", *cidr)), jsii.Bool(false))
			}
		}
	}
	return s
}

func (s *tracetestService) Connections() awsec2.Connections              { return s.service.Connections() }
func (s *tracetestService) Service() awsecs.FargateService               { return s.service }
func (s *tracetestService) TaskDefinition() awsecs.FargateTaskDefinition { return s.taskDef }
func (s *tracetestService) TaskRole() awsiam.IRole                       { return s.taskDef.TaskRole() }
func (s *tracetestService) LoadBalancer() elb.ApplicationLoadBalancer    { return s.lb }
func (s *tracetestService) Cluster() awsecs.ICluster                     { return s.cluster }
func (s *tracetestService) DataStore() XRayDataStore                     { return s.dataStore }
func (s *tracetestService) LogGroup() awslogs.ILogGroup                  { return s.logGroup }
func (s *tracetestService) Url() *string                                 { return s.url }

// fargateSizes lists, per CPU units, the memory sizes (MiB) Fargate offers.
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

// validateTracetestProps checks props and fills defaults, panicking with a message that
// names the bad property and the fix.
func validateTracetestProps(props *TracetestServiceProps) TracetestServiceProps {
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("recipe.TracetestService: "+format, args...))
	}
	if props == nil {
		fail("props are required (Database, DatabaseSecret and Vpc or Cluster)")
	}
	p := *props
	if p.Vpc == nil && p.Cluster == nil {
		fail("set Vpc or Cluster")
	}
	if p.Vpc == nil {
		p.Vpc = p.Cluster.Vpc()
	}
	if p.Database == nil {
		fail("Database is required: the Postgres instance Tracetest stores its data in")
	}
	if p.DatabaseSecret == nil {
		fail("DatabaseSecret is required: a secret with the keys username and password")
	}
	if p.DatabaseName == nil {
		p.DatabaseName = jsii.String("tracetest")
	} else if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`).MatchString(*p.DatabaseName) {
		fail("DatabaseName %q is not a Postgres identifier: use letters, digits and underscores", *p.DatabaseName)
	}
	if p.DatabaseParams == nil {
		p.DatabaseParams = jsii.String("sslmode=require")
	} else if !strings.Contains(*p.DatabaseParams, "sslmode=") || strings.Contains(*p.DatabaseParams, "sslmode=disable") {
		fail("DatabaseParams %q must set sslmode to require, verify-ca or verify-full: RDS Postgres refuses unencrypted connections", *p.DatabaseParams)
	}
	if p.Image == nil {
		p.Image = jsii.String(TracetestImage)
	}
	switch img := strings.TrimSpace(*p.Image); {
	case img == "":
		fail("Image is empty: use a pinned image such as %q", TracetestImage)
	case !imagePattern.MatchString(img):
		fail("Image %q is not pinned: give a tag or a digest, e.g. %q", img, TracetestImage)
	case strings.HasSuffix(img, ":latest"):
		fail("Image %q uses the moving tag latest: pin a release, e.g. %q", img, TracetestImage)
	}
	if p.Cpu == nil {
		p.Cpu = jsii.Number(1024)
	}
	if p.MemoryMiB == nil {
		p.MemoryMiB = jsii.Number(2048)
	}
	cpu, mem := int(*p.Cpu), int(*p.MemoryMiB)
	allowed := fargateMemory(cpu)
	if allowed == nil || float64(cpu) != *p.Cpu {
		fail("Cpu %v is not a Fargate size: use 256, 512, 1024, 2048, 4096, 8192 or 16384", *p.Cpu)
	}
	ok := false
	for _, m := range allowed {
		ok = ok || (m == mem && float64(mem) == *p.MemoryMiB)
	}
	if !ok {
		fail("MemoryMiB %v is not offered by Fargate with Cpu %d: use one of %v", *p.MemoryMiB, cpu, allowed)
	}
	if p.CpuArchitecture == nil {
		p.CpuArchitecture = awsecs.CpuArchitecture_ARM64()
	}
	if p.DesiredCount == nil {
		p.DesiredCount = jsii.Number(1)
	} else if *p.DesiredCount < 0 || *p.DesiredCount != float64(int(*p.DesiredCount)) {
		fail("DesiredCount %v must be a whole number, 0 or more", *p.DesiredCount)
	}
	if p.TaskSubnets == nil {
		p.TaskSubnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	}
	if p.InternetFacing == nil {
		p.InternetFacing = jsii.Bool(true)
	}
	if p.AllowedCidrs != nil {
		for _, c := range *p.AllowedCidrs {
			if c == nil {
				fail("AllowedCidrs holds a nil entry")
			}
			prefix, err := netip.ParsePrefix(*c)
			if err != nil {
				fail("AllowedCidrs entry %q is not a CIDR range: use e.g. 203.0.113.0/24 or 2001:db8::/32", *c)
			}
			if prefix.Masked() != prefix {
				fail("AllowedCidrs entry %q has host bits set: use %s", *c, prefix.Masked())
			}
			if prefix.Bits() == 0 {
				fail("AllowedCidrs entry %q opens Tracetest, which has no login, to the whole internet: list the ranges that need it", *c)
			}
		}
	}
	if o := p.Oidc; o != nil {
		if p.Certificate == nil {
			fail("Oidc needs Certificate: the load balancer authenticates only on an HTTPS listener")
		}
		for name, v := range map[string]*string{"Issuer": o.Issuer, "AuthorizationEndpoint": o.AuthorizationEndpoint,
			"TokenEndpoint": o.TokenEndpoint, "UserInfoEndpoint": o.UserInfoEndpoint} {
			if v == nil || !strings.HasPrefix(*v, "https://") {
				fail("Oidc.%s must be an https URL from the provider's openid-configuration", name)
			}
		}
		if o.ClientId == nil || *o.ClientId == "" || o.ClientSecret == nil {
			fail("Oidc needs ClientId and ClientSecret (a SecretValue from Secrets Manager)")
		}
	}
	if p.LogRetention == "" {
		p.LogRetention = awslogs.RetentionDays_ONE_YEAR
	}
	if p.HealthCheckGracePeriod == nil {
		p.HealthCheckGracePeriod = awscdk.Duration_Minutes(jsii.Number(3))
	}
	return p
}
