// Command verify reads a Tracetest suite back from the Tracetest server's API after the CLI
// ran it (scripts/run-tracetest.sh runs it for make tracetest and make tracetest-local):
// every test the server stores must equal its file, and the suite's newest run must have
// evaluated and passed every spec, exported every output and sent each trigger with the
// variables resolved. When something failed it prints the event log of the runs, which is
// where Tracetest says why (the CLI says only "timeout" when no trace was found).
//
// With -junit it writes a JUnit report of the run: the server's report of each test run
// (the Tracetest CLI v1.7.1 writes none for a suite) and the read-back checks.
//
// Usage:
//
//	verify -server URL -suite tests/suite.yaml -latest                  # print the newest suite run id (0: none)
//	verify -server URL -suite tests/suite.yaml -after N [-junit FILE]   # check the newest run, newer than N
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tracetest-aws/stepfunctions-cdk/tests/tracetest"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "Tracetest server URL (without /api)")
	suiteFile := fs.String("suite", "tests/suite.yaml", "the TestSuite file the CLI ran")
	latest := fs.Bool("latest", false, "print the id of the suite's newest run (0 when it never ran) and exit")
	after := fs.Int("after", -1, "check the suite's newest run, which must be newer than this run id")
	junitFile := fs.String("junit", "", "also write a JUnit XML report of the run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *server == "" || fs.NArg() != 0 || (*latest == (*after >= 0)) {
		return errors.New("usage: verify -server URL -suite FILE (-latest | -after N)")
	}
	defs, err := tracetest.Load(*suiteFile)
	if err != nil {
		return err
	}
	c := &tracetest.Client{BaseURL: *server}
	suiteID := defs.Suite.Spec.ID
	if *latest {
		id, err := c.LatestSuiteRun(suiteID)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, id)
		return nil
	}

	var problems []string
	junit := &tracetest.JUnitReport{Name: defs.Suite.Spec.Name}
	checks := tracetest.JUnitSuite{Name: "tests/verify: the server's record read back"}
	defer func() {
		if *junitFile != "" {
			if err := writeJUnit(*junitFile, junit, checks); err != nil {
				fmt.Fprintln(stderr, "verify:", err)
			}
		}
	}()
	for _, step := range defs.Steps {
		stored, err := c.StoredTest(step.Test.Spec.ID)
		if err != nil {
			return fmt.Errorf("%s: read the stored test: %w", step.File, err)
		}
		diffs := tracetest.CompareStored(step.Test, stored)
		for _, d := range diffs {
			problems = append(problems, fmt.Sprintf("%s: the server %s (see docs/TRACETEST.md, \"What the CLI sends\")", step.File, d))
		}
		checks.Cases = append(checks.Cases, testCase(step.File+" is stored as written", diffs))
	}

	storedSuite, err := c.StoredSuite(suiteID)
	if err != nil {
		return fmt.Errorf("%s: read the stored suite: %w", defs.File, err)
	}
	diffs := tracetest.CompareSuite(defs, storedSuite)
	for _, d := range diffs {
		problems = append(problems, fmt.Sprintf("%s: the server %s", defs.File, d))
	}
	checks.Cases = append(checks.Cases, testCase(defs.File+" is stored as written", diffs))

	runID, err := c.LatestSuiteRun(suiteID)
	if err != nil {
		return err
	}
	if runID <= *after {
		p := fmt.Sprintf("suite %s has no run newer than #%d: the CLI did not start one (its output above says why)", suiteID, *after)
		problems = append(problems, p)
		checks.Cases = append(checks.Cases, testCase("the CLI ran the suite", []string{p}))
		report(stdout, problems)
		return fmt.Errorf("%d problem(s)", len(problems))
	}
	run, err := c.SuiteRun(suiteID, runID)
	if err != nil {
		return err
	}
	runProblems := tracetest.CheckRun(defs, run)
	problems = append(problems, runProblems...)
	checks.Cases = append(checks.Cases, testCase(fmt.Sprintf("suite run #%d evaluated and passed every spec and passed its outputs on", run.ID), runProblems))
	for i, step := range defs.Steps {
		if i >= len(run.Steps) {
			break
		}
		suites, err := c.RunJUnit(step.Test.Spec.Name, step.Test.Spec.ID, run.Steps[i].ID, run.Steps[i].State)
		if err != nil {
			return err
		}
		junit.Add(suites...)
	}
	if len(problems) == 0 {
		specs := 0
		for _, s := range defs.Steps {
			specs += len(s.Test.Spec.Specs)
		}
		fmt.Fprintf(stdout, "verify: suite %s run #%d: %d tests stored as written, %d specs evaluated and passed, outputs passed on\n",
			suiteID, run.ID, len(defs.Steps), specs)
		return nil
	}
	report(stdout, problems)
	for i, step := range defs.Steps {
		if i >= len(run.Steps) {
			break
		}
		r := run.Steps[i]
		if r.State == "FINISHED" && r.Result.AllPassed {
			continue
		}
		printEvents(stdout, c, step.Test.Spec.ID, r)
	}
	return fmt.Errorf("%d problem(s)", len(problems))
}

// testCase is a read-back check as a JUnit test case, failed by its problems.
func testCase(name string, problems []string) tracetest.JUnitCase {
	c := tracetest.JUnitCase{Name: name}
	if len(problems) > 0 {
		c.Failure = &tracetest.JUnitMessage{Type: "read-back", Message: strings.Join(problems, "\n")}
	}
	return c
}

func writeJUnit(file string, r *tracetest.JUnitReport, checks tracetest.JUnitSuite) error {
	r.Add(checks)
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return fmt.Errorf("write the JUnit report: %w", err)
	}
	return nil
}

func report(w io.Writer, problems []string) {
	fmt.Fprintln(w, "verify: the server's record of the run does not match the definitions:")
	for _, p := range problems {
		fmt.Fprintln(w, "  - "+p)
	}
}

// printEvents prints a test run's event log, and what its failure usually means.
func printEvents(w io.Writer, c *tracetest.Client, testID string, r tracetest.TestRun) {
	events, err := c.Events(testID, r.ID)
	if err != nil {
		fmt.Fprintf(w, "verify: events of %s run #%d: %v\n", testID, r.ID, err)
		return
	}
	fmt.Fprintf(w, "verify: events of %s run #%d (state %s, trace id %s):\n", testID, r.ID, r.State, r.TraceID)
	var text strings.Builder
	for _, e := range events {
		fmt.Fprintf(w, "  %s %-8s %s: %s\n", e.CreatedAt, e.Stage, e.Title, e.Description)
		text.WriteString(e.Title + " " + e.Description + "\n")
	}
	all := text.String() + r.LastErrorState
	switch {
	case strings.Contains(all, "AccessDenied") || strings.Contains(all, "not authorized"):
		fmt.Fprintln(w, "verify: the server may not read X-Ray: its task role needs xray:BatchGetTraces (XRayDataStore.GrantRead)")
	case strings.Contains(all, "UnrecognizedClient") || strings.Contains(all, "security token") || strings.Contains(all, "NoCredentialProviders"):
		fmt.Fprintln(w, "verify: the server has no valid AWS credentials for X-Ray (the task role, through useDefaultAuth)")
	case strings.Contains(all, "Timed out without finding trace") || strings.Contains(all, "trace not found"):
		fmt.Fprintln(w, "verify: X-Ray never returned the trigger's trace: is tracing on for the API stage, the state machine "+
			"and the functions, is the data store's region the deployment's, and is CloudWatch Transaction Search off "+
			"(with it on, BatchGetTraces finds nothing)?")
	}
}
