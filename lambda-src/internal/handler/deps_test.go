package handler_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFunctionDependencies lists, with go list, the AWS service clients each
// function's binary links (built as for deployment): each links only those it
// calls. The clients the default credential chain of the SDK's config module
// brings (STS, SSO, SSO OIDC, Sign-In) are left out of the comparison: they
// come with the configuration every storage-backed function loads.
func TestFunctionDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	want := map[string][]string{
		"registerincident":          nil,
		"scheduleexam":              {"dynamodb"},
		"resolveincident":           {"dynamodb"},
		"takeadministrativeaction":  {"dynamodb"},
		"sendnotification":          {"dynamodb", "secretsmanager", "sesv2"},
		"sendnotification-log":      {"dynamodb"},
		"sendnotification-ses":      {"dynamodb", "sesv2"},
		"sendnotification-sendgrid": {"dynamodb", "secretsmanager"},
		"submitexam":                {"dynamodb", "sfn"},
	}
	credentialChain := []string{"signin", "sso", "ssooidc", "sts"}
	service := regexp.MustCompile(`^github\.com/aws/aws-sdk-go-v2/service/([a-z0-9]+)$`)
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
	for name, services := range want {
		cmd := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "./"+name)
		cmd.Dir = root
		cmd.Env = append(cmd.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", name, err)
		}
		var got []string
		linksAWS := false
		for _, pkg := range strings.Fields(string(out)) {
			if m := service.FindStringSubmatch(pkg); m != nil && !slices.Contains(credentialChain, m[1]) {
				got = append(got, m[1])
			}
			linksAWS = linksAWS || strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/") || strings.HasPrefix(pkg, "github.com/aws/aws-xray-sdk-go")
		}
		slices.Sort(got)
		if !slices.Equal(got, services) {
			t.Errorf("%s links the service clients %v, want %v", name, got, services)
		}
		if services == nil && linksAWS {
			t.Errorf("%s links the AWS SDK or the X-Ray SDK; it calls no AWS service", name)
		}
	}
}
