package tracing

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/internal/nag"
)

// XRayReadActions returns the IAM actions the Tracetest server calls to read traces from
// X-Ray: it fetches whole traces by id, and nothing else. Each call returns a new slice.
func XRayReadActions() []string { return []string{"xray:BatchGetTraces"} }

// XRayDataStoreProps configures an XRayDataStore. The zero value is a good default.
type XRayDataStoreProps struct {
	// Region is where Tracetest reads traces. Default: the region of the stack the data
	// store is in, resolved by CloudFormation at deploy time.
	Region *string
	// PollingRetryDelay is how long Tracetest waits between two reads of a trace, in
	// whole seconds from 1 to 60. It is also how long a trace must stay unchanged for
	// Tracetest to take it as complete: two reads one delay apart that find the same
	// number of spans. Default: 5 seconds.
	PollingRetryDelay awscdk.Duration
	// PollingTimeout is how long Tracetest keeps reading a trace that is not found yet
	// or still grows, from the trigger on, in whole seconds from 10 to 3600. A trace
	// never found fails the test ("timeout"); one that keeps growing is judged as it is
	// after PollingTimeout / PollingRetryDelay reads (plus SelectorMatchRetries). X-Ray
	// ingests segments within seconds to tens of seconds. Default: 2 minutes.
	PollingTimeout awscdk.Duration
	// SelectorMatchRetries is how many more reads, PollingRetryDelay apart, Tracetest
	// makes when the trace has stopped growing but the selector of one of the test's
	// specs still matches no span: the wait for X-Ray segments that arrive late. The
	// count starts again whenever new spans arrive. The retries cost time only when a
	// selector matches nothing: a failing test, or a selector that cannot match while
	// Tracetest polls, such as one naming the trigger span ("Tracetest trigger"), which
	// Tracetest adds only when polling ends and which therefore spends every retry on
	// every run. 0 to 100; 0 warns at synth, since X-Ray segments that arrive more than
	// PollingRetryDelay after the others are then missed. Default: 6.
	SelectorMatchRetries *float64
	// AnalyticsEnabled sends Tracetest's anonymous usage analytics. Default: false.
	AnalyticsEnabled *bool
}

// XRayDataStore is everything Tracetest needs to use AWS X-Ray as its trace data store:
// provisioning documents that select X-Ray with the default AWS credential chain (so the
// ECS task role, never access keys) and tune polling for X-Ray's ingestion delay, and a
// grant of exactly the X-Ray permission the server uses.
type XRayDataStore interface {
	constructs.Construct
	// ProvisioningYAML is the multi-document YAML Tracetest applies on first boot
	// (DataStore, PollingProfile, Config). It contains CloudFormation tokens (the region).
	ProvisioningYAML() *string
	// ProvisioningBase64 is ProvisioningYAML encoded by CloudFormation (Fn::Base64) as
	// standard base64: the value of TRACETEST_PROVISIONING.
	ProvisioningBase64() *string
	// Region is the region traces are read from.
	Region() *string
	// GrantRead allows grantee to read traces from X-Ray as Tracetest does
	// (XRayReadActions on "*": X-Ray has no resource-level permissions for reads). The
	// statement goes into a policy of its own, named TracetestXRayRead, which carries the
	// cdk-nag suppression of exactly that "*", so nothing else on grantee's role is
	// suppressed with it.
	GrantRead(grantee awsiam.IGrantable) awsiam.Grant
}

type xrayDataStore struct {
	constructs.Construct
	yaml   string
	region *string
}

// NewXRayDataStore creates the provisioning documents for an X-Ray data store.
func NewXRayDataStore(scope constructs.Construct, id *string, props *XRayDataStoreProps) XRayDataStore {
	if props == nil {
		props = &XRayDataStoreProps{}
	}
	d := &xrayDataStore{}
	constructs.NewConstruct_Override(d, scope, id)
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("tracing.XRayDataStore: "+format, args...))
	}

	d.region = props.Region
	if d.region == nil || (known(d.region) && *d.region == "") {
		d.region = awscdk.Stack_Of(d).Region()
	}
	// Polling values end up inside a YAML document that Tracetest validates at start,
	// so they must be known at synth.
	retryDelay := durationSeconds(props.PollingRetryDelay, 5, "PollingRetryDelay", 1, 60, fail)
	timeout := durationSeconds(props.PollingTimeout, 120, "PollingTimeout", 10, 3600, fail)
	if timeout <= retryDelay {
		fail("PollingTimeout (%ds) must be longer than PollingRetryDelay (%ds)", timeout, retryDelay)
	}
	retries := 6
	if v := props.SelectorMatchRetries; v != nil {
		retries = int(*v)
		if !known(v) || float64(retries) != *v || retries < 0 || retries > 100 {
			fail("SelectorMatchRetries %v must be a whole number from 0 to 100, known at synth", *v)
		}
	}
	if retries == 0 {
		awscdk.Annotations_Of(d).AddWarningV2(jsii.String("tracing:noSelectorMatchRetries"), jsii.String(fmt.Sprintf(
			"SelectorMatchRetries is 0: Tracetest judges a test as soon as its trace did not change for %ds (PollingRetryDelay), "+
				"so X-Ray segments that arrive later are missed and the test fails. Leave it unset (6) unless your traces arrive at once.", retryDelay)))
	}
	analytics := props.AnalyticsEnabled != nil && *props.AnalyticsEnabled

	// The region may be a token: it is concatenated into the string, and CloudFormation
	// joins the parts at deploy time.
	var b strings.Builder
	b.WriteString("---\ntype: DataStore\nspec:\n  id: current\n  name: AWS X-Ray\n  type: awsxray\n  default: true\n")
	b.WriteString("  awsxray:\n    region: " + *d.region + "\n    useDefaultAuth: true\n")
	b.WriteString("---\ntype: PollingProfile\nspec:\n  id: current\n  name: X-Ray\n  default: true\n  strategy: periodic\n")
	fmt.Fprintf(&b, "  periodic:\n    retryDelay: %ds\n    timeout: %ds\n    selectorMatchRetries: %d\n", retryDelay, timeout, retries)
	fmt.Fprintf(&b, "---\ntype: Config\nspec:\n  id: current\n  name: Config\n  analyticsEnabled: %t\n", analytics)
	d.yaml = b.String()
	return d
}

