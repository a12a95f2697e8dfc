// Package lambdabuild compiles the plagiarism workflow's Go Lambda functions (this
// module's lambda-src/cmd/*) for the provided.al2023 runtime, deterministically, and
// caches the binaries by their inputs.
//
// The same inputs give the same bytes from any checkout path or machine, so the CDK asset
// hash of a function changes only when its code, its dependencies or the Go release
// change, and `cdk diff` shows a Lambda change only then. Builds run inside this module's
// own directory, with its go.mod and go.sum, so a team that imports the constructs gets
// the same binaries as this repository.
//
// The Go release is the user's choice: the go command runs with the caller's GOTOOLCHAIN,
// and this module's go.mod names the minimum (its toolchain line), so with the default
// GOTOOLCHAIN=auto an older local Go fetches that release once, and GOTOOLCHAIN=local
// builds with the local Go. Network access is only ever needed for what the go command
// itself would download; with the module cache filled (or the module vendored with its
// dependencies) builds are offline.
//
// # Cache
//
// Binaries are kept in a content-addressed cache (Options.CacheDir): one directory per
// build key, a hash of everything that decides the output: the Go release, GOOS/GOARCH
// and the other pinned build settings, the flags, go.mod, go.sum (and vendor/modules.txt),
// and the contents of every file in the directories of the non-standard packages that
// `go list -deps` names outside the module cache (this module's packages, vendored and
// directory-replaced ones; modules in the module cache are named by go.sum). A warm build
// with nothing changed runs no compiler and no linker: one `go env`, a few file hashes,
// and, after a change to those directories or to go.mod/go.sum, one `go list`. The key
// does not depend on the checkout path, so checkouts, test processes and the CLI's synth
// share entries. A finished build is moved into its entry with one rename, so concurrent
// processes never see a partial entry (the loser of a race discards its copy), and the
// least recently used entries beyond Options.MaxEntries are removed.
//
// It imports no CDK package and no Lambda package: it only runs the go command.
package lambdabuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ModulePath is the import path of the module that holds lambda-src/.
const ModulePath = "github.com/tracetest-aws/stepfunctions-cdk"

// SourceDir is the directory, relative to the module root, holding one main package per
// function.
const SourceDir = "lambda-src/cmd"

// CacheDirEnv names the environment variable that overrides the default cache directory.
const CacheDirEnv = "LAMBDABUILD_CACHE"

// Options select what to build. The zero value builds every function for arm64 into the
// default cache.
type Options struct {
	// Arch is the GOARCH of the binaries: "arm64" or "amd64". Default: "arm64" (Graviton).
	Arch string
	// ModuleDir is the root of this module (where go.mod is). Default: found with
	// `go list -m` from the working directory, which works inside this repository and
	// from a module that requires it (module cache, replace directive, vendoring).
	ModuleDir string
	// CacheDir holds the cache entries. Default: $LAMBDABUILD_CACHE, else
	// <user cache dir>/stepfunctions-cdk/lambdabuild.
	CacheDir string
	// MaxEntries is how many cache entries are kept (the most recently used); entries
	// used in the last ten minutes are never removed, so concurrent builds keep theirs.
	// Default: 8.
	MaxEntries int
	// OutDir, when set, receives a copy of the binaries as <OutDir>/<name>/bootstrap and
	// the Result points there instead of into the cache. Default: none.
	OutDir string
}

// Result maps a function's directory name under lambda-src/cmd (for example
// "registerincident") to a directory that holds only its `bootstrap` executable, ready
// for awslambda.Code_FromAsset. Directories in the cache are shared: do not modify them.
type Result map[string]string

// buildFlags are the go build flags; they are part of the cache key. The binaries are
// stripped (-s -w), so the compiler generates no DWARF either (-dwarf=false): the code is
// the same, and compiling takes about 14% less CPU.
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-gcflags=all=-dwarf=false", "-ldflags=-s -w -buildid="}

// GoBuildArgs returns the arguments of `go` that build pkgs into the directory out, one
// binary per main package, with the flags the functions are built with. The caller sets
// GOOS, GOARCH and CGO_ENABLED=0 in the command's environment. Tools and tests that build a
// function or a reference binary "as deployed" use it, and so share Build's compiled packages.
func GoBuildArgs(out string, pkgs ...string) []string {
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out+string(filepath.Separator))
	return append(args, pkgs...)
}

