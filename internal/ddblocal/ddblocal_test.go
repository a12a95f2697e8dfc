package ddblocal

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestStartWithoutJar(t *testing.T) {
	t.Setenv("DYNAMODB_LOCAL_DIR", t.TempDir())
	_, err := Start(context.Background())
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "bash scripts/install-tools.sh") {
		t.Fatalf("Start() = %v, want ErrNotInstalled telling to run scripts/install-tools.sh", err)
	}
}

func TestDirFindsModuleRoot(t *testing.T) {
	t.Setenv("DYNAMODB_LOCAL_DIR", "")
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dir, "/.tools/dynamodb-local") || strings.Contains(dir, "lambda-src") {
		t.Errorf("Dir() = %s, want <module root>/.tools/dynamodb-local", dir)
	}
}
