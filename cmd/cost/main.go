// Command cost prices what the synthesized stacks cost while nobody uses them, from the
// templates in a cloud assembly and the price table internal/cost/prices.json.
//
//	go run ./cmd/cost                                  # cdk.out, us-east-1, a month, as text
//	go run ./cmd/cost -format markdown -region us-east-1
//	go run ./cmd/cost -hours 1                         # one hour, e.g. a CI run
//	go run ./cmd/cost -base base.out -cdk-out head.out -format markdown   # the change
//	go run ./cmd/cost -doc docs/COST.md [-check]       # the generated cost page
//
// Run `make synth` first: it only reads cdk.out. A region missing from the table is an error
// naming the regions it has; a resource it cannot price is listed as not priced.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/cost"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and outputs, returning the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("cost", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cdkOut := fl.String("cdk-out", "cdk.out", "cloud assembly directory written by `cdk synth`")
	base := fl.String("base", "", "cloud assembly of the base commit: print the change from it to -cdk-out")
	region := fl.String("region", "us-east-1", "region to price in (the stacks are environment-agnostic)")
	format := fl.String("format", "text", "output format: text, markdown or json (json: not with -base)")
	hours := fl.Float64("hours", 0, "price this many hours instead of a month (hourly items for that long, monthly ones prorated)")
	prices := fl.String("prices", "", "price table to use instead of the embedded "+cost.TableFile)
	docFile := fl.String("doc", "", "write the cost page (docs/COST.md) to this file instead of a report")
	check := fl.Bool("check", false, "with -doc: write nothing, exit 1 when the file is stale")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cost: %v\n", err)
		return 1
	}
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "cost: %s\n", msg)
		return 2
	}
	if fl.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected arguments %q", fl.Args()))
	}
	f, err := cost.ParseFormat(*format)
	if err != nil {
		return usage(err.Error())
	}
	if *check && *docFile == "" {
		return usage("-check needs -doc")
	}
	if *docFile != "" && (*base != "" || *hours != 0) {
		return usage("-doc prices the default deployment: it takes neither -base nor -hours")
	}
	if *base != "" && f == cost.JSON {
		return usage("-base writes text or markdown")
	}
	if *hours < 0 {
		return usage(fmt.Sprintf("-hours %v is negative", *hours))
	}

	table, err := loadTable(*prices)
	if err != nil {
		return fail(err)
	}
	p, err := table.Prices(*region)
	if err != nil {
		return fail(err)
	}
	head, err := cost.LoadAssembly(*cdkOut)
	if err != nil {
		return fail(err)
	}

	if *docFile != "" {
		doc, err := cost.Document(head, p)
		if err != nil {
			return fail(err)
		}
		if *check {
			old, err := os.ReadFile(*docFile)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(err)
			}
			if !bytes.Equal(old, []byte(doc)) {
				return fail(fmt.Errorf("%s is stale: it does not match %s and %s; run `%s` and commit the result", *docFile, *cdkOut, cost.TableFile, cost.DocCommand))
			}
			fmt.Fprintf(stdout, "cost: %s is up to date\n", *docFile)
			return 0
		}
		if err := os.WriteFile(*docFile, []byte(doc), 0o644); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "cost: wrote %s\n", *docFile)
		return 0
	}

	period := table.HoursPerMonth
	if *hours > 0 {
		period = *hours
	}
	headReport, err := cost.EstimateHours(head, p, period)
	if err != nil {
		return fail(err)
	}
	if *base == "" {
		fmt.Fprint(stdout, headReport.Render(f))
		return 0
	}
	baseTemplates, err := cost.LoadAssembly(*base)
	if err != nil {
		return fail(fmt.Errorf("base: %w", err))
	}
	baseReport, err := cost.EstimateHours(baseTemplates, p, period)
	if err != nil {
		return fail(fmt.Errorf("base: %w", err))
	}
	delta, err := cost.Compare(baseReport, headReport)
	if err != nil {
		return fail(err)
	}
	fmt.Fprint(stdout, delta.Render(f))
	return 0
}

func loadTable(file string) (*cost.Table, error) {
	if file == "" {
		return cost.DefaultTable()
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := cost.ParseTable(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}
