package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)

func TestResultOf(t *testing.T) {
	tests := []struct {
		score int
		want  ExamResult
	}{
		{-5, DidNotSitExam},
		{-1, DidNotSitExam},
		{0, DidNotSitExam},
		{1, Fail},
		{67, Fail},
		{70, Fail},
		{75, Fail},
		{76, Pass},
		{77, Pass},
		{100, Pass},
	}
	for _, tt := range tests {
		if got := ResultOf(tt.score); got != tt.want {
			t.Errorf("ResultOf(%d) = %v, want %v", tt.score, got, tt.want)
		}
	}
	if Pass != 0 || Fail != 1 || DidNotSitExam != 2 {
		t.Errorf("the Choice state branches on 0, 1, 2; got Pass=%d Fail=%d DidNotSitExam=%d", Pass, Fail, DidNotSitExam)
	}
}

func TestValidateScore(t *testing.T) {
	tests := []struct {
		score int
		ok    bool
	}{{-1, false}, {0, true}, {1, true}, {75, true}, {76, true}, {100, true}, {101, false}}
	for _, tt := range tests {
		err := ValidateScore(tt.score)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateScore(%d) = %v, want ok=%v", tt.score, err, tt.ok)
		}
		var invalid *InvalidIncident
		if err != nil && (!errors.As(err, &invalid) || invalid.Field != "Score") {
			t.Errorf("ValidateScore(%d) = %#v, want *InvalidIncident on Score", tt.score, err)
		}
	}
}

func TestNewIncident(t *testing.T) {
	tests := []struct {
		name, student, date string
		wantField           string
		wantDate            time.Time
	}{
		{name: "defaults date to now", student: "tracetest", wantDate: now},
		{name: "blank student", student: "  ", wantField: "StudentId"},
		{name: "empty student", student: "", wantField: "StudentId"},
		{name: "given date", student: "s1", date: "2026-02-01T08:00:00+01:00", wantDate: time.Date(2026, 2, 1, 7, 0, 0, 0, time.UTC)},
		{name: "bad date", student: "s1", date: "01/02/2026", wantField: "IncidentDate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc, err := NewIncident(tt.student, tt.date, now)
			if tt.wantField != "" {
				var invalid *InvalidIncident
				if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
					t.Fatalf("NewIncident() error = %v, want InvalidIncident on %s", err, tt.wantField)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !inc.IncidentDate.Equal(tt.wantDate) || inc.IncidentDate.Location() != time.UTC {
				t.Errorf("IncidentDate = %v, want %v in UTC", inc.IncidentDate, tt.wantDate)
			}
			if err := inc.Normalize(); err != nil {
				t.Errorf("new incident does not validate: %v", err)
			}
			if inc.Exams == nil || len(inc.Exams) != 0 || inc.Closed() || inc.Version != 0 {
				t.Errorf("new incident = %+v, want no exams, open, never saved", inc)
			}
		})
	}
}

