package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"gopkg.in/yaml.v3"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

// tracetestContainer returns the Tracetest container definition of the Tracetest stack.
func tracetestContainer(t *testing.T, r *synthResult) map[string]any {
	t.Helper()
	defs := r.resources(t, "Tracetest", "AWS::ECS::TaskDefinition")
	if len(defs) != 1 {
		t.Fatalf("task definitions = %d, want 1", len(defs))
	}
	for _, d := range defs {
		return d["Properties"].(map[string]any)["ContainerDefinitions"].([]any)[0].(map[string]any)
	}
	return nil
}

func nameValues(list any, key string) map[string]any {
	out := map[string]any{}
	for _, e := range list.([]any) {
		m := e.(map[string]any)
		out[m["Name"].(string)] = m[key]
	}
	return out
}

// resolve evaluates the few intrinsic functions a deploy would, with a fixed region.
func resolve(t *testing.T, v any, region string) string {
	t.Helper()
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if ref, ok := x["Ref"]; ok && ref == "AWS::Region" {
			return region
		}
		if j, ok := x["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range j[1].([]any) {
				parts = append(parts, resolve(t, p, region))
			}
			return strings.Join(parts, j[0].(string))
		}
		if b, ok := x["Fn::Base64"]; ok {
			return base64.StdEncoding.EncodeToString([]byte(resolve(t, b, region)))
		}
	}
	t.Fatalf("cannot resolve %s", mustJSON(v))
	return ""
}

func TestTracetestDatabaseWiring(t *testing.T) {
	c := tracetestContainer(t, synthed)
	env := nameValues(c["Environment"], "Value")
	secrets := nameValues(c["Secrets"], "ValueFrom")
	dataStack := synthed.stacks.Config.StackName("Data")

	for name, wantOutput := range map[string]string{
		"TRACETEST_POSTGRES_HOST": "EndpointAddress",
		"TRACETEST_POSTGRES_PORT": "EndpointPort",
	} {
		v := mustJSON(env[name])
		if !containsAll(v, "Fn::GetStackOutput", `"`+dataStack+`"`, "Database", wantOutput) {
			t.Errorf("%s does not come from the data stack's database %s: %s", name, wantOutput, v)
		}
	}
	if env["TRACETEST_POSTGRES_DBNAME"] != stacks.TracetestDatabaseName {
		t.Errorf("TRACETEST_POSTGRES_DBNAME = %v", env["TRACETEST_POSTGRES_DBNAME"])
	}
	if p, _ := env["TRACETEST_POSTGRES_PARAMS"].(string); !strings.Contains(p, "sslmode=require") {
		t.Errorf("TRACETEST_POSTGRES_PARAMS = %v, want sslmode=require", env["TRACETEST_POSTGRES_PARAMS"])
	}
	for name, key := range map[string]string{"TRACETEST_POSTGRES_USER": ":username::", "TRACETEST_POSTGRES_PASSWORD": ":password::"} {
		if _, plain := env[name]; plain {
			t.Errorf("%s is a plain environment value; it must be an ECS secret", name)
		}
		v := mustJSON(secrets[name])
		if !containsAll(v, `"`+dataStack+`"`, "DatabaseSecret", key) {
			t.Errorf("secret %s does not read %s of the data stack's secret: %s", name, key, v)
		}
	}
}

func TestTracetestProvisioningSelectsXRayWithTheTaskRole(t *testing.T) {
	env := nameValues(tracetestContainer(t, synthed)["Environment"], "Value")
	encoded := resolve(t, env["TRACETEST_PROVISIONING"], "eu-west-3")
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("TRACETEST_PROVISIONING is not standard base64: %v", err)
	}
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	for {
		var doc struct {
			Type string         `yaml:"type"`
			Spec map[string]any `yaml:"spec"`
		}
		if err := dec.Decode(&doc); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("provisioning YAML: %v\n%s", err, raw)
		}
		docs[doc.Type] = doc.Spec
	}
	ds := docs["DataStore"]
	if ds == nil || ds["type"] != "awsxray" || ds["default"] != true {
		t.Fatalf("DataStore = %v", ds)
	}
	xray := ds["awsxray"].(map[string]any)
	if xray["useDefaultAuth"] != true || xray["region"] != "eu-west-3" {
		t.Errorf("awsxray = %v, want useDefaultAuth and the deploy region", xray)
	}
	for _, k := range []string{"accessKeyId", "secretAccessKey", "sessionToken"} {
		if _, ok := xray[k]; ok {
			t.Errorf("awsxray holds %s: credentials must come from the task role", k)
		}
	}
	pp := docs["PollingProfile"]
	if pp == nil || pp["strategy"] != "periodic" {
		t.Fatalf("PollingProfile = %v", pp)
	}
	periodic := pp["periodic"].(map[string]any)
	if periodic["retryDelay"] != "5s" || periodic["timeout"] != "120s" || periodic["selectorMatchRetries"] != 6 {
		t.Errorf("polling = %v", periodic)
	}
	if cfg := docs["Config"]; cfg == nil || cfg["analyticsEnabled"] != false {
		t.Errorf("Config = %v, want analytics off", cfg)
	}
}

