package tracetest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// TriggerSpan is the span Tracetest itself adds for the trigger; it carries
// tracetest.response.status and tracetest.response.body (Tracetest docs, "Test Results").
const TriggerSpan = "Tracetest trigger"

// Rules are the facts about the deployment that the checks compare the definitions with.
type Rules struct {
	// Variables are the keys of the variable set cmd/tracetest-vars generates.
	Variables []string
	// TraceFunctions lists, by test id, the Lambda functions (emitted.json "function") whose
	// spans are in the trace of that test's trigger.
	TraceFunctions map[string][]string
	// TaskStates are the Task state names of the state machine (asl/plagiarism.asl.json):
	// the only names Step Functions gives its state spans.
	TaskStates []string
}

var (
	varRef       = regexp.MustCompile(`\$\{([A-Za-z]+):([^}]*)\}`)
	outputName   = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	selectorBody = regexp.MustCompile(`^span\[(.*)\]$`)
	filterRe     = regexp.MustCompile(`([A-Za-z0-9_.]+)\s*(=|contains)\s*("(?:[^"\\]|\\.)*"|[^\s\]"]+)`)
	assertionRe  = regexp.MustCompile(`^attr:([A-Za-z0-9_.]+)(?:\s*\|\s*json_path\s+'([^']*)')?\s+(=|!=|<=|>=|<|>|contains|not-contains)\s+(.+)$`)
	jsonPathKey  = regexp.MustCompile(`^\$\.([A-Za-z0-9_]+)$`)
	jsonPathPipe = regexp.MustCompile(`^\|\s*json_path\s+'([^']*)'$`)
)

// Check runs every check and returns all problems found, each naming the file and the fix.
func Check(dir string, d Definitions, c Catalog, r Rules) []error {
	var errs []error
	errs = append(errs, checkCatalog(c, r)...)
	ids := map[string]string{}
	for _, file := range sortedKeys(d.Tests) {
		t := d.Tests[file]
		errs = append(errs, checkTest(file, t, c, r)...)
		errs = append(errs, uniqueID(ids, file, t.Spec.ID)...)
	}
	for _, file := range sortedKeys(d.Suites) {
		errs = append(errs, uniqueID(ids, file, d.Suites[file].Spec.ID)...)
	}
	errs = append(errs, checkSuites(dir, d, r)...)
	return errs
}

func uniqueID(seen map[string]string, file, id string) []error {
	if id == "" {
		return nil // reported by the structure checks
	}
	if other, ok := seen[id]; ok {
		return []error{fmt.Errorf("%s: spec.id %q is also the id of %s: ids must be unique on the server", file, id, other)}
	}
	seen[id] = file
	return nil
}

// checkCatalog checks tests/aws-spans.json against itself, emitted.json and the state machine.
func checkCatalog(c Catalog, r Rules) []error {
	var errs []error
	emitted := map[string]bool{}
	for i, s := range c.Emitted {
		if s.Function == "" || s.Name == "" {
			errs = append(errs, fmt.Errorf("emitted.json: span %d needs a function and a name", i))
		}
		emitted[s.Name] = true
	}
	seen := map[string]bool{}
	for _, s := range c.AWS {
		switch {
		case s.Name == "":
			errs = append(errs, fmt.Errorf("aws-spans.json: an entry has no name"))
			continue
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("aws-spans.json: %q is listed twice", s.Name))
		case emitted[s.Name]:
			errs = append(errs, fmt.Errorf("aws-spans.json: %q is also in emitted.json: a name must come from one place", s.Name))
		}
		seen[s.Name] = true
		if s.Type != "http" && s.Type != "general" {
			errs = append(errs, fmt.Errorf("aws-spans.json: %q has type %q, want http or general", s.Name, s.Type))
		}
		if s.Justification == "" || !strings.HasPrefix(s.Source, "https://docs.aws.amazon.com/") {
			errs = append(errs, fmt.Errorf("aws-spans.json: %q needs a justification and an AWS documentation source", s.Name))
		}
		switch s.EmittedBy {
		case "Step Functions":
			if !slices.Contains(r.TaskStates, s.Name) {
				errs = append(errs, fmt.Errorf("aws-spans.json: %q is not a Task state of the state machine (%s)",
					s.Name, list(r.TaskStates)))
			}
		case "API Gateway", "Lambda":
		default:
			errs = append(errs, fmt.Errorf("aws-spans.json: %q has emittedBy %q, want API Gateway, Step Functions or Lambda",
				s.Name, s.EmittedBy))
		}
	}
	return errs
}

