package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
)

const (
	traceID       = "1-6790a2b0-0123456789abcdef01234567"
	lambdaID      = "53995c3f42cd8ad8"
	sampledHeader = "Root=" + traceID + ";Parent=" + lambdaID + ";Sampled=1;Lineage=a87bd80c:0"
)

// invocation is a handler context as aws-lambda-go builds it.
func invocation(traceHeader string) context.Context {
	return context.WithValue(context.Background(), lambdaTraceHeaderKey, traceHeader)
}

// listen points the package at a fresh UDP socket on 127.0.0.1, as Lambda's
// daemon address does, and returns a function that waits for n datagrams.
func listen(t *testing.T) func(n int) [][]byte {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", conn.LocalAddr().String())
	daemon.once, daemon.conn = sync.Once{}, nil
	return func(n int) [][]byte {
		t.Helper()
		var grams [][]byte
		buf := make([]byte, 1<<16)
		for len(grams) < n {
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, _, err := conn.ReadFrom(buf)
			if err != nil {
				t.Fatalf("got %d of %d datagrams: %v", len(grams), n, err)
			}
			grams = append(grams, bytes.Clone(buf[:m]))
		}
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := conn.ReadFrom(buf); err == nil {
			t.Fatalf("more than %d datagrams", n)
		}
		return grams
	}
}

// decode checks the daemon protocol framing and returns the document.
func decode(t *testing.T, gram []byte) map[string]any {
	t.Helper()
	head, body, ok := bytes.Cut(gram, []byte("\n"))
	if !ok || string(head) != `{"format": "json", "version": 1}` {
		t.Fatalf("not the daemon protocol: %q", gram)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return doc
}

func TestRecordNotification(t *testing.T) {
	received := listen(t)
	before := time.Now()
	ran := false
	err := RecordNotification(invocation(sampledHeader), Notification{TaskToken: "token", ExamId: "exam", IncidentId: "incident"}, func(ctx context.Context) error {
		ran = true
		if s, ok := ctx.Value(contextKey{}).(*segment); !ok || s.doc.Name != NotificationSegment {
			t.Error("send does not run inside the NotificationData subsegment")
		}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("err=%v ran=%v", err, ran)
	}
	doc := decode(t, received(1)[0])
	start, end := doc["start_time"].(float64), doc["end_time"].(float64)
	if start < float64(before.Unix()) || end < start || end > float64(time.Now().Unix()+1) {
		t.Errorf("start_time %f, end_time %f: want epoch seconds around now, end >= start", start, end)
	}
	delete(doc, "start_time")
	delete(doc, "end_time")
	id, _ := doc["id"].(string)
	if !validID(id) {
		t.Errorf("id %q is not 16 hexadecimal digits", id)
	}
	delete(doc, "id")
	want := map[string]any{
		"name": "NotificationData", "trace_id": traceID, "parent_id": lambdaID, "type": "subsegment",
		"metadata": map[string]any{"default": map[string]any{"TaskToken": "token", "ExamId": "exam", "IncidentId": "incident"}},
	}
	if got, _ := json.Marshal(doc); string(got) != string(mustMarshal(t, want)) {
		t.Errorf("document\n got %s\nwant %s", got, mustMarshal(t, want))
	}
}

func TestRecordNotificationLeavesEmptyFieldsOut(t *testing.T) {
	received := listen(t)
	RecordNotification(invocation(sampledHeader), Notification{ExamId: "exam", IncidentId: "incident"}, func(context.Context) error { return nil })
	doc := decode(t, received(1)[0])
	if got := mustMarshal(t, doc["metadata"]); string(got) != `{"default":{"ExamId":"exam","IncidentId":"incident"}}` {
		t.Errorf("metadata %s, want no TaskToken", got)
	}
}

func TestRecordNotificationFailure(t *testing.T) {
	received := listen(t)
	sent := errors.New("smtp down")
	err := RecordNotification(invocation(sampledHeader), Notification{ExamId: "e"}, func(context.Context) error { return sent })
	if !errors.Is(err, sent) {
		t.Fatalf("err = %v, want send's error", err)
	}
	doc := decode(t, received(1)[0])
	cause := mustMarshal(t, doc["cause"])
	if doc["fault"] != true || doc["error"] != nil || !strings.Contains(string(cause), `"message":"smtp down"`) {
		t.Errorf("fault %v error %v cause %s: want a fault with the message", doc["fault"], doc["error"], cause)
	}

	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the panic to go on", p)
			}
		}()
		RecordNotification(invocation(sampledHeader), Notification{ExamId: "e"}, func(context.Context) error { panic("boom") })
	}()
	doc = decode(t, received(1)[0])
	if cause := mustMarshal(t, doc["cause"]); doc["fault"] != true || !strings.Contains(string(cause), `"type":"panic"`) {
		t.Errorf("after a panic: fault %v cause %s", doc["fault"], cause)
	}
}

