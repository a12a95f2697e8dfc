package diagram

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// node is one box of the architecture diagram: a main resource, or an AWS service outside
// the stacks (stack == "").
type node struct {
	id    string // Mermaid node ID, from the construct path
	stack string
	name  string // construct path without the stack, "/Resource" and repeated segments
	kind  string // second label line: what it is, with its main settings
	res   *resource
}

// edge is one arrow between two nodes, with every reason found for it.
type edge struct {
	from, to string
	labels   map[string]bool
	weak     map[string]bool // used only when no other label exists
	dotted   bool            // placement (subnets, VPC) rather than traffic
}

// mainTypes are the resource types drawn as boxes. Everything else is folded into the box it
// belongs to (see own).
var mainTypes = map[string]bool{
	"AWS::EC2::VPC":                             true,
	"AWS::RDS::DBInstance":                      true,
	"AWS::RDS::DBCluster":                       true,
	"AWS::SecretsManager::Secret":               true,
	"AWS::ElasticLoadBalancingV2::LoadBalancer": true,
	"AWS::ECS::Service":                         true,
	"AWS::ApiGateway::RestApi":                  true,
	"AWS::StepFunctions::StateMachine":          true,
	"AWS::Lambda::Function":                     true,
	"AWS::DynamoDB::Table":                      true,
	"AWS::DynamoDB::GlobalTable":                true,
}

// parentProps name, per type, the property that says which resource a helper resource is
// attached to; other helpers go to the referenced resource nearest in the construct tree.
var parentProps = map[string]string{
	"AWS::IAM::Policy":                                 "Roles",
	"AWS::ElasticLoadBalancingV2::Listener":            "LoadBalancerArn",
	"AWS::EC2::Route":                                  "RouteTableId",
	"AWS::SecretsManager::SecretTargetAttachment":      "SecretId",
	"AWS::ApiGateway::Method":                          "RestApiId",
	"AWS::ApiGateway::Resource":                        "RestApiId",
	"AWS::ApiGateway::Deployment":                      "RestApiId",
	"AWS::ApiGateway::Stage":                           "RestApiId",
	"AWS::ApiGateway::GatewayResponse":                 "RestApiId",
	"AWS::ApiGateway::RequestValidator":                "RestApiId",
	"AWS::ApiGateway::Model":                           "RestApiId",
	"AWS::ElasticLoadBalancingV2::ListenerRule":        "ListenerArn",
	"AWS::ElasticLoadBalancingV2::ListenerCertificate": "ListenerArn",
}

// sgRuleTypes are drawn as edges between the owners of their two security groups.
var sgRuleTypes = map[string]bool{
	"AWS::EC2::SecurityGroupIngress": true,
	"AWS::EC2::SecurityGroupEgress":  true,
}

// isMain reports whether r is drawn as a box: a main type that is not CDK plumbing (the
// singleton custom-resource providers live under a "Custom::..." construct), or a role that
// an ECS task definition uses as its task role.
func (m *model) isMain(r *resource, taskRoles map[key]bool) bool {
	if taskRoles[r.key] {
		return true
	}
	if !mainTypes[r.typ] {
		return false
	}
	for _, seg := range strings.Split(r.path, "/") {
		if strings.HasPrefix(seg, "Custom::") {
			return false
		}
	}
	return true
}

// architecture is the computed diagram before rendering.
type architecture struct {
	m     *model
	nodes map[string]*node
	owner map[key]string // resource -> node ID
	edges map[[2]string]*edge
}

// Architecture renders the stacks' main resources and the references between them as a
// Mermaid flowchart, one subgraph per stack. templates maps stack name to the synthesized
// CloudFormation template (JSON-decoded). The output depends only on the templates' content
// and is sorted; labels use construct paths, never logical IDs or asset hashes.
func Architecture(templates map[string]map[string]any) (string, error) {
	if len(templates) == 0 {
		return "", fmt.Errorf("no templates: synthesize the app first")
	}
	m, err := newModel(templates)
	if err != nil {
		return "", err
	}
	a := &architecture{m: m, nodes: map[string]*node{}, owner: map[key]string{}, edges: map[[2]string]*edge{}}
	a.own()
	a.connect()
	return a.render(), nil
}

