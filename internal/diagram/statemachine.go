package diagram

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// aslMachine is the part of an Amazon States Language definition the diagram draws.
type aslMachine struct {
	StartAt string              `json:"StartAt"`
	States  map[string]aslState `json:"States"`
}

type aslState struct {
	Type           string           `json:"Type"`
	Next           string           `json:"Next"`
	End            bool             `json:"End"`
	Default        string           `json:"Default"`
	Resource       string           `json:"Resource"`
	TimeoutSeconds *int             `json:"TimeoutSeconds"`
	Choices        []map[string]any `json:"Choices"`
	Catch          []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		Next        string   `json:"Next"`
	} `json:"Catch"`
	Retry []struct {
		ErrorEquals []string `json:"ErrorEquals"`
		MaxAttempts *int     `json:"MaxAttempts"`
	} `json:"Retry"`
	Branches      []aslMachine `json:"Branches"`
	Iterator      *aslMachine  `json:"Iterator"`
	ItemProcessor *aslMachine  `json:"ItemProcessor"`
	Error         string       `json:"Error"`
}

// StateMachine renders an Amazon States Language definition as a Mermaid stateDiagram-v2:
// every state with its type, Next transitions, Choice branches labelled with their
// conditions and the Default, Catch transitions labelled with the error names, and End.
// Parallel branches and Map iterators become composite states. States are written in sorted
// order, so the output depends only on the definition.
func StateMachine(definition []byte) (string, error) {
	var sm aslMachine
	if err := json.Unmarshal(definition, &sm); err != nil {
		return "", fmt.Errorf("parse state machine definition: %w", err)
	}
	var b strings.Builder
	b.WriteString("stateDiagram-v2\n")
	if err := writeMachine(&b, sm, "    ", "definition"); err != nil {
		return "", err
	}
	return b.String(), nil
}

// writeMachine writes one (possibly nested) machine at the given indentation.
func writeMachine(b *strings.Builder, sm aslMachine, indent, where string) error {
	if sm.StartAt == "" {
		return fmt.Errorf("%s: StartAt is missing", where)
	}
	if _, ok := sm.States[sm.StartAt]; !ok {
		return fmt.Errorf("%s: StartAt names %q, which is not a state", where, sm.StartAt)
	}
	names := make([]string, 0, len(sm.States))
	for n := range sm.States {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := sm.States[n]
		for _, t := range targets(s) {
			if _, ok := sm.States[t]; !ok {
				return fmt.Errorf("%s: state %q goes to %q, which is not a state", where, n, t)
			}
		}
		if s.Type == "" {
			return fmt.Errorf("%s: state %q has no Type", where, n)
		}
	}

	for _, n := range names {
		s := sm.States[n]
		id := stateID(n)
		if id != n {
			fmt.Fprintf(b, "%sstate %s as %s\n", indent, quote(n), id)
		}
		nested := s.Branches
		if s.Iterator != nil {
			nested = append(nested, *s.Iterator)
		}
		if s.ItemProcessor != nil {
			nested = append(nested, *s.ItemProcessor)
		}
		if len(nested) > 0 {
			fmt.Fprintf(b, "%sstate %s {\n", indent, id)
			for i, sub := range nested {
				if i > 0 {
					fmt.Fprintf(b, "%s    --\n", indent)
				}
				if err := writeMachine(b, sub, indent+"    ", where+"/"+n); err != nil {
					return err
				}
			}
			fmt.Fprintf(b, "%s}\n", indent)
		}
		fmt.Fprintf(b, "%s%s : %s\n", indent, id, stateText(n, s))
	}

	fmt.Fprintf(b, "%s[*] --> %s\n", indent, stateID(sm.StartAt))
	for _, n := range names {
		s := sm.States[n]
		id := stateID(n)
		if s.Next != "" {
			fmt.Fprintf(b, "%s%s --> %s\n", indent, id, stateID(s.Next))
		}
		for _, c := range s.Choices {
			next, _ := c["Next"].(string)
			fmt.Fprintf(b, "%s%s --> %s : %s\n", indent, id, stateID(next), edgeText(condition(c)))
		}
		if s.Default != "" {
			fmt.Fprintf(b, "%s%s --> %s : default\n", indent, id, stateID(s.Default))
		}
		for _, c := range s.Catch {
			fmt.Fprintf(b, "%s%s --> %s : catch %s\n", indent, id, stateID(c.Next), edgeText(strings.Join(c.ErrorEquals, ", ")))
		}
		if s.End || s.Type == "Succeed" || s.Type == "Fail" {
			fmt.Fprintf(b, "%s%s --> [*]\n", indent, id)
		}
	}
	return nil
}

