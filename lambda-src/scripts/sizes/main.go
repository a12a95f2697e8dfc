// Command sizes builds every Lambda function (lambda-src/cmd/*) exactly as for
// deployment (provided.al2023 on arm64: static, stripped, reproducible, with
// lambdabuild's build flags) into a temporary directory and prints each
// binary's size, with a hello-world Go Lambda built the same way for
// reference. TestFunctionSizes (lambda-src/size_test.go) holds each function
// to 10 MB.
//
//	go run ./lambda-src/scripts/sizes   (or bash lambda-src/scripts/sizes.sh)
package main

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/tracetest-aws/stepfunctions-cdk/constructs/workflow/lambdabuild"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sizes:", err)
		os.Exit(1)
	}
}

func run() error {
	out, err := os.MkdirTemp("", "sizes-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	cmd := exec.Command("go", lambdabuild.GoBuildArgs(out, "./lambda-src/cmd/...", "./lambda-src/scripts/coldstart/hello")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	fmt.Printf("%-26s %12s %8s\n", "function", "bytes", "MB")
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		name := e.Name()
		if name == "hello" {
			name = "hello (reference)"
		}
		fmt.Printf("%-26s %12d %8.2f\n", name, info.Size(), float64(info.Size())/1e6)
	}
	return nil
}
