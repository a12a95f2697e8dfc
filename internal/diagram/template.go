package diagram

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// key names one resource: its stack and its logical ID in that stack.
type key struct{ stack, id string }

// resource is one entry of a template's Resources section.
type resource struct {
	key
	typ   string
	path  string // Metadata aws:cdk:path, or stack/logicalID when absent
	props map[string]any
}

// ref is one reference found while walking a resource's properties: the resource it points
// at (possibly in another stack, after resolving Fn::GetStackOutput / Fn::ImportValue) and
// the property path where it was found, used to label the edge.
type ref struct {
	to    key
	attr  string   // the Fn::GetAtt attribute, "" for Ref
	where []string // property keys (and list entries' Name/Key values) leading to it
}

// model is every stack's resources, outputs and exports, indexed for reference resolution.
type model struct {
	stacks    []string
	resources map[key]*resource
	outputs   map[string]map[string]any // stack -> output name -> Value
	exports   map[string]struct {
		stack string
		value any
	}
}

// newModel indexes the templates (stack name -> parsed template JSON).
func newModel(templates map[string]map[string]any) (*model, error) {
	m := &model{
		resources: map[key]*resource{},
		outputs:   map[string]map[string]any{},
		exports: map[string]struct {
			stack string
			value any
		}{},
	}
	for stack, tmpl := range templates {
		m.stacks = append(m.stacks, stack)
		res, ok := tmpl["Resources"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("stack %s: template has no Resources object", stack)
		}
		for id, v := range res {
			r, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("stack %s: resource %s is not an object", stack, id)
			}
			typ, _ := r["Type"].(string)
			if typ == "" {
				return nil, fmt.Errorf("stack %s: resource %s has no Type", stack, id)
			}
			props, _ := r["Properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			path := stack + "/" + id
			if md, ok := r["Metadata"].(map[string]any); ok {
				if p, ok := md["aws:cdk:path"].(string); ok && p != "" {
					path = p
				}
			}
			k := key{stack, id}
			m.resources[k] = &resource{key: k, typ: typ, path: path, props: props}
		}
		m.outputs[stack] = map[string]any{}
		outs, _ := tmpl["Outputs"].(map[string]any)
		for name, v := range outs {
			o, ok := v.(map[string]any)
			if !ok {
				continue
			}
			m.outputs[stack][name] = o["Value"]
			if exp, ok := o["Export"].(map[string]any); ok {
				if n, ok := exp["Name"].(string); ok {
					m.exports[n] = struct {
						stack string
						value any
					}{stack, o["Value"]}
				}
			}
		}
	}
	slices.Sort(m.stacks)
	return m, nil
}

// sortedResources returns every resource ordered by stack, then logical ID.
func (m *model) sortedResources() []*resource {
	out := make([]*resource, 0, len(m.resources))
	for _, r := range m.resources {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *resource) int {
		if c := strings.Compare(a.stack, b.stack); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return out
}

var subRE = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// refs returns every reference in v, found in stack, in document order (maps by sorted key).
// skip names top-level property keys not to walk.
func (m *model) refs(stack string, v any, skip ...string) []ref {
	var out []ref
	var walk func(stack string, v any, where []string, depth int)
	walk = func(stack string, v any, where []string, depth int) {
		if depth > 64 {
			return
		}
		add := func(id, attr string) {
			k := key{stack, id}
			if _, ok := m.resources[k]; ok {
				out = append(out, ref{to: k, attr: attr, where: slices.Clone(where)})
			}
		}
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 1 {
				if id, ok := x["Ref"].(string); ok {
					add(id, "")
					return
				}
				if ga, ok := x["Fn::GetAtt"]; ok {
					switch g := ga.(type) {
					case []any:
						if len(g) == 2 {
							id, _ := g[0].(string)
							attr, _ := g[1].(string)
							add(id, attr)
						}
					case string:
						id, attr, _ := strings.Cut(g, ".")
						add(id, attr)
					}
					return
				}
				if sub, ok := x["Fn::Sub"]; ok {
					s, vars := "", any(nil)
					switch sv := sub.(type) {
					case string:
						s = sv
					case []any:
						if len(sv) > 0 {
							s, _ = sv[0].(string)
						}
						if len(sv) > 1 {
							vars = sv[1]
						}
					}
					for _, mm := range subRE.FindAllStringSubmatch(s, -1) {
						id, attr, _ := strings.Cut(mm[1], ".")
						add(id, attr)
					}
					if vars != nil {
						walk(stack, vars, where, depth+1)
					}
					return
				}
				if gso, ok := x["Fn::GetStackOutput"].(map[string]any); ok {
					other, _ := gso["StackName"].(string)
					name, _ := gso["OutputName"].(string)
					if val, ok := m.outputs[other][name]; ok && other != stack {
						walk(other, val, where, depth+1)
					}
					return
				}
				if iv, ok := x["Fn::ImportValue"]; ok {
					if name, ok := iv.(string); ok {
						if e, ok := m.exports[name]; ok && e.stack != stack {
							walk(e.stack, e.value, where, depth+1)
						}
					}
					return
				}
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				if depth == 0 && slices.Contains(skip, k) {
					continue
				}
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				w := where
				// Intrinsic functions say nothing about what the value is for.
				if !strings.HasPrefix(k, "Fn::") {
					w = append(where, k)
				}
				walk(stack, x[k], w, depth+1)
			}
		case []any:
			for _, e := range x {
				w := where
				// Name/Value lists (ECS environment and secrets) label by the entry's name.
				if em, ok := e.(map[string]any); ok {
					if n, ok := em["Name"].(string); ok {
						w = append(where, n)
					}
				}
				walk(stack, e, w, depth+1)
			}
		}
	}
	walk(stack, v, nil, 0)
	return out
}

// str returns props[k] when it is a string or a number, as text.
func str(props map[string]any, k string) string {
	switch v := props[k].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%g", v)
	case int:
		return fmt.Sprint(v)
	case bool:
		return fmt.Sprint(v)
	}
	return ""
}

// tag returns the value of the tag named k in props.Tags, or "".
func tag(props map[string]any, k string) string {
	tags, _ := props["Tags"].([]any)
	for _, t := range tags {
		if tm, ok := t.(map[string]any); ok && tm["Key"] == k {
			v, _ := tm["Value"].(string)
			return v
		}
	}
	return ""
}
