package recipe_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// TestMain runs jsii on the project's Node 22 when the tests run outside make, and stops
// the jsii runtime at the end.
func TestMain(m *testing.M) {
	if os.Getenv("JSII_NODE") == "" {
		if node, err := filepath.Abs("../../node_modules/.bin/node"); err == nil {
			if _, err := os.Stat(node); err == nil {
				os.Setenv("JSII_NODE", node)
			}
		}
	}
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}
