package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Value is one DynamoDB attribute value in the JSON form of DynamoDB's API:
// an object with one member named by the type ({"S": "x"}, {"N": "1"},
// {"BOOL": true}, {"NULL": true}, {"L": [...]}, {"M": {...}}). The sets and
// binary types are never stored here: reading one fails, naming the
// attribute.
type Value struct {
	kind string // "S", "N", "BOOL", "NULL", "L" or "M"
	str  string // S, N
	b    bool   // BOOL
	list []Value
	m    map[string]Value
}

// S is a string value.
func S(s string) Value { return Value{kind: "S", str: s} }

// N is a number value.
func N(n int64) Value { return Value{kind: "N", str: strconv.FormatInt(n, 10)} }

// Bool is a BOOL value.
func Bool(b bool) Value { return Value{kind: "BOOL", b: b} }

// L is a list value.
func L(vs ...Value) Value { return Value{kind: "L", list: append([]Value{}, vs...)} }

// M is a map value.
func M(m map[string]Value) Value { return Value{kind: "M", m: m} }

// MarshalJSON writes the one-member object.
func (v Value) MarshalJSON() ([]byte, error) {
	var member any
	switch v.kind {
	case "S", "N":
		member = v.str
	case "BOOL":
		member = v.b
	case "NULL":
		member = true
	case "L":
		member = v.list
		if v.list == nil {
			member = []Value{}
		}
	case "M":
		member = v.m
		if v.m == nil {
			member = map[string]Value{}
		}
	default:
		return nil, fmt.Errorf("attribute value of type %q: not one this table stores", v.kind)
	}
	return json.Marshal(map[string]any{v.kind: member})
}

// UnmarshalJSON reads the one-member object.
func (v *Value) UnmarshalJSON(data []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return err
	}
	if len(members) != 1 {
		return fmt.Errorf("attribute value %s: want exactly one type", bytes.TrimSpace(data))
	}
	for kind, raw := range members {
		*v = Value{kind: kind}
		switch kind {
		case "S", "N":
			return json.Unmarshal(raw, &v.str)
		case "BOOL":
			return json.Unmarshal(raw, &v.b)
		case "NULL":
			return nil
		case "L":
			return json.Unmarshal(raw, &v.list)
		case "M":
			return json.Unmarshal(raw, &v.m)
		default:
			// A set or binary value: kept as its type alone, so that reading
			// it fails naming the attribute (see decoder.get).
			return nil
		}
	}
	return nil
}

// getItemInput and updateItemInput are the members of DynamoDB's GetItem and
// UpdateItem requests the store sends.
type getItemInput struct {
	TableName      string
	Key            map[string]Value
	ConsistentRead bool
}

type updateItemInput struct {
	TableName                           string
	Key                                 map[string]Value
	UpdateExpression                    string
	ConditionExpression                 string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]Value
	ReturnValuesOnConditionCheckFailure string
}

// encodeItem is the stored form of it. Optional fields that are empty are
// left out, as earlier releases wrote them (aws-sdk-go-v2's attributevalue
// with omitempty; storage_test.go reads and writes items with it).
func encodeItem(it item) map[string]Value {
	exams := make([]Value, 0, len(it.Exams))
	for _, e := range it.Exams {
		m := map[string]Value{
			"ExamId":           S(e.ExamId),
			"ExamDeadline":     S(e.ExamDeadline),
			"NotificationSent": Bool(e.NotificationSent),
			"Result":           N(int64(e.Result)),
		}
		if e.Score != nil {
			m["Score"] = N(int64(*e.Score))
		}
		if e.TaskTokenDigest != "" {
			m["TaskTokenDigest"] = S(e.TaskTokenDigest)
		}
		if e.EarlierMessageSent {
			m["EarlierMessageSent"] = Bool(true)
		}
		if e.ScoredBy != "" {
			m["ScoredBy"] = S(e.ScoredBy)
		}
		exams = append(exams, M(m))
	}
	attrs := map[string]Value{
		"IncidentId":          S(it.IncidentId),
		"StudentId":           S(it.StudentId),
		"IncidentDate":        S(it.IncidentDate),
		"Exams":               L(exams...),
		"IncidentResolved":    Bool(it.IncidentResolved),
		"AdminActionRequired": Bool(it.AdminActionRequired),
		"Version":             N(it.Version),
	}
	if it.ResolutionDate != "" {
		attrs["ResolutionDate"] = S(it.ResolutionDate)
	}
	if it.Failure != nil {
		attrs["Failure"] = M(map[string]Value{"Error": S(it.Failure.Error), "Cause": S(it.Failure.Cause)})
	}
	return attrs
}

