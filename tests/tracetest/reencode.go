package tracetest

import (
	"fmt"
	"strconv"
	"strings"
)

// The Tracetest CLI v1.7.1 does not send a test file as written: it decodes it and encodes
// it again with github.com/goccy/go-yaml v1.11.0, and the server decodes that with the same
// library. The encoder writes a string that must be quoted (one starting with '{', holding
// ": " or '#', ...) as a double-quoted scalar, with strconv.Quote's escapes. The decoder's
// scanner (scanner.scanDoubleQuote) skips the second character of each escape sequence
// without advancing its position, so after the closing quote it stands N characters short
// of it, N being the number of escape sequences. If the character there is ':', it takes
// the scalar for a mapping key and scans its last N characters again as YAML; the parser
// then loses the rest of the mapping without an error. A JSON body like
// {"IncidentId": "${var:INCIDENT_ID}", ..., "TaskToken": "${var:TASK_TOKEN}"} has 16
// escapes, and 16 characters from its end is the ':' of ${var:TASK_TOKEN}: the server
// stored tests/exam.yaml with no specs. ReencodingHazards finds such values before the
// server does; the read-back of the stored tests (CompareStored) catches whatever else.

// ReencodingHazards lists the string values of t that the CLI's re-encoding would make the
// server misread.
func ReencodingHazards(t Test) []string {
	var out []string
	check := func(field, v string) {
		if n, bad := misscanned(v); bad {
			out = append(out, fmt.Sprintf("%s: the CLI re-encodes %.40q... as a double-quoted YAML string with %d escape sequences, "+
				"and Tracetest v1.7.1's YAML decoder (goccy/go-yaml v1.11.0) then re-reads its last %d characters, which start with ':', "+
				"and silently drops the keys that follow (specs, outputs): reorder or reword the value so that it does not", field, v, n, n))
		}
	}
	s := t.Spec
	check("spec.name", s.Name)
	check("spec.description", s.Description)
	if r := s.Trigger.HTTPRequest; r != nil {
		check("spec.trigger.httpRequest.url", r.URL)
		check("spec.trigger.httpRequest.method", r.Method)
		check("spec.trigger.httpRequest.body", r.Body)
		for i, h := range r.Headers {
			check(fmt.Sprintf("spec.trigger.httpRequest.headers[%d].key", i), h.Key)
			check(fmt.Sprintf("spec.trigger.httpRequest.headers[%d].value", i), h.Value)
		}
	}
	for i, sp := range s.Specs {
		check(fmt.Sprintf("spec.specs[%d].name", i), sp.Name)
		check(fmt.Sprintf("spec.specs[%d].selector", i), sp.Selector)
		for j, a := range sp.Assertions {
			check(fmt.Sprintf("spec.specs[%d].assertions[%d]", i, j), a)
		}
	}
	for i, o := range s.Outputs {
		check(fmt.Sprintf("spec.outputs[%d].name", i), o.Name)
		check(fmt.Sprintf("spec.outputs[%d].selector", i), o.Selector)
		check(fmt.Sprintf("spec.outputs[%d].value", i), o.Value)
	}
	return out
}

// misscanned reports whether goccy/go-yaml v1.11.0 misreads v after encoding it, and the
// number of escape sequences in its encoded form.
func misscanned(v string) (int, bool) {
	if !needsQuotes(v) {
		return 0, false
	}
	q := strconv.Quote(v)
	escapes := 0
	for i := 1; i < len(q)-1; i++ {
		if q[i] == '\\' {
			escapes++
			i++
		}
	}
	if escapes == 0 {
		return 0, false
	}
	rest := strings.TrimLeft(q[len(q)-escapes:], " \t")
	return escapes, strings.HasPrefix(rest, ":")
}

// needsQuotes is goccy/go-yaml v1.11.0's token.IsNeedQuoted for the values that can hold
// escapes: those its encoder writes quoted rather than plain.
func needsQuotes(v string) bool {
	if v == "" {
		return false
	}
	if strings.ContainsRune("*&[{}],!|>%'\"@", rune(v[0])) || strings.HasSuffix(v, ":") {
		return true
	}
	return strings.ContainsAny(v, "#\\") || strings.Contains(v, ": ")
}
