package tracing_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// baselinePath holds the documents the X-Ray SDK for Go v1.8.5 sent for the
// same workflow, before this package replaced it. It is never rewritten.
var baselinePath = filepath.Join(moduleRoot, "tests", "spans", "segments-xray-sdk-go-v1.8.5.json")

// explanation says why one difference between the SDK's documents and ours is
// harmless. Scope "attribute" is what Tracetest v1.7.1 reads (span attributes,
// and "parent", the parent span's name); scope "document" is the raw document
// field, read or not.
type explanation struct {
	Scope, Span, Field, Why string
}

// explained lists every difference TestSegmentsAgainstBaseline accepts. Each
// must occur: an entry nothing needs any more fails the test, so the list is
// the exact record of what changed.
var explained = []explanation{
	{"attribute", "DynamoDB", "aws.table_name",
		"new attribute: the aws block now names the table, as the X-Ray documentation shows for DynamoDB; no selector of tests/*.yaml reads it and a new attribute cannot unmatch a selector"},
	{"attribute", "SFN", "aws.xray.retries",
		"new attribute, only on a call the SDK retried (the retry count, from the SDK's attempt results); no selector reads it"},
	{"attribute", "SESv2", "parent",
		"the SDK wrote the function segment's id as parent_id of every embedded subsegment, so Tracetest hung SESv2 under the function; embedded now without parent_id, it hangs under NotificationData, which encloses it; no selector reads parents"},

	{"document", "*", "Dummy",
		"an exported field of the SDK's segment type without a JSON tag (always false); not a segment document field; Tracetest ignores unknown fields"},
	{"document", "DynamoDB", "aws.table_name", "see the attribute"},
	{"document", "SFN", "aws.retries", "see the attribute"},
	{"document", "SESv2", "parent_id",
		"an embedded subsegment needs no parent_id (the X-Ray segment document reference requires it only for subsegments sent on their own); see the attribute"},
	{"document", "SESv2", "trace_id",
		"an embedded subsegment needs no trace_id (same reference); Tracetest requires trace_id only on the top document"},
	{"document", "SFN", "fault",
		"a 4xx answer is a client error: error=true (kept) and no longer also fault=true, which the SDK added for every Go error; Tracetest reads neither flag"},
	{"document", "SFN", "cause.working_directory", "the Lambda task's working directory (/var/task): no diagnostic value; Tracetest does not read cause"},
	{"document", "SFN", "cause.exceptions[0].stack",
		"the SDK recorded the stack of its own middleware (where the error was seen, not where it happened); Tracetest does not read cause"},
	{"document", "SFN", "cause.exceptions[0].type",
		"the service's error code (TaskTimedOut, InternalFailure) instead of the Go type of the SDK's error wrapper (http.ResponseError, retry.MaxAttemptsError); Tracetest does not read cause"},
	{"document", "SFN", "cause.exceptions[0].message",
		"the error reads \"Code: message\" whether or not the SDK had a type for the code (it wrote \"api error InternalFailure: ...\" for codes it had none for); awsapi has no per-code types; Tracetest does not read cause"},
	{"document", "SFN", "cause.exceptions[0].remote",
		"true when the service answered the error (it has a request id); the SDK checked only aws-sdk-go v1 errors, so never set it for v2 calls; Tracetest does not read cause"},
}

// difference is one way a span differs between two captures.
type difference struct {
	Invocation, Scope, Span, Field, Old, New string
}

func (d difference) String() string {
	return fmt.Sprintf("%s: %s %s %s: %s -> %s", d.Invocation, d.Scope, d.Span, d.Field, d.Old, d.New)
}

// TestSegmentsAgainstBaseline compares what this package sends (the record
// TestSegments keeps equal to what the binaries emit) with what the X-Ray SDK
// sent, as Tracetest reads both: every span the SDK produced is still there,
// with the same name, type, parent and attributes, except the differences
// listed in explained, each with its reason.
func TestSegmentsAgainstBaseline(t *testing.T) {
	baseline, current := readCapture(t, baselinePath), readCapture(t, segmentsPath)
	diffs, err := compare(baseline, current)
	if err != nil {
		t.Fatal(err)
	}
	unexplained, unused := explain(diffs)
	for _, d := range unexplained {
		t.Errorf("unexplained difference from the X-Ray SDK's documents: %s", d)
	}
	for _, e := range unused {
		t.Errorf("explained difference no longer occurs (remove it): %s %s %s", e.Scope, e.Span, e.Field)
	}
	t.Logf("differences from the X-Ray SDK v1.8.5 as Tracetest reads them (attribute) and in the documents (document):%s", summary(diffs))
}

