package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

func TestNetworkSubnetsSpanTwoZonesOfEachType(t *testing.T) {
	subnets := synthed.resources(t, "Network", "AWS::EC2::Subnet")
	count := map[string]int{}
	for id, s := range subnets {
		props := s["Properties"].(map[string]any)
		for _, tag := range props["Tags"].([]any) {
			tag := tag.(map[string]any)
			if tag["Key"] == "aws-cdk:subnet-type" {
				count[tag["Value"].(string)]++
			}
		}
		if public, _ := props["MapPublicIpOnLaunch"].(bool); public {
			t.Errorf("subnet %s gives instances public IPs", id)
		}
	}
	want := map[string]int{"Public": 2, "Private": 2, "Isolated": 2}
	for typ, n := range want {
		if count[typ] != n {
			t.Errorf("%s subnets = %d, want %d (all: %v)", typ, count[typ], n, count)
		}
	}
}

func TestNetworkNatGatewaysFollowContext(t *testing.T) {
	check(t, "default NAT count", func() {
		synthed.template(t, "Network").ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
	})
	for _, n := range []int{0, 2} {
		r := synthWith(t, map[string]any{stacks.CtxNatGateways: n})
		check(t, "NAT count from context", func() {
			r.template(t, "Network").ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(n))
		})
		if n == 0 {
			check(t, "warning without NAT", func() {
				assertions.Annotations_FromStack(r.stacks.Network.Stack).HasWarning(jsii.String("*"),
					assertions.Match_StringLikeRegexp(jsii.String("natGateways is 0")))
			})
		}
	}
}

func TestNetworkFlowLogsAndClosedDefaultSecurityGroup(t *testing.T) {
	tpl := synthed.template(t, "Network")
	check(t, "flow log", func() {
		tpl.HasResourceProperties(jsii.String("AWS::EC2::FlowLog"), props(map[string]any{
			"ResourceType":       "VPC",
			"TrafficType":        "ALL",
			"LogDestinationType": "cloud-watch-logs",
		}))
	})
	check(t, "flow log retention", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), props(map[string]any{"RetentionInDays": 365}))
	})
	check(t, "default security group emptied", func() {
		tpl.ResourceCountIs(jsii.String("Custom::VpcRestrictDefaultSG"), jsii.Number(1))
	})
}

func TestDatabaseIsEncryptedPostgresInIsolatedSubnets(t *testing.T) {
	tpl := synthed.template(t, "Data")
	check(t, "instance", func() {
		tpl.HasResourceProperties(jsii.String("AWS::RDS::DBInstance"), props(map[string]any{
			"Engine":                "postgres",
			"EngineVersion":         assertions.Match_StringLikeRegexp(jsii.String(`^1[78]\.`)),
			"DBName":                stacks.TracetestDatabaseName,
			"StorageEncrypted":      true,
			"PubliclyAccessible":    false,
			"BackupRetentionPeriod": 7,
			"DeletionProtection":    true,
			"DBInstanceClass":       "db.t4g.micro",
		}))
	})
	groups := synthed.resources(t, "Data", "AWS::RDS::DBSubnetGroup")
	if len(groups) != 1 {
		t.Fatalf("subnet groups = %d, want 1", len(groups))
	}
	for _, g := range groups {
		ids := g["Properties"].(map[string]any)["SubnetIds"].([]any)
		if len(ids) != 2 {
			t.Fatalf("database subnets = %d, want 2", len(ids))
		}
		for _, id := range ids {
			s := mustJSON(id)
			if !containsAll(s, synthed.stacks.Config.StackName("Network"), "IsolatedSubnet") {
				t.Errorf("database subnet is not an isolated subnet of the network stack: %s", s)
			}
		}
	}
}

func TestDatabaseEnforcesTLS(t *testing.T) {
	check(t, "parameter group", func() {
		synthed.template(t, "Data").HasResourceProperties(jsii.String("AWS::RDS::DBParameterGroup"), props(map[string]any{
			"Parameters": assertions.Match_ObjectLike(&map[string]any{"rds.force_ssl": "1"}),
		}))
	})
}

func TestDatabasePasswordIsSafeInsideAURL(t *testing.T) {
	secrets := synthed.resources(t, "Data", "AWS::SecretsManager::Secret")
	if len(secrets) != 1 {
		t.Fatalf("secrets = %d, want 1", len(secrets))
	}
	for _, s := range secrets {
		gen := s["Properties"].(map[string]any)["GenerateSecretString"].(map[string]any)
		excluded, _ := gen["ExcludeCharacters"].(string)
		if !strings.Contains(mustJSON(gen["SecretStringTemplate"]), stacks.TracetestDatabaseUser) {
			t.Errorf("secret template does not hold the user %q: %v", stacks.TracetestDatabaseUser, gen["SecretStringTemplate"])
		}
		// Every printable ASCII character outside RFC 3986's unreserved set must be excluded.
		for c := byte(0x20); c < 0x7f; c++ {
			unreserved := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~", c) >= 0
			if !unreserved && strings.IndexByte(excluded, c) < 0 {
				t.Errorf("password may contain %q, which a URL must escape", c)
			}
		}
	}
}

