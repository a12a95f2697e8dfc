// Command hellocall is hello world that, given an incident, reads it from
// DynamoDB with one plain HTTP request (GetItem, unsigned: DynamoDB Local
// does not check signatures) before answering: the third reference of the
// cold-start benchmark. A function's first call pays for the process's first
// connection and first request, whoever makes it; this is that cost with no
// AWS code at all (docs/BENCHMARKS.md).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	table := os.Getenv("TABLE_NAME")
	lambda.Start(func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		var incident struct{ IncidentId string }
		if json.Unmarshal(in, &incident) != nil || incident.IncidentId == "" {
			return in, nil
		}
		body, _ := json.Marshal(map[string]any{"TableName": table, "Key": map[string]any{"IncidentId": map[string]string{"S": incident.IncidentId}}})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GetItem: %d %s %v", resp.StatusCode, answer, err)
		}
		return in, nil
	})
}
