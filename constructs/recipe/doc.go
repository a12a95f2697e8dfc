// Package recipe is a construct library for trace-based testing of serverless workflows
// on AWS with Tracetest. It holds three constructs that compose into the whole system or
// stand alone:
//
//   - TracetestService: the Tracetest server on ECS Fargate behind an Application Load
//     Balancer on port 11633, storing its data in your RDS Postgres database.
//   - XRayDataStore: what Tracetest needs to read traces from AWS X-Ray with its task
//     role (provisioning documents and the IAM grant); usable with Tracetest run anywhere.
//   - PlagiarismStateMachine: the "plagiarism" workflow under test: a REST API, a
//     Standard Step Functions state machine, six Go Lambda functions built from this
//     module's source and a DynamoDB table, traced end to end with X-Ray.
//
// Import it next to the constructs package of constructs-go; its name does not collide:
//
//	import (
//		"github.com/aws/constructs-go/constructs/v10"
//		"github.com/tracetest-aws/stepfunctions-cdk/constructs/recipe"
//	)
//
// Every constructor has the CDK shape NewX(scope, id, props) and panics with a message
// naming the bad property when props are invalid, so mistakes surface at synth, before
// anything is deployed. Construct IDs of stateful children are part of the API: they are
// pinned by tests and do not change within a major version.
package recipe