// own picks the boxes and assigns every other resource to one of them: first what a box
// references (its role, security group, log group...), then what references a box (a
// subnet its VPC, a method its API), repeated until nothing changes.
func (a *architecture) own() {
	all := a.m.sortedResources()
	taskRoles := map[key]bool{}
	for _, r := range all {
		if r.typ == "AWS::ECS::TaskDefinition" {
			for _, rf := range a.m.refs(r.stack, r.props["TaskRoleArn"]) {
				taskRoles[rf.to] = true
			}
		}
	}
	for _, r := range all {
		if a.m.isMain(r, taskRoles) {
			n := &node{id: nodeID(r.path), stack: r.stack, name: shortName(r), res: r}
			a.nodes[n.id] = n
			a.owner[r.key] = n.id
		}
	}
	sameStack := func(r *resource) []ref {
		var out []ref
		for _, rf := range a.m.refs(r.stack, r.props, "SecurityGroupIngress", "SecurityGroupEgress") {
			if rf.to.stack == r.stack {
				out = append(out, rf)
			}
		}
		return out
	}
	for changed := true; changed; {
		changed = false
		// Forward: what an owned resource references belongs to the same box.
		for _, r := range all {
			o, ok := a.owner[r.key]
			if !ok || sgRuleTypes[r.typ] {
				continue
			}
			for _, rf := range sameStack(r) {
				t := a.m.resources[rf.to]
				if _, owned := a.owner[rf.to]; !owned && !sgRuleTypes[t.typ] {
					a.owner[rf.to] = o
					changed = true
				}
			}
		}
		if changed {
			continue
		}
		// Backward: an unowned resource joins the box of what it is attached to.
		for _, r := range all {
			if _, ok := a.owner[r.key]; ok || sgRuleTypes[r.typ] {
				continue
			}
			var cands []ref
			if p, ok := parentProps[r.typ]; ok {
				for _, rf := range a.m.refs(r.stack, r.props[p]) {
					if rf.to.stack == r.stack {
						cands = append(cands, rf)
					}
				}
			}
			if len(cands) == 0 {
				cands = sameStack(r)
			}
			best, bestScore := "", -1
			for _, rf := range cands {
				o, ok := a.owner[rf.to]
				if !ok {
					continue
				}
				if s := commonPrefix(r.path, a.m.resources[rf.to].path); s > bestScore {
					best, bestScore = o, s
				}
			}
			if best != "" {
				a.owner[r.key] = best
				changed = true
			}
		}
	}
}

// connect turns references between resources of different boxes into edges.
func (a *architecture) connect() {
	for _, r := range a.m.sortedResources() {
		if sgRuleTypes[r.typ] {
			a.connectRule(r)
			continue
		}
		if r.typ == "AWS::EC2::SecurityGroup" {
			a.connectInline(r)
		}
		from, ok := a.owner[r.key]
		// An attachment only copies the database endpoint into the secret; drawn, it would
		// point back at the database that already uses the secret.
		if !ok || r.typ == "AWS::SecretsManager::SecretTargetAttachment" {
			continue
		}
		if r.typ == "AWS::IAM::Role" || r.typ == "AWS::IAM::Policy" {
			a.connectServices(r, from)
		}
		for _, rf := range a.m.refs(r.stack, r.props, "SecurityGroupIngress", "SecurityGroupEgress") {
			to, ok := a.owner[rf.to]
			if !ok || to == from {
				continue
			}
			strong, weak, dotted := a.label(r, rf)
			a.add(from, to, strong, weak, dotted)
		}
	}
}