// targets are every state a state can go to.
func targets(s aslState) []string {
	var out []string
	if s.Next != "" {
		out = append(out, s.Next)
	}
	if s.Default != "" {
		out = append(out, s.Default)
	}
	for _, c := range s.Choices {
		if n, ok := c["Next"].(string); ok {
			out = append(out, n)
		}
	}
	for _, c := range s.Catch {
		out = append(out, c.Next)
	}
	return out
}

// stateText is the line shown inside a state: its type, the service integration it calls,
// its timeout and retries.
func stateText(name string, s aslState) string {
	parts := []string{s.Type}
	if s.Resource != "" {
		parts = append(parts, integration(s.Resource))
	}
	if s.TimeoutSeconds != nil {
		parts = append(parts, fmt.Sprintf("timeout %ds", *s.TimeoutSeconds))
	}
	if len(s.Retry) > 0 {
		max := 0
		for _, r := range s.Retry {
			n := 3 // the ASL default
			if r.MaxAttempts != nil {
				n = *r.MaxAttempts
			}
			max = maxInt(max, n)
		}
		parts = append(parts, fmt.Sprintf("retries up to %d", max))
	}
	if s.Error != "" {
		parts = append(parts, "error "+s.Error)
	}
	return edgeText(strings.Join(parts, " · "))
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// integration shortens a Task resource: "arn:aws:states:::lambda:invoke.waitForTaskToken"
// becomes "lambda invoke (waitForTaskToken)". Placeholders and plain ARNs keep their last
// part only, so no account or generated name appears.
func integration(res string) string {
	const prefix = "arn:aws:states:::"
	if rest, ok := strings.CutPrefix(res, prefix); ok {
		svc, action, _ := strings.Cut(rest, ":")
		action, pattern, _ := strings.Cut(action, ".")
		out := strings.TrimSpace(svc + " " + action)
		if pattern != "" {
			out += " (" + pattern + ")"
		}
		return out
	}
	if strings.HasPrefix(res, "${") {
		return res
	}
	parts := strings.Split(res, ":")
	return parts[len(parts)-1]
}

// comparisons maps ASL comparison operators to the symbols shown on Choice edges.
var comparisons = map[string]string{
	"Equals": "==", "LessThan": "<", "GreaterThan": ">",
	"LessThanEquals": "<=", "GreaterThanEquals": ">=", "Matches": "matches",
}

// condition renders one Choice rule (or a nested And/Or/Not) as text.
func condition(c map[string]any) string {
	if expr, ok := c["Condition"].(string); ok {
		return expr // JSONata
	}
	for _, op := range []string{"And", "Or"} {
		if subs, ok := c[op].([]any); ok {
			var parts []string
			for _, s := range subs {
				if sm, ok := s.(map[string]any); ok {
					parts = append(parts, "("+condition(sm)+")")
				}
			}
			return strings.Join(parts, " "+strings.ToLower(op)+" ")
		}
	}
	if sub, ok := c["Not"].(map[string]any); ok {
		return "not (" + condition(sub) + ")"
	}
	v, _ := c["Variable"].(string)
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch k {
		case "Variable", "Next", "Comment", "Assign", "Output":
			continue
		}
		val := c[k]
		op := k
		isPath := strings.HasSuffix(op, "Path") && op != "Path"
		op = strings.TrimSuffix(op, "Path")
		switch {
		case strings.HasPrefix(op, "Is"):
			if val == false {
				return v + " is not " + strings.ToLower(strings.TrimPrefix(op, "Is"))
			}
			return v + " is " + strings.ToLower(strings.TrimPrefix(op, "Is"))
		}
		for _, typ := range []string{"String", "Numeric", "Boolean", "Timestamp"} {
			if rest, ok := strings.CutPrefix(op, typ); ok {
				if sym, ok := comparisons[rest]; ok {
					return fmt.Sprintf("%s %s %s", v, sym, value(val, isPath))
				}
			}
		}
		return fmt.Sprintf("%s %s %s", v, k, value(val, isPath))
	}
	return v
}

// value renders a comparison operand: a path as is, a literal as JSON.
func value(v any, isPath bool) string {
	if s, ok := v.(string); ok && isPath {
		return s
	}
	raw, _ := json.Marshal(v)
	return string(raw)
}

// stateID makes a state name a Mermaid state ID (letters, digits and underscores).
func stateID(name string) string {
	id := nonWord.ReplaceAllString(name, "_")
	if id != name {
		id = "s_" + strings.Trim(id, "_")
	}
	return id
}

// edgeText keeps Mermaid from reading a label's characters as syntax: a colon or semicolon
// ends a state-diagram label, and # starts an entity.
func edgeText(s string) string {
	return strings.NewReplacer(":", "#58;", ";", "#59;", "\n", " ").Replace(s)
}
