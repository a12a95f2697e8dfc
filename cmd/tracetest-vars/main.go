// Command tracetest-vars turns the outputs file of `cdk deploy` into a Tracetest variable set,
// so the trace-based tests in tests/ run against a fresh deployment with no hand edits.
//
// `cdk deploy --all --outputs-file cdk-outputs.json` writes
// {"<StackName>": {"<OutputKey>": "<value>"}}. This command reads the Workflow stack's
// StepFunctionsAPIUrl and StateMachineArn and the Tracetest stack's TracetestUrl, checks them,
// and writes a `type: VariableSet` document with API_URL, STATE_MACHINE_ARN and TRACETEST_URL
// (see Keys). With -print-tracetest-url it prints only the Tracetest server URL, for
// `tracetest configure --server-url`.
//
// Usage:
//
//	tracetest-vars [-outputs cdk-outputs.json] [-prefix TracetestSfn] [-o vars.yaml]
//	tracetest-vars [-outputs cdk-outputs.json] [-prefix TracetestSfn] -print-tracetest-url
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tracetest-vars:", err)
		}
		os.Exit(2)
	}
}

// run is main without the process: it parses args, reads the outputs file and writes the
// variable set (or the Tracetest URL) to the -o file or to stdout.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tracetest-vars", flag.ContinueOnError)
	fs.SetOutput(stderr)
	outputsPath := fs.String("outputs", "cdk-outputs.json", "outputs file written by `cdk deploy --all --outputs-file`")
	prefix := fs.String("prefix", DefaultPrefix, "stack name prefix (the CDK context key `prefix`)")
	out := fs.String("o", "-", "where to write the variable set YAML; - is stdout")
	printURL := fs.Bool("print-tracetest-url", false, "print only the Tracetest server URL and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q: every input is a flag (see -h)", fs.Args())
	}

	outputs, err := ReadOutputs(*outputsPath)
	if err != nil {
		return err
	}
	d, err := Resolve(outputs, *prefix)
	if err != nil {
		return fmt.Errorf("%s: %w", *outputsPath, err)
	}

	if *printURL {
		_, err := fmt.Fprintln(stdout, d.TracetestURL)
		return err
	}

	doc, err := d.VariableSet(*prefix).YAML()
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := stdout.Write(doc)
		return err
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		return fmt.Errorf("write variable set: %w", err)
	}
	return nil
}
