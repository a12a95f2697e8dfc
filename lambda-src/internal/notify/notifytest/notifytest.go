// Package notifytest holds what the tests of the notification modes share.
package notifytest

import (
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/notify"
)

// Message is an exam notification whose task token needs escaping in a URL
// (+, / and =, as Step Functions' tokens have) and in HTML (&).
func Message() notify.Message {
	return notify.Message{
		IncidentId: "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", StudentId: "s1",
		ExamId: "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b", Deadline: time.Date(2026, 4, 8, 9, 0, 0, 0, time.UTC),
		TaskToken: "AQCEAAAAKgAAAAMAAAAA+token/with=chars&more",
	}
}
