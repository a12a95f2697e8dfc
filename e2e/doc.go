// Package e2e is the local end-to-end harness of the plagiarism workflow. It has no
// library code: everything is in its tests, run with
//
//	bash scripts/install-tools.sh && go test -count=1 ./e2e/...
//
// TestMain builds the project's own Lambda binaries and runs each behind the AWS Lambda
// Runtime Interface Emulator, starts DynamoDB Local, runs the project's own state machine
// definition (asl.Render) in aws-local-stepfunctions through a small Node driver
// (driver.mjs), and serves the REST API's two routes and a Step Functions API endpoint for
// task-token callbacks, all on 127.0.0.1. The scenarios drive the workflow over HTTP and
// read the results straight from DynamoDB Local. See docs/E2E.md.
package e2e
