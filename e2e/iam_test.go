package e2e

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"
)

// The two permissions the REST API's integrations depend on, evaluated from the template
// as AWS evaluates them: the role an AWS integration assumes (its identity policies must
// allow the action on the resource; Step Functions refuses otherwise with
// AccessDeniedException), and the Lambda function's resource policy, which must let API
// Gateway invoke it from that stage and route (otherwise API Gateway answers 500). The
// functions' own roles are not evaluated (docs/E2E.md, Known gaps).

// iamStatement is an Allow statement of an identity policy.
type iamStatement struct {
	actions, resources []string
}

// rolePolicy collects the Allow statements of the AWS::IAM::Policy resources attached to
// the role and of its inline policies, resolved locally. A Deny or a Condition is refused:
// the harness would not evaluate it.
func rolePolicy(t *cfnTemplate, roleID string, res resolver) ([]iamStatement, error) {
	var docs []any
	if role, ok := t.Resources[roleID]; !ok || role.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("%s: %s is not an IAM role", t.path, roleID)
	}
	inline, _ := t.Resources[roleID].Properties["Policies"].([]any)
	for _, p := range inline {
		docs = append(docs, p.(map[string]any)["PolicyDocument"])
	}
	for _, id := range t.ofType("AWS::IAM::Policy") {
		props := t.Resources[id].Properties
		roles, _ := props["Roles"].([]any)
		for _, r := range roles {
			if m, _ := r.(map[string]any); m["Ref"] == roleID {
				docs = append(docs, props["PolicyDocument"])
			}
		}
	}
	var out []iamStatement
	for _, doc := range docs {
		statements, _ := doc.(map[string]any)["Statement"].([]any)
		for _, s := range statements {
			st, _ := s.(map[string]any)
			if st["Effect"] != "Allow" || st["Condition"] != nil || st["NotAction"] != nil || st["NotResource"] != nil {
				return nil, fmt.Errorf("%s: a policy of role %s has a statement the harness does not evaluate (Deny, Condition, NotAction or NotResource): %v", t.path, roleID, st)
			}
			var stmt iamStatement
			for _, a := range list(st["Action"]) {
				stmt.actions = append(stmt.actions, fmt.Sprint(a))
			}
			for _, r := range list(st["Resource"]) {
				arn, err := res.resolve(r)
				if err != nil {
					return nil, fmt.Errorf("%s: a resource of role %s's policy: %w", t.path, roleID, err)
				}
				stmt.resources = append(stmt.resources, arn)
			}
			out = append(out, stmt)
		}
	}
	return out, nil
}

// allows tells whether the statements allow action (service:Action) on resource.
func allows(statements []iamStatement, action, resource string) bool {
	for _, s := range statements {
		actionOK, resourceOK := false, false
		for _, a := range s.actions {
			actionOK = actionOK || wildcardMatch(strings.ToLower(a), strings.ToLower(action))
		}
		for _, r := range s.resources {
			resourceOK = resourceOK || wildcardMatch(r, resource)
		}
		if actionOK && resourceOK {
			return true
		}
	}
	return false
}

// wildcardMatch matches IAM's * and ? wildcards, which may span ':' and '/'.
func wildcardMatch(pattern, s string) bool {
	// path.Match stops * at '/': split the pattern on its stars instead.
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return qmatch(pattern, s)
	}
	if len(s) < len(parts[0]) || !qmatch(parts[0], s[:len(parts[0])]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		found := false
		for j := 0; j+len(part) <= len(s); j++ {
			if qmatch(part, s[j:j+len(part)]) && (!last || j+len(part) == len(s)) {
				s, found = s[j+len(part):], true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// qmatch matches a pattern with ? wildcards only, of the same length as s.
func qmatch(pattern, s string) bool {
	if len(pattern) != len(s) {
		return false
	}
	for i := range pattern {
		if pattern[i] != '?' && pattern[i] != s[i] {
			return false
		}
	}
	return true
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// lambdaPermitted tells whether the function's resource policy (AWS::Lambda::Permission)
// lets API Gateway invoke it for sourceARN (arn:aws:execute-api:...:<api>/<stage>/<METHOD>/<path>).
func lambdaPermitted(t *cfnTemplate, functionARN, sourceARN string, res resolver) (bool, error) {
	for _, id := range t.ofType("AWS::Lambda::Permission") {
		props := t.Resources[id].Properties
		if props["Principal"] != "apigateway.amazonaws.com" || props["Action"] != "lambda:InvokeFunction" {
			continue
		}
		fn, err := res.resolve(props["FunctionName"])
		if err != nil || fn != functionARN {
			continue
		}
		if props["SourceArn"] == nil {
			return true, nil
		}
		src, err := res.resolve(props["SourceArn"])
		if err != nil {
			return false, fmt.Errorf("%s: %s's SourceArn: %w", t.path, id, err)
		}
		if wildcardMatch(src, sourceARN) {
			return true, nil
		}
	}
	return false, nil
}

// executeAPIARN is the ARN API Gateway invokes a route's integration as.
func executeAPIARN(api apiNames, method, resourcePath string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/%s%s", region, accountID, api.id, api.stage, method, path.Clean(resourcePath))
}

// TestPermissionsAsSynthesized checks the evaluation the front door runs on every call, with
// the synthesized policies: each passes for what the workflow does and fails for what it
// must not allow, so the scenarios' passing calls are evidence.
func TestPermissionsAsSynthesized(t *testing.T) {
	in := h.restAPIs[mainMachine].methods["POST /incident"].integration
	if !allows(in.policy, "states:StartExecution", machineARN(mainMachine)) {
		t.Errorf("the integration role %s may not start the state machine", in.role)
	}
	for _, c := range []struct{ action, resource string }{
		{"states:StartExecution", machineARN("SomeOtherMachine")},
		{"states:StopExecution", machineARN(mainMachine)},
		{"states:StartSyncExecution", machineARN(mainMachine)},
	} {
		if allows(in.policy, c.action, c.resource) {
			t.Errorf("the integration role %s allows %s on %s", in.role, c.action, c.resource)
		}
	}
	// The Step Functions endpoint evaluates the role on each call signed with its session.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, _, body, err := h.callAWS(ctx, in, `{"stateMachineArn": "`+machineARN("SomeOtherMachine")+`", "name": "denied", "input": "{}"}`, nil, traceHeader{})
	if err != nil || status != 400 || !strings.Contains(string(body), "AccessDeniedException") {
		t.Errorf("StartExecution of another machine with the integration's role: %d %s (%v), want 400 AccessDeniedException", status, body, err)
	}

	exam := h.restAPIs[mainMachine].methods["POST /exam"].integration
	if !exam.permitted {
		t.Errorf("SubmitExam's resource policy does not let API Gateway invoke it for POST /exam")
	}
	for _, src := range []string{
		executeAPIARN(h.api, "GET", "/exam"),
		executeAPIARN(apiNames{id: h.api.id, stage: "other"}, "POST", "/exam"),
		executeAPIARN(apiNames{id: "otherapi00", stage: h.api.stage}, "POST", "/exam"),
	} {
		ok, err := lambdaPermitted(h.app.workflow, exam.function, src, h.dep.resolverFor(machineARN(mainMachine)))
		if err != nil || ok {
			t.Errorf("SubmitExam's resource policy lets %s invoke it (%v)", src, err)
		}
	}
}
