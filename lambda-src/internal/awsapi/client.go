package awsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/tracing"
)

// Service describes one AWS API: where it is, how it is signed and spoken,
// and its client's retry defaults.
type Service struct {
	// ID is the SDK's service id: the name of the call's subsegment, the
	// prefix of its errors, and <SERVICE> in AWS_ENDPOINT_URL_<SERVICE>.
	ID string
	// EndpointPrefix is the first label of the regional host name.
	EndpointPrefix string
	// SigningName is the service in the signature's credential scope.
	SigningName string
	// JSONVersion is the AWS JSON protocol's version ("1.0", "1.1"), with
	// TargetPrefix the X-Amz-Target header's; empty for REST-JSON.
	JSONVersion, TargetPrefix string
	// MaxAttempts and BaseDelay replace the standard retry policy's (3
	// attempts) when set.
	MaxAttempts int
	BaseDelay   time.Duration
	// CRC32 checks the X-Amz-Crc32 header of every answer.
	CRC32 bool
}

// The services the functions call, as their SDK clients (v1.74.0 and
// later releases of the same API versions) speak to them.
var (
	DynamoDB = Service{
		ID: "DynamoDB", EndpointPrefix: "dynamodb", SigningName: "dynamodb",
		JSONVersion: "1.0", TargetPrefix: "DynamoDB_20120810",
		MaxAttempts: 4, BaseDelay: 25 * time.Millisecond, CRC32: true,
	}
	SFN = Service{
		ID: "SFN", EndpointPrefix: "states", SigningName: "states",
		JSONVersion: "1.0", TargetPrefix: "AWSStepFunctions",
	}
	SecretsManager = Service{
		ID: "Secrets Manager", EndpointPrefix: "secretsmanager", SigningName: "secretsmanager",
		JSONVersion: "1.1", TargetPrefix: "secretsmanager",
	}
	SESv2 = Service{ID: "SESv2", EndpointPrefix: "email", SigningName: "ses"}
)

var services = []Service{DynamoDB, SFN, SecretsManager, SESv2}

// envName is <SERVICE> in AWS_ENDPOINT_URL_<SERVICE>.
func (s Service) envName() string { return strings.ReplaceAll(strings.ToUpper(s.ID), " ", "_") }

// maxBody bounds an answer read into memory (a DynamoDB item is at most
// 400 KB).
const maxBody = 16 << 20

// Client calls one service. It is safe for concurrent use; its retry quota
// is shared by its calls, as an SDK client's is.
type Client struct {
	service Service
	cfg     Config
	http    HTTPClient
	retryer aws.RetryerV2
	signer  *v4.Signer
}

// New returns a client of service with cfg.
func New(cfg Config, service Service) *Client {
	c := &Client{service: service, cfg: cfg, http: cfg.HTTPClient, signer: v4.NewSigner()}
	if c.http == nil {
		c.http = newHTTPClient()
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer(service)
	} else {
		c.retryer = DefaultRetryer(cfg.RetryMode, service)
	}
	if cfg.MaxAttempts != 0 {
		c.retryer = withMaxAttempts{c.retryer, cfg.MaxAttempts}
	}
	return c
}

// withMaxAttempts is a retry policy with another number of attempts.
type withMaxAttempts struct {
	aws.RetryerV2
	n int
}

func (w withMaxAttempts) MaxAttempts() int { return w.n }

// DefaultRetryer is a client's retry policy when Config.Retryer is nil: the
// SDK's standard (or adaptive) policy with the service's defaults.
func DefaultRetryer(mode aws.RetryMode, service Service) aws.RetryerV2 {
	standard := func(o *retry.StandardOptions) {
		if service.MaxAttempts != 0 {
			o.MaxAttempts = service.MaxAttempts
		}
		if service.BaseDelay != 0 {
			o.BaseDelay = service.BaseDelay
		}
	}
	if mode == aws.RetryModeAdaptive {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, standard)
		})
	}
	return retry.NewStandard(standard)
}

// Option changes one call.
type Option func(*options)

type options struct{ maxAttempts int }

// MaxAttempts makes at most n attempts of the call (1: no retry).
func MaxAttempts(n int) Option { return func(o *options) { o.maxAttempts = n } }

// Call invokes operation of a JSON-protocol service with in (marshalled as
// JSON; nil sends {}) and decodes the answer into out (nil discards it).
func (c *Client) Call(ctx context.Context, operation string, in, out any, opts ...Option) error {
	return c.call(ctx, operation, http.MethodPost, "/", in, out, opts)
}

// CallREST invokes operation of a REST-JSON service: method on path (below
// the endpoint's), in as the JSON body.
func (c *Client) CallREST(ctx context.Context, operation, method, path string, in, out any, opts ...Option) error {
	return c.call(ctx, operation, method, path, in, out, opts)
}

// attempt is what one attempt got back.
type attempt struct {
	status    int
	length    int64
	requestID string
}

func (c *Client) call(ctx context.Context, operation, method, path string, in, out any, opts []Option) error {
	var o options
	for _, f := range opts {
		f(&o)
	}
	body := []byte("{}")
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &OperationError{c.service.ID, operation, fmt.Errorf("serialize input: %w", err)}
		}
	}
	retryer := c.retryer
	if o.maxAttempts != 0 {
		retryer = withMaxAttempts{retryer, o.maxAttempts}
	}
	ctx, traced := tracing.BeginAWSCall(ctx, c.service.ID, operation, c.cfg.Region, stringField(in, "TableName"))
	last, retries, err := c.attempts(ctx, retryer, operation, method, path, body, out)
	traced.End(last.status, last.length, last.requestID, retries, err)
	if err != nil {
		return &OperationError{c.service.ID, operation, err}
	}
	return nil
}

