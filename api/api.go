// Package api holds the request models of the workflow's REST API, as JSON Schema
// draft-04 documents (the dialect API Gateway models use), embedded from this directory.
//
// API Gateway validates request bodies against these models before anything runs, so a
// bad request is answered 400 and never starts an execution. API Gateway ignores the
// "format" keyword: the schemas express formats with "pattern".
package api

import (
	_ "embed"
)

// IncidentModelName is the name the REST API gives the POST /incident model.
const IncidentModelName = "Incident"

// IncidentSchemaFile is the file name of the POST /incident schema in this directory.
const IncidentSchemaFile = "incident.schema.json"

// IncidentValidationMessage is the message of the 400 answer to a POST /incident body the
// schema rejects (API Gateway's BAD_REQUEST_BODY response). API Gateway does not say which
// rule failed, so the message states them all; it must match IncidentSchema.
const IncidentValidationMessage = "Invalid request body: StudentId is required and must contain a non-blank character; IncidentDate, when given, must be an RFC 3339 date-time; no other fields are allowed"

//go:embed incident.schema.json
var incidentSchema string

// IncidentSchema returns the JSON Schema (draft-04) of the POST /incident body:
// a required StudentId with a non-blank character, an optional RFC 3339 IncidentDate,
// nothing else.
func IncidentSchema() string {
	return incidentSchema
}
