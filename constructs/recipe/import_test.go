package recipe_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/internal/lambdabuild"
)

const consumerMain = `package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/recipe"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(os.Getenv("OUT"))})

	platform := awscdk.NewStack(app, jsii.String("ConsumerTracetest"), nil)
	vpc := awsec2.NewVpc(platform, jsii.String("OurVpc"), &awsec2.VpcProps{MaxAzs: jsii.Number(2)})
	db := awsrds.NewDatabaseInstance(platform, jsii.String("OurDb"), &awsrds.DatabaseInstanceProps{
		Engine: awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_17_9()}),
		Vpc:    vpc,
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tt"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(" !\"#$%&'()*+,/:;<=>?@[\\]^` + "`" + `{|}~"),
		}),
	})
	recipe.NewTracetestService(platform, jsii.String("Tracetest"), &recipe.TracetestServiceProps{
		Vpc: vpc, Database: db, DatabaseSecret: db.Secret(), DatabaseName: jsii.String("postgres"),
		AllowedCidrs: jsii.Strings("198.51.100.0/24"),
	})

	elsewhere := awscdk.NewStack(app, jsii.String("ConsumerXRay"), nil)
	recipe.NewXRayDataStore(elsewhere, jsii.String("XRay"), nil)

	workflow := awscdk.NewStack(app, jsii.String("ConsumerWorkflow"), nil)
	table := awsdynamodb.NewTableV2(workflow, jsii.String("OurTable"), &awsdynamodb.TablePropsV2{
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(recipe.IncidentKey), Type: awsdynamodb.AttributeType_STRING},
	})
	recipe.NewPlagiarismStateMachine(workflow, jsii.String("Plagiarism"), &recipe.PlagiarismStateMachineProps{Table: table})

	asm := app.Synth(nil)
	for _, s := range *asm.Stacks() {
		fmt.Println("stack", *s.StackName())
	}
}
`

// TestImportFromAnotherModule builds and synthesizes an app in a module of its own that
// requires this one, from a directory outside this repository, the way another team
// uses the constructs (a replace directive stands in for the module proxy).
func TestImportFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a CDK app in a separate module")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "consumer")
	out := filepath.Join(dir, "cdk.out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	goMod := "module example.com/consumer\n\ngo 1.26\n\nrequire " + lambdabuild.ModulePath + " v0.0.0\n\nreplace " +
		lambdabuild.ModulePath + " => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"go.mod": []byte(goMod), "go.sum": sum, "main.go": []byte(consumerMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "OUT="+out)
		if os.Getenv("JSII_NODE") == "" {
			cmd.Env = append(cmd.Env, "JSII_NODE="+filepath.Join(root, "node_modules", ".bin", "node"))
		}
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, buf.String())
		}
		return buf.String()
	}
	run("go", "mod", "tidy")
	output := run("go", "run", ".")
	for _, s := range []string{"ConsumerTracetest", "ConsumerXRay", "ConsumerWorkflow"} {
		if !strings.Contains(output, "stack "+s) {
			t.Errorf("stack %s not synthesized:\n%s", s, output)
		}
		if _, err := os.Stat(filepath.Join(out, s+".template.json")); err != nil {
			t.Error(err)
		}
	}

	// The consumer's Lambda assets are the very binaries this module builds for itself.
	ours, err := lambdabuild.Build(lambdabuild.Options{ModuleDir: root})
	if err != nil {
		t.Fatal(err)
	}
	theirs := map[[32]byte]bool{}
	assets, _ := filepath.Glob(filepath.Join(out, "asset.*", "bootstrap"))
	for _, a := range assets {
		b, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		theirs[sha256.Sum256(b)] = true
	}
	for name, dir := range ours {
		b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		if !theirs[sha256.Sum256(b)] {
			t.Errorf("function %s: the consumer's asset differs from this module's build", name)
		}
	}
}
