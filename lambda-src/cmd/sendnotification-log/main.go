// Command sendnotification-log is the SendNotification Lambda function for
// NOTIFICATION_MODE log: it links DynamoDB only (docs/LAMBDAS.md). Runtime
// provided.al2023, built as bootstrap with -tags lambda.norpc. See
// docs/WORKFLOW.md.
package main

import (
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
)

func main() {
	notification.Main()
}
