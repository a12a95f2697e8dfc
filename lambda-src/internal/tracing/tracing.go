// Package tracing is the only package that imports the AWS X-Ray SDK for Go,
// which is in maintenance mode: keeping its surface this small makes it cheap
// to replace. In Lambda the SDK reads the trace header the runtime puts in the
// invocation context and sends subsegments to AWS_XRAY_DAEMON_ADDRESS.
package tracing

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-xray-sdk-go/instrumentation/awsv2"
	"github.com/aws/aws-xray-sdk-go/xray"
)

// NotificationSegment is the name of the subsegment that records a
// notification; the trace-based tests read the task token from it.
const NotificationSegment = "NotificationData"

// Instrument makes every AWS call of clients built from cfg a subsegment
// named after the service id (DynamoDB, SFN, SESv2, ...) with aws.operation.
func Instrument(cfg *aws.Config) {
	awsv2.AWSV2Instrumentor(&cfg.APIOptions)
}

// Notification is what the NotificationData subsegment records, as metadata
// in the default namespace.
type Notification struct {
	TaskToken  string
	ExamId     string
	IncidentId string
}

// RecordNotification runs send inside a NotificationData subsegment carrying
// n, and records send's error on it. Without a trace in ctx (unit tests, or an
// emulator that drops the trace header) it just runs send.
func RecordNotification(ctx context.Context, n Notification, send func(context.Context) error) error {
	if xray.GetSegment(ctx) == nil && ctx.Value(xray.LambdaTraceHeaderKey) == nil {
		return send(ctx)
	}
	ctx, seg := xray.BeginSubsegment(ctx, NotificationSegment)
	if seg == nil {
		return send(ctx)
	}
	for key, value := range map[string]string{"TaskToken": n.TaskToken, "ExamId": n.ExamId, "IncidentId": n.IncidentId} {
		if err := seg.AddMetadata(key, value); err != nil {
			err = fmt.Errorf("record %s metadata %s: %w", NotificationSegment, key, err)
			seg.Close(err)
			return err
		}
	}
	err := send(ctx)
	seg.Close(err)
	return err
}