func TestTracetestTaskRoleReadsXRayOnly(t *testing.T) {
	var xrayActions []string
	for _, p := range synthed.resources(t, "Tracetest", "AWS::IAM::Policy") {
		if !strings.Contains(mustJSON(p["Properties"].(map[string]any)["Roles"]), "TaskRole") {
			continue
		}
		for _, st := range p["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			actions := st.(map[string]any)["Action"]
			list, ok := actions.([]any)
			if !ok {
				list = []any{actions}
			}
			for _, a := range list {
				if strings.HasPrefix(a.(string), "xray:") {
					xrayActions = append(xrayActions, a.(string))
				}
			}
		}
	}
	if strings.Join(xrayActions, ",") != "xray:BatchGetTraces" {
		t.Errorf("task role X-Ray actions = %v, want exactly xray:BatchGetTraces", xrayActions)
	}
	for name, tpl := range synthed.templates {
		s := mustJSON(tpl)
		if strings.Contains(s, "AWS::IAM::AccessKey") || strings.Contains(s, "accessKeyId") || strings.Contains(s, "AKIA") {
			t.Errorf("stack %s holds access keys", name)
		}
	}
}

func TestTracetestNetworkAccess(t *testing.T) {
	r := synthWith(t, map[string]any{stacks.CtxTracetestAllowedCidrs: []any{"203.0.113.0/24", "198.51.100.7/32"}})
	sgs := r.resources(t, "Tracetest", "AWS::EC2::SecurityGroup")
	var lb map[string]any
	for id, sg := range sgs {
		if strings.Contains(id, "LoadBalancerSecurityGroup") {
			lb = sg["Properties"].(map[string]any)
		}
	}
	if lb == nil {
		t.Fatal("no load balancer security group")
	}
	var got []string
	for _, rule := range lb["SecurityGroupIngress"].([]any) {
		rule := rule.(map[string]any)
		cidr, _ := rule["CidrIp"].(string)
		got = append(got, fmt.Sprintf("%s:%v", cidr, rule["FromPort"]))
	}
	if strings.Join(got, " ") != "203.0.113.0/24:11633 198.51.100.7/32:11633" {
		t.Errorf("load balancer ingress = %v", got)
	}

	// Default context: no ingress at all, and a warning saying how to open it.
	for id, sg := range synthed.resources(t, "Tracetest", "AWS::EC2::SecurityGroup") {
		if strings.Contains(id, "LoadBalancerSecurityGroup") {
			if in := sg["Properties"].(map[string]any)["SecurityGroupIngress"]; in != nil {
				t.Errorf("load balancer is open without allowed CIDRs: %v", in)
			}
		}
	}
	check(t, "closed warning", func() {
		assertions.Annotations_FromStack(synthed.stacks.Tracetest.Stack).HasWarning(jsii.String("*"),
			assertions.Match_StringLikeRegexp(jsii.String("tracetestAllowedCidrs=")))
	})

	// Stand-alone ingress rules: the service only from the load balancer, the database
	// only from the service, on their own ports.
	var service, db []string
	for _, in := range synthed.resources(t, "Tracetest", "AWS::EC2::SecurityGroupIngress") {
		p := in["Properties"].(map[string]any)
		rule := fmt.Sprintf("%s<-%s", mustJSON(p["FromPort"]), mustJSON(p["SourceSecurityGroupId"]))
		switch target := mustJSON(p["GroupId"]); {
		case strings.Contains(target, "ServiceSecurityGroup"):
			service = append(service, rule)
		case strings.Contains(target, "DatabaseSecurityGroup"):
			db = append(db, rule)
		default:
			t.Errorf("unexpected ingress rule on %s", target)
		}
	}
	if len(service) != 1 || !containsAll(service[0], "11633<-", "LoadBalancerSecurityGroup") {
		t.Errorf("service ingress = %v, want only 11633 from the load balancer", service)
	}
	// The database port is the data stack's endpoint port (5432 unless changed there).
	if len(db) != 1 || !containsAll(db[0], "EndpointPort", "<-", "ServiceSecurityGroup") {
		t.Errorf("database ingress = %v, want only the database port from the service", db)
	}
	if n := len(synthed.resources(t, "Data", "AWS::EC2::SecurityGroupIngress")); n != 0 {
		t.Errorf("data stack opens its database itself (%d rules): only the service may", n)
	}
}

