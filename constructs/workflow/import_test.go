package workflow_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

// consumerMain is the app of a platform team that imports the library: its own VPC with
// flow logs, an Aurora PostgreSQL cluster, a KMS key and a table encrypted with it, its
// own role reading X-Ray, and cdk-nag's AwsSolutions on the whole app. It prints every
// error and the number of AwsSolutions warnings (proof that the rules ran).
const consumerMain = `package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/tracing"
	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(os.Getenv("OUT"))})

	network := awscdk.NewStack(app, jsii.String("ConsumerNetwork"), nil)
	flowLogs := awslogs.NewLogGroup(network, jsii.String("FlowLogs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_MONTH})
	vpc := awsec2.NewVpc(network, jsii.String("OurVpc"), &awsec2.VpcProps{
		MaxAzs: jsii.Number(2), NatGateways: jsii.Number(1),
		FlowLogs: &map[string]*awsec2.FlowLogOptions{"All": {Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil)}},
	})

	data := awscdk.NewStack(app, jsii.String("ConsumerData"), nil)
	cluster := awsrds.NewDatabaseCluster(data, jsii.String("OurAurora"), &awsrds.DatabaseClusterProps{
		Engine: awsrds.DatabaseClusterEngine_AuroraPostgres(&awsrds.AuroraPostgresClusterEngineProps{Version: awsrds.AuroraPostgresEngineVersion_VER_16_6()}),
		Vpc:                     vpc,
		Writer:                  awsrds.ClusterInstance_ServerlessV2(jsii.String("Writer"), nil),
		ServerlessV2MinCapacity: jsii.Number(0.5),
		Port:                    jsii.Number(5433),
		IamAuthentication:       jsii.Bool(true),
		DeletionProtection:      jsii.Bool(true),
		StorageEncrypted:        jsii.Bool(true),
		DefaultDatabaseName:     jsii.String("tracetest"),
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String("tracetest"), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(tracing.PasswordExcludeCharacters),
		}),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(cluster, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"), Reason: jsii.String("the team rotates by redeploying"),
	}}, jsii.Bool(true))
	key := awskms.NewKey(data, jsii.String("OurKey"), &awskms.KeyProps{EnableKeyRotation: jsii.Bool(true)})
	table := awsdynamodb.NewTable(data, jsii.String("OurTable"), &awsdynamodb.TableProps{
		PartitionKey:  &awsdynamodb.Attribute{Name: jsii.String(workflow.IncidentKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:   awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:    awsdynamodb.TableEncryption_CUSTOMER_MANAGED,
		EncryptionKey: key,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{PointInTimeRecoveryEnabled: jsii.Bool(true)},
	})

	platform := awscdk.NewStack(app, jsii.String("ConsumerTracetest"), nil)
	tracetest := tracing.NewTracetestService(platform, jsii.String("Tracetest"), &tracing.TracetestServiceProps{
		Vpc:          vpc,
		Database:     tracing.DatabaseFromCluster(cluster, nil),
		AllowedPeers: &[]awsec2.IPeer{awsec2.Peer_Ipv4(jsii.String("198.51.100.0/24"))},
	})
	reader := awsiam.NewRole(platform, jsii.String("OurReader"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("ec2.amazonaws.com"), nil),
	})
	tracetest.DataStore().GrantRead(reader)

	wf := awscdk.NewStack(app, jsii.String("ConsumerWorkflow"), nil)
	workflow.NewPlagiarismStateMachine(wf, jsii.String("Plagiarism"), &workflow.PlagiarismStateMachineProps{Table: table})

	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Reports: jsii.Bool(false)}), nil)
	asm := app.Synth(nil)
	warnings := 0
	for _, s := range *asm.Stacks() {
		fmt.Println("stack", *s.StackName())
		for _, m := range *s.Messages() {
			text := fmt.Sprint(m.Entry.Data)
			switch {
			case m.Level == "error":
				fmt.Printf("error %s: %s\n", *m.Id, text)
			case strings.Contains(text, "AwsSolutions-"):
				warnings++
			}
		}
	}
	fmt.Println("nag warnings", warnings)
}
`

