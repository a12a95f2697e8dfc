package storage_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/ddblocal"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/storage"
)

var server *ddblocal.Server

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("storage: -short, skipping the DynamoDB Local tests")
		os.Exit(m.Run())
	}
	var err error
	server, err = ddblocal.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

var tables atomic.Int64

// newStore returns a store on a fresh table, so tests do not share items.
func newStore(t testing.TB) *storage.Store {
	t.Helper()
	table := newTable(t) // skips under -short, before server is used
	return storage.New(dynamo(), table)
}

// dynamo is a client of DynamoDB Local as the functions make theirs.
func dynamo() *awsapi.Client {
	return awsapi.New(awsapi.Config{
		Region:      ddblocal.Region,
		Credentials: aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"},
		Endpoints:   map[string]string{awsapi.DynamoDB.ID: server.Endpoint},
	}, awsapi.DynamoDB)
}

// newTable creates a fresh incidents table and returns its name.
func newTable(t testing.TB) string {
	t.Helper()
	if server == nil {
		t.Skip("DynamoDB Local is not started under -short")
	}
	name := fmt.Sprintf("incidents-%d", tables.Add(1))
	if err := server.CreateTable(context.Background(), name, storage.KeyAttribute); err != nil {
		t.Fatal(err)
	}
	return name
}

func incident(t testing.TB, exams int) domain.Incident {
	t.Helper()
	inc, err := domain.NewIncident("student-1", "2026-01-02T03:04:05.123456789Z", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= exams; n++ {
		if _, err := inc.ScheduleExam(n, time.Now(), domain.DefaultExamWindow); err != nil {
			t.Fatal(err)
		}
	}
	return inc
}

func intp(n int) *int { return &n }

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	tests := []struct {
		name   string
		mutate func(*domain.Incident)
	}{
		{"no exams", func(*domain.Incident) {}},
		{"unscored exam", func(i *domain.Incident) {
			if _, err := i.ScheduleExam(1, time.Now(), domain.DefaultExamWindow); err != nil {
				t.Fatal(err)
			}
		}},
		{"scored exams", func(i *domain.Incident) {
			for n := 1; n <= 2; n++ {
				if _, err := i.ScheduleExam(n, time.Now(), domain.DefaultExamWindow); err != nil {
					t.Fatal(err)
				}
			}
			i.Exams[1].Score = intp(40)
			i.Exams[0].NotificationSent = true
		}},
		{"scored zero", func(i *domain.Incident) {
			if _, err := i.ScheduleExam(1, time.Now(), domain.DefaultExamWindow); err != nil {
				t.Fatal(err)
			}
			i.Exams[0].Score = intp(0)
		}},
		{"token bound and scored", func(i *domain.Incident) {
			if _, err := i.ScheduleExam(1, time.Now(), domain.DefaultExamWindow); err != nil {
				t.Fatal(err)
			}
			for _, token := range []string{"first", "second"} {
				if err := i.BindTaskToken(i.Exams[0].ExamId, token); err != nil {
					t.Fatal(err)
				}
				if err := i.MarkNotified(i.Exams[0].ExamId, token); err != nil {
					t.Fatal(err)
				}
			}
			if err := i.RecordScore(i.Exams[0].ExamId, "second", 55, "submission"); err != nil {
				t.Fatal(err)
			}
		}},
		{"resolved", func(i *domain.Incident) {
			if _, err := i.ScheduleExam(1, time.Now(), domain.DefaultExamWindow); err != nil {
				t.Fatal(err)
			}
			i.Exams[0].Score = intp(76)
			if err := i.Resolve(time.Now()); err != nil {
				t.Fatal(err)
			}
		}},
		{"failed", func(i *domain.Incident) {
			i.RecordFailure(domain.Failure{Error: "TransientError", Cause: `{"errorMessage":"throttled"}`}, time.Now())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := incident(t, 0)
			tt.mutate(&inc)
			if err := store.Save(ctx, &inc); err != nil {
				t.Fatal(err)
			}
			if inc.Version != 1 {
				t.Errorf("version after create = %d, want 1", inc.Version)
			}
			got, err := store.Load(ctx, inc.IncidentId)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, inc) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, inc)
			}
		})
	}
}

