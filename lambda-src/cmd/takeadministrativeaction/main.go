// Command takeadministrativeaction is the TakeAdministrativeAction Lambda function (runtime provided.al2023,
// built as bootstrap with -tags lambda.norpc). See docs/WORKFLOW.md.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
)

func main() {
	h, err := handler.NewTakeAdministrativeAction(context.Background(), os.Getenv)
	if err != nil {
		log.Fatalf("takeadministrativeaction: %v", err)
	}
	lambda.Start(h.Handle)
}
