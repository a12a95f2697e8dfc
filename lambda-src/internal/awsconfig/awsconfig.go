// Package awsconfig builds the AWS SDK configuration of a Lambda function from
// what Lambda puts in its environment: the execution role's credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the region
// (AWS_REGION). It replaces config.LoadDefaultConfig, whose other credential
// sources (shared files, SSO, SSO-OIDC, sign-in, STS web identity and assume
// role, ECS and EC2 metadata) never apply in Lambda yet add about 2 MB to every
// function and work to every cold start.
//
// It honours the settings the functions and their tests use: AWS_ENDPOINT_URL
// and AWS_ENDPOINT_URL_<SERVICE> (the service id in upper case, spaces as
// underscores: DYNAMODB, SFN, SESV2, SECRETS_MANAGER) unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, AWS_MAX_ATTEMPTS and
// AWS_RETRY_MODE (default: the SDK's standard retryer: 3 attempts, except the
// DynamoDB client, which defaults to 4),
// AWS_REQUEST_CHECKSUM_CALCULATION and AWS_RESPONSE_CHECKSUM_VALIDATION, and
// AWS_EXECUTION_ENV for the user agent. Every AWS call is traced
// (tracing.Instrument).
package awsconfig

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/logging"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/tracing"
)

// Load returns the configuration for clients of the function's AWS calls. It
// fails on a malformed setting, naming the variable. Missing credentials or
// region do not fail here but on the first call, with an error naming the
// variables, so that code paths that make no call need neither.
func Load(ctx context.Context) (aws.Config, error) {
	return load(os.Environ())
}

// endpointPrefix starts the variables naming an endpoint URL.
const endpointPrefix = "AWS_ENDPOINT_URL"

// load reads environ, a list of NAME=value.
func load(environ []string) (aws.Config, error) {
	env := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		env[name] = value
	}
	getenv := func(name string) string { return env[name] }
	cfg := aws.Config{
		Region:      firstOf(getenv, "AWS_REGION", "AWS_DEFAULT_REGION"),
		Credentials: credentials(getenv),
		// One client for all service clients, as LoadDefaultConfig does, so
		// they share connections.
		HTTPClient: awshttp.NewBuildableClient(),
		Logger:     logging.NewStandardLogger(os.Stderr),
		RuntimeEnvironment: aws.RuntimeEnvironment{
			EnvironmentIdentifier: aws.ExecutionEnvironmentID(getenv("AWS_EXECUTION_ENV")),
		},
	}
	var errs []error
	ignore, err := boolean(getenv, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	errs = append(errs, err)
	endpoints := serviceEndpoints{ignore: ignore, urls: map[string]string{}}
	for _, name := range sortedNames(env) {
		service, ok := strings.CutPrefix(name, endpointPrefix+"_")
		if !ok && name != endpointPrefix {
			continue
		}
		value := env[name]
		if value == "" {
			continue
		}
		if err := checkURL(name, value); err != nil {
			errs = append(errs, err)
			continue
		}
		if name == endpointPrefix {
			if !ignore {
				cfg.BaseEndpoint = aws.String(value)
			}
			continue
		}
		endpoints.urls[service] = value
	}
	// The service clients look their AWS_ENDPOINT_URL_<SERVICE> up in the
	// configuration sources (internal/configsources), not in the environment.
	cfg.ConfigSources = []any{endpoints}

	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("AWS_MAX_ATTEMPTS=%s: want a whole number of attempts, at least 1", v))
		}
		cfg.RetryMaxAttempts = n
	}
	if v := getenv("AWS_RETRY_MODE"); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AWS_RETRY_MODE=%s: want standard or adaptive", v))
		}
		cfg.RetryMode = mode
	}
	switch v := strings.ToLower(getenv("AWS_REQUEST_CHECKSUM_CALCULATION")); v {
	case "":
	case "when_supported":
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	case "when_required":
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	default:
		errs = append(errs, fmt.Errorf("AWS_REQUEST_CHECKSUM_CALCULATION=%s: want when_supported or when_required", v))
	}
	switch v := strings.ToLower(getenv("AWS_RESPONSE_CHECKSUM_VALIDATION")); v {
	case "":
	case "when_supported":
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	case "when_required":
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	default:
		errs = append(errs, fmt.Errorf("AWS_RESPONSE_CHECKSUM_VALIDATION=%s: want when_supported or when_required", v))
	}
	if err := errors.Join(errs...); err != nil {
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	tracing.Instrument(&cfg)
	return cfg, nil
}

// credentials are the execution role's, which Lambda puts in the
// environment; without them the first call fails with this explanation.
func credentials(getenv func(string) string) aws.CredentialsProvider {
	creds := aws.Credentials{
		AccessKeyID:     firstOf(getenv, "AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
		SecretAccessKey: firstOf(getenv, "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
		AccountID:       getenv("AWS_ACCOUNT_ID"),
		Source:          "EnvConfigCredentials",
	}
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
			return aws.Credentials{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set " +
				"(Lambda sets them from the function's execution role)")
		}
		return creds, nil
	})
}

// serviceEndpoints answers the service clients' endpoint lookups with the
// AWS_ENDPOINT_URL_<SERVICE> variables.
type serviceEndpoints struct {
	ignore bool
	urls   map[string]string // by the variable's suffix
}

// GetServiceBaseEndpoint is the lookup every service client makes: sdkID is
// the service id ("DynamoDB", "SFN", "Secrets Manager").
func (e serviceEndpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if e.ignore {
		return "", false, nil
	}
	u, ok := e.urls[strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")]
	return u, ok, nil
}

// GetIgnoreConfiguredEndpoints is AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e serviceEndpoints) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return e.ignore, e.ignore, nil
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

func sortedNames(env map[string]string) []string {
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func firstOf(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return ""
}
