package handler_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
)

// dynamoFault is an error the proxy answers for matching DynamoDB calls.
type dynamoFault struct {
	// Op is the operation (GetItem, UpdateItem); empty matches any.
	Op string
	// Status and Type are the HTTP status and the error's __type, as
	// DynamoDB sends them: 400 ProvisionedThroughputExceededException,
	// 500 InternalServerError, 503 ServiceUnavailable...
	Status int
	Type   string
	// After forwards the call to DynamoDB Local first and answers the error
	// instead of its result: the write landed, its answer was lost.
	After bool
	// Times is how many calls the fault hits; 0 is every call.
	Times int
}

// dynamoProxy stands between a handler's DynamoDB client and DynamoDB Local
// (on 127.0.0.1) and answers faults as DynamoDB does: the narrowest boundary
// at which throttling and 5xx can be produced on demand.
type dynamoProxy struct {
	*httptest.Server
	target string

	mu     sync.Mutex
	faults []*dynamoFault
	calls  map[string]int // operation -> calls that reached DynamoDB Local
}

func newDynamoProxy(t testing.TB, faults ...dynamoFault) *dynamoProxy {
	t.Helper()
	if server == nil {
		t.Skip("DynamoDB Local is not started under -short")
	}
	p := &dynamoProxy{target: server.Endpoint, calls: map[string]int{}}
	for _, f := range faults {
		p.faults = append(p.faults, &f)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// fault returns the fault for operation op, counting it down.
func (p *dynamoProxy) fault(op string) *dynamoFault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		switch {
		case f.Times == 0:
			return f
		case f.Times > 0:
			f.Times--
			if f.Times == 0 {
				f.Times = -1 // spent
			}
			return f
		}
	}
	return nil
}

func (p *dynamoProxy) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	body, _ := io.ReadAll(r.Body)
	f := p.fault(op)
	if f != nil && !f.After {
		writeAWSError(w, f.Status, "com.amazonaws.dynamodb.v20120810#"+f.Type)
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	p.mu.Lock()
	p.calls[op]++
	p.mu.Unlock()
	if f != nil {
		writeAWSError(w, f.Status, "com.amazonaws.dynamodb.v20120810#"+f.Type)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(data)
}

// writes returns how many UpdateItem calls reached DynamoDB Local.
func (p *dynamoProxy) writes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls["UpdateItem"]
}

func writeAWSError(w http.ResponseWriter, status int, typ string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":"injected by the test"}`, typ)
}

// sfnFault is how the fake Step Functions answers one SendTaskSuccess.
type sfnFault int

const (
	// sfnNormal processes the call.
	sfnNormal sfnFault = iota
	// sfnThrottle answers ThrottlingException without processing it.
	sfnThrottle
	// sfn500Before answers 500 without processing it.
	sfn500Before
	// sfn500After processes it (the task completes) and answers 500.
	sfn500After
	// sfnHangAfter processes it and answers only after the client gave up:
	// a timeout after Step Functions accepted the callback.
	sfnHangAfter
)

// fakeStepFunctions answers SendTaskHeartbeat and SendTaskSuccess over HTTP
// as Step Functions does (AWS JSON 1.0), for the real SDK client: Step
// Functions has no local implementation of callback tasks. Tokens are open
// until a SendTaskSuccess completes them; unknown tokens are InvalidToken.
type fakeStepFunctions struct {
	*httptest.Server

	mu        sync.Mutex
	tokens    map[string]string // token -> open, done, timedout
	faults    []sfnFault        // consumed by SendTaskSuccess calls, in order
	outputs   []string          // outputs of the callbacks that completed a task
	successes int               // SendTaskSuccess calls received
	hang      chan struct{}
}

func newFakeStepFunctions(t testing.TB, openTokens ...string) *fakeStepFunctions {
	t.Helper()
	f := &fakeStepFunctions{tokens: map[string]string{}, hang: make(chan struct{})}
	for _, tok := range openTokens {
		f.tokens[tok] = "open"
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.hang)
		f.Close()
	})
	return f
}

// client returns a Step Functions client for the fake with the SDK's retry
// policy, without its waits.
func (f *fakeStepFunctions) client() *awsapi.Client {
	return awsapi.New(awsapi.Config{
		Region:      "us-east-1",
		Credentials: aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"},
		Endpoints:   map[string]string{awsapi.SFN.ID: f.URL},
		Retryer:     fastRetries,
	}, awsapi.SFN)
}

func (f *fakeStepFunctions) set(token, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = state
}

func (f *fakeStepFunctions) state(token string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[token]
}

func (f *fakeStepFunctions) completed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.outputs...)
}

func (f *fakeStepFunctions) serve(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TaskToken string `json:"taskToken"`
		Output    string `json:"output"`
	}
	json.NewDecoder(r.Body).Decode(&in)
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")

	f.mu.Lock()
	fault := sfnNormal
	if op == "SendTaskSuccess" {
		f.successes++
		if len(f.faults) > 0 {
			fault, f.faults = f.faults[0], f.faults[1:]
		}
	}
	var errType string
	switch {
	case fault == sfnThrottle:
		f.mu.Unlock()
		writeAWSError(w, http.StatusBadRequest, "ThrottlingException")
		return
	case fault == sfn500Before:
		f.mu.Unlock()
		writeAWSError(w, http.StatusInternalServerError, "ServiceUnavailable")
		return
	case f.tokens[in.TaskToken] == "":
		errType = "InvalidToken"
	case f.tokens[in.TaskToken] == "done":
		errType = "TaskDoesNotExist"
	case f.tokens[in.TaskToken] == "timedout":
		errType = "TaskTimedOut"
	case op == "SendTaskSuccess":
		f.tokens[in.TaskToken] = "done"
		f.outputs = append(f.outputs, in.Output)
	}
	f.mu.Unlock()

	switch {
	case errType != "":
		writeAWSError(w, http.StatusBadRequest, errType)
	case fault == sfn500After:
		writeAWSError(w, http.StatusInternalServerError, "ServiceUnavailable")
	case fault == sfnHangAfter:
		select {
		case <-r.Context().Done():
		case <-f.hang:
		case <-time.After(5 * time.Second):
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte("{}"))
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Write([]byte("{}"))
	}
}
