// Package ddblocal starts and stops the real DynamoDB Local jar for tests and
// benchmarks, listening on 127.0.0.1 only. It is test support, shared by the
// Lambda tests under lambda-src/ and the end-to-end harness in e2e/: no Lambda
// and no CDK code imports it.
package ddblocal

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

//go:embed Loopback.java
var launcher []byte

// Region is the region clients of the local server use.
const Region = "us-east-1"

// ErrNotInstalled reports that the DynamoDB Local jar is not where
// scripts/install-tools.sh puts it.
var ErrNotInstalled = errors.New("DynamoDB Local is not installed: run `bash scripts/install-tools.sh` from the repository root")

// Server is a running DynamoDB Local.
type Server struct {
	// Endpoint is the server's URL, http://127.0.0.1:<port>.
	Endpoint string

	cmd   *exec.Cmd
	stdin io.Closer
	dir   string
	done  chan struct{}
	mu    sync.Mutex
	logs  strings.Builder
}

// Dir returns the directory holding DynamoDBLocal.jar: $DYNAMODB_LOCAL_DIR if
// set, else .tools/dynamodb-local in the module root above the working
// directory.
func Dir() (string, error) {
	if dir := os.Getenv("DYNAMODB_LOCAL_DIR"); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find DynamoDB Local: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".tools", "dynamodb-local"), nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find DynamoDB Local: no go.mod above %s", wd)
		}
	}
}

// Start runs DynamoDB Local in memory on a free port of 127.0.0.1 and waits
// until it answers. It returns an error wrapping ErrNotInstalled when the jar
// is missing. Call Stop when done.
func Start(ctx context.Context) (*Server, error) {
	dir, err := Dir()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar")); err != nil {
		return nil, fmt.Errorf("%w (looked in %s)", ErrNotInstalled, dir)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: java not found (scripts/install-tools.sh installs it): %w", err)
	}
	tmp, err := os.MkdirTemp("", "ddblocal-")
	if err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	classpath := filepath.Join(dir, "DynamoDBLocal.jar") + string(os.PathListSeparator) + filepath.Join(dir, "DynamoDBLocal_lib", "*")
	// The launcher compiled once (see launcherClasses); Java's single-file source mode,
	// which compiles it at every start, only where no javac is found.
	classes, err := launcherClasses(java, dir, classpath)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	main := "Loopback"
	if classes != "" {
		classpath = classes + string(os.PathListSeparator) + classpath
	} else {
		main = filepath.Join(tmp, "Loopback.java")
		if err := os.WriteFile(main, launcher, 0o600); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("start DynamoDB Local: %w", err)
		}
	}
	// Port 0: Jetty picks a free port and the launcher prints it, so two test
	// binaries never race for the same port.
	args := []string{"-Djava.library.path=" + filepath.Join(dir, "DynamoDBLocal_lib"),
		"-Xmx512m",
		// A short-lived test server: the C1 compiler alone and the serial
		// collector halve the JVM's start on two busy cores (about 10 s to 5 s
		// measured in the e2e harness).
		"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto",
		"-cp", classpath}
	cmd := exec.Command(java, append(args, main, "0")...)
	cmd.Dir = tmp
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	// The launcher exits when its stdin closes, which the kernel does when
	// this process dies, so a test that crashes before Stop leaks no JVM.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	s := &Server{cmd: cmd, dir: tmp, done: make(chan struct{}), stdin: stdin}
	cmd.Stderr = &lockedWriter{s: s}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()

	endpoint := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			if addr, ok := strings.CutPrefix(line, "listening on "); ok {
				endpoint <- "http://" + addr
				continue
			}
			s.write([]byte(line + "\n"))
		}
	}()

	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	select {
	case s.Endpoint = <-endpoint:
	case <-s.done:
		s.Stop()
		return nil, fmt.Errorf("start DynamoDB Local: java exited early: %s", s.output())
	case <-ctx.Done():
		s.Stop()
		return nil, fmt.Errorf("start DynamoDB Local: no listening address: %w: %s", ctx.Err(), s.output())
	}
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	client := s.Client()
	for {
		_, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for DynamoDB Local at %s: %w (last error: %v): %s", s.Endpoint, ctx.Err(), err, s.output())
		case <-s.done:
			return fmt.Errorf("wait for DynamoDB Local: java exited: %s", s.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop ends the server and removes its temporary files.
func (s *Server) Stop() error {
	defer os.RemoveAll(s.dir)
	select {
	case <-s.done:
		return nil
	default:
	}
	s.stdin.Close()
	select {
	case <-s.done:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := s.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("stop DynamoDB Local: %w", err)
	}
	<-s.done
	return nil
}

// Client returns a DynamoDB client for the server with static credentials and
// no response checksum validation: DynamoDB Local's responses make the SDK log
// checksum warnings otherwise.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.NewFromConfig(s.Config(), func(o *dynamodb.Options) {
		o.DisableValidateResponseChecksum = true
	})
}

