package sendgrid

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify/notifytest"
)

// msg is an exam notification with a token that needs escaping.
var msg = notifytest.Message()

func TestSendGrid(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		ok        bool
		retryable bool
	}{
		{"accepted", http.StatusAccepted, true, false},
		{"unauthorized", http.StatusUnauthorized, false, false},
		{"throttled", http.StatusTooManyRequests, false, true},
		{"server error", http.StatusBadGateway, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got mail
			var auth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				auth = r.Header.Get("Authorization")
				data, _ := io.ReadAll(r.Body)
				json.Unmarshal(data, &got)
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			s := Sender{HTTP: srv.Client(), Endpoint: srv.URL, APIKey: "SG.key", From: "from@example.com", To: "to@example.com"}
			err := s.Send(context.Background(), msg)
			if (err == nil) != tt.ok {
				t.Fatalf("error = %v, want ok=%v", err, tt.ok)
			}
			var status *notify.StatusError
			if err != nil && (!errors.As(err, &status) || status.Status != tt.status || status.RetryableError() != tt.retryable) {
				t.Errorf("error = %#v, want a *notify.StatusError %d, retryable %v", err, tt.status, tt.retryable)
			}
			if auth != "Bearer SG.key" || got.From.Email != s.From || got.Personalizations[0].To[0].Email != s.To ||
				got.Subject != msg.Subject() || got.Content[0].Value != msg.Body() {
				t.Errorf("request: auth %q mail %+v", auth, got)
			}
		})
	}
}

// secretsManager stands in for Secrets Manager, which has no local
// implementation, at the HTTP boundary: it answers GetSecretValue with value
// (or with status and an error), and checks the request is the one
// aws-sdk-go-v2's client sends.
func secretsManager(t *testing.T, value string, status int) awsapi.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
			!reflect.DeepEqual(in, map[string]any{"SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:sg"}) {
			t.Errorf("request %v %v", r.Header, in)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if status != 0 {
			w.WriteHeader(status)
			io.WriteString(w, `{"__type":"AccessDeniedException","Message":"not authorized"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"ARN": "arn", "Name": "sg", "SecretString": value, "VersionId": "v"})
	}))
	t.Cleanup(srv.Close)
	return awsapi.Config{
		Region: "us-east-1", Credentials: aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"},
		Endpoints: map[string]string{awsapi.SecretsManager.ID: srv.URL},
		Retryer: func(awsapi.Service) aws.RetryerV2 {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 1 })
		},
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		name   string
		value  string
		status int
		want   string
	}{
		{"bare key", " SG.abc \n", 0, "SG.abc"},
		{"json", `{"apiKey":"SG.json"}`, 0, "SG.json"},
		{"json without key", `{"other":"x"}`, 0, ""},
		{"empty", "", 0, ""},
		{"bad json", `{`, 0, ""},
		{"denied", "", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		cfg := secretsManager(t, tt.value, tt.status)
		key, err := Key(context.Background(), awsapi.New(cfg, awsapi.SecretsManager), "arn:aws:secretsmanager:us-east-1:1:secret:sg")
		if key != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: key %q err %v, want %q", tt.name, key, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "secret:sg") {
			t.Errorf("%s: error %v does not name the secret", tt.name, err)
		}

		// The SDK's client reads the same answer as the same secret string.
		sdk := secretsmanager.New(secretsmanager.Options{Region: cfg.Region, BaseEndpoint: aws.String(cfg.Endpoints[awsapi.SecretsManager.ID]),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return cfg.Credentials, nil }),
			Retryer:     aws.NopRetryer{}})
		out, err := sdk.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("arn:aws:secretsmanager:us-east-1:1:secret:sg")})
		if (err == nil) != (tt.status == 0) || (err == nil && aws.ToString(out.SecretString) != tt.value) {
			t.Errorf("%s: the SDK reads %v, %v", tt.name, out, err)
		}
	}
}
