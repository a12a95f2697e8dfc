package ddblocal

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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

// TestLauncherIsCompiledOnce compiles the launcher in a fresh install directory (links to
// the real jar), asks for it again, which must not compile it again, and starts DynamoDB
// Local from that directory, which must answer.
func TestLauncherIsCompiledOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs javac and starts DynamoDB Local (a JVM)")
	}
	real, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(real, "DynamoDBLocal.jar")); err != nil {
		t.Fatalf("%v: run `make tools` first", ErrNotInstalled)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("javac"); err != nil {
		t.Skip("no javac on the PATH: the launcher runs in source mode")
	}
	dir := t.TempDir()
	for _, name := range []string{"DynamoDBLocal.jar", "DynamoDBLocal_lib"} {
		if err := os.Symlink(filepath.Join(real, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	classpath := filepath.Join(dir, "DynamoDBLocal.jar") + string(os.PathListSeparator) + filepath.Join(dir, "DynamoDBLocal_lib", "*")

	var first string
	var compiled time.Time
	for i := range 2 {
		classes, err := launcherClasses(java, dir, classpath)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(classes, "Loopback.class"))
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if i == 0 {
			first, compiled = classes, fi.ModTime()
			continue
		}
		if classes != first || !fi.ModTime().Equal(compiled) {
			t.Errorf("the second call compiled again: %s (%v), then %s (%v)", first, compiled, classes, fi.ModTime())
		}
	}
	if all, _ := filepath.Glob(filepath.Join(dir, ".launcher", "*")); len(all) != 1 {
		t.Errorf("launcher cache holds %v, want exactly the compiled class directory", all)
	}

	t.Setenv("DYNAMODB_LOCAL_DIR", dir)
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if _, err := s.Client().ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
}