// keyVersion changes when the layout of entries or the key derivation changes.
const keyVersion = "lambdabuild/2"

// graceAge protects recently used entries from eviction; staleAge is when an unfinished
// build (a crashed process) is removed: longer than any cold build.
const (
	graceAge = 10 * time.Minute
	staleAge = 2 * time.Hour
)

type memoKey struct{ arch, moduleDir, cacheDir, outDir string }

var (
	mu   sync.Mutex
	memo = map[memoKey]Result{}

	// listRuns and compileRuns count `go list` and `go build` runs, so tests can show
	// that a warm build does neither.
	listRuns, compileRuns int64
)

// Build returns every function under lambda-src/cmd built for linux/Arch, from the cache
// when its inputs are unchanged. Within one process, later calls with the same options
// return the first result.
func Build(opts Options) (Result, error) {
	if opts.Arch == "" {
		opts.Arch = "arm64"
	}
	if opts.Arch != "arm64" && opts.Arch != "amd64" {
		return nil, fmt.Errorf("lambdabuild: architecture %q is not supported: use arm64 or amd64", opts.Arch)
	}
	if opts.ModuleDir == "" {
		dir, err := FindModuleDir()
		if err != nil {
			return nil, err
		}
		opts.ModuleDir = dir
	}
	if opts.CacheDir == "" {
		opts.CacheDir = DefaultCacheDir()
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 8
	}

	mu.Lock()
	defer mu.Unlock()
	k := memoKey{opts.Arch, opts.ModuleDir, opts.CacheDir, opts.OutDir}
	if r, ok := memo[k]; ok {
		return r, nil
	}
	r, err := build(opts)
	if err != nil {
		return nil, err
	}
	memo[k] = r
	return r, nil
}

// DefaultCacheDir is $LAMBDABUILD_CACHE, else <user cache dir>/stepfunctions-cdk/lambdabuild.
func DefaultCacheDir() string {
	if dir := os.Getenv(CacheDirEnv); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "stepfunctions-cdk", "lambdabuild")
}

// Functions lists the function directory names under lambda-src/cmd of moduleDir, sorted.
func Functions(moduleDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(moduleDir, SourceDir))
	if err != nil {
		return nil, fmt.Errorf("lambdabuild: list functions: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("lambdabuild: no function under %s", filepath.Join(moduleDir, SourceDir))
	}
	sort.Strings(names)
	return names, nil
}

// builder holds what one Build needs.
type builder struct {
	opts  Options
	names []string
	env   []string
	// from `go env`
	goVersion, goRoot, goModCache string
}

func build(opts Options) (Result, error) {
	names, err := Functions(opts.ModuleDir)
	if err != nil {
		return nil, err
	}
	b := &builder{opts: opts, names: names, env: buildEnv(opts.Arch, opts.ModuleDir)}
	if err := b.goEnv(); err != nil {
		return nil, err
	}
	base, err := b.baseKey()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.CacheDir, "index"), 0o755); err != nil {
		return nil, fmt.Errorf("lambdabuild: cache: %w", err)
	}

	// Fast path: the directories the last `go list` named for these base inputs, if none
	// of them changed, give the key without running go list.
	key := ""
	indexFile := filepath.Join(opts.CacheDir, "index", base+".json")
	if deps, err := readIndex(indexFile); err == nil {
		if k, err := b.key(base, deps); err == nil && exists(b.entry(k)) {
			key = k
		}
	}
	if key == "" {
		deps, err := b.listDeps()
		if err != nil {
			return nil, err
		}
		if key, err = b.key(base, deps); err != nil {
			return nil, err
		}
		if err := writeFileAtomic(indexFile, mustJSON(deps)); err != nil {
			return nil, fmt.Errorf("lambdabuild: cache index: %w", err)
		}
		if !exists(b.entry(key)) {
			if err := b.compile(key); err != nil {
				return nil, err
			}
			b.evict()
		}
	}
	entry := b.entry(key)
	now := time.Now()
	_ = os.Chtimes(entry, now, now) // marks it used, for eviction

	result := Result{}
	for _, n := range names {
		result[n] = filepath.Join(entry, n)
	}
	if opts.OutDir != "" {
		return copyOut(result, opts.OutDir)
	}
	return result, nil
}