// label explains one reference from r: a strong label when the reference says what flows
// along the edge, otherwise a weak one.
func (a *architecture) label(r *resource, rf ref) (strong, weak string, dotted bool) {
	t := a.m.resources[rf.to]
	switch t.typ {
	case "AWS::EC2::Subnet":
		kind := strings.ToLower(tag(t.props, "aws-cdk:subnet-type"))
		if kind == "" {
			return "", "subnets", true
		}
		return kind + " subnets", "", true
	case "AWS::EC2::VPC":
		return "", "VPC", true
	}
	switch r.typ {
	case "AWS::ApiGateway::Method":
		if str(r.props, "HttpMethod") != "" {
			return str(r.props, "HttpMethod") + " " + a.apiPath(r), "", false
		}
	case "AWS::ElasticLoadBalancingV2::Listener":
		return fmt.Sprintf("%s :%s", str(r.props, "Protocol"), str(r.props, "Port")), "", false
	case "AWS::IAM::Policy", "AWS::IAM::Role":
		return "", strings.Join(a.grants(r, rf.to), ", "), false
	case "AWS::Lambda::Permission":
		return "", "invoke permission", false
	}
	for i, w := range rf.where[:max(len(rf.where)-1, 0)] {
		switch w {
		case "DefinitionSubstitutions":
			return "invokes", "", false
		case "Environment", "Variables", "Secrets":
			// ECS lists and Lambda maps both put the variable's name next.
			if w != "Environment" || r.typ == "AWS::ECS::TaskDefinition" {
				return rf.where[i+1], "", false
			}
		}
	}
	if len(rf.where) > 0 {
		switch w := rf.where[0]; w {
		case "TaskRoleArn":
			return "task role", "", false
		case "MasterUserPassword", "MasterUsername", "MasterUserSecret":
			return "credentials", "", false
		default:
			return "", w, false
		}
	}
	return "", "", false
}

// apiPath is the resource path of an API Gateway method, from its ResourceId chain.
func (a *architecture) apiPath(method *resource) string {
	var parts []string
	cur := method.props["ResourceId"]
	for i := 0; i < 32; i++ {
		rfs := a.m.refs(method.stack, cur)
		if len(rfs) != 1 || rfs[0].attr != "" {
			break // GetAtt RestApi.RootResourceId, or nothing we know
		}
		res := a.m.resources[rfs[0].to]
		if res.typ != "AWS::ApiGateway::Resource" {
			break
		}
		parts = append([]string{str(res.props, "PathPart")}, parts...)
		cur = res.props["ParentId"]
	}
	return "/" + strings.Join(parts, "/")
}

// connectRule draws a security-group ingress rule as an edge from the owner of the source
// group to the owner of the target group. Egress rules mirror ingress rules CDK also writes,
// so they add nothing.
func (a *architecture) connectRule(r *resource) {
	if r.typ != "AWS::EC2::SecurityGroupIngress" {
		return
	}
	to := a.groupOwner(r.stack, r.props["GroupId"])
	if to == "" {
		return
	}
	if src := a.groupOwner(r.stack, r.props["SourceSecurityGroupId"]); src != "" && src != to {
		a.add(src, to, a.ports(r.stack, r.props), "", false)
		return
	}
	if cidr := str(r.props, "CidrIp"); cidr != "" {
		a.add(a.cidrNode(cidr), to, a.ports(r.stack, r.props), "", false)
	}
}

// connectInline draws the ingress rules written inside a security group.
func (a *architecture) connectInline(sg *resource) {
	to, ok := a.owner[sg.key]
	if !ok {
		return
	}
	rules, _ := sg.props["SecurityGroupIngress"].([]any)
	for _, v := range rules {
		rule, ok := v.(map[string]any)
		if !ok {
			continue
		}
		if src := a.groupOwner(sg.stack, rule["SourceSecurityGroupId"]); src != "" && src != to {
			a.add(src, to, a.ports(sg.stack, rule), "", false)
		} else if cidr := str(rule, "CidrIp"); cidr != "" {
			a.add(a.cidrNode(cidr), to, a.ports(sg.stack, rule), "", false)
		} else if cidr := str(rule, "CidrIpv6"); cidr != "" {
			a.add(a.cidrNode(cidr), to, a.ports(sg.stack, rule), "", false)
		}
	}
}

// groupOwner is the box owning the security group v refers to, "" if none.
func (a *architecture) groupOwner(stack string, v any) string {
	for _, rf := range a.m.refs(stack, v) {
		if o, ok := a.owner[rf.to]; ok {
			return o
		}
	}
	return ""
}

// ports renders a rule's protocol and port range; a port published by another resource
// (a database endpoint) is looked up on that resource.
func (a *architecture) ports(stack string, rule map[string]any) string {
	proto := str(rule, "IpProtocol")
	if proto == "-1" {
		return "all traffic"
	}
	from, to := a.port(stack, rule["FromPort"]), a.port(stack, rule["ToPort"])
	switch {
	case from == "" && to == "":
		return proto
	case from == to || to == "":
		return proto + " " + from
	default:
		return proto + " " + from + "-" + to
	}
}

