package domain

import (
	"encoding/json"
	"errors"
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
			if err := inc.Validate(); err != nil {
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

func TestScheduleExam(t *testing.T) {
	inc := newIncident(t)
	for n := 1; n <= MaxExams; n++ {
		at := now.Add(time.Duration(n) * time.Hour)
		exam, err := inc.ScheduleExam(at, DefaultExamWindow)
		if err != nil {
			t.Fatalf("exam %d: %v", n, err)
		}
		if want := at.Add(7 * 24 * time.Hour); !exam.ExamDeadline.Equal(want) {
			t.Errorf("exam %d deadline = %v, want %v", n, exam.ExamDeadline, want)
		}
		if inc.Exams[0] != exam || len(inc.Exams) != n {
			t.Errorf("exam %d is not the current exam of %d: %+v", n, n, inc.Exams)
		}
		if exam.Score != 0 || exam.NotificationSent {
			t.Errorf("exam %d = %+v, want unscored and not notified", n, exam)
		}
	}
	_, err := inc.ScheduleExam(now, DefaultExamWindow)
	var exceeded *StudentExceededAllowableExamRetries
	if !errors.As(err, &exceeded) || exceeded.Exams != MaxExams || exceeded.IncidentId != inc.IncidentId {
		t.Fatalf("fourth exam: error = %#v, want *StudentExceededAllowableExamRetries", err)
	}
	if len(inc.Exams) != MaxExams {
		t.Errorf("fourth exam changed the incident: %d exams", len(inc.Exams))
	}
}

func TestScheduleExamWindow(t *testing.T) {
	tests := []struct {
		window time.Duration
		ok     bool
	}{{time.Hour, true}, {DefaultExamWindow, true}, {0, false}, {-time.Hour, false}}
	for _, tt := range tests {
		inc := newIncident(t)
		exam, err := inc.ScheduleExam(now, tt.window)
		if (err == nil) != tt.ok {
			t.Errorf("window %s: error = %v, want ok=%v", tt.window, err, tt.ok)
		}
		if tt.ok && !exam.ExamDeadline.Equal(now.Add(tt.window)) {
			t.Errorf("window %s: deadline %v", tt.window, exam.ExamDeadline)
		}
	}
}

func TestRecordScore(t *testing.T) {
	scheduled := func(t *testing.T, exams int) Incident {
		inc := newIncident(t)
		for range exams {
			if _, err := inc.ScheduleExam(now, DefaultExamWindow); err != nil {
				t.Fatal(err)
			}
		}
		return inc
	}
	tests := []struct {
		name    string
		setup   func(*Incident) string
		score   int
		wantErr any
	}{
		{"current exam", func(i *Incident) string { return i.Exams[0].ExamId }, 80, nil},
		{"zero", func(i *Incident) string { return i.Exams[0].ExamId }, 0, nil},
		{"hundred", func(i *Incident) string { return i.Exams[0].ExamId }, 100, nil},
		{"negative", func(i *Incident) string { return i.Exams[0].ExamId }, -1, &InvalidIncident{}},
		{"above hundred", func(i *Incident) string { return i.Exams[0].ExamId }, 101, &InvalidIncident{}},
		{"unknown exam", func(i *Incident) string { return "8c7e62f5-0b7e-4d38-9d7c-5a8c8d1c2b11" }, 80, &ExamNotFound{}},
		{"older exam", func(i *Incident) string { return i.Exams[1].ExamId }, 80, &ExamClosed{}},
		{"already scored", func(i *Incident) string { i.Exams[0].Score = 50; return i.Exams[0].ExamId }, 80, &ExamClosed{}},
		{"closed incident", func(i *Incident) string { i.AdminActionRequired = true; return i.Exams[0].ExamId }, 80, &ExamClosed{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := scheduled(t, 2)
			id := tt.setup(&inc)
			before, _ := json.Marshal(inc)
			err := inc.RecordScore(id, tt.score)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if inc.Exams[0].Score != tt.score {
					t.Errorf("score = %d, want %d", inc.Exams[0].Score, tt.score)
				}
				return
			}
			if err == nil || reflect.TypeOf(err) != reflect.TypeOf(tt.wantErr) {
				t.Fatalf("error = %#v, want %T", err, tt.wantErr)
			}
			if after, _ := json.Marshal(inc); string(after) != string(before) {
				t.Errorf("a rejected score changed the incident:\n%s\n%s", before, after)
			}
		})
	}
}

func TestResolveAndEscalate(t *testing.T) {
	withScore := func(score int) Incident {
		inc := newIncident(t)
		if _, err := inc.ScheduleExam(now, DefaultExamWindow); err != nil {
			t.Fatal(err)
		}
		inc.Exams[0].Score = score
		return inc
	}
	later := now.Add(time.Hour)

	passed := withScore(76)
	if err := passed.Resolve(later); err != nil {
		t.Fatalf("resolve a pass: %v", err)
	}
	if !passed.IncidentResolved || passed.AdminActionRequired || !passed.ResolutionDate.Equal(later) {
		t.Errorf("resolved incident = %+v", passed)
	}
	if err := passed.Resolve(later); err == nil {
		t.Error("resolving twice succeeded")
	}
	if err := passed.Escalate(later); err == nil {
		t.Error("escalating a resolved incident succeeded")
	}

	failed := withScore(75)
	if err := failed.Resolve(later); err == nil {
		t.Error("resolving a failed exam succeeded")
	}
	if err := failed.Escalate(later); err != nil {
		t.Fatalf("escalate: %v", err)
	}
	if !failed.AdminActionRequired || failed.IncidentResolved || !failed.ResolutionDate.Equal(later) {
		t.Errorf("escalated incident = %+v", failed)
	}
	if err := failed.Escalate(later.Add(time.Hour)); err != nil || !failed.ResolutionDate.Equal(later) {
		t.Errorf("escalating twice: err=%v date=%v, want the first date kept", err, failed.ResolutionDate)
	}
	if _, err := failed.ScheduleExam(later, DefaultExamWindow); err == nil {
		t.Error("scheduling an exam on a closed incident succeeded")
	}

	noExam := newIncident(t)
	if err := noExam.Resolve(later); err == nil {
		t.Error("resolving without an exam succeeded")
	}
}

func TestMarkNotified(t *testing.T) {
	inc := newIncident(t)
	exam, err := inc.ScheduleExam(now, DefaultExamWindow)
	if err != nil {
		t.Fatal(err)
	}
	if err := inc.MarkNotified(exam.ExamId); err != nil || !inc.Exams[0].NotificationSent {
		t.Errorf("MarkNotified: err=%v exam=%+v", err, inc.Exams[0])
	}
	var notFound *ExamNotFound
	if err := inc.MarkNotified("nope"); !errors.As(err, &notFound) {
		t.Errorf("MarkNotified(unknown) = %v, want *ExamNotFound", err)
	}
}

func TestValidate(t *testing.T) {
	valid := func() Incident {
		inc := newIncident(t)
		if _, err := inc.ScheduleExam(now, DefaultExamWindow); err != nil {
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
		{"missing id", func(i *Incident) { i.IncidentId = "" }, "IncidentId"},
		{"id not a uuid", func(i *Incident) { i.IncidentId = "123" }, "IncidentId"},
		{"blank student", func(i *Incident) { i.StudentId = " \t" }, "StudentId"},
		{"no date", func(i *Incident) { i.IncidentDate = time.Time{} }, "IncidentDate"},
		{"bad exam id", func(i *Incident) { i.Exams[0].ExamId = "x" }, "Exams[0].ExamId"},
		{"bad score", func(i *Incident) { i.Exams[0].Score = 101 }, "Exams[0].Score"},
		{"too many exams", func(i *Incident) { i.Exams = append(i.Exams, i.Exams[0], i.Exams[0], i.Exams[0]) }, "Exams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := valid()
			tt.mutate(&inc)
			err := inc.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var invalid *InvalidIncident
			if !errors.As(err, &invalid) || invalid.Field != tt.field {
				t.Fatalf("Validate() = %v, want InvalidIncident on %s", err, tt.field)
			}
		})
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
			Score: 80, NotificationSent: true,
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
	data, _ = json.Marshal(inc)
	if strings.Contains(string(data), "ResolutionDate") {
		t.Errorf("unresolved incident carries ResolutionDate: %s", data)
	}

	var back Incident
	tampered := strings.Replace(want, `"Result":0`, `"Result":2`, 1)
	if err := json.Unmarshal([]byte(tampered), &back); err != nil {
		t.Fatal(err)
	}
	if back.Exams[0].Result() != Pass || back.Exams[0].Score != 80 {
		t.Errorf("Result must follow Score, not the input: %+v", back.Exams[0])
	}
}