func (b *builder) entry(key string) string { return filepath.Join(b.opts.CacheDir, key) }

// goEnv asks the go command that will build (after its toolchain selection) for its
// release and directories.
func (b *builder) goEnv() error {
	out, err := b.run("env", "GOVERSION", "GOROOT", "GOMODCACHE")
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		return fmt.Errorf("lambdabuild: unexpected `go env` output %q", out)
	}
	b.goVersion, b.goRoot, b.goModCache = lines[0], lines[1], lines[2]
	return nil
}

// baseKey hashes the inputs known without go list: toolchain, settings, flags, module
// requirements and the functions built.
func (b *builder) baseKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n%s\n", keyVersion, b.goVersion, strings.Join(pinnedEnv(b.opts.Arch, b.opts.ModuleDir), " "),
		strings.Join(buildFlags, " "), strings.Join(b.names, " "))
	for _, f := range []string{"go.mod", "go.sum", "vendor/modules.txt"} {
		data, err := os.ReadFile(filepath.Join(b.opts.ModuleDir, f))
		if err != nil && !(errors.Is(err, fs.ErrNotExist) && f != "go.mod") {
			return "", fmt.Errorf("lambdabuild: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", f, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// deps are the inputs `go list -deps` names outside GOROOT and the module cache, relative
// to the module directory (or absolute when outside it, for directory replacements).
type deps struct {
	// Dirs are package directories: every regular file in them is an input.
	Dirs []string `json:"dirs"`
	// Files are embedded files in subdirectories of Dirs.
	Files []string `json:"files"`
}

func (b *builder) listDeps() (deps, error) {
	atomic.AddInt64(&listRuns, 1)
	args := []string{"list", "-deps", "-tags", "lambda.norpc", "-f",
		`{{if not .Standard}}{{.Dir}}{{range .EmbedFiles}}{{"\t"}}{{.}}{{end}}{{end}}`}
	for _, n := range b.names {
		args = append(args, "./"+SourceDir+"/"+n)
	}
	out, err := b.run(args...)
	if err != nil {
		return deps{}, err
	}
	var d deps
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Split(line, "\t")
		dir := fields[0]
		if dir == "" || within(dir, b.goRoot) || within(dir, b.goModCache) {
			continue
		}
		d.Dirs = append(d.Dirs, b.rel(dir))
		for _, f := range fields[1:] {
			if strings.ContainsRune(f, '/') {
				d.Files = append(d.Files, b.rel(filepath.Join(dir, f)))
			}
		}
	}
	sort.Strings(d.Dirs)
	sort.Strings(d.Files)
	return d, nil
}

// key hashes base and the contents of deps. It fails when a directory or file is gone.
func (b *builder) key(base string, d deps) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", base)
	hashFile := func(rel string) error {
		f, err := os.Open(b.abs(rel))
		if err != nil {
			return err
		}
		defer f.Close()
		fh := sha256.New()
		if _, err := io.Copy(fh, f); err != nil {
			return err
		}
		fmt.Fprintf(h, "f %s %x\n", filepath.ToSlash(rel), fh.Sum(nil))
		return nil
	}
	for _, dir := range d.Dirs {
		entries, err := os.ReadDir(b.abs(dir))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "d %s\n", filepath.ToSlash(dir))
		for _, e := range entries {
			if e.Type().IsRegular() {
				if err := hashFile(filepath.Join(dir, e.Name())); err != nil {
					return "", err
				}
			}
		}
	}
	for _, f := range d.Files {
		if err := hashFile(f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// compile builds every function into a staging directory and moves it into the cache
// entry key in one rename.
func (b *builder) compile(key string) error {
	atomic.AddInt64(&compileRuns, 1)
	staging, err := os.MkdirTemp(b.opts.CacheDir, ".tmp-")
	if err != nil {
		return fmt.Errorf("lambdabuild: cache: %w", err)
	}
	defer os.RemoveAll(staging)

	// One `go build` for all functions: the toolchain compiles the shared packages once and
	// links the binaries in parallel.
	bin := filepath.Join(staging, ".bin") + string(filepath.Separator)
	args := append(append([]string{"build"}, buildFlags...), "-o", bin)
	for _, n := range b.names {
		args = append(args, "./"+SourceDir+"/"+n)
	}
	if _, err := b.run(args...); err != nil {
		return err
	}
	for _, n := range b.names {
		dir := filepath.Join(staging, n)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		if err := os.Rename(filepath.Join(bin, n), filepath.Join(dir, "bootstrap")); err != nil {
			return fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		// A fixed mode: the zip CDK uploads records it, so keep it independent of the umask.
		if err := os.Chmod(filepath.Join(dir, "bootstrap"), 0o755); err != nil {
			return fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
	}
	if err := os.Remove(bin); err != nil {
		return fmt.Errorf("lambdabuild: %w", err)
	}
	if err := os.Rename(staging, b.entry(key)); err != nil {
		if exists(b.entry(key)) {
			return nil // another process finished the same build first
		}
		return fmt.Errorf("lambdabuild: cache: %w", err)
	}
	return nil
}

// evict removes the least recently used entries beyond MaxEntries (never one used within
// graceAge), unfinished builds older than staleAge, and old index files.
func (b *builder) evict() {
	dir := b.opts.CacheDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	type used struct {
		name string
		at   time.Time
	}
	var keep []used
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !e.IsDir() || e.Name() == "index" {
			continue
		}
		if strings.HasPrefix(e.Name(), ".") {
			if time.Since(info.ModTime()) > staleAge {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
			continue
		}
		if isKey(e.Name()) {
			keep = append(keep, used{e.Name(), info.ModTime()})
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].at.After(keep[j].at) })
	for i, u := range keep {
		if i >= b.opts.MaxEntries && time.Since(u.at) > graceAge {
			// Renamed first, so nobody sees a half-removed entry.
			trash := filepath.Join(dir, ".trash-"+u.name)
			if os.Rename(filepath.Join(dir, u.name), trash) == nil {
				os.RemoveAll(trash)
			}
		}
	}
	index, _ := os.ReadDir(filepath.Join(dir, "index"))
	if len(index) > 64 {
		var files []used
		for _, e := range index {
			if info, err := e.Info(); err == nil {
				files = append(files, used{e.Name(), info.ModTime()})
			}
		}
		sort.Slice(files, func(i, j int) bool { return files[i].at.After(files[j].at) })
		for _, f := range files[64:] {
			os.Remove(filepath.Join(dir, "index", f.name))
		}
	}
}

// copyOut copies the binaries to outDir/<name>/bootstrap, replacing each directory in one
// rename so a concurrent reader never sees a half-written binary.
func copyOut(r Result, outDir string) (Result, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("lambdabuild: %w", err)
	}
	out := Result{}
	for name, dir := range r {
		tmp, err := os.MkdirTemp(outDir, "."+name+"-")
		if err != nil {
			return nil, fmt.Errorf("lambdabuild: %w", err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, "bootstrap"), data, 0o755)
		}
		if err == nil {
			err = os.Chmod(filepath.Join(tmp, "bootstrap"), 0o755)
		}
		if err == nil {
			err = os.Chmod(tmp, 0o755)
		}
		dst := filepath.Join(outDir, name)
		if err == nil {
			os.RemoveAll(dst)
			err = os.Rename(tmp, dst)
		}
		if err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("lambdabuild: %s: %w", name, err)
		}
		out[name] = dst
	}
	return out, nil
}

// run runs the go command in the module directory with the build environment.
func (b *builder) run(args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = b.opts.ModuleDir
	cmd.Env = b.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lambdabuild: go %s in %s for linux/%s: %w\n%s%s", args[0], b.opts.ModuleDir, b.opts.Arch, err,
			stderr.String(), advice(stderr.String(), b.opts.ModuleDir))
	}
	return stdout.String(), nil
}