// summary lists the differences once per scope, span and field, with their
// values, how many spans had them, and why they are harmless.
func summary(diffs []difference) string {
	type key struct{ scope, span, field, old, new string }
	counts := map[key]int{}
	var order []key
	for _, d := range diffs {
		k := key{d.Scope, d.Span, d.Field, d.Old, d.New}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].scope < order[j].scope })
	var b strings.Builder
	for _, k := range order {
		why := "UNEXPLAINED"
		for _, e := range explained {
			if e.Scope == k.scope && (e.Span == "*" || e.Span == k.span) && e.Field == k.field {
				why = e.Why
			}
		}
		fmt.Fprintf(&b, "\n  %s %s %s: %s -> %s (%d spans): %s", k.scope, k.span, k.field, k.old, k.new, counts[k], why)
	}
	return b.String()
}

// TestCompareCatchesWhatTracetestReads changes, one at a time, what the
// trace-based tests rely on and requires an unexplained difference each time:
// the comparison cannot pass whatever it is given.
func TestCompareCatchesWhatTracetestReads(t *testing.T) {
	baseline := readCapture(t, baselinePath)
	if diffs, err := compare(baseline, baseline); err != nil || len(diffs) != 0 {
		t.Fatalf("baseline against itself: %v %v", diffs, err)
	}
	find := func(c Capture, name string) map[string]any {
		for _, inv := range c.Invocations {
			for _, s := range inv.Segments {
				if m := s.(map[string]any); m["name"] == name {
					return m
				}
			}
		}
		t.Fatalf("no %s segment in the baseline", name)
		return nil
	}
	for _, tt := range []struct {
		name   string
		mutate func(Capture)
	}{
		{"a span renamed", func(c Capture) { find(c, "DynamoDB")["name"] = "Dynamodb" }},
		{"aws.operation changed", func(c Capture) { find(c, "SFN")["aws"].(map[string]any)["operation"] = "SendTaskSuccessV2" }},
		{"aws.operation missing", func(c Capture) { delete(find(c, "DynamoDB")["aws"].(map[string]any), "operation") }},
		{"metadata in another namespace", func(c Capture) {
			m := find(c, "NotificationData")["metadata"].(map[string]any)
			m["notification"] = m["default"]
			delete(m, "default")
		}},
		{"a metadata key renamed", func(c Capture) {
			m := find(c, "NotificationData")["metadata"].(map[string]any)["default"].(map[string]any)
			m["ExamID"] = m["ExamId"]
			delete(m, "ExamId")
		}},
		{"an http request block (type http)", func(c Capture) {
			find(c, "DynamoDB")["http"] = map[string]any{"request": map[string]any{"method": "POST"}}
		}},
		{"a span missing", func(c Capture) {
			inv := &c.Invocations[2]
			inv.Segments = inv.Segments[1:]
		}},
		{"a span added", func(c Capture) {
			inv := &c.Invocations[0]
			inv.Segments = append(inv.Segments, map[string]any{"name": "Extra", "id": "<id:9>", "start_time": "<time>", "trace_id": "<trace>"})
		}},
		{"the namespace Tracetest rejects", func(c Capture) { find(c, "SFN")["namespace"] = "awsv2" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mutated := readCapture(t, baselinePath)
			tt.mutate(mutated)
			diffs, err := compare(baseline, mutated)
			if err != nil {
				return // Tracetest cannot read it at all: caught
			}
			unexplained, _ := explain(diffs)
			if len(unexplained) == 0 {
				t.Errorf("no unexplained difference; differences: %v", diffs)
			}
		})
	}
}

