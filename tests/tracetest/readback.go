package tracetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Client reads a Tracetest server's API.
type Client struct {
	// BaseURL is the server's URL, without /api.
	BaseURL string
	HTTP    *http.Client
}

func (c *Client) get(path string, v any) error {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+"/api"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET /api%s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET /api%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /api%s: %s: %.300s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET /api%s: %w", path, err)
	}
	return nil
}

// SuiteRun is a run of a TestSuite (GET /api/testsuites/{id}/run/{runId}).
type SuiteRun struct {
	ID          int         `json:"id"`
	State       string      `json:"state"`
	Steps       []TestRun   `json:"steps"`
	VariableSet VariableSet `json:"variableSet"`
}

// VariableSet is the set of variables a run resolved its tests with.
type VariableSet struct {
	ID     string `json:"id"`
	Values []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"values"`
}

// TestRun is a run of a Test.
type TestRun struct {
	ID              int          `json:"id"`
	TraceID         string       `json:"traceId"`
	State           string       `json:"state"`
	LastErrorState  string       `json:"lastErrorState"`
	ResolvedTrigger Trigger      `json:"resolvedTrigger"`
	Result          RunResult    `json:"result"`
	Outputs         []RunOutput  `json:"outputs"`
	VariableSet     *VariableSet `json:"variableSet"`
}

// RunResult is what the server evaluated: per spec, per assertion, per selected span.
type RunResult struct {
	AllPassed bool `json:"allPassed"`
	Results   []struct {
		Selector struct {
			Query string `json:"query"`
		} `json:"selector"`
		Results []struct {
			Assertion   string `json:"assertion"`
			AllPassed   bool   `json:"allPassed"`
			SpanResults []struct {
				SpanID        string `json:"spanId"`
				ObservedValue string `json:"observedValue"`
				Passed        bool   `json:"passed"`
				Error         string `json:"error"`
			} `json:"spanResults"`
		} `json:"results"`
	} `json:"results"`
}

// RunOutput is an output value a run exported.
type RunOutput struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Error string `json:"error"`
}

// Event is one entry of a test run's event log (GET /api/tests/{id}/run/{runId}/events).
type Event struct {
	Type        string `json:"type"`
	Stage       string `json:"stage"`
	Title       string `json:"title"`
	Description string `json:"description"`
	CreatedAt   string `json:"createdAt"`
}

// StoredTest returns the test the server has under id.
func (c *Client) StoredTest(id string) (Test, error) {
	var t Test
	return t, c.get("/tests/"+id, &t)
}

// StoredSuite returns the suite the server has under id.
func (c *Client) StoredSuite(id string) (Suite, error) {
	var raw struct {
		Type string `json:"type"`
		Spec struct {
			ID          string            `json:"id"`
			Name        string            `json:"name"`
			Description string            `json:"description"`
			Steps       []json.RawMessage `json:"steps"`
		} `json:"spec"`
	}
	if err := c.get("/testsuites/"+id, &raw); err != nil {
		return Suite{}, err
	}
	s := Suite{Type: raw.Type, Spec: SuiteSpec{ID: raw.Spec.ID, Name: raw.Spec.Name, Description: raw.Spec.Description}}
	// The server answers each step as a test id or as the whole test.
	for _, step := range raw.Spec.Steps {
		var id string
		if json.Unmarshal(step, &id) != nil {
			var t struct {
				ID string `json:"id"`
			}
			json.Unmarshal(step, &t)
			id = t.ID
		}
		s.Spec.Steps = append(s.Spec.Steps, id)
	}
	return s, nil
}

// LatestSuiteRun returns the id of the newest run of the suite, 0 when it never ran.
func (c *Client) LatestSuiteRun(suiteID string) (int, error) {
	var runs []SuiteRun
	if err := c.get("/testsuites/"+suiteID+"/run?take=1", &runs); err != nil {
		if strings.Contains(err.Error(), "404") {
			return 0, nil
		}
		return 0, err
	}
	if len(runs) == 0 {
		return 0, nil
	}
	return runs[0].ID, nil
}

// SuiteRun returns run runID of the suite.
func (c *Client) SuiteRun(suiteID string, runID int) (SuiteRun, error) {
	var r SuiteRun
	return r, c.get(fmt.Sprintf("/testsuites/%s/run/%d", suiteID, runID), &r)
}

// Events returns the event log of a test run.
func (c *Client) Events(testID string, runID int) ([]Event, error) {
	var ev []Event
	return ev, c.get(fmt.Sprintf("/tests/%s/run/%d/events", testID, runID), &ev)
}

// CompareStored lists how the stored test differs from its file: every spec, assertion,
// output and the trigger must have reached the server unchanged.
func CompareStored(file, stored Test) []string {
	var diffs []string
	f, s := file.Spec, stored.Spec
	if f.Name != s.Name || f.Description != s.Description {
		diffs = append(diffs, fmt.Sprintf("name/description stored as %q / %q, file has %q / %q", s.Name, s.Description, f.Name, f.Description))
	}
	if !reflect.DeepEqual(normalTrigger(f.Trigger), normalTrigger(s.Trigger)) {
		diffs = append(diffs, fmt.Sprintf("trigger stored as %s, file has %s", jsonString(s.Trigger), jsonString(f.Trigger)))
	}
	if len(f.Specs) != len(s.Specs) {
		diffs = append(diffs, fmt.Sprintf("stored with %d specs, the file has %d", len(s.Specs), len(f.Specs)))
	} else {
		for i := range f.Specs {
			if !reflect.DeepEqual(normalSpec(f.Specs[i]), normalSpec(s.Specs[i])) {
				diffs = append(diffs, fmt.Sprintf("spec %d stored as %s, file has %s", i+1, jsonString(s.Specs[i]), jsonString(f.Specs[i])))
			}
		}
	}
	if len(f.Outputs) != len(s.Outputs) {
		diffs = append(diffs, fmt.Sprintf("stored with %d outputs, the file has %d", len(s.Outputs), len(f.Outputs)))
	} else {
		for i := range f.Outputs {
			if f.Outputs[i] != s.Outputs[i] {
				diffs = append(diffs, fmt.Sprintf("output %d stored as %s, file has %s", i+1, jsonString(s.Outputs[i]), jsonString(f.Outputs[i])))
			}
		}
	}
	return diffs
}

// CompareSuite lists how the stored suite differs from its file: the same steps, in order.
func CompareSuite(d Definitions, stored Suite) []string {
	var want []string
	for _, s := range d.Steps {
		want = append(want, s.Test.Spec.ID)
	}
	if !reflect.DeepEqual(want, stored.Spec.Steps) {
		return []string{fmt.Sprintf("stored the suite with steps %v, the file has %v", stored.Spec.Steps, want)}
	}
	return nil
}

func normalTrigger(t Trigger) Trigger {
	if t.HTTPRequest != nil && len(t.HTTPRequest.Headers) == 0 {
		r := *t.HTTPRequest
		r.Headers = nil
		t.HTTPRequest = &r
	}
	return t
}

func normalSpec(s Spec) Spec {
	if len(s.Assertions) == 0 {
		s.Assertions = nil
	}
	return s
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// varRef is a ${var:NAME} (or its alias ${env:NAME}) reference.
var varRef = regexp.MustCompile(`\$\{(?:var|env):([A-Za-z0-9_]+)\}`)

// CheckRun lists what is wrong with a suite run against the definitions: every step ran
// and finished, every spec of every step was evaluated on at least one span and passed
// with exactly the file's assertions, every output was exported with a value, and each
// step's trigger was sent with the variables resolved from the variable set and the
// outputs of the earlier steps.
func CheckRun(d Definitions, run SuiteRun) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if run.State != "FINISHED" {
		bad("suite run #%d is in state %s, want FINISHED", run.ID, run.State)
	}
	if len(run.Steps) != len(d.Steps) {
		bad("suite run #%d ran %d of its %d steps", run.ID, len(run.Steps), len(d.Steps))
	}
	vars := map[string]string{}
	for _, v := range run.VariableSet.Values {
		vars[v.Key] = v.Value
	}
	for i, step := range d.Steps {
		if i >= len(run.Steps) {
			break
		}
		r := run.Steps[i]
		name := fmt.Sprintf("%s (run #%d)", step.Test.Spec.ID, r.ID)
		if r.State != "FINISHED" {
			reason := strings.Join(strings.Fields(r.LastErrorState), " ")
			if reason != "" {
				reason = " (" + reason + ")"
			}
			bad("%s: state %s, want FINISHED%s: none of its %d specs was evaluated", name, r.State, reason, len(step.Test.Spec.Specs))
			continue
		}
		if r.VariableSet != nil {
			for _, v := range r.VariableSet.Values {
				if _, ok := vars[v.Key]; !ok {
					vars[v.Key] = v.Value
				}
			}
		}
		// The trigger as sent: the file's, with every variable resolved.
		if want, missing := expandTrigger(step.Test.Spec.Trigger, vars); len(missing) > 0 {
			bad("%s: the trigger uses %s, which neither the variable set nor an earlier step defines", name, strings.Join(missing, ", "))
		} else if !reflect.DeepEqual(normalTrigger(want), normalTrigger(r.ResolvedTrigger)) {
			bad("%s: the trigger was sent as %s, want %s (the variable set and the earlier steps' outputs resolved)",
				name, jsonString(r.ResolvedTrigger), jsonString(want))
		}
		problems = append(problems, checkResults(name, step.Test.Spec.Specs, r.Result)...)
		got := map[string]RunOutput{}
		for _, o := range r.Outputs {
			got[o.Name] = o
		}
		for _, o := range step.Test.Spec.Outputs {
			switch out, ok := got[o.Name]; {
			case !ok:
				bad("%s: output %s was not exported", name, o.Name)
			case out.Error != "" || out.Value == "":
				bad("%s: output %s is empty (%s)", name, o.Name, out.Error)
			default:
				vars[o.Name] = out.Value
			}
		}
	}
	return problems
}

func checkResults(name string, specs []Spec, result RunResult) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, name+": "+fmt.Sprintf(format, args...)) }
	if len(result.Results) != len(specs) {
		bad("the server evaluated %d specs, the file has %d", len(result.Results), len(specs))
	}
	for i, spec := range specs {
		if i >= len(result.Results) {
			bad("spec %q was never evaluated", spec.Name)
			continue
		}
		res := result.Results[i]
		if res.Selector.Query != spec.Selector {
			bad("spec %q: result %d is for selector %s, want %s", spec.Name, i+1, res.Selector.Query, spec.Selector)
			continue
		}
		if len(res.Results) != len(spec.Assertions) {
			bad("spec %q: %d assertions evaluated, the file has %d", spec.Name, len(res.Results), len(spec.Assertions))
		}
		for j, a := range res.Results {
			spans := 0
			var failed []string
			for _, sr := range a.SpanResults {
				if sr.SpanID != "" {
					spans++
				}
				if !sr.Passed {
					failed = append(failed, fmt.Sprintf("observed %q%s", sr.ObservedValue, prefixed(": ", sr.Error)))
				}
			}
			switch {
			case j < len(spec.Assertions) && a.Assertion != spec.Assertions[j]:
				bad("spec %q: assertion %d evaluated as %q, the file has %q", spec.Name, j+1, a.Assertion, spec.Assertions[j])
			case spans == 0:
				bad("spec %q: %q was evaluated on no span: the selector %s matched nothing", spec.Name, a.Assertion, spec.Selector)
			case !a.AllPassed || len(failed) > 0:
				bad("spec %q: %q failed (%s)", spec.Name, a.Assertion, strings.Join(failed, "; "))
			}
		}
	}
	return problems
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// expandTrigger resolves the ${var:NAME} references of an http trigger.
func expandTrigger(t Trigger, vars map[string]string) (Trigger, []string) {
	var missing []string
	expand := func(s string) string {
		return varRef.ReplaceAllStringFunc(s, func(ref string) string {
			name := varRef.FindStringSubmatch(ref)[1]
			v, ok := vars[name]
			if !ok {
				missing = append(missing, ref)
			}
			return v
		})
	}
	if t.HTTPRequest == nil {
		return t, nil
	}
	r := *t.HTTPRequest
	r.URL, r.Body, r.Method = expand(r.URL), expand(r.Body), expand(r.Method)
	r.Headers = nil
	for _, h := range t.HTTPRequest.Headers {
		r.Headers = append(r.Headers, Header{Key: expand(h.Key), Value: expand(h.Value)})
	}
	t.HTTPRequest = &r
	return t, missing
}