// advice explains the usual cause of a failed go command.
func advice(stderr, moduleDir string) string {
	switch {
	case strings.Contains(stderr, "GOPROXY=off") || strings.Contains(stderr, "dial tcp") || strings.Contains(stderr, "missing go.sum entry"):
		return fmt.Sprintf("\nThe functions' module dependencies are not in the module cache and cannot be downloaded now. "+
			"Download them once while online: (cd %s && go mod download); later builds are offline. "+
			"Or give prebuilt binaries (workflow.PlagiarismStateMachineProps.Code).", moduleDir)
	case strings.Contains(stderr, "toolchain"):
		return "\nThe go command needs the Go release named by go.mod's toolchain line (or newer). " +
			"Install it, or let the go command fetch it once (GOTOOLCHAIN=auto)."
	}
	return ""
}

// pinnedEnv lists the settings that decide the output and are fixed whatever the caller
// has: no cgo, Linux, the default microarchitecture level, no experiments, the module's
// own go.mod (no workspace), read-only or vendored dependencies.
func pinnedEnv(arch, moduleDir string) []string {
	mod := "-mod=readonly"
	if exists(filepath.Join(moduleDir, "vendor", "modules.txt")) {
		mod = "-mod=vendor"
	}
	return []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch, "GOARM64=", "GOAMD64=", "GOEXPERIMENT=", "GOFLAGS=" + mod, "GOWORK=off"}
}

