// The tests of this directory run every handler of the workflow (this
// package's and its subpackages') against one DynamoDB Local: the properties
// under test (retries, faults, callbacks bound to tokens) span functions, and
// one JVM per test binary is what two cores can afford.
package handler_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/notification"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/handler/register"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

// server is the DynamoDB Local every storage-backed test and benchmark of
// this package shares; nil under -short.
var server *ddblocal.Server

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(traceChildEnv) != "" || testing.Short() {
		os.Exit(m.Run())
	}
	var err error
	server, err = ddblocal.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The constructors load the default AWS configuration, as in Lambda.
	for k, v := range server.Env() {
		os.Setenv(k, v)
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

var tables atomic.Int64

// newTable creates a fresh incidents table and returns its name.
func newTable(t testing.TB) string {
	t.Helper()
	if server == nil {
		t.Skip("DynamoDB Local is not started under -short")
	}
	name := fmt.Sprintf("handler-%d", tables.Add(1))
	if err := server.CreateTable(context.Background(), name, storage.KeyAttribute); err != nil {
		t.Fatal(err)
	}
	return name
}

func newTestStore(t testing.TB) *storage.Store {
	table := newTable(t) // skips under -short, before server is used
	return storage.New(dynamo(), table)
}

// localConfig is a function's AWS configuration with DynamoDB at endpoint
// (DynamoDB Local, or a proxy in front of it) and fast retries.
func localConfig(endpoint string) awsapi.Config {
	return awsapi.Config{
		Region:      ddblocal.Region,
		Credentials: aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"},
		Endpoints:   map[string]string{awsapi.DynamoDB.ID: endpoint},
		Retryer:     fastRetries,
	}
}

// dynamo is a DynamoDB client of DynamoDB Local, as the functions make
// theirs (with fast retries).
func dynamo() *awsapi.Client { return awsapi.New(localConfig(server.Endpoint), awsapi.DynamoDB) }

// fastRetries is the SDK's standard retry policy (3 attempts, the same
// retryable errors) without its waits and its client-side quota, so fault
// tests run in milliseconds.
func fastRetries(awsapi.Service) aws.RetryerV2 {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	})
}

// storeVia returns a store on table whose DynamoDB client goes through
// endpoint (a fault-injecting proxy in front of DynamoDB Local).
func storeVia(endpoint, table string) *storage.Store {
	return storage.New(awsapi.New(localConfig(endpoint), awsapi.DynamoDB), table)
}

// errorType is the name the Lambda runtime reports for err, which is what a
// state machine's Catch and Retry match (aws-lambda-go's getErrorType).
func errorType(err error) string {
	if err == nil {
		return ""
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Ptr {
		return t.Elem().Name()
	}
	return t.Name()
}

func env(vars map[string]string) handler.Getenv {
	return func(k string) string { return vars[k] }
}

var clock = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func now() time.Time { return clock }

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// registerIncident returns a new, unsaved incident as RegisterIncident does.
func registerIncident(t testing.TB) domain.Incident {
	t.Helper()
	inc, err := (&register.RegisterIncident{Now: now}).Handle(context.Background(), json.RawMessage(`{"StudentId":"tracetest"}`))
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// scheduled returns an incident saved with one exam.
func scheduled(t testing.TB, store *storage.Store) domain.Incident {
	t.Helper()
	inc, err := (&handler.ScheduleExam{Store: store, Window: time.Hour, Now: now}).Handle(context.Background(), mustJSON(t, registerIncident(t)))
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

// outbox is a notify.Sender that keeps the messages it is given.
type outbox struct {
	messages []notify.Message
	err      error
}

func (o *outbox) Send(_ context.Context, m notify.Message) error {
	if o.err != nil {
		return o.err
	}
	o.messages = append(o.messages, m)
	return nil
}

// notifyPayload is SendNotification's input as the state machine builds it.
func notifyPayload(t testing.TB, incident any, token string) json.RawMessage {
	return mustJSON(t, map[string]any{"Incident": incident, "TaskToken": token})
}

// notified returns an incident saved with one exam whose task token is token,
// notified as SendNotification does.
func notified(t testing.TB, store *storage.Store, token string) domain.Incident {
	t.Helper()
	inc := scheduled(t, store)
	h := &notification.SendNotification{Store: store, Senders: []notify.Sender{&outbox{}}}
	if _, err := h.Handle(context.Background(), notifyPayload(t, inc, token)); err != nil {
		t.Fatal(err)
	}
	stored, err := store.Load(context.Background(), inc.IncidentId)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

func load(t testing.TB, store *storage.Store, id string) domain.Incident {
	t.Helper()
	inc, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}