// defaultPorts are the engines' ports when a database sets none.
var defaultPorts = map[string]string{
	"postgres": "5432", "aurora-postgresql": "5432",
	"mysql": "3306", "mariadb": "3306", "aurora-mysql": "3306",
}

func (a *architecture) port(stack string, v any) string {
	switch p := v.(type) {
	case float64:
		return fmt.Sprintf("%g", p)
	case string:
		return p
	}
	for _, rf := range a.m.refs(stack, v) {
		t := a.m.resources[rf.to]
		if strings.HasSuffix(rf.attr, "Port") {
			if p := str(t.props, "Port"); p != "" {
				return p
			}
			if p, ok := defaultPorts[str(t.props, "Engine")]; ok {
				return p
			}
		}
	}
	return ""
}

// cidrNode returns the ID of an outside-the-stacks node for a CIDR range.
func (a *architecture) cidrNode(cidr string) string {
	id := "cidr_" + nonWord.ReplaceAllString(cidr, "_")
	if _, ok := a.nodes[id]; !ok {
		name := cidr
		if cidr == "0.0.0.0/0" || cidr == "::/0" {
			name = cidr + " (anyone)"
		}
		a.nodes[id] = &node{id: id, name: name, kind: "clients"}
	}
	return id
}

// serviceNames are the AWS services a role's unscoped statements are drawn to.
var serviceNames = map[string]string{
	"xray": "AWS X-Ray",
}

// readActions are the X-Ray actions that read traces; writing segments (PutTraceSegments)
// is what every traced function does and would only add noise.
var readActions = regexp.MustCompile(`^xray:(BatchGetTraces|GetTrace|GetService|GetGroup|GetInsight)`)

// connectServices draws an edge from box from to an AWS service when a policy in r grants
// reading it on every resource (X-Ray has no resource-level permissions).
func (a *architecture) connectServices(r *resource, from string) {
	doc, _ := r.props["PolicyDocument"].(map[string]any)
	stmts, _ := doc["Statement"].([]any)
	var inline []any
	if pols, ok := r.props["Policies"].([]any); ok {
		inline = pols
	}
	for _, p := range inline {
		if pm, ok := p.(map[string]any); ok {
			if d, ok := pm["PolicyDocument"].(map[string]any); ok {
				s, _ := d["Statement"].([]any)
				stmts = append(stmts, s...)
			}
		}
	}
	for _, s := range stmts {
		st, ok := s.(map[string]any)
		if !ok || st["Effect"] != "Allow" || st["Resource"] != "*" {
			continue
		}
		for _, act := range list(st["Action"]) {
			svc, _, _ := strings.Cut(act, ":")
			name, known := serviceNames[svc]
			if !known || !readActions.MatchString(act) {
				continue
			}
			id := "aws_" + svc
			if _, ok := a.nodes[id]; !ok {
				a.nodes[id] = &node{id: id, name: name, kind: "AWS service"}
			}
			a.add(from, id, act, "", false)
		}
	}
}

// grants lists the actions of the statements in policy (or role) r whose resources refer
// to target, sorted.
func (a *architecture) grants(r *resource, target key) []string {
	var acts []string
	var docs []any
	docs = append(docs, r.props["PolicyDocument"])
	if pols, ok := r.props["Policies"].([]any); ok {
		for _, p := range pols {
			if pm, ok := p.(map[string]any); ok {
				docs = append(docs, pm["PolicyDocument"])
			}
		}
	}
	for _, d := range docs {
		dm, _ := d.(map[string]any)
		stmts, _ := dm["Statement"].([]any)
		for _, s := range stmts {
			st, ok := s.(map[string]any)
			if !ok {
				continue
			}
			for _, rf := range a.m.refs(r.stack, st["Resource"]) {
				if a.owner[rf.to] == a.owner[target] {
					acts = append(acts, list(st["Action"])...)
					break
				}
			}
		}
	}
	slices.Sort(acts)
	acts = slices.Compact(acts)
	if len(acts) == 0 {
		return []string{"IAM policy"}
	}
	return acts
}