// decodeItem reads a stored item. A missing or NULL attribute reads as the
// field's zero value; an attribute of another type is an error naming it.
func decodeItem(attrs map[string]Value) (item, error) {
	d := decoder{}
	it := item{
		IncidentId:          d.string(attrs, "IncidentId"),
		StudentId:           d.string(attrs, "StudentId"),
		IncidentDate:        d.string(attrs, "IncidentDate"),
		ResolutionDate:      d.string(attrs, "ResolutionDate"),
		IncidentResolved:    d.bool(attrs, "IncidentResolved"),
		AdminActionRequired: d.bool(attrs, "AdminActionRequired"),
		Version:             d.int64(attrs, "Version"),
	}
	for n, v := range d.list(attrs, "Exams") {
		e := d.mapAt(v, fmt.Sprintf("Exams[%d]", n))
		if e == nil {
			continue
		}
		d.path = fmt.Sprintf("Exams[%d].", n)
		exam := examItem{
			ExamId:             d.string(e, "ExamId"),
			ExamDeadline:       d.string(e, "ExamDeadline"),
			NotificationSent:   d.bool(e, "NotificationSent"),
			Result:             int(d.int64(e, "Result")),
			TaskTokenDigest:    d.string(e, "TaskTokenDigest"),
			EarlierMessageSent: d.bool(e, "EarlierMessageSent"),
			ScoredBy:           d.string(e, "ScoredBy"),
		}
		if v, ok := e["Score"]; ok && v.kind != "NULL" {
			score := int(d.int64(e, "Score"))
			exam.Score = &score
		}
		d.path = ""
		it.Exams = append(it.Exams, exam)
	}
	if v, ok := attrs["Failure"]; ok && v.kind != "NULL" {
		if f := d.mapAt(v, "Failure"); f != nil {
			d.path = "Failure."
			it.Failure = &failureItem{Error: d.string(f, "Error"), Cause: d.string(f, "Cause")}
			d.path = ""
		}
	}
	return it, d.err
}

// decoder reads typed attributes, keeping the first error.
type decoder struct {
	path string // prefix of the names in errors
	err  error
}

// get returns attribute name if it is present, not NULL and of kind.
func (d *decoder) get(m map[string]Value, name, kind string) (Value, bool) {
	v, ok := m[name]
	if !ok || v.kind == "NULL" {
		return Value{}, false
	}
	if v.kind != kind {
		d.fail(fmt.Errorf("%s%s is of type %s, want %s", d.path, name, v.kind, kind))
		return Value{}, false
	}
	return v, true
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) string(m map[string]Value, name string) string {
	v, _ := d.get(m, name, "S")
	return v.str
}

func (d *decoder) bool(m map[string]Value, name string) bool {
	v, _ := d.get(m, name, "BOOL")
	return v.b
}

func (d *decoder) int64(m map[string]Value, name string) int64 {
	v, ok := d.get(m, name, "N")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v.str, 10, 64)
	if err != nil {
		d.fail(fmt.Errorf("%s%s=%s: want a whole number", d.path, name, v.str))
	}
	return n
}

func (d *decoder) list(m map[string]Value, name string) []Value {
	v, _ := d.get(m, name, "L")
	return v.list
}

// mapAt returns v's members if v is a map.
func (d *decoder) mapAt(v Value, path string) map[string]Value {
	switch v.kind {
	case "M":
		return v.m
	case "NULL":
		return nil
	default:
		d.fail(fmt.Errorf("%s is of type %s, want M", path, v.kind))
		return nil
	}
}