// Config returns an AWS configuration that reaches the server.
func (s *Server) Config() aws.Config {
	return aws.Config{
		Region:                     Region,
		Credentials:                credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint:               aws.String(s.Endpoint),
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
}

// Env returns the environment variables that point a Lambda's default AWS
// configuration at the server.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":        s.Endpoint,
		"AWS_REGION":                       Region,
		"AWS_ACCESS_KEY_ID":                "local",
		"AWS_SECRET_ACCESS_KEY":            "local",
		"AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
		"AWS_EC2_METADATA_DISABLED":        "true",
		"AWS_CONFIG_FILE":                  os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":      os.DevNull,
		"AWS_XRAY_CONTEXT_MISSING":         "IGNORE_ERROR",
	}
}

// CreateTable creates a table shaped like the incidents table: partition key
// key, a string, on-demand billing.
func (s *Server) CreateTable(ctx context.Context, name, key string) error {
	_, err := s.Client().CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}

// Logs returns what the server has written so far (stderr, and stdout but for
// the line announcing its address), for failure messages.
func (s *Server) Logs() string {
	return s.output()
}

func (s *Server) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs.Write(p)
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// lockedWriter collects the server's stderr for error messages.
type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.write(p)
	return len(p), nil
}

// launcherClasses returns a directory holding Loopback.class, compiled by javac from the
// embedded source against the jar in dir, or "" when no javac is found next to java or on
// the PATH, or dir cannot be written to. Java's source-file mode compiles the launcher at
// every start, which costs each test binary that starts DynamoDB Local about 0.6 s of wall
// time and 1.5 s of CPU; the compiled class is kept in dir/.launcher/<key>, where key hashes
// the source, the javac target and the jar's size and modification time, so a new
// launcher or a new jar gets a new class. Concurrent first starts (go test runs
// packages in parallel) each compile into a directory of their own and the first
// rename wins.
func launcherClasses(java, dir, classpath string) (string, error) {
	javac := ""
	if real, err := filepath.EvalSymlinks(java); err == nil {
		if c := filepath.Join(filepath.Dir(real), "javac"); isFile(c) {
			javac = c
		}
	}
	if javac == "" {
		if c, err := exec.LookPath("javac"); err == nil {
			javac = c
		}
	}
	if javac == "" {
		return "", nil
	}
	jar, err := os.Stat(filepath.Join(dir, "DynamoDBLocal.jar"))
	if err != nil {
		return "", err
	}
	const release = "17"
	h := sha256.New()
	fmt.Fprintf(h, "release %s\njar %d %d\n", release, jar.Size(), jar.ModTime().UnixNano())
	h.Write(launcher)
	classes := filepath.Join(dir, ".launcher", hex.EncodeToString(h.Sum(nil))[:16])
	if isFile(filepath.Join(classes, "Loopback.class")) {
		return classes, nil
	}
	// An install directory this process cannot write to (a shared, read-only one) gets
	// source mode, as with no javac.
	if err := os.MkdirAll(filepath.Dir(classes), 0o755); err != nil {
		return "", nil
	}
	work, err := os.MkdirTemp(filepath.Dir(classes), "tmp-")
	if err != nil {
		return "", nil
	}
	defer os.RemoveAll(work)
	source := filepath.Join(work, "Loopback.java")
	if err := os.WriteFile(source, launcher, 0o600); err != nil {
		return "", fmt.Errorf("compile the DynamoDB Local launcher: %w", err)
	}
	out := filepath.Join(work, "classes")
	// javac is a JVM too: the server's start-up flags (1.1 s instead of 1.4-1.7 s here);
	// -proc:none, as the launcher needs no annotation processing, spares javac scanning
	// the 160-odd jars of the class path for processors.
	cmd := exec.Command(javac, "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-proc:none",
		"--release", release, "-cp", classpath, "-d", out, source)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compile the DynamoDB Local launcher with %s: %w: %s", javac, err, b)
	}
	if err := os.Rename(out, classes); err != nil && !isFile(filepath.Join(classes, "Loopback.class")) {
		return "", fmt.Errorf("compile the DynamoDB Local launcher: %w", err)
	}
	return classes, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
