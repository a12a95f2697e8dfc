package recipe

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// XRayReadActions are the IAM actions the Tracetest server calls to read traces from
// X-Ray: it fetches whole traces by id, and nothing else.
var XRayReadActions = []string{"xray:BatchGetTraces"}

// XRayDataStoreProps configures an XRayDataStore. The zero value is a good default.
type XRayDataStoreProps struct {
	// Region is where Tracetest reads traces. Default: the region of the stack the data
	// store is in, resolved by CloudFormation at deploy time.
	Region *string
	// PollingRetryDelay is how long Tracetest waits between two reads of a trace.
	// Default: 5 seconds.
	PollingRetryDelay awscdk.Duration
	// PollingTimeout is how long Tracetest keeps polling for a complete trace. X-Ray
	// ingests segments within seconds to tens of seconds. Default: 2 minutes.
	PollingTimeout awscdk.Duration
	// SelectorMatchRetries is how many more polls Tracetest makes when the trace looks
	// complete but a test selector still matches nothing (late X-Ray segments).
	// Default: 6.
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
	// GrantRead allows grantee to read traces from X-Ray as Tracetest does.
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
	c := d

	d.region = props.Region
	if d.region == nil || *d.region == "" {
		d.region = awscdk.Stack_Of(c).Region()
	}
	retryDelay := durationSeconds(props.PollingRetryDelay, 5, "PollingRetryDelay", 1, 60)
	timeout := durationSeconds(props.PollingTimeout, 120, "PollingTimeout", 10, 3600)
	if timeout <= retryDelay {
		panic(fmt.Errorf("recipe.XRayDataStore: PollingTimeout (%ds) must be longer than PollingRetryDelay (%ds)", timeout, retryDelay))
	}
	retries := 6
	if props.SelectorMatchRetries != nil {
		retries = int(*props.SelectorMatchRetries)
		if float64(retries) != *props.SelectorMatchRetries || retries < 0 || retries > 100 {
			panic(fmt.Errorf("recipe.XRayDataStore: SelectorMatchRetries %v must be a whole number from 0 to 100", *props.SelectorMatchRetries))
		}
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

// GrantRead adds xray:BatchGetTraces to grantee. X-Ray has no resource-level permissions
// for reading traces, so the resource is "*".
func (d *xrayDataStore) GrantRead(grantee awsiam.IGrantable) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings(XRayReadActions...),
		ResourceArns: jsii.Strings("*"),
	})
}

// durationSeconds returns d in whole seconds, def when d is nil, and panics when it is
// outside [min, max] or not a whole number of seconds.
func durationSeconds(d awscdk.Duration, def int, name string, min, max int) int {
	if d == nil {
		return def
	}
	ms := *d.ToMilliseconds(nil)
	s := int(ms / 1000)
	if float64(s)*1000 != ms || s < min || s > max {
		panic(fmt.Errorf("recipe: %s %s must be a whole number of seconds from %d to %d", name, *d.ToHumanString(), min, max))
	}
	return s
}