func (d *xrayDataStore) ProvisioningYAML() *string { return jsii.String(d.yaml) }

func (d *xrayDataStore) ProvisioningBase64() *string { return awscdk.Fn_Base64(jsii.String(d.yaml)) }

func (d *xrayDataStore) Region() *string { return d.region }

// readPolicyID names the policy GrantRead adds to a role, user or group.
const readPolicyID = "TracetestXRayRead"

func (d *xrayDataStore) GrantRead(grantee awsiam.IGrantable) awsiam.Grant {
	options := &awsiam.GrantOnPrincipalOptions{Grantee: grantee, Actions: jsii.Strings(XRayReadActions()...), ResourceArns: jsii.Strings("*")}
	principal := grantee.GrantPrincipal()
	owner, ok := principal.(constructs.Construct)
	if !ok {
		return awsiam.Grant_AddToPrincipal(options)
	}
	policy, _ := owner.Node().TryFindChild(jsii.String(readPolicyID)).(awsiam.Policy)
	if policy == nil {
		policy = awsiam.NewPolicy(owner, jsii.String(readPolicyID), nil)
		switch x := principal.(type) {
		case awsiam.IRole:
			policy.AttachToRole(x)
		case awsiam.IUser:
			policy.AttachToUser(x)
		case awsiam.IGroup:
			policy.AttachToGroup(x)
		default:
			policy.Node().TryRemoveChild(jsii.String(readPolicyID))
			return awsiam.Grant_AddToPrincipal(options)
		}
		nag.Suppress(policy, "AwsSolutions-IAM5",
			"xray:BatchGetTraces (Tracetest's X-Ray data store) has no resource-level permissions: AWS requires Resource \"*\"; this policy holds only that action",
			"Resource::*")
	}
	options.Grantee = &policyGrantee{policy: policy, principal: principal}
	return awsiam.Grant_AddToPrincipal(options)
}

// durationSeconds returns d in whole seconds, def when d is nil, and fails when it is
// outside [min, max], not a whole number of seconds, or unknown at synth.
func durationSeconds(d awscdk.Duration, def int, name string, min, max int, fail func(string, ...any)) int {
	if d == nil {
		return def
	}
	if *d.IsUnresolved() {
		fail("%s must be known at synth (it is written into Tracetest's provisioning document)", name)
	}
	ms := *d.ToMilliseconds(nil)
	s := int(ms / 1000)
	if float64(s)*1000 != ms || s < min || s > max {
		fail("%s %s must be a whole number of seconds from %d to %d", name, *d.ToHumanString(), min, max)
	}
	return s
}

// policyGrantee is principal seen through one policy of its own: grants made to it add
// their statements to policy, not to the principal's default policy.
type policyGrantee struct {
	policy    awsiam.Policy
	principal awsiam.IPrincipal
}

func (g *policyGrantee) GrantPrincipal() awsiam.IPrincipal { return g }

func (g *policyGrantee) AddToPrincipalPolicy(statement awsiam.PolicyStatement) *awsiam.AddToPrincipalPolicyResult {
	g.policy.AddStatements(statement)
	return &awsiam.AddToPrincipalPolicyResult{StatementAdded: jsii.Bool(true), PolicyDependable: g.policy}
}

func (g *policyGrantee) AssumeRoleAction() *string { return g.principal.AssumeRoleAction() }

func (g *policyGrantee) PolicyFragment() awsiam.PrincipalPolicyFragment {
	return g.principal.PolicyFragment()
}

func (g *policyGrantee) PrincipalAccount() *string { return g.principal.PrincipalAccount() }