func TestUpdateAndClearOptionalAttributes(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	inc := incident(t, 1)
	if err := store.Save(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	inc.RecordFailure(domain.Failure{Error: "E", Cause: "C"}, time.Now())
	if err := store.Save(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	inc.ResolutionDate = nil
	inc.AdminActionRequired = false
	inc.Failure = nil
	if err := store.Save(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	got, err := store.Load(ctx, inc.IncidentId)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.ResolutionDate != nil || got.AdminActionRequired || got.Failure != nil {
		t.Errorf("after three saves: %+v, want version 3 and ResolutionDate and Failure removed", got)
	}
}

func TestConflict(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	inc := incident(t, 1)
	if err := store.Save(ctx, &inc); err != nil {
		t.Fatal(err)
	}

	t.Run("create over an existing incident", func(t *testing.T) {
		again := inc
		again.Version = 0
		err := store.Save(ctx, &again)
		var conflict *storage.ConflictError
		if !errors.Is(err, storage.ErrConflict) || !errors.As(err, &conflict) || conflict.Stored != 1 || conflict.Expected != 0 {
			t.Fatalf("Save() = %v, want a conflict with stored version 1", err)
		}
	})

	t.Run("stale writer loses and changes nothing", func(t *testing.T) {
		first, second := inc, inc
		first.Exams = append([]domain.Exam(nil), inc.Exams...)
		second.Exams = append([]domain.Exam(nil), inc.Exams...)
		first.Exams[0].Score = intp(90)
		second.Exams[0].Score = intp(10)
		if err := store.Save(ctx, &first); err != nil {
			t.Fatal(err)
		}
		err := store.Save(ctx, &second)
		if !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("second Save() = %v, want ErrConflict", err)
		}
		if second.Version != inc.Version {
			t.Errorf("a failed save moved the caller's version to %d", second.Version)
		}
		got, err := store.Load(ctx, inc.IncidentId)
		if err != nil {
			t.Fatal(err)
		}
		if *got.Exams[0].Score != 90 || got.Version != 2 {
			t.Errorf("stored = score %d version %d, want the first writer's 90 at version 2", *got.Exams[0].Score, got.Version)
		}
	})

	t.Run("concurrent writers: exactly one wins", func(t *testing.T) {
		current, err := store.Load(ctx, inc.IncidentId)
		if err != nil {
			t.Fatal(err)
		}
		const writers = 8
		var wg sync.WaitGroup
		var wins, conflicts atomic.Int32
		for n := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := current
				mine.StudentId = fmt.Sprintf("writer-%d", n)
				switch err := store.Save(ctx, &mine); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, storage.ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != writers-1 {
			t.Errorf("wins=%d conflicts=%d, want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
		}
	})
}

func TestMissing(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	inc := incident(t, 0)

	_, err := store.Load(ctx, inc.IncidentId)
	if !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		t.Errorf("Load(missing) = %v, want ErrNotFound", err)
	}
	inc.Version = 4
	err = store.Save(ctx, &inc)
	if !errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) {
		t.Errorf("Save(missing at version 4) = %v, want ErrNotFound", err)
	}
	if _, err := store.Load(ctx, inc.IncidentId); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed update created the item: %v", err)
	}
}

func TestMissingTable(t *testing.T) {
	if server == nil {
		t.Skip("DynamoDB Local is not started under -short")
	}
	store := storage.New(dynamo(), "no-such-table")
	_, err := store.Load(context.Background(), "x")
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Load from a missing table = %v, want an error that is not ErrNotFound", err)
	}
}

