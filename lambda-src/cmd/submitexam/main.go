// Command submitexam is the SubmitExam (POST /exam) Lambda function (runtime provided.al2023,
// built as bootstrap with -tags lambda.norpc). See docs/WORKFLOW.md.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/submit"
)

func main() {
	h, err := submit.NewSubmitExam(context.Background(), os.Getenv)
	if err != nil {
		log.Fatalf("submitexam: %v", err)
	}
	lambda.Start(h.Handle)
}
