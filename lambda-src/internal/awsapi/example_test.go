package awsapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
)

// A function reads its configuration once (awsapi.Load in Lambda; built by
// hand here, with a stand-in for Secrets Manager) and calls an operation
// with its input and output as the API's JSON members.
func Example() {
	secrets := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Println(r.Header.Get("X-Amz-Target"))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"ARN":"arn:aws:secretsmanager:eu-west-1:1:secret:sg","SecretString":"SG.key"}`)
	}))
	defer secrets.Close()

	cfg := awsapi.Config{
		Region:      "eu-west-1",
		Credentials: aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"},
		Endpoints:   map[string]string{awsapi.SecretsManager.ID: secrets.URL},
	}
	client := awsapi.New(cfg, awsapi.SecretsManager)

	var out struct{ SecretString string }
	err := client.Call(context.Background(), "GetSecretValue", struct{ SecretId string }{"sg"}, &out)
	if err != nil {
		fmt.Println(awsapi.ErrorCode(err), err)
		return
	}
	fmt.Println(out.SecretString)
	// Output:
	// secretsmanager.GetSecretValue
	// SG.key
}
