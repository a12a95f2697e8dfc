// Package stacks holds the four stacks of the app (network, data, Tracetest, workflow) and
// the settings they read from the CDK context. The stacks compose the reusable constructs of
// packages constructs/tracing and constructs/workflow; business rules never live here.
package stacks

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Context keys read by Config. Defaults live in cdk.json and, for apps built without it,
// in DefaultConfig.
const (
	CtxPrefix                  = "prefix"
	CtxNatGateways             = "natGateways"
	CtxDBInstanceType          = "dbInstanceType"
	CtxDBDeletionProtection    = "dbDeletionProtection"
	CtxDBRemovalPolicy         = "dbRemovalPolicy"
	CtxDBBackupRetentionDays   = "dbBackupRetentionDays"
	CtxTracetestAllowedCidrs   = "tracetestAllowedCidrs"
	CtxTracetestCertificateArn = "tracetestCertificateArn"
	CtxTracetestDomainName     = "tracetestDomainName"
	CtxTracetestHostedZoneId   = "tracetestHostedZoneId"
	CtxTracetestOidc           = "tracetestOidc"
)

// Config is the deploy-time configuration of the app, read from the CDK context
// (cdk.json, or `cdk synth -c key=value`).
type Config struct {
	// Prefix starts every stack name, so several environments can share one account.
	Prefix string
	// NatGateways is the number of NAT gateways of the VPC (0 to 2).
	NatGateways int
	// DBInstanceType is the RDS instance class without the "db." prefix, e.g. "t4g.micro".
	DBInstanceType string
	// DBDeletionProtection turns on RDS deletion protection.
	DBDeletionProtection bool
	// DBRemovalPolicy is what CloudFormation does with the database when it leaves the
	// stack: "snapshot", "retain" or "destroy".
	DBRemovalPolicy awscdk.RemovalPolicy
	// DBBackupRetentionDays is how many days RDS keeps automated backups (1 to 35).
	DBBackupRetentionDays int
	// TracetestAllowedCidrs are the IPv4 ranges allowed to reach the Tracetest load
	// balancer (which is IPv4 only). Empty: nobody (a synth warning says how to open it).
	TracetestAllowedCidrs []string
	// TracetestCertificateArn, when set, adds an HTTPS listener with this ACM certificate.
	TracetestCertificateArn string
	// TracetestDomainName is the name Tracetest is reached by (required with a
	// certificate, which must cover it).
	TracetestDomainName string
	// TracetestHostedZoneId, when set, gets an alias record TracetestDomainName -> the
	// load balancer.
	TracetestHostedZoneId string
	// TracetestOidc, when set, puts OpenID Connect sign-in in front of Tracetest (needs
	// TracetestCertificateArn).
	TracetestOidc *OidcConfig
}

// OidcConfig is the context value tracetestOidc: the identity provider's endpoints, the
// client id, and the name of the Secrets Manager secret holding the client secret.
type OidcConfig struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	TokenEndpoint         string `json:"tokenEndpoint"`
	UserInfoEndpoint      string `json:"userInfoEndpoint"`
	ClientID              string `json:"clientId"`
	ClientSecretName      string `json:"clientSecretName"`
}

// DefaultConfig is the configuration with every context key absent: the same values as
// cdk.json ships with.
func DefaultConfig() Config {
	return Config{
		Prefix:                "TracetestSfn",
		NatGateways:           1,
		DBInstanceType:        "t4g.micro",
		DBDeletionProtection:  true,
		DBRemovalPolicy:       awscdk.RemovalPolicy_SNAPSHOT,
		DBBackupRetentionDays: 7,
	}
}

var (
	prefixPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)
	instanceType  = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9]+$`)
	acmArn        = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$`)
	domainName    = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)
	hostedZoneID  = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
)