// TestImportFromAnotherModule does what a platform team does: a module of its own
// requires this one from a read-only directory (a copy, like the module cache), offline
// (GOPROXY=off), and synthesizes its app with cdk-nag on every stack. No error may come
// from the library's resources, the KMS key of the team's table must be granted, and the
// Tracetest service must be wired to the team's Aurora cluster.
func TestImportFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and synthesizes a CDK app in a separate module")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// Fixed paths, so that `go run` finds its executable in the Go build cache when neither
	// the library nor the app changed (a fresh directory costs a 4-second link); a lock
	// keeps two test processes of this checkout apart.
	work := filepath.Join(os.TempDir(), fmt.Sprintf("stepfunctions-cdk-importer-%x", sha256.Sum256([]byte(root)))[:44])
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(work, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(work, "mod")
	chmodTree(mod, 0o755, 0o644)
	if err := os.RemoveAll(mod); err != nil {
		t.Fatal(err)
	}
	copyModule(t, root, mod)
	// Read-only, as in the module cache, until the next run.
	defer chmodTree(mod, 0o755, 0o644)
	chmodTree(mod, 0o555, 0o444)
	before := snapshot(t, mod)

	dir := filepath.Join(work, "consumer")
	out := filepath.Join(dir, "cdk.out")
	os.RemoveAll(out)
	ourMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	// The team requires this module; its other requirements are what `go mod tidy` would
	// record, which are this module's (so no download is needed: GOPROXY=off).
	requires := string(ourMod[bytes.Index(ourMod, []byte("require")):])
	goMod := "module example.com/consumer\n\ngo 1.26.0\n\nrequire " + lambdabuild.ModulePath + " v0.0.0\n\n" + requires +
		"\nreplace " + lambdabuild.ModulePath + " => " + mod + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	for name, content := range map[string][]byte{"go.mod": []byte(goMod), "go.sum": sum, "main.go": []byte(consumerMain)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "run", ".")
	cmd.Dir = dir
	// The caller's GOFLAGS stay (make's -trimpath): with other build flags the CDK's
	// packages, already compiled for this module, would be compiled again (minutes cold).
	goflags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -mod=readonly")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS="+goflags, "GOPROXY=off", "OUT="+out, "CDK_VALIDATION=false")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run . in the importing module: %v\n%s", err, buf.String())
	}
	output := buf.String()
	if snapshot(t, mod) != before {
		t.Error("building the importing app wrote into the module directory")
	}
	for _, line := range strings.Split(output, "\n") {
		if strings.HasPrefix(line, "error ") {
			t.Errorf("cdk-nag: %s", line)
		}
	}
	if !strings.Contains(output, "nag warnings ") || strings.Contains(output, "nag warnings 0\n") {
		t.Errorf("cdk-nag did not run (no AwsSolutions warning at all):\n%s", output)
	}
	templates := map[string]string{}
	for _, s := range []string{"ConsumerNetwork", "ConsumerData", "ConsumerTracetest", "ConsumerWorkflow"} {
		b, err := os.ReadFile(filepath.Join(out, s+".template.json"))
		if err != nil {
			t.Fatalf("stack %s not synthesized: %v\n%s", s, err, output)
		}
		var tpl any
		json.Unmarshal(b, &tpl)
		compact, _ := json.Marshal(tpl)
		templates[s] = string(compact)
	}

	// The KMS grant: every function that stores incidents may use the team's key.
	wf := templates["ConsumerWorkflow"]
	if n := strings.Count(wf, `"kms:Decrypt"`); n != 5 {
		t.Errorf("%d function policies allow kms:Decrypt, want 5 (the functions that store incidents)", n)
	}
	if !strings.Contains(wf, "OurKey") {
		t.Error("the key in the function policies is not the team's key")
	}
	// The wiring: Tracetest connects to the Aurora writer with the cluster's secret, and
	// opens the cluster's security group from its own.
	tt := templates["ConsumerTracetest"]
	for _, want := range []string{
		`"TRACETEST_POSTGRES_HOST","Value":{"Fn::ImportValue":"ConsumerData:ExportsOutputFnGetAttOurAurora`,
		`"TRACETEST_POSTGRES_PASSWORD","ValueFrom":{"Fn::Join":["",[{"Fn::ImportValue":"ConsumerData:ExportsOutputRefOurAuroraSecretAttachment`,
		`"Description":"Tracetest to Postgres","FromPort":{"Fn::ImportValue":"ConsumerData:ExportsOutputFnGetAttOurAurora`,
		`"GroupId":{"Fn::ImportValue":"ConsumerData:ExportsOutputFnGetAttOurAuroraSecurityGroup`,
		`"PolicyName":"OurReaderTracetestXRayRead`,
	} {
		if !strings.Contains(tt, want) {
			t.Errorf("Tracetest stack lacks %s", want)
		}
	}

	// The team's Lambda assets are this module's binaries, built from the read-only copy:
	// one per function (SendNotification's for the team's notification mode).
	ours, err := lambdabuild.Build(lambdabuild.Options{ModuleDir: root})
	if err != nil {
		t.Fatal(err)
	}
	built := map[[32]byte]string{}
	for name, d := range ours {
		b, err := os.ReadFile(filepath.Join(d, "bootstrap"))
		if err != nil {
			t.Fatal(err)
		}
		built[sha256.Sum256(b)] = name
	}
	assets, _ := filepath.Glob(filepath.Join(out, "asset.*", "bootstrap"))
	if len(assets) != 6 {
		t.Errorf("the team's app has %d Lambda assets, want 6: %v", len(assets), assets)
	}
	for _, a := range assets {
		b, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		if built[sha256.Sum256(b)] == "" {
			t.Errorf("the team's asset %s is none of this module's builds", a)
		}
	}
}

// copyModule copies what a module zip holds: every file but version control, generated
// output and installed tools.
func copyModule(t *testing.T, from, to string) {
	t.Helper()
	skip := map[string]bool{".git": true, "node_modules": true, ".tools": true, "vendor": true}
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			if skip[d.Name()] || strings.HasPrefix(d.Name(), "cdk.") {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// chmodTree sets the mode of every directory and file under root.
func chmodTree(root string, dirMode, fileMode os.FileMode) {
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
		case d.IsDir():
			os.Chmod(path, dirMode)
		default:
			os.Chmod(path, fileMode)
		}
		return nil
	})
}

// snapshot lists every path under root with its size and modification time: CI runs as
// root, which ignores read-only modes, so the test also checks that nothing changed.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String()
}
