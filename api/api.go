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

//go:embed incident.schema.json
var incidentSchema string

// IncidentSchema returns the JSON Schema (draft-04) of the POST /incident body:
// a required StudentId with a non-blank character, an optional RFC 3339 IncidentDate,
// nothing else.
func IncidentSchema() string {
	return incidentSchema
}
