package handler

import (
	"context"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
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
	table := newTable(t)
	return storage.New(server.Client(), table)
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

func env(vars map[string]string) Getenv {
	return func(k string) string { return vars[k] }
}
