// Package asl holds the Amazon States Language definition of the plagiarism workflow
// (plagiarism.asl.json, embedded) and renders it for deployment.
//
// The definition names its Lambda functions with CloudFormation DefinitionSubstitutions
// placeholders (${RegisterIncidentFunctionArn}, ...). Render leaves them in place for
// CloudFormation to fill in; Placeholders lists them so a construct can check that it
// supplies every one. The contract the definition follows is docs/WORKFLOW.md.
package asl

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// File is the name of the embedded definition, relative to this package's directory.
const File = "plagiarism.asl.json"

// CallbackState is the name of the state that waits for SubmitExam's SendTaskSuccess;
// its TimeoutSeconds is the exam window.
const CallbackState = "SendNotification"

// MaxExamWindow is the longest exam window Render accepts. Step Functions allows a task
// to wait up to a year (a Standard execution's own limit).
const MaxExamWindow = 365 * 24 * time.Hour

//go:embed plagiarism.asl.json
var definition []byte

var (
	placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)
	timeoutRE     = regexp.MustCompile(`"TimeoutSeconds"\s*:\s*[0-9]+`)
)

// Definition returns the definition exactly as stored in plagiarism.asl.json,
// placeholders included.
func Definition() string {
	return string(definition)
}

// Placeholders returns the names (without "${" and "}") of the DefinitionSubstitutions
// placeholders used in the definition, sorted and without duplicates.
func Placeholders() []string {
	var names []string
	for _, m := range placeholderRE.FindAllSubmatch(definition, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Options changes the definition at render time.
type Options struct {
	// ExamWindow is how long SendNotification waits for the exam result before the
	// execution moves on to TakeAdministrativeAction (States.Timeout). It must be a whole
	// number of seconds, more than zero and at most MaxExamWindow. Zero keeps the window
	// written in the file: 7 days (604800 seconds), the Lambdas' default exam deadline.
	ExamWindow time.Duration
}

// Render returns the definition with the options applied. Placeholders stay in place for
// CloudFormation to substitute. Only the number after the callback state's TimeoutSeconds
// changes, so the result reads (and diffs) like the file.
func Render(o Options) (string, error) {
	if o.ExamWindow == 0 {
		return Definition(), nil
	}
	if err := validateWindow(o.ExamWindow); err != nil {
		return "", err
	}
	seconds := int64(o.ExamWindow / time.Second)

	start, end, err := callbackTimeoutSpan()
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	out.Write(definition[:start])
	out.WriteString(`"TimeoutSeconds": ` + strconv.FormatInt(seconds, 10))
	out.Write(definition[end:])

	got, err := CallbackTimeout(out.Bytes())
	if err != nil {
		return "", fmt.Errorf("render exam window %s: %w", o.ExamWindow, err)
	}
	if got != seconds {
		return "", fmt.Errorf("render exam window %s: %s has TimeoutSeconds %d after rendering, want %d", o.ExamWindow, CallbackState, got, seconds)
	}
	return out.String(), nil
}

func validateWindow(w time.Duration) error {
	switch {
	case w < 0:
		return fmt.Errorf("exam window %s is negative: use a positive duration such as 168h", w)
	case w%time.Second != 0:
		return fmt.Errorf("exam window %s is not a whole number of seconds: Step Functions timeouts are in seconds", w)
	case w > MaxExamWindow:
		return fmt.Errorf("exam window %s is longer than the maximum %s (one year)", w, MaxExamWindow)
	}
	return nil
}

// callbackTimeoutSpan returns the byte range of the callback state's
// `"TimeoutSeconds": N` in the embedded file. The definition is written so that only the
// callback state has a TimeoutSeconds; anything else is a broken file.
func callbackTimeoutSpan() (start, end int, err error) {
	spans := timeoutRE.FindAllIndex(definition, -1)
	if len(spans) != 1 {
		return 0, 0, fmt.Errorf("%s: want exactly one TimeoutSeconds (on %s), found %d", File, CallbackState, len(spans))
	}
	if _, err := CallbackTimeout(definition); err != nil {
		return 0, 0, err
	}
	return spans[0][0], spans[0][1], nil
}

// CallbackTimeout parses a definition and returns the TimeoutSeconds of its callback
// state (CallbackState).
func CallbackTimeout(def []byte) (int64, error) {
	var m struct {
		States map[string]struct {
			Type           string
			Resource       string
			TimeoutSeconds *int64
		}
	}
	if err := json.Unmarshal(def, &m); err != nil {
		return 0, fmt.Errorf("parse state machine definition: %w", err)
	}
	s, ok := m.States[CallbackState]
	if !ok {
		return 0, fmt.Errorf("state machine definition has no %s state", CallbackState)
	}
	if !strings.HasSuffix(s.Resource, ".waitForTaskToken") {
		return 0, fmt.Errorf("state %s has resource %q, want a .waitForTaskToken integration", CallbackState, s.Resource)
	}
	if s.TimeoutSeconds == nil {
		return 0, fmt.Errorf("state %s has no TimeoutSeconds", CallbackState)
	}
	return *s.TimeoutSeconds, nil
}
