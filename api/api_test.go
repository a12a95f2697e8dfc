package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// compile compiles the schema as draft-04, which also validates it against the draft-04
// meta-schema.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	if err := c.AddResource(IncidentSchemaFile, strings.NewReader(IncidentSchema())); err != nil {
		t.Fatalf("load %s: %v", IncidentSchemaFile, err)
	}
	s, err := c.Compile(IncidentSchemaFile)
	if err != nil {
		t.Fatalf("compile %s as draft-04: %v", IncidentSchemaFile, err)
	}
	return s
}

func TestIncidentSchemaIsDraft04(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(IncidentSchema()), &doc); err != nil {
		t.Fatalf("%s is not JSON: %v", IncidentSchemaFile, err)
	}
	if doc["$schema"] != "http://json-schema.org/draft-04/schema#" {
		t.Errorf("$schema = %v, want draft-04 (API Gateway models)", doc["$schema"])
	}
	// API Gateway does not enforce "format"; a format here would promise a check that
	// never happens.
	if strings.Contains(IncidentSchema(), `"format"`) {
		t.Error("schema uses format, which API Gateway ignores: use a pattern")
	}
	// A draft-04 violation, to show the meta-schema check can fail.
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	bad := `{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "required": []}`
	if err := c.AddResource("bad.json", strings.NewReader(bad)); err == nil {
		if _, err := c.Compile("bad.json"); err == nil {
			t.Error("an empty required array (invalid in draft-04) compiled: the meta-schema check is not running")
		}
	}
	compile(t)
}

// TestValidationMessageMatchesSchema keeps the 400 message honest: every property and
// rule it names is in the schema.
func TestValidationMessageMatchesSchema(t *testing.T) {
	var doc struct {
		Required             []string
		AdditionalProperties *bool
		Properties           map[string]struct{ Pattern string }
	}
	if err := json.Unmarshal([]byte(IncidentSchema()), &doc); err != nil {
		t.Fatal(err)
	}
	for name := range doc.Properties {
		if !strings.Contains(IncidentValidationMessage, name) {
			t.Errorf("message does not mention property %s", name)
		}
	}
	if strings.Join(doc.Required, ",") != "StudentId" || !strings.Contains(IncidentValidationMessage, "StudentId is required") {
		t.Errorf("required = %v; the message says only StudentId is required", doc.Required)
	}
	if doc.AdditionalProperties == nil || *doc.AdditionalProperties || !strings.Contains(IncidentValidationMessage, "no other fields") {
		t.Error("the message says no other fields are allowed: additionalProperties must be false")
	}
}

func TestIncidentSchemaBodies(t *testing.T) {
	s := compile(t)
	tests := []struct {
		name, body string
		valid      bool
	}{
		{"student only", `{"StudentId": "tracetest"}`, true},
		{"with date Z", `{"StudentId": "s-1", "IncidentDate": "2026-11-24T21:34:00Z"}`, true},
		{"with date offset and fraction", `{"StudentId": "s-1", "IncidentDate": "2026-02-03T04:05:06.123456789+01:00"}`, true},
		{"padded student", `{"StudentId": "  a  "}`, true},
		{"missing student", `{}`, false},
		{"only date", `{"IncidentDate": "2026-11-24T21:34:00Z"}`, false},
		{"empty student", `{"StudentId": ""}`, false},
		{"blank student", `{"StudentId": " \t\n "}`, false},
		{"numeric student", `{"StudentId": 42}`, false},
		{"null student", `{"StudentId": null}`, false},
		{"date only", `{"StudentId": "s", "IncidentDate": "2026-11-24"}`, false},
		{"date without zone", `{"StudentId": "s", "IncidentDate": "2026-11-24T21:34:00"}`, false},
		{"date with space", `{"StudentId": "s", "IncidentDate": "2026-11-24 21:34:00Z"}`, false},
		{"month 13", `{"StudentId": "s", "IncidentDate": "2026-13-24T21:34:00Z"}`, false},
		{"hour 24", `{"StudentId": "s", "IncidentDate": "2026-11-24T24:00:00Z"}`, false},
		{"date with trailing text", `{"StudentId": "s", "IncidentDate": "2026-11-24T21:34:00Zjunk"}`, false},
		{"numeric date", `{"StudentId": "s", "IncidentDate": 1764020040}`, false},
		{"unknown field", `{"StudentId": "s", "Score": 80}`, false},
		{"array body", `[{"StudentId": "s"}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
				t.Fatalf("test body %s: %v", tt.body, err)
			}
			err := s.Validate(v)
			if valid := err == nil; valid != tt.valid {
				t.Errorf("Validate(%s): valid = %v, want %v (error: %v)", tt.body, valid, tt.valid, err)
			}
		})
	}
}
