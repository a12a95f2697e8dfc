// Command sendnotification is the SendNotification Lambda function (runtime provided.al2023,
// built as bootstrap with -tags lambda.norpc). See docs/WORKFLOW.md.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
)

func main() {
	h, err := notification.NewSendNotification(context.Background(), os.Getenv)
	if err != nil {
		log.Fatalf("sendnotification: %v", err)
	}
	lambda.Start(h.Handle)
}
