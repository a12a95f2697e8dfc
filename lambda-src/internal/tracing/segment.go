package tracing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// document is an X-Ray subsegment document, with the fields AWS documents
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html)
// that this package fills.
type document struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// TraceID, ParentID and Type are set on a subsegment sent on its own;
	// one embedded in its parent's document needs none of them.
	TraceID   string  `json:"trace_id,omitempty"`
	ParentID  string  `json:"parent_id,omitempty"`
	Type      string  `json:"type,omitempty"`
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	// Namespace is "aws" for AWS calls. Tracetest v1.7.1 fails to read a
	// whole trace when a namespace is anything but "aws" or "remote".
	Namespace   string                    `json:"namespace,omitempty"`
	Error       bool                      `json:"error,omitempty"`
	Throttle    bool                      `json:"throttle,omitempty"`
	Fault       bool                      `json:"fault,omitempty"`
	Cause       *cause                    `json:"cause,omitempty"`
	HTTP        *httpData                 `json:"http,omitempty"`
	AWS         *awsData                  `json:"aws,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
	Subsegments []json.RawMessage         `json:"subsegments,omitempty"`
}

type cause struct {
	Exceptions []exception `json:"exceptions"`
}

type exception struct {
	ID      string `json:"id"`
	Type    string `json:"type,omitempty"`
	Message string `json:"message"`
	// Remote is true when the error came back from the called service.
	Remote bool `json:"remote,omitempty"`
}

// httpData has only a response block: Tracetest v1.7.1 types a span "http"
// when its segment has a request block, and the tests select the AWS call
// spans as "general", as the X-Ray SDK recorded them.
type httpData struct {
	Response httpResponse `json:"response"`
}

type httpResponse struct {
	Status        int   `json:"status"`
	ContentLength int64 `json:"content_length,omitempty"`
}

type awsData struct {
	Operation string `json:"operation,omitempty"`
	Region    string `json:"region,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	TableName string `json:"table_name,omitempty"`
	QueueURL  string `json:"queue_url,omitempty"`
	Retries   int    `json:"retries,omitempty"`
}

// maxMessage bounds an exception message, so that a document stays well
// inside one UDP datagram.
const maxMessage = 2048

// trace identifies the trace a subsegment belongs to and how to pass it on.
type trace struct {
	id string
	// extra holds the header's other fields (Lineage, ...), passed on
	// downstream as they came.
	extra []string
}

// segment is an open subsegment.
type segment struct {
	trace  trace
	parent *segment // nil for a subsegment of the function's segment

	mu       sync.Mutex
	doc      document
	children []json.RawMessage // closed children, embedded when this one ends
	ended    bool
}

type contextKey struct{}

// lambdaTraceHeaderKey is where aws-lambda-go puts the invocation's trace
// header (Lambda-Runtime-Trace-Id) in the handler's context.
const lambdaTraceHeaderKey = "x-amzn-trace-id"

// begin starts a subsegment named name under the subsegment in ctx, or else
// under the function's segment named by the invocation's trace header. It
// returns a nil segment when there is no sampled trace.
func begin(ctx context.Context, name string) (context.Context, *segment) {
	s := &segment{}
	if parent, ok := ctx.Value(contextKey{}).(*segment); ok {
		s.parent = parent
		s.trace = parent.trace
	} else {
		header, ok := ctx.Value(lambdaTraceHeaderKey).(string)
		if !ok {
			// Outside an invocation's context, the variable aws-lambda-go
			// sets when the runtime runs one invocation at a time.
			header = os.Getenv("_X_AMZN_TRACE_ID")
		}
		h, ok := parseHeader(header)
		if !ok {
			return ctx, nil
		}
		s.trace = trace{id: h.root, extra: h.extra}
		s.doc.ParentID = h.parent
	}
	s.doc.Name = name
	s.doc.ID = newID()
	s.doc.StartTime = epochSeconds(time.Now())
	return context.WithValue(ctx, contextKey{}, s), s
}

