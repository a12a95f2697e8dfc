// Package tracing records what a Lambda function does as AWS X-Ray subsegments
// and sends them to the X-Ray daemon that Lambda runs beside every function
// with active tracing. It uses only the two formats AWS documents for that: the
// segment document (JSON) and the daemon's UDP protocol (a header line, then
// the document), so it needs no X-Ray SDK (the one for Go reaches end of
// support on 2027-02-25) and no OpenTelemetry pipeline.
//
// Subsegments hang under the function's segment, which Lambda itself records:
// its id is the Parent of the invocation's trace header, which aws-lambda-go
// puts in the handler's context (from the Runtime API's Lambda-Runtime-Trace-Id).
// Only sampled traces (Sampled=1) are sent. Without a trace header, nothing is
// recorded and the traced code runs as usual.
//
// docs/LAMBDAS.md ("Tracing") says why this design was chosen and what only a
// deployment can confirm.
package tracing

import (
	"context"
	"fmt"
)

// NotificationSegment is the name of the subsegment that records a
// notification; the trace-based tests read the task token from it.
const NotificationSegment = "NotificationData"

// metadataNamespace is the namespace of NotificationData's metadata: Tracetest
// makes it the span attribute aws.xray.metadata.default.
const metadataNamespace = "default"

// Notification is what the NotificationData subsegment records, as metadata
// in the default namespace. Empty fields are left out, so a caller that must
// not record one of them (the task token) leaves it empty.
type Notification struct {
	TaskToken  string
	ExamId     string
	IncidentId string
}

// RecordNotification runs send inside a NotificationData subsegment carrying
// n, and records send's error (or panic) on it as a fault. Without a sampled
// trace in ctx it just runs send.
func RecordNotification(ctx context.Context, n Notification, send func(context.Context) error) (err error) {
	ctx, s := begin(ctx, NotificationSegment)
	if s == nil {
		return send(ctx)
	}
	metadata := map[string]any{}
	for key, value := range map[string]string{"TaskToken": n.TaskToken, "ExamId": n.ExamId, "IncidentId": n.IncidentId} {
		if value != "" {
			metadata[key] = value
		}
	}
	s.doc.Metadata = map[string]map[string]any{metadataNamespace: metadata}
	defer func() {
		if p := recover(); p != nil {
			s.end(nil, panicked{p})
			panic(p)
		}
		s.end(nil, err)
	}()
	return send(ctx)
}

// panicked is a panic recorded on a subsegment: its exception type is "panic".
type panicked struct{ value any }

func (p panicked) Error() string   { return fmt.Sprint(p.value) }
func (panicked) ErrorCode() string { return "panic" }
