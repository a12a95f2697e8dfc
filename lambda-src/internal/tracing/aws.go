package tracing

import (
	"context"
	"reflect"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Middleware ids, so that a second Instrument adds nothing.
const (
	subsegmentID = "tracing.Subsegment"
	headerID     = "tracing.TraceHeader"
)

// addMiddleware adds to an operation's stack the subsegment around the whole
// call (all attempts, at the end of the Initialize step, where the service id,
// operation and region are known) and the trace header on every attempt (in
// the Deserialize step, after signing: the header is not signed).
func addMiddleware(stack *middleware.Stack) error {
	if _, ok := stack.Initialize.Get(subsegmentID); ok {
		return nil
	}
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc(subsegmentID, recordCall), middleware.After); err != nil {
		return err
	}
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc(headerID, passTrace), middleware.Before)
}

func recordCall(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	out middleware.InitializeOutput, metadata middleware.Metadata, err error,
) {
	ctx, s := begin(ctx, awsmiddleware.GetServiceID(ctx))
	if s == nil {
		return next.HandleInitialize(ctx, in)
	}
	s.doc.Namespace = "aws"
	data := &awsData{
		Operation: awsmiddleware.GetOperationName(ctx),
		Region:    awsmiddleware.GetRegion(ctx),
		TableName: stringField(in.Parameters, "TableName"),
		QueueURL:  stringField(in.Parameters, "QueueUrl"),
	}
	s.doc.AWS = data

	out, metadata, err = next.HandleInitialize(ctx, in)

	if id, ok := awsmiddleware.GetRequestIDMetadata(metadata); ok {
		data.RequestID = id
	}
	if attempts, ok := retry.GetAttemptResults(metadata); ok && len(attempts.Results) > 1 {
		data.Retries = len(attempts.Results) - 1
	}
	var resp *httpResponse
	if raw, ok := awsmiddleware.GetRawResponse(metadata).(*smithyhttp.Response); ok && raw != nil {
		resp = &httpResponse{Status: raw.StatusCode, ContentLength: max(raw.ContentLength, 0)}
	}
	s.end(resp, err)
	return out, metadata, err
}

func passTrace(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	if s, ok := ctx.Value(contextKey{}).(*segment); ok {
		if req, ok := in.Request.(*smithyhttp.Request); ok {
			req.Header.Set("X-Amzn-Trace-Id", s.downstream())
		}
	}
	return next.HandleDeserialize(ctx, in)
}

// stringField returns the string pointed to by the field name of the
// operation input params (a pointer to a struct), or "".
func stringField(params any, name string) string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	f := v.Elem().FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.String {
		return ""
	}
	return f.Elem().String()
}
