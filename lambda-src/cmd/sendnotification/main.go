// Command sendnotification is the SendNotification Lambda function for every
// NOTIFICATION_MODE (log, ses, sendgrid): the one workflow.CodeFromDirectory and
// prebuilt code take. The construct deploys the binary of its mode instead
// (sendnotification-log, -ses, -sendgrid), which links only that mode's AWS
// clients (docs/LAMBDAS.md). Runtime provided.al2023, built as bootstrap with
// -tags lambda.norpc. See docs/WORKFLOW.md.
package main

import (
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/sendgrid"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/ses"
)

func main() {
	notification.Main(ses.Mode, sendgrid.Mode)
}
