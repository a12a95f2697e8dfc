package lambdabuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFunctionsListsEveryMainPackage(t *testing.T) {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	names, err := Functions(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "registerincident resolveincident scheduleexam sendnotification submitexam takeadministrativeaction"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("functions = %s, want %s", got, want)
	}
	if _, err := Functions(t.TempDir()); err == nil {
		t.Error("a module without lambda-src/cmd gave no error")
	}
}

func TestBuildRejectsAnUnknownArchitecture(t *testing.T) {
	_, err := Build(Options{Arch: "riscv64", ModuleDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `"riscv64" is not supported`) {
		t.Errorf("error = %v", err)
	}
}

func TestBuildEnvPinsWhatChangesTheOutput(t *testing.T) {
	t.Setenv("GOFLAGS", "-race")
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("GOAMD64", "v3")
	env := strings.Join(buildEnv("arm64"), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=" + GoToolchain} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("build environment lacks %s", want)
		}
	}
	if strings.Contains(env, "GOAMD64=") || strings.Contains(env, "-race") {
		t.Errorf("caller settings leak into the build:\n%s", env)
	}
}

// TestBuildIsDeterministic builds the functions twice, into two directories, and
// requires the same bytes (the property the CDK asset hashes rely on).
func TestBuildIsDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds six binaries twice")
	}
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Build(Options{ModuleDir: dir, OutDir: filepath.Join(t.TempDir(), "a")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Options{ModuleDir: dir, OutDir: filepath.Join(t.TempDir(), "b")})
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		x, err1 := os.ReadFile(filepath.Join(a[name], "bootstrap"))
		y, err2 := os.ReadFile(filepath.Join(b[name], "bootstrap"))
		if err1 != nil || err2 != nil || string(x) != string(y) || len(x) == 0 {
			t.Errorf("%s: two builds differ (%v, %v)", name, err1, err2)
		}
	}
}
