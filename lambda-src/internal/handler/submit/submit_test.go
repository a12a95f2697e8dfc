package submit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

func TestParseSubmission(t *testing.T) {
	const id, exam = "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f", "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b"
	body := func(fields map[string]any) string {
		base := map[string]any{"IncidentId": id, "ExamId": exam, "Score": 80, "TaskToken": "tok"}
		for k, v := range fields {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		data, _ := json.Marshal(base)
		return string(data)
	}
	tests := []struct {
		name      string
		body      string
		wantScore int
		wantField string
	}{
		{"number", body(nil), 80, ""},
		{"numeric string as upstream sends", body(map[string]any{"Score": "80"}), 80, ""},
		{"zero", body(map[string]any{"Score": 0}), 0, ""},
		{"hundred as string", body(map[string]any{"Score": " 100 "}), 100, ""},
		{"above range", body(map[string]any{"Score": 101}), 0, "Score"},
		{"negative", body(map[string]any{"Score": "-1"}), 0, "Score"},
		{"fraction", body(map[string]any{"Score": 80.5}), 0, "Score"},
		{"word", body(map[string]any{"Score": "eighty"}), 0, "Score"},
		{"bool", body(map[string]any{"Score": true}), 0, "Score"},
		{"missing score", body(map[string]any{"Score": nil}), 0, "Score"},
		{"missing incident", body(map[string]any{"IncidentId": nil}), 0, "IncidentId"},
		{"incident not uuid", body(map[string]any{"IncidentId": "123"}), 0, "IncidentId"},
		{"incident a number", body(map[string]any{"IncidentId": 5}), 0, "IncidentId"},
		{"exam not uuid", body(map[string]any{"ExamId": "x"}), 0, "ExamId"},
		{"upper-case ids", body(map[string]any{"IncidentId": strings.ToUpper(id), "ExamId": strings.ToUpper(exam)}), 80, ""},
		{"ids in braces", body(map[string]any{"IncidentId": "{" + id + "}"}), 0, "IncidentId"},
		{"1024-character token", body(map[string]any{"TaskToken": strings.Repeat("t", 1024)}), 80, ""},
		{"1025-character token", body(map[string]any{"TaskToken": strings.Repeat("t", 1025)}), 0, "TaskToken"},
		{"missing token", body(map[string]any{"TaskToken": nil}), 0, "TaskToken"},
		{"blank token", body(map[string]any{"TaskToken": " "}), 0, "TaskToken"},
		{"empty body", "", 0, "body"},
		{"array", "[]", 0, "body"},
		{"null", "null", 0, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := ParseSubmission(tt.body)
			if tt.wantField == "" {
				if err != nil {
					t.Fatal(err)
				}
				if sub.Score != tt.wantScore || sub.IncidentId != id || sub.ExamId != exam || (sub.TaskToken != "tok" && len(sub.TaskToken) != 1024) {
					t.Errorf("submission = %+v", sub)
				}
				return
			}
			var invalid *domain.InvalidIncident
			if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
				t.Fatalf("error %v, want InvalidIncident on %s", err, tt.wantField)
			}
		})
	}
}
