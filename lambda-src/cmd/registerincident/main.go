// Command registerincident is the RegisterIncident Lambda function (runtime
// provided.al2023, built as bootstrap with -tags lambda.norpc). It writes
// nothing, so it links no AWS client. See docs/WORKFLOW.md.
package main

import (
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/register"
)

func main() {
	h := &register.RegisterIncident{Now: time.Now}
	lambda.Start(h.Handle)
}