func newIncident(t *testing.T) Incident {
	t.Helper()
	inc, err := NewIncident("student", "", now)
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func intp(n int) *int { return &n }

func TestScheduleExam(t *testing.T) {
	inc := newIncident(t)
	for n := 1; n <= MaxExams; n++ {
		at := now.Add(time.Duration(n) * time.Hour)
		exam, err := inc.ScheduleExam(n, at, DefaultExamWindow)
		if err != nil {
			t.Fatalf("exam %d: %v", n, err)
		}
		if want := at.Add(7 * 24 * time.Hour); !exam.ExamDeadline.Equal(want) {
			t.Errorf("exam %d deadline = %v, want %v", n, exam.ExamDeadline, want)
		}
		if want, _ := ExamID(inc.IncidentId, n); exam.ExamId != want {
			t.Errorf("exam %d id = %s, want %s", n, exam.ExamId, want)
		}
		if !reflect.DeepEqual(inc.Exams[0], exam) || len(inc.Exams) != n {
			t.Errorf("exam %d is not the current exam of %d: %+v", n, n, inc.Exams)
		}
		if exam.Scored() || exam.Score != nil || exam.NotificationSent || exam.Result() != DidNotSitExam {
			t.Errorf("exam %d = %+v, want unscored and not notified", n, exam)
		}
		// The same attempt again (a retried ScheduleExam) names the same exam
		// and adds nothing, even later.
		before := inc.Clone()
		again, err := inc.ScheduleExam(n, at.Add(time.Minute), DefaultExamWindow)
		if err != nil || !reflect.DeepEqual(again, exam) || !reflect.DeepEqual(before, inc) {
			t.Fatalf("exam %d scheduled twice: %+v, %v; incident %+v", n, again, err, inc)
		}
	}

	tests := []struct {
		name    string
		attempt int
		wantErr any
	}{
		{"fourth exam", 4, &StudentExceededAllowableExamRetries{}},
		// A stale input that saw fewer exams must not get around the limit.
		{"stale second attempt", 2, &StudentExceededAllowableExamRetries{}},
	}
	for _, tt := range tests {
		before := inc.Clone()
		_, err := inc.ScheduleExam(tt.attempt, now, DefaultExamWindow)
		if reflect.TypeOf(err) != reflect.TypeOf(tt.wantErr) {
			t.Errorf("%s: error = %#v, want %T", tt.name, err, tt.wantErr)
		}
		if !reflect.DeepEqual(before, inc) {
			t.Errorf("%s changed the incident", tt.name)
		}
	}
	var exceeded *StudentExceededAllowableExamRetries
	if _, err := inc.ScheduleExam(4, now, DefaultExamWindow); !errors.As(err, &exceeded) || exceeded.Exams != MaxExams || exceeded.IncidentId != inc.IncidentId {
		t.Errorf("fourth exam: %#v", err)
	}

	// Below the limit, an attempt that does not follow the stored exams is a
	// stale input, refused rather than turned into an extra exam.
	two := newIncident(t)
	for n := 1; n <= 2; n++ {
		if _, err := two.ScheduleExam(n, now, DefaultExamWindow); err != nil {
			t.Fatal(err)
		}
	}
	var invalid *InvalidIncident
	if _, err := two.ScheduleExam(1, now, DefaultExamWindow); !errors.As(err, &invalid) || len(two.Exams) != 2 {
		t.Errorf("stale first attempt on two exams: %v, %d exams", err, len(two.Exams))
	}
	two.AdminActionRequired = true
	if _, err := two.ScheduleExam(3, now, DefaultExamWindow); !errors.As(err, &invalid) {
		t.Errorf("scheduling on a closed incident: %v", err)
	}
}

func TestExamID(t *testing.T) {
	const incident = "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f"
	first, err := ExamID(incident, 1)
	if err != nil {
		t.Fatal(err)
	}
	upper, _ := ExamID(strings.ToUpper(incident), 1)
	second, _ := ExamID(incident, 2)
	other, _ := ExamID("0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b", 1)
	if first != upper || first == second || first == other {
		t.Errorf("ExamID: first %s, upper-case incident %s, second %s, other incident %s", first, upper, second, other)
	}
	if id, err := NormalizeID("ExamId", first); err != nil || id != first || first[14] != '5' {
		t.Errorf("ExamID %s is not a canonical version-5 UUID: %v", first, err)
	}
	if _, err := ExamID("nope", 1); err == nil {
		t.Error("ExamID of a non-UUID incident id succeeded")
	}
}

func TestScheduleExamWindow(t *testing.T) {
	tests := []struct {
		window time.Duration
		ok     bool
	}{{time.Hour, true}, {DefaultExamWindow, true}, {0, false}, {-time.Hour, false}}
	for _, tt := range tests {
		inc := newIncident(t)
		exam, err := inc.ScheduleExam(1, now, tt.window)
		if (err == nil) != tt.ok {
			t.Errorf("window %s: error = %v, want ok=%v", tt.window, err, tt.ok)
		}
		if tt.ok && !exam.ExamDeadline.Equal(now.Add(tt.window)) {
			t.Errorf("window %s: deadline %v", tt.window, exam.ExamDeadline)
		}
	}
}

func TestNormalizeID(t *testing.T) {
	const id = "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f"
	tests := []struct {
		in, want string
	}{
		{id, id},
		{strings.ToUpper(id), id},
		{"6F1C3A57-1f1e-4A43-9d0e-0C1B2A3D4E5F", id},
		{"", ""},
		{"123", ""},
		{"{" + id + "}", ""},
		{"urn:uuid:" + id, ""},
		{strings.ReplaceAll(id, "-", ""), ""},
		{" " + id, ""},
		{"6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5g", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeID("IncidentId", tt.in)
		if tt.want == "" {
			var invalid *InvalidIncident
			if !errors.As(err, &invalid) || invalid.Field != "IncidentId" {
				t.Errorf("NormalizeID(%q) = %q, %v, want InvalidIncident on IncidentId", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeID(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestValidateTaskToken(t *testing.T) {
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"one character", "a", true},
		{"1024 characters", strings.Repeat("a", 1024), true},
		{"1024 two-byte characters", strings.Repeat("é", 1024), true},
		{"empty", "", false},
		{"1025 characters", strings.Repeat("a", 1025), false},
	}
	for _, tt := range tests {
		err := ValidateTaskToken(tt.token)
		var invalid *InvalidIncident
		if tt.ok != (err == nil) || (err != nil && (!errors.As(err, &invalid) || invalid.Field != "TaskToken")) {
			t.Errorf("%s: %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	// SHA-256 of "abc" (FIPS 180-2, appendix B.1).
	if got := TaskTokenDigest("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("TaskTokenDigest(abc) = %s", got)
	}
}

// scheduledIncident returns an incident with exams exams, the current one
// bound to token "token-<exams>".
func scheduledIncident(t *testing.T, exams int) Incident {
	t.Helper()
	inc := newIncident(t)
	for n := 1; n <= exams; n++ {
		if _, err := inc.ScheduleExam(n, now, DefaultExamWindow); err != nil {
			t.Fatal(err)
		}
		if err := inc.BindTaskToken(inc.Exams[0].ExamId, fmt.Sprintf("token-%d", n)); err != nil {
			t.Fatal(err)
		}
	}
	return inc
}

func TestBindAndCheckTaskToken(t *testing.T) {
	inc := scheduledIncident(t, 1)
	exam := inc.Exams[0].ExamId
	if e := inc.Exams[0]; e.TaskTokenDigest != TaskTokenDigest("token-1") || e.EarlierMessageSent || e.NotificationSent {
		t.Fatalf("after binding: %+v", e)
	}
	if err := inc.MarkNotified(exam, "token-1"); err != nil || !inc.Exams[0].NotificationSent {
		t.Fatalf("MarkNotified: %v, %+v", err, inc.Exams[0])
	}
	// The same token again (the same SendNotification, replayed): nothing changes.
	before := inc.Clone()
	if err := inc.BindTaskToken(exam, "token-1"); err != nil || !reflect.DeepEqual(before, inc) {
		t.Fatalf("binding the bound token: %v, %+v", err, inc.Exams[0])
	}
	// A retried SendNotification's new token replaces the old one.
	if err := inc.BindTaskToken(exam, "token-1b"); err != nil {
		t.Fatal(err)
	}
	if e := inc.Exams[0]; e.TaskTokenDigest != TaskTokenDigest("token-1b") || !e.EarlierMessageSent || e.NotificationSent {
		t.Fatalf("after a new token: %+v", e)
	}
	// The old token's message does not count any more.
	if err := inc.MarkNotified(exam, "token-1"); err != nil || inc.Exams[0].NotificationSent {
		t.Errorf("MarkNotified with the replaced token: %v, %+v", err, inc.Exams[0])
	}
	// A token whose message was never sent is replaced without one to mention.
	unsent := scheduledIncident(t, 1)
	if err := unsent.BindTaskToken(unsent.Exams[0].ExamId, "token-1b"); err != nil || unsent.Exams[0].EarlierMessageSent {
		t.Errorf("replacing an unsent token: %v, %+v", err, unsent.Exams[0])
	}

	var mismatch *TaskTokenMismatch
	var notFound *ExamNotFound
	if err := inc.CheckTaskToken(exam, "token-1b"); err != nil {
		t.Errorf("the bound token: %v", err)
	}
	for _, token := range []string{"token-1", "token-1B", "", "x"} {
		if err := inc.CheckTaskToken(exam, token); !errors.As(err, &mismatch) {
			t.Errorf("CheckTaskToken(%q) = %v, want *TaskTokenMismatch", token, err)
		}
	}
	if err := inc.CheckTaskToken("8c7e62f5-0b7e-4d38-9d7c-5a8c8d1c2b11", "token-1b"); !errors.As(err, &notFound) {
		t.Errorf("unknown exam: %v", err)
	}
	unbound := newIncident(t)
	if _, err := unbound.ScheduleExam(1, now, DefaultExamWindow); err != nil {
		t.Fatal(err)
	}
	if err := unbound.CheckTaskToken(unbound.Exams[0].ExamId, ""); !errors.As(err, &mismatch) {
		t.Errorf("an exam with no token bound accepted the empty token: %v", err)
	}

	var invalid *InvalidIncident
	two := scheduledIncident(t, 2)
	for name, bind := range map[string]func(*Incident) error{
		"older exam":   func(i *Incident) error { return i.BindTaskToken(i.Exams[1].ExamId, "t") },
		"scored exam":  func(i *Incident) error { i.Exams[0].Score = intp(50); return i.BindTaskToken(i.Exams[0].ExamId, "t") },
		"closed":       func(i *Incident) error { i.IncidentResolved = true; return i.BindTaskToken(i.Exams[0].ExamId, "t") },
		"empty token":  func(i *Incident) error { return i.BindTaskToken(i.Exams[0].ExamId, "") },
		"long token":   func(i *Incident) error { return i.BindTaskToken(i.Exams[0].ExamId, strings.Repeat("t", 1025)) },
		"unknown exam": func(i *Incident) error { return i.BindTaskToken("8c7e62f5-0b7e-4d38-9d7c-5a8c8d1c2b11", "t") },
	} {
		inc := two.Clone()
		err := bind(&inc)
		if !errors.As(err, &invalid) && !errors.As(err, &notFound) {
			t.Errorf("%s: %v, want InvalidIncident or ExamNotFound", name, err)
		}
	}
}

func TestRecordScore(t *testing.T) {
	current := func(i *Incident) (string, string) { return i.Exams[0].ExamId, "token-2" }
	tests := []struct {
		name    string
		setup   func(*Incident) (exam, token string)
		score   int
		wantErr any
	}{
		{"current exam", current, 80, nil},
		{"zero", current, 0, nil},
		{"hundred", current, 100, nil},
		{"negative", current, -1, &InvalidIncident{}},
		{"above hundred", current, 101, &InvalidIncident{}},
		{"unknown exam", func(i *Incident) (string, string) { return "8c7e62f5-0b7e-4d38-9d7c-5a8c8d1c2b11", "token-2" }, 80, &ExamNotFound{}},
		{"forged token", func(i *Incident) (string, string) { return i.Exams[0].ExamId, "forged" }, 80, &TaskTokenMismatch{}},
		{"older exam's token for the current exam", func(i *Incident) (string, string) { return i.Exams[0].ExamId, "token-1" }, 80, &TaskTokenMismatch{}},
		{"older exam with its own token", func(i *Incident) (string, string) { return i.Exams[1].ExamId, "token-1" }, 80, &ExamClosed{}},
		{"already scored", func(i *Incident) (string, string) {
			i.Exams[0].Score, i.Exams[0].ScoredBy = intp(0), "someone else"
			return current(i)
		}, 0, &ExamClosed{}},
		{"closed incident", func(i *Incident) (string, string) { i.AdminActionRequired = true; return current(i) }, 80, &ExamClosed{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := scheduledIncident(t, 2)
			exam, token := tt.setup(&inc)
			before := inc.Clone()
			err := inc.RecordScore(exam, token, tt.score, "submission-1")
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				e := inc.Exams[0]
				if !e.Scored() || *e.Score != tt.score || e.ScoredBy != "submission-1" || e.Result() != ResultOf(tt.score) {
					t.Errorf("exam = %+v, want score %d", e, tt.score)
				}
				// The same submission again (its write landed, its answer was
				// lost) changes nothing; any other is refused.
				scored := inc.Clone()
				if err := inc.RecordScore(exam, token, tt.score, "submission-1"); err != nil || !reflect.DeepEqual(scored, inc) {
					t.Errorf("the same submission again: %v", err)
				}
				var closed *ExamClosed
				if err := inc.RecordScore(exam, token, tt.score, "submission-2"); !errors.As(err, &closed) {
					t.Errorf("a second submission: %v, want *ExamClosed", err)
				}
				return
			}
			if err == nil || reflect.TypeOf(err) != reflect.TypeOf(tt.wantErr) {
				t.Fatalf("error = %#v, want %T", err, tt.wantErr)
			}
			if !reflect.DeepEqual(before, inc) {
				t.Errorf("a rejected score changed the incident:\n%+v\n%+v", before, inc)
			}
		})
	}
}

func TestWithdrawScore(t *testing.T) {
	inc := scheduledIncident(t, 1)
	exam := inc.Exams[0].ExamId
	if err := inc.RecordScore(exam, "token-1", 80, "mine"); err != nil {
		t.Fatal(err)
	}
	scored := inc.Clone()
	if err := inc.WithdrawScore(exam, "theirs"); err != nil || !reflect.DeepEqual(scored, inc) {
		t.Errorf("withdrawing another submission's score: %v, %+v", err, inc.Exams[0])
	}
	if err := inc.WithdrawScore(exam, "mine"); err != nil || inc.Exams[0].Scored() || inc.Exams[0].ScoredBy != "" {
		t.Errorf("withdrawing my score: %v, %+v", err, inc.Exams[0])
	}
	var notFound *ExamNotFound
	if err := inc.WithdrawScore("8c7e62f5-0b7e-4d38-9d7c-5a8c8d1c2b11", "mine"); !errors.As(err, &notFound) {
		t.Errorf("unknown exam: %v", err)
	}
}

func TestResolveAndEscalate(t *testing.T) {
	withScore := func(score *int) Incident {
		inc := newIncident(t)
		if _, err := inc.ScheduleExam(1, now, DefaultExamWindow); err != nil {
			t.Fatal(err)
		}
		inc.Exams[0].Score = score
		return inc
	}
	later := now.Add(time.Hour)

	passed := withScore(intp(76))
	if err := passed.Resolve(later); err != nil {
		t.Fatalf("resolve a pass: %v", err)
	}
	if !passed.IncidentResolved || passed.AdminActionRequired || !passed.ResolutionDate.Equal(later) {
		t.Errorf("resolved incident = %+v", passed)
	}
	// Closing a closed incident (a retried ResolveIncident or
	// TakeAdministrativeAction) returns it unchanged.
	resolved := passed.Clone()
	if err := passed.Resolve(later.Add(time.Hour)); err != nil || !reflect.DeepEqual(resolved, passed) {
		t.Errorf("resolving twice: %v, %+v", err, passed)
	}
	if passed.Escalate(later.Add(time.Hour)); !reflect.DeepEqual(resolved, passed) {
		t.Errorf("escalating a resolved incident changed it: %+v", passed)
	}

	for name, score := range map[string]*int{"failed": intp(75), "zero": intp(0), "not scored": nil} {
		inc := withScore(score)
		if err := inc.Resolve(later); err == nil || inc.Closed() {
			t.Errorf("resolving a %s exam succeeded", name)
		}
	}

	failed := withScore(intp(75))
	failed.Escalate(later)
	if !failed.AdminActionRequired || failed.IncidentResolved || !failed.ResolutionDate.Equal(later) {
		t.Errorf("escalated incident = %+v", failed)
	}
	if failed.Escalate(later.Add(time.Hour)); !failed.ResolutionDate.Equal(later) {
		t.Errorf("escalating twice: date=%v, want the first date kept", failed.ResolutionDate)
	}
	escalated := failed.Clone()
	if err := failed.Resolve(later.Add(time.Hour)); err != nil || !reflect.DeepEqual(escalated, failed) {
		t.Errorf("resolving an escalated incident: %v, %+v", err, failed)
	}
	if _, err := failed.ScheduleExam(2, later, DefaultExamWindow); err == nil {
		t.Error("scheduling an exam on a closed incident succeeded")
	}

	noExam := newIncident(t)
	if err := noExam.Resolve(later); err == nil {
		t.Error("resolving without an exam succeeded")
	}
}

func TestRecordFailure(t *testing.T) {
	later := now.Add(time.Hour)
	failure := Failure{Error: "TransientError", Cause: "throttled"}

	open := newIncident(t)
	open.RecordFailure(failure, later)
	if open.Failure == nil || *open.Failure != failure || !open.AdminActionRequired || !open.ResolutionDate.Equal(later) {
		t.Errorf("failure on an open incident: %+v", open)
	}

	resolved := newIncident(t)
	resolved.IncidentResolved, resolved.ResolutionDate = true, &now
	resolved.RecordFailure(failure, later)
	if resolved.Failure == nil || resolved.AdminActionRequired || !resolved.ResolutionDate.Equal(now) {
		t.Errorf("failure on a resolved incident: %+v, want it recorded and the resolution kept", resolved)
	}
}

func TestNormalize(t *testing.T) {
	valid := func() Incident {
		inc := newIncident(t)
		if _, err := inc.ScheduleExam(1, now, DefaultExamWindow); err != nil {
			t.Fatal(err)
		}
		return inc
	}
	tests := []struct {
		name   string
		mutate func(*Incident)
		field  string
	}{
		{"valid", func(*Incident) {}, ""},
		{"upper-case ids", func(i *Incident) {
			i.IncidentId, i.Exams[0].ExamId = strings.ToUpper(i.IncidentId), strings.ToUpper(i.Exams[0].ExamId)
		}, ""},
		{"scored", func(i *Incident) { i.Exams[0].Score = intp(100) }, ""},
		{"missing id", func(i *Incident) { i.IncidentId = "" }, "IncidentId"},
		{"id not a uuid", func(i *Incident) { i.IncidentId = "123" }, "IncidentId"},
		{"blank student", func(i *Incident) { i.StudentId = " \t" }, "StudentId"},
		{"no date", func(i *Incident) { i.IncidentDate = time.Time{} }, "IncidentDate"},
		{"bad exam id", func(i *Incident) { i.Exams[0].ExamId = "x" }, "Exams[0].ExamId"},
		{"score above range", func(i *Incident) { i.Exams[0].Score = intp(101) }, "Exams[0].Score"},
		{"negative score", func(i *Incident) { i.Exams[0].Score = intp(-1) }, "Exams[0].Score"},
		{"too many exams", func(i *Incident) { i.Exams = append(i.Exams, i.Exams[0], i.Exams[0], i.Exams[0]) }, "Exams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := valid()
			want := inc.Clone()
			tt.mutate(&inc)
			err := inc.Normalize()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if inc.IncidentId != want.IncidentId || inc.Exams[0].ExamId != want.Exams[0].ExamId {
					t.Errorf("ids not normalized: %s %s", inc.IncidentId, inc.Exams[0].ExamId)
				}
				return
			}
			var invalid *InvalidIncident
			if !errors.As(err, &invalid) || invalid.Field != tt.field {
				t.Fatalf("Normalize() = %v, want InvalidIncident on %s", err, tt.field)
			}
		})
	}
}

func TestClone(t *testing.T) {
	inc := scheduledIncident(t, 1)
	inc.Exams[0].Score = intp(10)
	inc.ResolutionDate = &now
	inc.Failure = &Failure{Error: "e"}
	c := inc.Clone()
	*c.Exams[0].Score = 90
	c.Exams[0].ExamId = "changed"
	*c.ResolutionDate = now.Add(time.Hour)
	c.Failure.Error = "changed"
	if *inc.Exams[0].Score != 10 || inc.Exams[0].ExamId == "changed" || !inc.ResolutionDate.Equal(now) || inc.Failure.Error != "e" {
		t.Errorf("changing the clone changed the original: %+v", inc)
	}
}

func TestJSONFieldNames(t *testing.T) {
	resolved := now.Add(time.Hour)
	inc := Incident{
		IncidentId:   "6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f",
		StudentId:    "s",
		IncidentDate: now,
		Exams: []Exam{{
			ExamId: "0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b", ExamDeadline: now.Add(DefaultExamWindow),
			Score: intp(80), NotificationSent: true,
			TaskTokenDigest: TaskTokenDigest("secret"), EarlierMessageSent: true, ScoredBy: "submission",
		}},
		ResolutionDate:   &resolved,
		IncidentResolved: true,
		Version:          3,
	}
	data, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"IncidentId":"6f1c3a57-1f1e-4a43-9d0e-0c1b2a3d4e5f","StudentId":"s","IncidentDate":"2026-03-01T10:30:00Z",` +
		`"Exams":[{"ExamId":"0b0e8a3c-2c55-4e47-b6a1-1c2d3e4f5a6b","ExamDeadline":"2026-03-08T10:30:00Z","Score":80,"NotificationSent":true,"Result":0}],` +
		`"ResolutionDate":"2026-03-01T11:30:00Z","IncidentResolved":true,"AdminActionRequired":false,"Version":3}`
	if string(data) != want {
		t.Errorf("json =\n%s\nwant\n%s", data, want)
	}

	inc.ResolutionDate = nil
	inc.Exams[0].Score = nil
	inc.Failure = &Failure{Error: "TransientError", Cause: "throttled"}
	data, _ = json.Marshal(inc)
	for _, s := range []string{`"Score":null`, `"Result":2`, `"Failure":{"Error":"TransientError","Cause":"throttled"}`} {
		if !strings.Contains(string(data), s) {
			t.Errorf("json %s lacks %s", data, s)
		}
	}
	for _, s := range []string{"ResolutionDate", "Digest", "Earlier", "ScoredBy"} {
		if strings.Contains(string(data), s) {
			t.Errorf("json %s carries %s", data, s)
		}
	}

	var back Incident
	tampered := strings.Replace(want, `"Result":0`, `"Result":2`, 1)
	if err := json.Unmarshal([]byte(tampered), &back); err != nil {
		t.Fatal(err)
	}
	if back.Exams[0].Result() != Pass || *back.Exams[0].Score != 80 {
		t.Errorf("Result must follow Score, not the input: %+v", back.Exams[0])
	}
	if err := json.Unmarshal([]byte(strings.Replace(want, `"Score":80`, `"Score":null`, 1)), &back); err != nil || back.Exams[0].Scored() {
		t.Errorf("Score null: %+v, %v, want not scored", back.Exams[0], err)
	}
}
