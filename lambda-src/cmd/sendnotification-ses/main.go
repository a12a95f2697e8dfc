// Command sendnotification-ses is the SendNotification Lambda function for
// NOTIFICATION_MODE ses (and log): it links DynamoDB and SES v2
// (docs/LAMBDAS.md). Runtime provided.al2023, built as bootstrap with -tags
// lambda.norpc. See docs/WORKFLOW.md.
package main

import (
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/ses"
)

func main() {
	notification.Main(ses.Mode)
}
