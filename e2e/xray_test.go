package e2e

import (
	"bytes"
	"crypto/rand"
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

// traceStore keeps every segment document sent for a trace, the latest version of each id
// (X-Ray replaces an in-progress document by the completed one with the same id).
type traceStore struct {
	mu     sync.Mutex
	traces map[string]map[string]json.RawMessage // trace id -> document id -> document
	first  map[string]time.Time                  // trace id -> when its first document arrived
	daemon map[string]int                        // trace id -> documents that came from the functions
	notes  func(format string, args ...any)
}

func newTraceStore(notes func(string, ...any)) *traceStore {
	return &traceStore{traces: map[string]map[string]json.RawMessage{}, first: map[string]time.Time{}, daemon: map[string]int{}, notes: notes}
}

// fromDaemon reports how many documents of the trace the functions sent.
func (s *traceStore) fromDaemon(traceID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.daemon[traceID]
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
		docs = map[string]json.RawMessage{}
		s.traces[head.TraceID] = docs
		s.first[head.TraceID] = time.Now()
	}
	docs[head.ID] = append(json.RawMessage(nil), doc...)
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

// compiled returns the trace as BatchGetTraces does: one document per segment, with the
// subsegments that were sent separately (type "subsegment", parent_id) moved into the
// document of their parent, as X-Ray compiles them. A subsegment whose parent never
// arrived stays a document of its own. ok is false when nothing was sent for the trace.
func (s *traceStore) compiled(traceID string) (docs []json.RawMessage, duration float64, ok bool) {
	s.mu.Lock()
	raw := s.traces[traceID]
	var ids []string
	for id := range raw {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	nodes := make(map[string]map[string]any, len(raw))
	for _, id := range ids {
		var m map[string]any
		if json.Unmarshal(raw[id], &m) == nil {
			nodes[id] = m
		}
	}
	s.mu.Unlock()
	if len(nodes) == 0 {
		return nil, 0, false
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

	var start, end float64
	for _, id := range ids {
		if !top[id] {
			continue
		}
		m := nodes[id]
		b, err := json.Marshal(m)
		if err != nil {
			continue
		}
		docs = append(docs, b)
		if t, ok := m["start_time"].(float64); ok && (start == 0 || t < start) {
			start = t
		}
		if t, ok := m["end_time"].(float64); ok && t > end {
			end = t
		}
	}
	if end > start {
		duration = end - start
	}
	return docs, duration, true
}

// traceIDs lists the traces the store holds, oldest first.
func (s *traceStore) traceIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.traces {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return s.first[ids[i]].Before(s.first[ids[j]]) })
	return ids
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
