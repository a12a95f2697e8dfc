package tracing

import "context"

// AWSCall is an AWS API call being recorded: a subsegment named after the
// service id (DynamoDB, SFN, SESv2, Secrets Manager) in namespace aws, with
// aws.operation, aws.region, aws.table_name (when the call names a table),
// aws.request_id, aws.retries (when the call was retried), the HTTP status
// of the last answer, and the error, throttle and fault flags. A nil
// *AWSCall (no sampled trace) records nothing.
type AWSCall struct {
	s    *segment
	data *awsData
}

// BeginAWSCall starts recording a call of operation of service. The
// returned context carries the call: HeaderFrom gives the trace header that
// passes it on to the service.
func BeginAWSCall(ctx context.Context, service, operation, region, table string) (context.Context, *AWSCall) {
	ctx, s := begin(ctx, service)
	if s == nil {
		return ctx, nil
	}
	s.doc.Namespace = "aws"
	data := &awsData{Operation: operation, Region: region, TableName: table}
	s.doc.AWS = data
	return ctx, &AWSCall{s: s, data: data}
}

// End closes the call's subsegment with its last answer's status (0 when it
// got none) and length, the request id, how many times it was retried and
// its error, and sends it.
func (c *AWSCall) End(status int, contentLength int64, requestID string, retries int, err error) {
	if c == nil {
		return
	}
	c.data.RequestID = requestID
	c.data.Retries = retries
	var resp *httpResponse
	if status != 0 {
		resp = &httpResponse{Status: status, ContentLength: max(contentLength, 0)}
	}
	c.s.end(resp, err)
}

// HeaderFrom returns the X-Amzn-Trace-Id header for a call made in ctx (the
// subsegment in ctx as its parent), or "" when ctx holds none.
func HeaderFrom(ctx context.Context) string {
	if s, ok := ctx.Value(contextKey{}).(*segment); ok {
		return s.downstream()
	}
	return ""
}
