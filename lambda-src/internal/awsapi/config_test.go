package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

// The SDK's generated clients are the reference here: the tests make the
// same calls with them and with this package and compare what reaches the
// wire (and, in errors_test.go, what comes back from it).

// setEnv replaces the process's AWS settings with vars for the test: Load
// reads the environment, and so do the SDK's loader and clients.
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || name == "_X_AMZN_TRACE_ID" {
			os.Unsetenv(name)
			t.Cleanup(func() { os.Setenv(name, value) })
		}
	}
	// Neither loader may read the developer's files or reach EC2 metadata.
	base := map[string]string{
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for k, v := range base {
		if _, ok := vars[k]; !ok {
			vars[k] = v
		}
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
}

// lambdaEnv is what Lambda sets for a function (the parts the SDK reads).
func lambdaEnv() map[string]string {
	return map[string]string{
		"AWS_REGION":               "eu-west-1",
		"AWS_DEFAULT_REGION":       "eu-west-1",
		"AWS_ACCESS_KEY_ID":        "ASIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":    "secret",
		"AWS_SESSION_TOKEN":        "session-token",
		"AWS_EXECUTION_ENV":        "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_FUNCTION_NAME": "f",
		"AWS_XRAY_DAEMON_ADDRESS":  "169.254.79.129:2000",
	}
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// recorder is an HTTP client that records the requests (with their bodies)
// and answers each with status (200 with an empty JSON object by default).
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	status   int
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	r.requests = append(r.requests, req)
	r.bodies = append(r.bodies, body)
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Request: req, ContentLength: 2,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"r"}, "X-Amz-Crc32": {"2745614147"}}, // CRC32 of {}
		Body:   io.NopCloser(strings.NewReader(`{}`)),
	}, nil
}

// describe is what a recorded call sent: where, how signed (algorithm,
// credential scope, session token, signed headers), the protocol's headers,
// the body (as a JSON value) and the number of attempts.
func describe(name string, rec *recorder, err error, status int) (string, error) {
	if len(rec.requests) == 0 {
		return name + ": no request (" + errString(err) + ")", nil
	}
	req := rec.requests[0]
	auth := req.Header.Get("Authorization")
	_, scope, _ := strings.Cut(auth, "Credential=")
	scope, signed, _ := strings.Cut(scope, ", SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	scope = scope[strings.Index(scope, "/"):] // date, region, service
	scope = scope[strings.Index(scope[1:], "/")+1:]
	var body any
	if err := json.Unmarshal(rec.bodies[0], &body); err != nil {
		return "", err
	}
	canonical, _ := json.Marshal(body)
	var signedWithoutSDK []string
	for _, h := range strings.Split(signed, ";") {
		// The SDK signs its own bookkeeping headers too.
		if h != "amz-sdk-invocation-id" && h != "amz-sdk-request" {
			signedWithoutSDK = append(signedWithoutSDK, h)
		}
	}
	return strings.Join([]string{
		name, req.Method, req.URL.Scheme + "://" + req.URL.Host + req.URL.Path, strings.SplitN(auth, "/", 2)[0], scope,
		"signed=" + strings.Join(signedWithoutSDK, ";"),
		"token=" + req.Header.Get("X-Amz-Security-Token"),
		"content-type=" + req.Header.Get("Content-Type"), "target=" + req.Header.Get("X-Amz-Target"),
		"body=" + string(canonical), "attempts=" + strconv.Itoa(len(rec.requests)),
	}, " "), nil
}

// calls are one call of each operation the functions make, as the SDK's
// clients make it and as this package does (with the inputs the functions
// send), each through rec.
var calls = []struct {
	name string
	sdk  func(context.Context, aws.Config, *recorder) error
	ours func(context.Context, Config, *recorder) error
}{
	{"dynamodb GetItem",
		func(ctx context.Context, cfg aws.Config, rec *recorder) error {
			_, err := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.HTTPClient, o.Retryer = rec, sdkNoDelay{o.Retryer} }).
				GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), ConsistentRead: aws.Bool(true),
					Key: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}})
			return err
		},
		func(ctx context.Context, cfg Config, rec *recorder) error {
			return client(cfg, DynamoDB, rec).Call(ctx, "GetItem", map[string]any{
				"TableName": "t", "ConsistentRead": true, "Key": map[string]any{"k": map[string]string{"S": "v"}},
			}, nil)
		}},
	{"sfn SendTaskHeartbeat",
		func(ctx context.Context, cfg aws.Config, rec *recorder) error {
			_, err := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.HTTPClient, o.Retryer = rec, sdkNoDelay{o.Retryer} }).
				SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("t")})
			return err
		},
		func(ctx context.Context, cfg Config, rec *recorder) error {
			return client(cfg, SFN, rec).Call(ctx, "SendTaskHeartbeat", struct {
				TaskToken string `json:"taskToken"`
			}{"t"}, nil)
		}},
	{"sesv2 SendEmail",
		func(ctx context.Context, cfg aws.Config, rec *recorder) error {
			_, err := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.HTTPClient, o.Retryer = rec, sdkNoDelay{o.Retryer} }).
				SendEmail(ctx, &sesv2.SendEmailInput{
					FromEmailAddress: aws.String("from@example.com"),
					Destination:      &sestypes.Destination{ToAddresses: []string{"to@example.com"}},
					Content: &sestypes.EmailContent{Simple: &sestypes.Message{
						Subject: &sestypes.Content{Data: aws.String("s")},
						Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("b")}},
					}},
				})
			return err
		},
		func(ctx context.Context, cfg Config, rec *recorder) error {
			return client(cfg, SESv2, rec).CallREST(ctx, "SendEmail", http.MethodPost, "/v2/email/outbound-emails", map[string]any{
				"FromEmailAddress": "from@example.com",
				"Destination":      map[string]any{"ToAddresses": []string{"to@example.com"}},
				"Content":          map[string]any{"Simple": map[string]any{"Subject": map[string]any{"Data": "s"}, "Body": map[string]any{"Text": map[string]any{"Data": "b"}}}},
			}, nil)
		}},
	{"secretsmanager GetSecretValue",
		func(ctx context.Context, cfg aws.Config, rec *recorder) error {
			_, err := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.HTTPClient, o.Retryer = rec, sdkNoDelay{o.Retryer} }).
				GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
			return err
		},
		func(ctx context.Context, cfg Config, rec *recorder) error {
			return client(cfg, SecretsManager, rec).Call(ctx, "GetSecretValue", map[string]string{"SecretId": "s"}, nil)
		}},
}