// checkTest checks the structure of one Test and every selector and assertion in it.
func checkTest(file string, t Test, c Catalog, r Rules) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(file+": "+format, args...))
	}
	s := t.Spec
	if s.ID == "" || s.Name == "" {
		fail("spec.id and spec.name are required (the id keeps reruns on the same test)")
	}
	functions, ok := r.TraceFunctions[s.ID]
	if !ok {
		fail("no Rules.TraceFunctions entry for test id %q: say which Lambdas run in its trace", s.ID)
	}
	if s.Trigger.Type != "http" || s.Trigger.HTTPRequest == nil {
		fail("trigger must be type http with an httpRequest")
	} else {
		h := s.Trigger.HTTPRequest
		if h.Method != "POST" {
			fail("trigger method %q: both routes of the API take POST", h.Method)
		}
		if !strings.HasPrefix(h.URL, "${var:API_URL}/") {
			fail("trigger url %q must start with ${var:API_URL}/ so it follows the deployment", h.URL)
		}
		jsonHeader := slices.ContainsFunc(h.Headers, func(x Header) bool {
			return strings.EqualFold(x.Key, "Content-Type") && x.Value == "application/json"
		})
		if !jsonHeader {
			fail("trigger needs the header Content-Type: application/json")
		}
		if !json.Valid([]byte(varRef.ReplaceAllString(h.Body, "x"))) {
			fail("trigger body is not JSON: %s", h.Body)
		}
	}
	if len(s.Specs) == 0 {
		fail("no specs: a test without assertions cannot fail")
	}
	for i, sp := range s.Specs {
		where := fmt.Sprintf("specs[%d] %q", i, sp.Name)
		if sp.Name == "" {
			fail("%s: every spec needs a name (it is what the run report shows)", where)
		}
		if len(sp.Assertions) == 0 {
			fail("%s: no assertions", where)
		}
		name, err := checkSelector(sp.Selector, functions, c)
		if err != nil {
			fail("%s: %v", where, err)
			continue
		}
		for _, a := range sp.Assertions {
			if err := checkAssertion(a, name, functions, c); err != nil {
				fail("%s: assertion %q: %v", where, a, err)
			}
		}
	}
	for i, o := range s.Outputs {
		where := fmt.Sprintf("outputs[%d] %q", i, o.Name)
		if !outputName.MatchString(o.Name) {
			fail("%s: output names are UPPER_SNAKE_CASE variables", where)
		}
		name, err := checkSelector(o.Selector, functions, c)
		if err != nil {
			fail("%s: %v", where, err)
			continue
		}
		if err := checkValue(o.Value, name, functions, c); err != nil {
			fail("%s: value %q: %v", where, o.Value, err)
		}
	}
	return errs
}

// checkSelector checks a single-span selector and returns the span name it selects.
func checkSelector(sel string, functions []string, c Catalog) (string, error) {
	m := selectorBody.FindStringSubmatch(strings.Join(strings.Fields(sel), " "))
	if m == nil {
		return "", fmt.Errorf("selector %q: want span[...] selecting one kind of span", sel)
	}
	filters := map[string]string{}
	for _, f := range filterRe.FindAllStringSubmatch(m[1], -1) {
		if f[2] != "=" {
			return "", fmt.Errorf("selector %q: use = filters, not %s", sel, f[2])
		}
		if _, dup := filters[f[1]]; dup {
			return "", fmt.Errorf("selector %q: %s filtered twice", sel, f[1])
		}
		filters[f[1]] = strings.Trim(f[3], `"`)
	}
	if rest := strings.TrimSpace(filterRe.ReplaceAllString(m[1], "")); rest != "" {
		return "", fmt.Errorf("selector %q: cannot read %q", sel, rest)
	}
	name, ok := filters["name"]
	if !ok {
		return "", fmt.Errorf("selector %q: filter on name, so the selector means one span of the trace", sel)
	}
	wantType, err := spanType(name, functions, c)
	if err != nil {
		return "", fmt.Errorf("selector %q: %w", sel, err)
	}
	if got := filters["tracetest.span.type"]; got != wantType {
		return "", fmt.Errorf("selector %q: span %q has tracetest.span.type %q, not %q", sel, name, wantType, got)
	}
	for key, v := range filters {
		switch key {
		case "name", "tracetest.span.type":
		case "aws.operation":
			if err := checkOperation(name, v, functions, c); err != nil {
				return "", fmt.Errorf("selector %q: %w", sel, err)
			}
		case "http.method":
			if wantType != "http" {
				return "", fmt.Errorf("selector %q: span %q has no http attributes", sel, name)
			}
		default:
			return "", fmt.Errorf("selector %q: filter %s is not an attribute this checker knows the span has", sel, key)
		}
	}
	return name, nil
}

