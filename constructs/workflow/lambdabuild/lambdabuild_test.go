package lambdabuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFunctionsListsEveryMainPackage(t *testing.T) {
	dir, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	names, err := Functions(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "registerincident resolveincident scheduleexam sendnotification sendnotification-log sendnotification-sendgrid sendnotification-ses submitexam takeadministrativeaction"
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

// TestBuildEnvPinsWhatChangesTheOutput: settings that change the bytes are fixed; the
// caller's choice of Go release (GOTOOLCHAIN) and module sources (GOPROXY) are not.
func TestBuildEnvPinsWhatChangesTheOutput(t *testing.T) {
	t.Setenv("GOFLAGS", "-race")
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("GOAMD64", "v3")
	t.Setenv("GOTOOLCHAIN", "go1.26.9+auto")
	t.Setenv("GOPROXY", "off")
	env := "\n" + strings.Join(buildEnv("arm64", t.TempDir()), "\n") + "\n"
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOFLAGS=-mod=readonly", "GOWORK=off",
		"GOTOOLCHAIN=go1.26.9+auto", "GOPROXY=off"} {
		if !strings.Contains(env, "\n"+want+"\n") {
			t.Errorf("build environment lacks %s", want)
		}
	}
	if strings.Contains(env, "GOAMD64=") || strings.Contains(env, "-race") {
		t.Errorf("caller settings leak into the build:\n%s", env)
	}
	vendored := t.TempDir()
	os.MkdirAll(filepath.Join(vendored, "vendor"), 0o755)
	os.WriteFile(filepath.Join(vendored, "vendor", "modules.txt"), nil, 0o644)
	if env := strings.Join(buildEnv("arm64", vendored), " "); !strings.Contains(env, "GOFLAGS=-mod=vendor") {
		t.Errorf("a vendored module is not built from vendor/: %s", env)
	}
}

// fakeModule writes a module with this module's path and two tiny functions that share a
// package, and returns its directory.
func fakeModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "go.mod", "module "+ModulePath+"\n\ngo 1.26\n")
	write(t, dir, "lambda-src/cmd/alpha/main.go", "package main\n\nimport \"example/lambda-src/internal/shared\"\n\nfunc main() { println(shared.Name) }\n")
	write(t, dir, "lambda-src/cmd/beta/main.go", "package main\n\nfunc main() { println(\"beta\") }\n")
	write(t, dir, "lambda-src/internal/shared/shared.go", "package shared\n\n// Name is printed.\nconst Name = \"alpha\"\n")
	write(t, dir, "pub/pub.go", "package pub\n\n// V is importable from other modules.\nconst V = 1\n")
	// The import path above is rewritten to the module path (kept short in the literal).
	p := filepath.Join(dir, "lambda-src/cmd/alpha/main.go")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(b), "example/", ModulePath+"/", 1)), 0o644)
	return dir
}

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// counting runs build and reports whether it ran `go list` and the compiler.
func counting(t *testing.T, opts Options) (r Result, listed, compiled bool) {
	t.Helper()
	l, c := atomic.LoadInt64(&listRuns), atomic.LoadInt64(&compileRuns)
	r, err := build(withDefaults(opts))
	if err != nil {
		t.Fatal(err)
	}
	return r, atomic.LoadInt64(&listRuns) > l, atomic.LoadInt64(&compileRuns) > c
}

func withDefaults(o Options) Options {
	if o.Arch == "" {
		o.Arch = "arm64"
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = 8
	}
	return o
}

// TestCacheIsKeyedByInputs: an unchanged build runs neither `go list` nor the compiler,
// from the same or another checkout; a changed input (also in a package that only became
// a dependency later) builds again.
func TestCacheIsKeyedByInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds small binaries")
	}
	mod := fakeModule(t)
	cache := t.TempDir()
	opts := Options{ModuleDir: mod, CacheDir: cache}

	first, listed, compiled := counting(t, opts)
	if !listed || !compiled {
		t.Fatalf("first build: listed %v, compiled %v", listed, compiled)
	}
	for _, n := range []string{"alpha", "beta"} {
		if info, err := os.Stat(filepath.Join(first[n], "bootstrap")); err != nil || info.Mode().Perm() != 0o755 {
			t.Fatalf("%s: %v %v", n, info, err)
		}
	}

	again, listed, compiled := counting(t, opts)
	if listed || compiled || again["alpha"] != first["alpha"] {
		t.Errorf("unchanged build: listed %v, compiled %v, %s vs %s", listed, compiled, again["alpha"], first["alpha"])
	}

	// Another checkout of the same commit: same entry, no work.
	checkout := filepath.Join(t.TempDir(), "deeper", "checkout")
	os.MkdirAll(filepath.Dir(checkout), 0o755)
	if err := exec.Command("cp", "-a", mod, checkout).Run(); err != nil {
		t.Fatal(err)
	}
	other, listed, compiled := counting(t, Options{ModuleDir: checkout, CacheDir: cache})
	if listed || compiled || other["beta"] != first["beta"] {
		t.Errorf("other checkout: listed %v, compiled %v", listed, compiled)
	}

	// A new file in a dependency's directory (a test file, say) is an input.
	write(t, mod, "lambda-src/internal/shared/shared_test.go", "package shared\n")
	_, listed, compiled = counting(t, opts)
	if !listed || !compiled {
		t.Errorf("after adding a file: listed %v, compiled %v", listed, compiled)
	}

	// A package that becomes a dependency: its later changes are inputs too.
	write(t, mod, "lambda-src/internal/extra/extra.go", "package extra\n\n// X is printed.\nconst X = 1\n")
	write(t, mod, "lambda-src/cmd/beta/main.go", "package main\n\nimport \""+ModulePath+"/lambda-src/internal/extra\"\n\nfunc main() { println(extra.X) }\n")
	withExtra, _, compiled := counting(t, opts)
	if !compiled {
		t.Error("a changed import did not rebuild")
	}
	write(t, mod, "lambda-src/internal/extra/extra.go", "package extra\n\n// X is printed.\nconst X = 2\n")
	changed, _, compiled := counting(t, opts)
	if !compiled || changed["beta"] == withExtra["beta"] {
		t.Error("a change in a new dependency did not rebuild")
	}
	x, _ := os.ReadFile(filepath.Join(withExtra["beta"], "bootstrap"))
	y, _ := os.ReadFile(filepath.Join(changed["beta"], "bootstrap"))
	if len(x) == 0 || string(x) == string(y) {
		t.Error("the two builds of beta are the same bytes although the code changed")
	}

	// OutDir gets copies; the cache keeps its own.
	out := filepath.Join(t.TempDir(), "out")
	copied, _, compiled := counting(t, Options{ModuleDir: mod, CacheDir: cache, OutDir: out})
	if compiled || copied["alpha"] != filepath.Join(out, "alpha") {
		t.Errorf("OutDir: compiled %v, result %v", compiled, copied)
	}
	if _, err := os.Stat(filepath.Join(out, "alpha", "bootstrap")); err != nil {
		t.Error(err)
	}
}