// TestStoredForm reads the raw item: an unscored exam has no Score attribute
// (a score of 0 has one), and the task token is stored only as its digest.
func TestStoredForm(t *testing.T) {
	ctx := context.Background()
	table := newTable(t)
	store := storage.New(dynamo(), table)
	inc := incident(t, 1)
	exam := inc.Exams[0].ExamId
	if err := inc.BindTaskToken(exam, "secret-task-token"); err != nil {
		t.Fatal(err)
	}
	raw := func() map[string]types.AttributeValue {
		t.Helper()
		out, err := server.Client().GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key:       map[string]types.AttributeValue{storage.KeyAttribute: &types.AttributeValueMemberS{Value: inc.IncidentId}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	examAttrs := func(item map[string]types.AttributeValue) map[string]types.AttributeValue {
		return item["Exams"].(*types.AttributeValueMemberL).Value[0].(*types.AttributeValueMemberM).Value
	}

	if err := store.Save(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	item := raw()
	e := examAttrs(item)
	if _, ok := e["Score"]; ok {
		t.Errorf("unscored exam has a Score attribute: %v", e["Score"])
	}
	if d, _ := e["TaskTokenDigest"].(*types.AttributeValueMemberS); d == nil || d.Value != domain.TaskTokenDigest("secret-task-token") {
		t.Errorf("TaskTokenDigest = %v", e["TaskTokenDigest"])
	}
	if strings.Contains(fmt.Sprint(item), "secret-task-token") {
		t.Errorf("the item holds the task token itself: %v", item)
	}

	if err := inc.RecordScore(exam, "secret-task-token", 0, "s"); err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, &inc); err != nil {
		t.Fatal(err)
	}
	if score, _ := examAttrs(raw())["Score"].(*types.AttributeValueMemberN); score == nil || score.Value != "0" {
		t.Errorf("an exam scored 0 has Score %v, want the number 0", examAttrs(raw())["Score"])
	}
}

// sdkItem is the stored form as the releases before this package wrote and
// read it, with aws-sdk-go-v2's attributevalue: the reference the store's
// own encoding is checked against, both ways.
type sdkItem struct {
	IncidentId          string
	StudentId           string
	IncidentDate        string
	Exams               []sdkExam
	ResolutionDate      string `dynamodbav:",omitempty"`
	IncidentResolved    bool
	AdminActionRequired bool
	Failure             *struct{ Error, Cause string } `dynamodbav:",omitempty"`
	Version             int64
}

type sdkExam struct {
	ExamId             string
	ExamDeadline       string
	Score              *int `dynamodbav:",omitempty"`
	NotificationSent   bool
	Result             int
	TaskTokenDigest    string `dynamodbav:",omitempty"`
	EarlierMessageSent bool   `dynamodbav:",omitempty"`
	ScoredBy           string `dynamodbav:",omitempty"`
}

// TestSameStoredFormAsSDK: incidents in every state the workflow gives them
// are stored exactly as aws-sdk-go-v2's attributevalue marshals the same
// item (so earlier releases read them), and items it marshalled load back
// as the same incidents.
func TestSameStoredFormAsSDK(t *testing.T) {
	ctx := context.Background()
	table := newTable(t)
	store := storage.New(dynamo(), table)
	sdk := server.Client()
	raw := func(id string) map[string]types.AttributeValue {
		t.Helper()
		out, err := sdk.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{storage.KeyAttribute: &types.AttributeValueMemberS{Value: id}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}

	fresh := incident(t, 2)
	none := incident(t, 0)
	scored := incident(t, 3)
	if err := scored.BindTaskToken(scored.Exams[0].ExamId, "token-0"); err != nil {
		t.Fatal(err)
	}
	if err := scored.RecordScore(scored.Exams[0].ExamId, "token-0", 0, "submission-0"); err != nil {
		t.Fatal(err)
	}
	scored.Exams[1].NotificationSent = true
	scored.Exams[1].EarlierMessageSent = true
	resolved := incident(t, 1)
	at := time.Date(2026, 5, 6, 7, 8, 9, 123000000, time.UTC)
	resolved.ResolutionDate = &at
	resolved.IncidentResolved = true
	resolved.AdminActionRequired = true
	resolved.Failure = &domain.Failure{Error: "States.TaskFailed", Cause: `{"errorMessage":"x \"quoted\" \u00e9"}`}

	for name, inc := range map[string]domain.Incident{"fresh": fresh, "no exams": none, "scored": scored, "resolved with a failure": resolved} {
		saved := inc.Clone()
		if err := store.Save(ctx, &saved); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := raw(inc.IncidentId)
		var decoded sdkItem
		if err := attributevalue.UnmarshalMap(got, &decoded); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := attributevalue.MarshalMap(decoded)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: stored\n%v\nthe SDK marshals the same item as\n%v", name, got, want)
		}

		// Written by the SDK, read by the store.
		decoded.IncidentId += "-sdk"
		item, err := attributevalue.MarshalMap(decoded)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sdk.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		loaded, err := store.Load(ctx, decoded.IncidentId)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		loaded.IncidentId = saved.IncidentId
		if !reflect.DeepEqual(loaded, saved) {
			t.Errorf("%s: the SDK's item loads as\n%+v\nwant\n%+v", name, loaded, saved)
		}
	}
}

// TestMalformedItem: an attribute of the wrong type fails the load, naming
// it, instead of loading a half-read incident.
func TestMalformedItem(t *testing.T) {
	ctx := context.Background()
	table := newTable(t)
	for name, item := range map[string]map[string]types.AttributeValue{
		"Version": {"Version": &types.AttributeValueMemberS{Value: "1"}},
		"Exams[0].ExamDeadline": {"Exams": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"ExamDeadline": &types.AttributeValueMemberN{Value: "1"}}}}}},
		"StudentId": {"StudentId": &types.AttributeValueMemberSS{Value: []string{"a"}}},
	} {
		id := fmt.Sprintf("bad-%d", len(name))
		item[storage.KeyAttribute] = &types.AttributeValueMemberS{Value: id}
		if _, err := server.Client().PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		_, err := storage.New(dynamo(), table).Load(ctx, id)
		if err == nil || !strings.Contains(err.Error(), name+" is of type") {
			t.Errorf("%s of the wrong type: err = %v, want one naming it", name, err)

		}
	}
}
