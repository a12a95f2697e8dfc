// Command sendnotification-sendgrid is the SendNotification Lambda function
// for NOTIFICATION_MODE sendgrid (and log): it links DynamoDB and Secrets
// Manager (docs/LAMBDAS.md). Runtime provided.al2023, built as bootstrap with
// -tags lambda.norpc. See docs/WORKFLOW.md.
package main

import (
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/sendgrid"
)

func main() {
	notification.Main(sendgrid.Mode)
}
