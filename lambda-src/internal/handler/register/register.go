// Package register is the RegisterIncident state task. It writes nothing, so
// it imports no AWS client: the registerincident binary links none.
package register

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

// RegisterIncident opens an incident; it writes nothing.
//
// A retry after a run whose answer was lost returns a different IncidentId:
// that is harmless, because the lost run wrote nothing and only the last
// run's output goes on to ScheduleExam.
type RegisterIncident struct {
	Now func() time.Time
}

// Registration is RegisterIncident's input.
type Registration struct {
	StudentId string
	// IncidentDate is an RFC 3339 time; empty means now.
	IncidentDate string
}

// Handle returns a new incident with a fresh IncidentId and no exams, or
// *domain.InvalidIncident.
func (h *RegisterIncident) Handle(_ context.Context, in json.RawMessage) (domain.Incident, error) {
	var r Registration
	if err := json.Unmarshal(in, &r); err != nil {
		return domain.Incident{}, &domain.InvalidIncident{Field: "input", Reason: err.Error()}
	}
	return domain.NewIncident(r.StudentId, r.IncidentDate, h.Now())
}
