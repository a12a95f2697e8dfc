// Package e2e is the local end-to-end harness of the plagiarism workflow. It has no
// library code: everything is in its tests, run with
//
//	make e2e    # or, on an existing cdk.out: go test -count=1 ./e2e/...
//
// TestMain reads the synthesized Workflow stack (cdk.out, written by make synth), builds the
// project's own Lambda binaries and runs each behind the AWS Lambda Runtime Interface
// Emulator with the environment the template gives it, starts DynamoDB Local behind a
// fault-injecting proxy, runs the template's state machine definition in
// aws-local-stepfunctions through a small Node driver (driver.mjs), and serves the
// template's REST API as API Gateway would, its mapping templates rendered by velocityjs
// (apigateway.mjs), with a Step Functions API endpoint and an X-Ray daemon, all on
// 127.0.0.1. Requests are traced as in AWS: the functions send their segments to the
// daemon, the harness records those AWS records. The scenarios drive the workflow over
// HTTP, some with faults injected at the boundaries, and read the results straight from
// DynamoDB Local. See docs/E2E.md.
//
// Under make tracetest-local (E2E_TRACETEST=1, as root) the test binary runs again in a
// network namespace of its own, starts the real Tracetest server from the synthesized task
// definition with a PostgreSQL and an X-Ray API stand-in, and runs tests/suite.yaml with the
// real CLI through scripts/run-tracetest.sh. See docs/TRACETEST.md.
package e2e
