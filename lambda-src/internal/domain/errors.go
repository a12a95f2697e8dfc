package domain

import "fmt"

// The types in this file are returned unwrapped by the Lambda handlers where a
// state machine matches them: the Lambda runtime reports the dereferenced Go
// type name of the returned error as the Step Functions error name.

// InvalidIncident reports an incident, or a request about one, that breaks a
// business rule or lacks a required field.
type InvalidIncident struct {
	// Field is the JSON name of the offending field.
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *InvalidIncident) Error() string {
	return fmt.Sprintf("invalid incident: %s: %s", e.Field, e.Reason)
}

// StudentExceededAllowableExamRetries reports an attempt to schedule more than
// MaxExams exams for one incident.
type StudentExceededAllowableExamRetries struct {
	// IncidentId identifies the incident.
	IncidentId string
	// Exams is the number of exams already scheduled.
	Exams int
}

func (e *StudentExceededAllowableExamRetries) Error() string {
	return fmt.Sprintf("incident %s already has %d exams, the maximum is %d", e.IncidentId, e.Exams, MaxExams)
}

// ExamNotFound reports a reference to an exam the incident does not have.
type ExamNotFound struct {
	// IncidentId identifies the incident.
	IncidentId string
	// ExamId is the exam that was asked for.
	ExamId string
}

func (e *ExamNotFound) Error() string {
	return fmt.Sprintf("incident %s has no exam %s", e.IncidentId, e.ExamId)
}

// ExamClosed reports a score submitted for an exam that can no longer take one:
// it is not the incident's current exam, it already has a score, or the
// incident is closed.
type ExamClosed struct {
	// ExamId identifies the exam.
	ExamId string
	// Reason says why the exam is closed.
	Reason string
}

func (e *ExamClosed) Error() string {
	return fmt.Sprintf("exam %s is closed: %s", e.ExamId, e.Reason)
}

// TaskTokenMismatch reports a submission whose task token was not issued for
// the exam it names (or for any exam of the incident): a forged token, or
// another incident's.
type TaskTokenMismatch struct {
	// IncidentId identifies the incident.
	IncidentId string
	// ExamId is the exam the submission named.
	ExamId string
}

func (e *TaskTokenMismatch) Error() string {
	return fmt.Sprintf("the task token was not issued for exam %s of incident %s", e.ExamId, e.IncidentId)
}

// TransientError reports a failure that may well succeed if tried again
// later: throttling, a timeout, a 5xx answer from DynamoDB, SES, SendGrid or
// Step Functions, or an incident that kept changing under concurrent writers.
// Every Task of the state machine retries it with backoff.
type TransientError struct {
	// Op says what was being done.
	Op string
	// Err is the underlying failure.
	Err error
}

func (e *TransientError) Error() string {
	return fmt.Sprintf("%s: transient failure, retry later: %v", e.Op, e.Err)
}

// Unwrap returns the underlying failure.
func (e *TransientError) Unwrap() error { return e.Err }
