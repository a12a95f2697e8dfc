package tracetest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The Tracetest CLI v1.7.1 writes JUnit reports for single tests only: for a test suite its
// --junit fails the run ("junit report is not supported for this resource type"). The
// server renders a JUnit report of every test run (GET /api/tests/{id}/run/{runId}/junit.xml,
// a <testsuites> with one <testsuite> per spec), so the suite's report is assembled from
// those, plus the read-back checks of tests/verify as test cases of their own.

// JUnitCase is one test case of the report.
type JUnitCase struct {
	XMLName xml.Name      `xml:"testcase"`
	Name    string        `xml:"name,attr"`
	Error   *JUnitMessage `xml:"error,omitempty"`
	Failure *JUnitMessage `xml:"failure,omitempty"`
}

// JUnitMessage is a failure or an error of a test case.
type JUnitMessage struct {
	Type    string `xml:"type,attr"`
	Message string `xml:"message,attr"`
}

// JUnitSuite is one <testsuite>: a spec of a test run, or the read-back checks.
type JUnitSuite struct {
	XMLName  xml.Name    `xml:"testsuite"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []JUnitCase `xml:"testcase"`
}

// JUnitReport is the whole report.
type JUnitReport struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// Add appends suites, counting their cases.
func (r *JUnitReport) Add(suites ...JUnitSuite) {
	for _, s := range suites {
		s.Tests, s.Failures, s.Errors = len(s.Cases), 0, 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				s.Failures++
			}
			if c.Error != nil {
				s.Errors++
			}
		}
		r.Tests += s.Tests
		r.Failures += s.Failures
		r.Errors += s.Errors
		r.Suites = append(r.Suites, s)
	}
}

// Marshal renders the report as an XML document.
func (r *JUnitReport) Marshal() ([]byte, error) {
	b, err := xml.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// RunJUnit returns the server's JUnit report of a test run as suites named after the test
// and the spec's selector. A run without results (its trigger or trace failed) is one
// suite with one erroring case that says so.
func (c *Client) RunJUnit(testName, testID string, runID int, state string) ([]JUnitSuite, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	path := fmt.Sprintf("/api/tests/%s/run/%d/junit.xml", testID, runID)
	resp, err := hc.Get(strings.TrimSuffix(c.BaseURL, "/") + path)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return []JUnitSuite{{Name: testName, Cases: []JUnitCase{{
			Name:  testName,
			Error: &JUnitMessage{Type: "run " + state, Message: fmt.Sprintf("run #%d has no results (%s): %.300s", runID, state, body)},
		}}}}, nil
	}
	var doc struct {
		Suites []JUnitSuite `xml:"testsuite"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	for i := range doc.Suites {
		doc.Suites[i].Name = testName + ": " + doc.Suites[i].Name
	}
	return doc.Suites, nil
}
