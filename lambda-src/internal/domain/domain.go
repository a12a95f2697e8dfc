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
	ExamId           string
	ExamDeadline     time.Time
	Score            int
	NotificationSent bool
}

// Result returns the exam's result, computed from its score.
func (e Exam) Result() ExamResult { return ResultOf(e.Score) }

// examJSON is Exam's wire form: Result is written for the state machine and
// ignored on input, so it can never disagree with Score.
type examJSON struct {
	ExamId           string
	ExamDeadline     time.Time
	Score            int
	NotificationSent bool
	Result           ExamResult
}

// MarshalJSON writes the exam with its computed Result.
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

// Validate checks the fields every stored incident must have.
func (i *Incident) Validate() error {
	if err := ValidateID("IncidentId", i.IncidentId); err != nil {
		return err
	}
	if strings.TrimSpace(i.StudentId) == "" {
		return &InvalidIncident{Field: "StudentId", Reason: "must not be empty"}
	}
	if i.IncidentDate.IsZero() {
		return &InvalidIncident{Field: "IncidentDate", Reason: "must be set"}
	}
	if len(i.Exams) > MaxExams {
		return &InvalidIncident{Field: "Exams", Reason: fmt.Sprintf("has %d exams, the maximum is %d", len(i.Exams), MaxExams)}
	}
	for n, e := range i.Exams {
		if err := ValidateID(fmt.Sprintf("Exams[%d].ExamId", n), e.ExamId); err != nil {
			return err
		}
		if e.Score < 0 || e.Score > MaxScore {
			return &InvalidIncident{Field: fmt.Sprintf("Exams[%d].Score", n), Reason: fmt.Sprintf("must be from 0 to %d, got %d", MaxScore, e.Score)}
		}
	}
	return nil
}

// ValidateID checks that value, the content of field, is a UUID.
func ValidateID(field, value string) error {
	if value == "" {
		return &InvalidIncident{Field: field, Reason: "must not be empty"}
	}
	if err := uuid.Validate(value); err != nil {
		return &InvalidIncident{Field: field, Reason: fmt.Sprintf("must be a UUID, got %q", value)}
	}
	return nil
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

// ScheduleExam adds a new exam, due window after now, as the current exam.
// The fourth exam fails with *StudentExceededAllowableExamRetries.
func (i *Incident) ScheduleExam(now time.Time, window time.Duration) (Exam, error) {
	if i.Closed() {
		return Exam{}, &InvalidIncident{Field: "IncidentResolved", Reason: "the incident is closed"}
	}
	if len(i.Exams) >= MaxExams {
		return Exam{}, &StudentExceededAllowableExamRetries{IncidentId: i.IncidentId, Exams: len(i.Exams)}
	}
	if window <= 0 {
		return Exam{}, fmt.Errorf("schedule exam for incident %s: exam window must be positive, got %s", i.IncidentId, window)
	}
	exam := Exam{ExamId: uuid.NewString(), ExamDeadline: now.UTC().Add(window)}
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

// MarkNotified records that the student was told about exam examID.
func (i *Incident) MarkNotified(examID string) error {
	e, err := i.exam(examID)
	if err != nil {
		return err
	}
	e.NotificationSent = true
	return nil
}

// RecordScore stores score on exam examID. Only the current exam of an open
// incident, not yet scored, takes a score.
func (i *Incident) RecordScore(examID string, score int) error {
	if err := ValidateScore(score); err != nil {
		return err
	}
	e, err := i.exam(examID)
	if err != nil {
		return err
	}
	switch {
	case i.Closed():
		return &ExamClosed{ExamId: examID, Reason: "the incident is closed"}
	case i.Exams[0].ExamId != examID:
		return &ExamClosed{ExamId: examID, Reason: "a newer exam was scheduled"}
	case e.Score != 0:
		return &ExamClosed{ExamId: examID, Reason: fmt.Sprintf("it already has the score %d", e.Score)}
	}
	e.Score = score
	return nil
}

// Resolve closes the incident because the student passed the current exam.
func (i *Incident) Resolve(now time.Time) error {
	if i.Closed() {
		return &InvalidIncident{Field: "IncidentResolved", Reason: "the incident is already closed"}
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

// Escalate closes the incident as needing administrative action. Escalating
// twice keeps the first resolution date.
func (i *Incident) Escalate(now time.Time) error {
	if i.IncidentResolved {
		return &InvalidIncident{Field: "IncidentResolved", Reason: "the incident is already resolved"}
	}
	if i.AdminActionRequired {
		return nil
	}
	escalated := now.UTC()
	i.AdminActionRequired = true
	i.ResolutionDate = &escalated
	return nil
}
