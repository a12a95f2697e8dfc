package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// This file is the trace half of the harness: X-Ray trace headers and segment ids, the X-Ray
// daemon the Lambdas send their segment documents to (UDP, as in Lambda), and the store the
// X-Ray API stand-in (xrayapi_test.go) reads. The store holds what was sent: documents from
// the functions' own code, and the segments the harness writes for what AWS itself records
// (awsspans_test.go). It compiles them as X-Ray does and knows nothing about the tests.

// traceHeader is an X-Amzn-Trace-Id value: Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Parent=...;Sampled=1.
type traceHeader struct {
	root, parent string
	sampled      bool
}

// parseTraceHeader reads an X-Amzn-Trace-Id header; ok is false when it has no valid Root.
func parseTraceHeader(s string) (traceHeader, bool) {
	var h traceHeader
	for _, part := range strings.Split(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			h.root = v
		case "Parent":
			h.parent = v
		case "Sampled":
			h.sampled = v == "1"
		}
	}
	return h, validTraceID(h.root)
}

func (h traceHeader) String() string {
	s := "Root=" + h.root
	if h.parent != "" {
		s += ";Parent=" + h.parent
	}
	if h.sampled {
		return s + ";Sampled=1"
	}
	return s + ";Sampled=0"
}

// child is the header a downstream call made from segment id carries.
func (h traceHeader) child(id string) traceHeader {
	return traceHeader{root: h.root, parent: id, sampled: h.sampled}
}

// newTraceID returns an X-Ray trace id: 1-<epoch seconds, 8 hex>-<96 random bits>.
func newTraceID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return fmt.Sprintf("1-%08x-%s", time.Now().Unix(), hex.EncodeToString(b))
}

func validTraceID(s string) bool {
	parts := strings.Split(s, "-")
	return len(parts) == 3 && parts[0] == "1" && len(parts[1]) == 8 && len(parts[2]) == 24 && isHex(parts[1]+parts[2])
}

// newSegmentID returns a 64-bit segment id in 16 hex digits.
func newSegmentID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && s != ""
}

