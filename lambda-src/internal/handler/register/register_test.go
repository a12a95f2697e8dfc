package register

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

var clock = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func TestRegisterIncident(t *testing.T) {
	tests := []struct {
		name, input string
		wantErr     string
		wantField   string
	}{
		{name: "student only", input: `{"StudentId":"tracetest"}`},
		{name: "with date", input: `{"StudentId":"s","IncidentDate":"2026-01-01T00:00:00Z"}`},
		{name: "no student", input: `{}`, wantErr: "InvalidIncident", wantField: "StudentId"},
		{name: "blank student", input: `{"StudentId":"   "}`, wantErr: "InvalidIncident", wantField: "StudentId"},
		{name: "bad date", input: `{"StudentId":"s","IncidentDate":"yesterday"}`, wantErr: "InvalidIncident", wantField: "IncidentDate"},
		{name: "not an object", input: `[1]`, wantErr: "InvalidIncident", wantField: "input"},
		{name: "student not a string", input: `{"StudentId":5}`, wantErr: "InvalidIncident", wantField: "input"},
	}
	h := &RegisterIncident{Now: func() time.Time { return clock }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc, err := h.Handle(context.Background(), json.RawMessage(tt.input))
			if err != nil {
				invalid, ok := err.(*domain.InvalidIncident)
				if !ok || tt.wantErr != "InvalidIncident" || invalid.Field != tt.wantField {
					t.Fatalf("error %#v, want %s on %s", err, tt.wantErr, tt.wantField)
				}
				return
			}
			if tt.wantErr != "" {
				t.Fatalf("no error, want %s", tt.wantErr)
			}
			if inc.Version != 0 || len(inc.Exams) != 0 || inc.Normalize() != nil {
				t.Errorf("registered incident = %+v, want valid, unsaved, no exams", inc)
			}
			data, _ := json.Marshal(inc)
			if !strings.Contains(string(data), `"Exams":[]`) {
				t.Errorf("output %s: Exams must be an empty list for the Choice state", data)
			}
			// Run again (a Retry after a lost answer): another valid incident;
			// the first was never written, so nothing is left behind.
			again, err := h.Handle(context.Background(), json.RawMessage(tt.input))
			if err != nil || again.IncidentId == inc.IncidentId || again.StudentId != inc.StudentId || !again.IncidentDate.Equal(inc.IncidentDate) {
				t.Errorf("second run: %+v, %v", again, err)
			}
		})
	}
}
