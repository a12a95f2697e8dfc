package handler_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFunctionDependencies lists, with go list, what each function's binary
// (built as for deployment) links: no AWS SDK module but the core one
// (aws-sdk-go-v2 itself: Signature Version 4, the retry policy) and
// smithy-go under it, so no generated service client; awsapi only when the
// function calls AWS; and the email senders only where the mode is served.
func TestFunctionDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	const module = "github.com/tracetest-aws/stepfunctions-cdk/lambda-src/internal/"
	want := map[string][]string{ // the packages of ours (below internal/) that say what a function can call
		"registerincident":          nil,
		"scheduleexam":              {"awsapi"},
		"resolveincident":           {"awsapi"},
		"takeadministrativeaction":  {"awsapi"},
		"sendnotification":          {"awsapi", "notify/sendgrid", "notify/ses"},
		"sendnotification-log":      {"awsapi"},
		"sendnotification-ses":      {"awsapi", "notify/ses"},
		"sendnotification-sendgrid": {"awsapi", "notify/sendgrid"},
		"submitexam":                {"awsapi", "handler/submit"},
	}
	watched := []string{"awsapi", "handler/submit", "notify/sendgrid", "notify/ses"}
	allowedModules := []string{"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"}
	root, err := filepath.Abs(filepath.Join("..", "..", "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	// Every function directory is listed: a new one must say what it links.
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, ok := want[d.Name()]; d.IsDir() && !ok {
			t.Errorf("lambda-src/cmd/%s is not in this test's list", d.Name())
		}
	}
	for name, packages := range want {
		cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", "./"+name)
		cmd.Dir = root
		cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", name, err)
		}
		var got, aws []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, mod, _ := strings.Cut(line, " ")
			if ours, ok := strings.CutPrefix(pkg, module); ok && slices.Contains(watched, ours) {
				got = append(got, ours)
			}
			if (strings.HasPrefix(mod, "github.com/aws/") && mod != "github.com/aws/aws-lambda-go" && !slices.Contains(allowedModules, mod)) ||
				(packages == nil && slices.Contains(allowedModules, mod)) {
				aws = append(aws, pkg)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, packages) {
			t.Errorf("%s links %v, want %v", name, got, packages)
		}
		if len(aws) > 0 {
			t.Errorf("%s links %v: no AWS SDK module but the core one (none at all without AWS calls)", name, aws)
		}
	}
}