// epoch is an X-Ray timestamp: seconds since the epoch, microsecond precision.
func epoch(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

// traceStore keeps every segment document sent for a trace, every version of each id in
// the order received (X-Ray replaces an in-progress document by the completed one with the
// same id), with when it came and from whom.
type traceStore struct {
	mu     sync.Mutex
	traces map[string]map[string][]received // trace id -> document id -> its versions
	daemon map[string]int                   // trace id -> documents that came from the functions
	notes  func(format string, args ...any)
}

// received is one version of a document as the store got it.
type received struct {
	doc        json.RawMessage
	at         time.Time
	fromDaemon bool // sent by the functions' code, not written by the harness for AWS
}

func newTraceStore(notes func(string, ...any)) *traceStore {
	return &traceStore{traces: map[string]map[string][]received{}, daemon: map[string]int{}, notes: notes}
}

// fromDaemon reports how many documents of the trace the functions sent.
func (s *traceStore) fromDaemon(traceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.daemon[traceID]
}

// arrivals reports when the trace's first document arrived and when each document the
// functions sent did, oldest first.
func (s *traceStore) arrivals(traceID string) (first time.Time, fromDaemon []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, versions := range s.traces[traceID] {
		for _, v := range versions {
			if first.IsZero() || v.at.Before(first) {
				first = v.at
			}
			if v.fromDaemon {
				fromDaemon = append(fromDaemon, v.at)
			}
		}
	}
	sort.Slice(fromDaemon, func(i, j int) bool { return fromDaemon[i].Before(fromDaemon[j]) })
	return first, fromDaemon
}

// docHead is what the store needs of a segment document.
type docHead struct {
	ID       string `json:"id"`
	TraceID  string `json:"trace_id"`
	ParentID string `json:"parent_id"`
	Type     string `json:"type"`
	Name     string `json:"name"`
}

// put stores one segment document, checking what X-Ray's PutTraceSegments checks;
// fromDaemon tells the functions' documents from the harness's.
func (s *traceStore) put(doc []byte, fromDaemon bool) error {
	var head docHead
	if err := json.Unmarshal(doc, &head); err != nil {
		return fmt.Errorf("segment document is not JSON: %w", err)
	}
	switch {
	case len(head.ID) != 16 || !isHex(head.ID):
		return fmt.Errorf("segment %q: id %q is not 16 hex digits", head.Name, head.ID)
	case !validTraceID(head.TraceID):
		return fmt.Errorf("segment %q: trace_id %q is not an X-Ray trace id", head.Name, head.TraceID)
	case head.Name == "":
		return fmt.Errorf("segment %s has no name", head.ID)
	case head.Type == "subsegment" && head.ParentID == "":
		return fmt.Errorf("independent subsegment %q (%s) has no parent_id", head.Name, head.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	docs := s.traces[head.TraceID]
	if docs == nil {
		docs = map[string][]received{}
		s.traces[head.TraceID] = docs
	}
	docs[head.ID] = append(docs[head.ID], received{doc: append(json.RawMessage(nil), doc...), at: time.Now(), fromDaemon: fromDaemon})
	if fromDaemon {
		s.daemon[head.TraceID]++
	}
	return nil
}

// putSegment stores a document the harness writes for AWS.
func (s *traceStore) putSegment(seg *segment) {
	b, err := json.Marshal(seg)
	if err == nil {
		err = s.put(b, false)
	}
	if err != nil {
		s.notes("X-Ray: harness segment %s rejected: %v", seg.Name, err)
	}
}

// xrayTrace is a trace as BatchGetTraces returns it.
type xrayTrace struct {
	docs     []json.RawMessage
	duration float64
	spans    int // segments and subsegments in docs: the spans Tracetest makes of them
	inferred int // inferred segments among docs
	heldBack int // documents the functions sent that the lag still holds back
}

// compiled returns the trace as BatchGetTraces does: one document per segment, with the
// subsegments that were sent separately (type "subsegment", parent_id) moved into the
// document of their parent, as X-Ray compiles them, and the segments X-Ray infers for
// downstream calls (inferSegments). A subsegment whose parent never arrived stays a
// document of its own. lag keeps each document the functions sent out of the trace until
// lag after the daemon received it, as if X-Ray's ingestion of them were that slow; the
// segments the harness writes for AWS are not held back (the specs select those too, so
// documents of different senders come apart, as on AWS). ok is false when nothing of the
// trace is visible.
func (s *traceStore) compiled(traceID string, lag time.Duration) (t xrayTrace, ok bool) {
	now := time.Now()
	s.mu.Lock()
	raw := s.traces[traceID]
	var ids []string
	for id := range raw {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	nodes := make(map[string]map[string]any, len(raw))
	for _, id := range ids {
		// The newest version X-Ray has ingested by now.
		versions := raw[id]
		for i := len(versions) - 1; i >= 0; i-- {
			v := versions[i]
			if v.fromDaemon && now.Sub(v.at) < lag {
				t.heldBack++
				continue
			}
			var m map[string]any
			if json.Unmarshal(v.doc, &m) == nil {
				nodes[id] = m
			}
			break
		}
	}
	s.mu.Unlock()
	if len(nodes) == 0 {
		return t, false
	}

	// Index every segment and embedded subsegment by id, then attach independent
	// subsegments to their parents until nothing moves (a parent may itself be one).
	index := map[string]map[string]any{}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		if id, _ := m["id"].(string); id != "" {
			index[id] = m
		}
		subs, _ := m["subsegments"].([]any)
		for _, sub := range subs {
			if sm, ok := sub.(map[string]any); ok {
				walk(sm)
			}
		}
	}
	for _, m := range nodes {
		walk(m)
	}
	top := map[string]bool{}
	for id := range nodes {
		top[id] = true
	}
	for moved := true; moved; {
		moved = false
		for _, id := range ids {
			m := nodes[id]
			if !top[id] || m["type"] != "subsegment" {
				continue
			}
			parent := index[fmt.Sprint(m["parent_id"])]
			if parent == nil || parent["id"] == id {
				continue
			}
			child := map[string]any{}
			for k, v := range m {
				if k != "type" && k != "trace_id" && k != "parent_id" {
					child[k] = v
				}
			}
			subs, _ := parent["subsegments"].([]any)
			parent["subsegments"] = append(subs, child)
			index[id] = child
			delete(top, id)
			moved = true
		}
	}

	var out []map[string]any
	for _, id := range ids {
		if top[id] {
			out = append(out, nodes[id])
		}
	}
	inferred := inferSegments(traceID, out)
	t.inferred = len(inferred)
	out = append(out, inferred...)

	var start, end float64
	for _, m := range out {
		b, err := json.Marshal(m)
		if err != nil {
			continue
		}
		t.docs = append(t.docs, b)
		t.spans += countSpans(m)
		if st, ok := m["start_time"].(float64); ok && (start == 0 || st < start) {
			start = st
		}
		if et, ok := m["end_time"].(float64); ok && et > end {
			end = et
		}
	}
	if end > start {
		t.duration = end - start
	}
	return t, true
}

// countSpans counts a document and every subsegment in it.
func countSpans(m map[string]any) int {
	n := 1
	subs, _ := m["subsegments"].([]any)
	for _, sub := range subs {
		if sm, ok := sub.(map[string]any); ok {
			n += countSpans(sm)
		}
	}
	return n
}

// inferredOrigins are the origins AWS's BatchGetTraces example gives inferred segments, by
// the name of the client subsegment; for other services the origin is not documented and
// left out (Tracetest v1.7.1 does not read it).
var inferredOrigins = map[string]string{"DynamoDB": "AWS::DynamoDB::Table", "SNS": "AWS::SNS"}

// inferSegments returns the segments X-Ray infers for the compiled trace docs: one for each
// completed client subsegment (namespace aws or remote) that no segment of the downstream
// service names as its parent; a downstream service that sends its own segment (Lambda
// under a Lambda invoke, Step Functions under API Gateway's StartExecution) replaces the
// inferred one. The shape is that of the example in AWS's "Getting data from X-Ray"
// (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-gettingdata.html): the
// subsegment's name, times, aws block and http response, parent_id the subsegment's id,
// "inferred": true, an origin, and no namespace. The id is derived from the subsegment's,
// so every read of the trace returns the same segment. See tests/aws-spans.json.
func inferSegments(traceID string, docs []map[string]any) []map[string]any {
	called := map[string]bool{}
	for _, d := range docs {
		if d["type"] != "subsegment" {
			if p, _ := d["parent_id"].(string); p != "" {
				called[p] = true
			}
		}
	}
	var out []map[string]any
	var walk func(m map[string]any, top bool)
	walk = func(m map[string]any, top bool) {
		subs, _ := m["subsegments"].([]any)
		for _, sub := range subs {
			if sm, ok := sub.(map[string]any); ok {
				walk(sm, false)
			}
		}
		if top && m["type"] != "subsegment" {
			return // a segment, not a client subsegment
		}
		id, _ := m["id"].(string)
		name, _ := m["name"].(string)
		ns, _ := m["namespace"].(string)
		startTime, okStart := m["start_time"].(float64)
		endTime, okEnd := m["end_time"].(float64)
		if (ns != "aws" && ns != "remote") || called[id] || m["in_progress"] == true || !okStart || !okEnd {
			return
		}
		sum := sha256.Sum256([]byte("inferred:" + traceID + ":" + id))
		seg := map[string]any{
			"id":         hex.EncodeToString(sum[:8]),
			"name":       name,
			"trace_id":   traceID,
			"parent_id":  id,
			"start_time": startTime,
			"end_time":   endTime,
			"inferred":   true,
		}
		if origin := inferredOrigins[name]; origin != "" {
			seg["origin"] = origin
		}
		if aws, ok := m["aws"].(map[string]any); ok {
			seg["aws"] = aws
		}
		if h, ok := m["http"].(map[string]any); ok && h["response"] != nil {
			seg["http"] = map[string]any{"response": h["response"]}
		}
		out = append(out, seg)
	}
	for _, d := range docs {
		walk(d, true)
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["id"].(string) < out[j]["id"].(string) })
	return out
}

// daemonHeader starts every datagram of the X-Ray daemon protocol.
var daemonHeader = []byte(`{"format":"json","version":1}` + "\n")

// xrayDaemon receives segment documents over UDP as the X-Ray daemon in Lambda does, at the
// address the functions get in AWS_XRAY_DAEMON_ADDRESS.
type xrayDaemon struct {
	conn     net.PacketConn
	store    *traceStore
	received int
	rejected []string
	mu       sync.Mutex
}

func startXRayDaemon(store *traceStore) (*xrayDaemon, error) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("X-Ray daemon: listen on 127.0.0.1 (udp): %w", err)
	}
	d := &xrayDaemon{conn: conn, store: store}
	go d.serve()
	return d, nil
}

func (d *xrayDaemon) addr() string { return d.conn.LocalAddr().String() }

func (d *xrayDaemon) serve() {
	buf := make([]byte, 64<<10) // a segment document is at most 64 kB
	for {
		n, _, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		err = d.handle(buf[:n])
		d.mu.Lock()
		d.received++
		if err != nil {
			d.rejected = append(d.rejected, err.Error())
			d.store.notes("X-Ray daemon: %v", err)
		}
		d.mu.Unlock()
	}
}

// handle reads one datagram: the protocol header line, then one segment document.
func (d *xrayDaemon) handle(packet []byte) error {
	header, doc, ok := bytes.Cut(packet, []byte("\n"))
	if !ok {
		return fmt.Errorf("datagram without the header line: %.80q", packet)
	}
	var h struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(header, &h); err != nil || h.Format != "json" || h.Version != 1 {
		return fmt.Errorf("datagram header %q, want %s", header, bytes.TrimSpace(daemonHeader))
	}
	return d.store.put(doc, true)
}

func (d *xrayDaemon) stop() { d.conn.Close() }
