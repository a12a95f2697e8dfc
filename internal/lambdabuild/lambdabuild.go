// Package lambdabuild is where the end-to-end harness found the Lambda builder before it
// moved into the construct library, which may import nothing from the app's internal/.
//
// Deprecated: import github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild;
// this package only forwards to it and goes once e2e/ imports the new path.
package lambdabuild

import "github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"

// Options are lambdabuild.Options.
type Options = lambdabuild.Options

// Result is lambdabuild.Result.
type Result = lambdabuild.Result

// Build is lambdabuild.Build.
func Build(opts Options) (Result, error) { return lambdabuild.Build(opts) }
