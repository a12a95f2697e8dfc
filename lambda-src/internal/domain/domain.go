// Package domain holds the plagiarism workflow's business rules: incidents,
// exams, how a score becomes a result, how many exams a student may take and
// when an exam is due. It imports no AWS package.
package domain

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

const (
	// PassMark is the lowest passing score.
	PassMark = 76
	// MaxScore is the highest score an exam can have.
	MaxScore = 100
	// MaxExams is how many exams one incident may schedule.
	MaxExams = 3
	// DefaultExamWindow is how long a student has to take an exam.
	DefaultExamWindow = 7 * 24 * time.Hour
)

// ExamResult is the outcome of an exam, computed from its score. The state
// machine's Choice state branches on its numeric value.
type ExamResult int

const (
	// Pass is a score of PassMark or more.
	Pass ExamResult = 0
	// Fail is a score from 1 to PassMark-1.
	Fail ExamResult = 1
	// DidNotSitExam is a score of 0 or less.
	DidNotSitExam ExamResult = 2
)

// String returns the result's name.
func (r ExamResult) String() string {
	switch r {
	case Pass:
		return "Pass"
	case Fail:
		return "Fail"
	case DidNotSitExam:
		return "DidNotSitExam"
	}
	return fmt.Sprintf("ExamResult(%d)", int(r))
}

// ResultOf returns the result of an exam with the given score.
func ResultOf(score int) ExamResult {
	switch {
	case score >= PassMark:
		return Pass
	case score > 0:
		return Fail
	default:
		return DidNotSitExam
	}
}

// ValidateScore checks that score is a possible exam score, 0 to MaxScore.
func ValidateScore(score int) error {
	if score < 0 || score > MaxScore {
		return &InvalidIncident{Field: "Score", Reason: fmt.Sprintf("must be an integer from 0 to %d, got %d", MaxScore, score)}
	}
	return nil
}

// Exam is one exam a student is asked to take.
type Exam struct {
	ExamId       string
	ExamDeadline time.Time
	// Score is nil until a score is submitted: an exam not yet scored is not
	// an exam scored 0 (did not sit).
	Score *int
	// NotificationSent is true once the student was sent the message that
	// carries the exam's current task token.
	NotificationSent bool

	// TaskTokenDigest is the hex SHA-256 of the task token SendNotification
	// was last given for this exam: only that token may score it. Stored,
	// never in the JSON the state machine and the API carry.
	TaskTokenDigest string
	// EarlierMessageSent is true when a message with an earlier token (of a
	// SendNotification that was then retried) was sent: the new message says
	// it replaces that one.
	EarlierMessageSent bool
	// ScoredBy identifies the submission that stored Score, so a submission
	// whose own write landed (but whose answer was lost) recognizes it.
	ScoredBy string
}

// Scored reports whether the exam has a score.
func (e Exam) Scored() bool { return e.Score != nil }

// Result returns the exam's result, computed from its score; an exam not yet
// scored has not been sat.
func (e Exam) Result() ExamResult {
	if e.Score == nil {
		return DidNotSitExam
	}
	return ResultOf(*e.Score)
}

// examJSON is Exam's wire form: Result is written for the state machine and
// ignored on input, so it can never disagree with Score. The token digest and
// the submission id stay out of it.
type examJSON struct {
	ExamId           string
	ExamDeadline     time.Time
	Score            *int
	NotificationSent bool
	Result           ExamResult
}

// MarshalJSON writes the exam with its computed Result and Score null until
// scored.
func (e Exam) MarshalJSON() ([]byte, error) {
	return json.Marshal(examJSON{
		ExamId:           e.ExamId,
		ExamDeadline:     e.ExamDeadline,
		Score:            e.Score,
		NotificationSent: e.NotificationSent,
		Result:           e.Result(),
	})
}

// UnmarshalJSON reads an exam, ignoring any Result field.
func (e *Exam) UnmarshalJSON(data []byte) error {
	var w examJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*e = Exam{ExamId: w.ExamId, ExamDeadline: w.ExamDeadline, Score: w.Score, NotificationSent: w.NotificationSent}
	return nil
}

