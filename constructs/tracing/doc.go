// Package tracing runs Tracetest on AWS, reading traces from AWS X-Ray. It holds two
// constructs of this module's construct library:
//
//   - TracetestService: the Tracetest server on ECS Fargate behind an Application Load
//     Balancer, storing its data in your Postgres database (an RDS instance, an Aurora
//     cluster, a proxy: see Database).
//   - XRayDataStore: what Tracetest needs to read traces from X-Ray with its task role
//     (provisioning documents and the IAM grant); usable with Tracetest run anywhere.
//
// The plagiarism workflow these were built to test is in the sibling package workflow;
// a team that only wants Tracetest imports this package alone and compiles none of the
// workflow's CDK modules (API Gateway, Step Functions, DynamoDB).
//
// Import it next to constructs-go's package; the names do not collide:
//
//	import (
//		"github.com/aws/constructs-go/constructs/v10"
//		"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
//	)
//
// Every constructor has the CDK shape NewX(scope, id, props) and panics with a message
// naming the bad property and the fix when props are invalid, so mistakes surface at
// synth. Values that are tokens (a CfnParameter, an SSM parameter, an import) are
// checked when known and passed through otherwise. Construct IDs of stateful children
// (the log group) are part of the API and do not change within a major version.
//
// The constructs carry cdk-nag suppressions, each with its reason, for the AwsSolutions
// findings on resources they create that cannot be fixed by default; a documented prop
// removes a suppression where a team can do better (AccessLogBucket for ELB2). A team
// that runs AwsSolutions on its app sees no error from these resources.
package tracing
