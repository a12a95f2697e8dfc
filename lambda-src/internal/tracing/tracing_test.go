package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
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

// TestAWSCall: a call that got no answer is a fault without an HTTP block;
// outside a sampled trace nothing is recorded and no header is passed on.
// (awsapi's TestTraced covers calls that got answers.)
func TestAWSCall(t *testing.T) {
	received := listen(t)
	ctx, call := BeginAWSCall(invocation(sampledHeader), "DynamoDB", "UpdateItem", "eu-west-1", "incidents")
	if h := HeaderFrom(ctx); !strings.HasPrefix(h, "Root="+traceID+";Parent=") || strings.Contains(h, lambdaID) {
		t.Errorf("header %q, want the call's subsegment as parent", h)
	}
	call.End(0, 0, "", 2, errors.New("dial tcp: connection refused"))
	doc := decode(t, received(1)[0])
	aws, _ := doc["aws"].(map[string]any)
	if doc["fault"] != true || doc["http"] != nil || aws["retries"] != float64(2) || aws["table_name"] != "incidents" {
		t.Errorf("document %v, want a fault with 2 retries and no http block", doc)
	}

	ctx, call = BeginAWSCall(context.Background(), "SFN", "SendTaskSuccess", "eu-west-1", "")
	if call != nil || HeaderFrom(ctx) != "" {
		t.Errorf("untraced call: %v, header %q", call, HeaderFrom(ctx))
	}
	call.End(200, 2, "r", 0, nil) // a nil call is safe to end
}

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