// TestNoSampledTrace: what is not a sampled trace with a parent sends
// nothing and still runs the work.
func TestNoSampledTrace(t *testing.T) {
	received := listen(t)
	for _, tt := range []struct {
		name string
		ctx  context.Context
	}{
		{"no header key (outside an invocation, no _X_AMZN_TRACE_ID)", context.Background()},
		{"empty header (the emulator)", invocation("")},
		{"not sampled", invocation("Root=" + traceID + ";Parent=" + lambdaID + ";Sampled=0")},
		{"sampling requested", invocation("Root=" + traceID + ";Parent=" + lambdaID + ";Sampled=?")},
		{"no Sampled", invocation("Root=" + traceID + ";Parent=" + lambdaID)},
		{"no Parent", invocation("Root=" + traceID + ";Sampled=1")},
		{"bad Root", invocation("Root=1-xyz;Parent=" + lambdaID + ";Sampled=1")},
		{"bad Parent", invocation("Root=" + traceID + ";Parent=53995c3f;Sampled=1")},
		{"garbage", invocation(";;==;")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			if err := RecordNotification(tt.ctx, Notification{ExamId: "e"}, func(context.Context) error { calls++; return nil }); err != nil || calls != 1 {
				t.Errorf("calls=%d err=%v, want send run once", calls, err)
			}
		})
	}
	received(0)
}

// TestTraceHeaderFromEnvironment: outside an invocation's context the header
// comes from _X_AMZN_TRACE_ID; a context's header, even empty, wins.
func TestTraceHeaderFromEnvironment(t *testing.T) {
	received := listen(t)
	t.Setenv("_X_AMZN_TRACE_ID", sampledHeader)
	RecordNotification(context.Background(), Notification{ExamId: "e"}, func(context.Context) error { return nil })
	if doc := decode(t, received(1)[0]); doc["trace_id"] != traceID || doc["parent_id"] != lambdaID {
		t.Errorf("trace_id %v parent_id %v", doc["trace_id"], doc["parent_id"])
	}
	RecordNotification(invocation(""), Notification{ExamId: "e"}, func(context.Context) error { return nil })
	received(0)
}

// TestNesting: a subsegment begun inside another is embedded in its
// document when it ends first, and sent on its own when it ends last.
func TestNesting(t *testing.T) {
	received := listen(t)
	ctx, outer := begin(invocation(sampledHeader), "outer")
	_, inner := begin(ctx, "inner")
	inner.end(nil, nil)
	outer.end(nil, nil)
	doc := decode(t, received(1)[0])
	subs, _ := doc["subsegments"].([]any)
	if len(subs) != 1 {
		t.Fatalf("subsegments %v, want inner", doc["subsegments"])
	}
	sub := subs[0].(map[string]any)
	if sub["name"] != "inner" || sub["trace_id"] != nil || sub["parent_id"] != nil || sub["type"] != nil {
		t.Errorf("embedded %v: want inner without trace_id, parent_id, type", sub)
	}

	ctx, outer = begin(invocation(sampledHeader), "outer")
	_, late := begin(ctx, "late")
	outer.end(nil, nil)
	late.end(nil, nil)
	outer.end(nil, nil) // ending twice sends nothing more
	grams := received(2)
	first, second := decode(t, grams[0]), decode(t, grams[1])
	if first["name"] != "outer" || first["subsegments"] != nil {
		t.Errorf("first %v, want outer alone", first)
	}
	if second["name"] != "late" || second["parent_id"] != first["id"] || second["trace_id"] != traceID || second["type"] != "subsegment" {
		t.Errorf("second %v, want late on its own under outer", second)
	}
}

