package recipe

import (
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// suppress records, on one resource, why a cdk-nag rule does not apply there. Teams that
// run cdk-nag on their own apps see these reasons; everyone else gets harmless metadata.
// Every suppression is listed in docs/SECURITY.md.
func suppress(resource constructs.IConstruct, rule, reason string, appliesTo ...string) {
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

// xrayWriteReason justifies the "*" resource of X-Ray's write actions.
const xrayWriteReason = "X-Ray PutTraceSegments/PutTelemetryRecords (and the sampling reads) have no resource-level permissions: AWS requires Resource \"*\""