// TestConcurrentBuildsShareOneEntry races builds of the same inputs, as two synths or
// test processes do; every one must get a complete entry.
func TestConcurrentBuildsShareOneEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds small binaries")
	}
	mod := fakeModule(t)
	cache := t.TempDir()
	var wg sync.WaitGroup
	results := make([]Result, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = build(withDefaults(Options{ModuleDir: mod, CacheDir: cache}))
		}()
	}
	wg.Wait()
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if r["alpha"] != results[0]["alpha"] {
			t.Errorf("build %d: %s, build 0: %s", i, r["alpha"], results[0]["alpha"])
		}
		if _, err := os.Stat(filepath.Join(r["alpha"], "bootstrap")); err != nil {
			t.Error(err)
		}
	}
	entries, _ := os.ReadDir(cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 { // the entry and index/
		t.Errorf("cache holds %v, want one entry and the index (no leftovers)", names)
	}
}

func TestEvictionKeepsRecentEntries(t *testing.T) {
	cache := t.TempDir()
	old := time.Now().Add(-time.Hour)
	key := func(c string) string { return strings.Repeat(c, 32) }
	aaaa, bbbb, cccc, dddd := key("a"), key("b"), key("c"), key("d")
	for _, name := range []string{aaaa, bbbb, cccc, ".tmp-crashed", dddd, "not-an-entry"} {
		os.MkdirAll(filepath.Join(cache, name, "fn"), 0o755)
	}
	for i, name := range []string{aaaa, bbbb, cccc, "not-an-entry"} {
		at := old.Add(time.Duration(i) * time.Minute)
		os.Chtimes(filepath.Join(cache, name), at, at)
	}
	crashed := time.Now().Add(-3 * time.Hour)
	os.Chtimes(filepath.Join(cache, ".tmp-crashed"), crashed, crashed)
	(&builder{opts: Options{CacheDir: cache, MaxEntries: 2}}).evict()
	entries, _ := os.ReadDir(cache)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	// dddd is recent, cccc the newest old one; the rest go, but for what is no entry.
	if want := cccc + " " + dddd + " not-an-entry"; strings.Join(got, " ") != want {
		t.Errorf("after eviction: %v, want %s", got, want)
	}
	// Recently used entries stay even beyond MaxEntries.
	(&builder{opts: Options{CacheDir: cache, MaxEntries: 0}}).evict()
	if _, err := os.Stat(filepath.Join(cache, dddd)); err != nil {
		t.Error("an entry used a moment ago was removed")
	}
}

// TestFindModuleDirWhenVendored: `go mod vendor` copies only imported packages, so the
// functions are built from the replacement directory (or the module cache).
func TestFindModuleDirWhenVendored(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod vendor")
	}
	mod := fakeModule(t)
	consumer := t.TempDir()
	write(t, consumer, "go.mod", "module example.com/consumer\n\ngo 1.26\n\nrequire "+ModulePath+" v0.0.0\n\nreplace "+ModulePath+" => "+mod+"\n")
	write(t, consumer, "main.go", "package main\n\nimport \""+ModulePath+"/pub\"\n\nfunc main() { println(pub.V) }\n")
	cmd := exec.Command("go", "mod", "vendor")
	cmd.Dir = consumer
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(consumer, "vendor", "github.com", "tracetest-aws", "stepfunctions-cdk", "lambda-src")); err == nil {
		t.Fatal("vendor/ holds the functions: the test does not reproduce vendoring")
	}
	t.Chdir(consumer)
	t.Setenv("GOFLAGS", "-mod=vendor")
	dir, err := FindModuleDir()
	if err != nil || dir != mod {
		t.Errorf("FindModuleDir() = %q, %v; want %s", dir, err, mod)
	}
}

// BenchmarkBuildWarm is what every synth of the workflow pays for its six functions when
// nothing changed: one `go env` and the hashes of the functions' own packages.
func BenchmarkBuildWarm(b *testing.B) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		b.Fatal(err)
	}
	opts := withDefaults(Options{ModuleDir: root, CacheDir: DefaultCacheDir()})
	if _, err := build(opts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := build(opts); err != nil {
			b.Fatal(err)
		}
	}
}
