// Command hellodynamodb is hello world with a DynamoDB client of aws-sdk-go-v2
// made at start-up and never called: the second reference of the cold-start
// benchmark, what linking and initializing the SDK's DynamoDB client costs
// (the functions call DynamoDB through awsapi instead; docs/BENCHMARKS.md).
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func main() {
	creds := credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN"))
	client := dynamodb.NewFromConfig(aws.Config{Region: os.Getenv("AWS_REGION"), Credentials: creds})
	lambda.Start(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		_ = client
		return in, nil
	})
}