func TestTracetestServiceHealthAndDeployment(t *testing.T) {
	tpl := synthed.template(t, "Tracetest")
	check(t, "target group health check", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::TargetGroup"), props(map[string]any{
			"Port":            tracing.TracetestPort,
			"HealthCheckPath": tracing.TracetestHealthPath,
			"Matcher":         map[string]any{"HttpCode": "200"},
			"TargetType":      "ip",
		}))
	})
	check(t, "listener on 11633", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), props(map[string]any{
			"Port": tracing.TracetestPort, "Protocol": "HTTP",
		}))
	})
	check(t, "service", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), props(map[string]any{
			"HealthCheckGracePeriodSeconds": 180,
			"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
			}),
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": assertions.Match_ObjectLike(&map[string]any{"AssignPublicIp": "DISABLED"})},
		}))
	})
	check(t, "log retention", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Logs::LogGroup"), props(map[string]any{"RetentionInDays": 365}))
	})
	check(t, "task size and architecture", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), props(map[string]any{
			"Cpu": "1024", "Memory": "2048",
			"RuntimePlatform": map[string]any{"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
		}))
	})
	c := tracetestContainer(t, synthed)
	if c["Image"] != tracing.TracetestImage || tracing.TracetestImage != "kubeshop/tracetest:v1.7.1" {
		t.Errorf("image = %v", c["Image"])
	}
	hc := mustJSON(c["HealthCheck"])
	if !containsAll(hc, "wget", "11633/api/version.json") {
		t.Errorf("container health check = %s", hc)
	}
	if out := synthed.templates[synthed.stacks.Config.StackName("Tracetest")]["Outputs"].(map[string]any)[stacks.TracetestURLOutput]; !containsAll(mustJSON(out), "http://", ":11633") {
		t.Errorf("TracetestUrl output = %s", mustJSON(out))
	}
}

func TestTracetestHTTPSWithCertificate(t *testing.T) {
	r := synthWith(t, map[string]any{
		stacks.CtxTracetestCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
		stacks.CtxTracetestDomainName:     "tracetest.example.com",
		stacks.CtxTracetestHostedZoneId:   "Z0123456789ABCDEFGHIJ",
		stacks.CtxTracetestAllowedCidrs:   "198.51.100.0/24",
	})
	tpl := r.template(t, "Tracetest")
	if out := mustJSON(r.templates[r.stacks.Config.StackName("Tracetest")]["Outputs"].(map[string]any)[stacks.TracetestURLOutput]); !strings.Contains(out, `"https://tracetest.example.com"`) {
		t.Errorf("TracetestUrl with a certificate = %s, want the certificate's name", out)
	}
	check(t, "alias record", func() {
		tpl.HasResourceProperties(jsii.String("AWS::Route53::RecordSet"), props(map[string]any{
			"Name": "tracetest.example.com.", "Type": "A", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
		}))
	})
	check(t, "https listener", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), props(map[string]any{
			"Port": 443, "Protocol": "HTTPS",
		}))
	})
	check(t, "http redirects", func() {
		tpl.HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), props(map[string]any{
			"Port":           tracing.TracetestPort,
			"DefaultActions": []any{assertions.Match_ObjectLike(&map[string]any{"Type": "redirect"})},
		}))
	})
}

func TestTracetestOidcSignIn(t *testing.T) {
	oidc := map[string]any{
		"issuer": "https://login.example.com", "authorizationEndpoint": "https://login.example.com/authorize",
		"tokenEndpoint": "https://login.example.com/token", "userInfoEndpoint": "https://login.example.com/userinfo",
		"clientId": "tracetest", "clientSecretName": "tracetest/oidc",
	}
	r := synthWith(t, map[string]any{
		stacks.CtxTracetestCertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666",
		stacks.CtxTracetestDomainName:     "tracetest.example.com",
		stacks.CtxTracetestAllowedCidrs:   "198.51.100.0/24",
		stacks.CtxTracetestOidc:           oidc,
	})
	check(t, "https listener authenticates, then forwards", func() {
		r.template(t, "Tracetest").HasResourceProperties(jsii.String("AWS::ElasticLoadBalancingV2::Listener"), props(map[string]any{
			"Port": 443,
			"DefaultActions": []any{
				assertions.Match_ObjectLike(&map[string]any{
					"Type":  "authenticate-oidc",
					"Order": 1,
					"AuthenticateOidcConfig": assertions.Match_ObjectLike(&map[string]any{
						"Issuer":       "https://login.example.com",
						"ClientSecret": assertions.Match_StringLikeRegexp(jsii.String("resolve:secretsmanager:tracetest/oidc")),
					}),
				}),
				assertions.Match_ObjectLike(&map[string]any{"Type": "forward", "Order": 2}),
			},
		}))
	})
	ctx, _ := cdkJSONContext()
	ctx[stacks.CtxTracetestOidc] = oidc
	if _, err := newApp(awscdk.NewApp(appProps(ctx))); err == nil || !strings.Contains(err.Error(), "set tracetestCertificateArn too") {
		t.Errorf("oidc without a certificate: %v", err)
	}
}