// spanType returns the tracetest.span.type of the named span, or an error when the name is
// in neither catalog or is not emitted by a Lambda of this test's trace.
func spanType(name string, functions []string, c Catalog) (string, error) {
	if name == TriggerSpan {
		return "general", nil
	}
	for _, s := range c.AWS {
		if s.Name == name {
			return s.Type, nil
		}
	}
	var from []string
	for _, s := range c.Emitted {
		if s.Name != name {
			continue
		}
		from = append(from, s.Function)
		if slices.Contains(functions, s.Function) {
			for k := range s.Attributes {
				if strings.HasPrefix(k, "http.") {
					return "http", nil
				}
			}
			return "general", nil
		}
	}
	if len(from) > 0 {
		return "", fmt.Errorf("span %q is emitted by %s, none of which runs in this trace (%s)", name, list(from), list(functions))
	}
	return "", fmt.Errorf("unknown span name %q: not in tests/spans/emitted.json nor tests/aws-spans.json (known: %s)",
		name, list(c.names()))
}

// checkOperation checks that a span of this name with this aws.operation is emitted by a
// Lambda of the trace.
func checkOperation(name, op string, functions []string, c Catalog) error {
	var ops []string
	for _, s := range c.Emitted {
		if s.Name == name && slices.Contains(functions, s.Function) && s.Attributes["aws.operation"] != "" {
			ops = append(ops, s.Function+":"+s.Attributes["aws.operation"])
			if s.Attributes["aws.operation"] == op {
				return nil
			}
		}
	}
	return fmt.Errorf("no %s span with aws.operation %q in this trace per emitted.json (emitted: %s)", name, op, list(ops))
}

// emittedFor returns the emitted spans of this name from the trace's functions.
func emittedFor(name string, functions []string, c Catalog) []EmittedSpan {
	var out []EmittedSpan
	for _, s := range c.Emitted {
		if s.Name == name && slices.Contains(functions, s.Function) {
			out = append(out, s)
		}
	}
	return out
}

// checkAssertion checks one `attr:... <op> <value>` assertion against the selected span.
func checkAssertion(a, name string, functions []string, c Catalog) error {
	m := assertionRe.FindStringSubmatch(strings.TrimSpace(a))
	if m == nil {
		return fmt.Errorf("want attr:<attribute> [| json_path '$.Key'] <op> <value>")
	}
	attr, path, op, value := m[1], m[2], m[3], strings.Trim(strings.TrimSpace(m[4]), `"`)
	if attr == "aws.operation" {
		if op != "=" {
			return fmt.Errorf("compare aws.operation with =")
		}
		return checkOperation(name, value, functions, c)
	}
	if err := checkAttribute(attr, path, name, functions, c); err != nil {
		return err
	}
	if ns, ok := strings.CutPrefix(attr, "aws.xray.metadata."); ok && op == "contains" && path == "" {
		if !hasMetadataKey(name, ns, value, functions, c) {
			return fmt.Errorf("span %q records no metadata key %q in namespace %q per emitted.json", name, value, ns)
		}
	}
	return nil
}

// checkValue checks an output value expression, `attr:<attribute> [| json_path '$.Key']`.
func checkValue(v, name string, functions []string, c Catalog) error {
	if !strings.HasPrefix(v, "attr:") {
		return fmt.Errorf("want attr:<attribute>")
	}
	attr, rest, _ := strings.Cut(strings.TrimPrefix(v, "attr:"), " ")
	path := ""
	if rest = strings.TrimSpace(rest); rest != "" {
		m := jsonPathPipe.FindStringSubmatch(rest)
		if m == nil {
			return fmt.Errorf("cannot read filter %q", rest)
		}
		path = m[1]
	}
	return checkAttribute(attr, path, name, functions, c)
}

