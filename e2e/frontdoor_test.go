package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v5"

	"github.com/tracetest-aws/stepfunctions-cdk/api"
)

// The REST API's two routes as API Gateway runs them: POST /incident validates the body
// against the project's model (api/incident.schema.json) and starts an execution named
// after the request id (an AwsIntegration calling StartExecution); POST /exam is a Lambda
// proxy integration of SubmitExam.

// exam and incident are the workflow's data as docs/WORKFLOW.md defines them, in the
// shape both the Lambdas' JSON and the DynamoDB item have.
type exam struct {
	ExamId           string
	ExamDeadline     string
	Score            int
	NotificationSent bool
	Result           int
}

type incident struct {
	IncidentId          string
	StudentId           string
	IncidentDate        string
	Exams               []exam
	ResolutionDate      string
	IncidentResolved    bool
	AdminActionRequired bool
	Version             int64
}

func incidentSchema() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	if err := c.AddResource(api.IncidentSchemaFile, strings.NewReader(api.IncidentSchema())); err != nil {
		return nil, fmt.Errorf("load %s: %w", api.IncidentSchemaFile, err)
	}
	s, err := c.Compile(api.IncidentSchemaFile)
	if err != nil {
		return nil, fmt.Errorf("compile %s: %w", api.IncidentSchemaFile, err)
	}
	return s, nil
}

// frontDoor is the REST API of one state machine.
func (h *harness) frontDoor(machine string) http.Handler {
	schema, schemaErr := incidentSchema()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /incident", func(rw http.ResponseWriter, r *http.Request) {
		reqID := uuid.NewString()
		rw.Header().Set("x-amzn-RequestId", reqID)
		w := &statusRecorder{ResponseWriter: rw}
		stage := h.beginStage(r, "STEPFUNCTIONS", map[string]any{"operation": "StartExecution", "region": region}, reqID)
		started := false
		defer func() {
			stage.end(w.status)
			h.mu.Lock()
			h.requests[reqID] = started
			h.mu.Unlock()
		}()
		if schemaErr != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": schemaErr.Error()})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		var doc any
		if err == nil {
			err = json.Unmarshal(body, &doc)
		}
		if err == nil {
			err = schema.Validate(doc)
		}
		if err != nil {
			// The deployed API's BAD_REQUEST_BODY gateway response (constructs/recipe):
			// a fixed message and the CORS header. The validator's detail goes to the
			// harness log, as API Gateway's goes to its execution log.
			w.Header().Set("Access-Control-Allow-Origin", "*")
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": api.IncidentValidationMessage})
			h.logf("POST /incident %s rejected: %s", reqID, validationDetail(err))
			return
		}
		if _, err := h.startExecution(machine, reqID, body, stage.header); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": err.Error()})
			return
		}
		started = true
		writeJSON(w, http.StatusOK, map[string]any{
			"executionArn": executionARN(machine, reqID),
			"startDate":    float64(time.Now().UnixMilli()) / 1000,
		})
	})
	mux.HandleFunc("POST /exam", h.serveExam)
	return mux
}

// validationDetail flattens a schema validation error into one line naming each field.
func validationDetail(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	var parts []string
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			where := e.InstanceLocation
			if where == "" {
				where = "/"
			}
			parts = append(parts, where+": "+e.Message)
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return strings.Join(parts, "; ")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// serveExam is the Lambda proxy integration of SubmitExam.
func (h *harness) serveExam(rw http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	rw.Header().Set("x-amzn-RequestId", reqID)
	w := &statusRecorder{ResponseWriter: rw}
	f := h.function("submitexam")
	stage := h.beginStage(r, "Lambda", map[string]any{"operation": "Invoke", "function_name": f.name, "region": region, "resource_names": []string{f.name}}, reqID)
	defer func() { stage.end(w.status) }()
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Invalid request body"})
		return
	}
	headers := map[string]string{}
	for k, v := range r.Header {
		headers[k] = strings.Join(v, ",")
	}
	ev := events.APIGatewayProxyRequest{
		Resource:   "/exam",
		Path:       "/exam",
		HTTPMethod: http.MethodPost,
		Headers:    headers,
		Body:       string(body),
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:    accountID,
			ResourcePath: "/exam",
			Stage:        "v2",
			RequestID:    reqID,
			HTTPMethod:   http.MethodPost,
			APIID:        "e2e",
			Path:         "/v2/exam",
		},
	}
	payload, _ := json.Marshal(ev)
	out, err := h.invokeTraced(r.Context(), f, payload, stage.header)
	if err != nil {
		// What API Gateway answers when a proxy integration's function fails.
		fmt.Fprintf(f.proc.out, "harness: POST /exam: %v\n", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
		return
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		fmt.Fprintf(f.proc.out, "harness: POST /exam: malformed proxy response %s\n", out)
		writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			writeJSON(w, http.StatusBadGateway, map[string]string{"message": "Internal server error"})
			return
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

// apiResponse is an HTTP answer of the front door.
type apiResponse struct {
	Status    int
	Header    http.Header
	Body      []byte
	RequestID string
}

// post sends a JSON body to the front door of machine.
func (h *harness) post(ctx context.Context, machine, path, body string) (apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.apis[machine]+path, strings.NewReader(body))
	if err != nil {
		return apiResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResponse{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("POST %s: read body: %w", path, err)
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b, RequestID: resp.Header.Get("x-amzn-RequestId")}, nil
}
