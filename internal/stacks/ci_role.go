package stacks

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Context keys of the GitHub Actions role (CiRoleStack). The stack is part of the app only
// when CtxGitHubOidcRepo is set, so the default synth does not change.
const (
	// CtxGitHubOidcRepo is the repository whose workflows may assume the role: "owner/repo".
	CtxGitHubOidcRepo = "githubOidcRepo"
	// CtxGitHubOidcEnvironment is the GitHub environment the workflow job runs in.
	CtxGitHubOidcEnvironment = "githubOidcEnvironment"
	// CtxGitHubOidcProviderArn is an existing GitHub OIDC provider of the account; without
	// it the stack creates one (an account has at most one per URL).
	CtxGitHubOidcProviderArn = "githubOidcProviderArn"
	// CtxGitHubCiPrefix is the stack prefix the workflow's throwaway deployments start with.
	CtxGitHubCiPrefix = "githubCiPrefix"
	// ctxBootstrapQualifier is the CDK's own key for a non-default bootstrap qualifier.
	ctxBootstrapQualifier = "@aws-cdk/core:bootstrapQualifier"
)

// GitHub's OIDC issuer and the audience configure-aws-credentials asks for.
const (
	gitHubOidcHost     = "token.actions.githubusercontent.com"
	gitHubOidcAudience = "sts.amazonaws.com"
)

// CiRoleConfig is the configuration of the GitHub Actions role.
type CiRoleConfig struct {
	// Repo is "owner/repo".
	Repo string
	// Environment is the GitHub environment whose jobs may assume the role. Default:
	// "tracetest-ci".
	Environment string
	// ProviderArn is an existing GitHub OIDC provider; "" creates one.
	ProviderArn string
	// Prefix starts the stack names of the workflow's throwaway deployments. Default: "TtCi".
	Prefix string
	// Qualifier of the CDK bootstrap stack. Default: "hnb659fds".
	Qualifier string
}

var (
	gitHubRepoPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	gitHubEnvPattern   = regexp.MustCompile(`^[A-Za-z0-9._-]{1,255}$`)
	oidcProviderArnPat = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/` + regexp.QuoteMeta(gitHubOidcHost) + `$`)
	ciPrefixPattern    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{1,15}$`)
	qualifierPattern   = regexp.MustCompile(`^[a-z0-9]{1,10}$`)
)

// CiRoleConfigFromContext reads the GitHub Actions role's context keys. It returns nil when
// githubOidcRepo is not set: the app then has no such stack.
func CiRoleConfigFromContext(scope constructs.Construct) (*CiRoleConfig, error) {
	get := func(key string) string {
		v, _ := scope.Node().TryGetContext(jsii.String(key)).(string)
		return strings.TrimSpace(v)
	}
	cfg := &CiRoleConfig{Repo: get(CtxGitHubOidcRepo), Environment: "tracetest-ci", Prefix: "TtCi", Qualifier: "hnb659fds"}
	if cfg.Repo == "" {
		return nil, nil
	}
	var errs []string
	if !gitHubRepoPattern.MatchString(cfg.Repo) {
		errs = append(errs, fmt.Sprintf("context %q: %q is not valid: use owner/repo, e.g. -c %s=octo-org/tracetest-stepfunctions", CtxGitHubOidcRepo, cfg.Repo, CtxGitHubOidcRepo))
	}
	if v := get(CtxGitHubOidcEnvironment); v != "" {
		if !gitHubEnvPattern.MatchString(v) {
			errs = append(errs, fmt.Sprintf("context %q: %q is not valid: use a GitHub environment name of letters, digits, '.', '_' or '-'", CtxGitHubOidcEnvironment, v))
		}
		cfg.Environment = v
	}
	if v := get(CtxGitHubOidcProviderArn); v != "" {
		if !oidcProviderArnPat.MatchString(v) {
			errs = append(errs, fmt.Sprintf("context %q: %q is not valid: use the ARN of the account's %s provider, arn:aws:iam::<account>:oidc-provider/%s", CtxGitHubOidcProviderArn, v, gitHubOidcHost, gitHubOidcHost))
		}
		cfg.ProviderArn = v
	}
	if v := get(CtxGitHubCiPrefix); v != "" {
		if !ciPrefixPattern.MatchString(v) {
			errs = append(errs, fmt.Sprintf("context %q: %q is not valid: use 2 to 16 letters and digits starting with a letter, the same as the workflow's PREFIX before the run id", CtxGitHubCiPrefix, v))
		}
		cfg.Prefix = v
	}
	if v := get(ctxBootstrapQualifier); v != "" {
		if !qualifierPattern.MatchString(v) {
			errs = append(errs, fmt.Sprintf("context %q: %q is not a CDK bootstrap qualifier", ctxBootstrapQualifier, v))
		}
		cfg.Qualifier = v
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid GitHub Actions role configuration:\n  %s", strings.Join(errs, "\n  "))
	}
	return cfg, nil
}