// checkAttribute checks that the selected span has the attribute (and the JSON key a
// json_path filter reads from it).
func checkAttribute(attr, path, name string, functions []string, c Catalog) error {
	switch {
	case attr == "tracetest.selected_spans.count" || attr == "tracetest.span.duration":
		return nil
	case strings.HasPrefix(attr, "tracetest.response."):
		if name != TriggerSpan {
			return fmt.Errorf("%s exists only on the %q span", attr, TriggerSpan)
		}
		return nil
	case strings.HasPrefix(attr, "aws.xray.metadata."):
		ns := strings.TrimPrefix(attr, "aws.xray.metadata.")
		spans := emittedFor(name, functions, c)
		found := false
		for _, s := range spans {
			_, ok := s.MetadataKeys[ns]
			found = found || ok
		}
		if !found {
			return fmt.Errorf("span %q has no metadata namespace %q per emitted.json", name, ns)
		}
		if path == "" {
			return nil
		}
		k := jsonPathKey.FindStringSubmatch(path)
		if k == nil {
			return fmt.Errorf("json_path %q: read one top-level key, $.Key", path)
		}
		if !hasMetadataKey(name, ns, k[1], functions, c) {
			return fmt.Errorf("span %q records no metadata key %q in namespace %q per emitted.json", name, k[1], ns)
		}
		return nil
	}
	for _, s := range emittedFor(name, functions, c) {
		if _, ok := s.Attributes[attr]; ok {
			return nil
		}
	}
	return fmt.Errorf("span %q has no attribute %s per emitted.json", name, attr)
}

func hasMetadataKey(name, ns, key string, functions []string, c Catalog) bool {
	for _, s := range emittedFor(name, functions, c) {
		if slices.Contains(s.MetadataKeys[ns], key) {
			return true
		}
	}
	return false
}

// checkSuites checks that suites reference existing tests, that every test is in a suite,
// and that every variable a step uses is defined by the variable set or an earlier step.
func checkSuites(dir string, d Definitions, r Rules) []error {
	var errs []error
	if len(d.Suites) == 0 {
		return []error{fmt.Errorf("%s: no TestSuite: the incident and exam tests only work chained", dir)}
	}
	inSuite := map[string]bool{}
	for _, file := range sortedKeys(d.Suites) {
		s := d.Suites[file]
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(file+": "+format, args...))
		}
		if s.Spec.ID == "" || s.Spec.Name == "" {
			fail("spec.id and spec.name are required")
		}
		if len(s.Spec.Steps) == 0 {
			fail("no steps")
		}
		defined := slices.Clone(r.Variables)
		for i, step := range s.Spec.Steps {
			testFile, ok := resolveStep(step, d)
			if !ok {
				fail("steps[%d] %q: not a test here; write ./<file>.yaml (the CLI treats anything not starting "+
					"with ./, ../ or / as a test id) or a test's spec.id", i, step)
				continue
			}
			inSuite[testFile] = true
			for _, v := range usedVariables(d.Tests[testFile]) {
				if v.kind != "var" {
					fail("steps[%d] %s uses ${%s:%s}: write ${var:%s} (variable sets replaced environments)",
						i, testFile, v.kind, v.name, v.name)
				} else if !slices.Contains(defined, v.name) {
					fail("steps[%d] %s uses ${var:%s}, which neither the variable set of cmd/tracetest-vars nor an "+
						"earlier step defines (defined here: %s)", i, testFile, v.name, list(defined))
				}
			}
			for _, o := range d.Tests[testFile].Spec.Outputs {
				defined = append(defined, o.Name)
			}
		}
	}
	for _, file := range sortedKeys(d.Tests) {
		if !inSuite[file] {
			errs = append(errs, fmt.Errorf("%s: not a step of any TestSuite, so make tracetest never runs it", file))
		}
	}
	return errs
}

// resolveStep finds the test file a suite step names: a path relative to the suite file
// (the CLI's rule: it starts with ./, ../ or /) or a spec.id.
func resolveStep(step string, d Definitions) (string, bool) {
	if strings.HasPrefix(step, "./") || strings.HasPrefix(step, "../") || strings.HasPrefix(step, "/") {
		clean := filepath.Clean(step)
		if filepath.Dir(clean) != "." {
			return "", false
		}
		_, ok := d.Tests[clean]
		return clean, ok
	}
	for file, t := range d.Tests {
		if t.Spec.ID == step {
			return file, true
		}
	}
	return "", false
}

type variable struct{ kind, name string }

// usedVariables returns every ${kind:name} in a test, in order of first use.
func usedVariables(t Test) []variable {
	var texts []string
	if h := t.Spec.Trigger.HTTPRequest; h != nil {
		texts = append(texts, h.URL, h.Body)
		for _, x := range h.Headers {
			texts = append(texts, x.Key, x.Value)
		}
	}
	for _, s := range t.Spec.Specs {
		texts = append(texts, s.Selector)
		texts = append(texts, s.Assertions...)
	}
	for _, o := range t.Spec.Outputs {
		texts = append(texts, o.Selector, o.Value)
	}
	var out []variable
	seen := map[variable]bool{}
	for _, text := range texts {
		for _, m := range varRef.FindAllStringSubmatch(text, -1) {
			v := variable{m[1], m[2]}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
