// Package lambdabuild compiles the workflow's Go Lambda functions with the local Go
// toolchain, deterministically, for the provided.al2023 runtime.
//
// The same source, Go version and architecture give the same bytes from any checkout path,
// machine or commit, so the CDK asset hash of a function (a hash of its directory) changes
// only when its code or its dependencies change, and `cdk diff` shows a Lambda change only
// then. Builds run inside this module's own directory, with its own go.mod and go.sum, so a
// team that imports the constructs from the Go module cache gets the very same binaries.
//
// It imports no CDK package and no Lambda package: it only runs `go build`.
package lambdabuild

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"sort"
	"strings"
	"sync"
)

// ModulePath is the import path of the module that holds lambda-src/.
const ModulePath = "github.com/tracetest-aws/stepfunctions-cdk"

// GoToolchain is the Go release the functions are built with. Pinning it makes the binaries
// (and so the asset hashes) identical on every machine; the go command fetches this release
// from the module proxy once if the local one differs.
const GoToolchain = "go1.26.8"

// SourceDir is the directory, relative to the module root, holding one main package per
// function.
const SourceDir = "lambda-src/cmd"

// Options select what to build. The zero value builds every function for arm64.
type Options struct {
	// Arch is the GOARCH of the binaries: "arm64" or "amd64". Default: "arm64" (Graviton).
	Arch string
	// ModuleDir is the root of this module (where go.mod is). Default: found with
	// `go list -m`, which works both inside this repository and from a module that
	// requires it (the module cache or a replace directive).
	ModuleDir string
	// OutDir is where the function directories are written. Default: a directory under
	// the user cache directory, keyed by module directory and architecture.
	OutDir string
}

// Result maps a function's directory name under lambda-src/cmd (for example
// "registerincident") to the directory that holds its `bootstrap` executable.
type Result map[string]string

type cacheKey struct{ moduleDir, arch, outDir string }

var (
	mu    sync.Mutex
	built = map[cacheKey]Result{}
)

// Build compiles every function under lambda-src/cmd once per process and options; later
// calls return the first result. Each function gets its own directory containing only
// `bootstrap`, ready for lambda.Code_FromAsset.
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
	if opts.OutDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		sum := sha256.Sum256([]byte(opts.ModuleDir))
		opts.OutDir = filepath.Join(cache, "stepfunctions-cdk", "lambda", hex.EncodeToString(sum[:8]), opts.Arch)
	}

	mu.Lock()
	defer mu.Unlock()
	key := cacheKey{opts.ModuleDir, opts.Arch, opts.OutDir}
	if r, ok := built[key]; ok {
		return r, nil
	}
	r, err := build(opts)
	if err != nil {
		return nil, err
	}
	built[key] = r
	return r, nil
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

func build(opts Options) (Result, error) {
	names, err := Functions(opts.ModuleDir)
	if err != nil {
		return nil, err
	}
	// One `go build` for all functions: the toolchain compiles the shared packages once and
	// links the binaries in parallel.
	staging, err := os.MkdirTemp(filepath.Dir(opts.OutDir), ".build-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(opts.OutDir), 0o755); err != nil {
			return nil, fmt.Errorf("lambdabuild: create output directory: %w", err)
		}
		if staging, err = os.MkdirTemp(filepath.Dir(opts.OutDir), ".build-"); err != nil {
			return nil, fmt.Errorf("lambdabuild: create staging directory: %w", err)
		}
	}
	defer os.RemoveAll(staging)

	args := []string{"build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", staging + string(filepath.Separator)}
	for _, n := range names {
		args = append(args, "./"+SourceDir+"/"+n)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = opts.ModuleDir
	cmd.Env = buildEnv(opts.Arch)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("lambdabuild: go build of %s in %s for linux/%s: %w\n%s",
			strings.Join(names, ", "), opts.ModuleDir, opts.Arch, err, stderr.String())
	}

	// Lay the binaries out as <OutDir>/<name>/bootstrap, replacing each directory in one
	// rename so a concurrent reader never sees a half-written binary.
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("lambdabuild: create output directory: %w", err)
	}
	result := Result{}
	for _, n := range names {
		fnDir := filepath.Join(staging, n+".d")
		if err := os.Mkdir(fnDir, 0o755); err != nil {
			return nil, fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		if err := os.Rename(filepath.Join(staging, n), filepath.Join(fnDir, "bootstrap")); err != nil {
			return nil, fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		// A fixed mode: the asset hash covers file contents and paths, and the zip
		// CDK uploads records the mode, so keep it independent of the umask.
		if err := os.Chmod(filepath.Join(fnDir, "bootstrap"), 0o755); err != nil {
			return nil, fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		dst := filepath.Join(opts.OutDir, n)
		old := dst + ".old"
		_ = os.RemoveAll(old)
		if err := os.Rename(dst, old); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		if err := os.Rename(fnDir, dst); err != nil {
			return nil, fmt.Errorf("lambdabuild: %s: %w", n, err)
		}
		_ = os.RemoveAll(old)
		result[n] = dst
	}
	return result, nil
}

// buildEnv is the caller's environment with everything that could change the output pinned.
func buildEnv(arch string) []string {
	pinned := map[string]string{
		"CGO_ENABLED":  "0",
		"GOOS":         "linux",
		"GOARCH":       arch,
		"GOARM64":      "",
		"GOAMD64":      "",
		"GOFLAGS":      "-mod=readonly",
		"GOWORK":       "off",
		"GOEXPERIMENT": "",
		"GOTOOLCHAIN":  GoToolchain,
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
// this repository, the module cache (or a replace target) when run from a module that
// requires it.
func FindModuleDir() (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", ModulePath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lambdabuild: locate module %s (run from a directory whose go.mod requires it): %w\n%s",
			ModulePath, err, stderr.String())
	}
	dir := strings.TrimSpace(stdout.String())
	if dir == "" {
		return "", fmt.Errorf("lambdabuild: module %s is not downloaded: run `go mod download %s`", ModulePath, ModulePath)
	}
	return dir, nil
}
