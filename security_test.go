package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

const securityDoc = "docs/SECURITY.md"

func TestNagAwsSolutionsHasNoUnsuppressedErrors(t *testing.T) {
	for _, st := range []awscdk.Stack{synthed.stacks.Network.Stack, synthed.stacks.Data.Stack, synthed.stacks.Tracetest.Stack, synthed.stacks.Workflow.Stack} {
		errs := assertions.Annotations_FromStack(st).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-")))
		for _, e := range *errs {
			t.Errorf("%s: %v", *e.Id, e.Entry.Data)
		}
	}
}

// TestNagCatchesANewFinding proves the check above can fail: a resource that breaks an
// AwsSolutions rule, added to a throwaway stack, is reported.
func TestNagCatchesANewFinding(t *testing.T) {
	ctx, err := cdkJSONContext()
	if err != nil {
		t.Fatal(err)
	}
	app := awscdk.NewApp(appProps(ctx))
	st := awscdk.NewStack(app, jsii.String("Throwaway"), nil)
	vpc := awsec2.NewVpc(st, jsii.String("Vpc"), &awsec2.VpcProps{NatGateways: jsii.Number(0)})
	sg := awsec2.NewSecurityGroup(st, jsii.String("OpenSsh"), &awsec2.SecurityGroupProps{Vpc: vpc})
	sg.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(22)), jsii.String("ssh from anywhere"), jsii.Bool(false))
	stacks.AddComplianceChecks(app)

	// The finding is an error annotation, and error annotations fail the synth.
	var synthErr any
	func() {
		defer func() { synthErr = recover() }()
		app.Synth(&awscdk.StageSynthesisOptions{})
	}()
	if synthErr == nil {
		t.Fatal("synth succeeded with an ingress rule open to 0.0.0.0/0; AwsSolutions-EC23 must fail it")
	}
	msgs := st.Node().Metadata()
	found := false
	for _, child := range *sg.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, m := range *child.Node().Metadata() {
			found = found || strings.Contains(fmt.Sprint(m.Data), "AwsSolutions-EC23")
		}
	}
	if !found {
		t.Errorf("the open security group carries no AwsSolutions-EC23 finding (synth: %v, stack metadata: %d)", synthErr, len(*msgs))
	}
}

