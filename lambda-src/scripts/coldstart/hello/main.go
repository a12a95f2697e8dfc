// Command hello is the smallest Go Lambda function (it answers its input),
// the reference the cold-start benchmark compares the functions with.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil })
}