// buildEnv is the caller's environment (GOTOOLCHAIN, GOPROXY, GOMODCACHE, GOCACHE, ...
// are honoured) with the pinned settings replacing the caller's.
func buildEnv(arch, moduleDir string) []string {
	pinned := map[string]string{}
	for _, kv := range pinnedEnv(arch, moduleDir) {
		k, v, _ := strings.Cut(kv, "=")
		pinned[k] = v
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := pinned[k]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range pinned {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	sort.Strings(env)
	return env
}

// FindModuleDir returns the directory of this module: the working tree when run inside
// this repository, the replacement directory or the module cache when run from a module
// that requires it (also when that module is vendored, since vendor/ holds only the
// packages it imports, not the functions' sources).
func FindModuleDir() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-json", ModulePath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lambdabuild: locate module %s (run from a directory whose go.mod requires it): %w\n%s",
			ModulePath, err, stderr.String())
	}
	var m struct {
		Dir, Version string
		Replace      *struct{ Dir, Version string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		return "", fmt.Errorf("lambdabuild: locate module %s: %w", ModulePath, err)
	}
	switch {
	case m.Dir != "":
		return m.Dir, nil
	case m.Replace != nil && m.Replace.Dir != "":
		return m.Replace.Dir, nil
	}
	version := m.Version
	if m.Replace != nil && m.Replace.Version != "" {
		version = m.Replace.Version
	}
	modCache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	dir := filepath.Join(strings.TrimSpace(string(modCache)), escapePath(ModulePath)+"@"+version)
	if exists(filepath.Join(dir, "go.mod")) {
		return dir, nil
	}
	return "", fmt.Errorf("lambdabuild: the sources of %s@%s are not on this machine: a vendored build has only the packages "+
		"it imports, not the Lambda functions. Run `go mod download %s@%s` once (then builds are offline), "+
		"or give prebuilt binaries (workflow.PlagiarismStateMachineProps.Code)", ModulePath, version, ModulePath, version)
}

// escapePath is the module cache's case encoding: an upper-case letter becomes '!' and
// its lower-case form.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (b *builder) rel(path string) string {
	if r, err := filepath.Rel(b.opts.ModuleDir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func (b *builder) abs(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(b.opts.ModuleDir, path)
}

// isKey reports whether name is a cache entry's name: eviction touches nothing else.
func isKey(name string) bool {
	if len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

func within(path, dir string) bool {
	return dir != "" && (path == dir || strings.HasPrefix(path, dir+string(filepath.Separator)))
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readIndex(file string) (deps, error) {
	var d deps
	data, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(data, &d)
	}
	if err == nil && len(d.Dirs) == 0 {
		err = errors.New("empty index")
	}
	return d, err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// writeFileAtomic writes data to file through a temporary file and a rename.
func writeFileAtomic(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".index-")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