// CiRoleStackProps configures NewCiRoleStack.
type CiRoleStackProps struct {
	awscdk.StackProps
	CiRoleConfig
}

// CiRoleStack holds the role .github/workflows/tracetest-deploy.yml assumes through GitHub's
// OpenID Connect provider: no stored keys. It is deployed once per account and region, by an
// administrator, and is not part of `make deploy` unless githubOidcRepo is set.
type CiRoleStack struct {
	awscdk.Stack
	// Role is the role the workflow assumes.
	Role awsiam.Role
}

// CiRoleArnOutput is the stack output holding the role's ARN (the workflow's AWS_ROLE_ARN).
const CiRoleArnOutput = "RoleArn"

// NewCiRoleStack creates the role. Trust: only OIDC tokens of one repository's jobs in one
// GitHub environment, for the STS audience. Permissions: assume the CDK bootstrap deploy and
// file-publishing roles (which deploy and destroy the stacks; the CLI needs nothing else),
// and delete the two things `cdk destroy` leaves behind from a throwaway deployment: its
// retained DynamoDB table and the log groups RDS creates for its exports.
func NewCiRoleStack(scope constructs.Construct, id string, props *CiRoleStackProps) *CiRoleStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	cfg := props.CiRoleConfig

	providerArn := cfg.ProviderArn
	if providerArn == "" {
		provider := awsiam.NewOidcProviderNative(stack, jsii.String("GitHubOidc"), &awsiam.OidcProviderNativeProps{
			Url:       jsii.String("https://" + gitHubOidcHost),
			ClientIds: jsii.Strings(gitHubOidcAudience),
		})
		providerArn = *provider.OidcProviderArn()
	}
	sub := fmt.Sprintf("repo:%s:environment:%s", cfg.Repo, cfg.Environment)
	role := awsiam.NewRole(stack, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String(fmt.Sprintf("GitHub Actions of %s (environment %s): deploy, test and destroy throwaway copies of the app", cfg.Repo, cfg.Environment)),
		AssumedBy: awsiam.NewWebIdentityPrincipal(jsii.String(providerArn), &map[string]any{
			"StringEquals": map[string]any{
				gitHubOidcHost + ":aud": gitHubOidcAudience,
				gitHubOidcHost + ":sub": sub,
			},
		}),
		// Deploying the database and destroying it take most of an hour; the credentials
		// must outlive the run, and the CDK CLI's role chaining renews from them.
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(2)),
	})

	bootstrapRole := func(kind string) *string {
		return awscdk.Fn_Sub(jsii.String(fmt.Sprintf("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-%s-%s-role-${AWS::AccountId}-${AWS::Region}", cfg.Qualifier, kind)), nil)
	}
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CdkDeployThroughBootstrapRoles"),
		Actions:   jsii.Strings("sts:AssumeRole"),
		Resources: &[]*string{bootstrapRole("deploy"), bootstrapRole("file-publishing")},
	}))
	prefix := cfg.Prefix
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("FindWhatDestroyLeaves"),
		Actions:   jsii.Strings("cloudformation:DescribeStackResource"),
		Resources: &[]*string{awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/"+prefix+"*/*"), nil)},
	}))
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DeleteRetainedTable"),
		Actions:   jsii.Strings("dynamodb:DescribeTable", "dynamodb:DeleteTable"),
		Resources: &[]*string{awscdk.Fn_Sub(jsii.String("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/"+prefix+"*"), nil)},
	}))
	// RDS names the instance after the stack, in lower case, and its log groups after that.
	rdsLogs := "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/rds/instance/" + strings.ToLower(prefix) + "*"
	role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DeleteRdsLogGroups"),
		Actions:   jsii.Strings("logs:DeleteLogGroup"),
		Resources: &[]*string{awscdk.Fn_Sub(jsii.String(rdsLogs), nil), awscdk.Fn_Sub(jsii.String(rdsLogs+":*"), nil)},
	}))
	if policy := role.Node().TryFindChild(jsii.String("DefaultPolicy")); policy != nil {
		suppressNag(policy.(constructs.IConstruct), "AwsSolutions-IAM5",
			"wildcards only after the throwaway deployments' stack prefix ("+prefix+"): their stack, table and RDS log group names are generated by CloudFormation at deploy time")
	}

	awscdk.NewCfnOutput(stack, jsii.String(CiRoleArnOutput), &awscdk.CfnOutputProps{
		Value:       role.RoleArn(),
		Description: jsii.String("set as the GitHub variable AWS_ROLE_ARN of the environment " + cfg.Environment),
	})
	return &CiRoleStack{Stack: stack, Role: role}
}
