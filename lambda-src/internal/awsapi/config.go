// Package awsapi calls the four AWS APIs the functions use, with nothing but
// the standard library and aws-sdk-go-v2's core module (Signature Version 4
// signing, the standard retry policy):
//
//   - DynamoDB (GetItem, UpdateItem), Step Functions (SendTaskSuccess,
//     SendTaskHeartbeat) and Secrets Manager (GetSecretValue) speak the AWS
//     JSON protocol: a POST of the input as JSON, the operation in the
//     X-Amz-Target header;
//   - SES v2 (SendEmail) speaks REST-JSON: a POST of the input to the
//     operation's path.
//
// The SDK's generated service clients would do the same, but each links its
// whole API (and, since the SDK's schema-based serialization of 2026, builds
// schemas of every shape at start-up): a function that calls two operations
// paid 1.3-1.5x a hello-world function's cold start for them. Calls here are
// checked against those clients (config_test.go: same URL, signature scope,
// headers and body, same attempts) and against DynamoDB Local.
//
// Load reads the configuration from what Lambda puts in a function's
// environment: the execution role's credentials (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the region (AWS_REGION). It
// honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (the service id in
// upper case, spaces as underscores: DYNAMODB, SFN, SESV2, SECRETS_MANAGER)
// unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, AWS_USE_FIPS_ENDPOINT,
// AWS_MAX_ATTEMPTS and AWS_RETRY_MODE (default: the SDK's standard retry
// policy, 3 attempts, DynamoDB 4 with a 25 ms base delay, as its client has),
// and AWS_EXECUTION_ENV for the user agent. Every call is traced
// (tracing.BeginAWSCall).
package awsapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// HTTPClient sends one request; *http.Client is one.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Config is what every client of a function shares.
type Config struct {
	// Region is AWS_REGION (or AWS_DEFAULT_REGION).
	Region string
	// Credentials are the execution role's; a call without them fails with
	// an error naming the variables.
	Credentials aws.Credentials
	// HTTPClient sends the requests; nil means a client made by Load's rules.
	HTTPClient HTTPClient
	// BaseEndpoint (AWS_ENDPOINT_URL) replaces every service's endpoint;
	// Endpoints (AWS_ENDPOINT_URL_<SERVICE>, keyed by service id) one
	// service's, and come first.
	BaseEndpoint string
	Endpoints    map[string]string
	// UseFIPS (AWS_USE_FIPS_ENDPOINT) picks the services' FIPS endpoints.
	UseFIPS bool
	// MaxAttempts (AWS_MAX_ATTEMPTS) replaces each service's default number
	// of attempts; 0 keeps it.
	MaxAttempts int
	// RetryMode is AWS_RETRY_MODE: standard (the default) or adaptive.
	RetryMode aws.RetryMode
	// Retryer, when set, makes each client's retry policy instead (tests).
	Retryer func(Service) aws.RetryerV2
	// UserAgent is sent with every request.
	UserAgent string
}

// Load returns the configuration from the process's environment. It fails on
// a malformed setting, naming the variable. Missing credentials or region do
// not fail here but on the first call, with an error naming the variables,
// so that code paths that make no call need neither.
func Load(context.Context) (Config, error) {
	return load(os.Environ())
}

// endpointPrefix starts the variables naming an endpoint URL.
const endpointPrefix = "AWS_ENDPOINT_URL"

// load reads environ, a list of NAME=value.
func load(environ []string) (Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		env[name] = value
	}
	getenv := func(name string) string { return env[name] }
	cfg := Config{
		Region: firstOf(getenv, "AWS_REGION", "AWS_DEFAULT_REGION"),
		Credentials: aws.Credentials{
			AccessKeyID:     firstOf(getenv, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
			SecretAccessKey: firstOf(getenv, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"),
			SessionToken:    getenv("AWS_SESSION_TOKEN"),
			Source:          "EnvConfigCredentials",
		},
		Endpoints: map[string]string{},
		UserAgent: userAgent(getenv("AWS_EXECUTION_ENV")),
	}
	var errs []error
	ignore, err := boolean(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	errs = append(errs, err)
	cfg.UseFIPS, err = boolean(getenv, "AWS_USE_FIPS_ENDPOINT")
	errs = append(errs, err)
	dualStack, err := boolean(getenv, "AWS_USE_DUALSTACK_ENDPOINT")
	errs = append(errs, err)
	if dualStack {
		errs = append(errs, errors.New("AWS_USE_DUALSTACK_ENDPOINT=true: not supported by these functions; "+
			"set AWS_ENDPOINT_URL_<SERVICE> to the dual-stack endpoints instead"))
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		service, ok := strings.CutPrefix(name, endpointPrefix+"_")
		if (!ok && name != endpointPrefix) || env[name] == "" {
			continue
		}
		value := env[name]
		if err := checkURL(name, value); err != nil {
			errs = append(errs, err)
			continue
		}
		if ignore {
			continue
		}
		if name == endpointPrefix {
			cfg.BaseEndpoint = value
			continue
		}
		for _, s := range services {
			if s.envName() == service {
				cfg.Endpoints[s.ID] = value
			}
		}
	}
	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("AWS_MAX_ATTEMPTS=%s: want a whole number of attempts, at least 1", v))
		}
		cfg.MaxAttempts = n
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AWS_RETRY_MODE=%s: want standard or adaptive", v))
		}
		cfg.RetryMode = mode
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return cfg, nil
}

// newHTTPClient is the HTTP client of a configuration that names none: the
// SDK's defaults (connection pool, timeouts) without transparent gzip, so
// that DynamoDB's CRC32 checks the bytes it sent.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.MaxIdleConnsPerHost = 10
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	return &http.Client{Transport: t}
}

// userAgent names this code and, in Lambda, the execution environment.
func userAgent(execEnv string) string {
	ua := "stepfunctions-cdk-lambda aws-sdk-go-v2-signer"
	if execEnv != "" {
		ua += " exec-env/" + execEnv
	}
	return ua
}

func checkURL(name, value string) error {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s=%s: want an http or https URL with a host", name, value)
	}
	return nil
}

func boolean(getenv func(string) string, name string) (bool, error) {
	switch v := getenv(name); strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s=%s: want true or false", name, v)
	}
}

func firstOf(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}
