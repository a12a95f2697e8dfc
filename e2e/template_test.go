package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The harness runs what `make synth` wrote: the REST API, the functions' environment and
// the state machine definition of the Workflow stack (workflow_test.go, restapi_test.go).
// The rig gives the Tracetest server the environment and the provisioning of the
// synthesized task definition, and the outputs file the CLI reads is the synthesized
// stacks' outputs, resolved for the local stack the way CloudFormation resolves them for a
// deployed one.

// cfnTemplate is the part of a synthesized CloudFormation template the rig reads.
type cfnTemplate struct {
	path      string
	Resources map[string]struct {
		Type       string         `json:"Type"`
		Properties map[string]any `json:"Properties"`
		Metadata   map[string]any `json:"Metadata"`
	} `json:"Resources"`
	Outputs map[string]struct {
		Value any `json:"Value"`
	} `json:"Outputs"`
}

func readTemplate(cdkOut, stack string) (*cfnTemplate, error) {
	path := filepath.Join(cdkOut, stack+".template.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing: run make synth first (the harness runs the synthesized API, functions and state machine; make e2e synthesizes first)", path)
	}
	if err != nil {
		return nil, err
	}
	t := &cfnTemplate{path: path}
	if err := json.Unmarshal(raw, t); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// only returns the logical id and properties of the template's one resource of type typ.
func (t *cfnTemplate) only(typ string) (string, map[string]any, error) {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		sort.Strings(ids)
		return "", nil, fmt.Errorf("%s: want exactly one %s, found %d %v", t.path, typ, len(ids), ids)
	}
	return ids[0], t.Resources[ids[0]].Properties, nil
}

// ofType returns the logical ids of the template's resources of type typ, sorted.
func (t *cfnTemplate) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// resolver evaluates the intrinsic functions of synthesized values for the local stack:
// the pseudo parameters, Fn::Join, Fn::Base64, and the Refs and GetAtts it was given.
// Anything else is an error naming it, so that a new cross-stack value in the task
// definition cannot reach the server unresolved.
type resolver struct {
	refs    map[string]string // logical id or pseudo parameter -> value
	getAtts map[string]string // "LogicalId.Attribute" -> value
}

func (r resolver) resolve(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64:
		return fmt.Sprint(x), nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		for fn, arg := range x {
			switch fn {
			case "Ref":
				if s, ok := r.refs[fmt.Sprint(arg)]; ok {
					return s, nil
				}
			case "Fn::GetAtt":
				if a, ok := arg.([]any); ok && len(a) == 2 {
					if s, ok := r.getAtts[fmt.Sprintf("%v.%v", a[0], a[1])]; ok {
						return s, nil
					}
				}
			case "Fn::Base64":
				s, err := r.resolve(arg)
				if err != nil {
					return "", err
				}
				return base64.StdEncoding.EncodeToString([]byte(s)), nil
			case "Fn::Join":
				a, ok := arg.([]any)
				if !ok || len(a) != 2 {
					break
				}
				sep, _ := a[0].(string)
				parts, _ := a[1].([]any)
				var out []string
				for _, p := range parts {
					s, err := r.resolve(p)
					if err != nil {
						return "", err
					}
					out = append(out, s)
				}
				return strings.Join(out, sep), nil
			}
		}
	}
	b, _ := json.Marshal(v)
	return "", fmt.Errorf("the rig cannot resolve %s locally", b)
}

// appConfig is where the synthesized app is: the stack name prefix, cdk.out, and the
// Workflow stack's template, which the harness runs (the REST API, the functions'
// environment, the state machine definition).
type appConfig struct {
	prefix, cdkOut string
	workflow       *cfnTemplate
	api            apiNames
}

// loadApp reads the Workflow template of cdk.out ($CDK_OUT, default <root>/cdk.out) for the
// stack prefix $PREFIX (default: cdk.json's). It does not synthesize: make e2e and CI run
// make synth first, and a missing template fails with that advice.
func loadApp(root string) (*appConfig, error) {
	prefix := os.Getenv("PREFIX")
	if prefix == "" {
		var cdk struct {
			Context struct {
				Prefix string `json:"prefix"`
			} `json:"context"`
		}
		raw, err := os.ReadFile(filepath.Join(root, "cdk.json"))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &cdk); err != nil {
			return nil, fmt.Errorf("cdk.json: %w", err)
		}
		prefix = cdk.Context.Prefix
	}
	cdkOut := os.Getenv("CDK_OUT")
	if cdkOut == "" {
		cdkOut = filepath.Join(root, "cdk.out")
	}
	a := &appConfig{prefix: prefix, cdkOut: cdkOut}
	var err error
	if a.workflow, err = readTemplate(cdkOut, prefix+"-Workflow"); err != nil {
		return nil, err
	}
	_, restAPI, err := a.workflow.only("AWS::ApiGateway::RestApi")
	if err != nil {
		return nil, err
	}
	_, stage, err := a.workflow.only("AWS::ApiGateway::Stage")
	if err != nil {
		return nil, err
	}
	name, _ := restAPI["Name"].(string)
	stageName, _ := stage["StageName"].(string)
	if name == "" || stageName == "" {
		return nil, fmt.Errorf("%s: the REST API has no literal Name or its stage no StageName", a.workflow.path)
	}
	a.api = apiNames{name: name, stage: stageName, id: randomAPIID()}
	return a, nil
}

