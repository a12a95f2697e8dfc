// Package lambdasrc holds no code: its test keeps the functions under
// lambda-src/cmd within their size budget.
package lambdasrc

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

// maxBytes is the budget of one function binary: 10 MB (decimal, as the
// figures of the issue that set it). A hello-world Go Lambda is 5.8 MB; what
// a function links beyond that is the AWS services it calls and our code.
const maxBytes = 10_000_000

// TestFunctionSizes builds every function as it is deployed (provided.al2023
// on arm64: static, stripped, reproducible) and fails when one is over the
// budget. lambda-src/scripts/sizes.sh prints the same figures.
func TestFunctionSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the six functions")
	}
	out := t.TempDir()
	cmd := exec.Command("go", lambdabuild.GoBuildArgs(out, "./cmd/...")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOFLAGS=-mod=readonly")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./lambda-src/cmd/...: %v\n%s", err, output)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no function built")
	}
	var report strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&report, "\n  %-26s %10d bytes", e.Name(), info.Size())
		if info.Size() > maxBytes {
			t.Errorf("%s is %d bytes (%.1f MB), over the %d MB budget; what it links: go list -deps ./lambda-src/cmd/%s",
				e.Name(), info.Size(), float64(info.Size())/1e6, maxBytes/1_000_000, e.Name())
		}
	}
	t.Logf("linux/arm64 function sizes:%s", report.String())
}