// list returns v as strings whether it is one string or a list of them.
func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func (a *architecture) add(from, to, strong, weak string, dotted bool) {
	k := [2]string{from, to}
	e, ok := a.edges[k]
	if !ok {
		e = &edge{from: from, to: to, labels: map[string]bool{}, weak: map[string]bool{}, dotted: true}
		a.edges[k] = e
	}
	if strong != "" {
		e.labels[strong] = true
	}
	if weak != "" {
		e.weak[weak] = true
	}
	// One traffic reason makes the edge solid.
	e.dotted = e.dotted && dotted
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

// nodeID turns a construct path into a Mermaid node ID.
func nodeID(path string) string {
	return "n_" + strings.Trim(nonWord.ReplaceAllString(trimPath(path), "_"), "_")
}

// trimPath drops the trailing "/Resource" or "/Default" CDK gives a construct's main child.
func trimPath(path string) string {
	for _, s := range []string{"/Resource", "/Default"} {
		path = strings.TrimSuffix(path, s)
	}
	return path
}

// shortName is the construct path without its stack and with a repeated last segment
// ("Service/Service") folded.
func shortName(r *resource) string {
	p := strings.TrimPrefix(trimPath(r.path), r.stack+"/")
	segs := strings.Split(p, "/")
	if n := len(segs); n >= 2 && segs[n-1] == segs[n-2] {
		segs = segs[:n-1]
	}
	return strings.Join(segs, "/")
}

// commonPrefix is the number of leading construct-path segments a and b share.
func commonPrefix(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	n := 0
	for n < len(as) && n < len(bs) && as[n] == bs[n] {
		n++
	}
	return n
}

// owned returns the resources a box owns, sorted, for describing it.
func (a *architecture) owned(id string) []*resource {
	var out []*resource
	for _, r := range a.m.sortedResources() {
		if a.owner[r.key] == id {
			out = append(out, r)
		}
	}
	return out
}

// render writes the flowchart.
func (a *architecture) render() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	byStack := map[string][]*node{}
	var outside []*node
	for _, n := range a.nodes {
		if n.res != nil {
			n.kind = a.describe(n)
			byStack[n.stack] = append(byStack[n.stack], n)
		} else {
			outside = append(outside, n)
		}
	}
	byID := func(x, y *node) int { return strings.Compare(x.id, y.id) }
	for _, stack := range a.m.stacks {
		ns := byStack[stack]
		slices.SortFunc(ns, byID)
		fmt.Fprintf(&b, "    subgraph %s[%s]\n", "stack_"+nonWord.ReplaceAllString(stack, "_"), quote(stack))
		if len(ns) == 0 {
			fmt.Fprintf(&b, "        %s[%s]\n", "empty_"+nonWord.ReplaceAllString(stack, "_"), quote("no main resources"))
		}
		for _, n := range ns {
			fmt.Fprintf(&b, "        %s[%s]\n", n.id, quote(n.name+"<br/>"+n.kind))
		}
		b.WriteString("    end\n")
	}
	slices.SortFunc(outside, byID)
	for _, n := range outside {
		fmt.Fprintf(&b, "    %s([%s])\n", n.id, quote(n.name+"<br/>"+n.kind))
	}
	edges := make([]*edge, 0, len(a.edges))
	for _, e := range a.edges {
		edges = append(edges, e)
	}
	slices.SortFunc(edges, func(x, y *edge) int {
		if c := strings.Compare(x.from, y.from); c != 0 {
			return c
		}
		return strings.Compare(x.to, y.to)
	})
	for _, e := range edges {
		labels := e.labels
		if len(labels) == 0 {
			labels = e.weak
		}
		text := strings.Join(sortedKeys(labels), ", ")
		arrow := "-->"
		if e.dotted {
			arrow = "-.->"
		}
		if text == "" {
			fmt.Fprintf(&b, "    %s %s %s\n", e.from, arrow, e.to)
		} else {
			fmt.Fprintf(&b, "    %s %s|%s| %s\n", e.from, arrow, quote(text), e.to)
		}
	}
	return b.String()
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// quote makes s a Mermaid string label.
func quote(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, "#quot;") + `"`
}
