package tracing_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// This file reads segment documents the way Tracetest v1.7.1 does
// (github.com/kubeshop/tracetest, agent/tracedb/awsxray.go: parseSegmentToSpans,
// generateSpan and the segment types; server/traces: setMetadataAttributes and
// spanType), so that tests can compare what the trace-based tests see. The
// real server is run against our binaries' segments by the Tracetest rig;
// this copy keeps the rules it found:
//   - each segment and subsegment is a span named after it, the parent being
//     parent_id when set, else the enclosing document;
//   - namespace "aws" adds aws.service = name, "remote" nothing, anything else
//     is an error that fails the whole trace;
//   - the aws block gives aws.account_id, aws.operation, aws.region,
//     aws.request_id, aws.queue_url, aws.table_name and aws.xray.retries;
//   - metadata namespace N becomes aws.xray.metadata.N, the namespace's map
//     as JSON; annotations become attributes of their own name;
//   - an http request block gives http.method, http.url, http.user_agent,
//     http.client_ip; the response block's fields are unexported in Tracetest's
//     type, so status and content_length are never read;
//   - the type is http, database, rpc, messaging, faas or exception after the
//     first attribute with that prefix (http., db., ...), else general.
// The documents are decoded into the same field types as Tracetest's, so a
// field of the wrong JSON type fails here as it fails there.