// rigConfig is what the rig takes from the synthesized app: the Workflow stack the harness
// runs and the Tracetest stack whose task definition it runs.
type rigConfig struct {
	*appConfig
	tracetest *cfnTemplate
}

func loadRigConfig(a *appConfig) (*rigConfig, error) {
	t, err := readTemplate(a.cdkOut, a.prefix+"-Tracetest")
	if err != nil {
		return nil, err
	}
	return &rigConfig{appConfig: a, tracetest: t}, nil
}

// randomAPIID returns an id shaped like API Gateway's: ten lower-case letters and digits.
func randomAPIID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// pseudoParameters are the values of CloudFormation's pseudo parameters for the local stack.
func pseudoParameters() map[string]string {
	return map[string]string{"AWS::Region": region, "AWS::AccountId": accountID, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
}

// container returns the task definition's Tracetest container and its image.
func (c *rigConfig) container() (map[string]any, string, error) {
	_, props, err := c.tracetest.only("AWS::ECS::TaskDefinition")
	if err != nil {
		return nil, "", err
	}
	containers, _ := props["ContainerDefinitions"].([]any)
	for _, cd := range containers {
		m, _ := cd.(map[string]any)
		if img, _ := m["Image"].(string); strings.HasPrefix(img, "kubeshop/tracetest:") {
			return m, img, nil
		}
	}
	return nil, "", fmt.Errorf("%s: no container runs a kubeshop/tracetest image", c.tracetest.path)
}

// databaseName is the database the task definition tells the server to use.
func (c *rigConfig) databaseName() (string, error) {
	container, _, err := c.container()
	if err != nil {
		return "", err
	}
	entries, _ := container["Environment"].([]any)
	for _, e := range entries {
		if m, _ := e.(map[string]any); m["Name"] == "TRACETEST_POSTGRES_DBNAME" {
			return resolver{refs: pseudoParameters()}.resolve(m["Value"])
		}
	}
	return "", fmt.Errorf("%s: the Tracetest container has no TRACETEST_POSTGRES_DBNAME", c.tracetest.path)
}

// serverEnvironment renders the Tracetest container's environment from the synthesized
// task definition: every variable as the deployed task gets it, with the database host,
// port and credentials replaced by the local cluster's and the region by the rig's.
func (c *rigConfig) serverEnvironment(pg *postgres) (map[string]string, error) {
	container, _, err := c.container()
	if err != nil {
		return nil, err
	}
	local := map[string]string{
		"TRACETEST_POSTGRES_HOST":     "127.0.0.1",
		"TRACETEST_POSTGRES_PORT":     fmt.Sprint(pg.port),
		"TRACETEST_POSTGRES_USER":     pg.user,
		"TRACETEST_POSTGRES_PASSWORD": pg.password,
	}
	res := resolver{refs: pseudoParameters()}
	env := map[string]string{}
	entries, _ := container["Environment"].([]any)
	for _, e := range entries {
		m, _ := e.(map[string]any)
		name, _ := m["Name"].(string)
		if v, ok := local[name]; ok {
			env[name] = v
			continue
		}
		v, err := res.resolve(m["Value"])
		if err != nil {
			return nil, fmt.Errorf("%s: environment variable %s: %w (tell the rig what it is locally)", c.tracetest.path, name, err)
		}
		env[name] = v
	}
	secrets, _ := container["Secrets"].([]any)
	for _, s := range secrets {
		m, _ := s.(map[string]any)
		name, _ := m["Name"].(string)
		v, ok := local[name]
		if !ok {
			return nil, fmt.Errorf("%s: secret %s has no local value in the rig", c.tracetest.path, name)
		}
		env[name] = v
	}
	for name := range local {
		if _, ok := env[name]; !ok {
			return nil, fmt.Errorf("%s: the task definition does not set %s: the server would not reach its database", c.tracetest.path, name)
		}
	}
	return env, nil
}

// outputs resolves the outputs of the Workflow and Tracetest stacks for the local stack, as
// `cdk deploy --outputs-file` writes them: {"<stack>": {"<output>": "<value>"}}. An output
// the rig cannot resolve is left out and named in skipped; cmd/tracetest-vars says which
// ones it needs.
func (c *rigConfig) outputs(tracetestURLHost string) (out map[string]map[string]string, skipped []string, err error) {
	refs := pseudoParameters()
	getAtts := map[string]string{}
	restID, _, err := c.workflow.only("AWS::ApiGateway::RestApi")
	if err != nil {
		return nil, nil, err
	}
	machineID, _, err := c.workflow.only("AWS::StepFunctions::StateMachine")
	if err != nil {
		return nil, nil, err
	}
	lbID, _, err := c.tracetest.only("AWS::ElasticLoadBalancingV2::LoadBalancer")
	if err != nil {
		return nil, nil, err
	}
	refs[restID] = c.api.id
	refs[machineID] = machineARN(mainMachine)
	getAtts[lbID+".DNSName"] = tracetestURLHost
	res := resolver{refs: refs, getAtts: getAtts}
	out = map[string]map[string]string{}
	for stack, t := range map[string]*cfnTemplate{c.prefix + "-Workflow": c.workflow, c.prefix + "-Tracetest": c.tracetest} {
		out[stack] = map[string]string{}
		for key, o := range t.Outputs {
			v, err := res.resolve(o.Value)
			if err != nil {
				skipped = append(skipped, fmt.Sprintf("%s.%s (%v)", stack, key, err))
				continue
			}
			out[stack][key] = v
		}
	}
	sort.Strings(skipped)
	return out, skipped, nil
}
