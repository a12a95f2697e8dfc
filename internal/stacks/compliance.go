package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// AddComplianceChecks runs the cdk-nag AwsSolutions rules on every resource under scope at
// synth. A finding that is not suppressed (with a reason, on the narrowest resource) is an
// error annotation: `cdk synth` fails on it and the tests list it.
func AddComplianceChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{
		Verbose:       jsii.Bool(true),
		ReportFormats: &[]cdknag.NagReportFormat{},
		Reports:       jsii.Bool(false),
	}), nil)
}

// suppressNag records why a cdk-nag rule does not apply to one resource (the default
// child of c). Every suppression is listed in docs/SECURITY.md.
func suppressNag(c constructs.IConstruct, rule, reason string) {
	target := c
	if child := c.Node().DefaultChild(); child != nil {
		target = child
	}
	cdknag.NagSuppressions_AddResourceSuppressions(target, &[]*cdknag.NagPackSuppression{
		{Id: jsii.String(rule), Reason: jsii.String(reason)},
	}, jsii.Bool(false))
}