// xraySegment has the fields and types of Tracetest's segment type.
type xraySegment struct {
	Name        *string                   `json:"name"`
	ID          *string                   `json:"id"`
	StartTime   *float64                  `json:"start_time"`
	User        *string                   `json:"user,omitempty"`
	TraceID     *string                   `json:"trace_id,omitempty"`
	EndTime     *float64                  `json:"end_time,omitempty"`
	InProgress  *bool                     `json:"in_progress,omitempty"`
	HTTP        *xrayHTTP                 `json:"http,omitempty"`
	Fault       *bool                     `json:"fault,omitempty"`
	Error       *bool                     `json:"error,omitempty"`
	Throttle    *bool                     `json:"throttle,omitempty"`
	Cause       *xrayCause                `json:"cause,omitempty"`
	AWS         *xrayAWS                  `json:"aws,omitempty"`
	Annotations map[string]any            `json:"annotations,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
	Subsegments []xraySegment             `json:"subsegments,omitempty"`
	Namespace   *string                   `json:"namespace,omitempty"`
	ParentID    *string                   `json:"parent_id,omitempty"`
	Type        *string                   `json:"type,omitempty"`
	Traced      *bool                     `json:"traced,omitempty"`
}

type xrayHTTP struct {
	Request *struct {
		XForwardedFor *bool   `json:"x_forwarded_for,omitempty"`
		Method        *string `json:"method,omitempty"`
		URL           *string `json:"url,omitempty"`
		UserAgent     *string `json:"user_agent,omitempty"`
		ClientIP      *string `json:"client_ip,omitempty"`
	} `json:"request,omitempty"`
	// Tracetest's response type has only unexported fields: nothing is read.
	Response *struct{} `json:"response,omitempty"`
}

type xrayAWS struct {
	AccountID    *string `json:"account_id,omitempty"`
	Operation    *string `json:"operation,omitempty"`
	RemoteRegion *string `json:"region,omitempty"`
	RequestID    *string `json:"request_id,omitempty"`
	QueueURL     *string `json:"queue_url,omitempty"`
	TableName    *string `json:"table_name,omitempty"`
	Retries      *int64  `json:"retries,omitempty"`
}

// xrayCause is an object of exceptions or an exception id string.
type xrayCause struct{}

func (c *xrayCause) UnmarshalJSON(data []byte) error {
	var object struct {
		WorkingDirectory *string  `json:"working_directory,omitempty"`
		Paths            []string `json:"paths,omitempty"`
		Exceptions       []struct {
			ID        *string `json:"id,omitempty"`
			Message   *string `json:"message,omitempty"`
			Type      *string `json:"type,omitempty"`
			Remote    *bool   `json:"remote,omitempty"`
			Truncated *int64  `json:"truncated,omitempty"`
			Skipped   *int64  `json:"skipped,omitempty"`
			Cause     *string `json:"cause,omitempty"`
			Stack     []struct {
				Path  *string `json:"path,omitempty"`
				Line  *int    `json:"line,omitempty"`
				Label *string `json:"label,omitempty"`
			} `json:"stack,omitempty"`
		} `json:"exceptions,omitempty"`
	}
	if err := json.Unmarshal(data, &object); err == nil {
		return nil
	}
	if s := string(data); len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return fmt.Errorf("the value assigned to the `cause` field does not appear to be a string: %s", data)
	}
	return nil
}

// span is a span as Tracetest builds it from a document.
type span struct {
	Name       string
	ID         string
	Parent     string // the parent span's id
	Attributes map[string]string
}

// readOptions say how strictly ids and times are checked: normalized
// documents carry placeholders (<id:1>, <time>) where raw ones carry values.
type readOptions struct{ normalized bool }

// readSegment turns one document into spans as Tracetest does.
func readSegment(doc []byte, opts readOptions) ([]span, error) {
	var seg xraySegment
	if err := json.Unmarshal(doc, &seg); err != nil {
		return nil, err
	}
	switch {
	case seg.Name == nil:
		return nil, errors.New(`segment "name" can not be nil`)
	case seg.ID == nil:
		return nil, errors.New(`segment "id" can not be nil`)
	case seg.StartTime == nil:
		return nil, errors.New(`segment "start_time" can not be nil`)
	case seg.TraceID == nil:
		return nil, errors.New(`segment "trace_id" can not be nil`)
	}
	return toSpans(seg, nil, opts)
}

func toSpans(seg xraySegment, parent *span, opts readOptions) ([]span, error) {
	s, err := generateSpan(seg, parent, opts)
	if err != nil {
		return nil, err
	}
	spans := []span{s}
	for _, sub := range seg.Subsegments {
		nested, err := toSpans(sub, &s, opts)
		if err != nil {
			return spans, err
		}
		spans = append(spans, nested...)
	}
	return spans, nil
}

func generateSpan(seg xraySegment, parent *span, opts readOptions) (span, error) {
	if seg.Name == nil || seg.ID == nil || seg.StartTime == nil {
		return span{}, errors.New("subsegment without name, id or start_time")
	}
	s := span{Name: *seg.Name, Attributes: map[string]string{}}
	set := func(key string, value *string) {
		if value != nil {
			s.Attributes[key] = *value
		}
	}
	checkID := func(id string) error {
		if opts.normalized {
			return nil
		}
		if len(id) != 16 {
			return errors.New("spanID length is wrong")
		}
		_, err := hex.DecodeString(id)
		return err
	}
	if seg.ParentID != nil {
		if err := checkID(*seg.ParentID); err != nil {
			return s, err
		}
		s.Parent = *seg.ParentID
	} else if parent != nil {
		s.Parent = parent.ID
	}
	if err := checkID(*seg.ID); err != nil {
		return s, err
	}
	s.ID = *seg.ID
	if seg.Namespace != nil {
		switch *seg.Namespace {
		case "aws":
			s.Attributes["aws.service"] = *seg.Name
		case "remote":
		default:
			return s, fmt.Errorf("unexpected namespace: %s", *seg.Namespace)
		}
	}
	if seg.InProgress != nil {
		s.Attributes["aws.xray.inprogress"] = strconv.FormatBool(*seg.InProgress)
	}
	set("enduser.id", seg.User)
	if seg.HTTP != nil && seg.HTTP.Request != nil {
		r := seg.HTTP.Request
		set("http.method", r.Method)
		set("http.client_ip", r.ClientIP)
		set("http.user_agent", r.UserAgent)
		set("http.url", r.URL)
		if r.XForwardedFor != nil {
			s.Attributes["aws.xray.x_forwarded_for"] = strconv.FormatBool(*r.XForwardedFor)
		}
	}
	if a := seg.AWS; a != nil {
		set("aws.account_id", a.AccountID)
		set("aws.operation", a.Operation)
		set("aws.region", a.RemoteRegion)
		set("aws.request_id", a.RequestID)
		set("aws.queue_url", a.QueueURL)
		set("aws.table_name", a.TableName)
		if a.Retries != nil {
			s.Attributes["aws.xray.retries"] = fmt.Sprint(*a.Retries)
		}
	}
	if seg.Traced != nil {
		s.Attributes["aws.xray.traced"] = strconv.FormatBool(*seg.Traced)
	}
	for k, v := range seg.Annotations {
		switch v.(type) {
		case string, bool, float64:
			s.Attributes[k] = fmt.Sprint(v)
		}
	}
	for ns, values := range seg.Metadata {
		data, err := json.Marshal(values)
		if err != nil {
			return s, err
		}
		s.Attributes["aws.xray.metadata."+ns] = string(data)
	}
	s.Attributes["tracetest.span.name"] = s.Name
	s.Attributes["tracetest.span.type"] = spanType(s.Attributes)
	return s, nil
}

// spanType is Tracetest's: the first attribute with a known prefix decides.
func spanType(attrs map[string]string) string {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, p := range []struct{ prefix, kind string }{
			{"http.", "http"}, {"db.", "database"}, {"rpc.", "rpc"},
			{"messaging.", "messaging"}, {"faas.", "faas"}, {"exception.", "exception"},
		} {
			if strings.HasPrefix(k, p.prefix) {
				return p.kind
			}
		}
	}
	return "general"
}

// revive puts numbers back where normalization left placeholders whose JSON
// type Tracetest checks (times, exception stacks), so that a normalized
// document decodes as the raw one did.
func revive(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			switch {
			case (k == "start_time" || k == "end_time") && x == "<time>":
				out[k] = 1.7e9
			case k == "stack" && x == "<stack>":
				out[k] = []any{}
			default:
				out[k] = revive(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = revive(x)
		}
		return out
	}
	return v
}