// Failure is an error the state machine caught with its final catch-all: the
// reason the workflow stopped, recorded on the incident.
type Failure struct {
	// Error is the Step Functions error name (for a Lambda, its Go error type).
	Error string
	// Cause is the error's detail as Step Functions reported it.
	Cause string
}

// Incident is a suspected case of plagiarism and the exams scheduled for it.
type Incident struct {
	IncidentId   string
	StudentId    string
	IncidentDate time.Time
	// Exams lists the exams newest first: index 0 is the current exam.
	Exams               []Exam
	ResolutionDate      *time.Time `json:",omitempty"`
	IncidentResolved    bool
	AdminActionRequired bool
	// Failure is why the workflow stopped on an error; nil unless the
	// state machine's catch-all recorded one.
	Failure *Failure `json:",omitempty"`
	// Version is the optimistic-locking counter kept by the storage; 0 means
	// the incident was never saved.
	Version int64
}

// NewIncident opens an incident for studentID. incidentDate is an RFC 3339
// time; when empty the incident is dated now.
func NewIncident(studentID, incidentDate string, now time.Time) (Incident, error) {
	studentID = strings.TrimSpace(studentID)
	if studentID == "" {
		return Incident{}, &InvalidIncident{Field: "StudentId", Reason: "must not be empty"}
	}
	date := now.UTC()
	if incidentDate != "" {
		parsed, err := time.Parse(time.RFC3339, incidentDate)
		if err != nil {
			return Incident{}, &InvalidIncident{Field: "IncidentDate", Reason: fmt.Sprintf("must be an RFC 3339 time, got %q", incidentDate)}
		}
		date = parsed.UTC()
	}
	return Incident{IncidentId: uuid.NewString(), StudentId: studentID, IncidentDate: date, Exams: []Exam{}}, nil
}

// Clone returns a deep copy of the incident, so a change to one never shows
// in the other.
func (i Incident) Clone() Incident {
	c := i
	if i.Exams != nil {
		c.Exams = make([]Exam, len(i.Exams))
		for n, e := range i.Exams {
			if e.Score != nil {
				score := *e.Score
				e.Score = &score
			}
			c.Exams[n] = e
		}
	}
	if i.ResolutionDate != nil {
		date := *i.ResolutionDate
		c.ResolutionDate = &date
	}
	if i.Failure != nil {
		failure := *i.Failure
		c.Failure = &failure
	}
	return c
}

// Normalize checks the fields every stored incident must have and writes its
// ids in canonical form (lower case), so an id typed in upper case names the
// same incident.
func (i *Incident) Normalize() error {
	id, err := NormalizeID("IncidentId", i.IncidentId)
	if err != nil {
		return err
	}
	i.IncidentId = id
	if strings.TrimSpace(i.StudentId) == "" {
		return &InvalidIncident{Field: "StudentId", Reason: "must not be empty"}
	}
	if i.IncidentDate.IsZero() {
		return &InvalidIncident{Field: "IncidentDate", Reason: "must be set"}
	}
	if len(i.Exams) > MaxExams {
		return &InvalidIncident{Field: "Exams", Reason: fmt.Sprintf("has %d exams, the maximum is %d", len(i.Exams), MaxExams)}
	}
	for n := range i.Exams {
		e := &i.Exams[n]
		if e.ExamId, err = NormalizeID(fmt.Sprintf("Exams[%d].ExamId", n), e.ExamId); err != nil {
			return err
		}
		if e.Score != nil && (*e.Score < 0 || *e.Score > MaxScore) {
			return &InvalidIncident{Field: fmt.Sprintf("Exams[%d].Score", n), Reason: fmt.Sprintf("must be from 0 to %d, got %d", MaxScore, *e.Score)}
		}
	}
	return nil
}

