package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// OperationError is the error of a call: the service, the operation and what
// went wrong (an *Error when the service answered with one), worded as the
// SDK's clients word theirs.
type OperationError struct {
	Service, Operation string
	Err                error
}

func (e *OperationError) Error() string {
	return fmt.Sprintf("operation error %s: %s, %v", e.Service, e.Operation, e.Err)
}

func (e *OperationError) Unwrap() error { return e.Err }

// Error is an error answer of a service.
type Error struct {
	// StatusCode is the answer's HTTP status.
	StatusCode int
	// Code is the error's name without its namespace
	// ("ConditionalCheckFailedException", "TaskDoesNotExist").
	Code    string
	Message string
	// RequestID is the service's id of the request.
	RequestID string
	// Body is the error document, for the fields some errors carry beyond
	// code and message (DynamoDB's Item of a failed condition).
	Body []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("https response error StatusCode: %d, RequestID: %s, %s: %s",
		e.StatusCode, e.RequestID, e.Code, e.Message)
}

// ErrorCode is the code: the standard retry policy and the call's
// subsegment read it.
func (e *Error) ErrorCode() string { return e.Code }

// HTTPStatusCode is the status: the standard retry policy reads it.
func (e *Error) HTTPStatusCode() int { return e.StatusCode }

// ServiceRequestID marks the error as the service's (remote) in traces.
func (e *Error) ServiceRequestID() string { return e.RequestID }

// newError reads an error answer of the AWS JSON or REST-JSON protocol: the
// code from the X-Amzn-ErrorType header, else the document's code or
// __type, without its namespace (before '#') or extra fields (after ':').
func newError(status int, h http.Header, body []byte, requestID string) *Error {
	var doc struct {
		Type         string `json:"__type"`
		Code         string `json:"code"`
		Message      string `json:"message"`
		MessageUpper string `json:"Message"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(body, &doc) // a body that is not JSON has no code
	code := h.Get("X-Amzn-Errortype")
	if code == "" {
		code = doc.Code
	}
	if code == "" {
		code = doc.Type
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = "UnknownError"
	}
	msg := doc.Message
	if msg == "" {
		msg = doc.MessageUpper
	}
	if msg == "" {
		msg = doc.ErrorMessage
	}
	if msg == "" {
		msg = "UnknownError" // as the SDK's clients say
	}
	return &Error{StatusCode: status, Code: code, Message: msg, RequestID: requestID, Body: body}
}

// ErrorCode returns the code of the service's error answer in err's chain,
// or "" when err holds none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