// docSection returns the text of doc between <!-- name:begin --> and <!-- name:end -->.
func docSection(t *testing.T, doc, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<!-- ` + name + `:begin -->\n(.*?)<!-- ` + name + `:end -->`)
	m := re.FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("%s has no section %s", securityDoc, name)
	}
	return m[1]
}

// checkDocSection compares a generated table with the one in docs/SECURITY.md, or
// rewrites it when UPDATE_DOCS=1.
func checkDocSection(t *testing.T, name, want string) {
	t.Helper()
	b, err := os.ReadFile(securityDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.HasPrefix(doc, "# Security\n") {
		t.Errorf("%s must begin with its title: generated tables belong in their sections, never above it", securityDoc)
	}
	got := docSection(t, doc, name)
	if got == want {
		return
	}
	if os.Getenv("UPDATE_DOCS") == "1" {
		begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
		doc = strings.Replace(doc, begin+got+end, begin+want+end, 1)
		if err := os.WriteFile(securityDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s section %q is out of date with the templates; run `UPDATE_DOCS=1 go test -run %s .` and review the diff. Want:\n%s",
		securityDoc, name, t.Name(), want)
}

func cdkPath(res map[string]any) string {
	md, _ := res["Metadata"].(map[string]any)
	p, _ := md["aws:cdk:path"].(string)
	return strings.TrimSuffix(strings.TrimSuffix(p, "/Resource"), "/Default")
}

func sortedStacks() []string {
	var names []string
	for n := range synthed.templates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestSecurityDocListsEverySuppression keeps the suppression table of docs/SECURITY.md
// equal to the cdk-nag suppressions in the templates.
func TestSecurityDocListsEverySuppression(t *testing.T) {
	var rows []string
	for _, stack := range sortedStacks() {
		for _, res := range synthed.templates[stack]["Resources"].(map[string]any) {
			res := res.(map[string]any)
			md, _ := res["Metadata"].(map[string]any)
			nag, _ := md["cdk_nag"].(map[string]any)
			rules, _ := nag["rules_to_suppress"].([]any)
			for _, r := range rules {
				r := r.(map[string]any)
				applies := ""
				if a, ok := r["applies_to"]; ok {
					applies = " (" + strings.Trim(mustJSON(a), "[]\n ") + ")"
					applies = strings.Join(strings.Fields(applies), " ")
				}
				rows = append(rows, fmt.Sprintf("| `%s` | %s%s | %s |", cdkPath(res), r["id"], applies, r["reason"]))
			}
		}
	}
	sort.Strings(rows)
	want := "| resource | rule | reason |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	checkDocSection(t, "suppressions", want)
}

// TestSecurityDocListsEveryRole keeps the IAM table of docs/SECURITY.md equal to the
// roles and permissions in the templates, and forbids "*" actions.
func TestSecurityDocListsEveryRole(t *testing.T) {
	checkDocSection(t, "roles", roleTable(t, synthed.templates, sortedStacks()))
}

// roleTable renders the IAM roles of the named stacks as the Markdown table of
// docs/SECURITY.md, failing the test on a wildcard action.
func roleTable(t *testing.T, templates map[string]map[string]any, stackNames []string) string {
	t.Helper()
	var rows []string
	for _, stack := range stackNames {
		resources := templates[stack]["Resources"].(map[string]any)
		for id, res := range resources {
			res := res.(map[string]any)
			if res["Type"] != "AWS::IAM::Role" {
				continue
			}
			props := res["Properties"].(map[string]any)
			principal := regexp.MustCompile(`"Service": "([^"]+)"`).FindStringSubmatch(mustJSON(props["AssumeRolePolicyDocument"]))
			var perms []string
			addStatements := func(doc any) {
				for _, st := range doc.(map[string]any)["Statement"].([]any) {
					st := st.(map[string]any)
					actions, ok := st["Action"].([]any)
					if !ok {
						actions = []any{st["Action"]}
					}
					for _, a := range actions {
						if strings.Contains(a.(string), "*") {
							t.Errorf("role %s allows the wildcard action %s", cdkPath(res), a)
						}
						perms = append(perms, fmt.Sprintf("%s on %s", a, resourceSummary(st["Resource"])))
					}
				}
			}
			for _, pol := range resources {
				pol := pol.(map[string]any)
				if pol["Type"] == "AWS::IAM::Policy" && strings.Contains(mustJSON(pol["Properties"].(map[string]any)["Roles"]), `"`+id+`"`) {
					addStatements(pol["Properties"].(map[string]any)["PolicyDocument"])
				}
			}
			if inline, ok := props["Policies"].([]any); ok {
				for _, p := range inline {
					addStatements(p.(map[string]any)["PolicyDocument"])
				}
			}
			if m, ok := props["ManagedPolicyArns"]; ok {
				perms = append(perms, "managed: "+strings.Join(strings.Fields(mustJSON(m)), " "))
			}
			sort.Strings(perms)
			perms = compactStrings(perms)
			who := "?"
			switch {
			case principal != nil:
				who = principal[1]
			case strings.Contains(mustJSON(props["AssumeRolePolicyDocument"]), "sts:AssumeRoleWithWebIdentity"):
				who = "web identity (OIDC)"
				if sub := regexp.MustCompile(`:sub":\s*"([^"]+)"`).FindStringSubmatch(mustJSON(props["AssumeRolePolicyDocument"])); sub != nil {
					who += ": `" + sub[1] + "`"
				}
			}
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", cdkPath(res), who, strings.Join(perms, "<br>")))
		}
	}
	sort.Strings(rows)
	return "| role | assumed by | may do |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
}

// resourceSummary names the resources of a policy statement without hash suffixes.
func resourceSummary(r any) string {
	list, ok := r.([]any)
	if !ok {
		list = []any{r}
	}
	var out []string
	for _, e := range list {
		switch x := e.(type) {
		case string:
			out = append(out, "`"+x+"`")
		case map[string]any:
			// An ARN pattern written with Fn::Sub reads best as written.
			if sub, ok := x["Fn::Sub"].(string); ok {
				out = append(out, "`"+sub+"`")
				continue
			}
			out = append(out, expressionSummary(x))
		default:
			out = append(out, expressionSummary(x))
		}
	}
	return strings.Join(out, ", ")
}

// expressionSummary names the resources a Ref/GetAtt/Fn::Join expression points at.
func expressionSummary(x any) string {
	hash := regexp.MustCompile(`[0-9A-F]{8}$`)
	s := mustJSON(x)
	names := regexp.MustCompile(`"(?:Ref|Fn::GetAtt)":\s*(?:\[\s*)?"([A-Za-z0-9]+)"|"OutputName":\s*"([A-Za-z0-9]+)"`).FindAllStringSubmatch(s, -1)
	var parts []string
	for _, n := range names {
		name := n[1] + n[2]
		if strings.HasPrefix(name, "AWS") {
			continue
		}
		parts = append(parts, hash.ReplaceAllString(name, ""))
	}
	suffix := ""
	if m := regexp.MustCompile(`"(:[^"]*)"\s*\]\s*\]`).FindStringSubmatch(s); m != nil {
		suffix = m[1]
	}
	return strings.Join(compactStrings(parts), "+") + suffix
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
