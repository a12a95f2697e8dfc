package sendgrid

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

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

// fakeSecrets stands in for Secrets Manager, which has no local implementation.
type fakeSecrets struct {
	value string
	err   error
}

func (f fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, f.err
}

func TestKey(t *testing.T) {
	tests := []struct {
		name    string
		secrets fakeSecrets
		want    string
	}{
		{"bare key", fakeSecrets{value: " SG.abc \n"}, "SG.abc"},
		{"json", fakeSecrets{value: `{"apiKey":"SG.json"}`}, "SG.json"},
		{"json without key", fakeSecrets{value: `{"other":"x"}`}, ""},
		{"empty", fakeSecrets{value: ""}, ""},
		{"bad json", fakeSecrets{value: `{`}, ""},
		{"denied", fakeSecrets{err: errors.New("AccessDenied")}, ""},
	}
	for _, tt := range tests {
		key, err := Key(context.Background(), tt.secrets, "arn:aws:secretsmanager:us-east-1:1:secret:sg")
		if key != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: key %q err %v, want %q", tt.name, key, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), "secret:sg") {
			t.Errorf("%s: error %v does not name the secret", tt.name, err)
		}
	}
}
