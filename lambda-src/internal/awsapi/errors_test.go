package awsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/smithy-go"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
)

// countingServer starts a server that reads each request and answers it with
// serve, given the request's number since the last count, and returns its URL
// and count, which returns that number and starts again from 0.
func countingServer(t *testing.T, serve func(w http.ResponseWriter, attempt int)) (string, func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		n++
		attempt := n
		mu.Unlock()
		serve(w, attempt)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() int { mu.Lock(); defer mu.Unlock(); c := n; n = 0; return c }
}

// answering starts a server that answers every request with status and body
// (JSON) and returns its URL.
func answering(t *testing.T, status int, body string) string {
	t.Helper()
	url, _ := countingServer(t, func(w http.ResponseWriter, _ int) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
	return url
}

// errorAnswer is one error answer a service may give.
type errorAnswer struct {
	name   string
	status int
	header map[string]string
	body   string
}

var errorAnswers = []errorAnswer{
	{"namespaced __type", 400, nil, `{"__type":"com.amazonaws.swf.service.v2.model#TaskDoesNotExist","message":"Task does not exist anymore"}`},
	{"bare __type, Message", 400, nil, `{"__type":"InvalidToken","Message":"Invalid Token: 'x'"}`},
	{"code member", 400, nil, `{"code":"TaskTimedOut","message":"Task Timed Out"}`},
	{"header first", 400, map[string]string{"X-Amzn-ErrorType": "InvalidOutput:http://internal.amazon.com/"}, `{"__type":"Other","message":"m"}`},
	{"throttled (400)", 400, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`},
	{"throttled (429), no body", 429, nil, ``},
	{"500", 500, nil, `{"__type":"InternalFailure"}`},
	{"502 HTML", 502, map[string]string{"Content-Type": "text/html"}, `<html>Bad Gateway</html>`},
	{"503 no body", 503, nil, ``},
	{"403 access denied", 403, nil, `{"__type":"AccessDeniedException","Message":"User: arn:aws:sts::1:assumed-role/r is not authorized"}`},
}

// serveErrors answers every request with a, counting requests.
func serveErrors(t *testing.T, a errorAnswer) (string, func() int) {
	t.Helper()
	return countingServer(t, func(w http.ResponseWriter, _ int) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Requestid", "req-1")
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	})
}

// TestErrorAnswers: every error answer reads as the same code, and is
// retried as often, as by the SDK's clients (Step Functions for the JSON
// protocol, SES v2 for REST-JSON).
func TestErrorAnswers(t *testing.T) {
	setEnv(t, lambdaEnv())
	ctx := context.Background()
	for _, a := range errorAnswers {
		url, requests := serveErrors(t, a)
		cfg, err := Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg.BaseEndpoint = url
		cfg.Retryer = noDelays
		sdkCfg := aws.Config{Region: cfg.Region, Credentials: aws.NewCredentialsCache(staticCreds(cfg.Credentials)), BaseEndpoint: aws.String(url)}

		for _, svc := range []string{"SFN", "SESv2"} {
			var sdkErr, ourErr error
			switch svc {
			case "SFN":
				_, sdkErr = sfn.NewFromConfig(sdkCfg, func(o *sfn.Options) { o.Retryer = noDelay{DefaultRetryer(aws.RetryModeStandard, Service{})} }).
					SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("t"), Output: aws.String("{}")})
				sdkAttempts := requests()
				ourErr = New(cfg, SFN).Call(ctx, "SendTaskSuccess", map[string]string{"taskToken": "t", "output": "{}"}, nil)
				compareErrors(t, a.name+", SFN", sdkErr, sdkAttempts, ourErr, requests())
			case "SESv2":
				_, sdkErr = sesv2.NewFromConfig(sdkCfg, func(o *sesv2.Options) { o.Retryer = noDelay{DefaultRetryer(aws.RetryModeStandard, Service{})} }).
					SendEmail(ctx, &sesv2.SendEmailInput{Content: &sestypes.EmailContent{}})
				sdkAttempts := requests()
				ourErr = New(cfg, SESv2).CallREST(ctx, "SendEmail", http.MethodPost, "/v2/email/outbound-emails", nil, nil)
				compareErrors(t, a.name+", SESv2", sdkErr, sdkAttempts, ourErr, requests())
			}
		}
	}
}

func compareErrors(t *testing.T, name string, sdkErr error, sdkAttempts int, ourErr error, ourAttempts int) {
	t.Helper()
	var ours *Error
	if !errors.As(ourErr, &ours) {
		t.Fatalf("%s: error %v, want an *Error", name, ourErr)
	}
	var apiErr smithy.APIError
	if !errors.As(sdkErr, &apiErr) {
		// The SDK could not read the answer (not JSON): no code to compare.
		if ourAttempts != sdkAttempts || ours.Code != "UnknownError" {
			t.Errorf("%s: code %s after %d attempts; the SDK's error %v after %d", name, ours.Code, ourAttempts, sdkErr, sdkAttempts)
		}
		t.Logf("%s: the SDK: %v; ours: %v", name, sdkErr, ourErr)
		return
	}
	if ours.Code != apiErr.ErrorCode() || ourAttempts != sdkAttempts || ours.RequestID != "req-1" {
		t.Errorf("%s: code %s after %d attempts (request id %q); the SDK's %s after %d", name, ours.Code, ourAttempts, ours.RequestID, apiErr.ErrorCode(), sdkAttempts)
	}
	if apiErr.ErrorMessage() != "" && ours.Message != apiErr.ErrorMessage() {
		t.Errorf("%s: message %q, the SDK's %q", name, ours.Message, apiErr.ErrorMessage())
	}
	var opErr *OperationError
	if !errors.As(ourErr, &opErr) || !strings.HasPrefix(ourErr.Error(), "operation error "+opErr.Service+": "+opErr.Operation+", ") {
		t.Errorf("%s: %v, want an *OperationError naming the service and operation", name, ourErr)
	}
}

type staticCreds aws.Credentials

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials(c), nil
}

// TestTransportFaults: what production's network does to a call. A broken
// connection, a damaged answer (its CRC32 does not match) and a cut-off
// answer are retried; a cancelled context is not; an answer that is not
// JSON fails without a retry.
func TestTransportFaults(t *testing.T) {
	setEnv(t, lambdaEnv())
	for _, tt := range []struct {
		name     string
		serve    func(w http.ResponseWriter, attempt int)
		attempts int
		want     string // in the error; "" for success
	}{
		{"connection closed without an answer, then OK", func(w http.ResponseWriter, attempt int) {
			if attempt == 1 {
				hijackClose(w)
				return
			}
			writeOK(w, `{}`)
		}, 2, ""},
		{"damaged answer, then OK", func(w http.ResponseWriter, attempt int) {
			if attempt == 1 {
				w.Header().Set("X-Amz-Crc32", "1")
			}
			writeOK(w, `{}`)
		}, 2, ""},
		{"always damaged", func(w http.ResponseWriter, attempt int) {
			w.Header().Set("X-Amz-Crc32", "1")
			writeOK(w, `{}`)
		}, 4, "exceeded maximum number of attempts, 4"},
		{"answer cut off, then OK", func(w http.ResponseWriter, attempt int) {
			if attempt == 1 {
				w.Header().Set("Content-Length", "100")
				w.WriteHeader(200)
				io.WriteString(w, `{"Item":`)
				hijackClose(w)
				return
			}
			writeOK(w, `{}`)
		}, 2, ""},
		{"not JSON", func(w http.ResponseWriter, attempt int) { writeOK(w, `<html>`) }, 1, "deserialize answer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			url, count := countingServer(t, tt.serve)
			cfg, _ := Load(context.Background())
			cfg.BaseEndpoint = url
			cfg.Retryer = noDelays
			var out map[string]any
			err := New(cfg, DynamoDB).Call(context.Background(), "GetItem", nil, &out)
			switch attempts := count(); {
			case tt.want == "" && err != nil, tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want %q", err, tt.want)
			case attempts != tt.attempts:
				t.Errorf("%d attempts, want %d", attempts, tt.attempts)
			}
		})
	}

	t.Run("context cancelled while waiting", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		cfg, _ := Load(context.Background())
		cfg.BaseEndpoint = srv.URL
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := New(cfg, SFN).Call(ctx, "SendTaskSuccess", nil, nil)
		var canceled *aws.RequestCanceledError
		if !errors.As(err, &canceled) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a RequestCanceledError of the deadline", err)
		}
	})
}

func writeOK(w http.ResponseWriter, body string) {
	if w.Header().Get("X-Amz-Crc32") == "" {
		w.Header().Set("X-Amz-Crc32", fmt.Sprint(crc32.ChecksumIEEE([]byte(body))))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	io.WriteString(w, body)
}

func hijackClose(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// TestDynamoDBLocal: the calls the store makes, on a real DynamoDB (Local):
// an item written with the SDK's client reads back the same through this
// package, and a failed condition's error carries the stored item.
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
	// The SDK writes, with the CRC32 check on.
	sdk := dynamodb.NewFromConfig(server.Config())
	item := `{"k":{"S":"v"},"n":{"N":"7"},"l":{"L":[{"M":{"b":{"BOOL":true},"e":{"S":""}}}]},"z":{"NULL":true}}`
	if _, err := sdk.ExecuteStatement(ctx, &dynamodb.ExecuteStatementInput{
		Statement: aws.String(`INSERT INTO "incidents" VALUE {'k': 'v', 'n': 7, 'l': [{'b': true, 'e': ''}], 'z': null}`),
	}); err != nil {
		t.Fatal(err)
	}
	c := New(cfg, DynamoDB)
	var out struct{ Item map[string]json.RawMessage }
	if err := c.Call(ctx, "GetItem", map[string]any{"TableName": "incidents", "Key": map[string]any{"k": map[string]string{"S": "v"}}, "ConsistentRead": true}, &out); err != nil {
		t.Fatal(err)
	}
	var got, want any
	gotJSON, _ := json.Marshal(out.Item)
	json.Unmarshal(gotJSON, &got)
	json.Unmarshal([]byte(item), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetItem: %s, want %s", gotJSON, item)
	}
	err = c.Call(ctx, "UpdateItem", map[string]any{
		"TableName": "incidents", "Key": map[string]any{"k": map[string]string{"S": "v"}},
		"UpdateExpression": "SET n = :n", "ConditionExpression": "n = :old",
		"ExpressionAttributeValues":           map[string]any{":n": map[string]string{"N": "8"}, ":old": map[string]string{"N": "6"}},
		"ReturnValuesOnConditionCheckFailure": "ALL_OLD",
	}, nil)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != "ConditionalCheckFailedException" || !bytes.Contains(apiErr.Body, []byte(`"n":{"N":"7"}`)) {
		t.Errorf("UpdateItem: %v (%s), want ConditionalCheckFailedException with the item", err, apiErr.Body)
	}
}

// TestTraced: every call is a subsegment sent to the X-Ray daemon, with the
// fields the trace-based tests read, and passes the trace on to the
// service (not signed), on every attempt.
func TestTraced(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var headers, signed []string
	attempts := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Get("X-Amzn-Trace-Id"))
		signed = append(signed, r.Header.Get("Authorization"))
		target := r.Header.Get("X-Amz-Target")
		attempts[target]++
		attempt := attempts[target]
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Amzn-Requestid", "req-"+target)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		switch target {
		case "DynamoDB_20120810.GetItem":
			io.WriteString(w, `{}`)
		case "AWSStepFunctions.SendTaskHeartbeat":
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"slow down"}`)
		case "AWSStepFunctions.SendTaskSuccess": // throttled once, then refused
			if attempt == 1 {
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"__type":"ThrottlingException","message":"slow down"}`)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out"}`)
		}
	}))
	defer srv.Close()
	setEnv(t, merge(lambdaEnv(), map[string]string{"AWS_XRAY_DAEMON_ADDRESS": conn.LocalAddr().String(), "AWS_ENDPOINT_URL": srv.URL}))
	cfg, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Retryer = noDelays

	const traceID, lambdaID = "1-6790a2b0-0123456789abcdef01234567", "53995c3f42cd8ad8"
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root="+traceID+";Parent="+lambdaID+";Sampled=1;Lineage=a87bd80c:0")
	type key struct{ IncidentId struct{ S string } }
	if err := New(cfg, DynamoDB).Call(ctx, "GetItem", struct {
		TableName string
		Key       key
	}{TableName: "incidents"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := New(cfg, SFN).Call(ctx, "SendTaskSuccess", nil, nil, MaxAttempts(2)); err == nil {
		t.Fatal("SendTaskSuccess succeeded, want TaskTimedOut")
	}
	if err := New(cfg, SFN).Call(ctx, "SendTaskHeartbeat", nil, nil, MaxAttempts(1)); err == nil {
		t.Fatal("SendTaskHeartbeat succeeded, want ThrottlingException")
	}
	if err := New(cfg, DynamoDB).Call(context.Background(), "GetItem", nil, nil); err != nil {
		t.Fatal(err)
	}

	var docs []map[string]any
	buf := make([]byte, 1<<16)
	for len(docs) < 3 {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("got %d of 3 subsegments: %v", len(docs), err)
		}
		head, body, _ := bytes.Cut(buf[:n], []byte("\n"))
		if string(head) != `{"format": "json", "version": 1}` {
			t.Fatalf("not the daemon protocol: %q", buf[:n])
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, _, err := conn.ReadFrom(buf); err == nil {
		t.Error("a fourth subsegment: the untraced call sent one")
	}
	ids := []string{}
	for i, want := range []string{
		`{"aws":{"operation":"GetItem","region":"eu-west-1","request_id":"req-DynamoDB_20120810.GetItem","table_name":"incidents"},` +
			`"http":{"response":{"content_length":2,"status":200}},"name":"DynamoDB","namespace":"aws","parent_id":"` + lambdaID + `","trace_id":"` + traceID + `","type":"subsegment"}`,
		`{"aws":{"operation":"SendTaskSuccess","region":"eu-west-1","request_id":"req-AWSStepFunctions.SendTaskSuccess","retries":1},` +
			`"cause":{"exceptions":[{"message":"https response error StatusCode: 400, RequestID: req-AWSStepFunctions.SendTaskSuccess, TaskTimedOut: Task Timed Out","remote":true,"type":"TaskTimedOut"}]},` +
			`"error":true,"http":{"response":{"content_length":87,"status":400}},"name":"SFN","namespace":"aws","parent_id":"` + lambdaID + `","trace_id":"` + traceID + `","type":"subsegment"}`,
		`{"aws":{"operation":"SendTaskHeartbeat","region":"eu-west-1","request_id":"req-AWSStepFunctions.SendTaskHeartbeat"},` +
			`"cause":{"exceptions":[{"message":"exceeded maximum number of attempts, 1, https response error StatusCode: 429, RequestID: req-AWSStepFunctions.SendTaskHeartbeat, ThrottlingException: slow down","remote":true,"type":"ThrottlingException"}]},` +
			`"error":true,"http":{"response":{"content_length":54,"status":429}},"name":"SFN","namespace":"aws","parent_id":"` + lambdaID + `","throttle":true,"trace_id":"` + traceID + `","type":"subsegment"}`,
	} {
		doc := docs[i]
		ids = append(ids, doc["id"].(string))
		for _, k := range []string{"id", "start_time", "end_time"} {
			delete(doc, k)
		}
		if cause, ok := doc["cause"].(map[string]any); ok {
			delete(cause["exceptions"].([]any)[0].(map[string]any), "id")
		}
		if got, _ := json.Marshal(doc); string(got) != want {
			t.Errorf("document\n got %s\nwant %s", got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	wantHeaders := []string{
		"Root=" + traceID + ";Parent=" + ids[0] + ";Sampled=1;Lineage=a87bd80c:0",
		"Root=" + traceID + ";Parent=" + ids[1] + ";Sampled=1;Lineage=a87bd80c:0",
		"Root=" + traceID + ";Parent=" + ids[1] + ";Sampled=1;Lineage=a87bd80c:0",
		"Root=" + traceID + ";Parent=" + ids[2] + ";Sampled=1;Lineage=a87bd80c:0",
		"",
	}
	if strings.Join(headers, "\n") != strings.Join(wantHeaders, "\n") {
		t.Errorf("X-Amzn-Trace-Id the service saw:\n%s\nwant\n%s", strings.Join(headers, "\n"), strings.Join(wantHeaders, "\n"))
	}
	for _, auth := range signed {
		if strings.Contains(strings.ToLower(auth), "x-amzn-trace-id") {
			t.Errorf("the trace header is signed: %s", auth)
		}
	}
}