// attempts runs the retry loop of the SDK's retry middleware: an attempt
// token per attempt, retryable errors retried up to the policy's attempts
// while its quota lasts, after its backoff.
func (c *Client) attempts(ctx context.Context, retryer aws.RetryerV2, operation, method, path string, body []byte, out any) (attempt, int, error) {
	releaseRetry := func(error) error { return nil }
	var last attempt // the last attempt's answer, for the call's subsegment
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return last, n - 1, &aws.RequestCanceledError{Err: err}
		}
		releaseAttempt, err := retryer.GetAttemptToken(ctx)
		if err != nil {
			return last, n - 1, fmt.Errorf("failed to get retry Send token, %w", err)
		}
		got, err := c.attempt(ctx, operation, method, path, body, out)
		last = got
		releaseRetry(err)
		releaseAttempt(err)
		if err == nil || !retryer.IsErrorRetryable(err) {
			return last, n - 1, err
		}
		if n >= retryer.MaxAttempts() {
			return last, n - 1, &retry.MaxAttemptsError{Attempt: n, Err: err}
		}
		release, tokenErr := retryer.GetRetryToken(ctx, err)
		if tokenErr != nil {
			return last, n - 1, errors.Join(err, tokenErr)
		}
		releaseRetry = release
		delay, delayErr := retryer.RetryDelay(n, err)
		if delayErr != nil {
			return last, n - 1, delayErr
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return last, n - 1, &aws.RequestCanceledError{Err: ctx.Err()}
		case <-timer.C:
		}
	}
}

// attempt sends the signed request once and decodes its answer.
func (c *Client) attempt(ctx context.Context, operation, method, path string, body []byte, out any) (attempt, error) {
	req, err := c.request(ctx, operation, method, path, body)
	if err != nil {
		return attempt{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return attempt{}, &aws.RequestCanceledError{Err: err}
		}
		return attempt{}, &sendError{err}
	}
	defer resp.Body.Close()
	got := attempt{status: resp.StatusCode, length: resp.ContentLength, requestID: requestID(resp.Header)}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return got, &aws.RequestCanceledError{Err: err}
	case err != nil:
		return got, &sendError{fmt.Errorf("read answer: %w", err)}
	case len(data) > maxBody:
		return got, fmt.Errorf("answer of more than %d bytes", maxBody)
	}
	if c.service.CRC32 {
		if err := checkCRC32(resp.Header, data); err != nil {
			return got, err
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return got, newError(resp.StatusCode, resp.Header, data, got.requestID)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return got, fmt.Errorf("deserialize answer: %w", err)
		}
	}
	return got, nil
}

// request builds the signed request of one attempt.
func (c *Client) request(ctx context.Context, operation, method, path string, body []byte) (*http.Request, error) {
	endpoint, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	if c.cfg.Credentials.AccessKeyID == "" || c.cfg.Credentials.SecretAccessKey == "" {
		return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set " +
			"(Lambda sets them from the function's execution role)")
	}
	target := strings.TrimSuffix(endpoint, "/") + path
	if u, err := url.Parse(endpoint); err == nil && path == "/" && strings.Trim(u.Path, "/") != "" {
		target = strings.TrimSuffix(endpoint, "/") // a JSON call goes to the endpoint's own path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if c.service.JSONVersion != "" {
		req.Header.Set("Content-Type", "application/x-amz-json-"+c.service.JSONVersion)
		req.Header.Set("X-Amz-Target", c.service.TargetPrefix+"."+operation)
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.service.CRC32 {
		// The CRC32 covers the bytes as sent: no compression, as the SDK
		// asks of DynamoDB.
		req.Header.Set("Accept-Encoding", "identity")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, c.cfg.Credentials, req, hex.EncodeToString(sum[:]),
		c.service.SigningName, c.cfg.Region, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("sign request: %w", err)
	}
	// After signing: the signature leaves the trace header out, as the
	// SDK's does.
	if h := tracing.HeaderFrom(ctx); h != "" {
		req.Header.Set("X-Amzn-Trace-Id", h)
	}
	return req, nil
}

func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-Requestid"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}

// checkCRC32 compares the answer with its X-Amz-Crc32 header, when it has
// one. A mismatch is retried: the answer was damaged on the way.
func checkCRC32(h http.Header, body []byte) error {
	v := h.Get("X-Amz-Crc32")
	if v == "" {
		return nil
	}
	want, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return fmt.Errorf("unable to parse checksum header %v, %w", v, err)
	}
	if got := crc32.ChecksumIEEE(body); uint32(want) != got {
		return &checksumError{want: uint32(want), got: got}
	}
	return nil
}

type checksumError struct{ want, got uint32 }

func (e *checksumError) Error() string {
	return fmt.Sprintf("answer's CRC32 %d, X-Amz-Crc32 says %d", e.got, e.want)
}

// RetryableError makes the standard retry policy retry it.
func (*checksumError) RetryableError() bool { return true }

// sendError is a request that got no (whole) answer; the standard policy
// retries it, as the SDK's does.
type sendError struct{ err error }

func (e *sendError) Error() string         { return "https request failed: " + e.err.Error() }
func (e *sendError) Unwrap() error         { return e.err }
func (e *sendError) RetryableError() bool  { return true }
func (e *sendError) ConnectionError() bool { return true }

// stringField returns the string field name of in (a struct or a pointer to
// one), or "".
func stringField(in any, name string) string {
	v := reflect.ValueOf(in)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName(name)
	for f.IsValid() && f.Kind() == reflect.Pointer {
		if f.IsNil() {
			return ""
		}
		f = f.Elem()
	}
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}
