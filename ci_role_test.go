package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/stacks"
)

const ciRepo = "octo-org/tracetest-stepfunctions"

func TestCiRoleIsOptIn(t *testing.T) {
	if synthed.stacks.CiRole != nil {
		t.Fatal("the default app has the GitHub Actions role stack")
	}
	for name := range synthed.templates {
		if strings.HasSuffix(name, "-GitHubCi") {
			t.Fatalf("the default synth has stack %s", name)
		}
	}
}

// TestCiRoleTrustsOneRepositoryEnvironment checks the role the deploy workflow assumes: only
// OIDC tokens of one repository's jobs in one environment, and nothing but the CDK bootstrap
// roles plus deleting what destroy leaves behind of a throwaway deployment.
func TestCiRoleTrustsOneRepositoryEnvironment(t *testing.T) {
	r := synthWith(t, map[string]any{stacks.CtxGitHubOidcRepo: ciRepo})
	if r.stacks.CiRole == nil {
		t.Fatal("no GitHub Actions role stack with githubOidcRepo set")
	}
	tpl := r.template(t, "GitHubCi")
	check(t, "OIDC provider", func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::OIDCProvider"), props(map[string]any{
			"Url":          "https://token.actions.githubusercontent.com",
			"ClientIdList": []any{"sts.amazonaws.com"},
		}))
	})
	check(t, "trust policy", func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props(map[string]any{
			"MaxSessionDuration": 7200,
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action": "sts:AssumeRoleWithWebIdentity",
				"Effect": "Allow",
				"Condition": map[string]any{"StringEquals": map[string]any{
					"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
					"token.actions.githubusercontent.com:sub": "repo:" + ciRepo + ":environment:tracetest-ci",
				}},
				"Principal": map[string]any{"Federated": assertions.Match_AnyValue()},
			}}},
		}))
	})
	policies := r.resources(t, "GitHubCi", "AWS::IAM::Policy")
	if len(policies) != 1 {
		t.Fatalf("policies = %d, want 1", len(policies))
	}
	var doc string
	for _, p := range policies {
		doc = mustJSON(p["Properties"].(map[string]any)["PolicyDocument"])
	}
	for _, want := range []string{
		`"sts:AssumeRole"`, `:role/cdk-hnb659fds-deploy-role-${AWS::AccountId}-${AWS::Region}`,
		`:role/cdk-hnb659fds-file-publishing-role-${AWS::AccountId}-${AWS::Region}`,
		`"cloudformation:DescribeStackResource"`, `:stack/TtCi*/*`,
		`"dynamodb:DeleteTable"`, `:table/TtCi*`,
		`"logs:DeleteLogGroup"`, `:log-group:/aws/rds/instance/ttci*`,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("policy lacks %s:\n%s", want, doc)
		}
	}
	for _, broad := range []string{`"*"`, `"sts:*"`, `lookup-role`, `image-publishing-role`, `"iam:`} {
		if strings.Contains(doc, broad) {
			t.Errorf("policy grants %s:\n%s", broad, doc)
		}
	}
	errs := assertions.Annotations_FromStack(r.stacks.CiRole.Stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-")))
	for _, e := range *errs {
		t.Errorf("cdk-nag: %s: %v", *e.Id, e.Entry.Data)
	}
	check(t, "role ARN output", func() {
		tpl.HasOutput(jsii.String(stacks.CiRoleArnOutput), props(map[string]any{}))
	})
	// The opt-in stack's roles have their own table in docs/SECURITY.md.
	checkDocSection(t, "ci-roles", roleTable(t, r.templates, []string{r.stacks.Config.StackName("GitHubCi")}))
}

func TestCiRoleWithAnExistingProvider(t *testing.T) {
	ctx, err := cdkJSONContext()
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
	ctx[stacks.CtxGitHubOidcRepo] = ciRepo
	ctx[stacks.CtxGitHubOidcProviderArn] = arn
	ctx[stacks.CtxGitHubOidcEnvironment] = "sandbox"
	app := awscdk.NewApp(appProps(ctx))
	cfg, err := stacks.CiRoleConfigFromContext(app)
	if err != nil {
		t.Fatal(err)
	}
	st := stacks.NewCiRoleStack(app, "Ci", &stacks.CiRoleStackProps{CiRoleConfig: *cfg})
	tpl := assertions.Template_FromStack(st.Stack, nil)
	check(t, "no second provider", func() { tpl.ResourceCountIs(jsii.String("AWS::IAM::OIDCProvider"), jsii.Number(0)) })
	check(t, "trusts the given provider and environment", func() {
		tpl.HasResourceProperties(jsii.String("AWS::IAM::Role"), props(map[string]any{
			"AssumeRolePolicyDocument": map[string]any{"Statement": []any{map[string]any{
				"Action":    "sts:AssumeRoleWithWebIdentity",
				"Effect":    "Allow",
				"Principal": map[string]any{"Federated": arn},
				"Condition": map[string]any{"StringEquals": assertions.Match_ObjectLike(&map[string]any{
					"token.actions.githubusercontent.com:sub": "repo:" + ciRepo + ":environment:sandbox",
				})},
			}}},
		}))
	})
}

func TestCiRoleRejectsBadContext(t *testing.T) {
	tests := []struct {
		ctx  map[string]any
		want string
	}{
		{map[string]any{stacks.CtxGitHubOidcRepo: "not a repo"}, `"githubOidcRepo": "not a repo" is not valid: use owner/repo`},
		{map[string]any{stacks.CtxGitHubOidcRepo: ciRepo, stacks.CtxGitHubOidcProviderArn: "arn:aws:iam::1:oidc-provider/x"}, `"githubOidcProviderArn"`},
		{map[string]any{stacks.CtxGitHubOidcRepo: ciRepo, stacks.CtxGitHubCiPrefix: "Tt-Ci"}, `"githubCiPrefix": "Tt-Ci" is not valid`},
		{map[string]any{stacks.CtxGitHubOidcRepo: ciRepo, stacks.CtxGitHubOidcEnvironment: "a b"}, `"githubOidcEnvironment"`},
	}
	for _, tc := range tests {
		ctx, err := cdkJSONContext()
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range tc.ctx {
			ctx[k] = v
		}
		_, err = newApp(awscdk.NewApp(appProps(ctx)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want %s", tc.ctx, err, tc.want)
		}
	}
}