// NormalizeID checks that value, the content of field, is a UUID written as
// 8-4-4-4-12 hexadecimal digits in either case, and returns it in lower case.
// Other spellings the uuid package would parse (braces, urn:uuid:, no
// hyphens) are refused: an id is a key, and one spelling per key is simpler
// to reason about.
func NormalizeID(field, value string) (string, error) {
	if value == "" {
		return "", &InvalidIncident{Field: field, Reason: "must not be empty"}
	}
	id, err := uuid.Parse(value)
	if err != nil || len(value) != 36 {
		return "", &InvalidIncident{Field: field, Reason: fmt.Sprintf("must be a UUID (8-4-4-4-12 hexadecimal digits), got %q", value)}
	}
	return id.String(), nil
}

// ExamID returns the id of the attempt-th exam (1 to MaxExams) of incident
// incidentID: a name-based (version 5) UUID in the incident id's namespace.
// The id depends only on the incident and the attempt number, so scheduling
// the same attempt twice (a retried ScheduleExam) names the same exam.
func ExamID(incidentID string, attempt int) (string, error) {
	ns, err := uuid.Parse(incidentID)
	if err != nil {
		return "", &InvalidIncident{Field: "IncidentId", Reason: fmt.Sprintf("must be a UUID, got %q", incidentID)}
	}
	return uuid.NewSHA1(ns, []byte(fmt.Sprintf("exam/%d", attempt))).String(), nil
}

// Closed reports whether the incident was resolved or escalated.
func (i *Incident) Closed() bool { return i.IncidentResolved || i.AdminActionRequired }

// CurrentExam returns the newest exam, if any.
func (i *Incident) CurrentExam() (Exam, bool) {
	if len(i.Exams) == 0 {
		return Exam{}, false
	}
	return i.Exams[0], true
}

// ScheduleExam adds exam number attempt, due window after now, as the current
// exam. attempt is the number of exams the caller saw plus one; when the
// current exam already is that attempt's exam (the same request, retried) it
// changes nothing. A fourth exam fails with *StudentExceededAllowableExamRetries;
// an attempt that does not follow the stored exams is *InvalidIncident.
func (i *Incident) ScheduleExam(attempt int, now time.Time, window time.Duration) (Exam, error) {
	id, err := ExamID(i.IncidentId, attempt)
	if err != nil {
		return Exam{}, err
	}
	if current, ok := i.CurrentExam(); ok && current.ExamId == id {
		return current, nil
	}
	if i.Closed() {
		return Exam{}, &InvalidIncident{Field: "IncidentResolved", Reason: "the incident is closed"}
	}
	if len(i.Exams) >= MaxExams {
		return Exam{}, &StudentExceededAllowableExamRetries{IncidentId: i.IncidentId, Exams: len(i.Exams)}
	}
	if attempt != len(i.Exams)+1 {
		return Exam{}, &InvalidIncident{Field: "Exams", Reason: fmt.Sprintf("the input has %d exams, the stored incident %d: the input is stale", attempt-1, len(i.Exams))}
	}
	if window <= 0 {
		return Exam{}, fmt.Errorf("schedule exam for incident %s: exam window must be positive, got %s", i.IncidentId, window)
	}
	exam := Exam{ExamId: id, ExamDeadline: now.UTC().Add(window)}
	i.Exams = append([]Exam{exam}, i.Exams...)
	return exam, nil
}

// exam returns a pointer to the exam examID of the incident.
func (i *Incident) exam(examID string) (*Exam, error) {
	for n := range i.Exams {
		if i.Exams[n].ExamId == examID {
			return &i.Exams[n], nil
		}
	}
	return nil, &ExamNotFound{IncidentId: i.IncidentId, ExamId: examID}
}

// awaiting checks that exam e can still take a score: the incident is open,
// e is its current exam and has no score yet.
func (i *Incident) awaiting(e *Exam) error {
	switch {
	case i.Closed():
		return &ExamClosed{ExamId: e.ExamId, Reason: "the incident is closed"}
	case i.Exams[0].ExamId != e.ExamId:
		return &ExamClosed{ExamId: e.ExamId, Reason: "a newer exam was scheduled"}
	case e.Score != nil:
		return &ExamClosed{ExamId: e.ExamId, Reason: fmt.Sprintf("it already has the score %d", *e.Score)}
	}
	return nil
}