// end closes s with err and sends it, or hands it to its parent when that is
// still open. An HTTP response, when there is one, sets the flags; an error
// without one is a fault.
func (s *segment) end(resp *httpResponse, err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.doc.EndTime = epochSeconds(time.Now())
	if resp != nil {
		s.doc.HTTP = &httpData{Response: *resp}
		switch {
		case resp.Status == 429:
			s.doc.Error, s.doc.Throttle = true, true
		case resp.Status >= 400 && resp.Status < 500:
			s.doc.Error = true
		case resp.Status >= 500:
			s.doc.Fault = true
		}
	}
	if err != nil {
		if !s.doc.Error && !s.doc.Fault {
			s.doc.Fault = true
		}
		s.doc.Cause = &cause{Exceptions: []exception{newException(err)}}
	}
	s.doc.Subsegments = s.children
	s.mu.Unlock()

	if s.parent != nil && s.parent.adopt(s) {
		return
	}
	s.doc.TraceID = s.trace.id
	s.doc.Type = "subsegment"
	if s.parent != nil {
		s.doc.ParentID = s.parent.doc.ID
	}
	data, merr := json.Marshal(&s.doc)
	if merr != nil {
		report(fmt.Errorf("encode subsegment %s: %w", s.doc.Name, merr))
		return
	}
	send(data)
}

// adopt embeds the ended child in s's document, unless s has ended already
// (a child that outlives its parent is sent on its own).
func (s *segment) adopt(child *segment) bool {
	data, err := json.Marshal(&child.doc)
	if err != nil {
		report(fmt.Errorf("encode subsegment %s: %w", child.doc.Name, err))
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.children = append(s.children, data)
	return true
}

func newException(err error) exception {
	e := exception{ID: newID(), Type: fmt.Sprintf("%T", err), Message: err.Error()}
	e.Type = strings.TrimPrefix(e.Type, "*")
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) && api.ErrorCode() != "" {
		e.Type = api.ErrorCode()
	}
	var remote interface{ ServiceRequestID() string }
	e.Remote = errors.As(err, &remote) && remote.ServiceRequestID() != ""
	if len(e.Message) > maxMessage {
		e.Message = e.Message[:maxMessage] + "..."
	}
	return e
}

// header is a parsed X-Amzn-Trace-Id header.
type header struct {
	root, parent string
	extra        []string
}

// parseHeader reads "Root=1-...;Parent=...;Sampled=1[;Lineage=...]" and
// reports whether it names a sampled trace with a parent to attach to.
func parseHeader(s string) (header, bool) {
	var h header
	sampled := false
	for _, field := range strings.Split(s, ";") {
		key, value, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch key {
		case "Root":
			h.root = value
		case "Parent":
			h.parent = value
		case "Sampled":
			sampled = value == "1"
		case "", "Self":
		default:
			h.extra = append(h.extra, key+"="+value)
		}
	}
	return h, sampled && validTraceID(h.root) && validID(h.parent)
}

// downstream is the X-Amzn-Trace-Id header for a call made inside s.
func (s *segment) downstream() string {
	fields := append([]string{"Root=" + s.trace.id, "Parent=" + s.doc.ID, "Sampled=1"}, s.trace.extra...)
	return strings.Join(fields, ";")
}

// validTraceID checks the documented form 1-<8 hex digits>-<24 hex digits>.
func validTraceID(id string) bool {
	version, rest, ok := strings.Cut(id, "-")
	if !ok || version != "1" {
		return false
	}
	epoch, unique, ok := strings.Cut(rest, "-")
	return ok && len(epoch) == 8 && isHex(epoch) && len(unique) == 24 && isHex(unique)
}

// validID checks a segment id: 16 hexadecimal digits.
func validID(id string) bool { return len(id) == 16 && isHex(id) }

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand documents so since Go 1.24)
	return hex.EncodeToString(b[:])
}

// epochSeconds is t as X-Ray wants it: seconds since the epoch, to the
// microsecond.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}