// client is New with rec as the HTTP client and the retry policy the
// configuration gives, without its waits.
func client(cfg Config, s Service, rec *recorder) *Client {
	cfg.HTTPClient = rec
	mode := cfg.RetryMode
	cfg.Retryer = func(s Service) aws.RetryerV2 { return noDelay{DefaultRetryer(mode, s)} }
	return New(cfg, s)
}

// noDelay is a retry policy without its backoff waits: the tests count
// attempts.
type noDelay struct{ aws.RetryerV2 }

func (noDelay) RetryDelay(int, error) (time.Duration, error) { return 0, nil }

// noDelays is the standard retry policy of s without its waits.
func noDelays(s Service) aws.RetryerV2 { return noDelay{DefaultRetryer(aws.RetryModeStandard, s)} }

// sdkNoDelay is the same for an SDK client's policy.
type sdkNoDelay struct{ aws.Retryer }

func (sdkNoDelay) RetryDelay(int, error) (time.Duration, error) { return 0, nil }

// TestSameAsSDK: in the environments the functions run in, every call goes
// where, and is signed and spoken as, the SDK's client (configured by
// config.LoadDefaultConfig) sends it, and is retried as often.
func TestSameAsSDK(t *testing.T) {
	for _, tt := range []struct {
		name   string
		vars   map[string]string
		status int
	}{
		{"Lambda", lambdaEnv(), 0},
		{"Lambda, 500 answers retried", lambdaEnv(), http.StatusInternalServerError},
		{"Lambda, 503 answers retried, adaptive mode", merge(lambdaEnv(), map[string]string{"AWS_RETRY_MODE": "adaptive"}), http.StatusServiceUnavailable},
		{"Lambda, 400 answers not retried", lambdaEnv(), http.StatusBadRequest},
		{"the e2e harness (endpoints of DynamoDB Local and the Step Functions stand-in)", map[string]string{
			"AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
			"AWS_ACCESS_KEY_ID": "e2e", "AWS_SECRET_ACCESS_KEY": "e2e",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000", "AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:8001/sfn",
		}, 0},
		{"every service's own endpoint and a global one", merge(lambdaEnv(), map[string]string{
			"AWS_ENDPOINT_URL": "https://global.example.com", "AWS_ENDPOINT_URL_SESV2": "https://ses.example.com",
			"AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://secrets.example.com:8443",
		}), 0},
		{"endpoints ignored", merge(lambdaEnv(), map[string]string{
			"AWS_ENDPOINT_URL": "https://global.example.com", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
		}), 0},
		{"AWS_DEFAULT_REGION only, old key names", map[string]string{
			"AWS_DEFAULT_REGION": "ap-southeast-2", "AWS_ACCESS_KEY": "old", "AWS_SECRET_KEY": "old",
		}, 0},
		{"AWS_MAX_ATTEMPTS", merge(lambdaEnv(), map[string]string{"AWS_MAX_ATTEMPTS": "2"}), http.StatusInternalServerError},
		{"FIPS endpoints", merge(lambdaEnv(), map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_FIPS_ENDPOINT": "true"}), 0},
		{"China", merge(lambdaEnv(), map[string]string{"AWS_REGION": "cn-north-1"}), 0},
		{"GovCloud", merge(lambdaEnv(), map[string]string{"AWS_REGION": "us-gov-west-1"}), 0},
		{"European Sovereign Cloud", merge(lambdaEnv(), map[string]string{"AWS_REGION": "eusc-de-east-1"}), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.vars)
			ctx := context.Background()
			sdkCfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range calls {
				wantRec, gotRec := &recorder{status: tt.status}, &recorder{status: tt.status}
				wantErr, gotErr := c.sdk(ctx, sdkCfg, wantRec), c.ours(ctx, cfg, gotRec)
				if tt.status == 0 && (wantErr != nil || gotErr != nil) {
					t.Fatalf("%s: SDK: %v; ours: %v", c.name, wantErr, gotErr)
				}
				want, err := describe(c.name, wantRec, wantErr, tt.status)
				if err != nil {
					t.Fatal(err)
				}
				got, err := describe(c.name, gotRec, gotErr, tt.status)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("\n got %s\nwant %s (the SDK's)", got, want)
				}
				if (wantErr == nil) != (gotErr == nil) {
					t.Errorf("%s: error %v, the SDK's %v", c.name, gotErr, wantErr)
				}
				t.Log(got)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

func TestMissingCredentialsOrRegion(t *testing.T) {
	for _, tt := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"AWS_REGION": "eu-west-1"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"},
		{map[string]string{"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}, "AWS_REGION is not set"},
		{map[string]string{"AWS_REGION": "eu-west-1/x", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}, "AWS_REGION=eu-west-1/x: not a region name"},
	} {
		setEnv(t, tt.vars)
		cfg, err := Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		err = client(cfg, DynamoDB, rec).Call(context.Background(), "GetItem", nil, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(rec.requests) != 0 {
			t.Errorf("%v: err = %v after %d requests, want none and one saying %q", tt.vars, err, len(rec.requests), tt.want)
		}
	}
}

func TestMalformedSettings(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"AWS_ENDPOINT_URL_DYNAMODB", "127.0.0.1:8000"},
		{"AWS_ENDPOINT_URL", "ftp://example.com"},
		{"AWS_ENDPOINT_URL_SFN", "http://"},
		{"AWS_MAX_ATTEMPTS", "0"},
		{"AWS_MAX_ATTEMPTS", "three"},
		{"AWS_RETRY_MODE", "eager"},
		{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "yes"},
		{"AWS_USE_FIPS_ENDPOINT", "1"},
		{"AWS_USE_DUALSTACK_ENDPOINT", "true"},
	} {
		setEnv(t, merge(lambdaEnv(), map[string]string{tt.name: tt.value}))
		_, err := Load(context.Background())
		if err == nil || !strings.Contains(err.Error(), tt.name+"="+tt.value) {
			t.Errorf("%s=%s: err = %v, want one naming the setting", tt.name, tt.value, err)
		}
	}
}

// TestOneAttempt: MaxAttempts(1) makes one attempt whatever the policy.
func TestOneAttempt(t *testing.T) {
	setEnv(t, lambdaEnv())
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{status: http.StatusInternalServerError}
	err = client(cfg, SFN, rec).Call(context.Background(), "SendTaskSuccess", nil, nil, MaxAttempts(1))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || len(rec.requests) != 1 {
		t.Errorf("err = %v after %d attempts, want the 500 after 1", err, len(rec.requests))
	}
}

// TestInputNotJSON: an input that cannot be marshalled fails before any
// request, naming the operation.
func TestInputNotJSON(t *testing.T) {
	setEnv(t, lambdaEnv())
	cfg, _ := Load(context.Background())
	rec := &recorder{}
	err := client(cfg, SFN, rec).Call(context.Background(), "SendTaskSuccess", map[string]any{"x": func() {}}, nil)
	if err == nil || !strings.Contains(err.Error(), "operation error SFN: SendTaskSuccess, serialize input") || len(rec.requests) != 0 {
		t.Errorf("err = %v after %d requests", err, len(rec.requests))
	}
}

// TestDecodesAnswer: the answer's members reach out.
func TestDecodesAnswer(t *testing.T) {
	setEnv(t, lambdaEnv())
	cfg, _ := Load(context.Background())
	var out struct{ SecretString string }
	srv := answering(t, http.StatusOK, `{"ARN":"arn","SecretString":"key"}`)
	cfg.BaseEndpoint = srv
	if err := New(cfg, SecretsManager).Call(context.Background(), "GetSecretValue", map[string]string{"SecretId": "s"}, &out); err != nil || out.SecretString != "key" {
		t.Errorf("out = %+v, err = %v", out, err)
	}
	if !reflect.DeepEqual(out, struct{ SecretString string }{"key"}) {
		t.Errorf("out = %+v", out)
	}
}
