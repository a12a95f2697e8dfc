// Package cdktest starts the test binaries of the construct packages with the right
// environment for jsii.
package cdktest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// Main runs m and stops the jsii runtime. The jsii runtime captures the environment when
// the CDK packages initialize, before TestMain runs, so when the environment needs
// changing Main re-executes the test binary with it:
//   - JSII_NODE, when unset, is the project's pinned Node (node_modules/.bin/node in a
//     parent directory), as `make` sets it;
//   - CDK_VALIDATION, when unset, is false: these tests build small stacks about the
//     constructs' logic, and the app's tests and `make synth` validate whole templates.
//
// jsii is not goroutine-safe: tests that use the CDK must not call t.Parallel().
func Main(m *testing.M) {
	if os.Getenv("CDKTEST_ENV") == "" {
		os.Setenv("CDKTEST_ENV", "1")
		if os.Getenv("JSII_NODE") == "" {
			if node := findUp(filepath.Join("node_modules", ".bin", "node")); node != "" {
				os.Setenv("JSII_NODE", node)
			}
		}
		if _, ok := os.LookupEnv("CDK_VALIDATION"); !ok {
			os.Setenv("CDK_VALIDATION", "false")
		}
		if exe, err := os.Executable(); err == nil {
			// Only returns on failure; then the tests run with the environment as it was.
			_ = syscall.Exec(exe, os.Args, os.Environ())
		}
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// findUp returns the absolute path of rel in the working directory or its closest
// parent that has it, or "".
func findUp(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
			return filepath.Join(dir, rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