// TestInstrument makes real SDK calls (DynamoDB, Step Functions) to an
// httptest server and checks the subsegments and the header the service sees.
func TestInstrument(t *testing.T) {
	received := listen(t)
	var mu sync.Mutex
	var headers []string
	statuses := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Get("X-Amzn-Trace-Id"))
		target := r.Header.Get("X-Amz-Target")
		statuses[target]++
		attempt := statuses[target]
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Amzn-Requestid", "req-"+target)
		switch target {
		case "DynamoDB_20120810.GetItem":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			io.WriteString(w, `{}`)
		case "AWSStepFunctions.SendTaskHeartbeat":
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"__type":"ThrottlingException","message":"slow down"}`)
		case "AWSStepFunctions.SendTaskSuccess": // throttled once, then refused
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
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
	cfg := aws.Config{
		Region: "eu-west-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		}),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
	Instrument(&cfg)
	Instrument(&cfg) // a second call adds nothing

	ctx := invocation(sampledHeader)
	key := map[string]types.AttributeValue{"IncidentId": &types.AttributeValueMemberS{Value: "i"}}
	if _, err := dynamodb.NewFromConfig(cfg).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("incidents"), Key: key}); err != nil {
		t.Fatal(err)
	}
	client := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.Retryer = retryOnce{} })
	if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("t"), Output: aws.String("{}")}); err == nil {
		t.Fatal("SendTaskSuccess succeeded, want TaskTimedOut")
	}
	if _, err := sfn.NewFromConfig(cfg).SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String("t")}); err == nil {
		t.Fatal("SendTaskHeartbeat succeeded, want ThrottlingException")
	}
	if _, err := dynamodb.NewFromConfig(cfg).GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key}); err != nil {
		t.Fatal(err)
	}

	grams := received(3)
	ddb, step, throttled := decode(t, grams[0]), decode(t, grams[1]), decode(t, grams[2])
	for _, c := range []struct {
		doc  map[string]any
		want string
	}{
		{ddb, `{"aws":{"operation":"GetItem","region":"eu-west-1","request_id":"req-DynamoDB_20120810.GetItem","table_name":"incidents"},` +
			`"http":{"response":{"content_length":2,"status":200}},"name":"DynamoDB","namespace":"aws","parent_id":"` + lambdaID + `","trace_id":"` + traceID + `","type":"subsegment"}`},
		{step, `{"aws":{"operation":"SendTaskSuccess","region":"eu-west-1","request_id":"req-AWSStepFunctions.SendTaskSuccess","retries":1},` +
			`"cause":{"exceptions":[{"message":"exceeded maximum number of attempts, 2, https response error StatusCode: 400, RequestID: req-AWSStepFunctions.SendTaskSuccess, TaskTimedOut: Task Timed Out","remote":true,"type":"TaskTimedOut"}]},` +
			`"error":true,"http":{"response":{"content_length":87,"status":400}},"name":"SFN","namespace":"aws","parent_id":"` + lambdaID + `","trace_id":"` + traceID + `","type":"subsegment"}`},
		{throttled, `{"aws":{"operation":"SendTaskHeartbeat","region":"eu-west-1","request_id":"req-AWSStepFunctions.SendTaskHeartbeat"},` +
			`"cause":{"exceptions":[{"message":"https response error StatusCode: 429, RequestID: req-AWSStepFunctions.SendTaskHeartbeat, api error ThrottlingException: slow down","remote":true,"type":"ThrottlingException"}]},` +
			`"error":true,"http":{"response":{"content_length":54,"status":429}},"name":"SFN","namespace":"aws","parent_id":"` + lambdaID + `","throttle":true,"trace_id":"` + traceID + `","type":"subsegment"}`},
	} {
		id := c.doc["id"].(string)
		for _, k := range []string{"id", "start_time", "end_time"} {
			delete(c.doc, k)
		}
		if cause, ok := c.doc["cause"].(map[string]any); ok {
			exceptions := cause["exceptions"].([]any)
			delete(exceptions[0].(map[string]any), "id")
		}
		if got := mustMarshal(t, c.doc); string(got) != c.want {
			t.Errorf("document\n got %s\nwant %s", got, c.want)
		}
		c.doc["id"] = id
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"Root=" + traceID + ";Parent=" + ddb["id"].(string) + ";Sampled=1;Lineage=a87bd80c:0",
		"Root=" + traceID + ";Parent=" + step["id"].(string) + ";Sampled=1;Lineage=a87bd80c:0",
		"Root=" + traceID + ";Parent=" + step["id"].(string) + ";Sampled=1;Lineage=a87bd80c:0",
		"Root=" + traceID + ";Parent=" + throttled["id"].(string) + ";Sampled=1;Lineage=a87bd80c:0",
		"",
	}
	if strings.Join(headers, "\n") != strings.Join(want, "\n") {
		t.Errorf("X-Amzn-Trace-Id the service saw:\n%s\nwant\n%s", strings.Join(headers, "\n"), strings.Join(want, "\n"))
	}
}

// retryOnce retries any error once, without waiting.
type retryOnce struct{}

func (retryOnce) IsErrorRetryable(error) bool                  { return true }
func (retryOnce) MaxAttempts() int                             { return 2 }
func (retryOnce) RetryDelay(int, error) (time.Duration, error) { return 0, nil }
func (retryOnce) GetRetryToken(context.Context, error) (func(error) error, error) {
	return func(error) error { return nil }, nil
}
func (retryOnce) GetInitialToken() func(error) error { return func(error) error { return nil } }

func TestDaemonAddress(t *testing.T) {
	for _, tt := range []struct{ value, want, err string }{
		{"", "127.0.0.1:2000", ""},
		{"169.254.79.129:2000", "169.254.79.129:2000", ""},
		{" localhost:3000 ", "localhost:3000", ""},
		{"tcp:127.0.0.1:2000 udp:127.0.0.2:2001", "127.0.0.2:2001", ""},
		{"udp:127.0.0.2:2001 tcp:127.0.0.1:2000", "127.0.0.2:2001", ""},
		{"127.0.0.1", "", "want host:port"},
		{":2000", "", "want host:port"},
		{"127.0.0.1:port", "", `port "port" is not 1-65535`},
		{"127.0.0.1:70000", "", "is not 1-65535"},
		{"tcp:127.0.0.1:2000 tcp:127.0.0.1:2001", "", "want host:port"},
		{"http:127.0.0.1:2000 udp:127.0.0.1:2001", "", "want host:port"},
		{"a:1 b:2 c:3", "", "want host:port"},
	} {
		got, err := daemonAddress(tt.value)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("%q: %q %v, want %q", tt.value, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "AWS_XRAY_DAEMON_ADDRESS")) {
			t.Errorf("%q: error %v, want one naming AWS_XRAY_DAEMON_ADDRESS and %q", tt.value, err, tt.err)
		}
	}
}

// TestBadDaemonAddress: a wrong address costs the traces, never the work.
func TestBadDaemonAddress(t *testing.T) {
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", "nowhere")
	daemon.once, daemon.conn = sync.Once{}, nil
	t.Cleanup(func() { daemon.once, daemon.conn = sync.Once{}, nil })
	calls := 0
	if err := RecordNotification(invocation(sampledHeader), Notification{ExamId: "e"}, func(context.Context) error { calls++; return nil }); err != nil || calls != 1 {
		t.Errorf("calls=%d err=%v", calls, err)
	}
}

func TestOversizedDocumentIsNotSent(t *testing.T) {
	received := listen(t)
	ctx, s := begin(invocation(sampledHeader), "big")
	s.doc.Metadata = map[string]map[string]any{"default": {"blob": strings.Repeat("x", maxDatagram)}}
	s.end(nil, nil)
	RecordNotification(ctx, Notification{ExamId: "e"}, func(context.Context) error { return nil }) // under the closed one: sent alone
	if doc := decode(t, received(1)[0]); doc["name"] != NotificationSegment {
		t.Errorf("got %v", doc["name"])
	}
}

func TestExceptionMessageIsBounded(t *testing.T) {
	e := newException(errors.New(strings.Repeat("m", 3*maxMessage)))
	if len(e.Message) > maxMessage+3 || e.Type != "errors.errorString" {
		t.Errorf("message of %d bytes, type %q", len(e.Message), e.Type)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestConcurrentInvocations: invocations running at once in one process (as
// Lambda Managed Instances run them) each record under their own trace.
func TestConcurrentInvocations(t *testing.T) {
	received := listen(t)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			root := fmt.Sprintf("1-6790a2b0-%024x", i)
			ctx := invocation("Root=" + root + ";Parent=" + lambdaID + ";Sampled=1")
			RecordNotification(ctx, Notification{ExamId: root}, func(ctx context.Context) error {
				_, s := begin(ctx, "inner")
				s.end(nil, nil)
				return nil
			})
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, gram := range received(n) {
		doc := decode(t, gram)
		root, _ := doc["trace_id"].(string)
		examID := doc["metadata"].(map[string]any)["default"].(map[string]any)["ExamId"]
		subs, _ := doc["subsegments"].([]any)
		if examID != root || len(subs) != 1 || seen[root] {
			t.Errorf("document %v: its metadata, child or trace belongs to another invocation", doc)
		}
		seen[root] = true
	}
}