// BindTaskToken makes token the only one that can score exam examID, which
// must be awaiting a score. Binding the token already bound changes nothing;
// a new token (a retried SendNotification gets one, and only the newest can
// resume the execution) replaces the old one and clears NotificationSent
// until the student is sent it.
func (i *Incident) BindTaskToken(examID, token string) error {
	if err := ValidateTaskToken(token); err != nil {
		return err
	}
	e, err := i.exam(examID)
	if err != nil {
		return err
	}
	if err := i.awaiting(e); err != nil {
		return &InvalidIncident{Field: "Exams", Reason: err.Error()}
	}
	digest := TaskTokenDigest(token)
	if e.TaskTokenDigest == digest {
		return nil
	}
	e.EarlierMessageSent = e.EarlierMessageSent || e.NotificationSent
	e.TaskTokenDigest = digest
	e.NotificationSent = false
	return nil
}

// MarkNotified records that the student was sent token for exam examID. If a
// newer token was bound meanwhile it changes nothing: the message that counts
// is the one with the newest token.
func (i *Incident) MarkNotified(examID, token string) error {
	e, err := i.exam(examID)
	if err != nil {
		return err
	}
	if !digestsEqual(e.TaskTokenDigest, TaskTokenDigest(token)) {
		return nil
	}
	e.NotificationSent = true
	return nil
}

// CheckTaskToken checks that token is the one bound to exam examID: an
// *ExamNotFound or a *TaskTokenMismatch otherwise.
func (i *Incident) CheckTaskToken(examID, token string) error {
	e, err := i.exam(examID)
	if err != nil {
		return err
	}
	if e.TaskTokenDigest == "" || !digestsEqual(e.TaskTokenDigest, TaskTokenDigest(token)) {
		return &TaskTokenMismatch{IncidentId: i.IncidentId, ExamId: examID}
	}
	return nil
}

// RecordScore stores score on exam examID for the submission named
// submission, which must hold the exam's task token. Only the current exam of
// an open incident, not yet scored, takes a score (*ExamClosed otherwise),
// except that the submission that stored the score may record it again and
// changes nothing.
func (i *Incident) RecordScore(examID, token string, score int, submission string) error {
	if err := ValidateScore(score); err != nil {
		return err
	}
	if err := i.CheckTaskToken(examID, token); err != nil {
		return err
	}
	e, _ := i.exam(examID)
	if e.Score != nil && submission != "" && e.ScoredBy == submission && *e.Score == score {
		return nil
	}
	if err := i.awaiting(e); err != nil {
		return err
	}
	e.Score = &score
	e.ScoredBy = submission
	return nil
}

// WithdrawScore removes the score that submission stored on exam examID, when
// Step Functions refused its callback. A score stored by another submission
// stays.
func (i *Incident) WithdrawScore(examID, submission string) error {
	e, err := i.exam(examID)
	if err != nil {
		return err
	}
	if e.Score != nil && submission != "" && e.ScoredBy == submission {
		e.Score, e.ScoredBy = nil, ""
	}
	return nil
}

// Resolve closes the incident because the student passed the current exam.
// An incident already closed, resolved or escalated, is returned unchanged:
// the first closure stands, and a retried ResolveIncident finds its own.
func (i *Incident) Resolve(now time.Time) error {
	if i.Closed() {
		return nil
	}
	exam, ok := i.CurrentExam()
	if !ok || exam.Result() != Pass {
		return &InvalidIncident{Field: "Exams", Reason: "the current exam was not passed"}
	}
	resolved := now.UTC()
	i.IncidentResolved = true
	i.ResolutionDate = &resolved
	return nil
}

// Escalate closes the incident as needing administrative action. An incident
// already closed keeps its closure (escalating twice keeps the first date; a
// resolved incident stays resolved).
func (i *Incident) Escalate(now time.Time) {
	if i.Closed() {
		return
	}
	escalated := now.UTC()
	i.AdminActionRequired = true
	i.ResolutionDate = &escalated
}

// RecordFailure records why the workflow stopped and escalates the incident,
// unless it was already closed: someone must look at a workflow that failed.
func (i *Incident) RecordFailure(f Failure, now time.Time) {
	i.Failure = &f
	i.Escalate(now)
}
