package awsconfig

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
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

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
)

// setEnv replaces the process's AWS settings with vars for the test: Load
// reads the environment, and so do the service clients (for the precedence of
// AWS_ENDPOINT_URL over AWS_ENDPOINT_URL_<SERVICE>).
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

// recorder is an HTTP client that records the requests and answers each with
// status (200 with an empty JSON object by default).
type recorder struct {
	mu       sync.Mutex
	requests []*http.Request
	status   int
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req)
	status := r.status
	if status == 0 {
		status = http.StatusOK
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"r"}, "X-Amz-Crc32": {"2745614147"}}, // CRC32 of {}
		Body:   io.NopCloser(strings.NewReader(`{}`)),
	}, nil
}

// call makes one call of each service the functions use with cfg, through an
// HTTP client that records where they went, and describes each request: URL,
// signing scope, session token, attempts.
func call(t *testing.T, cfg aws.Config, status int) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	record := func(name string, do func(*recorder) error) {
		rec := &recorder{status: status}
		err := do(rec)
		if status == 0 && err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(rec.requests) == 0 {
			out = append(out, name+": no request ("+errString(err)+")")
			return
		}
		req := rec.requests[0]
		auth := req.Header.Get("Authorization")
		_, scope, _ := strings.Cut(auth, "Credential=")
		scope, _, _ = strings.Cut(scope, ",")
		scope = scope[strings.Index(scope, "/"):] // date, region, service
		scope = scope[strings.Index(scope[1:], "/")+1:]
		out = append(out, strings.Join([]string{
			name, req.URL.Scheme + "://" + req.URL.Host + req.URL.Path, strings.SplitN(auth, "/", 2)[0], scope,
			"token=" + req.Header.Get("X-Amz-Security-Token"), "attempts=" + strconv.Itoa(len(rec.requests)),
		}, " "))
	}
	record("dynamodb", func(rec *recorder) error {
		_, err := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.HTTPClient, o.Retryer = rec, noDelay{o.Retryer} }).
			GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}})
		return err
	})
	record("sfn", func(rec *recorder) error {
		_, err := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.HTTPClient, o.Retryer = rec, noDelay{o.Retryer} }).
			SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("t")})
		return err
	})
	record("sesv2", func(rec *recorder) error {
		_, err := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.HTTPClient, o.Retryer = rec, noDelay{o.Retryer} }).
			SendEmail(ctx, &sesv2.SendEmailInput{Content: &sestypes.EmailContent{}})
		return err
	})
	record("secretsmanager", func(rec *recorder) error {
		_, err := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.HTTPClient, o.Retryer = rec, noDelay{o.Retryer} }).
			GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("s")})
		return err
	})
	return out
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestSameAsLoadDefaultConfig: in the environments the functions run in,
// the calls go where, and are signed as, config.LoadDefaultConfig's would.
func TestSameAsLoadDefaultConfig(t *testing.T) {
	for _, tt := range []struct {
		name   string
		vars   map[string]string
		status int
	}{
		{"Lambda", lambdaEnv(), 0},
		{"Lambda, 500 answers retried", lambdaEnv(), http.StatusInternalServerError},
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
	} {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, tt.vars)
			ctx := context.Background()
			want, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w, g := call(t, want, tt.status), call(t, got, tt.status)
			if strings.Join(g, "\n") != strings.Join(w, "\n") {
				t.Errorf("Load:\n%s\nLoadDefaultConfig:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
			}
			t.Logf("%s", strings.Join(g, "\n"))
		})
	}
}

// noDelay is the retryer a client resolved, without the backoff waits: the
// tests count attempts.
type noDelay struct{ aws.Retryer }

func (noDelay) RetryDelay(int, error) (time.Duration, error) { return 0, nil }

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func TestMissingCredentials(t *testing.T) {
	setEnv(t, map[string]string{"AWS_REGION": "eu-west-1"})
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Credentials.Retrieve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set") {
		t.Errorf("err = %v, want one naming the variables", err)
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
		{"AWS_REQUEST_CHECKSUM_CALCULATION", "always"},
		{"AWS_RESPONSE_CHECKSUM_VALIDATION", "never"},
	} {
		setEnv(t, merge(lambdaEnv(), map[string]string{tt.name: tt.value}))
		_, err := Load(context.Background())
		if err == nil || !strings.Contains(err.Error(), tt.name+"="+tt.value) {
			t.Errorf("%s=%s: err = %v, want one naming the setting", tt.name, tt.value, err)
		}
	}
}

// TestDynamoDBLocal: the configuration drives a real DynamoDB (Local), as in
// the e2e harness, with the checksum setting its tests use.
func TestDynamoDBLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs DynamoDB Local")
	}
	ctx := context.Background()
	server, err := ddblocal.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Stop()
	setEnv(t, server.Env())
	if err := server.CreateTable(ctx, "incidents", "k"); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ResponseChecksumValidation != aws.ResponseChecksumValidationWhenRequired {
		t.Errorf("AWS_RESPONSE_CHECKSUM_VALIDATION=when_required not applied")
	}
	client := dynamodb.NewFromConfig(cfg)
	item := map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("incidents"), Item: item}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("incidents"), Key: item, ConsistentRead: aws.Bool(true)})
	if err != nil || len(out.Item) != 1 {
		t.Fatalf("GetItem: %v %v", out, err)
	}
}

// TestTraced: every call of a client built from the configuration is a
// subsegment sent to the X-Ray daemon.
func TestTraced(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	setEnv(t, merge(lambdaEnv(), map[string]string{"AWS_XRAY_DAEMON_ADDRESS": conn.LocalAddr().String()}))
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-6790a2b0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1")
	if _, err := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.HTTPClient = &recorder{} }).
		SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("t")}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf[:n], []byte(`"name":"SFN"`)) || !bytes.Contains(buf[:n], []byte(`"operation":"SendTaskHeartbeat"`)) {
		t.Errorf("datagram %s, want the SFN subsegment", buf[:n])
	}
}
