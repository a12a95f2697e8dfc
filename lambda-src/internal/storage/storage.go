// Package storage keeps incidents in DynamoDB, one item per incident keyed by
// IncidentId, with optimistic locking on the Version attribute: a write names
// the version it read and fails with ErrConflict if the item moved on.
package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/awsapi"
	"github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/domain"
)

// KeyAttribute is the table's partition key, a string.
const KeyAttribute = "IncidentId"

// ErrNotFound matches (errors.Is) the error for an incident the table lacks.
var ErrNotFound = errors.New("incident not found")

// ErrConflict matches (errors.Is) the error for a write that lost a race: the
// stored version is not the one the caller read.
var ErrConflict = errors.New("incident was changed concurrently")

// ConflictError is the error for a write whose expected version is stale.
type ConflictError struct {
	// IncidentId identifies the incident.
	IncidentId string
	// Expected is the version the writer read; 0 for a create.
	Expected int64
	// Stored is the version in the table.
	Stored int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("save incident %s: expected version %d, table has %d: %v", e.IncidentId, e.Expected, e.Stored, ErrConflict)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// API calls DynamoDB: an *awsapi.Client of awsapi.DynamoDB.
type API interface {
	Call(ctx context.Context, operation string, in, out any, opts ...awsapi.Option) error
}

// Store reads and writes incidents in one table.
type Store struct {
	client API
	table  string
}

// New returns a store for table.
func New(client API, table string) *Store {
	return &Store{client: client, table: table}
}

// item is the stored form of an incident; times are RFC 3339 strings. Empty
// optional fields are left out (see encode).
type item struct {
	IncidentId          string
	StudentId           string
	IncidentDate        string
	Exams               []examItem
	ResolutionDate      string // optional
	IncidentResolved    bool
	AdminActionRequired bool
	Failure             *failureItem // optional
	Version             int64
}

// optionalAttributes are the item's top-level attributes that may be absent;
// Save removes them when the incident has none.
var optionalAttributes = []string{"Failure", "ResolutionDate"}

// examItem stores Result too, for people reading the table. Score is absent
// until the exam is scored.
type examItem struct {
	ExamId             string
	ExamDeadline       string
	Score              *int // optional
	NotificationSent   bool
	Result             int
	TaskTokenDigest    string // optional
	EarlierMessageSent bool   // optional
	ScoredBy           string // optional
}

type failureItem struct {
	Error string
	Cause string
}

func toItem(inc *domain.Incident) item {
	it := item{
		IncidentId:          inc.IncidentId,
		StudentId:           inc.StudentId,
		IncidentDate:        inc.IncidentDate.UTC().Format(time.RFC3339Nano),
		Exams:               make([]examItem, 0, len(inc.Exams)),
		IncidentResolved:    inc.IncidentResolved,
		AdminActionRequired: inc.AdminActionRequired,
		Version:             inc.Version,
	}
	for _, e := range inc.Exams {
		it.Exams = append(it.Exams, examItem{
			ExamId:             e.ExamId,
			ExamDeadline:       e.ExamDeadline.UTC().Format(time.RFC3339Nano),
			Score:              e.Score,
			NotificationSent:   e.NotificationSent,
			Result:             int(e.Result()),
			TaskTokenDigest:    e.TaskTokenDigest,
			EarlierMessageSent: e.EarlierMessageSent,
			ScoredBy:           e.ScoredBy,
		})
	}
	if inc.ResolutionDate != nil {
		it.ResolutionDate = inc.ResolutionDate.UTC().Format(time.RFC3339Nano)
	}
	if inc.Failure != nil {
		it.Failure = &failureItem{Error: inc.Failure.Error, Cause: inc.Failure.Cause}
	}
	return it
}

func fromItem(it item) (domain.Incident, error) {
	inc := domain.Incident{
		IncidentId:          it.IncidentId,
		StudentId:           it.StudentId,
		Exams:               make([]domain.Exam, 0, len(it.Exams)),
		IncidentResolved:    it.IncidentResolved,
		AdminActionRequired: it.AdminActionRequired,
		Version:             it.Version,
	}
	var err error
	if inc.IncidentDate, err = time.Parse(time.RFC3339Nano, it.IncidentDate); err != nil {
		return domain.Incident{}, fmt.Errorf("IncidentDate: %w", err)
	}
	for n, e := range it.Exams {
		deadline, err := time.Parse(time.RFC3339Nano, e.ExamDeadline)
		if err != nil {
			return domain.Incident{}, fmt.Errorf("Exams[%d].ExamDeadline: %w", n, err)
		}
		inc.Exams = append(inc.Exams, domain.Exam{
			ExamId: e.ExamId, ExamDeadline: deadline, Score: e.Score, NotificationSent: e.NotificationSent,
			TaskTokenDigest: e.TaskTokenDigest, EarlierMessageSent: e.EarlierMessageSent, ScoredBy: e.ScoredBy,
		})
	}
	if it.Failure != nil {
		inc.Failure = &domain.Failure{Error: it.Failure.Error, Cause: it.Failure.Cause}
	}
	if it.ResolutionDate != "" {
		resolved, err := time.Parse(time.RFC3339Nano, it.ResolutionDate)
		if err != nil {
			return domain.Incident{}, fmt.Errorf("ResolutionDate: %w", err)
		}
		inc.ResolutionDate = &resolved
	}
	return inc, nil
}

// Load reads incident id with a strongly consistent read. A missing incident
// is an error matching ErrNotFound.
func (s *Store) Load(ctx context.Context, id string) (domain.Incident, error) {
	var out struct{ Item map[string]Value }
	err := s.client.Call(ctx, "GetItem", getItemInput{
		TableName:      s.table,
		Key:            map[string]Value{KeyAttribute: S(id)},
		ConsistentRead: true,
	}, &out)
	if err != nil {
		return domain.Incident{}, fmt.Errorf("load incident %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return domain.Incident{}, fmt.Errorf("load incident %s: %w", id, ErrNotFound)
	}
	inc, err := decode(out.Item)
	if err != nil {
		return domain.Incident{}, fmt.Errorf("load incident %s: %w", id, err)
	}
	return inc, nil
}

func decode(av map[string]Value) (domain.Incident, error) {
	it, err := decodeItem(av)
	if err != nil {
		return domain.Incident{}, err
	}
	return fromItem(it)
}

// Save writes inc if the table still holds the version inc was read at
// (inc.Version; 0 creates the incident and requires that it not exist) and
// then sets inc.Version to the new version. It uses one conditional
// UpdateItem. A stale version is a *ConflictError (errors.Is ErrConflict); an
// update of an incident that vanished matches ErrNotFound.
func (s *Store) Save(ctx context.Context, inc *domain.Incident) error {
	expected := inc.Version
	next := *inc
	next.Version = expected + 1
	attrs := encodeItem(toItem(&next))
	delete(attrs, KeyAttribute)

	names := map[string]string{}
	values := map[string]Value{}
	var set []string
	// In order, so that the same incident always makes the same update.
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		placeholder := fmt.Sprintf("%d", len(set))
		names["#a"+placeholder] = name
		values[":a"+placeholder] = attrs[name]
		set = append(set, "#a"+placeholder+" = :a"+placeholder)
	}
	update := "SET " + strings.Join(set, ", ")
	var remove []string
	for n, name := range optionalAttributes {
		if _, ok := attrs[name]; !ok {
			placeholder := fmt.Sprintf("#r%d", n)
			names[placeholder] = name
			remove = append(remove, placeholder)
		}
	}
	if len(remove) > 0 {
		update += " REMOVE " + strings.Join(remove, ", ")
	}
	condition := "attribute_not_exists(#key)"
	if expected == 0 {
		names["#key"] = KeyAttribute
	} else {
		condition = "#v = :expected"
		names["#v"] = "Version"
		values[":expected"] = N(expected)
	}

	err := s.client.Call(ctx, "UpdateItem", updateItemInput{
		TableName:                           s.table,
		Key:                                 map[string]Value{KeyAttribute: S(inc.IncidentId)},
		UpdateExpression:                    update,
		ConditionExpression:                 condition,
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: "ALL_OLD",
	}, nil)
	var failed *awsapi.Error
	switch {
	case errors.As(err, &failed) && failed.Code == "ConditionalCheckFailedException":
		var doc struct{ Item map[string]Value }
		if err := json.Unmarshal(failed.Body, &doc); err != nil {
			return fmt.Errorf("save incident %s: read stored version: %w", inc.IncidentId, err)
		}
		if len(doc.Item) == 0 {
			return fmt.Errorf("save incident %s at version %d: %w", inc.IncidentId, expected, ErrNotFound)
		}
		d := decoder{}
		stored := d.int64(doc.Item, "Version")
		if d.err != nil {
			return fmt.Errorf("save incident %s: read stored version: %w", inc.IncidentId, d.err)
		}
		return &ConflictError{IncidentId: inc.IncidentId, Expected: expected, Stored: stored}
	case err != nil:
		return fmt.Errorf("save incident %s: %w", inc.IncidentId, err)
	}
	inc.Version = next.Version
	return nil
}