func readCapture(t *testing.T, path string) Capture {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c Capture
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// spanView is one span with what a comparison looks at.
type spanView struct {
	key    string // name and aws.operation: how spans are paired
	name   string
	parent string // the parent span's name, or <lambda> for the function's segment
	attrs  map[string]string
	fields map[string]string // the document's fields, flattened, without subsegments
}

// compare pairs the invocations (by case) and, in each, the spans (by name,
// operation and order) of old and cur, and lists every difference.
func compare(old, cur Capture) ([]difference, error) {
	newByCase := map[string]Invocation{}
	for _, inv := range cur.Invocations {
		newByCase[inv.Function+": "+inv.Case] = inv
	}
	var diffs []difference
	for _, o := range old.Invocations {
		name := o.Function + ": " + o.Case
		n, ok := newByCase[name]
		if !ok {
			diffs = append(diffs, difference{name, "invocation", "", "", "present", "missing"})
			continue
		}
		oldSpans, err := views(o)
		if err != nil {
			return nil, fmt.Errorf("%s, old: %w", name, err)
		}
		curSpans, err := views(n)
		if err != nil {
			return nil, fmt.Errorf("%s, new: %w", name, err)
		}
		diffs = append(diffs, compareSpans(name, oldSpans, curSpans)...)
	}
	return diffs, nil
}

func compareSpans(invocation string, old, cur []spanView) []difference {
	var diffs []difference
	pending := map[string][]spanView{}
	for _, s := range cur {
		pending[s.key] = append(pending[s.key], s)
	}
	for _, o := range old {
		if len(pending[o.key]) == 0 {
			diffs = append(diffs, difference{invocation, "span", o.name, o.key, "present", "missing"})
			continue
		}
		n := pending[o.key][0]
		pending[o.key] = pending[o.key][1:]
		if o.parent != n.parent {
			diffs = append(diffs, difference{invocation, "attribute", o.name, "parent", o.parent, n.parent})
		}
		diffs = append(diffs, compareMaps(invocation, "attribute", o.name, o.attrs, n.attrs)...)
		diffs = append(diffs, compareMaps(invocation, "document", o.name, o.fields, n.fields)...)
	}
	for _, key := range sortedKeys(pending) {
		for _, n := range pending[key] {
			diffs = append(diffs, difference{invocation, "span", n.name, key, "missing", "present"})
		}
	}
	return diffs
}

func compareMaps(invocation, scope, span string, old, cur map[string]string) []difference {
	var diffs []difference
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range cur {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		o, inOld := old[k]
		n, inNew := cur[k]
		if !inOld {
			o = "(none)"
		}
		if !inNew {
			n = "(none)"
		}
		if o != n {
			diffs = append(diffs, difference{invocation, scope, span, k, o, n})
		}
	}
	return diffs
}

// explain splits diffs into those explained has no entry for, and returns
// the entries no difference used.
func explain(diffs []difference) (unexplained []difference, unused []explanation) {
	used := make([]bool, len(explained))
	for _, d := range diffs {
		found := false
		for i, e := range explained {
			if e.Scope == d.Scope && (e.Span == "*" || e.Span == d.Span) && e.Field == d.Field {
				used[i], found = true, true
			}
		}
		if !found {
			unexplained = append(unexplained, d)
		}
	}
	for i, e := range explained {
		if !used[i] {
			unused = append(unused, e)
		}
	}
	return unexplained, unused
}

// views reads an invocation's documents as Tracetest does.
func views(inv Invocation) ([]spanView, error) {
	var out []spanView
	names := map[string]string{"<lambda>": "<lambda>"}
	for _, seg := range inv.Segments {
		doc, err := json.Marshal(revive(seg))
		if err != nil {
			return nil, err
		}
		spans, err := readSegment(doc, readOptions{normalized: true})
		if err != nil {
			return nil, fmt.Errorf("Tracetest cannot read %s: %w", doc, err)
		}
		fields := flattenDocuments(seg.(map[string]any))
		if len(fields) != len(spans) {
			return nil, fmt.Errorf("%d spans from %d documents", len(spans), len(fields))
		}
		for i, s := range spans {
			names[s.ID] = s.Name
			out = append(out, spanView{
				key: s.Name + " " + s.Attributes["aws.operation"], name: s.Name,
				parent: s.Parent, attrs: s.Attributes, fields: fields[i],
			})
		}
	}
	for i := range out {
		if name, ok := names[out[i].parent]; ok {
			out[i].parent = name
		}
	}
	return out, nil
}

// flattenDocuments returns, for a document and its subsegments in the order
// Tracetest reads them, each one's fields as path -> JSON value.
func flattenDocuments(doc map[string]any) []map[string]string {
	fields := map[string]string{}
	var subs []any
	for k, v := range doc {
		if k == "subsegments" {
			subs, _ = v.([]any)
			continue
		}
		flatten(k, v, fields)
	}
	out := []map[string]string{fields}
	for _, s := range subs {
		out = append(out, flattenDocuments(s.(map[string]any))...)
	}
	return out
}

func flatten(path string, v any, into map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			flatten(path+"."+k, x, into)
		}
	case []any:
		for i, x := range v {
			flatten(fmt.Sprintf("%s[%d]", path, i), x, into)
		}
	default:
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		into[path] = strings.TrimSpace(b.String())
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
