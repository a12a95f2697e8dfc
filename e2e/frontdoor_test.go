package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// exam and incident are the workflow's data as docs/WORKFLOW.md defines them, in the
// shape both the Lambdas' JSON and the DynamoDB item have. Score is nil until scored.
type exam struct {
	ExamId           string
	ExamDeadline     string
	Score            *int
	NotificationSent bool
	Result           int
}

type failure struct {
	Error, Cause string
}

type incident struct {
	IncidentId          string
	StudentId           string
	IncidentDate        string
	Exams               []exam
	ResolutionDate      string
	IncidentResolved    bool
	AdminActionRequired bool
	Failure             *failure
	Version             int64
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
	return h.send(ctx, http.MethodPost, machine, path, body, map[string]string{"Content-Type": "application/json"})
}

// send sends a request with headers to the front door of machine.
func (h *harness) send(ctx context.Context, method, machine, path, body string, headers map[string]string) (apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, h.apis[machine]+path, strings.NewReader(body))
	if err != nil {
		return apiResponse{}, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiResponse{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return apiResponse{Status: resp.StatusCode, Header: resp.Header, Body: b, RequestID: resp.Header.Get("x-amzn-RequestId")}, nil
}
