// Package nag records, on the resources the construct library creates, why a cdk-nag rule
// does not apply there. Teams that run cdk-nag on their own apps then see no finding from
// the library's resources, and each reason is in the template metadata for review; teams
// that do not run cdk-nag get harmless metadata.
package nag

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Suppress records on resource (its CloudFormation resource: a construct's default child
// when it has one) why rule does not apply. appliesTo narrows the suppression to findings
// such as "Resource::*", so a later, different finding of the same rule still fails.
func Suppress(resource constructs.IConstruct, rule, reason string, appliesTo ...string) {
	if child := resource.Node().DefaultChild(); child != nil {
		resource = child
	}
	s := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	cdknag.NagSuppressions_AddResourceSuppressions(resource, &[]*cdknag.NagPackSuppression{s}, jsii.Bool(false))
}

// XRayWriteReason justifies the "*" resource of the X-Ray actions that active tracing
// adds to a role.
const XRayWriteReason = "X-Ray PutTraceSegments/PutTelemetryRecords (and the sampling reads) have no resource-level permissions: AWS requires Resource \"*\""
