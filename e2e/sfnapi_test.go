package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestStepFunctionsEndpointWireFormat checks the harness's one fake with the real AWS SDK
// client the Lambdas use: each token state must come back as the typed error the SDK
// decodes from Step Functions' own answers.
func TestStepFunctionsEndpointWireFormat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := sfn.New(sfn.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("e2e", "e2e", ""),
		BaseEndpoint: aws.String(h.sfnURL),
	})
	add := func(token string, tok *taskToken) {
		tok.result = make(chan taskResult, 1)
		h.mu.Lock()
		h.tokens[token] = tok
		h.mu.Unlock()
	}
	add("open-token", &taskToken{deadline: time.Now().Add(time.Hour)})
	add("spent-token", &taskToken{deadline: time.Now().Add(time.Hour), closed: true})
	add("timed-out-token", &taskToken{deadline: time.Now().Add(time.Hour), closed: true, timedOut: true})
	add("past-deadline-token", &taskToken{deadline: time.Now().Add(-time.Second)})

	success := func(token, output string) error {
		_, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(output)})
		return err
	}
	var doesNotExist *types.TaskDoesNotExist
	var timedOut *types.TaskTimedOut
	var invalidOutput *types.InvalidOutput
	tests := []struct {
		name string
		call func() error
		want any // pointer to the typed error, nil for success
	}{
		{"unknown token", func() error { return success("never-issued", `{}`) }, &doesNotExist},
		{"spent token", func() error { return success("spent-token", `{}`) }, &doesNotExist},
		{"timed-out token", func() error { return success("timed-out-token", `{}`) }, &timedOut},
		{"token past its deadline", func() error { return success("past-deadline-token", `{}`) }, &timedOut},
		{"output not JSON", func() error { return success("open-token", `{not json`) }, &invalidOutput},
		{"heartbeat on an open token", func() error {
			_, err := client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("open-token")})
			return err
		}, nil},
		{"failure on an unknown token", func() error {
			_, err := client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String("never-issued"), Error: aws.String("X")})
			return err
		}, &doesNotExist},
		{"success on an open token", func() error { return success("open-token", `{"IncidentId": "x"}`) }, nil},
		{"second success on the same token", func() error { return success("open-token", `{}`) }, &doesNotExist},
	}
	for _, tt := range tests {
		err := tt.call()
		switch target := tt.want.(type) {
		case nil:
			if err != nil {
				t.Errorf("%s: %v, want success", tt.name, err)
			}
		case **types.TaskDoesNotExist:
			if !errors.As(err, target) {
				t.Errorf("%s: %v, want TaskDoesNotExist", tt.name, err)
			}
		case **types.TaskTimedOut:
			if !errors.As(err, target) {
				t.Errorf("%s: %v, want TaskTimedOut", tt.name, err)
			}
		case **types.InvalidOutput:
			if !errors.As(err, target) {
				t.Errorf("%s: %v, want InvalidOutput", tt.name, err)
			}
		}
	}
	h.mu.Lock()
	open := h.tokens["open-token"]
	h.mu.Unlock()
	select {
	case res := <-open.result:
		if string(res.output) != `{"IncidentId": "x"}` {
			t.Errorf("the waiting task got output %s, want the SendTaskSuccess output", res.output)
		}
	default:
		t.Error("SendTaskSuccess on the open token did not reach the waiting task")
	}
}