// ConfigFromContext reads and validates the context of scope. Values given on the command
// line arrive as strings ("2", "false", "10.0.0.0/8,192.168.0.0/16"); values from cdk.json
// arrive as JSON: both are accepted.
func ConfigFromContext(scope constructs.Construct) (Config, error) {
	cfg := DefaultConfig()
	get := func(key string) (any, bool) {
		v := scope.Node().TryGetContext(jsii.String(key))
		if v == nil {
			return nil, false
		}
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			return nil, false
		}
		return v, true
	}
	var errs []string
	fail := func(key string, v any, want string) {
		errs = append(errs, fmt.Sprintf("context %q: %v is not valid: %s", key, render(v), want))
	}

	if v, ok := get(CtxPrefix); ok {
		s, _ := v.(string)
		if !prefixPattern.MatchString(s) {
			fail(CtxPrefix, v, "use a letter then up to 63 letters, digits or hyphens, e.g. -c prefix=TracetestSfnDev")
		} else {
			cfg.Prefix = s
		}
	}
	if v, ok := get(CtxNatGateways); ok {
		n, err := toInt(v)
		if err != nil || n < 0 || n > 2 {
			fail(CtxNatGateways, v, "use 0, 1 or 2 (the VPC spans 2 availability zones)")
		} else {
			cfg.NatGateways = n
		}
	}
	if v, ok := get(CtxDBInstanceType); ok {
		s, _ := v.(string)
		s = strings.TrimPrefix(s, "db.")
		if !instanceType.MatchString(s) {
			fail(CtxDBInstanceType, v, `use an instance class such as "t4g.micro" or "m7g.large"`)
		} else {
			cfg.DBInstanceType = s
		}
	}
	if v, ok := get(CtxDBDeletionProtection); ok {
		b, err := toBool(v)
		if err != nil {
			fail(CtxDBDeletionProtection, v, "use true or false")
		} else {
			cfg.DBDeletionProtection = b
		}
	}
	if v, ok := get(CtxDBRemovalPolicy); ok {
		s, _ := v.(string)
		switch strings.ToLower(s) {
		case "snapshot":
			cfg.DBRemovalPolicy = awscdk.RemovalPolicy_SNAPSHOT
		case "retain":
			cfg.DBRemovalPolicy = awscdk.RemovalPolicy_RETAIN
		case "destroy":
			cfg.DBRemovalPolicy = awscdk.RemovalPolicy_DESTROY
		default:
			fail(CtxDBRemovalPolicy, v, `use "snapshot", "retain" or "destroy"`)
		}
	}
	if v, ok := get(CtxDBBackupRetentionDays); ok {
		n, err := toInt(v)
		if err != nil || n < 1 || n > 35 {
			fail(CtxDBBackupRetentionDays, v, "use a whole number of days from 1 to 35")
		} else {
			cfg.DBBackupRetentionDays = n
		}
	}
	if v, ok := get(CtxTracetestAllowedCidrs); ok {
		cidrs, err := toStrings(v)
		if err != nil {
			fail(CtxTracetestAllowedCidrs, v, `use a list of CIDR ranges, e.g. -c tracetestAllowedCidrs=203.0.113.0/24,198.51.100.7/32`)
		}
		for _, c := range cidrs {
			p, err := netip.ParsePrefix(c)
			if err != nil || p.Masked() != p {
				fail(CtxTracetestAllowedCidrs, c, "use a CIDR range with its host bits zero, e.g. 203.0.113.0/24")
				continue
			}
			if !p.Addr().Is4() {
				fail(CtxTracetestAllowedCidrs, c, "the load balancer and the VPC are IPv4 only: use IPv4 ranges")
				continue
			}
			cfg.TracetestAllowedCidrs = append(cfg.TracetestAllowedCidrs, c)
		}
	}
	if v, ok := get(CtxTracetestCertificateArn); ok {
		s, _ := v.(string)
		if !acmArn.MatchString(s) {
			fail(CtxTracetestCertificateArn, v, "use the ARN of an ACM certificate in the deploy region, arn:aws:acm:<region>:<account>:certificate/<id>")
		} else {
			cfg.TracetestCertificateArn = s
		}
	}
	if v, ok := get(CtxTracetestDomainName); ok {
		s, _ := v.(string)
		if !domainName.MatchString(s) {
			fail(CtxTracetestDomainName, v, "use the DNS name your certificate covers, e.g. tracetest.example.com")
		} else {
			cfg.TracetestDomainName = s
		}
	}
	if v, ok := get(CtxTracetestHostedZoneId); ok {
		s, _ := v.(string)
		switch {
		case !hostedZoneID.MatchString(s):
			fail(CtxTracetestHostedZoneId, v, "use a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ")
		case cfg.TracetestDomainName == "":
			fail(CtxTracetestHostedZoneId, v, "set tracetestDomainName too: the record to create in the zone")
		default:
			cfg.TracetestHostedZoneId = s
		}
	}
	if cfg.TracetestCertificateArn != "" && cfg.TracetestDomainName == "" {
		errs = append(errs, fmt.Sprintf("context %q is set but %q is not: give the DNS name the certificate covers "+
			"(browsers and the Tracetest CLI check it; the load balancer's own name is not on your certificate)",
			CtxTracetestCertificateArn, CtxTracetestDomainName))
	}
	if v, ok := get(CtxTracetestOidc); ok {
		var o OidcConfig
		raw := v
		if str, isString := v.(string); isString {
			raw = json.RawMessage(str)
		}
		b, _ := json.Marshal(raw)
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		switch err := dec.Decode(&o); {
		case err != nil:
			fail(CtxTracetestOidc, v, `use {"issuer", "authorizationEndpoint", "tokenEndpoint", "userInfoEndpoint", "clientId", "clientSecretName"}: `+err.Error())
		case !strings.HasPrefix(o.Issuer, "https://") || !strings.HasPrefix(o.AuthorizationEndpoint, "https://") ||
			!strings.HasPrefix(o.TokenEndpoint, "https://") || !strings.HasPrefix(o.UserInfoEndpoint, "https://"):
			fail(CtxTracetestOidc, v, "issuer and the three endpoints must be https URLs from the provider's openid-configuration")
		case o.ClientID == "" || o.ClientSecretName == "":
			fail(CtxTracetestOidc, v, "clientId and clientSecretName (a Secrets Manager secret holding the client secret) are required")
		case cfg.TracetestCertificateArn == "":
			fail(CtxTracetestOidc, v, "sign-in needs HTTPS: set tracetestCertificateArn too")
		default:
			cfg.TracetestOidc = &o
		}
	}
	if cfg.DBRemovalPolicy == awscdk.RemovalPolicy_DESTROY && cfg.DBDeletionProtection {
		errs = append(errs, fmt.Sprintf("context %q is destroy but %q is true: CloudFormation could never delete the database; set -c %s=false too, or keep %s=snapshot",
			CtxDBRemovalPolicy, CtxDBDeletionProtection, CtxDBDeletionProtection, CtxDBRemovalPolicy))
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid app configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return cfg, nil
}

// StackName returns the stack name for a part of the app, e.g. "TracetestSfn-Network".
func (c Config) StackName(part string) string { return c.Prefix + "-" + part }

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("not a whole number")
		}
		return int(x), nil
	case string:
		return strconv.Atoi(strings.TrimSpace(x))
	}
	return 0, fmt.Errorf("not a number")
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		return strconv.ParseBool(strings.TrimSpace(x))
	}
	return false, fmt.Errorf("not a boolean")
}

// toStrings accepts a JSON list, a JSON-encoded list in a string, or a comma-separated string.
func toStrings(v any) ([]string, error) {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("not a list of strings")
			}
			out = append(out, strings.TrimSpace(s))
		}
		return out, nil
	case string:
		s := strings.TrimSpace(x)
		if strings.HasPrefix(s, "[") {
			var out []string
			if err := json.Unmarshal([]byte(s), &out); err != nil {
				return nil, err
			}
			return out, nil
		}
		var out []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a list")
}

func render(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