func TestDatabaseRemovalPolicyFollowsContext(t *testing.T) {
	cases := []struct {
		name      string
		overrides map[string]any
		policy    string
		protected bool
	}{
		{"default", nil, "Snapshot", true},
		{"retain", map[string]any{stacks.CtxDBRemovalPolicy: "retain"}, "Retain", true},
		{"destroy", map[string]any{stacks.CtxDBRemovalPolicy: "destroy", stacks.CtxDBDeletionProtection: "false"}, "Delete", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := synthed
			if c.overrides != nil {
				r = synthWith(t, c.overrides)
			}
			check(t, "policies", func() {
				r.template(t, "Data").HasResource(jsii.String("AWS::RDS::DBInstance"), props(map[string]any{
					"DeletionPolicy":      c.policy,
					"UpdateReplacePolicy": c.policy,
					"Properties":          assertions.Match_ObjectLike(&map[string]any{"DeletionProtection": c.protected}),
				}))
			})
		})
	}
}

func TestStacksAreEnvironmentAgnosticAndPrefixed(t *testing.T) {
	r := synthWith(t, map[string]any{stacks.CtxPrefix: "Dev2"})
	for _, part := range []string{"Network", "Data"} {
		if _, ok := r.templates["Dev2-"+part]; !ok {
			t.Errorf("no stack Dev2-%s (have %v)", part, keys(r.templates))
		}
	}
	for _, st := range []awscdk.Stack{synthed.stacks.Network.Stack, synthed.stacks.Data.Stack} {
		if !strings.HasPrefix(*st.Account(), "${Token[") || !strings.HasPrefix(*st.Region(), "${Token[") {
			t.Errorf("stack %s is bound to an environment: account %s, region %s", *st.StackName(), *st.Account(), *st.Region())
		}
	}
}

func TestBadContextFailsWithAClearMessage(t *testing.T) {
	cases := []struct {
		key   string
		value any
		want  string
	}{
		{stacks.CtxNatGateways, "3", `context "natGateways": "3" is not valid`},
		{stacks.CtxNatGateways, "many", `use 0, 1 or 2`},
		{stacks.CtxPrefix, "my stack", `context "prefix"`},
		{stacks.CtxDBRemovalPolicy, "forget", `use "snapshot", "retain" or "destroy"`},
		{stacks.CtxDBRemovalPolicy, "destroy", `could never delete the database`},
		{stacks.CtxDBDeletionProtection, "perhaps", `use true or false`},
		{stacks.CtxDBBackupRetentionDays, 0, `from 1 to 35`},
		{stacks.CtxDBInstanceType, "large", `instance class`},
		{stacks.CtxTracetestAllowedCidrs, "10.0.0.1/8", `host bits zero`},
		{stacks.CtxTracetestAllowedCidrs, "0.0.0.0/33", `"0.0.0.0/33" is not valid`},
		{stacks.CtxTracetestCertificateArn, "arn:aws:iam::123456789012:role/x", `ARN of an ACM certificate`},
		{stacks.CtxTracetestAllowedCidrs, "2001:db8::/32", `IPv4 only`},
		{stacks.CtxTracetestCertificateArn, "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d", `"tracetestDomainName" is not`},
		{stacks.CtxTracetestDomainName, "tracetest", `the DNS name your certificate covers`},
		{stacks.CtxTracetestHostedZoneId, "Z0123456789ABCDEFGHIJ", `set tracetestDomainName too`},
	}
	for _, c := range cases {
		ctx, err := cdkJSONContext()
		if err != nil {
			t.Fatal(err)
		}
		ctx[c.key] = c.value
		_, err = newApp(awscdk.NewApp(appProps(ctx)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%v: error %v, want it to contain %q", c.key, c.value, err, c.want)
		}
	}
}

func TestContextAcceptsCommandLineStrings(t *testing.T) {
	app := awscdk.NewApp(appProps(map[string]any{
		stacks.CtxNatGateways:           "2",
		stacks.CtxDBDeletionProtection:  "false",
		stacks.CtxTracetestAllowedCidrs: "203.0.113.0/24, 198.51.100.7/32",
	}))
	cfg, err := stacks.ConfigFromContext(app)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NatGateways != 2 || cfg.DBDeletionProtection || len(cfg.TracetestAllowedCidrs) != 2 {
		t.Errorf("config = %+v", cfg)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
